"""The sync flow: configured sources' adapters applied to the store (see ``engine``)."""

from .engine import SyncBusy, SyncReport, sync_source
from .sources import open_adapter, source_entries, source_entry
from .status import SourceStatus

__all__ = [
    "SyncBusy",
    "SyncReport",
    "sync_source",
    "open_adapter",
    "source_entries",
    "source_entry",
    "SourceStatus",
]
