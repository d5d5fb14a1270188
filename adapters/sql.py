"""SQL database source (``kind: sql``): Koha's database, iLib's, a school's, read-only.

The database is read through SQLAlchemy with the queries of a mapping file (see
:mod:`adapters.sqlmapping` for its layout; ``mapping: koha`` is the one shipped for Koha's
schema). The adapter only ever runs SELECTs, and wraps each mapped query rather than editing
it, so one query serves every purpose::

    SELECT * FROM (<records.query>) q WHERE q.<changed> >= :since ORDER BY q.<changed>

Incremental sync. The checkpoint is JSON holding, per query (records, deletions, items,
items.deleted), the largest change value read so far, typed (timestamp, date, integer,
bytes for SQL Server rowversion). The next run reads ``>=`` that value, timestamps starting
``overlap_seconds`` earlier because the database clock and same-second saves may put a
change just behind it; rowversions need no overlap. Re-reads are harmless: the store keeps
a record whose content did not change as it was. A change column of a text type is
refused (a non-retryable SourceError when the queries are checked, a problem in
``sample``): text compares letter by letter, so a dd/mm/yyyy date would skip changes
without a word. Integer rowversions are read from ``>=`` the largest value seen, with
no overlap (values have none); see :mod:`adapters.sqlmapping` for what that can miss.

A full read (no checkpoint, or no ``changed`` column in the mapping) ends with a
:class:`~adapters.interface.Complete` of every id read, so deletions are found without a
deletions query; it notes the other queries' largest values *before* it starts, so
nothing changed during the read is missed next time.

Rows are streamed (server-side cursors) in batches; when they come in order of the change
column a :class:`~adapters.interface.Mark` follows every few thousand, so a broken-off sync
of a large catalogue resumes where it stopped. A copy (item) that changed, or was removed,
re-reads its record, since that is what the store holds copies under: in Koha a loan touches
``items.timestamp`` and nothing in ``biblio_metadata``.

Faults: no connection, refused credentials or a missing database are a
:class:`~adapters.interface.SourceError` in plain words naming the database with its
password masked (credentials and missing databases are not retryable); a mapping naming a
column the query does not return, or a query the database rejects, is a non-retryable
SourceError naming the mapping file, line and key and listing the columns the query does
return. A row that cannot become a record (garbage MARCXML, no title for DC) is a
:class:`~adapters.interface.Problem` and the sync goes on. Text is NFC, and legacy
TCVN3/VNI text (raw bytes or mojibake) is repaired with :mod:`crosswalks.legacy` per the
library's ``legacy_vietnamese`` setting.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy
from lxml import etree
from pymarc import Field, Record, Subfield
from pymarc.field import Indicators
from sqlalchemy import bindparam, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from crosswalks import legacy
from crosswalks.dc_to_marc import dc_to_marc
from crosswalks.marcxml import record_from_marcxml
from crosswalks.vietnamese import normalize
from gateway.record import Item, normalize_record

from .interface import (
    Complete,
    Deletion,
    Encoded,
    Event,
    Mark,
    Problem,
    Sample,
    SourceError,
    SourceSettings,
    Upsert,
)
from .sqlmapping import Column, MappingError, RecordsSpec, SqlMapping, Value, load_mapping

__all__ = ["SqlSource", "open_source", "BUILT_IN", "BATCH_ROWS", "MARK_EVERY"]

#: Mappings shipped with lienthong, by the name a configuration uses.
BUILT_IN = {"koha": Path(__file__).resolve().parent / "mappings" / "koha.yaml"}
#: Rows fetched per round trip (and records whose items are looked up together).
BATCH_ROWS = 1000
#: A resumable checkpoint is offered after about this many rows (ordered reads only).
MARK_EVERY = 5000
#: 008/00-05 of DC-mapped records without an ``entered`` column: a fixed date, never
#: "today", or every sync would see every record changed.
DEFAULT_ENTERED = date(2000, 1, 1)

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# A colon that SQLAlchemy's text() would take for a bind parameter (":name", not "::").
_BIND_LIKE = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
_MYSQL_REFUSED = {1044, 1045, 1698}  # access denied (database, password, plugin)
_MYSQL_NO_DATABASE = 1049
_MYSQL_UNREACHABLE = {2002, 2003, 2005, 2006, 2013}
_MYSQL_TIMED_OUT = {1969, 3024}  # MariaDB max_statement_time, MySQL max_execution_time
#: MySQL/MariaDB column types that hold text unless their character set is binary (63):
#: VARCHAR, JSON, ENUM, SET, the BLOB/TEXT family, VAR_STRING and STRING (CHAR).
_MYSQL_TEXT_TYPES = frozenset({15, 245, 247, 248, 249, 250, 251, 252, 253, 254})
_MYSQL_JSON, _MYSQL_BINARY_CHARSET = 245, 63


def open_source(settings: SourceSettings) -> SqlSource:
    """The adapter for one ``kind: sql`` source (connects on first use)."""
    return SqlSource(settings)


@dataclass(slots=True)
class _Query:
    """A mapped query checked against the database: where each named column is."""

    key: str  #: section key ("records", "items", ...)
    sql: str
    index: dict[str, int]  #: mapped column name -> position in the query's rows
    names: dict[str, str]  #: mapped column name -> the name the database uses


@dataclass(slots=True)
class _Run:
    """What one call of :meth:`SqlSource.changes` has read so far."""

    state: dict[str, dict[str, Any]]
    seen: set[str] = field(default_factory=set)
    rows: int = 0


class SqlSource:
    """A database read with the queries of a mapping (see the module docstring)."""

    def __init__(self, settings: SourceSettings) -> None:
        options = settings.options
        self.name = settings.name
        self.library = settings.library
        self.legacy = settings.legacy_mode()
        self.timeout = int(options.get("timeout_seconds") or 60)
        self.mapping_name = str(options.get("mapping") or "")
        self.mapping = _load(self.mapping_name, settings.directory)
        self.url = _url(options.get("url"), options.get("password_env"))
        self.where = self.url.render_as_string(hide_password=True)
        self._password = self.url.password or ""
        self._engine: Engine | None = None
        self._checked: dict[str, _Query] | None = None

    # -- the interface ----------------------------------------------------------------

    def changes(self, checkpoint: str | None, *, overlap_seconds: int) -> Iterator[Event]:
        """Records changed since ``checkpoint`` (everything when None), deletions, and
        records whose copies changed, ending with a Mark (see the module docstring)."""
        spec = self.mapping.records
        state = _read_checkpoint(checkpoint)
        incremental = spec.changed is not None and "records" in state
        with self._connect() as conn, self._connect() as side:
            queries = self._check(conn, problems=None)
            records = queries["records"]
            run = _Run(state)
            ordered = spec.changed is not None and spec.ordered
            where, params = None, {}
            if incremental:
                assert spec.changed is not None
                where = f"{self._q(records, spec.changed.name)} >= :since"
                params = {"since": _since(state["records"], overlap_seconds)}
            elif spec.changed is not None:
                for key in ("deletions", "items", "items.deleted"):
                    if key in queries:
                        self._note_maximum(conn, queries[key], key, state)
            order = self._q(records, spec.changed.name) if ordered and spec.changed else None
            statement = self._wrapped(records.sql, where=where, order=order)
            yield from self._read_records(conn, side, statement, params, run, resumable=ordered)
            if incremental:
                yield from self._touched_records(conn, side, queries, run, overlap_seconds)
                if "deletions" in queries:
                    yield from self._deletions(conn, queries["deletions"], run, overlap_seconds)
            else:
                yield Complete(frozenset(run.seen), f"the query records.query of {self._label()}")
            yield Mark(_write_checkpoint(run.state))

    def current_ids(self) -> Iterator[str] | None:
        """Every record id, by a query of the id column alone."""
        return self._ids()

    def _ids(self) -> Iterator[str]:
        with self._connect() as conn:
            records = self._check(conn, problems=None)["records"]
            column = self._q(records, self.mapping.records.id.name)
            statement = self._wrapped(records.sql, select=column)
            for rows in self._stream(conn, statement, {}, "records"):
                for row in rows:
                    yield _text(row[0])

    def sample(self, limit: int = 5) -> Sample:
        """The database's kind and version, row counts, the first records, and every
        mapping problem found (as text, rather than raised)."""
        problems: list[str] = []
        with self._connect() as conn, self._connect() as side:
            version = self._version(conn)
            queries = self._check(conn, problems=problems)
            counts = []
            for key, what in (("records", "records"), ("deletions", "deleted records"),
                              ("items", "items")):  # fmt: skip
                if key in queries:
                    count = self._scalar(conn, queries[key], "count(*)")
                    counts.append(f"{int(count or 0):,} {what}")
            found: list[Upsert] = []
            if "records" in queries:
                records = queries["records"]
                statement = self._wrapped(records.sql)
                run = _Run({})
                try:
                    for rows in self._stream(conn, statement, {}, "records", size=max(limit, 1)):
                        for event_ in self._build_batch(side, rows[:limit], run, encode=False):
                            if isinstance(event_, Upsert):
                                found.append(event_)
                            elif isinstance(event_, Problem):
                                problems.append(f"{event_.where}: {event_.reason}")
                        break
                except SourceError as exc:  # a text change column the driver did not name
                    if exc.retryable:
                        raise
                    problems.append(str(exc))
        described = f" ({self.mapping.description})" if self.mapping.description else ""
        summary = (f"{version} database {self.where}, mapping {self._label()}{described}: "
                   f"{', '.join(counts) or 'nothing readable'}")  # fmt: skip
        return Sample(summary=summary, records=tuple(found), problems=tuple(problems))

    def close(self) -> None:
        """Close every pooled connection."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- reading ----------------------------------------------------------------------

    def _read_records(
        self,
        conn: Connection,
        side: Connection,
        statement: sqlalchemy.TextClause,
        params: dict[str, Any],
        run: _Run,
        *,
        resumable: bool,
    ) -> Iterator[Event]:
        since_mark = 0
        for rows in self._stream(conn, statement, params, "records"):
            yield from self._build_batch(side, rows, run)
            since_mark += len(rows)
            if resumable and since_mark >= MARK_EVERY:
                since_mark = 0
                yield Mark(_write_checkpoint(run.state))

    def _build_batch(
        self, side: Connection, rows: Sequence[Any], run: _Run, *, encode: bool = True
    ) -> Iterator[Event]:
        """Upserts (or Problems) for one batch of record rows, with their items.

        A MARCXML column is passed on as :class:`Encoded` (``encode``): the engine parses
        it, in worker processes for a full sync, which is most of the work."""
        spec = self.mapping.records
        records = self._checked["records"] if self._checked else None
        assert records is not None
        id_at = records.index[spec.id.name]
        changed_at = records.index[spec.changed.name] if spec.changed else None
        items = None
        if self.mapping.items is not None and "items" in (self._checked or {}):
            items = self._items_of(side, [row[id_at] for row in rows if row[id_at] is not None])
        # Each record is yielded as soon as it is built: records that die young cost the
        # garbage collector far less than a batch of them kept alive together.
        for row in rows:
            local_id = _text(row[id_at]).strip()
            changed = row[changed_at] if changed_at is not None else None
            if changed is not None:
                self._advance(run.state, "records", changed)
            run.rows += 1
            if not local_id:
                yield Problem(f"row {run.rows} of records.query",
                              f"the id column {spec.id.name} is empty")  # fmt: skip
                continue
            run.seen.add(local_id)
            copies = tuple(items.get(local_id, ())) if items is not None else None
            stamp = changed if isinstance(changed, datetime) else None
            if encode and spec.marcxml is not None:
                try:
                    data = _marcxml_bytes(row[records.index[spec.marcxml.name]],
                                          spec.marcxml.name)  # fmt: skip
                except ValueError as exc:
                    yield Problem(f"{spec.id.name} {local_id}", str(exc))
                    continue
                yield Encoded(data, "marcxml", f"{spec.id.name} {local_id}", local_id=local_id,
                              changed=stamp, items=copies)  # fmt: skip
                continue
            try:
                record = self._record(spec, records, row, local_id)
            except ValueError as exc:
                yield Problem(f"{spec.id.name} {local_id}", str(exc))
                continue
            yield Upsert(local_id=local_id, record=record, changed=stamp, items=copies)

    def _record(self, spec: RecordsSpec, query: _Query, row: Any, local_id: str) -> Record:
        """The MARC record a row describes; ValueError (plain words) when it cannot be."""
        if spec.marcxml is not None:
            record = _from_marcxml(row[query.index[spec.marcxml.name]], spec.marcxml.name)
        elif spec.fields:
            record = _from_fields(spec, query, row, local_id, self.legacy)
        else:
            record = _from_dc(spec, query, row, local_id, self.legacy)
        legacy.repair_record(record, self.legacy)
        return normalize_record(record)

    def _items_of(self, side: Connection, raw_ids: list[Any]) -> dict[str, list[Item]]:
        """The copies of the records ``raw_ids``, by record id, in a stable order."""
        spec = self.mapping.items
        assert spec is not None and self._checked is not None
        query = self._checked["items"]
        found: dict[str, list[Item]] = {}
        if not raw_ids:
            return found
        record_at = query.index[spec.record.name]
        statement = self._wrapped(query.sql, where=f"{self._q(query, spec.record.name)} IN :ids")
        statement = statement.bindparams(bindparam("ids", expanding=True))
        try:
            rows = side.execute(statement, {"ids": raw_ids}).fetchall()
        except DBAPIError as exc:
            raise self._query_error(exc, "items") from None

        def first(row: Any, columns: tuple[Column, ...]) -> str:
            for column in columns:
                value = normalize(_text(row[query.index[column.name]], self.legacy)).strip()
                if value:
                    return value
            return ""

        for row in rows:
            item = Item(
                library=self.library,
                barcode=first(row, spec.barcode),
                location=first(row, spec.location),
                call_number=first(row, spec.call_number),
                status=first(row, spec.status) or "available",
            )
            found.setdefault(_text(row[record_at]).strip(), []).append(item)
        for copies in found.values():
            copies.sort(key=lambda i: (i.barcode, i.location, i.call_number, i.status))
        return found

    def _touched_records(
        self,
        conn: Connection,
        side: Connection,
        queries: dict[str, _Query],
        run: _Run,
        overlap: int,
    ) -> Iterator[Event]:
        """Records whose copies changed or were removed since the checkpoint, re-read."""
        items = self.mapping.items
        if items is None or items.changed is None:
            return
        wanted: dict[str, Any] = {}
        touches = [("items", items.record, items.changed)]
        if items.deleted is not None:
            touches.append(("items.deleted", items.deleted.record, items.deleted.changed))
        for key, record_column, changed_column in touches:
            query = queries[key]
            record_name = self._q(query, record_column.name)
            changed_name = self._q(query, changed_column.name)
            where, params = None, {}
            if key in run.state:
                where, params = (
                    f"{changed_name} >= :since",
                    {"since": _since(run.state[key], overlap)},
                )
            statement = self._wrapped(
                query.sql, select=f"{record_name}, {changed_name}", where=where
            )
            for rows in self._stream(conn, statement, params, key):
                for raw_id, changed in rows:
                    if changed is not None:
                        self._advance(run.state, key, changed)
                    local_id = _text(raw_id).strip()
                    if local_id and local_id not in run.seen:
                        wanted.setdefault(local_id, raw_id)
        if not wanted:
            return
        records = queries["records"]
        statement = self._wrapped(
            records.sql, where=f"{self._q(records, self.mapping.records.id.name)} IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        raw = list(wanted.values())
        state_before = run.state.get("records")
        for start in range(0, len(raw), BATCH_ROWS):
            try:
                rows = side.execute(statement, {"ids": raw[start : start + BATCH_ROWS]}).fetchall()
            except DBAPIError as exc:
                raise self._query_error(exc, "records") from None
            yield from self._build_batch(side, rows, run)
        # These records were read by id, not by time: their change values say nothing
        # about how far the records query has got.
        if state_before is not None:
            run.state["records"] = state_before

    def _deletions(
        self, conn: Connection, query: _Query, run: _Run, overlap: int
    ) -> Iterator[Event]:
        spec = self.mapping.deletions
        assert spec is not None
        id_name, changed_name = self._q(query, spec.id.name), self._q(query, spec.changed.name)
        where, params = None, {}
        if "deletions" in run.state:
            where = f"{changed_name} >= :since"
            params = {"since": _since(run.state["deletions"], overlap)}
        statement = self._wrapped(query.sql, select=f"{id_name}, {changed_name}", where=where)
        for rows in self._stream(conn, statement, params, "deletions"):
            for raw_id, changed in rows:
                if changed is not None:
                    self._advance(run.state, "deletions", changed)
                local_id = _text(raw_id).strip()
                # A record read in this run exists now, whatever an old deletion row says.
                if local_id and local_id not in run.seen:
                    yield Deletion(local_id, changed if isinstance(changed, datetime) else None)

    def _note_maximum(
        self, conn: Connection, query: _Query, key: str, state: dict[str, dict[str, Any]]
    ) -> None:
        column = self._change_column(key)
        if column is None:
            return
        value = self._scalar(conn, query, f"max({self._q(query, column.name)})")
        if value is not None:
            self._refuse_text(key, value)
            state[key] = _encode(value)

    def _change_column(self, key: str) -> Column | None:
        """The change column of section ``key`` ("records", "deletions", "items", ...)."""
        mapping = self.mapping
        return {
            "records": mapping.records.changed,
            "deletions": mapping.deletions.changed if mapping.deletions else None,
            "items": mapping.items.changed if mapping.items else None,
            "items.deleted": (
                mapping.items.deleted.changed if mapping.items and mapping.items.deleted else None
            ),
        }.get(key)

    def _advance(self, state: dict[str, dict[str, Any]], key: str, value: Any) -> None:
        """Keep the largest change value of ``key``, refusing text: the check of the
        column's type only sees what the database driver tells, this sees the values."""
        self._refuse_text(key, value)
        _advance(state, key, value)

    def _refuse_text(self, key: str, value: Any) -> None:
        if isinstance(value, str):
            column = self._change_column(key)
            if column is not None:
                raise self._text_change_error(column, "text")

    def _text_change_error(self, column: Column, kind: str) -> SourceError:
        return SourceError(
            f"{self.mapping.where(column)} names column {column.name!r}, which holds {kind}: "
            "changes cannot be found by comparing text (a date written dd/mm/yyyy sorts by "
            "its day, so newer changes would be skipped); use a timestamp, date or integer "
            "column, or convert it in the query (STR_TO_DATE(col, '%d/%m/%Y') in MariaDB and "
            "MySQL, to_date(col, 'DD/MM/YYYY') in PostgreSQL)",
            retryable=False,
        )

    # -- SQL --------------------------------------------------------------------------

    def _q(self, query: _Query, column: str) -> str:
        """``q.<column>`` quoted for the database, by the name the database reports."""
        preparer = self._get_engine().dialect.identifier_preparer
        return f"q.{preparer.quote(query.names.get(column, column))}"

    @staticmethod
    def _wrapped(
        sql: str, *, select: str = "*", where: str | None = None, order: str | None = None
    ) -> sqlalchemy.TextClause:
        inner = _BIND_LIKE.sub(r"\\:\1", sql.strip().rstrip(";"))
        statement = f"SELECT {select} FROM ({inner}) q"
        if where:
            statement += f" WHERE {where}"
        if order:
            statement += f" ORDER BY {order}"
        return text(statement)

    def _stream(
        self,
        conn: Connection,
        statement: sqlalchemy.TextClause,
        params: dict[str, Any],
        key: str,
        *,
        size: int | None = None,
    ) -> Iterator[Sequence[Any]]:
        """Batches of rows, fetched through a server-side cursor."""
        size = size or BATCH_ROWS
        try:
            result = conn.execution_options(stream_results=True, yield_per=size).execute(
                statement, params
            )
            with result:
                yield from result.partitions(size)
        except DBAPIError as exc:
            raise self._query_error(exc, key) from None

    def _scalar(self, conn: Connection, query: _Query, expression: str) -> Any:
        try:
            return conn.execute(self._wrapped(query.sql, select=expression)).scalar()
        except DBAPIError as exc:
            raise self._query_error(exc, query.key) from None

    def _check(self, conn: Connection, *, problems: list[str] | None) -> dict[str, _Query]:
        """Run each mapped query for no rows and match the mapping's columns to what it
        returns. Raises SourceError for the first section that does not fit, or (with
        ``problems``) lists every problem and leaves bad sections out."""
        checked: dict[str, _Query] = {}
        for key, columns in self.mapping.columns_of.items():
            try:
                checked[key] = self._check_one(conn, key, self._sql_of(key), columns)
            except SourceError as exc:
                if problems is None:
                    raise
                problems.append(str(exc))
                with contextlib.suppress(SQLAlchemyError):
                    conn.rollback()
        if "records" in checked:
            self._checked = checked
        return checked

    def _sql_of(self, key: str) -> str:
        mapping = self.mapping
        if key == "records":
            return mapping.records.query
        if key == "deletions" and mapping.deletions:
            return mapping.deletions.query
        if key == "items" and mapping.items:
            return mapping.items.query
        if key == "items.deleted" and mapping.items and mapping.items.deleted:
            return mapping.items.deleted.query
        raise KeyError(key)

    def _check_one(
        self, conn: Connection, key: str, sql: str, columns: tuple[Column, ...]
    ) -> _Query:
        try:
            result = conn.execute(self._wrapped(sql, where="1 = 0"))
            returned = list(result.keys())
            text_typed = [_text_typed(conn, result, i) for i in range(len(returned))]
            result.close()
        except DBAPIError as exc:
            raise self._query_error(exc, key) from None
        by_folded = {name.casefold(): name for name in returned}
        index, names = {}, {}
        for column in columns:
            actual = (
                column.name if column.name in returned else by_folded.get(column.name.casefold())
            )
            if actual is None:
                raise SourceError(
                    f"{self.mapping.where(column)} names column {column.name!r}, which {key}.query "
                    f"does not return; it returns: {', '.join(returned) or 'no columns'}",
                    retryable=False,
                )
            index[column.name] = returned.index(actual)
            names[column.name] = actual
            if column.key.endswith(".changed") and text_typed[index[column.name]]:
                raise self._text_change_error(column, "text (its type is a character type)")
        return _Query(key, sql, index, names)

    def _version(self, conn: Connection) -> str:
        dialect = conn.dialect
        info = ".".join(str(part) for part in (dialect.server_version_info or ()))
        if dialect.name == "mysql":
            kind = "MariaDB" if getattr(dialect, "is_mariadb", False) else "MySQL"
        else:
            kind = {"postgresql": "PostgreSQL", "mssql": "SQL Server", "oracle": "Oracle",
                    "sqlite": "SQLite"}.get(dialect.name, dialect.name)  # fmt: skip
        return f"{kind} {info}".strip()

    # -- connections and errors -------------------------------------------------------

    def _get_engine(self) -> Engine:
        if self._engine is None:
            self._engine = _engine(self.url, self.timeout, self.where)
        return self._engine

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Connection]:
        engine = self._get_engine()
        try:
            conn = engine.connect()
        except DBAPIError as exc:
            raise self._connect_error(exc) from None
        except SQLAlchemyError as exc:
            raise SourceError(f"cannot connect to {self.where}: {self._clean(exc)}") from None
        try:
            yield conn
        finally:
            with contextlib.suppress(SQLAlchemyError):
                conn.close()

    def _clean(self, exc: BaseException) -> str:
        """The driver's message, first line only, the password masked."""
        original = getattr(exc, "orig", None) or exc
        args: tuple[Any, ...] = tuple(getattr(original, "args", ()))
        # PyMySQL's errors are (code, message): the message alone reads better.
        said = str(args[1]) if len(args) == 2 and isinstance(args[0], int) else str(original)
        message = said.strip().splitlines()[0] if said.strip() else ""
        if self._password:
            message = message.replace(self._password, "***")
        return message or type(original).__name__

    def _connect_error(self, exc: DBAPIError) -> SourceError:
        original = exc.orig
        code = original.args[0] if original is not None and original.args else None
        detail = self._clean(exc)
        lowered = detail.lower()
        user = self.url.username or "(no user)"
        database = self.url.database or "(default)"
        if (
            code in _MYSQL_REFUSED
            or "password authentication failed" in lowered
            or ("role" in lowered and "does not exist" in lowered)
            or "no password supplied" in lowered
        ):
            return SourceError(
                f"the database at {self.where} refused user {user!r}: wrong user name or "
                f"password (password_env), or no access to database {database!r} ({detail})",
                retryable=False,
            )
        if code == _MYSQL_NO_DATABASE or ("database" in lowered and "does not exist" in lowered):
            return SourceError(
                f"the database server at {self.where} has no database {database!r} ({detail})",
                retryable=False,
            )
        host = f"{self.url.host or 'localhost'}" + (f":{self.url.port}" if self.url.port else "")
        if code in _MYSQL_UNREACHABLE or "refused" in lowered or "timeout" in lowered:
            return SourceError(
                f"cannot reach the database server at {host} ({self.where}): is it running "
                f"and reachable from here? ({detail})"
            )
        return SourceError(f"cannot connect to {self.where}: {detail}")

    def _query_error(self, exc: DBAPIError, key: str) -> SourceError:
        detail = self._clean(exc)
        original = exc.orig
        code = original.args[0] if original is not None and original.args else None
        if (
            getattr(original, "sqlstate", None) == "57014"
            or code in _MYSQL_TIMED_OUT
            or (code in _MYSQL_UNREACHABLE and "timed out" in detail)
        ):
            return SourceError(f"{key}.query took longer than timeout_seconds ({self.timeout} s) "
                               f"at {self.where}; the database may be busy ({detail})")  # fmt: skip
        if exc.connection_invalidated or code in _MYSQL_UNREACHABLE:
            return SourceError(f"lost the connection to {self.where} while reading {key}.query: "
                               f"{detail}")  # fmt: skip
        line = {
            "records": self.mapping.records.line,
            "deletions": self.mapping.deletions.line if self.mapping.deletions else None,
            "items": self.mapping.items.line if self.mapping.items else None,
            "items.deleted": (
                self.mapping.items.deleted.line
                if self.mapping.items and self.mapping.items.deleted
                else None
            ),
        }.get(key)
        at = f" line {line}" if line else ""
        return SourceError(
            f"mapping {self.mapping.file}{at}: {key}.query fails in the database {self.where}: "
            f"{detail}",
            retryable=False,
        )

    def _label(self) -> str:
        return self.mapping_name if self.mapping_name in BUILT_IN else self.mapping.file


# -- construction ------------------------------------------------------------------------


def _load(name: str, directory: str) -> SqlMapping:
    if not name:
        raise SourceError("an sql source needs 'mapping': koha, or the path of a YAML mapping "
                          "file", retryable=False)  # fmt: skip
    path = BUILT_IN.get(name) or Path(directory) / Path(name).expanduser()
    try:
        return load_mapping(path)
    except MappingError as exc:
        raise SourceError(str(exc), retryable=False) from None


def _url(given: Any, password_env: Any) -> URL:
    if not given:
        raise SourceError("an sql source needs 'url', e.g. mysql+pymysql://koha@127.0.0.1/koha",
                          retryable=False)  # fmt: skip
    try:
        url = make_url(str(given))
    except ArgumentError:
        example = "mysql+pymysql://user@host:3306/database"
        raise SourceError(f"'url' is not a database URL such as {example}",
                          retryable=False) from None  # fmt: skip
    if password_env:
        password = os.environ.get(str(password_env))
        if password is None:
            raise SourceError(
                f"the environment variable {password_env} (password_env) is not set, so there is "
                f"no password for {url.render_as_string(hide_password=True)}",
                retryable=False,
            )
        url = url.set(password=password)
    return url


def _engine(url: URL, timeout: int, where: str) -> Engine:
    """An engine with connect and statement timeouts where the driver has them."""
    connect_args: dict[str, Any] = {}
    backend = url.get_backend_name()
    if backend in ("mysql", "mariadb"):
        connect_args["connect_timeout"] = timeout
        # A socket read waiting this long means a statement that does not answer; the
        # server may wait long for us while the store commits a batch of a streamed read.
        connect_args["read_timeout"] = timeout
        connect_args["init_command"] = "SET SESSION net_write_timeout = 3600"
        if "charset" not in url.query:
            connect_args["charset"] = "utf8mb4"
    elif backend == "postgresql":
        connect_args["connect_timeout"] = max(2, timeout)
    try:
        engine = sqlalchemy.create_engine(url, connect_args=connect_args, pool_pre_ping=True,
                                          pool_size=2, max_overflow=2)  # fmt: skip
    except NoSuchModuleError:
        raise SourceError(f"lienthong does not know the database kind of {where}",
                          retryable=False) from None  # fmt: skip
    except ImportError as exc:
        raise SourceError(f"reading {where} needs the Python package {exc.name!r}, which is "
                          "not installed", retryable=False) from None  # fmt: skip
    except (ArgumentError, TypeError) as exc:
        raise SourceError(f"cannot use {where}: {exc}", retryable=False) from None
    if backend == "postgresql":
        milliseconds = timeout * 1000

        @event.listens_for(engine, "connect")
        def _statement_timeout(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET statement_timeout = {milliseconds}")
            cursor.close()
            dbapi_connection.commit()

    return engine


# -- values ------------------------------------------------------------------------------


def _text_typed(conn: Connection, result: Any, index: int) -> bool | None:
    """Whether column ``index`` of ``result`` is of a text type, as far as the driver
    says (None: it does not say). PyMySQL reports BINARY and VARCHAR, BLOB and TEXT with
    the same type codes and tells them apart by character set; other drivers give type
    codes that compare equal to their DB-API ``STRING`` type for text."""
    cursor = getattr(result, "cursor", None)
    fields = getattr(getattr(cursor, "_result", None), "fields", None)
    if fields is not None and index < len(fields):
        code = getattr(fields[index], "type_code", None)
        charset = getattr(fields[index], "charsetnr", None)
        if code is not None and charset is not None:
            return code in _MYSQL_TEXT_TYPES and (
                code == _MYSQL_JSON or charset != _MYSQL_BINARY_CHARSET
            )
    description = getattr(cursor, "description", None)
    string = getattr(conn.dialect.dbapi, "STRING", None)
    if not description or index >= len(description) or string is None:
        return None
    code = description[index][1]
    return None if code is None else bool(code == string)


def _text(value: Any, mode: legacy.LegacyMode = legacy.LegacyMode.AUTO) -> str:
    """A column value as text: bytes decoded (UTF-8, else legacy Vietnamese, else
    Windows-1252 for repair_record to look at), dates in ISO form, numbers plain."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            encoding = (
                legacy.detect_bytes(data, mode) if mode is not legacy.LegacyMode.OFF else None
            )
            if encoding is not None:
                return legacy.decode(data, encoding)
            return data.decode("cp1252", errors="replace")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return str(value)


def _marcxml_bytes(value: Any, column: str) -> bytes:
    """A MARCXML column's value as bytes an XML parser reads (a text value loses its XML
    declaration, whose encoding no longer applies to the decoded text)."""
    if value is None or (isinstance(value, str | bytes) and not value.strip()):
        raise ValueError(f"column {column} is empty (no MARCXML)")
    if isinstance(value, str):
        return _XML_DECLARATION.sub("", value, count=1).encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise ValueError(f"column {column} holds {type(value).__name__}, not MARCXML text")


def _from_marcxml(value: Any, column: str) -> Record:
    data = _marcxml_bytes(value, column)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        said = re.sub(r" \(<string>, line \d+\)$", "", str(exc))
        raise ValueError(f"column {column} is not well-formed MARCXML: {said}") from None
    element = root
    if etree.QName(root).localname == "collection":
        element = next((c for c in root if isinstance(c.tag, str)
                        and etree.QName(c).localname == "record"), None)  # fmt: skip
    if element is None or etree.QName(element).localname != "record":
        raise ValueError(f"column {column} holds XML that is not a MARCXML record "
                         f"(<{etree.QName(root).localname}>)")  # fmt: skip
    return record_from_marcxml(element)


def _values_of(value: Value, query: _Query, row: Any, mode: legacy.LegacyMode) -> list[str]:
    found: list[str] = []
    for column in value.columns:
        content = normalize(_text(row[query.index[column.name]], mode)).strip()
        parts = content.split(value.split) if value.split else [content]
        found.extend(part.strip() for part in parts if part.strip())
    return found


def _from_fields(
    spec: RecordsSpec, query: _Query, row: Any, local_id: str, mode: legacy.LegacyMode
) -> Record:
    """MARC fields from columns: a tag mapped with one subfield gets one field per value;
    a tag mapped with several subfields gets one field holding them all."""
    by_tag: dict[str, list[Value]] = {}
    for value in spec.fields:
        by_tag.setdefault(value.target[:3], []).append(value)
    record = Record(force_utf8=True, leader=spec.leader)
    fields: list[Field] = []
    if "001" not in by_tag:
        fields.append(Field(tag="001", data=local_id))
    for tag, values in by_tag.items():
        if tag < "010":
            data = next(iter(_values_of(values[0], query, row, mode)), "")
            if data:
                fields.append(Field(tag=tag, data=data))
            continue
        pairs = [(v.target[4], text_) for v in values for text_ in _values_of(v, query, row, mode)]
        if not pairs:
            continue
        groups = [[pair] for pair in pairs] if len(values) == 1 else [pairs]
        for group in groups:
            indicators = Indicators(*spec.indicators.get(tag, "  "))
            fields.append(Field(tag=tag, indicators=indicators,
                                subfields=[Subfield(code, v) for code, v in group]))  # fmt: skip
    if not any(not f.control_field for f in fields):
        raise ValueError("every mapped column is empty: no MARC data fields")
    if "245" not in spec.indicators:  # title added entry only when there is a main entry
        main_entry = any(f.tag.startswith("1") for f in fields)
        for title in (f for f in fields if f.tag == "245"):
            title.indicators = Indicators("1" if main_entry else "0", "0")
    fields.sort(key=lambda f: f.tag)
    record.add_field(*fields)
    return record


def _from_dc(
    spec: RecordsSpec, query: _Query, row: Any, local_id: str, mode: legacy.LegacyMode
) -> Record:
    pairs = [
        (value.target, text_) for value in spec.dc for text_ in _values_of(value, query, row, mode)
    ]
    entered = DEFAULT_ENTERED
    if spec.entered is not None:
        given = row[query.index[spec.entered.name]]
        if isinstance(given, datetime):
            entered = given.date()
        elif isinstance(given, date):
            entered = given
        elif given:
            with contextlib.suppress(ValueError):
                entered = date.fromisoformat(_text(given)[:10])
    return dc_to_marc(pairs, entered=entered, control_number=local_id, country=spec.country)


# -- checkpoints -------------------------------------------------------------------------


def _encode(value: Any) -> dict[str, Any]:
    if isinstance(value, datetime):
        return {"type": "timestamp", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, bool):
        return {"type": "int", "value": int(value)}
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return {"type": "int", "value": int(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "bytes", "value": bytes(value).hex()}
    return {"type": "text", "value": str(value)}


def _decode(entry: dict[str, Any]) -> Any:
    kind, value = entry.get("type"), entry.get("value")
    if kind == "timestamp":
        return datetime.fromisoformat(str(value))
    if kind == "date":
        return date.fromisoformat(str(value))
    if kind == "int":
        return int(value)  # type: ignore[arg-type]
    if kind == "bytes":
        return bytes.fromhex(str(value))
    return str(value)


def _advance(state: dict[str, dict[str, Any]], key: str, value: Any) -> None:
    """Keep the largest change value of ``key`` seen."""
    current = state.get(key)
    if current is None:
        state[key] = _encode(value)
        return
    try:
        if value > _decode(current):
            state[key] = _encode(value)
    except TypeError:  # the column changed type (a schema change): start from this value
        state[key] = _encode(value)


def _since(entry: dict[str, Any], overlap_seconds: int) -> Any:
    """Where the next read starts: timestamps ``overlap_seconds`` early, others at the
    value itself (``>=`` re-reads the last one, which a same-value change may share)."""
    value = _decode(entry)
    if isinstance(value, datetime):
        return value - timedelta(seconds=max(0, overlap_seconds))
    if isinstance(value, date):
        return value - timedelta(days=1 if overlap_seconds > 0 else 0)
    return value


def _read_checkpoint(checkpoint: str | None) -> dict[str, dict[str, Any]]:
    """The per-query state in ``checkpoint``; an unreadable one means "read everything"."""
    if not checkpoint:
        return {}
    try:
        data = json.loads(checkpoint)
        entries = data.get("sql", {})
        return {str(key): dict(value) for key, value in entries.items() if isinstance(value, dict)}
    except (ValueError, AttributeError, TypeError):
        return {}


def _write_checkpoint(state: dict[str, dict[str, Any]]) -> str:
    return json.dumps({"sql": state}, sort_keys=True, separators=(",", ":"))
