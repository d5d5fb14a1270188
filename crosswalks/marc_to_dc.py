"""MARC 21 to unqualified Dublin Core, after the Library of Congress crosswalk.

The table follows LoC's MARC to DC crosswalk, with the defects of LoC's own stylesheet
(MARC21slim2OAIDC) fixed, because the National Library harvests oai_dc and what the
stylesheet drops is lost to the union catalogue:

* 264 (RDA publication statement, second indicator 1, copyright date 4) is read like 260,
  so RDA records keep their publisher and date;
* 1XX is ``creator`` and 7XX ``contributor`` (the crosswalk table says contributor for
  both, its stylesheet and every harvester use creator for the main entry);
* ISBD punctuation is stripped at the end of each subfield, never inside the data;
* ISBN, ISSN and URL are all identifiers; language comes from 008 and 041 (multi-code 041
  values like "engvie" are split).

The result is a list of (element, value) pairs, rendered as ``oai_dc`` for OAI-PMH or as
the SRU ``dc`` schema by :func:`dc_xml_text`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import StrEnum

from pymarc import Field, Record

from .identifiers import isbn_as_written
from .punctuation import strip_isbd
from .xmlchars import XmlText

__all__ = [
    "DC_ELEMENTS",
    "DC_ENVELOPES",
    "DC_NS",
    "DcSchema",
    "marc_to_dc",
    "dc_xml_text",
    "dcmi_type",
    "display_text",
    "subject_heading",
]

DC_NS = "http://purl.org/dc/elements/1.1/"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"

#: The fifteen elements, in the order the oai_dc schema lists them (and renderings use).
DC_ELEMENTS = (
    "title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
    "format", "identifier", "source", "language", "relation", "coverage", "rights",
)  # fmt: skip
_BRIEF = frozenset({"title", "creator", "date", "identifier"})

# Subfields that hold codes, links or control data rather than text a reader wants.
_NOT_TEXT = frozenset("012345678")
_NAME_PARTS = {"100": "abcdq", "110": "abcdn", "111": "acdenq", "700": "abcdq",
               "710": "abcdn", "711": "acdenq", "720": "a"}  # fmt: skip
_SUBDIVISIONS = frozenset("vxyz")
_YEAR = re.compile(r"\d{4}")
_BARE_YEAR = re.compile(r"\[?(?:c|©|p|℗)? ?(\d{4})\]?")
_LANGUAGE_CODE = re.compile(r"[a-z]{3}")
# 008/35-37 values that say nothing about the language.
_NO_LANGUAGE = frozenset({"und", "zxx", "   ", "|||", "xxx"})


class DcSchema(StrEnum):
    """The two XML envelopes Dublin Core is served in."""

    OAI_DC = "oai_dc"
    SRW_DC = "srw_dc"


#: (prefix, namespace, schema location) of each envelope.
DC_ENVELOPES: dict[DcSchema, tuple[str, str, str]] = {
    DcSchema.OAI_DC: (
        "oai_dc",
        "http://www.openarchives.org/OAI/2.0/oai_dc/",
        "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
    ),
    DcSchema.SRW_DC: (
        "srw_dc",
        "info:srw/schema/1/dc-schema",
        "http://www.loc.gov/standards/sru/recordSchemas/dc-schema.xsd",
    ),
}

# LDR/06 to the DCMI Type Vocabulary (https://www.dublincore.org/specifications/dublin-core/
# dcmi-type-vocabulary/): maps and notated music are Image there.
_DCMI_TYPE = {
    "a": "Text", "t": "Text", "c": "Image", "d": "Image", "e": "Image", "f": "Image",
    "k": "Image", "g": "MovingImage", "i": "Sound", "j": "Sound", "m": "Software",
    "o": "Collection", "p": "Collection", "r": "PhysicalObject",
}  # fmt: skip


def dcmi_type(leader: str) -> str | None:
    """The DCMI type of a record from LDR/06 (None for an unknown code)."""
    return _DCMI_TYPE.get(leader[6:7])


def display_text(field: Field, codes: str | None = None) -> str:
    """The field's text subfields (or only ``codes``) as one string, as ISBD displays it.

    Punctuation between two subfields that are next to each other in the field stays (it
    is the " : " before a subtitle, the " = " before a parallel title); where a subfield
    was left out between them, and at the very end, ISBD punctuation is stripped, so
    "Title / $c (left out) $n Part 2" reads "Title Part 2".
    """
    parts: list[str] = []
    adjacent = False
    for code, value in field.subfields:
        if code in codes if codes is not None else code not in _NOT_TEXT:
            if parts and not adjacent:
                parts[-1] = strip_isbd(parts[-1])
            value = value.strip()
            if value:
                parts.append(value)
                adjacent = True
        else:
            adjacent = False
    if parts:
        parts[-1] = strip_isbd(parts[-1])
    return " ".join(part for part in parts if part)


def subject_heading(field: Field) -> str:
    """A subject heading with subdivisions joined by "--", as LoC's crosswalk writes it."""
    main: list[str] = []
    subdivisions: list[str] = []
    for code, value in field.subfields:
        if code in _NOT_TEXT or code in "e4":
            continue
        if code in _SUBDIVISIONS:
            subdivisions.append(strip_isbd(value))
        elif value.strip():
            main.append(value.strip())
    heading = strip_isbd(" ".join(main))
    return "--".join(part for part in (heading, *subdivisions) if part)


def _date(value: str) -> str:
    """A transcribed date made plain when it is just a year: "[2000]", "c1999" -> the year."""
    match = _BARE_YEAR.fullmatch(value)
    return match.group(1) if match else value


def _imprint(field: Field) -> tuple[str, list[str]]:
    """(publisher statement "place : name", dates) from a 260 or 264."""
    places = [strip_isbd(v) for v in field.get_subfields("a")]
    names = [strip_isbd(v) for v in field.get_subfields("b")]
    publisher = " : ".join(part for part in (", ".join(places), ", ".join(names)) if part)
    return publisher, [_date(strip_isbd(v)) for v in field.get_subfields("c")]


def _is_author(field: Field) -> bool:
    """A 720 (uncontrolled name) whose relator says it is the author, not a contributor."""
    roles = " ".join(field.get_subfields("e", "4")).casefold()
    return any(word in roles for word in ("author", "creator", "aut", "cre", "tác giả"))


def _languages(record: Record) -> list[str]:
    codes: list[str] = []
    f008 = record.get("008")
    if f008 is not None and f008.data and len(f008.data) >= 38:
        code = f008.data[35:38]
        if _LANGUAGE_CODE.fullmatch(code) and code not in _NO_LANGUAGE:
            codes.append(code)
    for field in record.get_fields("041"):
        for value in field.get_subfields("a"):
            # Pre-2001 records pack several codes into one subfield ("engvie"); others
            # separate them ("vie, eng").
            for chunk in re.split(r"[\s,;/]+", value.strip().lower()):
                if len(chunk) % 3 == 0 and chunk.isalpha():
                    codes.extend(chunk[i : i + 3] for i in range(0, len(chunk), 3))
    texts = [display_text(field, "a") for field in record.get_fields("546")]
    return codes + [text for text in texts if text]


def marc_to_dc(
    record: Record, *, brief: bool = False, identifiers: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """Dublin Core (element, value) pairs for a MARC 21 record, in :data:`DC_ELEMENTS` order.

    ``identifiers`` adds the record's own identifiers (its OPAC URL, its OAI identifier)
    to those found in the record. ``brief`` keeps title, creator, date and identifier, the
    brief element set. Empty and repeated values are left out.
    """
    found: dict[str, list[str]] = {name: [] for name in DC_ELEMENTS}
    leader = str(record.leader)
    control_008 = record.get("008")
    f008 = control_008.data if control_008 is not None and control_008.data else ""
    descriptions: list[str] = []
    copyright_dates: list[str] = []  # 264 _4: the date only when nothing was published
    for field in record.fields:
        tag = field.tag
        if field.control_field:
            continue
        if tag == "245":
            found["title"].append(display_text(field, "abfgknps"))
        elif tag == "246":
            found["title"].append(display_text(field, "abnp"))
        elif tag in ("100", "110", "111") or (tag == "720" and _is_author(field)):
            found["creator"].append(display_text(field, _NAME_PARTS[tag]))
        elif tag in _NAME_PARTS:
            found["contributor"].append(display_text(field, _NAME_PARTS[tag]))
        elif tag == "653":  # uncontrolled terms: each $a is a term of its own
            found["subject"].extend(strip_isbd(v) for v in field.get_subfields("a"))
        elif tag in ("600", "610", "611", "630", "650"):
            found["subject"].append(subject_heading(field))
        elif tag in ("050", "060"):
            found["subject"].append(display_text(field, "ab"))
        elif tag in ("080", "082"):
            found["subject"].append(display_text(field, "a"))
        elif tag in ("651", "662", "751", "752"):
            found["coverage"].append(subject_heading(field))
        elif tag == "260" or (tag == "264" and field.indicator2 == "1"):
            publisher, dates = _imprint(field)
            found["publisher"].append(publisher)
            found["date"].extend(dates)
        elif tag == "264" and field.indicator2 == "4":
            copyright_dates.extend(_imprint(field)[1])
        elif tag == "520":
            found["description"].append(display_text(field, "ab"))
        elif tag in ("506", "540"):
            found["rights"].append(display_text(field, "a"))
        elif tag == "530":
            found["relation"].append(display_text(field, "a"))
        elif tag == "534":
            found["source"].append(display_text(field, "t"))
        elif tag[:1] == "5" and tag != "546":
            descriptions.append(display_text(field))
        elif tag == "655":
            found["type"].append(display_text(field, "a"))
        elif tag in ("300", "340"):
            found["format"].append(display_text(field, "abc" if tag == "300" else "a"))
        elif tag == "856":
            found["format"].extend(strip_isbd(v) for v in field.get_subfields("q"))
            found["identifier"].extend(v.strip() for v in field.get_subfields("u"))
        elif tag == "020":
            isbns = (isbn_as_written(v) for v in field.get_subfields("a"))
            found["identifier"].extend("URN:ISBN:" + isbn for isbn in isbns if isbn)
        elif tag in ("022", "024"):
            found["identifier"].extend(v.strip() for v in field.get_subfields("a"))
        elif tag == "786":
            found["source"].append(display_text(field, "otn"))
        elif "760" <= tag <= "787":
            found["relation"].append(display_text(field, "otn"))
        elif tag in ("490", "830"):
            found["relation"].append(display_text(field, "av" if tag == "490" else "anpv"))
    found["description"].extend(descriptions)  # 520 summaries first, then other notes
    if not any(found["date"]):
        found["date"].extend(copyright_dates)
    if not any(found["date"]) and _YEAR.fullmatch(f008[7:11]):
        found["date"].append(f008[7:11])
    kind = dcmi_type(leader)
    if kind:
        found["type"].insert(0, kind)
    if leader[7:8] == "c" and kind != "Collection":  # a collection of texts, images...
        found["type"].append("Collection")
    found["language"].extend(_languages(record))
    found["identifier"].extend(identifiers)
    pairs: list[tuple[str, str]] = []
    for name in DC_ELEMENTS:
        if brief and name not in _BRIEF:
            continue
        seen: set[str] = set()
        for value in found[name]:
            if value and value not in seen:
                seen.add(value)
                pairs.append((name, value))
    return pairs


def dc_xml_text(
    pairs: Iterable[tuple[str, str]],
    schema: DcSchema = DcSchema.OAI_DC,
    text: XmlText | None = None,
) -> str:
    """Dublin Core pairs as an ``oai_dc:dc`` or ``srw_dc:dc`` element (XML text).

    Text, not an lxml tree, for speed (see crosswalks.marcxml); ``text`` counts what was
    removed because XML forbids it.
    """
    clean = text if text is not None else XmlText()
    prefix, namespace, location = DC_ENVELOPES[schema]
    parts = [
        f'<{prefix}:dc xmlns:{prefix}="{namespace}" xmlns:dc="{DC_NS}" xmlns:xsi="{_XSI}" '
        f'xsi:schemaLocation="{namespace} {location}">'
    ]
    for name, value in pairs:
        parts.append(f"<dc:{name}>{clean.escape(value)}</dc:{name}>")
    parts.append(f"</{prefix}:dc>")
    return "".join(parts)
