"""SQLite record store: the embedded default (one file, WAL, FTS5), no server to run.

Text is folded by :mod:`gateway.indexing` before it reaches FTS5, so the tokenizer needs no
diacritic handling of its own (``remove_diacritics 2`` alone would not fold đ). Each thread
gets its own connection; SQLite's locking serialises writers and WAL lets readers go on.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..indexing import IndexedRecord, heading_sort, index_record
from ..query import Index, Query, SortField, SortKey
from ..record import (
    CanonicalRecord,
    Item,
    StoredRecord,
    content_digest,
    marc_from_json,
    marc_json_text,
    set_ancestors,
)
from .compiler import FtsExpression, SqlCompiler
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
    oai_identifier TEXT NOT NULL UNIQUE,
    datestamp      INTEGER NOT NULL,
    sequence       INTEGER NOT NULL UNIQUE,
    deleted        INTEGER NOT NULL DEFAULT 0,
    content_hash   TEXT NOT NULL,
    marc           TEXT,
    sets           TEXT NOT NULL,
    items          TEXT NOT NULL,
    title_sort     TEXT NOT NULL DEFAULT '',
    author_sort    TEXT NOT NULL DEFAULT '',
    year           INTEGER,
    UNIQUE (source, local_id)
);
CREATE INDEX IF NOT EXISTS records_feed ON records (datestamp, sequence);
CREATE INDEX IF NOT EXISTS records_year ON records (year);
CREATE TABLE IF NOT EXISTS memberships (
    set_spec TEXT NOT NULL,
    number   INTEGER NOT NULL,
    active   INTEGER NOT NULL,
    PRIMARY KEY (set_spec, number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS memberships_number ON memberships (number);
CREATE TABLE IF NOT EXISTS record_keys (
    idx     TEXT NOT NULL,
    key     TEXT NOT NULL,
    sort    TEXT NOT NULL,
    display TEXT NOT NULL,
    number  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS record_keys_match ON record_keys (idx, key);
CREATE INDEX IF NOT EXISTS record_keys_browse ON record_keys (idx, sort);
CREATE INDEX IF NOT EXISTS record_keys_number ON record_keys (number);
CREATE VIRTUAL TABLE IF NOT EXISTS record_text USING fts5 (
    title, author, subject, publisher, any,
    tokenize = "unicode61 remove_diacritics 0"
);
"""

_RECORD_COLUMNS = (
    "number, source, local_id, oai_identifier, datestamp, deleted, sets, items, marc"
)
_FTS_COLUMNS = (Index.TITLE, Index.AUTHOR, Index.SUBJECT, Index.PUBLISHER, Index.ANY)


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
    def upsert(self, records: Iterable[CanonicalRecord]) -> WriteSummary:
        prepared = [_prepare(record) for record in records]
        summary = WriteSummary()
        if not prepared:
            return summary
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            stamp, sequence = self._commit_clock(db)
            existing = self._existing(db, [(p.record.source, p.record.local_id) for p in prepared])
            for item in prepared:
                rec = item.record
                found = existing.get((rec.source, rec.local_id))
                if found is not None and found[1] == item.content_hash and not found[2]:
                    summary.unchanged += 1
                    continue
                sequence += 1
                if found is None:
                    number = self._insert(db, item, stamp, sequence)
                    summary.new += 1
                else:
                    number = found[0]
                    self._update(db, number, item, stamp, sequence)
                    summary.updated += 1
                existing[(rec.source, rec.local_id)] = (number, item.content_hash, False)
                self._write_indexes(db, number, item)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return summary

    def delete(self, source: str, local_ids: Iterable[str]) -> WriteSummary:
        ids = list(dict.fromkeys(local_ids))
        summary = WriteSummary()
        if not ids:
            return summary
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            stamp, sequence = self._commit_clock(db)
            existing = self._existing(db, [(source, i) for i in ids])
            for local_id in ids:
                found = existing.get((source, local_id))
                if found is None or found[2]:
                    continue
                sequence += 1
                number = found[0]
                db.execute(
                    "UPDATE records SET deleted = 1, content_hash = '', datestamp = ?, "
                    "sequence = ? WHERE number = ?",
                    (stamp, sequence, number),
                )
                self._drop_indexes(db, number)
                summary.deleted += 1
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return summary

    @staticmethod
    def _commit_clock(db: sqlite3.Connection) -> tuple[int, int]:
        """Datestamp and last sequence for a write transaction that holds the write lock.

        The datestamp never goes below the newest one stored, so a clock stepping back
        cannot put a change before what harvesters have already read.
        """
        row = db.execute("SELECT max(datestamp), max(sequence) FROM records").fetchone()
        newest, sequence = row[0] or 0, row[1] or 0
        return max(int(time.time()), newest), sequence

    @staticmethod
    def _existing(
        db: sqlite3.Connection, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, str, bool]]:
        found: dict[tuple[str, str], tuple[int, str, bool]] = {}
        by_source: dict[str, list[str]] = {}
        for source, local_id in keys:
            by_source.setdefault(source, []).append(local_id)
        for source, local_ids in by_source.items():
            for start in range(0, len(local_ids), 500):
                chunk = local_ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for number, local_id, digest, deleted in db.execute(
                    "SELECT number, local_id, content_hash, deleted FROM records "
                    f"WHERE source = ? AND local_id IN ({marks})",
                    (source, *chunk),
                ):
                    found[(source, local_id)] = (number, digest, bool(deleted))
        return found

    @staticmethod
    def _insert(db: sqlite3.Connection, item: _Prepared, stamp: int, sequence: int) -> int:
        rec = item.record
        cursor = db.execute(
            "INSERT INTO records (source, local_id, oai_identifier, datestamp, sequence, "
            "deleted, content_hash, marc, sets, items, title_sort, author_sort, year) "
            "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
            (rec.source, rec.local_id, rec.oai_identifier, stamp, sequence, item.content_hash,
             item.marc_json, item.sets_json, item.items_json, item.index.title_sort,
             item.index.author_sort, item.index.year),
        )  # fmt: skip
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _update(
        self, db: sqlite3.Connection, number: int, item: _Prepared, stamp: int, sequence: int
    ) -> None:
        rec = item.record
        db.execute(
            "UPDATE records SET oai_identifier = ?, datestamp = ?, sequence = ?, deleted = 0, "
            "content_hash = ?, marc = ?, sets = ?, items = ?, title_sort = ?, author_sort = ?, "
            "year = ? WHERE number = ?",
            (rec.oai_identifier, stamp, sequence, item.content_hash, item.marc_json,
             item.sets_json, item.items_json, item.index.title_sort, item.index.author_sort,
             item.index.year, number),
        )  # fmt: skip
        self._drop_indexes(db, number)
        # Sets the record has left stay as inactive memberships: the record then shows up
        # as deleted in those sets' feeds instead of silently vanishing from them.
        db.execute("UPDATE memberships SET active = 0 WHERE number = ?", (number,))

    @staticmethod
    def _drop_indexes(db: sqlite3.Connection, number: int) -> None:
        db.execute("DELETE FROM record_text WHERE rowid = ?", (number,))
        db.execute("DELETE FROM record_keys WHERE number = ?", (number,))

    @staticmethod
    def _write_indexes(db: sqlite3.Connection, number: int, item: _Prepared) -> None:
        words = item.index.words
        db.execute(
            "INSERT INTO record_text (rowid, title, author, subject, publisher, any) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (number, *(words.get(column, "") for column in _FTS_COLUMNS)),
        )
        db.executemany(
            "INSERT INTO record_keys (idx, key, sort, display, number) VALUES (?, ?, ?, ?, ?)",
            [
                (index.value, key, sort, display, number)
                for (index, key, display), sort in zip(
                    item.index.keys, item.index.key_sorts, strict=True
                )
            ],
        )
        db.executemany(
            "INSERT INTO memberships (set_spec, number, active) VALUES (?, ?, 1) "
            "ON CONFLICT (set_spec, number) DO UPDATE SET active = 1",
            [(spec, number) for spec in item.all_sets],
        )

    # -- reading ----------------------------------------------------------------------
    def get(self, source: str, local_id: str) -> StoredRecord | None:
        row = self._connection().execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE source = ? AND local_id = ?",
            (source, local_id),
        ).fetchone()
        return _stored(row) if row else None

    def get_by_oai_identifier(self, identifier: str) -> StoredRecord | None:
        row = self._connection().execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE oai_identifier = ?", (identifier,)
        ).fetchone()
        return _stored(row) if row else None

    def fetch(self, numbers: Sequence[int]) -> list[StoredRecord]:
        if not numbers:
            return []
        rows = self._connection().execute(
            f"SELECT {_RECORD_COLUMNS} FROM records "
            "WHERE number IN (SELECT value FROM json_each(?))",
            (json.dumps(list(numbers)),),
        ).fetchall()
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
    ) -> SearchResult:
        compiled = SqlCompiler().compile(query)
        db = self._connection()
        if isinstance(compiled, FtsExpression):
            total = db.execute(
                "SELECT count(*) FROM record_text WHERE record_text MATCH ?", (compiled.text,)
            ).fetchone()[0]
        else:
            total = db.execute(
                f"SELECT count(*) FROM records WHERE deleted = 0 AND number IN ({compiled.sql})",
                compiled.params,
            ).fetchone()[0]
        numbers = self._ordered_numbers(compiled, sort, offset, limit) if limit > 0 else []
        return SearchResult(total=total, records=self.fetch(numbers))

    def search_numbers(self, query: Query, *, sort: Sequence[SortKey] = ()) -> list[int]:
        return self._ordered_numbers(SqlCompiler().compile(query), sort, 0, -1)

    def _ordered_numbers(
        self, compiled: object, sort: Sequence[SortKey], offset: int, limit: int
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

    def scan(
        self, index: Index, start: str, *, before: int = 0, after: int = 20
    ) -> list[ScanTerm]:
        db = self._connection()
        indexes = _browse_indexes(index)
        marks = ",".join("?" * len(indexes))
        origin = heading_sort(index, start)
        grouped = (
            "SELECT sort, min(display), count(DISTINCT number) FROM record_keys "
            f"WHERE idx IN ({marks}) AND sort {{op}} ? GROUP BY sort ORDER BY sort {{dir}} "
            "LIMIT ?"
        )
        preceding = []
        if before > 0:
            preceding = db.execute(
                grouped.format(op="<", dir="DESC"), (*indexes, origin, before)
            ).fetchall()[::-1]
        following = []
        if after > 0:
            following = db.execute(
                grouped.format(op=">=", dir="ASC"), (*indexes, origin, after)
            ).fetchall()
        return [ScanTerm(term=display, count=count) for _, display, count in preceding + following]

    # -- harvesting -------------------------------------------------------------------
    def changes(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        set_spec: str | None = None,
        after: FeedPosition | None = None,
        limit: int = 200,
    ) -> list[Change]:
        where, params = _feed_filter(since, until, set_spec)
        if after is not None:
            where.append("(r.datestamp, r.sequence) > (?, ?)")
            params.extend([_epoch(after.datestamp), after.sequence])
        active = "m.active" if set_spec is not None else "1"
        join = _feed_join(set_spec)
        rows = self._connection().execute(
            f"SELECT r.number, r.source, r.local_id, r.oai_identifier, r.datestamp, r.deleted, "
            f"r.sets, r.items, r.marc, r.sequence, {active} FROM records r {join} "
            f"WHERE {' AND '.join(where) or '1'} ORDER BY r.datestamp, r.sequence LIMIT ?",
            (*params, limit),
        ).fetchall()
        changes = []
        for row in rows:
            record = _stored(row[:9])
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
        where, params = _feed_filter(since, until, set_spec)
        return int(self._connection().execute(
            f"SELECT count(*) FROM records r {_feed_join(set_spec)} "
            f"WHERE {' AND '.join(where) or '1'}",
            params,
        ).fetchone()[0])  # fmt: skip

    def sets(self) -> list[tuple[str, int]]:
        rows = self._connection().execute(
            "SELECT m.set_spec, count(*) FROM memberships m JOIN records r "
            "ON r.number = m.number WHERE m.active = 1 AND r.deleted = 0 "
            "GROUP BY m.set_spec ORDER BY m.set_spec"
        ).fetchall()
        return [(spec, count) for spec, count in rows]

    # -- statistics -------------------------------------------------------------------
    def source_stats(self) -> list[SourceStats]:
        rows = self._connection().execute(
            "SELECT source, sum(deleted = 0), sum(deleted), max(datestamp) FROM records "
            "GROUP BY source ORDER BY source"
        ).fetchall()
        return [
            SourceStats(source, live, dead, _from_epoch(last) if last else None)
            for source, live, dead, last in rows
        ]

    def earliest_datestamp(self) -> datetime | None:
        row = self._connection().execute("SELECT min(datestamp) FROM records").fetchone()
        return _from_epoch(row[0]) if row[0] is not None else None

    def count(self) -> int:
        return int(
            self._connection().execute("SELECT count(*) FROM records WHERE deleted = 0")
            .fetchone()[0]
        )


# -- helpers ---------------------------------------------------------------------------


class _Prepared:
    """A record with everything computed that can be computed outside the write lock."""

    __slots__ = ("record", "index", "content_hash", "marc_json", "sets_json", "items_json",
                 "all_sets")  # fmt: skip

    def __init__(self, record: CanonicalRecord) -> None:
        self.record = record
        self.index: IndexedRecord = index_record(record.source, record.marc)
        self.marc_json = marc_json_text(record.marc)
        self.content_hash = content_digest(self.marc_json, record.sets, record.items)
        self.sets_json = json.dumps(sorted(record.sets), ensure_ascii=False)
        self.items_json = json.dumps([i.as_dict() for i in record.items], ensure_ascii=False)
        self.all_sets = set_ancestors(record.sets)


def _prepare(record: CanonicalRecord) -> _Prepared:
    return _Prepared(record)


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _stored(row: Sequence[object]) -> StoredRecord:
    number, source, local_id, oai_id, stamp, deleted, sets, items, marc = row
    assert isinstance(stamp, int) and isinstance(number, int)
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
    )


def _feed_filter(
    since: datetime | None, until: datetime | None, set_spec: str | None
) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    if set_spec is not None:
        params.append(set_spec)
    if since is not None:
        where.append("r.datestamp >= ?")
        params.append(_epoch(since))
    if until is not None:
        where.append("r.datestamp <= ?")
        params.append(_epoch(until))
    return where, params


def _feed_join(set_spec: str | None) -> str:
    if set_spec is None:
        return ""
    return "JOIN memberships m ON m.number = r.number AND m.set_spec = ?"


def _browse_indexes(index: Index) -> list[str]:
    if index is Index.ANY:
        return [Index.TITLE.value, Index.AUTHOR.value, Index.SUBJECT.value]
    return [index.value]


def _sort_text(column: str) -> object:
    def order(descending: bool) -> str:
        # Records without the value sort last in both directions.
        return f"(r.{column} = '') , r.{column} {'DESC' if descending else 'ASC'}"

    return order


_ORDER = {
    SortField.TITLE: _sort_text("title_sort"),
    SortField.AUTHOR: _sort_text("author_sort"),
    SortField.DATE: lambda descending: (
        f"(r.year IS NULL), r.year {'DESC' if descending else 'ASC'}"
    ),
}
