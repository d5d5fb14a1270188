"""MARCXML (MARC 21 slim): records to elements and back.

The writer produces what ``MARC21slim.xsd`` accepts even from damaged records, because one
invalid record would make a whole SRU or OAI-PMH page unreadable to a strict client:
control characters are dropped, an indicator outside ``[0-9a-z ]`` becomes blank, a
subfield code or tag the schema forbids and a data field with no subfields are left out,
control fields come before data fields, and the leader is made to fit its pattern. Every
such repair is counted on the :class:`~crosswalks.xmlchars.XmlText` passed in. Clean
records come out exactly as they are, so MARC -> MARCXML -> MARC is the identity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml import etree
from pymarc import Field, Leader, Record, Subfield
from pymarc.field import Indicators

from .xmlchars import XmlText

__all__ = [
    "INDICATORS",
    "MARCXML_NS",
    "MARCXML_SCHEMA_LOCATION",
    "marc_to_marcxml",
    "marcxml_collection",
    "marcxml_text",
    "record_from_marcxml",
]

MARCXML_NS = "http://www.loc.gov/MARC21/slim"
MARCXML_SCHEMA_LOCATION = "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_RECORD_OPEN = f'<record xmlns="{MARCXML_NS}">'
_RECORD_OPEN_LOCATED = (
    f'<record xmlns="{MARCXML_NS}" xmlns:xsi="{_XSI}" '
    f'xsi:schemaLocation="{MARCXML_NS} {MARCXML_SCHEMA_LOCATION}">'
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)

# The schema's own patterns (MARC21slim.xsd), checked before writing.
_CONTROL_TAG = re.compile(r"00[1-9A-Za-z]")
_DATA_TAG = re.compile(
    r"0[1-9A-Z][0-9A-Z]|0[1-9a-z][0-9a-z]|[1-9A-Z][0-9A-Z]{2}|[1-9a-z][0-9a-z]{2}"
)
#: The characters MARC 21 allows as an indicator (the schema's pattern too).
INDICATORS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz ")
_SUBFIELD_CODE = frozenset(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!\"#$%&'()*+,-./:;<=>?{}_^`~[]\\"
)
# Subfield codes that need escaping inside a double-quoted attribute.
_CODE_ATTRIBUTE = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
# What each leader position may hold, and what replaces a character it may not.
_LEADER_SLOTS: tuple[tuple[frozenset[str], str], ...] = tuple(
    (frozenset(allowed), default)
    for allowed, default in (
        *[("0123456789 ", "0")] * 5,
        ("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ", "n"),
        ("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "a"),
        *[("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ", " ")] * 3,
        ("2 ", "2"),
        ("2 ", "2"),
        *[("0123456789 ", "0")] * 5,
        *[("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ", " ")] * 3,
    )
)


def _leader_text(leader: object, text: XmlText) -> str:
    """The leader fitted to the schema's pattern; LDR/09 'a' because the XML is Unicode."""
    raw = str(leader).ljust(24)[:24]
    chars = list(raw[:20])
    for position, (allowed, default) in enumerate(_LEADER_SLOTS):
        if chars[position] not in allowed:
            chars[position] = default
            text.repaired += 1
    chars[9] = "a"
    return "".join(chars) + "4500"


def marcxml_text(
    record: Record,
    text: XmlText | None = None,
    *,
    namespace: bool = True,
    schema_location: bool = False,
) -> str:
    """One ``<record>`` as XML text in the MARC 21 slim namespace (the default namespace).

    Built as text because that is several times faster than an lxml tree, and SRU and
    OAI-PMH pages embed records by the hundred. ``namespace=False`` leaves out the
    ``xmlns`` declaration for embedding inside an element that already declares it as the
    default namespace; ``schema_location`` adds ``xsi:schemaLocation`` (OAI-PMH metadata
    names its schema, as Dublin Core and MODS always do). ``text`` collects the count of
    removed characters and repaired values for the caller's log; pass one per response
    page to count the page.
    """
    clean = text if text is not None else XmlText()
    escape = clean.escape
    parts = [
        (_RECORD_OPEN_LOCATED if schema_location else _RECORD_OPEN) if namespace else "<record>",
        "<leader>",
        _leader_text(record.leader, clean),
        "</leader>",
    ]
    add = parts.append
    data_fields: list[Field] = []
    for field in record.fields:
        if not field.control_field:
            data_fields.append(field)
        elif _CONTROL_TAG.fullmatch(field.tag):
            add(f'<controlfield tag="{field.tag}">{escape(field.data or "")}</controlfield>')
        else:
            clean.repaired += 1
    for field in data_fields:
        subfields = [s for s in field.subfields if s.code in _SUBFIELD_CODE]
        if len(subfields) != len(field.subfields):
            clean.repaired += len(field.subfields) - len(subfields)
        if not subfields or not _DATA_TAG.fullmatch(field.tag):
            clean.repaired += 1
            continue
        ind1, ind2 = field.indicator1, field.indicator2
        if ind1 not in INDICATORS:
            ind1 = " "
            clean.repaired += 1
        if ind2 not in INDICATORS:
            ind2 = " "
            clean.repaired += 1
        add(f'<datafield tag="{field.tag}" ind1="{ind1}" ind2="{ind2}">')
        for code, value in subfields:
            add(f'<subfield code="{_CODE_ATTRIBUTE.get(code, code)}">{escape(value)}</subfield>')
        add("</datafield>")
    add("</record>")
    return "".join(parts)


def marc_to_marcxml(record: Record, text: XmlText | None = None) -> etree._Element:
    """One ``<record>`` as an lxml element (for callers that need a tree, not text)."""
    return etree.fromstring(marcxml_text(record, text).encode("utf-8"), _PARSER)


def marcxml_collection(records: Iterable[Record], text: XmlText | None = None) -> str:
    """A ``<collection>`` of records as XML text, with the schema location for validators."""
    clean = text if text is not None else XmlText()
    body = "".join(marcxml_text(record, clean, namespace=False) for record in records)
    return (
        f'<collection xmlns="{MARCXML_NS}" xmlns:xsi="{_XSI}" '
        f'xsi:schemaLocation="{MARCXML_NS} {MARCXML_SCHEMA_LOCATION}">{body}</collection>'
    )


def record_from_marcxml(element: etree._Element) -> Record:
    """A pymarc record from a ``record`` element (any namespace prefix, or none).

    Raises ValueError for a record with no fields or a tag that is not three characters,
    naming the source line, so an importer can report the record and go on.
    """
    # Names are compared as text (the namespace cut off once per element) rather than
    # through etree.QName: a full sync of a large Koha database spends most of its time
    # here, and this is about 1.6 times faster.
    fields: list[Field] = []
    leader: str | None = None
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        cut = tag.rfind("}") + 1
        name = tag[cut:]
        if name == "datafield":
            subfield_tag = tag[:cut] + "subfield"
            subfields = [Subfield(sub.get("code") or " ", sub.text or "")
                         for sub in child if sub.tag == subfield_tag]  # fmt: skip
            indicators = Indicators((child.get("ind1") or " ")[:1], (child.get("ind2") or " ")[:1])
            fields.append(Field(tag=_tag_of(child), indicators=indicators, subfields=subfields))
        elif name == "controlfield":
            fields.append(Field(tag=_tag_of(child), data=child.text or ""))
        elif name == "leader":
            leader = (child.text or "").ljust(24)[:24]
    if not fields:
        raise ValueError(f"line {element.sourceline}: record has no fields")
    record = Record(force_utf8=True)
    if leader is not None:
        record.leader = Leader(leader)
    record.add_field(*fields)
    return record


def _tag_of(element: etree._Element) -> str:
    tag = element.get("tag") or ""
    if len(tag) != 3:
        raise ValueError(f"line {element.sourceline}: field tag {tag!r} is not three characters")
    return tag
