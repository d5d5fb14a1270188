"""Configured sources: finding an entry, the settings its adapter gets, opening the adapter.

The adapter modules are imported only when a source of their kind is used, so a gateway
with one OAI source never loads SQL drivers or openpyxl.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from adapters.interface import BibliographicSource, SourceError, SourceSettings

from ..config import Config

__all__ = ["ADAPTER_MODULES", "source_entries", "source_entry", "settings_for", "open_adapter"]

#: The module implementing each kind (each has ``open_source(settings)``).
ADAPTER_MODULES = {
    "marc-folder": "adapters.marcfolder",
    "oai": "adapters.oai",
    "sql": "adapters.sql",
    "spreadsheet": "adapters.spreadsheet",
}
#: Mapping names shipped with lienthong (``mapping: koha``) rather than files.
BUILT_IN_MAPPINGS = ("koha",)


def source_entries(config: Config) -> list[dict[str, Any]]:
    """Every configured source, in file order."""
    return list(config.values.get("sources") or [])


def source_entry(config: Config, name: str) -> dict[str, Any] | None:
    """The source called ``name``, if configured."""
    return next((entry for entry in source_entries(config) if entry["name"] == name), None)


def settings_for(config: Config, entry: dict[str, Any]) -> SourceSettings:
    """What the adapter of ``entry`` is given: the entry with files resolved against the
    configuration folder, and its library's legacy-Vietnamese setting."""
    options = dict(entry)
    mapping = options.get("mapping")
    if mapping is not None and mapping not in BUILT_IN_MAPPINGS:
        options["mapping"] = str((config.directory / Path(mapping).expanduser()).resolve())
    library = config.library(entry["library"])
    return SourceSettings(
        name=entry["name"],
        library=entry["library"],
        kind=entry["kind"],
        options=options,
        directory=str(config.directory),
        legacy=library.legacy_vietnamese if library else "auto",
    )


def open_adapter(config: Config, entry: dict[str, Any]) -> BibliographicSource:
    """The adapter for ``entry``, opened; raises :class:`SourceError` when it cannot be."""
    module_name = ADAPTER_MODULES[entry["kind"]]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # a driver or reader package missing from this installation
        if (exc.name or "").startswith("adapters"):
            raise  # our own module: a broken installation, not a missing package
        raise SourceError(
            f"source kind {entry['kind']} needs the Python package {exc.name!r}, which is "
            "not installed (pip install lienthong installs it)",
            retryable=False,
        ) from None
    source: BibliographicSource = module.open_source(settings_for(config, entry))
    return source
