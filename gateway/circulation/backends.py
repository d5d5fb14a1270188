"""Circulation back ends by the name an account gives (``sip2.accounts[].backend``).

``embedded`` keeps its data in the gateway's own SQLite file (``circulation.path``); any
other name is an entry of ``circulation.backends``: ``sip2`` passes transactions to the
library system's own SIP2 server, ``sql`` runs configured statements on its database.
Their modules live in ``adapters/`` and are imported only when such a back end is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.config import Config

    from .interface import CirculationBackend

__all__ = ["BACKENDS", "backend_entry", "open_backend"]

#: The built-in back end; the others are named in the configuration.
BACKENDS = ("embedded",)


def backend_entry(config: Config, name: str) -> dict[str, Any] | None:
    """The ``circulation.backends`` entry called ``name``, if configured."""
    entries = (config.values.get("circulation") or {}).get("backends") or []
    return next((entry for entry in entries if entry.get("name") == name), None)


def open_backend(config: Config, name: str) -> CirculationBackend:
    """The back end called ``name``, opened for ``config``."""
    if name == "embedded":
        from .embedded import open_embedded

        return open_embedded(config)
    entry = backend_entry(config, name)
    if entry is None:
        known = ", ".join(
            [*BACKENDS, *(e["name"] for e in config.values["circulation"]["backends"])]
        )
        raise ValueError(f"unknown circulation back end {name!r} (known: {known})")
    if entry["kind"] == "sip2":
        from adapters.sip2upstream import open_upstream

        return open_upstream(entry, config)
    from adapters.sqlcirculation import open_sql_circulation

    return open_sql_circulation(entry, config)
