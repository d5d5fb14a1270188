"""The YAML mapping of an SQL source: which query gives records, and which column is what.

A mapping file is the only thing an administrator writes to connect a database whose schema
lienthong does not know (iLib's, a school's). It is checked completely before any row is
read, and every problem names the file, the line and the key, so it is fixed in one pass.
Whether the named columns exist is checked later against the database itself (the adapter
runs each query for zero rows and compares), because only the database knows.

Layout (``records`` is required, the other sections are optional)::

    description: iLib at the provincial library      # free text, shown by 'sources test'
    records:
      query: SELECT id, title, author, isbn, updated FROM books
      id: id                    # the record's id at the source (its local id)
      changed: updated          # timestamp, date or integer rowversion; without it every
                                # sync reads everything and reconciliation finds deletions
      ordered: true             # read in order of 'changed' so a broken sync resumes
      # exactly one of: marcxml / fields / dc
      marcxml: metadata         # a column holding one MARCXML record
      fields:                   # MARC 21: "TAG$code" (or "00X" for control fields)
        "245$a": title
        "100$a": author
        "020$a": [isbn, isbn13] # several columns: one field each (empty ones skipped)
        "650$a": {column: subjects, split: ";"}   # one field per ';'-separated value
      indicators: {"245": "10"} # optional, per tag (default blank)
      leader: "     nam a22     7a 4500"           # optional, fields only
      dc:                       # Dublin Core elements, crosswalked to MARC 21
        title: title
        creator: [author, coauthor]
      entered: created          # dc only: a stable date column for 008/00-05
      country: vm               # dc only: MARC country code for 008/15-17 (default xx)
    deletions:                  # rows saying a record was deleted
      query: SELECT book_id, deleted_at FROM deleted_books
      id: book_id
      changed: deleted_at
    items:                      # copies; a record's items replace its 852 holdings
      query: SELECT book_id, barcode, shelf, callno, state, updated FROM copies
      record: book_id           # the record id a copy belongs to
      barcode: barcode
      location: [shelf, branch] # the first non-empty value
      call_number: callno
      status: state             # "available", "on loan", "lost", ... (compute it in SQL)
      changed: updated          # a changed copy re-reads its record
      deleted:                  # removed copies (their records are re-read too)
        query: SELECT book_id, removed_at FROM removed_copies
        record: book_id
        changed: removed_at

Queries are plain SELECTs without a ``:since`` placeholder: the adapter wraps them
(``SELECT * FROM (<query>) q WHERE q.<changed> >= :since ORDER BY q.<changed>``), so the
same query serves full reads, incremental reads, id listings and item lookups. MariaDB,
MySQL and PostgreSQL push such conditions into the query, so an index on the change column
is used; keep queries to joins and filters (no LIMIT) so that they can. Rows whose change
column is NULL are read by full syncs only.

The change column must be a timestamp, a date or an integer: a text column is refused,
because text compares letter by letter (``"02/12/2026" < "31/01/2026"``) and changes
would be skipped; convert such a column in the query (``STR_TO_DATE``, ``to_date``).
Timestamps are read from ``overlap_seconds`` before the largest one seen, so a change
saved with a clock slightly behind, or committed a little late, is still found. An
integer rowversion is read from ``>=`` the largest value seen, with no overlap (there is
no such thing as "a little before" in values): a value given to a row by a transaction
that commits only after a sync has read a larger one is missed until the row changes
again or a full sync (``--full``) reads everything. Every counter taken when a row is
written has this gap (a sequence, a trigger's counter, SQL Server's ``rowversion``); it
matters only for transactions that stay open across a sync, and a timestamp column avoids
it.

How ``fields`` build a record: a tag mapped with one subfield gets one field per value (two
ISBN columns give two 020 fields); a tag mapped with several subfields gets one field with
all of them (``245$a`` and ``245$b``). 001 is the record id unless mapped; 245's first
indicator is 1 when the record has a 1XX main entry, else 0, unless ``indicators`` says
otherwise. Without ``entered``, DC records get 008/00-05 ``000101`` (a fixed date, so an
unchanged row gives an unchanged record). Text is NFC; legacy Vietnamese is repaired.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from adapters.yamlfile import FileProblems, compose_file

__all__ = [
    "DC_ELEMENTS",
    "Column",
    "Value",
    "RecordsSpec",
    "DeletionsSpec",
    "ItemsSpec",
    "TouchSpec",
    "SqlMapping",
    "MappingError",
    "load_mapping",
]

DC_ELEMENTS = (
    "title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
    "format", "identifier", "source", "language", "relation", "coverage", "rights",
)  # fmt: skip
_FIELD_KEY = re.compile(r"^(00[1-9])$|^([0-9]{3})\$([a-z0-9])$")
_COUNTRY = re.compile(r"^[a-z]{2,3}$")


class MappingError(FileProblems):
    """The mapping file cannot be used; ``problems`` lists every reason (file:line: key)."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column named by the mapping, and where (for messages)."""

    name: str
    key: str  #: dotted key path in the file, e.g. "records.fields.245$a"
    line: int | None


@dataclass(frozen=True, slots=True)
class Value:
    """A MARC field/subfield or DC element filled from one or more columns."""

    target: str  #: "245$a", "008", or a DC element name
    columns: tuple[Column, ...]
    split: str | None = None


@dataclass(frozen=True, slots=True)
class RecordsSpec:
    query: str
    line: int | None
    id: Column
    changed: Column | None
    ordered: bool
    marcxml: Column | None
    fields: tuple[Value, ...]
    dc: tuple[Value, ...]
    indicators: dict[str, str]
    leader: str
    entered: Column | None
    country: str


@dataclass(frozen=True, slots=True)
class DeletionsSpec:
    query: str
    line: int | None
    id: Column
    changed: Column


@dataclass(frozen=True, slots=True)
class TouchSpec:
    """Rows naming records whose copies changed (removed copies)."""

    query: str
    line: int | None
    record: Column
    changed: Column


@dataclass(frozen=True, slots=True)
class ItemsSpec:
    query: str
    line: int | None
    record: Column
    barcode: tuple[Column, ...]
    location: tuple[Column, ...]
    call_number: tuple[Column, ...]
    status: tuple[Column, ...]
    changed: Column | None
    deleted: TouchSpec | None


@dataclass(frozen=True, slots=True)
class SqlMapping:
    """A validated mapping file."""

    file: str
    records: RecordsSpec
    deletions: DeletionsSpec | None = None
    items: ItemsSpec | None = None
    description: str = ""
    columns_of: dict[str, tuple[Column, ...]] = field(default_factory=dict)
    """Every column each section names, by section key (for checking against the database)."""

    def where(self, column: Column) -> str:
        """The place of ``column`` for messages: mapping FILE line N: KEY."""
        line = f" line {column.line}" if column.line else ""
        return f"mapping {self.file}{line}: {column.key}"


def load_mapping(path: str | Path) -> SqlMapping:
    """Read and validate the mapping file at ``path``; raise :class:`MappingError`."""
    label = str(path)
    try:
        node = compose_file(path, "mapping")
    except FileProblems as exc:
        raise MappingError(exc.problems) from None
    reader = _Reader(label)
    mapping = reader.top(node)
    if reader.problems or mapping is None:
        raise MappingError(reader.problems)
    return mapping


def _line(node: yaml.Node | None) -> int | None:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


class _Reader:
    """Walks the node tree, collecting every problem instead of stopping at the first."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[str] = []

    def problem(self, node: yaml.Node | None, key: str, message: str) -> None:
        line = _line(node)
        where = f":{line}" if line else ""
        self.problems.append(f"mapping {self.label}{where}: {key}: {message}")

    def keys(
        self, node: yaml.Node | None, key: str, allowed: tuple[str, ...], required: tuple[str, ...]
    ) -> dict[str, yaml.Node]:
        """The entries of mapping ``node``; unknown, repeated and missing keys reported."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, key, "expected a mapping of keys")
            return {}
        entries: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            path = f"{key}.{name}" if key else name
            if name in entries:
                self.problem(key_node, path, "key given twice")
            elif name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.problem(
                    key_node, path, f"unknown key{suggestion}; known: {', '.join(allowed)}"
                )
            else:
                entries[name] = value_node
        for name in required:
            if name not in entries:
                self.problem(node, f"{key}.{name}" if key else name, "required key is missing")
        return entries

    def text(self, node: yaml.Node | None, key: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            self.problem(node, key, "expected a non-empty text")
            return None
        return str(node.value).strip()

    def column(self, node: yaml.Node | None, key: str) -> Column | None:
        name = self.text(node, key)
        return Column(name, key, _line(node)) if name else None

    def optional(self, entries: dict[str, yaml.Node], name: str, key: str) -> Column | None:
        """The column under ``name`` when it is given."""
        return self.column(entries[name], key) if name in entries else None

    def columns(self, node: yaml.Node | None, key: str) -> tuple[Column, ...]:
        """A column name or a list of them."""
        if isinstance(node, yaml.SequenceNode):
            found = [self.column(child, f"{key}[{i}]") for i, child in enumerate(node.value)]
            if not node.value:
                self.problem(node, key, "expected at least one column name")
            return tuple(c for c in found if c)
        one = self.column(node, key)
        return (one,) if one else ()

    def value(self, target: str, node: yaml.Node, key: str) -> Value | None:
        """A column, a list of columns, or {column: ..., split: ...}."""
        split = None
        if isinstance(node, yaml.MappingNode):
            entries = self.keys(node, key, ("column", "split"), ("column",))
            if "split" in entries:
                split_node = entries["split"]
                if isinstance(split_node, yaml.ScalarNode) and split_node.value:
                    split = str(split_node.value)
                else:
                    self.problem(split_node, f"{key}.split", "expected the separator text")
            columns = self.columns(entries.get("column"), f"{key}.column") if entries else ()
        else:
            columns = self.columns(node, key)
        return Value(target, columns, split) if columns else None

    def query(self, entries: dict[str, yaml.Node], key: str) -> tuple[str, int | None]:
        node = entries.get("query")
        text = self.text(node, f"{key}.query") if node is not None else None
        if text and not re.match(r"(?is)^\s*(select|with)\b", text):
            self.problem(node, f"{key}.query", "expected a SELECT statement (read-only)")
        if text and ":since" in text:
            self.problem(node, f"{key}.query", "leave out ':since': lienthong adds the "
                         "condition on the 'changed' column itself")  # fmt: skip
        return (text or "", _line(node))

    def top(self, node: yaml.Node | None) -> SqlMapping | None:
        entries = self.keys(node, "", ("description", "records", "deletions", "items"),
                            ("records",))  # fmt: skip
        description = ""
        if "description" in entries:
            description = self.text(entries["description"], "description") or ""
        records = self.records(entries["records"]) if "records" in entries else None
        deletions = self.deletions(entries["deletions"]) if "deletions" in entries else None
        items = self.items(entries["items"]) if "items" in entries else None
        if records is None:
            return None
        columns_of = {"records": _records_columns(records)}
        if deletions:
            columns_of["deletions"] = (deletions.id, deletions.changed)
        if items:
            columns_of["items"] = tuple(
                c for group in (
                    (items.record,), items.barcode, items.location, items.call_number,
                    items.status, (items.changed,) if items.changed else (),
                ) for c in group
            )  # fmt: skip
            if items.deleted:
                columns_of["items.deleted"] = (items.deleted.record, items.deleted.changed)
        return SqlMapping(self.label, records, deletions, items, description, columns_of)

    def records(self, node: yaml.Node) -> RecordsSpec | None:
        allowed = ("query", "id", "changed", "ordered", "marcxml", "fields", "dc", "indicators",
                   "leader", "entered", "country")  # fmt: skip
        entries = self.keys(node, "records", allowed, ("query", "id"))
        if not isinstance(node, yaml.MappingNode):
            return None
        query, line = self.query(entries, "records")
        ident = self.optional(entries, "id", "records.id")
        changed = self.optional(entries, "changed", "records.changed")
        ordered = True
        if "ordered" in entries:
            flag = str(getattr(entries["ordered"], "value", "")).lower()
            if flag not in ("true", "false", "yes", "no"):
                self.problem(entries["ordered"], "records.ordered", "expected true or false")
            ordered = flag in ("true", "yes")
        kinds = [name for name in ("marcxml", "fields", "dc") if name in entries]
        if len(kinds) != 1:
            self.problem(
                node,
                "records",
                "give exactly one of 'marcxml' (a column holding "
                "MARCXML), 'fields' (columns to MARC fields) or 'dc' (columns to Dublin "
                f"Core elements){'; found: ' + ', '.join(kinds) if kinds else ''}",
            )
        marcxml = self.optional(entries, "marcxml", "records.marcxml")
        fields = self.field_values(entries.get("fields"), "records.fields", marc=True)
        dc = self.field_values(entries.get("dc"), "records.dc", marc=False)
        indicators = self.indicators(entries.get("indicators"))
        leader = "     nam a22     7a 4500"
        if "leader" in entries:
            given = self.text(entries["leader"], "records.leader") or leader
            if len(given) != 24:
                self.problem(entries["leader"], "records.leader", "a leader has 24 characters, "
                             f"this one has {len(given)}")  # fmt: skip
            leader = given.ljust(24)[:24]
        entered = self.optional(entries, "entered", "records.entered")
        country = "xx"
        if "country" in entries:
            country = self.text(entries["country"], "records.country") or country
            if not _COUNTRY.match(country):
                self.problem(entries["country"], "records.country",
                             "expected a MARC country code such as vm")  # fmt: skip
        for name, wanted in (("indicators", "fields"), ("leader", "fields"), ("entered", "dc"),
                             ("country", "dc")):  # fmt: skip
            if name in entries and wanted not in entries:
                self.problem(entries[name], f"records.{name}", f"only used with '{wanted}'")
        if not query or ident is None:
            return None
        return RecordsSpec(query, line, ident, changed, ordered, marcxml, fields, dc, indicators,
                           leader, entered, country)  # fmt: skip

    def field_values(self, node: yaml.Node | None, key: str, *, marc: bool) -> tuple[Value, ...]:
        if node is None:
            return ()
        if not isinstance(node, yaml.MappingNode) or not node.value:
            wanted = 'MARC fields ("245$a": column)' if marc else "DC elements (title: column)"
            self.problem(node, key, f"expected a mapping of {wanted}")
            return ()
        values = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            target = str(key_node.value).strip()
            path = f"{key}.{target}"
            if target in seen:
                self.problem(key_node, path, "key given twice")
                continue
            seen.add(target)
            if marc and not _FIELD_KEY.match(target):
                self.problem(key_node, path, "expected a MARC field and subfield such as "
                             "\"245$a\" (or a control field such as \"008\")")  # fmt: skip
                continue
            if not marc and target.lower() not in DC_ELEMENTS:
                hint = difflib.get_close_matches(target.lower(), DC_ELEMENTS, n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.problem(key_node, path, f"not a Dublin Core element{suggestion}; known: "
                             + ", ".join(DC_ELEMENTS))  # fmt: skip
                continue
            value = self.value(target if marc else target.lower(), value_node, path)
            if value:
                values.append(value)
        return tuple(values)

    def indicators(self, node: yaml.Node | None) -> dict[str, str]:
        if node is None:
            return {}
        found: dict[str, str] = {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "records.indicators", 'expected a mapping such as {"245": "10"}')
            return found
        for key_node, value_node in node.value:
            tag, given = str(key_node.value), str(getattr(value_node, "value", ""))
            path = f"records.indicators.{tag}"
            if not re.fullmatch(r"[0-9]{3}", tag) or tag < "010":
                self.problem(key_node, path, "expected a data field tag such as 245")
            elif not re.fullmatch(r"[0-9a-z ]{2}", given):
                self.problem(value_node, path, 'expected two indicators such as "10" or "0 "')
            else:
                found[tag] = given
        return found

    def deletions(self, node: yaml.Node) -> DeletionsSpec | None:
        entries = self.keys(node, "deletions", ("query", "id", "changed"),
                            ("query", "id", "changed"))  # fmt: skip
        query, line = self.query(entries, "deletions")
        ident = self.optional(entries, "id", "deletions.id")
        changed = self.optional(entries, "changed", "deletions.changed")
        if not query or ident is None or changed is None:
            return None
        return DeletionsSpec(query, line, ident, changed)

    def items(self, node: yaml.Node) -> ItemsSpec | None:
        allowed = ("query", "record", "barcode", "location", "call_number", "status", "changed",
                   "deleted")  # fmt: skip
        entries = self.keys(node, "items", allowed, ("query", "record"))
        query, line = self.query(entries, "items")
        record = self.optional(entries, "record", "items.record")
        groups = {
            name: self.columns(entries[name], f"items.{name}") if name in entries else ()
            for name in ("barcode", "location", "call_number", "status")
        }
        changed = self.optional(entries, "changed", "items.changed")
        deleted = None
        if "deleted" in entries:
            sub = self.keys(entries["deleted"], "items.deleted", ("query", "record", "changed"),
                            ("query", "record", "changed"))  # fmt: skip
            sub_query, sub_line = self.query(sub, "items.deleted")
            sub_record = self.optional(sub, "record", "items.deleted.record")
            sub_changed = self.optional(sub, "changed", "items.deleted.changed")
            if sub_query and sub_record and sub_changed:
                deleted = TouchSpec(sub_query, sub_line, sub_record, sub_changed)
            if changed is None:
                self.problem(entries["deleted"], "items.deleted", "needs items.changed as well "
                             "(removed copies only matter to incremental syncs)")  # fmt: skip
        if not query or record is None:
            return None
        return ItemsSpec(query, line, record, groups["barcode"], groups["location"],
                         groups["call_number"], groups["status"], changed, deleted)  # fmt: skip


def _records_columns(spec: RecordsSpec) -> tuple[Column, ...]:
    named = [spec.id]
    if spec.changed:
        named.append(spec.changed)
    if spec.marcxml:
        named.append(spec.marcxml)
    if spec.entered:
        named.append(spec.entered)
    for value in (*spec.fields, *spec.dc):
        named.extend(value.columns)
    return tuple(named)
