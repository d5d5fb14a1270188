"""MARC 21 -> Dublin Core (LoC crosswalk with its stylesheet's defects fixed) and back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from lxml import etree
from pymarc import Field, Leader, Record, Subfield
from pymarc.field import Indicators

from crosswalks.check import Severity, check_record
from crosswalks.dc_to_marc import dc_to_marc, language_code
from crosswalks.marc_to_dc import DcSchema, dc_xml_text, marc_to_dc
from crosswalks.marcxml import marcxml_text
from crosswalks.xmlchars import XmlText
from gateway.importer import canonical_from_marc
from gateway.marcfile import read_marc_file
from gateway.record import normalize_record
from tests.conftest import JAZZ_MARC8, LOC_5000, VIE_121
from tests.xsd import assert_valid

DC = "{http://purl.org/dc/elements/1.1/}"


def _field(tag: str, ind: str, *subfields: str) -> Field:
    pairs = [Subfield(s[0], s[1:]) for s in subfields]
    return Field(tag=tag, indicators=Indicators(ind[0], ind[1]), subfields=pairs)


def _record(*fields: Field, leader: str = "00000nam a2200000 i 4500", f008: str = "") -> Record:
    record = Record(force_utf8=True, leader=Leader(leader))
    if f008:
        record.add_field(Field(tag="008", data=f008))
    record.add_field(*fields)
    return record


_BOOK_008 = "200101s1999    vm            000 0 vie d"

# (what the row shows, fields, element, the values expected for that element, in order)
MAPPING = [
    ("title joins 245 keeping inner ISBD, stripping the end",
     [_field("245", "10", "aTruyện Kiều :", "bthơ /", "cNguyễn Du.")], "title",
     ["Truyện Kiều : thơ"]),
    ("parallel title keeps its '='",
     [_field("245", "00", "aHà Nội =", "bHanoi /", "cx")], "title", ["Hà Nội = Hanoi"]),
    ("246 is another title",
     [_field("245", "00", "aA"), _field("246", "31", "aTên khác.")], "title", ["A", "Tên khác"]),
    ("1XX is creator", [_field("100", "1 ", "aNguyễn, Du,", "d1765-1820.", "eauthor.")],
     "creator", ["Nguyễn, Du, 1765-1820"]),
    ("7XX is contributor", [_field("700", "1 ", "aHoài Thanh,", "eeditor."),
                            _field("710", "2 ", "aViện Văn học.")], "contributor",
     ["Hoài Thanh", "Viện Văn học"]),
    ("an initial keeps its period", [_field("100", "1 ", "aSmith, J.")], "creator",
     ["Smith, J."]),
    ("subject subdivisions joined by --",
     [_field("650", " 0", "aVietnamese poetry", "y19th century", "vCriticism.")], "subject",
     ["Vietnamese poetry--19th century--Criticism"]),
    ("classification is subject", [_field("082", "04", "a895.92213", "223")], "subject",
     ["895.92213"]),
    ("651 is coverage", [_field("651", " 0", "aĐắk Lắk (Vietnam)", "xHistory.")], "coverage",
     ["Đắk Lắk (Vietnam)--History"]),
    ("264 _1 gives publisher and date (the stylesheet forgets it)",
     [_field("264", " 1", "aHà Nội :", "bKim Đồng,", "c2019.")], "publisher",
     ["Hà Nội : Kim Đồng"]),
    ("264 _1 date, bracketed year made plain",
     [_field("264", " 1", "aHà Nội :", "bKim Đồng,", "c[2019]")], "date", ["2019"]),
    ("260 still works", [_field("260", "  ", "aH. :", "bGiáo dục,", "cc1998.")], "date",
     ["1998"]),
    ("264 _4 copyright date only when nothing else",
     [_field("264", " 4", "c©2020")], "date", ["2020"]),
    ("264 _3 (manufacture) is not the publisher", [_field("264", " 3", "bIn tại X")],
     "publisher", []),
    ("summary first, then other notes, not 506/530/540/546",
     [_field("500", "  ", "aGhi chú."), _field("520", "  ", "aTóm tắt."),
      _field("506", "  ", "aHạn chế."), _field("546", "  ", "aTiếng Việt.")], "description",
     ["Tóm tắt", "Ghi chú"]),
    ("rights from 506 and 540", [_field("540", "  ", "aCC BY 4.0")], "rights", ["CC BY 4.0"]),
    ("ISBN as URN without qualifier, ISSN, URL",
     [_field("020", "  ", "a9786041234567 (bìa mềm) :", "c45000đ"),
      _field("022", "0 ", "a0317-8471"), _field("856", "40", "uhttp://thuvien.vn/1")],
     "identifier", ["URN:ISBN:9786041234567", "0317-8471", "http://thuvien.vn/1"]),
    ("format from 300", [_field("300", "  ", "a269 tr. :", "bminh họa ;", "c21 cm.")],
     "format", ["269 tr. : minh họa ; 21 cm."]),
    ("series is relation", [_field("490", "1 ", "aTủ sách tuổi thơ ;", "v12")], "relation",
     ["Tủ sách tuổi thơ ; 12"]),
    ("linking entry is relation", [_field("776", "08", "tBản điện tử", "o(OCoLC)1")],
     "relation", ["Bản điện tử (OCoLC)1"]),
    ("786 is source", [_field("786", "0 ", "tNguồn")], "source", ["Nguồn"]),
    ("041 multi-code subfield split", [_field("041", "1 ", "avieeng")], "language",
     ["vie", "eng"]),
    ("041 codes separated by commas", [_field("041", "0 ", "avie, eng")], "language",
     ["vie", "eng"]),
    ("each 653 $a is its own term", [_field("653", "  ", "aKinh tế", "aViệt Nam")], "subject",
     ["Kinh tế", "Việt Nam"]),
    ("720 with relator author is creator", [_field("720", "  ", "aLê Thị Thu", "eauthor")],
     "creator", ["Lê Thị Thu"]),
    ("720 without relator is contributor", [_field("720", "  ", "aLê Thị Thu")],
     "contributor", ["Lê Thị Thu"]),
    ("an empty 020 $a gives no identifier", [_field("020", "  ", "a", "c45000đ")],
     "identifier", []),
    ("787 $n note is relation", [_field("787", "0 ", "nTủ sách văn học")], "relation",
     ["Tủ sách văn học"]),
    ("every date of the imprint", [_field("264", " 1", "bX,", "c2001,", "c2005.")], "date",
     ["2001", "2005"]),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "element", "expected"),
                         [row[1:] for row in MAPPING], ids=[row[0] for row in MAPPING])  # fmt: skip
def test_mapping_table(fields: list[Field], element: str, expected: list[str]) -> None:
    """Each MARC field lands in the DC element the crosswalk table names, tidied."""
    pairs = marc_to_dc(_record(*fields))
    assert [value for name, value in pairs if name == element] == expected


def test_type_language_and_date_come_from_leader_and_008() -> None:
    """LDR/06 gives the DCMI type, 008 the language and (without 260/264) the date."""
    pairs = marc_to_dc(_record(_field("245", "00", "aBản đồ"), leader="00000nem a2200000 i 4500",
                               f008=_BOOK_008))  # fmt: skip
    assert ("type", "Image") in pairs
    assert ("language", "vie") in pairs
    assert ("date", "1999") in pairs
    assert [name for name, _ in pairs] == ["title", "date", "type", "language"]


def test_brief_keeps_title_creator_date_identifier_and_extra_identifiers_are_added() -> None:
    """The brief element set, and the record's own identifiers supplied by the caller."""
    record = _record(_field("100", "0 ", "aNguyễn Du"), _field("245", "10", "aTruyện Kiều"),
                     _field("650", " 7", "aThơ"), _field("020", "  ", "a0198526636"),
                     f008=_BOOK_008)  # fmt: skip
    pairs = marc_to_dc(record, brief=True, identifiers=["oai:demo.lienthong.vn:lib/1"])
    assert pairs == [("title", "Truyện Kiều"), ("creator", "Nguyễn Du"), ("date", "1999"),
                     ("identifier", "URN:ISBN:0198526636"),
                     ("identifier", "oai:demo.lienthong.vn:lib/1")]  # fmt: skip


def _records(path: Path) -> list[Record]:
    return [normalize_record(r.record) for r in read_marc_file(path) if r.record is not None]


@pytest.mark.parametrize("path", [VIE_121, LOC_5000, JAZZ_MARC8], ids=lambda p: p.name)
def test_every_real_record_is_valid_oai_dc_and_srw_dc(path: Path) -> None:
    """Both renderings of every record validate (oai_dc.xsd; the SRU DC record schema)."""
    for record in _records(path):
        pairs = marc_to_dc(record)
        assert pairs and pairs[0][0] == "title"
        assert_valid("oai/oai_dc.xsd", dc_xml_text(pairs, DcSchema.OAI_DC))
        assert_valid("data/srw_dc.xsd", dc_xml_text(pairs, DcSchema.SRW_DC))


def test_a_real_vietnamese_record() -> None:
    """LoC 00280611: the Vietnamese title with its parallel title, names, imprint, subjects."""
    (record,) = [r for r in _records(VIE_121) if r["001"].data.strip() == "00280611"]
    root = etree.fromstring(dc_xml_text(marc_to_dc(record)).encode())
    names = ("title", "publisher", "contributor", "date")
    values = {name: [e.text for e in root.iter(DC + name)] for name in names}
    assert values["title"][0] == (
        "25 năm quan hệ Việt Nam--Nhật Bản, 1973-1998 = 25 years Vietnam-Japan relations, 1973-1998"
    )
    assert values["publisher"] == ["Hà Nội : Nhà xuất bản Khoa học xã hội"]
    assert values["contributor"][:2] == ["Dương, Phú Hiệp", "Ngô, Xuân Bình"]
    assert values["date"] == ["1999"]


def test_no_vietnamese_record_loses_a_title_character_or_keeps_isbd_ends() -> None:
    """Over the 121 records: no value ends in ISBD punctuation; every 245 $a word is kept."""
    for record in _records(VIE_121):
        pairs = marc_to_dc(record)
        for _, value in pairs:
            assert not value.endswith((" /", " :", " ;", ",", " =")), value
        title = pairs[0][1]
        for word in record["245"]["a"].split():
            assert word.rstrip("/:;,=.") in title


def test_invalid_xml_characters_are_removed_and_counted() -> None:
    """One control character in a note does not break the page; the count says so."""
    text = XmlText()
    record = _record(_field("245", "00", "aTên\x1b sách"), _field("500", "  ", "aa\x00b\uffff"))
    xml = dc_xml_text(marc_to_dc(record), text=text)
    assert_valid("oai/oai_dc.xsd", xml)
    assert text.removed == 3
    assert "<dc:title>Tên sách</dc:title>" in xml


# -- Dublin Core -> MARC 21 ---------------------------------------------------------------

ROW = {
    "dc:title": ["Truyện Kiều", "Kim Vân Kiều"],
    "dc:creator": ["Nguyễn Du"],
    "dc:contributor": ["Đào Duy Anh"],
    "dc:subject": ["Văn học Việt Nam", "Thơ"],
    "dc:description": ["Truyện thơ Nôm."],
    "dc:publisher": ["Nhà xuất bản Văn học"],
    "dc:date": ["2015"],
    "dc:type": ["Sách"],
    "dc:format": ["300 tr. ; 21 cm", "application/pdf"],
    "dc:identifier": ["978-0-306-40615-7", "ISSN 0317-8471", "https://thuvien.edu.vn/sach/1",
                      "TV-0001"],
    "dc:source": ["Kho sách cũ"],
    "dc:relation": ["Tủ sách văn học"],
    "dc:language": ["Tiếng Việt", "en"],
    "dc:rights": ["Chỉ dùng trong trường"],
    "dc:coverage": ["Thế kỷ 19"],
}  # fmt: skip


def test_dc_to_marc_puts_every_element_where_the_reference_says() -> None:
    """One full row: leader, 008 and the field for each element."""
    record = dc_to_marc(ROW, entered=date(2026, 1, 2), control_number="TV-0001", country="vm")
    assert str(record.leader) == "00000nam a22000007  4500"  # 17: minimal level
    assert record["008"].data == "260102s2015    vm |||||||||||||||||vie d"
    assert len(record["008"].data) == 40
    expected = {
        "001": None, "020": "978-0-306-40615-7", "022": "0317-8471", "024": "TV-0001",
        "041": "vie eng", "042": "dc", "100": "Nguyễn Du author", "245": "Truyện Kiều",
        "246": "Kim Vân Kiều", "264": "Nhà xuất bản Văn học 2015", "300": "300 tr. ; 21 cm",
        "500": "Thế kỷ 19", "520": "Truyện thơ Nôm.", "540": "Chỉ dùng trong trường",
        "653": "Văn học Việt Nam", "655": "Sách local", "720": "Đào Duy Anh",
        "786": "Kho sách cũ", "787": "Tủ sách văn học",
    }  # fmt: skip
    for tag, value in expected.items():
        assert record[tag] is not None, tag
        if value is not None:
            assert record[tag].value() == value, tag
    assert record["100"].indicator1 == "0"  # a Vietnamese name in direct order
    assert record["245"].indicators == Indicators("1", "0")
    links = [f.get_subfields("u", "q") for f in record.get_fields("856")]
    assert sorted(links) == [["application/pdf"], ["https://thuvien.edu.vn/sach/1"]]
    assert [f.tag for f in record.fields] == sorted(f.tag for f in record.fields)


def test_dc_to_marc_result_passes_the_checks_and_validates_as_marcxml() -> None:
    """The built record has no check errors or warnings and is valid MARCXML."""
    record = dc_to_marc(ROW, entered=date(2026, 1, 2), control_number="TV-0001")
    assert check_record(record) == []
    assert_valid("oai/MARC21slim.xsd", marcxml_text(record))
    canonical = canonical_from_marc(record, source="thpt", namespace="test.lienthong.vn")
    assert canonical.local_id == "TV-0001"


def test_dc_to_marc_and_back_keeps_every_value_in_its_element() -> None:
    """DC -> MARC -> DC gives back every value in its own element (ISBD ends aside), except
    coverage, which the reference table sends to a 500 note (read back as description)."""
    row = {**ROW, "dc:date": ["2015", "2019"]}
    pairs = marc_to_dc(dc_to_marc(row, entered=date(2026, 1, 2)))
    for name, values in row.items():
        element = name.split(":")[1]
        got = [v for e, v in pairs if e == element]
        if element == "coverage":
            assert [v for e, v in pairs if e == "description" and v in values] == values
            continue
        if element == "identifier":
            expected = ["URN:ISBN:978-0-306-40615-7", "0317-8471", "TV-0001",
                        "https://thuvien.edu.vn/sach/1"]  # fmt: skip
        elif element == "language":
            expected = ["vie", "eng"]
        elif element == "type":
            expected = ["Text", "Sách"]
        elif element == "format":
            expected = ["300 tr. ; 21 cm", "application/pdf"]
        elif element == "description":  # the coverage note joins it
            expected = [v.rstrip(".") for v in values + row["dc:coverage"]]
        else:
            expected = [v.rstrip(".") for v in values]
        assert sorted(got) == sorted(expected), element


@pytest.mark.parametrize(
    ("row", "leader", "check"),
    [
        ({"title": "Tạp chí Thư viện", "type": "Tạp chí"}, "as", None),
        ({"title": "Bản đồ", "type": "ban do"}, "em", None),
        ({"title": "Ảnh", "type": "StillImage"}, "km", None),
        ({"title": "Sách nói", "type": "Sách nói"}, "im", None),
        ({"title": "Không rõ", "type": "Khác"}, "am", None),
        ({"title": "Hai tác giả", "creator": ["A", "B"]}, "am", "720"),
        ({"title": "Tổ chức", "creator": "Trường THPT Nguyễn Thị Minh Khai"}, "am", "720"),
        ({"title": "Người", "creator": "Trương Vĩnh Ký"}, "am", "100"),
        ({"title": "Người", "creator": "Phan Công Tâm"}, "am", "100"),
        ({"title": "Người", "creator": "Đoàn Thị Điểm"}, "am", "100"),
        ({"title": "Nxb", "creator": "Nhà xuất bản Kim Đồng"}, "am", "720"),
        ({"title": "Press", "creator": "Oxford University Press"}, "am", "720"),
        ({"title": "Sai ISBN", "identifier": "978-0-306-40615-8"}, "am", "020z"),
    ],
)  # fmt: skip
def test_dc_to_marc_decisions(row: dict[str, object], leader: str, check: str | None) -> None:
    """Type words (Vietnamese or DCMI) set LDR/06-07; one person is the 100 main entry
    (Vietnamese names made of syllables that also occur in organisation names too), while
    organisations and several creators go to 720; an ISBN with a wrong check digit is kept
    as an invalid ISBN ($z)."""
    record = dc_to_marc(row, entered=date(2026, 1, 2))  # type: ignore[arg-type]
    assert str(record.leader)[6:8] == leader
    if check == "720":
        assert record.get("100") is None and record.get_fields("720")
    if check == "100":
        assert record["100"]["a"] == row["creator"] and not record.get_fields("720")
    if check == "020z":
        assert record["020"]["z"] == "978-0-306-40615-8"
    assert [f for f in check_record(record) if f.severity is Severity.ERROR] == []


def test_dc_to_marc_refuses_a_row_without_title() -> None:
    """MARC requires 245: a titleless row is an error the adapter reports."""
    with pytest.raises(ValueError, match="title"):
        dc_to_marc({"dc:creator": ["Ai đó"]}, entered=date(2026, 1, 2))


@pytest.mark.parametrize(("value", "code"), [("Tiếng Việt", "vie"), ("tieng viet", "vie"),
                                             ("vi", "vie"), ("English", "eng"), ("Pháp", "fre"),
                                             ("klingon", None)])  # fmt: skip
def test_language_names_become_marc_codes(value: str, code: str | None) -> None:
    """Language names in Vietnamese or English and ISO 639-1 codes map to MARC codes."""
    assert language_code(value) == code
