"""Record stores: the interface, and :func:`open_store` to get the configured one."""

from __future__ import annotations

from pathlib import Path

from .interface import (
    Change,
    FeedPosition,
    RecordStore,
    ScanTerm,
    SearchResult,
    SourceStats,
    StoreError,
    WriteSummary,
)

__all__ = [
    "open_store",
    "Change",
    "FeedPosition",
    "RecordStore",
    "ScanTerm",
    "SearchResult",
    "SourceStats",
    "StoreError",
    "WriteSummary",
]


def open_store(location: str | Path, *, create: bool = True) -> RecordStore:
    """Open the store at ``location``: a file path or ``sqlite:///path`` for SQLite.

    PostgreSQL (``postgresql://...``) is a separate implementation of the same interface.
    """
    text = str(location)
    if text.startswith(("postgresql:", "postgres:")):
        raise StoreError("the PostgreSQL store is not part of this version yet; use SQLite")
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif "://" in text:
        raise StoreError(f"unknown store URL scheme in {text!r} (use a file path or sqlite:///)")
    from .sqlite import SQLiteStore

    return SQLiteStore(text, create=create)
