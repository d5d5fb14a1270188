"""Database records as Z39.50 retrieval records: record syntaxes, element sets, OPAC.

A Present (or a piggy-backed Search) names a record syntax by OID and an element set
name; this module turns one stored record into the EXTERNAL that carries it, or into the
Bib-1 diagnostic that stands in its place (a surrogate diagnostic), so that one record
that cannot be served never fails the others.

The OPAC syntax is what makes a union catalogue useful for copy cataloguing and
inter-library loan: the bibliographic record plus, for every copy, the holding library,
its location and call number, and whether the copy is on the shelf now.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pymarc.marc8 import MARC8ToUnicode

from crosswalks.formats import RecordFormat, render
from crosswalks.iso2709 import RecordTooLong
from crosswalks.marc8 import encode_marc8
from gateway.record import Item, StoredRecord

from .codec import encode_value, external, wire_text
from .errors import Diagnostic, Z3950Error

__all__ = ["RecordSyntax", "ElementSet", "RecordCharset", "SYNTAX_NAMES", "Retrieval",
           "RenderCache", "SERVED_SYNTAXES", "retrieval_record", "retrieval_records",
           "element_set", "record_syntax", "encode_text", "decode_text", "wire_in",
           "named_record"]  # fmt: skip


class RecordSyntax(StrEnum):
    """Record syntaxes served, by OID."""

    USMARC = "1.2.840.10003.5.10"  #: USMARC / MARC 21 (ISO 2709)
    XML = "1.2.840.10003.5.109.10"  #: text-XML: MARCXML
    APPLICATION_XML = "1.2.840.10003.5.109.9"  #: application-XML: MARCXML too
    SUTRS = "1.2.840.10003.5.101"
    OPAC = "1.2.840.10003.5.102"


#: Other record syntaxes of the standard's register, named in diagnostics (never served).
SYNTAX_NAMES: dict[str, str] = {
    "1.2.840.10003.5.1": "UNIMARC", "1.2.840.10003.5.2": "INTERMARC",
    "1.2.840.10003.5.11": "UKMARC", "1.2.840.10003.5.16": "CANMARC",
    "1.2.840.10003.5.28": "DANMARC", "1.2.840.10003.5.105": "GRS-1",
    "1.2.840.10003.5.106": "ESTaskPackage", "1.2.840.10003.5.109.1": "PDF",
    "1.2.840.10003.5.109.3": "HTML",
}  # fmt: skip


class ElementSet(StrEnum):
    """Element set names: brief and full."""

    BRIEF = "B"
    FULL = "F"


class RecordCharset(StrEnum):
    """How MARC records are encoded: as negotiated (UTF-8 by default, MARC-8 on request)."""

    UTF8 = "utf-8"
    MARC8 = "marc-8"


SERVED_SYNTAXES = frozenset(syntax.value for syntax in RecordSyntax)


def encode_text(text: str, charset: RecordCharset) -> bytes:
    """Text the target sends outside the records themselves (scan terms, OPAC holdings)
    in the session's character set: MARC-8 clients get MARC-8, never "?" for "ễ"."""
    return encode_marc8(text) if charset is RecordCharset.MARC8 else text.encode("utf-8")


def decode_text(raw: str | bytes, charset: RecordCharset) -> str:
    """A name the client sent (database, result set) as text: UTF-8 when it is valid UTF-8
    (whatever was negotiated: clients often send names as typed), else MARC-8 in a MARC-8
    session, else with undecodable bytes replaced."""
    data = raw.encode("latin-1") if isinstance(raw, str) else bytes(raw)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if charset is RecordCharset.MARC8:
            try:
                return str(MARC8ToUnicode(quiet=True).translate(data))
            except (UnicodeDecodeError, IndexError, KeyError, TypeError, ValueError):
                pass  # malformed MARC-8 escapes: shown with replacements below
        return data.decode("utf-8", "replace")


def wire_in(text: str, charset: RecordCharset) -> str:
    """:func:`encode_text` for an InternationalString field (one char per byte)."""
    return encode_text(text, charset).decode("latin-1")


def record_syntax(oid: str | None) -> str:
    """The syntax to serve for a requested OID (USMARC when the request names none)."""
    return oid or RecordSyntax.USMARC.value


def element_set(name: str | None) -> ElementSet:
    """An element set name as asked (case-insensitive; full when none), or diagnostic 25."""
    if not name:
        return ElementSet.FULL
    try:
        return ElementSet(name.strip().upper())
    except ValueError:
        raise Z3950Error(Diagnostic.ELEMENT_SET_NOT_VALID, name) from None


@dataclass(frozen=True, slots=True)
class Retrieval:
    """How a Present wants its records."""

    syntax: str  #: record syntax OID
    elements: ElementSet
    charset: RecordCharset
    library_name: Callable[[str], str]  #: member library id -> display name (OPAC)


def retrieval_record(stored: StoredRecord, how: Retrieval) -> dict[str, Any]:
    """The EXTERNAL carrying ``stored`` in the requested syntax.

    Raises Z3950Error 239 for a syntax this target never serves and 238 for a record that
    cannot be given in it (an ISO 2709 record over 99,999 bytes).
    """
    assert stored.marc is not None
    brief = how.elements is ElementSet.BRIEF
    syntax = how.syntax
    try:
        if syntax == RecordSyntax.USMARC:
            return external(syntax, octets=_marc(stored, how, brief=brief))
        if syntax in (RecordSyntax.XML, RecordSyntax.APPLICATION_XML):
            body = render(stored.marc, RecordFormat.MARCXML, brief=brief, holdings=stored.items)
            return external(syntax, octets=body)
        if syntax == RecordSyntax.SUTRS:
            text = render(stored.marc, RecordFormat.SUTRS, brief=brief, holdings=stored.items)
            return external(syntax, asn1=encode_value("SUTRS", text.decode("latin-1")))
        if syntax == RecordSyntax.OPAC:
            return external(syntax, asn1=encode_value("OPACRecord", _opac(stored, how, brief)))
    except RecordTooLong:
        raise Z3950Error(Diagnostic.RECORD_SYNTAX_UNAVAILABLE, "record over 99999 bytes") from None
    raise Z3950Error(Diagnostic.RECORD_SYNTAX_UNSUPPORTED, SYNTAX_NAMES.get(syntax, syntax))


class RenderCache:
    """Recently served retrieval records, shared by every session of a target.

    Copy cataloguers fetch the same popular records over and over, and rendering (MARC
    decoding, ISO 2709 or XML encoding, then BER) is most of what a Present costs, so
    entries are whole encoded NamePlusRecords, spliced into responses as they are. An
    entry is keyed by the record's number and version (the store's change sequence, new
    with every change of content or holdings), so a cached rendering is never stale; the
    cache holds at most ``capacity`` bytes and drops the least recently used first. Safe
    to use from several threads.
    """

    def __init__(self, capacity: int = 64 * 1024 * 1024) -> None:
        self.capacity = capacity
        self.size = 0
        self.hits = self.misses = 0
        self._entries: OrderedDict[tuple[Any, ...], tuple[bytes, int]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(stored: StoredRecord, how: Retrieval) -> tuple[Any, ...]:
        """What identifies one rendering of one version of a record."""
        return (stored.number, stored.version, how.syntax, how.elements, how.charset)

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        """The cached NamePlusRecord for ``key``, or None."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: tuple[Any, ...], record: bytes) -> None:
        """Keep ``record`` for ``key``, dropping the oldest entries beyond the capacity."""
        size = len(record) + 100
        if size > self.capacity // 16:
            return  # one huge record must not flush everything else
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self.size -= previous[1]
            self._entries[key] = (record, size)
            self.size += size
            while self.size > self.capacity:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.size -= dropped


def retrieval_records(
    records: Sequence[StoredRecord],
    how: Retrieval,
    cache: RenderCache,
    fetch: Callable[[list[int]], list[StoredRecord]],
) -> list[bytes | Z3950Error]:
    """Each record as an encoded NamePlusRecord named by its library's database (or the
    diagnostic to send in its place), in order.

    ``records`` may come without their MARC; only those missing from ``cache`` are
    fetched whole (one ``fetch`` call) and rendered.
    """
    if how.syntax not in SERVED_SYNTAXES:  # no record needs fetching to say so
        unsupported = Z3950Error(Diagnostic.RECORD_SYNTAX_UNSUPPORTED,
                                 SYNTAX_NAMES.get(how.syntax, how.syntax))  # fmt: skip
        return [unsupported for _ in records]
    keys = [RenderCache.key(stored, how) for stored in records]
    found: list[bytes | Z3950Error | None] = [cache.get(key) for key in keys]
    missing = [stored.number for stored, hit in zip(records, found, strict=True) if hit is None]
    if missing:
        whole = {stored.number: stored for stored in fetch(missing)}
        for i, stored in enumerate(records):
            if found[i] is not None:
                continue
            full = stored if stored.marc is not None else whole.get(stored.number)
            if full is None or full.marc is None:
                found[i] = Z3950Error(Diagnostic.PRESENT_SYSTEM_ERROR, "record was deleted")
                continue
            try:
                rendered = named_record(full.source, ("retrievalRecord",
                                                      retrieval_record(full, how)))  # fmt: skip
            except Z3950Error as error:
                found[i] = error
            else:
                cache.put(keys[i], rendered)
                found[i] = rendered
    return [item for item in found if item is not None]


def named_record(database: str, record: tuple[str, Any]) -> bytes:
    """An encoded NamePlusRecord: a retrieval record or a surrogate diagnostic, named by
    the database (member library id) it comes from."""
    return encode_value("NamePlusRecord", {"name": wire_text(database), "record": record})


def _marc(stored: StoredRecord, how: Retrieval, *, brief: bool, holdings: bool = True) -> bytes:
    assert stored.marc is not None
    fmt = RecordFormat.MARC8 if how.charset is RecordCharset.MARC8 else RecordFormat.MARC21
    return render(stored.marc, fmt, brief=brief, holdings=stored.items if holdings else ())


def _opac(stored: StoredRecord, how: Retrieval, brief: bool) -> dict[str, Any]:
    """An OPACRecord: the MARC record (its own 852s kept out) and one holding per copy."""
    bibliographic = external(RecordSyntax.USMARC.value, octets=_marc(stored, how, brief=brief,
                                                                    holdings=False))  # fmt: skip
    record: dict[str, Any] = {"bibliographicRecord": bibliographic}
    if stored.items:
        record["holdingsData"] = [("holdingsAndCirc", _holding(item, how))
                                  for item in stored.items]  # fmt: skip
    return record


def _holding(item: Item, how: Retrieval) -> dict[str, Any]:
    """One copy: the library (NUC code = library id), location, call number, availability."""
    charset = how.charset
    data: dict[str, Any] = {"nucCode": wire_in(item.library, charset)}
    name = how.library_name(item.library)
    if name:
        data["localLocation"] = wire_in(name, charset)
    if item.location:
        data["shelvingLocation"] = wire_in(item.location, charset)
    if item.call_number:
        data["callNumber"] = wire_in(item.call_number, charset)
    circulation: dict[str, Any] = {
        "availableNow": item.status == "available",
        "renewable": False,
        "onHold": item.status == "on hold",
    }
    if item.barcode:
        circulation["itemId"] = wire_in(item.barcode, charset)
    if item.status != "available":
        circulation["restrictions"] = wire_in(item.status, charset)
    data["circulationData"] = [circulation]
    return data
