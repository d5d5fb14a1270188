"""Every record format the endpoints serve, with brief and full element sets, in one table.

SRU asks by schema name or URI, OAI-PMH by metadataPrefix, Z39.50 by record syntax OID
and element set name; all of them end here, so a format and its brief form are defined
once. Full MARC renderings carry the holdings as 852 fields (MODS as location, SUTRS as
holdings lines). ``brief`` means the same thing in every format: title, author, date and
identifiers (for MARC: the leader, 001/003/005/008, standard numbers, main entry, title,
edition and imprint).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pymarc import Record

from .holdings import Holding, with_holdings
from .iso2709 import encode_iso2709
from .marc_to_dc import DC_ENVELOPES, DcSchema, dc_xml_text, marc_to_dc
from .marcjson import marc_to_json
from .marcxml import MARCXML_NS, MARCXML_SCHEMA_LOCATION, marcxml_text
from .mods import MODS_NAMESPACE, MODS_SCHEMA_LOCATION, mods_text
from .sutrs import sutrs_text
from .xmlchars import XmlText

__all__ = ["RecordFormat", "FormatInfo", "FORMATS", "brief_marc", "render", "render_xml"]


class RecordFormat(StrEnum):
    """A record format the gateway serves."""

    MARCXML = "marcxml"
    OAI_DC = "oai_dc"
    SRW_DC = "dc"
    MODS = "mods"
    SUTRS = "sutrs"
    MARC21 = "marc21"  #: ISO 2709, UTF-8 (LDR/09 'a')
    MARC8 = "marc8"  #: ISO 2709, MARC-8 (LDR/09 blank), for older Z39.50 clients
    JSON = "json"  #: MARC-in-JSON


@dataclass(frozen=True, slots=True)
class FormatInfo:
    """What protocols publish about a format (explain, ListMetadataFormats)."""

    media_type: str
    namespace: str | None = None
    schema_location: str | None = None
    xml: bool = False


FORMATS: dict[RecordFormat, FormatInfo] = {
    RecordFormat.MARCXML: FormatInfo(
        "application/marcxml+xml", MARCXML_NS, MARCXML_SCHEMA_LOCATION, xml=True
    ),
    RecordFormat.OAI_DC: FormatInfo(
        "application/xml", *DC_ENVELOPES[DcSchema.OAI_DC][1:], xml=True
    ),
    RecordFormat.SRW_DC: FormatInfo(
        "application/xml", *DC_ENVELOPES[DcSchema.SRW_DC][1:], xml=True
    ),
    RecordFormat.MODS: FormatInfo(
        "application/mods+xml", MODS_NAMESPACE, MODS_SCHEMA_LOCATION, xml=True
    ),
    RecordFormat.SUTRS: FormatInfo("text/plain; charset=utf-8"),
    RecordFormat.MARC21: FormatInfo("application/marc"),
    RecordFormat.MARC8: FormatInfo("application/marc"),
    RecordFormat.JSON: FormatInfo("application/json"),
}

# Fields of the brief MARC record: identification, main entry, title, edition, imprint.
_BRIEF_TAGS = frozenset(
    {"001", "003", "005", "008", "010", "020", "022", "024", "035", "040",
     "100", "110", "111", "130", "245", "250", "260", "264"}
)  # fmt: skip


def brief_marc(record: Record) -> Record:
    """A copy of ``record`` with only the brief element set's fields."""
    brief = Record(force_utf8=True, leader=str(record.leader))
    brief.fields = [field for field in record.fields if field.tag in _BRIEF_TAGS]
    return brief


def render_xml(
    record: Record,
    fmt: RecordFormat,
    *,
    brief: bool = False,
    holdings: Sequence[Holding] = (),
    text: XmlText | None = None,
    schema_location: bool = False,
) -> str:
    """An XML format as text, ready to embed in a response (no XML declaration).

    ``text`` counts characters removed and values repaired to keep the XML valid; pass
    one per response page. ``schema_location`` makes MARCXML name its schema too (Dublin
    Core and MODS always do). Raises ValueError for a format that is not XML.
    """
    clean = text if text is not None else XmlText()
    if fmt is RecordFormat.MARCXML:
        subject = brief_marc(record) if brief else with_holdings(record, holdings)
        return marcxml_text(subject, clean, schema_location=schema_location)
    if fmt is RecordFormat.OAI_DC or fmt is RecordFormat.SRW_DC:
        schema = DcSchema.OAI_DC if fmt is RecordFormat.OAI_DC else DcSchema.SRW_DC
        return dc_xml_text(marc_to_dc(record, brief=brief), schema, clean)
    if fmt is RecordFormat.MODS:
        return mods_text(record, holdings, brief=brief, text=clean)
    raise ValueError(f"{fmt} is not an XML format")


def render(
    record: Record,
    fmt: RecordFormat,
    *,
    brief: bool = False,
    holdings: Sequence[Holding] = (),
    text: XmlText | None = None,
) -> bytes:
    """Any format as the bytes a client receives (UTF-8 for text formats).

    ISO 2709 formats raise :class:`~crosswalks.iso2709.RecordTooLong` for a record over
    99,999 bytes rather than send a corrupt one.
    """
    if FORMATS[fmt].xml:
        return render_xml(record, fmt, brief=brief, holdings=holdings, text=text).encode("utf-8")
    if fmt is RecordFormat.SUTRS:
        return sutrs_text(record, holdings, brief=brief).encode("utf-8")
    subject = brief_marc(record) if brief else with_holdings(record, holdings)
    if fmt is RecordFormat.MARC21:
        return encode_iso2709(subject)
    if fmt is RecordFormat.MARC8:
        return encode_iso2709(subject, marc8=True)
    # "replace": a lone surrogate from damaged data becomes "?" instead of failing the page.
    return json.dumps(marc_to_json(subject), ensure_ascii=False).encode("utf-8", "replace")
