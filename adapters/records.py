"""Record-level rules every adapter shares: where a record's id is, which reader notes are
damage, and reading an :class:`~adapters.interface.Encoded` record into events.

The engine decodes encoded records in worker processes; adapters (``sample``) and tests
decode them here in the same way, so an id or a problem reads the same wherever it is
found.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator

from lxml import etree
from pymarc import Record

from crosswalks.legacy import LegacyMode, repair_record
from crosswalks.marcxml import record_from_marcxml
from crosswalks.vietnamese import normalize
from gateway.marcfile import Frame, parse_iso2709
from gateway.record import normalize_record

from .interface import Complete, Deletion, Encoded, Event, Problem, Upsert

__all__ = ["IdRule", "id_rule", "damage", "decode", "resolve"]

#: The reader's note for values it read as TCVN3/VNI: a normal conversion, not damage.
_LEGACY_NOTE = re.compile(r"\d+ value\(s\) read as \w+ \(not [^)]*\)")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


# -- record ids ---------------------------------------------------------------------------


class IdRule:
    """Where a record's id is, from the ``id_rule`` setting; :meth:`id_of` finds it.

    ``001`` and any other control field by its tag; ``001+003`` as ``"<003>:<001>"`` (the
    001 alone when there is no 003); a data field as ``TAG$code`` (the first non-empty
    value of that subfield in any such field). Ids are trimmed; a non-ASCII id is put in
    Vietnamese NFC so the same id always reads the same.
    """

    def __init__(self, rule: str) -> None:
        text = rule.strip()
        self.rule = text
        self.id_of: Callable[[Record], str | None]
        if text == "001+003":
            self.missing = "001"
            self.id_of = _qualified_id
        elif re.fullmatch(r"00[1-9]", text):
            self.missing = text
            self.id_of = _control_getter(text)
        elif match := re.fullmatch(r"(0[1-9][0-9]|[1-9][0-9]{2})\$([a-z0-9])", text):
            tag, code = match.groups()
            self.missing = f"{tag} ${code}"
            self.id_of = _subfield_getter(tag, code)
        else:
            raise ValueError(
                f"id_rule {rule!r} is not one this source understands: use 001, 001+003, or "
                "a data field and subfield such as 035$a or 999$c"
            )


def _clean_id(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if not value:
        return None
    return value if value.isascii() else normalize(value)


def _control_getter(tag: str) -> Callable[[Record], str | None]:
    def id_of(record: Record) -> str | None:
        for fld in record.fields:
            if fld.tag == tag:
                return _clean_id(fld.data)
        return None

    return id_of


_id_001 = _control_getter("001")
_id_003 = _control_getter("003")


def _qualified_id(record: Record) -> str | None:
    number = _id_001(record)
    if number is None:
        return None
    agency = _id_003(record)
    return number if agency is None else f"{agency}:{number}"


def _subfield_getter(tag: str, code: str) -> Callable[[Record], str | None]:
    def id_of(record: Record) -> str | None:
        for fld in record.fields:
            if fld.tag == tag and not fld.control_field:
                for subfield in fld.subfields:
                    if subfield.code == code:
                        value = _clean_id(subfield.value)
                        if value is not None:
                            return value
        return None

    return id_of


@functools.lru_cache(maxsize=64)
def id_rule(rule: str) -> IdRule:
    """The :class:`IdRule` for ``rule`` (made once per process)."""
    return IdRule(rule)


def damage(warning: str | None) -> str | None:
    """The reader's repair notes without the legacy-conversion ones (those are expected
    for a TCVN3/VNI library, not damage worth a problem)."""
    if not warning:
        return None
    notes = [note for note in warning.split("; ") if not _LEGACY_NOTE.fullmatch(note)]
    return "; ".join(notes) or None


# -- encoded records ----------------------------------------------------------------------


def _parse(item: Encoded, legacy: LegacyMode) -> tuple[Record | None, str | None, str | None]:
    """(record, error, repair warning) of one encoded record."""
    if item.syntax == "iso2709":
        result = parse_iso2709(Frame(0, 0, item.data, None, len(item.data)), legacy)
        return result.record, result.error, result.warning
    try:
        root = etree.fromstring(item.data, _PARSER)
    except etree.XMLSyntaxError as exc:
        return None, f"not well-formed MARCXML: {exc.msg}", None
    element = next((e for e in root.iter() if isinstance(e.tag, str)
                    and etree.QName(e).localname == "record"), None)  # fmt: skip
    if element is None:
        return None, f"XML that is not a MARCXML record (<{etree.QName(root).localname}>)", None
    try:
        return record_from_marcxml(element), None, None
    except ValueError as exc:
        return None, str(exc), None


def decode(item: Encoded, legacy: LegacyMode) -> list[Event]:
    """The events one encoded record stands for: an :class:`Upsert` (legacy text
    repaired), a :class:`Deletion` (leader/05 ``d``, MARC's "deleted"), or a
    :class:`Problem`; a record kept with repairs also gives a problem saying so."""
    record, error, warning = _parse(item, legacy)
    if record is None:
        return [Problem(item.where, f"{error or 'unreadable'}; record not read")]
    rule = id_rule(item.id_rule)
    local_id = item.local_id or rule.id_of(record)
    if local_id is None:
        return [Problem(item.where, f"record has no {rule.missing}; not stored")]
    events: list[Event] = []
    repaired = damage(warning)
    if repaired:
        events.append(Problem(item.where, f"kept with repairs: {repaired}", kept=True))
    if str(record.leader)[5:6] == "d":
        events.append(Deletion(local_id, item.changed))
        return events
    repair_record(record, legacy)
    events.append(Upsert(local_id, record, item.changed, item.items))
    return events


def resolve(events: Iterable[Event], legacy: LegacyMode) -> Iterator[Event]:
    """``events`` with encoded records decoded (and in NFC, as stored) and a listing of
    "everything given" (``Complete(None)``) spelt out, as the engine reads them."""
    given: set[str] = set()
    for event in events:
        decoded = decode(event, legacy) if isinstance(event, Encoded) else [event]
        for each in decoded:
            if isinstance(each, Upsert):
                if isinstance(event, Encoded):
                    normalize_record(each.record)
                given.add(each.local_id)
            elif isinstance(each, Deletion):
                given.discard(each.local_id)
            elif isinstance(each, Complete) and each.ids is None:
                each = Complete(frozenset(given), each.what)
            yield each
