"""MARC 21 -> MARCXML: valid against MARC21slim.xsd, lossless, and robust to damage."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from lxml import etree
from pymarc import Field, Leader, Record, Subfield, parse_xml_to_array
from pymarc.field import Indicators

from crosswalks.marcjson import marc_to_json
from crosswalks.marcxml import (
    marc_to_marcxml,
    marcxml_collection,
    marcxml_text,
    record_from_marcxml,
)
from crosswalks.xmlchars import XmlText
from gateway.marcfile import read_marc_file
from tests.conftest import BROKEN, JAZZ_MARC8, LOC_5000, VIE_121
from tests.strategies import marc_records
from tests.xsd import assert_valid


def _records(path: Path) -> list[Record]:
    return [result.record for result in read_marc_file(path) if result.record is not None]


@pytest.mark.parametrize("path", [VIE_121, LOC_5000, JAZZ_MARC8], ids=lambda p: p.name)
def test_every_real_record_is_valid_marcxml_and_reads_back_unchanged(path: Path) -> None:
    """Each file as one collection validates, and every record parses back to itself.

    Two differences are by design: LDR/09 says Unicode, and control fields come before data
    fields (the schema's order; a few MARC-8 records have an 008 after the 020).
    """
    records = _records(path)
    text = XmlText()
    assert_valid("oai/MARC21slim.xsd", marcxml_collection(records, text))
    assert (text.removed, text.repaired) == (0, 0)
    for record in records:
        again = record_from_marcxml(marc_to_marcxml(record))
        expected = marc_to_json(record)
        fields = expected["fields"]
        assert isinstance(fields, list)
        expected["fields"] = sorted(
            fields, key=lambda f: not isinstance(next(iter(f.values())), str)
        )
        expected["leader"] = str(record.leader)[:9] + "a" + str(record.leader)[10:]
        assert marc_to_json(again) == expected


def test_broken_records_still_give_valid_marcxml_and_the_repairs_are_counted() -> None:
    """Records the reader kept from the broken files never produce invalid XML."""
    text = XmlText()
    records = [r for path in sorted(BROKEN.glob("*.mrc")) for r in _records(path)]
    assert len(records) > 10
    assert_valid("oai/MARC21slim.xsd", marcxml_collection(records, text))
    assert text.removed + text.repaired > 0


def _damaged() -> Record:
    record = Record(force_utf8=True, leader=Leader("01234 am#a2200000#i#4500"))
    record.add_field(Field(tag="001", data="x\x1by"))
    record.add_field(
        Field(
            tag="245",
            indicators=Indicators("1", "Q"),
            subfields=[Subfield("a", "Tên\x00 sách\ufffe"), Subfield(" ", "lost")],
        )
    )
    record.add_field(Field(tag="500", indicators=Indicators(" ", " "), subfields=[]))
    record.add_field(Field(tag="5X!", indicators=Indicators(" ", " "),
                           subfields=[Subfield("a", "bad tag")]))  # fmt: skip
    return record


def test_invalid_characters_and_values_are_removed_and_counted() -> None:
    """Control characters go; a bad indicator becomes blank; unusable parts are dropped."""
    text = XmlText()
    element = marc_to_marcxml(_damaged(), text)
    assert_valid("oai/MARC21slim.xsd", etree.tostring(element))
    ns = {"m": "http://www.loc.gov/MARC21/slim"}
    assert element.findtext("m:controlfield", namespaces=ns) == "xy"
    title = element.find("m:datafield[@tag='245']", ns)
    assert title is not None and title.get("ind2") == " "
    assert [s.text for s in title] == ["Tên sách"]
    assert element.findtext("m:leader", namespaces=ns) == "01234 am a2200000 i 4500"
    assert text.removed == 3  # ESC, NUL, U+FFFE
    # three leader "#", indicator Q, subfield code " ", the empty 500, the bad tag 5X!
    assert text.repaired == 7


def test_markup_characters_and_whitespace_survive_the_round_trip() -> None:
    """&, <, quotes, tabs and line breaks in data come back exactly."""
    record = Record(force_utf8=True, leader=Leader("00000nam a2200000 i 4500"))
    value = "A & B <c> \"d\" 'e'\tf\r\ng  "
    subfields = [Subfield("a", value), Subfield("&", "amp code")]
    record.add_field(Field(tag="500", indicators=Indicators(" ", " "), subfields=subfields))
    again = record_from_marcxml(marc_to_marcxml(record))
    assert again["500"].subfields == subfields


@settings(max_examples=150, deadline=None)
@given(marc_records())
def test_marc_to_marcxml_to_marc_is_the_identity(record: Record) -> None:
    """Any well-formed record survives MARCXML, read by our reader and by pymarc's."""
    xml = marcxml_text(record)
    assert_valid("oai/MARC21slim.xsd", xml)
    assert marc_to_json(record_from_marcxml(etree.fromstring(xml.encode()))) == marc_to_json(record)
    collection = marcxml_collection([record]).encode()
    (theirs,) = parse_xml_to_array(io.BytesIO(collection))
    assert [f.value() for f in theirs.fields] == [f.value() for f in record.fields]
