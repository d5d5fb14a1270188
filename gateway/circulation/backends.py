"""Circulation back ends by the name an account gives (``sip2.accounts[].backend``).

Issue 8 adds upstream SIP2 and SQL back ends here; the embedded one keeps its data in the
gateway's own SQLite file (``circulation.path``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.config import Config

    from .interface import CirculationBackend

__all__ = ["BACKENDS", "open_backend"]

#: Back end names accepted in the configuration.
BACKENDS = ("embedded",)


def open_backend(config: Config, name: str) -> CirculationBackend:
    """The back end called ``name``, opened for ``config``."""
    if name == "embedded":
        from .embedded import open_embedded

        return open_embedded(config)
    raise ValueError(f"unknown circulation back end {name!r} (known: {', '.join(BACKENDS)})")
