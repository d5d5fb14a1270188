"""The record store interface every flow uses; no SQL and no database types cross it.

SQLite (embedded default) and PostgreSQL implement it and pass one shared test suite
(``tests/store_contract.py``), so a caller never knows which one is configured.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..indexing import PreparedRecord
from ..query import Index, Query, SortKey
from ..record import CanonicalRecord, StoredRecord

__all__ = [
    "RecordStore",
    "WriteSummary",
    "SearchResult",
    "ScanTerm",
    "FeedPosition",
    "Change",
    "SourceStats",
    "StoreError",
]


class StoreError(RuntimeError):
    """The store cannot be opened or used (missing file, unreachable server, bad schema)."""


@dataclass(slots=True)
class WriteSummary:
    """What one batch did: new and updated records, unchanged re-imports, tombstones."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def add(self, other: WriteSummary) -> None:
        """Accumulate ``other`` into this summary (for multi-batch imports)."""
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Hit count and one page of live records, in the requested order."""

    total: int
    records: list[StoredRecord]


@dataclass(frozen=True, slots=True)
class ScanTerm:
    """One entry of an index browse: the heading as displayed and how many records have it."""

    term: str
    count: int


@dataclass(frozen=True, slots=True, order=True)
class FeedPosition:
    """A place in the change feed: the (datestamp, change sequence) of the last change read.

    The sequence number is assigned at commit and only grows, so a record updated while a
    harvester pages through the feed moves *past* the harvester's position and is seen once
    more at its new place, never skipped; a change already read is never repeated.
    """

    datestamp: datetime
    sequence: int


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change feed.

    ``in_set`` is False when the feed was asked for one set and the record has left it since:
    a set-based harvester must then see it as deleted.
    """

    position: FeedPosition
    record: StoredRecord
    in_set: bool = True

    @property
    def deleted(self) -> bool:
        """True when a harvester should see a deletion (tombstone, or record left the set)."""
        return self.record.deleted or not self.in_set


@dataclass(frozen=True, slots=True)
class SourceStats:
    """Per member library: live records, tombstones, and the latest change."""

    source: str
    records: int
    tombstones: int
    last_change: datetime | None


class RecordStore(abc.ABC):
    """Canonical records, their indexes and their change history.

    Methods are blocking; server code calls them from a thread pool. Implementations are
    safe to call from several threads at once.
    """

    # -- writing ----------------------------------------------------------------------
    @abc.abstractmethod
    def upsert(self, records: Iterable[CanonicalRecord | PreparedRecord]) -> WriteSummary:
        """Insert or replace records by (source, local id) in one transaction.

        Records may come already prepared (:func:`gateway.indexing.prepare_record`, e.g. by
        import worker processes); the store prepares the others itself.

        A record whose content is unchanged keeps its datestamp; a tombstone that comes back
        is revived. All changed records of the batch get one datestamp, taken at commit.
        """

    @abc.abstractmethod
    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild every live record's index entries from its stored MARC (after an
        upgrade changed what is indexed); datestamps and the change feed stay as they are,
        since no record's content changes. Returns how many records were reindexed;
        ``progress`` is called with each batch's size."""

    @abc.abstractmethod
    def delete(self, source: str, local_ids: Iterable[str]) -> WriteSummary:
        """Turn records into tombstones (kept forever, datestamped at commit)."""

    # -- reading ----------------------------------------------------------------------
    @abc.abstractmethod
    def get(self, source: str, local_id: str) -> StoredRecord | None:
        """One record (live or tombstone) by its source's id."""

    @abc.abstractmethod
    def get_by_oai_identifier(self, identifier: str) -> StoredRecord | None:
        """One record (live or tombstone) by OAI identifier."""

    @abc.abstractmethod
    def fetch(self, numbers: Sequence[int], *, metadata: bool = True) -> list[StoredRecord]:
        """Records by store number, in the order asked; unknown numbers are left out.

        ``metadata=False`` leaves the MARC out (``marc`` None), for callers that serve a
        rendering they already hold for the record's (number, datestamp).
        """

    @abc.abstractmethod
    def local_ids(self, source: str, *, include_deleted: bool = False) -> Iterator[str]:
        """Every local id of ``source`` (for reconciliation against the source's own list)."""

    # -- searching --------------------------------------------------------------------
    @abc.abstractmethod
    def search(
        self,
        query: Query,
        *,
        sort: Sequence[SortKey] = (),
        offset: int = 0,
        limit: int = 10,
        metadata: bool = True,
    ) -> SearchResult:
        """Live records matching ``query``: hit count plus the page [offset, offset+limit).

        ``metadata=False`` returns the page's records without their MARC, as :meth:`fetch`.

        Raises :class:`gateway.query.QueryError` for a term the index cannot take.
        """

    @abc.abstractmethod
    def search_numbers(self, query: Query, *, sort: Sequence[SortKey] = ()) -> list[int]:
        """All matching record numbers in order (to keep a named result set)."""

    @abc.abstractmethod
    def facets(self, query: Query, index: Index, *, limit: int = 10) -> list[ScanTerm]:
        """The ``index`` values most common among the records matching ``query``, with
        their counts, most frequent first (SRU facets: author, subject, date, language,
        library). Ties go in browse order."""

    @abc.abstractmethod
    def scan(
        self,
        index: Index,
        start: str,
        *,
        before: int = 0,
        after: int = 20,
        source: str | None = None,
    ) -> list[ScanTerm]:
        """Browse ``index`` around ``start``: up to ``before`` terms preceding it, then up
        to ``after`` terms from it on, in Vietnamese alphabetical order, with record counts
        (of one member library's records when ``source`` is given).
        """

    # -- harvesting -------------------------------------------------------------------
    @abc.abstractmethod
    def changes(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        set_spec: str | None = None,
        after: FeedPosition | None = None,
        limit: int = 200,
        metadata: bool = True,
    ) -> list[Change]:
        """Changes with ``since`` <= datestamp <= ``until`` (both inclusive, seconds), ordered
        by position, strictly after ``after``, at most ``limit`` of them.

        With ``set_spec``, records currently in the set and records that have left it (as
        ``in_set=False``); a parent set ``library`` contains ``library:x`` (OAI set
        hierarchy). ``metadata=False`` leaves the MARC out (``marc`` None) for callers that
        list headers only, which saves decoding every record.
        """

    @abc.abstractmethod
    def count_changes(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        set_spec: str | None = None,
    ) -> int:
        """How many entries :meth:`changes` would return in all (``completeListSize``)."""

    @abc.abstractmethod
    def sets(self) -> list[str]:
        """Every set any record is or was in, sorted (OAI-PMH ListSets: a set whose records
        were all deleted or moved still announces those deletions)."""

    @abc.abstractmethod
    def secret(self, name: str) -> bytes:
        """A random 32-byte key called ``name``, made the first time it is asked for and
        the same afterwards for every process using this store (OAI-PMH signs its
        resumption tokens with one, so any gateway node can check any other's)."""

    # -- sync bookkeeping -------------------------------------------------------------
    @abc.abstractmethod
    def sync_state(self, name: str) -> dict[str, Any] | None:
        """The state the sync engine saved for source ``name`` (checkpoint, last success
        and error, counts), or None. Kept in the store, beside the records it describes,
        so a restored backup carries checkpoints matching its records."""

    @abc.abstractmethod
    def sync_states(self) -> dict[str, dict[str, Any]]:
        """Every saved sync state by source name (for ``sources list`` and /health)."""

    @abc.abstractmethod
    def save_sync_state(self, name: str, state: dict[str, Any] | None) -> None:
        """Replace source ``name``'s state (JSON-serialisable values); None removes it."""

    # -- statistics -------------------------------------------------------------------
    @abc.abstractmethod
    def source_stats(self) -> list[SourceStats]:
        """Counts per source, sorted by source id."""

    @abc.abstractmethod
    def earliest_datestamp(self) -> datetime | None:
        """Datestamp of the oldest change still in the store, or None when empty."""

    @abc.abstractmethod
    def count(self) -> int:
        """Live records in all (cheap; used by /health)."""

    # -- lifecycle ----------------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
