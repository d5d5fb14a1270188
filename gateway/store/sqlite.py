"""SQLite record store: the embedded default (one file, WAL, FTS5), no server to run.

Text is folded by :mod:`gateway.indexing` before it reaches FTS5, so the tokenizer needs no
diacritic handling of its own (``remove_diacritics 2`` alone would not fold đ). Each thread
gets its own connection; SQLite's locking serialises writers and WAL lets readers go on.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crosswalks.marcjson import marc_from_json

from ..indexing import (
    TEXT_HEADINGS,
    IndexedRecord,
    PreparedRecord,
    heading_sort,
    index_record,
    keys_json,
    prepare_record,
)
from ..query import Index, Query, SortField, SortKey
from ..record import CanonicalRecord, Item, StoredRecord, parse_oai_identifier
from .compiler import Compiled, FtsExpression, SqlCompiler
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

__all__ = ["SQLiteStore"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    number         INTEGER PRIMARY KEY,
    source         TEXT NOT NULL,
    local_id       TEXT NOT NULL,
    oai_identifier TEXT NOT NULL,
    datestamp      INTEGER NOT NULL,
    sequence       INTEGER NOT NULL,
    deleted        INTEGER NOT NULL DEFAULT 0,
    content_hash   TEXT NOT NULL,
    marc           TEXT,
    sets           TEXT NOT NULL,
    items          TEXT NOT NULL,
    title_sort     TEXT NOT NULL DEFAULT '',
    author_sort    TEXT NOT NULL DEFAULT '',
    year           INTEGER,
    keys           TEXT NOT NULL DEFAULT '[]',
    UNIQUE (source, local_id)
);
CREATE INDEX IF NOT EXISTS records_feed ON records (datestamp, sequence);
CREATE INDEX IF NOT EXISTS records_year ON records (year);
-- Set memberships, kept (inactive) after a record leaves a set so that set-based
-- harvesters see it as deleted there.
CREATE TABLE IF NOT EXISTS memberships (
    number   INTEGER NOT NULL,
    set_spec TEXT NOT NULL,
    active   INTEGER NOT NULL,
    PRIMARY KEY (number, set_spec)
) WITHOUT ROWID;
-- Codes (ISBN, ISSN, control numbers, languages) by exact key. Each table is its own
-- index (no secondary indexes to maintain on import); a record's rows are found for
-- deletion through the [index, key, sort] list kept in records.keys.
CREATE TABLE IF NOT EXISTS codes (
    idx    TEXT NOT NULL,
    key    TEXT NOT NULL,
    number INTEGER NOT NULL,
    PRIMARY KEY (idx, key, number)
) WITHOUT ROWID;
-- Text headings (title, author, subject, publisher) in browse order. Exact matching of
-- these is a word search in record_text checked against records.keys.
CREATE TABLE IF NOT EXISTS headings (
    idx     TEXT NOT NULL,
    sort    TEXT NOT NULL,
    number  INTEGER NOT NULL,
    display TEXT NOT NULL,
    PRIMARY KEY (idx, sort, number)
) WITHOUT ROWID;
-- Keys made once per store and shared by every process using it (resumption tokens).
CREATE TABLE IF NOT EXISTS secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
-- Each source's sync checkpoint and status (JSON), kept with the records they describe.
CREATE TABLE IF NOT EXISTS sync_state (
    name  TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS record_text USING fts5 (
    title, author, subject, publisher, other,
    tokenize = "unicode61 remove_diacritics 0"
);
"""

_REINDEX_BATCH = 500  # records per write transaction (a sync waits at most one batch)
_HEADER_COLUMNS = (
    "number, source, local_id, oai_identifier, datestamp, deleted, sets, items, NULL, sequence"
)
_RECORD_COLUMNS = _HEADER_COLUMNS.replace("NULL", "marc")


class SQLiteStore(RecordStore):
    """:class:`RecordStore` on one SQLite file (created on first open)."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = str(path)
        if self.path != ":memory:" and not create and not Path(self.path).exists():
            raise StoreError(f"store file {self.path} does not exist (run 'lienthong init')")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        connection = self._connection()
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise StoreError(
                    f"store file {self.path} has schema version {version}; "
                    f"this lienthong reads version {SCHEMA_VERSION}"
                )
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store file {self.path} is not a usable SQLite store: {exc}") from exc

    # -- connections ------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store has been closed")
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(
                    self.path, timeout=60, isolation_level=None, check_same_thread=False
                )
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")
                # 64 MiB of page cache per connection (taken only as pages are used); a
                # larger cache measured no faster on the 250,000-record import.
                connection.execute("PRAGMA cache_size = -65536")
                connection.execute("PRAGMA temp_store = MEMORY")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open store file {self.path}: {exc}") from exc
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
            self._closed = True

    # -- writing ----------------------------------------------------------------------
    def upsert(self, records: Iterable[CanonicalRecord | PreparedRecord]) -> WriteSummary:
        prepared = [r if isinstance(r, PreparedRecord) else prepare_record(r) for r in records]
        summary = WriteSummary()
        if not prepared:
            return summary
        db = self._connection()
        with _write_transaction(db):
            stamp, sequence, number = self._commit_clock(db)
            first_sequence = sequence
            existing = self._existing(db, [(p.source, p.local_id) for p in prepared])
            inserts: list[tuple[object, ...]] = []
            updates: list[tuple[object, ...]] = []
            indexed: dict[int, PreparedRecord] = {}
            replaced: set[int] = set()
            for item in prepared:
                found = existing.get((item.source, item.local_id))
                if found is not None and found[1] == item.content_hash and not found[2]:
                    summary.unchanged += 1
                    continue
                sequence += 1
                if found is None:
                    number += 1
                    record_number = number
                    inserts.append(_record_row(record_number, item, stamp, sequence))
                    summary.new += 1
                else:
                    record_number = found[0]
                    updates.append(_record_row(record_number, item, stamp, sequence)[1:]
                                   + (record_number,))  # fmt: skip
                    if found[0] not in indexed:
                        replaced.add(record_number)
                    summary.updated += 1
                existing[(item.source, item.local_id)] = (record_number, item.content_hash, False)
                indexed[record_number] = item
            self._drop_indexes(db, sorted(replaced))
            db.executemany(_INSERT_RECORD, inserts)
            db.executemany(_UPDATE_RECORD, updates)
            self._write_indexes(db, indexed)
            stamp = self._settle_datestamp(db, stamp, first_sequence)
        self._restamp_if_late(db, stamp, first_sequence, sequence)
        return summary

    def delete(self, source: str, local_ids: Iterable[str]) -> WriteSummary:
        ids = list(dict.fromkeys(local_ids))
        summary = WriteSummary()
        if not ids:
            return summary
        db = self._connection()
        with _write_transaction(db):
            stamp, sequence, _ = self._commit_clock(db)
            first_sequence = sequence
            existing = self._existing(db, [(source, i) for i in ids])
            tombstones = []
            for local_id in ids:
                found = existing.get((source, local_id))
                if found is None or found[2]:
                    continue
                sequence += 1
                tombstones.append((stamp, sequence, found[0]))
            # Memberships stay active: a tombstone is announced in the sets it was in.
            self._drop_indexes(db, [number for _, _, number in tombstones], memberships=False)
            db.executemany(
                "UPDATE records SET deleted = 1, content_hash = '', datestamp = ?, sequence = ?, "
                "keys = '[]' WHERE number = ?",
                tombstones,
            )
            stamp = self._settle_datestamp(db, stamp, first_sequence)
            summary.deleted = len(tombstones)
        self._restamp_if_late(db, stamp, first_sequence, sequence)
        return summary

    @staticmethod
    def _commit_clock(db: sqlite3.Connection) -> tuple[int, int, int]:
        """Datestamp, last sequence and last record number for a transaction holding the
        write lock.

        The datestamp never goes below the newest one stored, so a clock stepping back
        cannot put a change before what harvesters have already read.
        """
        # Datestamps and sequences grow together, so the last entry of the feed index holds
        # both maxima (a plain max(sequence) would scan the whole table).
        last = db.execute(
            "SELECT datestamp, sequence FROM records ORDER BY datestamp DESC, sequence DESC LIMIT 1"
        ).fetchone()
        newest, sequence = last if last else (0, 0)
        number = db.execute("SELECT max(number) FROM records").fetchone()[0] or 0
        return max(int(time.time()), newest), sequence, number

    @staticmethod
    def _settle_datestamp(db: sqlite3.Connection, stamp: int, first_sequence: int) -> int:
        """Move the batch's datestamp to the second it commits in, if the clock has moved
        on since the batch began; returns the datestamp the batch now has.

        A harvester that asked at second T and comes back with ``from=T`` must find every
        change it could not see the first time. A change stamped with the second its batch
        *began* but committed seconds later would be older than T and lost to it.
        """
        now = int(time.time())
        if now > stamp:
            db.execute(
                "UPDATE records SET datestamp = ? WHERE datestamp = ? AND sequence > ?",
                (now, stamp, first_sequence),
            )
            return now
        return stamp

    def _restamp_if_late(
        self, db: sqlite3.Connection, stamp: int, first_sequence: int, last_sequence: int
    ) -> None:
        """After COMMIT: if the clock passed into a later second while the commit ran, a
        harvest that began in that second did not see the batch yet holds a responseDate
        after its datestamp. Such a batch is moved to the end of the feed with a fresh
        datestamp (a harvester that had seen it sees it again: harmless), until a commit
        finishes within its own second."""
        for _ in range(5):
            if last_sequence <= first_sequence or int(time.time()) <= stamp:
                return
            with _write_transaction(db):
                clock, newest_sequence, _ = self._commit_clock(db)
                shift = newest_sequence - first_sequence
                now = max(clock, stamp + 1)
                # Rows changed again meanwhile have left (stamp, sequence range) already.
                db.execute(
                    "UPDATE records SET datestamp = ?, sequence = sequence + ? "
                    "WHERE datestamp = ? AND sequence > ? AND sequence <= ?",
                    (now, shift, stamp, first_sequence, last_sequence),
                )
            stamp, first_sequence, last_sequence = (
                now, first_sequence + shift, last_sequence + shift,
            )  # fmt: skip

    @staticmethod
    def _existing(
        db: sqlite3.Connection, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, str, bool]]:
        found: dict[tuple[str, str], tuple[int, str, bool]] = {}
        by_source: dict[str, list[str]] = {}
        for source, local_id in keys:
            by_source.setdefault(source, []).append(local_id)
        for source, local_ids in by_source.items():
            rows = db.execute(
                "SELECT number, local_id, content_hash, deleted FROM records "
                "WHERE source = ? AND local_id IN (SELECT value FROM json_each(?))",
                (source, json.dumps(local_ids)),
            )
            for number, local_id, digest, deleted in rows:
                found[(source, local_id)] = (number, digest, bool(deleted))
        return found

    @staticmethod
    def _drop_indexes(
        db: sqlite3.Connection, numbers: list[int], *, memberships: bool = True
    ) -> None:
        """Remove the index entries of ``numbers`` (call before their row is rewritten)."""
        if not numbers:
            return
        params = [(n,) for n in numbers]
        codes: list[tuple[str, str, int]] = []
        headings: list[tuple[str, str, int]] = []
        rows = db.execute(
            "SELECT number, keys FROM records WHERE number IN (SELECT value FROM json_each(?))",
            (json.dumps(numbers),),
        )
        for number, keys in rows:
            for index, key, sort in json.loads(keys):
                if sort:
                    headings.append((index, sort, number))
                else:
                    codes.append((index, key, number))
        db.executemany("DELETE FROM codes WHERE idx = ? AND key = ? AND number = ?", codes)
        db.executemany("DELETE FROM headings WHERE idx = ? AND sort = ? AND number = ?", headings)
        db.executemany("DELETE FROM record_text WHERE rowid = ?", params)
        if memberships:
            # Sets the record has left stay as inactive memberships: the record then shows
            # up as deleted in those sets' feeds instead of silently vanishing from them.
            db.executemany("UPDATE memberships SET active = 0 WHERE number = ?", params)

    @classmethod
    def _write_indexes(cls, db: sqlite3.Connection, indexed: dict[int, PreparedRecord]) -> None:
        cls._write_index_entries(db, {number: item.index for number, item in indexed.items()})
        db.executemany(
            "INSERT INTO memberships (number, set_spec, active) VALUES (?, ?, 1) "
            "ON CONFLICT (number, set_spec) DO UPDATE SET active = 1",
            [(number, spec) for number, item in indexed.items() for spec in item.sets],
        )

    @staticmethod
    def _write_index_entries(db: sqlite3.Connection, indexed: dict[int, IndexedRecord]) -> None:
        db.executemany(
            "INSERT INTO record_text (rowid, title, author, subject, publisher, other) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(number, *index.words) for number, index in indexed.items()],
        )
        codes = []
        headings = []
        for number, record_index in indexed.items():
            for index, key, sort, display in record_index.keys:
                if index in _HEADING_NAMES:
                    headings.append((index, sort, number, display))
                else:
                    codes.append((index, key, number))
        db.executemany("INSERT OR IGNORE INTO codes (idx, key, number) VALUES (?, ?, ?)", codes)
        db.executemany(
            "INSERT OR IGNORE INTO headings (idx, sort, number, display) VALUES (?, ?, ?, ?)",
            headings,
        )

    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        db = self._connection()
        done = last = 0
        while True:
            # One batch per write transaction, read inside it: a sync may commit between
            # batches, never between reading a record and rewriting its index.
            with _write_transaction(db):
                rows = db.execute(
                    "SELECT number, marc FROM records WHERE deleted = 0 AND marc IS NOT NULL "
                    "AND number > ? ORDER BY number LIMIT ?",
                    (last, _REINDEX_BATCH),
                ).fetchall()
                if not rows:
                    return done
                indexed = {number: index_record(marc_from_json(json.loads(marc)))
                           for number, marc in rows}  # fmt: skip
                self._drop_indexes(db, list(indexed), memberships=False)
                db.executemany(
                    "UPDATE records SET title_sort = ?, author_sort = ?, year = ?, keys = ? "
                    "WHERE number = ?",
                    [(index.title_sort, index.author_sort, index.year, keys_json(index), number)
                     for number, index in indexed.items()],
                )  # fmt: skip
                self._write_index_entries(db, indexed)
            last = rows[-1][0]
            done += len(rows)
            if progress is not None:
                progress(len(rows))

    # -- reading ----------------------------------------------------------------------
    def get(self, source: str, local_id: str) -> StoredRecord | None:
        row = (
            self._connection()
            .execute(
                f"SELECT {_RECORD_COLUMNS} FROM records WHERE source = ? AND local_id = ?",
                (source, local_id),
            )
            .fetchone()
        )
        return _stored(row) if row else None

    def get_by_oai_identifier(self, identifier: str) -> StoredRecord | None:
        # Identifiers are built from (source, local id), so that unique index finds them.
        parsed = parse_oai_identifier(identifier)
        if parsed is None:
            return None
        record = self.get(*parsed)
        return record if record is not None and record.oai_identifier == identifier else None

    def fetch(self, numbers: Sequence[int], *, metadata: bool = True) -> list[StoredRecord]:
        if not numbers:
            return []
        columns = _RECORD_COLUMNS if metadata else _HEADER_COLUMNS
        rows = (
            self._connection()
            .execute(
                f"SELECT {columns} FROM records WHERE number IN (SELECT value FROM json_each(?))",
                (json.dumps(list(numbers)),),
            )
            .fetchall()
        )
        by_number = {row[0]: _stored(row) for row in rows}
        return [by_number[n] for n in numbers if n in by_number]

    def local_ids(self, source: str, *, include_deleted: bool = False) -> Iterator[str]:
        sql = "SELECT local_id FROM records WHERE source = ?"
        if not include_deleted:
            sql += " AND deleted = 0"
        for (local_id,) in self._connection().execute(sql + " ORDER BY local_id", (source,)):
            yield local_id

    # -- searching --------------------------------------------------------------------
    def search(
        self,
        query: Query,
        *,
        sort: Sequence[SortKey] = (),
        offset: int = 0,
        limit: int = 10,
        metadata: bool = True,
    ) -> SearchResult:
        compiled = SqlCompiler().compile(query)
        db = self._connection()
        # One read transaction: the count, the page and its records see the same snapshot
        # even while a sync commits.
        db.execute("BEGIN")
        try:
            if isinstance(compiled, FtsExpression):
                total = db.execute(
                    "SELECT count(*) FROM record_text WHERE record_text MATCH ?", (compiled.text,)
                ).fetchone()[0]
            else:
                total = db.execute(
                    "SELECT count(*) FROM records WHERE deleted = 0 "
                    f"AND number IN ({compiled.sql})",
                    compiled.params,
                ).fetchone()[0]
            numbers = self._ordered_numbers(compiled, sort, offset, limit) if limit > 0 else []
            records = self.fetch(numbers, metadata=metadata)
        finally:
            db.execute("COMMIT")
        return SearchResult(total=total, records=records)

    def search_numbers(self, query: Query, *, sort: Sequence[SortKey] = ()) -> list[int]:
        return self._ordered_numbers(SqlCompiler().compile(query), sort, 0, -1)

    def _ordered_numbers(
        self, compiled: Compiled, sort: Sequence[SortKey], offset: int, limit: int
    ) -> list[int]:
        db = self._connection()
        keys = [k for k in sort if k.field is not SortField.RELEVANCE] if sort else []
        relevance_first = not sort or sort[0].field is SortField.RELEVANCE
        if isinstance(compiled, FtsExpression) and relevance_first:
            descending = bool(sort) and sort[0].descending
            rows = db.execute(
                "SELECT rowid FROM record_text WHERE record_text MATCH ? "
                f"ORDER BY rank {'DESC' if descending else ''}, rowid LIMIT ? OFFSET ?",
                (compiled.text, limit, offset),
            ).fetchall()
            return [row[0] for row in rows]
        hits_sql, params, scores = SqlCompiler.as_select(compiled)
        order = [_ORDER[k.field](k.descending) for k in keys]
        join = ""
        if scores is not None and (relevance_first or any(
            k.field is SortField.RELEVANCE for k in sort)):  # fmt: skip
            join = (
                "LEFT JOIN (SELECT rowid AS n, rank AS score FROM record_text "
                "WHERE record_text MATCH ?) s ON s.n = r.number"
            )
            params = [scores, *params]
            order.insert(0 if relevance_first else len(order), "s.score")
        order.append("r.number")
        sql = (
            f"SELECT r.number FROM records r {join} "
            f"WHERE r.deleted = 0 AND r.number IN ({hits_sql}) "
            f"ORDER BY {', '.join(order)} LIMIT ? OFFSET ?"
        )
        return [row[0] for row in db.execute(sql, (*params, limit, offset))]

    def facets(self, query: Query, index: Index, *, limit: int = 10) -> list[ScanTerm]:
        hits, params, _ = SqlCompiler.as_select(SqlCompiler().compile(query))
        within = f"number IN (SELECT number FROM ({hits}))"
        if index is Index.DATE:
            sql = (f"SELECT year, count(*) AS c FROM records WHERE deleted = 0 AND year "
                   f"IS NOT NULL AND {within} GROUP BY year "
                   "ORDER BY c DESC, year DESC LIMIT ?")  # fmt: skip
            arguments: list[object] = [*params, limit]
        elif index is Index.SOURCE:
            sql = (f"SELECT source, count(*) AS c FROM records WHERE deleted = 0 AND {within} "
                   "GROUP BY source ORDER BY c DESC, source LIMIT ?")  # fmt: skip
            arguments = [*params, limit]
        elif index in TEXT_HEADINGS:
            sql = (f"SELECT min(display), count(DISTINCT number) AS c FROM headings WHERE "
                   f"idx = ? AND {within} GROUP BY sort ORDER BY c DESC, sort LIMIT ?")  # fmt: skip
            arguments = [index.value, *params, limit]
        else:
            sql = (f"SELECT key, count(DISTINCT number) AS c FROM codes WHERE idx = ? AND "
                   f"{within} GROUP BY key ORDER BY c DESC, key LIMIT ?")  # fmt: skip
            arguments = [index.value, *params, limit]
        rows = self._connection().execute(sql, arguments).fetchall()
        return [ScanTerm(term=str(value), count=count) for value, count in rows]

    def scan(
        self,
        index: Index,
        start: str,
        *,
        before: int = 0,
        after: int = 20,
        source: str | None = None,
    ) -> list[ScanTerm]:
        origin = heading_sort(index, start)
        preceding = self._browse(index, "<", origin, before, source)[::-1] if before > 0 else []
        following = self._browse(index, ">=", origin, after, source) if after > 0 else []
        return [ScanTerm(term=str(term), count=count) for term, count in preceding + following]

    def _browse(
        self, index: Index, op: str, origin: str, limit: int, source: str | None
    ) -> list[tuple[object, int]]:
        """Up to ``limit`` (heading, count) pairs from ``origin`` in the direction of ``op``,
        counting one library's records only when ``source`` is given."""
        direction = "ASC" if op == ">=" else "DESC"
        of_source: tuple[object, ...] = (source,) if source is not None else ()
        in_records = "AND source = ? " if source is not None else ""
        in_source = (
            "AND number IN (SELECT number FROM records WHERE source = ? AND deleted = 0) "
            if source is not None
            else ""
        )
        if index is Index.DATE:
            if not (origin.isascii() and origin.isdigit()):
                origin = "0"
            elif len(origin) > 9:  # beyond any year (and SQLite's integers): the list's end
                origin = "999999999"
            sql = (f"SELECT year, year, count(*) FROM records WHERE deleted = 0 {in_records}"
                   f"AND year {op} ? GROUP BY year ORDER BY year {direction} LIMIT ?")  # fmt: skip
            params: tuple[object, ...] = (*of_source, int(origin), limit)
        elif index is Index.SOURCE:
            sql = (f"SELECT source, source, count(*) FROM records WHERE deleted = 0 {in_records}"
                   f"AND source {op} ? GROUP BY source "
                   f"ORDER BY source {direction} LIMIT ?")  # fmt: skip
            params = (*of_source, origin, limit)
        elif index in TEXT_HEADINGS or index is Index.ANY:
            names = _BROWSE_ALL if index is Index.ANY else (index.value,)
            marks = ",".join("?" * len(names))
            sql = ("SELECT sort, min(display), count(DISTINCT number) FROM headings "
                   f"WHERE idx IN ({marks}) {in_source}AND sort {op} ? "
                   f"GROUP BY sort ORDER BY sort {direction} LIMIT ?")  # fmt: skip
            params = (*names, *of_source, origin, limit)
        else:
            sql = (
                f"SELECT key, key, count(*) FROM codes WHERE idx = ? {in_source}"
                f"AND key {op} ? GROUP BY key ORDER BY key {direction} LIMIT ?"
            )
            params = (index.value, *of_source, origin, limit)
        rows = self._connection().execute(sql, params).fetchall()
        return [(display, count) for _, display, count in rows]

    # -- harvesting -------------------------------------------------------------------
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
        where, params = _feed_where(since, until, set_spec, after)
        in_set, in_set_params = "1", []
        if set_spec is not None:
            in_set = f"(SELECT max(m.active) FROM memberships m WHERE {_MEMBER_OF})"
            in_set_params = _set_range(set_spec)
        rows = (
            self._connection()
            .execute(
                f"SELECT r.number, r.source, r.local_id, r.oai_identifier, r.datestamp, r.deleted, "
                f"r.sets, r.items, {'r.marc' if metadata else 'NULL'}, r.sequence, "
                f"{in_set} FROM records r "
                f"WHERE {where} ORDER BY r.datestamp, r.sequence LIMIT ?",
                (*in_set_params, *params, limit),
            )
            .fetchall()
        )
        changes = []
        for row in rows:
            record = _stored(row[:10])
            position = FeedPosition(record.datestamp, row[9])
            changes.append(Change(position=position, record=record, in_set=bool(row[10])))
        return changes

    def count_changes(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        set_spec: str | None = None,
    ) -> int:
        where, params = _feed_where(since, until, set_spec, None)
        sql = f"SELECT count(*) FROM records r WHERE {where}"
        return int(self._connection().execute(sql, params).fetchone()[0])

    def sets(self) -> list[str]:
        rows = self._connection().execute("SELECT DISTINCT set_spec FROM memberships")
        return sorted(spec for (spec,) in rows)

    def secret(self, name: str) -> bytes:
        db = self._connection()
        row = db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        if row is not None:  # the common case takes no write lock (an import may hold it)
            return bytes(row[0])
        with _write_transaction(db):
            db.execute("INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)",
                       (name, secrets.token_bytes(32)))  # fmt: skip
            row = db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return bytes(row[0])

    def sync_state(self, name: str) -> dict[str, Any] | None:
        row = (
            self._connection()
            .execute("SELECT state FROM sync_state WHERE name = ?", (name,))
            .fetchone()
        )
        return dict(json.loads(row[0])) if row else None

    def sync_states(self) -> dict[str, dict[str, Any]]:
        rows = self._connection().execute("SELECT name, state FROM sync_state ORDER BY name")
        return {name: dict(json.loads(state)) for name, state in rows}

    def save_sync_state(self, name: str, state: dict[str, Any] | None) -> None:
        db = self._connection()
        with _write_transaction(db):
            if state is None:
                db.execute("DELETE FROM sync_state WHERE name = ?", (name,))
            else:
                text = json.dumps(state, ensure_ascii=False, sort_keys=True)
                db.execute("INSERT OR REPLACE INTO sync_state (name, state) VALUES (?, ?)",
                           (name, text))  # fmt: skip

    # -- statistics -------------------------------------------------------------------
    def source_stats(self) -> list[SourceStats]:
        rows = (
            self._connection()
            .execute(
                "SELECT source, sum(deleted = 0), sum(deleted), max(datestamp) FROM records "
                "GROUP BY source ORDER BY source"
            )
            .fetchall()
        )
        return [
            SourceStats(source, live, dead, _from_epoch(last) if last else None)
            for source, live, dead, last in rows
        ]

    def earliest_datestamp(self) -> datetime | None:
        row = self._connection().execute("SELECT min(datestamp) FROM records").fetchone()
        return _from_epoch(row[0]) if row[0] is not None else None

    def count(self) -> int:
        return int(
            self._connection()
            .execute("SELECT count(*) FROM records WHERE deleted = 0")
            .fetchone()[0]
        )


# -- helpers ---------------------------------------------------------------------------


_INSERT_RECORD = (
    "INSERT INTO records (number, source, local_id, oai_identifier, datestamp, sequence, "
    "deleted, content_hash, marc, sets, items, title_sort, author_sort, year, keys) "
    "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_RECORD = (
    "UPDATE records SET source = ?, local_id = ?, oai_identifier = ?, datestamp = ?, "
    "sequence = ?, deleted = 0, content_hash = ?, marc = ?, sets = ?, items = ?, "
    "title_sort = ?, author_sort = ?, year = ?, keys = ? WHERE number = ?"
)


def _record_row(number: int, item: PreparedRecord, stamp: int, sequence: int) -> tuple[object, ...]:
    index = item.index
    return (number, item.source, item.local_id, item.oai_identifier, stamp, sequence,
            item.content_hash, item.marc_json, item.sets_json, item.items_json,
            index.title_sort, index.author_sort, index.year, item.keys_json)  # fmt: skip


@contextlib.contextmanager
def _write_transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction holding the write lock from the start (so the datestamp and
    sequence taken inside it are in commit order); rolled back on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _stored(row: Sequence[object]) -> StoredRecord:
    number, source, local_id, oai_id, stamp, deleted, sets, items, marc, sequence = row
    assert isinstance(stamp, int) and isinstance(number, int) and isinstance(sequence, int)
    return StoredRecord(
        number=number,
        source=str(source),
        local_id=str(local_id),
        oai_identifier=str(oai_id),
        datestamp=_from_epoch(stamp),
        deleted=bool(deleted),
        sets=frozenset(json.loads(str(sets))),
        items=tuple(Item(**i) for i in json.loads(str(items))),
        marc=marc_from_json(json.loads(str(marc))) if marc and not deleted else None,
        version=sequence,
    )


#: A membership of record ``r`` in a set or, as OAI-PMH's hierarchy wants, in one of its
#: subsets (``library`` holds ``library:x``); parameters from :func:`_set_range`.
_MEMBER_OF = "m.number = r.number AND (m.set_spec = ? OR (m.set_spec > ? AND m.set_spec < ?))"


def _set_range(set_spec: str) -> list[object]:
    return [set_spec, set_spec + ":", set_spec + ";"]


def _feed_where(
    since: datetime | None,
    until: datetime | None,
    set_spec: str | None,
    after: FeedPosition | None,
) -> tuple[str, list[object]]:
    """The WHERE clause of the feed and its parameters.

    A set selects the records that are, or once were, in it or a subset (the ones that
    left are told apart by the caller). Past a position, ``since`` is left out: the
    position is already at or after it, and with both bounds SQLite ranges over the feed
    index from ``since`` and filters every earlier page's rows again, so deep pages would
    grow slower.
    """
    where: list[str] = []
    params: list[object] = []
    if set_spec is not None:
        where.append(f"EXISTS (SELECT 1 FROM memberships m WHERE {_MEMBER_OF})")
        params.extend(_set_range(set_spec))
    if after is not None:
        where.append("(r.datestamp, r.sequence) > (?, ?)")
        params.extend([_epoch(after.datestamp), after.sequence])
    elif since is not None:
        where.append("r.datestamp >= ?")
        params.append(_epoch(since))
    if until is not None:
        where.append("r.datestamp <= ?")
        params.append(_epoch(until))
    return " AND ".join(where) or "1", params


_BROWSE_ALL = (Index.TITLE.value, Index.AUTHOR.value, Index.SUBJECT.value)
_HEADING_NAMES = frozenset(index.value for index in TEXT_HEADINGS)


def _sort_text(column: str) -> Callable[[bool], str]:
    def order(descending: bool) -> str:
        # Records without the value sort last in both directions.
        return f"(r.{column} = '') , r.{column} {'DESC' if descending else 'ASC'}"

    return order


_ORDER: dict[SortField, Callable[[bool], str]] = {
    SortField.TITLE: _sort_text("title_sort"),
    SortField.AUTHOR: _sort_text("author_sort"),
    SortField.DATE: lambda descending: (
        f"(r.year IS NULL), r.year {'DESC' if descending else 'ASC'}"
    ),
}
