"""MARC 21 -> MODS 3.7: every real record is schema-valid, and the mapping holds field by field.

The mapping tests are one table: each row is a small record built here, an XPath on its MODS
and the values expected there. Every row's output is also validated against the schema, so a
row that maps correctly but writes invalid MODS still fails.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pymarc import Field, Leader, MARCReader, Record, Subfield

from crosswalks.mods import MODS_NAMESPACE, MODS_VERSION, marc_to_mods
from crosswalks.xmlchars import XmlText
from gateway.record import Item, normalize_record

from .conftest import JAZZ_MARC8, LOC_5000, VIE_121
from .xsd import schema

NS = {"m": MODS_NAMESPACE}
BOOK = "00000nam a2200000 a 4500"


def mods_schema() -> etree.XMLSchema:
    """The MODS 3.7 schema from ../shared/xsd, loaded once, offline (tests/xsd.py)."""
    return schema("mods/mods-3-7.xsd")


def assert_valid(element: etree._Element, label: str = "") -> None:
    """Fail with the schema's own message when ``element`` is not valid MODS 3.7."""
    schema = mods_schema()
    if not schema.validate(element):
        error = schema.error_log.last_error
        text = etree.tostring(element, encoding="unicode")
        pytest.fail(f"{label} invalid MODS: {error}\n{text}")


@cache
def real_records(path: Path) -> tuple[Record, ...]:
    """Every readable record in one of ../shared/data's files (MARC-8 files have LDR/09 " ")."""
    utf8 = path != JAZZ_MARC8
    with path.open("rb") as fh:
        reader = MARCReader(fh, to_unicode=True, force_utf8=utf8, permissive=True)
        return tuple(record for record in reader if record is not None)


def fixed(changes: dict[int, str] | None = None) -> str:
    """A books 008 (printed, in Vietnamese, published 2020 in Vietnam), positions replaced."""
    data = list("260101s2020    vm " + " " * 11 + "000 0 vie d")
    assert len(data) == 40
    for position, value in (changes or {}).items():
        data[position : position + len(value)] = value
    return "".join(data)


def df(tag: str, indicators: str, *subfields: tuple[str, str]) -> Field:
    """A data field: ``df("245", "10", ("a", "Title"))``."""
    return Field(
        tag=tag,
        indicators=[indicators[0], indicators[1]],
        subfields=[Subfield(code, value) for code, value in subfields],
    )


def make_record(
    *fields: Field, leader: str = BOOK, f008: str | None = None, control: bool = True
) -> Record:
    """A record with ``fields``; 001/003/005/008 are added unless ``control`` is False."""
    record = Record(force_utf8=True, leader=Leader(leader))
    if control:
        record.add_field(Field(tag="001", data="VN-0001"))
        record.add_field(Field(tag="003", data="VN-HaNTV"))
        record.add_field(Field(tag="005", data="20240115093000.0"))
        record.add_field(Field(tag="008", data=f008 if f008 is not None else fixed()))
    for fld in fields:
        record.add_field(fld)
    return record


def values(element: etree._Element, xpath: str) -> list[str]:
    """What ``xpath`` selects, as strings (element text, or attribute and text values)."""
    found = element.xpath(xpath, namespaces=NS)
    return [item if isinstance(item, str) else (item.text or "") for item in found]


@dataclass(frozen=True)
class Row:
    """One mapping fact: MARC fields in, an XPath on the MODS out, the values expected."""

    name: str
    fields: tuple[Field, ...]
    xpath: str
    expected: tuple[str, ...]
    leader: str = BOOK
    f008: str | None = None
    brief: bool = False


TITLE = df("245", "14", ("a", "The sound of music :"), ("b", "a musical /"), ("c", "by Rodgers."))
PARTS = df("245", "00", ("a", "Lịch sử Việt Nam."), ("n", "Tập 2,"), ("p", "Thời kỳ cận đại /"))
AUTHOR = df("100", "1 ", ("a", "Nguyễn, Du,"), ("d", "1765-1820."), ("e", "author."))
PLAIN_AUTHOR = df("100", "0 ", ("a", "Khánh Vân."))
PUBLICATION = df("264", " 1", ("a", "Hà Nội :"), ("b", "Nhà xuất bản Văn học,"), ("c", "2019."))
TOPICAL = df("650", " 0", ("a", "Vietnamese poetry"), ("z", "Vietnam"), ("y", "18th century."))
ONLINE = df(
    "856", "40", ("q", "application/pdf"), ("u", "http://thuvien.vn/a.pdf"), ("y", "Toàn văn")
)

ROWS = [
    # titleInfo
    Row("245 ind2 4 -> nonSort", (TITLE,), "m:titleInfo[not(@type)]/m:nonSort", ("The ",)),
    Row("245 nonSort keeps its space", (TITLE,), "m:titleInfo/m:nonSort/@xml:space",
        ("preserve",)),
    Row("245 $a -> title, ISBD gone", (TITLE,), "m:titleInfo[not(@type)]/m:title",
        ("sound of music",)),
    Row("245 $b -> subTitle", (TITLE,), "m:titleInfo/m:subTitle", ("a musical",)),
    Row("245 $c -> responsibility note", (TITLE,),
        "m:note[@type='statement of responsibility']", ("by Rodgers.",)),
    Row("245 $n $p -> partNumber, partName", (PARTS,),
        "m:titleInfo/m:partNumber | m:titleInfo/m:partName", ("Tập 2", "Thời kỳ cận đại")),
    Row("246 -> alternative title", (df("246", "30", ("a", "Truyện Kiều")),),
        "m:titleInfo[@type='alternative']/m:title", ("Truyện Kiều",)),
    Row("246 ind2 1 -> translated (parallel) title", (df("246", "31", ("a", "The tale")),),
        "m:titleInfo[@type='translated']/m:title", ("The tale",)),
    Row("130 -> uniform title with part",
        (df("130", "0 ", ("a", "Bible."), ("p", "New Testament.")),),
        "m:titleInfo[@type='uniform']/m:title | m:titleInfo[@type='uniform']/m:partName",
        ("Bible", "New Testament")),
    Row("240 -> uniform title grouped with the 1XX",
        (PLAIN_AUTHOR, df("240", "10", ("a", "Truyện Kiều."), ("l", "English"))),
        "m:titleInfo[@type='uniform']/@nameTitleGroup | m:titleInfo[@type='uniform']/m:title",
        ("1", "Truyện Kiều. English")),
    # name
    Row("100 $a -> namePart, ISBD gone", (AUTHOR,),
        "m:name[@usage='primary']/m:namePart[not(@type)]", ("Nguyễn, Du",)),
    Row("100 $d -> date part", (AUTHOR,), "m:name/m:namePart[@type='date']", ("1765-1820",)),
    Row("100 $e -> role text", (AUTHOR,), "m:name/m:role/m:roleTerm[@type='text']",
        ("author",)),
    Row("100 -> personal, primary", (AUTHOR,), "m:name/@type | m:name/@usage",
        ("personal", "primary")),
    Row("100 without relator -> creator", (PLAIN_AUTHOR,),
        "m:name/m:role/m:roleTerm[@authority='marcrelator']", ("creator", "cre")),
    Row("700 $4 -> marcrelator code, not primary",
        (df("700", "1 ", ("a", "Lê, Văn Lan."), ("4", "trl")),),
        "m:name[not(@usage)]/m:role/m:roleTerm[@type='code'][@authority='marcrelator']",
        ("trl",)),
    Row("110 -> corporate, one namePart per unit",
        (df("110", "1 ", ("a", "Việt Nam."), ("b", "Bộ Giáo dục và Đào tạo.")),),
        "m:name[@type='corporate']/m:namePart", ("Việt Nam", "Bộ Giáo dục và Đào tạo")),
    Row("111 -> conference, $j role",
        (df("111", "2 ", ("a", "Hội thảo khoa học"), ("d", "(2019 :"), ("c", "Huế)"),
            ("j", "organizer.")),),
        "m:name[@type='conference']/m:namePart | m:name/m:role/m:roleTerm",
        ("Hội thảo khoa học (2019 : Huế)", "organizer")),
    Row("720 ind1 1 -> personal name", (df("720", "1 ", ("a", "Trần, Hùng."), ("e", "editor")),),
        "m:name/@type | m:name/m:namePart", ("personal", "Trần, Hùng")),
    Row("brief: first added name when there is no 1XX",
        (df("700", "1 ", ("a", "Lê, Văn Lan.")), df("710", "2 ", ("a", "Viện Văn học."))),
        "m:name/m:namePart", ("Lê, Văn Lan",), brief=True),
    Row("brief: only the primary name", (AUTHOR, df("700", "1 ", ("a", "Lê, Văn Lan."))),
        "m:name/m:namePart[not(@type)]", ("Nguyễn, Du",), brief=True),
    # typeOfResource, genre
    Row("LDR/06 a -> text", (), "m:typeOfResource", ("text",)),
    Row("LDR/07 c -> collection", (), "m:typeOfResource/@collection | m:typeOfResource",
        ("notated music", "yes"), leader="00000ncc a2200000 a 4500"),
    Row("LDR/06 t -> manuscript text", (), "m:typeOfResource/@manuscript", ("yes",),
        leader="00000ntm a2200000 a 4500"),
    Row("655 $2 -> genre authority", (df("655", " 7", ("a", "Tiểu thuyết."), ("2", "local")),),
        "m:genre[@authority='local']", ("Tiểu thuyết",)),
    Row("008/33 p -> marcgt poetry", (), "m:genre[@authority='marcgt']", ("poetry",),
        f008=fixed({33: "p"})),
    Row("008/24 b -> marcgt bibliography", (), "m:genre[@authority='marcgt']",
        ("bibliography",), f008=fixed({24: "b"})),
    # originInfo
    Row("264 _1 $b -> publisher", (PUBLICATION,), "m:originInfo/m:publisher",
        ("Nhà xuất bản Văn học",)),
    Row("264 _1 $a -> text place", (PUBLICATION,),
        "m:originInfo/m:place/m:placeTerm[@type='text']", ("Hà Nội",)),
    Row("264 _1 $c -> dateIssued", (PUBLICATION,),
        "m:originInfo/m:dateIssued[not(@encoding)]", ("2019",)),
    Row("264 _4 -> copyrightDate", (df("264", " 4", ("c", "©2019")),),
        "m:originInfo/m:copyrightDate", ("©2019",)),
    Row("264 _2 -> distributor event", (df("264", " 2", ("b", "Fahasa,"), ("c", "2020.")),),
        "m:originInfo[@eventType='distributor']/m:publisher"
        " | m:originInfo[@eventType='distributor']/m:dateOther[@type='distribution']",
        ("Fahasa", "2020")),
    Row("260 -> place, publisher, date",
        (df("260", "  ", ("a", "Tp. Hồ Chí Minh :"), ("b", "Trẻ,"), ("c", "2018.")),),
        "m:originInfo/m:place/m:placeTerm[@type='text'] | m:originInfo/m:publisher"
        " | m:originInfo/m:dateIssued[not(@encoding)]", ("Tp. Hồ Chí Minh", "Trẻ", "2018")),
    Row("008/07-10 -> key date", (),
        "m:originInfo/m:dateIssued[@encoding='marc'][@keyDate='yes']", ("2020",)),
    Row("008/06 m -> start and end dates", (),
        "m:originInfo/m:dateIssued[@encoding='marc']/@point", ("start", "end"),
        f008=fixed({6: "m1998", 11: "2003"})),
    Row("008/15-17 -> marccountry code", (),
        "m:originInfo/m:place/m:placeTerm[@type='code'][@authority='marccountry']", ("vm",)),
    Row("LDR/07 m -> monographic", (), "m:originInfo/m:issuance", ("monographic",)),
    Row("LDR/07 s -> serial", (), "m:originInfo/m:issuance", ("serial",),
        leader="00000nas a2200000 a 4500"),
    Row("250 -> edition", (df("250", "  ", ("a", "Tái bản có sửa chữa.")),),
        "m:originInfo/m:edition", ("Tái bản có sửa chữa",)),
    Row("brief: originInfo has dates only", (PUBLICATION,), "m:originInfo/*",
        ("2019", "2020"), brief=True),
    # language
    Row("008/35-37 and 041 $a -> languages",
        (df("041", "1 ", ("a", "vie"), ("a", "fre"), ("b", "eng")),),
        "m:language[not(@objectPart)]/m:languageTerm[@authority='iso639-2b'][@type='code']",
        ("vie", "fre")),
    Row("041 $b -> summary language", (df("041", "1 ", ("a", "vie"), ("b", "eng")),),
        "m:language[@objectPart='summary']/m:languageTerm", ("eng",)),
    # physicalDescription
    Row("300 -> extent", (df("300", "  ", ("a", "307 tr. ;"), ("c", "19 cm.")),),
        "m:physicalDescription/m:extent", ("307 tr. ; 19 cm.",)),
    Row("008/23 blank (book) -> print", (), "m:physicalDescription/m:form[@authority='marcform']",
        ("print",)),
    Row("856 $q -> internetMediaType", (ONLINE,), "m:physicalDescription/m:internetMediaType",
        ("application/pdf",)),
    Row("007 cr -> marccategory and marcsmd", (Field(tag="007", data="cr |||||||||||"),),
        "m:physicalDescription/m:form[@authority='marccategory' or @authority='marcsmd']",
        ("electronic resource", "remote")),
    # abstract, tableOfContents, note, accessCondition
    Row("520 -> abstract", (df("520", "  ", ("a", "Tóm tắt nội dung.")),),
        "m:abstract[@displayLabel='Summary']", ("Tóm tắt nội dung.",)),
    Row("505 -> tableOfContents", (df("505", "0 ", ("a", "Phần 1 -- Phần 2.")),),
        "m:tableOfContents", ("Phần 1 -- Phần 2.",)),
    Row("500 -> untyped note", (df("500", "  ", ("a", "Đầu trang tên sách ghi: Bộ Văn hóa.")),),
        "m:note[not(@type)]", ("Đầu trang tên sách ghi: Bộ Văn hóa.",)),
    Row("504 -> bibliography note", (df("504", "  ", ("a", "Thư mục: tr. 300-307.")),),
        "m:note[@type='bibliography']", ("Thư mục: tr. 300-307.",)),
    Row("506 -> restriction on access", (df("506", "  ", ("a", "Chỉ đọc tại chỗ.")),),
        "m:accessCondition[@type='restriction on access']", ("Chỉ đọc tại chỗ.",)),
    Row("540 -> use and reproduction", (df("540", "  ", ("a", "CC BY 4.0")),),
        "m:accessCondition[@type='use and reproduction']", ("CC BY 4.0",)),
    # subject
    Row("650 _0 -> lcsh topic", (TOPICAL,), "m:subject[@authority='lcsh']/m:topic",
        ("Vietnamese poetry",)),
    Row("650 $z -> geographic", (TOPICAL,), "m:subject[@authority='lcsh']/m:geographic",
        ("Vietnam",)),
    Row("650 $y -> temporal", (TOPICAL,), "m:subject/m:temporal", ("18th century",)),
    Row("650 _2 -> mesh", (df("650", " 2", ("a", "Neoplasms")),), "m:subject/@authority",
        ("mesh",)),
    Row("650 _7 $2 -> authority from $2",
        (df("650", " 7", ("a", "Văn học"), ("2", "bidex")),), "m:subject/@authority",
        ("bidex",)),
    Row("651 $x -> geographic then topic",
        (df("651", " 0", ("a", "Vietnam"), ("x", "History."), ("v", "Maps.")),),
        "m:subject/*", ("Vietnam", "History", "Maps")),
    Row("600 -> personal name subject",
        (df("600", "10", ("a", "Hồ, Chí Minh,"), ("d", "1890-1969."), ("v", "Biography.")),),
        "m:subject/m:name[@type='personal']/m:namePart | m:subject/m:genre",
        ("Hồ, Chí Minh", "1890-1969", "Biography")),
    Row("610 -> corporate name subject",
        (df("610", "20", ("a", "Đảng Cộng sản Việt Nam"), ("x", "History.")),),
        "m:subject/m:name[@type='corporate']/m:namePart | m:subject/m:topic",
        ("Đảng Cộng sản Việt Nam", "History")),
    Row("630 -> title subject", (df("630", "00", ("a", "Truyện Kiều."), ("v", "Criticism.")),),
        "m:subject/m:titleInfo/m:title | m:subject/m:genre", ("Truyện Kiều", "Criticism")),
    Row("653 -> uncontrolled topics", (df("653", "  ", ("a", "Thơ"), ("a", "Văn học")),),
        "m:subject[not(@authority)]/m:topic", ("Thơ", "Văn học")),
    # classification
    Row("050 -> lcc", (df("050", "00", ("a", "PL4378.9.N5"), ("b", "T7 1999")),),
        "m:classification[@authority='lcc']", ("PL4378.9.N5 T7 1999",)),
    Row("082 -> ddc with edition", (df("082", "04", ("a", "895.9221"), ("2", "23")),),
        "m:classification[@authority='ddc'] | m:classification[@authority='ddc']/@edition",
        ("895.9221", "23")),
    Row("080 -> udc", (df("080", "  ", ("a", "821.922")),), "m:classification[@authority='udc']",
        ("821.922",)),
    # relatedItem
    Row("490 0 -> series with number", (df("490", "0 ", ("a", "Tủ sách văn học ;"), ("v", "12")),),
        "m:relatedItem[@type='series']/m:titleInfo/*", ("Tủ sách văn học", "12")),
    Row("830 -> series", (df("830", " 0", ("a", "Văn học cổ điển Việt Nam ;"), ("v", "t. 12.")),),
        "m:relatedItem[@type='series']/m:titleInfo/*", ("Văn học cổ điển Việt Nam", "t. 12")),
    Row("776 -> otherFormat with ISBN",
        (df("776", "08", ("i", "Online version:"), ("t", "Truyện Kiều"), ("z", "9786040000001")),),
        "m:relatedItem[@type='otherFormat']/m:titleInfo/m:title"
        " | m:relatedItem[@type='otherFormat']/m:identifier[@type='isbn']",
        ("Truyện Kiều", "9786040000001")),
    Row("765 -> otherVersion", (df("765", "0 ", ("t", "金雲翹傳")),),
        "m:relatedItem/@type", ("otherVersion",)),
    Row("780 -> preceding", (df("780", "00", ("t", "Tạp chí Văn học")),),
        "m:relatedItem/@type", ("preceding",)),
    Row("773 -> host with part", (df("773", "0 ", ("t", "Tạp chí Hán Nôm"), ("g", "Số 2 (2019)")),),
        "m:relatedItem[@type='host']/m:titleInfo/m:title | m:relatedItem/m:part/m:text",
        ("Tạp chí Hán Nôm", "Số 2 (2019)")),
    Row("700 ind2 2 with $t -> constituent",
        (df("700", "12", ("a", "Nguyễn, Du,"), ("d", "1765-1820."),
            ("t", "Văn tế thập loại chúng sinh.")),),
        "m:relatedItem[@type='constituent']/m:titleInfo/m:title"
        " | m:relatedItem/m:name/m:namePart[not(@type)]",
        ("Văn tế thập loại chúng sinh", "Nguyễn, Du")),
    # identifier
    Row("020 -> isbn", (df("020", "  ", ("a", "9786041000000 :"), ("c", "85000đ")),),
        "m:identifier[@type='isbn']", ("9786041000000",)),
    Row("020 $z -> invalid isbn", (df("020", "  ", ("z", "9786041000001")),),
        "m:identifier[@type='isbn'][@invalid='yes']", ("9786041000001",)),
    Row("022 -> issn", (df("022", "0 ", ("a", "0866-7365")),), "m:identifier[@type='issn']",
        ("0866-7365",)),
    Row("024 ind1 -> isrc, upc, ismn, ean",
        (df("024", "0 ", ("a", "VNA011900001")), df("024", "1 ", ("a", "012345678905")),
         df("024", "2 ", ("a", "9790000000001")), df("024", "3 ", ("a", "8935000000000"))),
        "m:identifier/@type", ("isrc", "upc", "ismn", "ean")),
    Row("024 7 $2 -> type from $2", (df("024", "7 ", ("a", "10.1000/182"), ("2", "doi")),),
        "m:identifier[@type='doi']", ("10.1000/182",)),
    Row("010 -> lccn without padding", (df("010", "  ", ("a", "   00280613 ")),),
        "m:identifier[@type='lccn']", ("00280613",)),
    Row("856 $u -> uri identifier", (ONLINE,), "m:identifier[@type='uri']",
        ("http://thuvien.vn/a.pdf",)),
    Row("brief: identifiers stay", (df("020", "  ", ("a", "9786041000000")),),
        "m:identifier[@type='isbn']", ("9786041000000",), brief=True),
    # location
    Row("856 $u -> location url", (ONLINE,),
        "m:location/m:url[@usage='primary display'] | m:location/m:url/@displayLabel",
        ("http://thuvien.vn/a.pdf", "Toàn văn")),
    Row("852 -> physicalLocation, shelfLocator",
        (df("852", "  ", ("a", "Thư viện tỉnh Đắk Lắk"), ("h", "895.922"), ("i", "N573"),
            ("p", "DL0001")),),
        "m:location/m:physicalLocation | m:location/m:shelfLocator"
        " | m:location/m:holdingSimple/m:copyInformation/m:itemIdentifier",
        ("Thư viện tỉnh Đắk Lắk", "895.922 N573", "DL0001")),
    # recordInfo
    Row("040 $a -> marcorg content source", (df("040", "  ", ("a", "VN-HaNTV"), ("b", "vie")),),
        "m:recordInfo/m:recordContentSource[@authority='marcorg']", ("VN-HaNTV",)),
    Row("040 $b -> languageOfCataloging", (df("040", "  ", ("a", "VN-HaNTV"), ("b", "vie")),),
        "m:recordInfo/m:languageOfCataloging/m:languageTerm", ("vie",)),
    Row("001/003 -> recordIdentifier with source", (),
        "m:recordInfo/m:recordIdentifier | m:recordInfo/m:recordIdentifier/@source",
        ("VN-0001", "VN-HaNTV")),
    Row("005 -> iso8601 change date", (),
        "m:recordInfo/m:recordChangeDate[@encoding='iso8601']", ("20240115093000.0",)),
    Row("008/00-05 -> marc creation date", (),
        "m:recordInfo/m:recordCreationDate[@encoding='marc']", ("260101",)),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_mapping(row: Row) -> None:
    """Each table row: the MARC fields land at the XPath with exactly the expected values."""
    record = make_record(*row.fields, leader=row.leader, f008=row.f008)
    mods = marc_to_mods(record, brief=row.brief)
    assert values(mods, row.xpath) == list(row.expected)
    assert_valid(mods, row.name)


def test_root_is_mods_3_7() -> None:
    """The root is <mods version="3.7"> in the MODS namespace, pointing at the 3.7 schema."""
    mods = marc_to_mods(make_record(TITLE))
    assert mods.tag == f"{{{MODS_NAMESPACE}}}mods"
    assert mods.get("version") == MODS_VERSION == "3.7"
    location = mods.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation")
    assert location.endswith("mods-3-7.xsd")


def test_brief_element_set() -> None:
    """Brief MODS carries only titleInfo, the primary name, originInfo and identifiers."""
    record = make_record(
        TITLE, AUTHOR, df("700", "1 ", ("a", "Lê, Văn Lan.")), PUBLICATION, TOPICAL, ONLINE,
        df("020", "  ", ("a", "9786041000000")), df("500", "  ", ("a", "Ghi chú.")),
    )  # fmt: skip
    mods = marc_to_mods(record, brief=True)
    local_names = [etree.QName(child).localname for child in mods]
    assert local_names == ["titleInfo", "name", "originInfo", "identifier", "identifier"]
    assert_valid(mods, "brief")


def test_holdings_become_locations() -> None:
    """Each holding is a location: library, then shelving location, call number, barcode."""
    holdings = [
        Item(library="Thư viện tỉnh Đắk Lắk", barcode="DL0001", location="Kho mở",
             call_number="895.922 N573"),
        Item(library="Thư viện Huế", status="on loan"),
    ]  # fmt: skip
    mods = marc_to_mods(make_record(TITLE), holdings)
    assert values(mods, "m:location/m:physicalLocation") == [
        "Thư viện tỉnh Đắk Lắk",
        "Thư viện Huế",
    ]
    copy = "m:location[1]/m:holdingSimple/m:copyInformation"
    assert values(mods, f"{copy}/m:subLocation") == ["Kho mở"]
    assert values(mods, f"{copy}/m:shelfLocator") == ["895.922 N573"]
    assert values(mods, f"{copy}/m:itemIdentifier[@type='barcode']") == ["DL0001"]
    assert values(mods, "m:location[2]/m:holdingSimple") == []
    assert "on loan" not in etree.tostring(mods, encoding="unicode")
    assert_valid(mods, "holdings")


def test_holdings_replace_the_records_852() -> None:
    """With holdings given, the 852 they were made from is not mapped a second time."""
    record = make_record(TITLE, df("852", "  ", ("a", "Thư viện tỉnh"), ("h", "895.922")))
    mods = marc_to_mods(record, [Item(library="Thư viện tỉnh", call_number="895.922")])
    assert len(values(mods, "m:location")) == 1
    assert values(mods, "m:location//m:shelfLocator") == ["895.922"]


def test_control_character_is_removed_and_counted() -> None:
    """An ESC in a 500 is dropped, counted once, and the record is still valid MODS."""
    text = XmlText()
    record = make_record(TITLE, df("500", "  ", ("a", "Ghi chú\x1b có ký tự lạ.")))
    mods = marc_to_mods(record, text=text)
    assert text.removed == 1
    assert values(mods, "m:note[not(@type)]") == ["Ghi chú có ký tự lạ."]
    assert_valid(mods, "control character")


def test_shared_xml_text_totals_a_page() -> None:
    """One XmlText passed to several renderings counts the losses of all of them."""
    text = XmlText()
    for note in ("a\x00b", "c\x1fd\x7f", "e\ufffef"):
        marc_to_mods(make_record(df("500", "  ", ("a", note))), text=text)
    assert text.removed == 3


@pytest.mark.parametrize(
    "url",
    ["http://x.vn/a b", "http://[bad", "100% free", "::::", "http://a.b:xyz/", "a#b#c", "["],
)
def test_url_that_is_not_a_uri_still_validates(url: str) -> None:
    """Hand-typed 856 $u values are escaped into URI references the schema accepts."""
    record = make_record(TITLE, df("856", "40", ("u", url)), df("856", "42", ("u", url)))
    mods = marc_to_mods(record)
    assert len(values(mods, "//m:url")) == 2
    assert_valid(mods, url)


@pytest.mark.parametrize("brief", [False, True], ids=["full", "brief"])
def test_empty_record_is_valid(brief: bool) -> None:
    """A record with no fields at all still gives valid MODS (the schema wants one element)."""
    assert_valid(marc_to_mods(make_record(control=False), brief=brief), "empty")


def test_record_is_not_modified() -> None:
    """Rendering leaves the record as it was: the store's copy is shared."""
    record = make_record(TITLE, AUTHOR, PUBLICATION, TOPICAL)
    before = record.as_marc()
    marc_to_mods(record)
    assert record.as_marc() == before


# ---------------------------------------------------------------------------------------
# Real records
# ---------------------------------------------------------------------------------------

REAL_FILES = [LOC_5000, VIE_121, JAZZ_MARC8]


@pytest.mark.parametrize("brief", [False, True], ids=["full", "brief"])
@pytest.mark.parametrize("path", REAL_FILES, ids=[path.name for path in REAL_FILES])
def test_every_real_record_validates(path: Path, brief: bool) -> None:
    """Every record of the shared test files renders to schema-valid MODS 3.7."""
    records = real_records(path)
    assert records
    schema = mods_schema()
    invalid = []
    for record in records:
        mods = marc_to_mods(record, brief=brief)
        etree.tostring(mods)  # what the protocols send must serialise too
        if not schema.validate(mods):
            invalid.append((record["001"].data if record["001"] else "?", schema.error_log))
    assert not invalid, invalid[:3]


@cache
def vietnamese_record(control_number: str) -> Record:
    """A record of loc-vie-121.mrc by its 001, normalised the way the importer stores it."""
    for record in real_records(VIE_121):
        if record["001"].data.strip() == control_number:
            return normalize_record(copy.deepcopy(record))
    raise LookupError(control_number)


VIETNAMESE = [
    ("00280613", "m:titleInfo[not(@type)]/m:title", ["Thời trẻ của một đại tướng"]),
    ("00280613", "m:titleInfo[not(@type)]/m:subTitle", ["truyện ký"]),
    ("00280613", "m:name[@usage='primary']/m:namePart", ["Khánh Vân"]),
    ("00280613", "m:originInfo/m:publisher", ["Nhà xuất bản Thanh niên"]),
    ("00280613", "m:originInfo/m:place/m:placeTerm", ["vm", "[Hà Nội]"]),
    ("00280613", "m:originInfo/m:dateIssued", ["[2000]", "2000"]),
    ("00280613", "m:subject/m:name[@type='personal']/m:namePart", ["Hoàng, Văn Thái"]),
    ("00280613", "m:subject/m:name[@type='corporate']/m:namePart",
     ["Vietnam", "Quân đội nhân dân"]),
    ("00280613", "m:genre[@authority='marcgt']", ["biography", "government publication"]),
    ("00280613", "m:language/m:languageTerm", ["vie"]),
    ("00280613", "m:classification[@authority='lcc']", ["DS559.914.H63 K43 2000"]),
    ("00280613", "m:recordInfo/m:recordIdentifier", ["00280613"]),
    ("00280629", "m:titleInfo[@type='alternative']/m:title",
     ["Tình hình thanh niên công tác đoàn và phong trào thanh thiếu nhi"]),
    ("00280629", "m:name[@type='corporate']/m:namePart",
     ["Đoàn thanh niên cộng sản Hồ Chí Minh (Hanoi, Vietnam)", "Trung ương"]),
    ("00280629", "m:name[@type='personal']/m:namePart", ["Hoàng, Bình Quân", "Chu, Quốc Ân"]),
    ("00280629", "m:originInfo/m:publisher | m:originInfo/m:place/m:placeTerm[@type='text']",
     ["Hà Nội", "Thanh niên"]),
    ("00280629", "m:subject[m:geographic='Vietnam']/*",
     ["Young adults", "Vietnam", "Vietnam", "Social conditions", "1975-"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("control_number", "xpath", "expected"),
    VIETNAMESE,
    ids=[f"{number}:{xpath}" for number, xpath, _ in VIETNAMESE],
)
def test_real_vietnamese_record(control_number: str, xpath: str, expected: list[str]) -> None:
    """Values from real Library of Congress Vietnamese records land where the mapping says."""
    mods = marc_to_mods(vietnamese_record(control_number))
    assert values(mods, xpath) == expected


# ---------------------------------------------------------------------------------------
# Any record at all
# ---------------------------------------------------------------------------------------

_TAGS = [
    "007", "010", "020", "022", "024", "028", "035", "037", "041", "043", "050", "080",
    "082", "084", "086", "100", "110", "111", "130", "210", "240", "242", "245", "246",
    "250", "255", "260", "264", "300", "310", "336", "337", "338", "362", "440", "490",
    "500", "505", "506", "510", "520", "521", "534", "540", "546", "600", "610", "611",
    "630", "648", "650", "651", "653", "655", "656", "662", "700", "710", "711", "720",
    "730", "740", "752", "760", "765", "773", "775", "776", "780", "787", "800", "810",
    "811", "830", "852", "856",
]  # fmt: skip
_ODD = st.sampled_from(["\x00", "\x1b", "\ud800", "\uffff", " ", "%", "#", "[", ":", "/", "."])
_TEXT = st.text(st.one_of(st.characters(), _ODD), max_size=12)
_CODE = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789")
_INDICATOR = st.sampled_from(" 0123456789")


@st.composite
def _records(draw: st.DrawFn) -> Record:
    leader = list(BOOK)
    for position in (6, 7, 18, 19):
        leader[position] = draw(st.sampled_from(" abcdefgijkmnoprst"))
    record = Record(force_utf8=True, leader=Leader("".join(leader)))
    record.add_field(Field(tag="008", data=draw(st.text(st.sampled_from(" |abcmsu0129"),
                                                        max_size=40))))  # fmt: skip
    for _ in range(draw(st.integers(0, 8))):
        tag = draw(st.sampled_from(_TAGS))
        if tag == "007":
            record.add_field(Field(tag=tag, data=draw(_TEXT)))
            continue
        pairs = draw(st.lists(st.tuples(_CODE, _TEXT), min_size=1, max_size=5))
        indicators = [draw(_INDICATOR), draw(_INDICATOR)]
        subfields = [Subfield(code, value) for code, value in pairs]
        record.add_field(Field(tag=tag, indicators=indicators, subfields=subfields))
    return record


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records())
def test_any_record_renders_valid_mods(record: Record) -> None:
    """Whatever the fields hold (controls, surrogates, stray URL syntax), MODS stays valid."""
    for brief in (False, True):
        mods = marc_to_mods(record, brief=brief)
        etree.tostring(mods)
        assert_valid(mods, "generated")


def test_row_names_are_unique() -> None:
    """Every table row has its own name, so a failure points at one mapping fact."""
    names = [row.name for row in ROWS]
    assert len(names) == len(set(names))
