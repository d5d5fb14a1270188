"""SUTRS: readable labelled lines, Vietnamese or English labels, brief and full."""

from __future__ import annotations

from pymarc import Record

from crosswalks.sutrs import Labels, sutrs_text
from gateway.marcfile import read_marc_file
from gateway.record import Item, normalize_record
from tests.conftest import VIE_121
from tests.records import make_marc


def _vie(control_number: str) -> Record:
    for result in read_marc_file(VIE_121):
        if result.record is not None and result.record["001"].data.strip() == control_number:
            return normalize_record(result.record)
    raise LookupError(control_number)


def test_full_display_of_a_real_vietnamese_record() -> None:
    """Labels in Vietnamese, aligned values, continuation lines indented, holdings last."""
    holding = Item("dlk-tinh", "DLK000001", "Kho mở", "959.7 H103M")
    text = sutrs_text(_vie("00280611"), [holding])
    lines = text.splitlines()
    assert text.endswith("\n") and "\r" not in text
    assert lines[0] == (
        "Nhan đề:      25 năm quan hệ Việt Nam--Nhật Bản, 1973-1998 = "
        "25 years Vietnam-Japan relations, 1973-1998"
    )
    assert "Xuất bản:     Hà Nội : Nhà xuất bản Khoa học xã hội, 1999" in lines
    names = lines.index("Tác giả khác: Dương, Phú Hiệp")
    assert lines[names + 1] == "              Ngô, Xuân Bình"
    assert "Chủ đề:       Vietnam--Foreign relations--Japan--Congresses" in lines
    assert lines[-1] == "Bản sao:      dlk-tinh | Kho mở | 959.7 H103M | DLK000001 | available"
    text.encode("utf-8")  # always encodable: it is what the Z39.50 target sends


def test_brief_display_has_title_author_date_identifiers_only() -> None:
    """The brief element set, with English labels."""
    record = make_marc(
        "TV1", "Truyện Kiều", author="Nguyễn Du", year=2015, isbn="978-0-306-40615-7",
        subjects=("Thơ",), publisher="Văn học",
    )  # fmt: skip
    assert sutrs_text(record, brief=True, labels=Labels.EN).splitlines() == [
        "Title:          Truyện Kiều",
        "Author:         Nguyễn Du",
        "Date:           2015",
        "ISBN:           978-0-306-40615-7",
        "Control number: TV1",
    ]


def test_every_vietnamese_record_displays_its_title_first() -> None:
    """No record of the 121 gives an empty display or loses its title line."""
    for result in read_marc_file(VIE_121):
        assert result.record is not None
        text = sutrs_text(normalize_record(result.record))
        assert text.startswith("Nhan đề:")
