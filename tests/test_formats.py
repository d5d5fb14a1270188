"""The format table: every format renders every real record, brief means the same everywhere."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree
from pymarc import Record

from crosswalks.formats import FORMATS, RecordFormat, brief_marc, render, render_xml
from crosswalks.xmlchars import XmlText
from gateway.marcfile import read_marc_file
from gateway.record import Item, normalize_record
from tests.conftest import VIE_121
from tests.strategies import hostile_text, marc_records
from tests.xsd import assert_valid

SCHEMAS = {
    RecordFormat.MARCXML: "oai/MARC21slim.xsd",
    RecordFormat.OAI_DC: "oai/oai_dc.xsd",
    RecordFormat.SRW_DC: "data/srw_dc.xsd",
    RecordFormat.MODS: "mods/mods-3-7.xsd",
}


@pytest.fixture(scope="module")
def records() -> list[Record]:
    """The 121 Vietnamese records as the store holds them (normalised)."""
    return [normalize_record(r.record) for r in read_marc_file(VIE_121) if r.record]


@pytest.mark.parametrize("fmt", list(SCHEMAS), ids=str)
@pytest.mark.parametrize("brief", [False, True], ids=["full", "brief"])
def test_xml_formats_validate_for_every_record(
    records: list[Record], fmt: RecordFormat, brief: bool
) -> None:
    """Full and brief renderings of all 121 records are valid against their schemas."""
    holdings = [Item("dlk-tinh", "DLK000001", "Kho mở", "895.9 N573")]
    for record in records:
        xml = render_xml(record, fmt, brief=brief, holdings=holdings)
        assert_valid(SCHEMAS[fmt], xml)
        assert FORMATS[fmt].namespace in xml


def test_brief_is_smaller_and_keeps_title_everywhere(records: list[Record]) -> None:
    """In every format the brief rendering is shorter and still carries the title."""
    for record in records[:20]:
        title = record["245"]["a"][:12]
        for fmt in RecordFormat:
            full, brief = render(record, fmt), render(record, fmt, brief=True)
            assert len(brief) < len(full), fmt
            if fmt is not RecordFormat.MARC8:
                assert title.encode("utf-8") in brief, fmt


def test_brief_marc_has_identification_main_entry_title_and_imprint_only(
    records: list[Record],
) -> None:
    """The brief MARC record keeps exactly the brief tags, in order, and the leader."""
    record = records[0]
    brief = brief_marc(record)
    assert str(brief.leader) == str(record.leader)
    assert {f.tag for f in brief.fields} <= {
        "001", "003", "005", "008", "010", "020", "022", "024", "035", "040",
        "100", "110", "111", "130", "245", "250", "260", "264",
    }  # fmt: skip
    assert "245" in {f.tag for f in brief.fields}


def test_binary_and_text_formats(records: list[Record]) -> None:
    """ISO 2709 (UTF-8 and MARC-8), SUTRS and MARC-in-JSON give what their readers expect."""
    record = records[3]
    utf8 = render(record, RecordFormat.MARC21)
    assert utf8[9:10] == b"a" and int(utf8[:5]) == len(utf8)
    marc8 = render(record, RecordFormat.MARC8)
    back = Record(data=marc8, to_unicode=True)
    assert back["245"]["a"] == record["245"]["a"]
    assert render(record, RecordFormat.SUTRS).decode("utf-8").startswith("Nhan đề:")
    assert json.loads(render(record, RecordFormat.JSON))["leader"] == str(record.leader)


def test_one_text_counter_serves_a_page(records: list[Record]) -> None:
    """A page of records shares one XmlText; a bad character anywhere is counted once."""
    page = XmlText()
    damaged = Record(data=records[0].as_marc(), to_unicode=True, force_utf8=True)
    damaged["245"]["a"] = "bad\x0bvalue"  # the title: every format shows it
    for fmt in SCHEMAS:
        for record in (*records[:3], damaged):
            etree.fromstring(render(record, fmt, text=page))
    assert page.removed == len(SCHEMAS)  # the one \x0b, once per format


def test_non_xml_format_refuses_render_xml(records: list[Record]) -> None:
    """render_xml is for the XML formats only."""
    with pytest.raises(ValueError, match="not an XML format"):
        render_xml(records[0], RecordFormat.SUTRS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(marc_records(hostile_text))
def test_any_record_gives_valid_xml_in_every_xml_format(record: Record) -> None:
    """Whatever a broken source put in the data (controls, non-characters, lone
    surrogates, markup), every XML rendering is well-formed and schema-valid, and what was
    removed is counted."""
    text = XmlText()
    for fmt, schema in SCHEMAS.items():
        assert_valid(schema, render(record, fmt, text=text))
    values = "".join(s.value for f in record.fields if not f.control_field for s in f.subfields)
    if any(c in values for c in "\x00\x1b\x0b\ufffe\uffff\ud800"):
        assert text.removed > 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(marc_records(hostile_text))
def test_any_record_renders_in_every_format_without_control_characters_in_sutrs(
    record: Record,
) -> None:
    """Every format renders damaged data without failing; SUTRS, which a client prints on a
    terminal, carries no control character and no lone surrogate."""
    for fmt in RecordFormat:
        data = render(record, fmt)
        assert data
    display = render(record, RecordFormat.SUTRS).decode("utf-8")
    assert not any(ord(c) < 0x20 and c not in "\n\t" for c in display)


def test_full_marc_carries_holdings_as_852(records: list[Record]) -> None:
    """Which libraries hold a copy reaches MARC clients as 852 fields (MARCXML and ISO
    2709), unless the record already has 852 (its holdings were read from them)."""
    record = records[0]
    holdings = [Item("dlk-tinh", "DLK000001", "Kho mở", "895.9 N573"),
                Item("thpt-ntmk", "NTMK000007")]  # fmt: skip
    xml = etree.fromstring(render_xml(record, RecordFormat.MARCXML, holdings=holdings).encode())
    ns = {"m": "http://www.loc.gov/MARC21/slim"}
    located = [[s.text for s in f] for f in xml.iterfind("m:datafield[@tag='852']", ns)]
    assert located == [["dlk-tinh", "Kho mở", "895.9 N573", "DLK000001"],
                       ["thpt-ntmk", "NTMK000007"]]  # fmt: skip
    back = Record(data=render(record, RecordFormat.MARC21, holdings=holdings), to_unicode=True)
    assert len(back.get_fields("852")) == 2
    assert record.get("852") is None  # the stored record itself is not changed
    brief = render_xml(record, RecordFormat.MARCXML, brief=True, holdings=holdings)
    assert "852" not in brief
