"""The spreadsheet source (``kind: spreadsheet``), read from real files written here.

Every workbook is a real .xlsx written with openpyxl (one formula's cached value is put in
by editing the sheet's XML, as Excel would have saved it); every CSV file is real bytes in
the encoding under test: UTF-8 with and without the BOM, Windows-1258 (tones as combining
marks, as Windows writes them), TCVN3 and VNI from :func:`crosswalks.legacy.encode`. The
last tests sync through the engine into a real store.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import unicodedata
import zipfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from pymarc import Record

from adapters.interface import (
    BibliographicSource,
    Complete,
    Event,
    Mark,
    Problem,
    SourceError,
    SourceSettings,
    Upsert,
)
from adapters.spreadsheet import SpreadsheetSource, column_key, open_source
from crosswalks.legacy import LegacyEncoding, LegacyMode, encode
from gateway.record import Item
from gateway.store import open_store
from gateway.sync import sync_source

from .sync_helpers import write_config

LIBRARY = "thpt-nguyen-du"
HEADERS = ["STT", "Tên sách", "Tác giả", "Nhà xuất bản", "Năm xuất bản", "ISBN",
           "Số ĐKCB", "Kho"]  # fmt: skip
KIEU = "Truyện Kiều"
NHUNG = "Những nguyên tắc cơ bản của tiếng Việt"
#: Three copies of one book (same ISBN), one copy of another, in the usual school layout.
BOOKS = [
    [1, NHUNG, "Nguyễn Văn An; Trần Thị Bình", "Giáo dục Việt Nam", 2019, "978-604-0-00000-2",
     "TK001", "Kho tham khảo"],
    [2, NHUNG, "Nguyễn Văn An; Trần Thị Bình", "Giáo dục Việt Nam", 2019, "978-604-0-00000-2",
     "TK002", "Kho tham khảo"],
    [3, NHUNG, "Nguyễn Văn An; Trần Thị Bình", "Giáo dục Việt Nam", 2019, "978-604-0-00000-2",
     "TK003", "Kho mượn"],
    [4, KIEU, "Nguyễn Du", "Văn học", 2015, "", "VH001", "Kho mượn"],
]  # fmt: skip


# -- helpers ------------------------------------------------------------------------------


def _xlsx(path: Path, rows: Iterable[Any], *, title: str = "Sách") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _school_sheet(path: Path, books: list[list[Any]] = BOOKS) -> Path:
    """The common layout: the school's name and the list's title above the headers."""
    return _xlsx(path, [["SỞ GIÁO DỤC VÀ ĐÀO TẠO ĐẮK LẮK"],
                        ["DANH MỤC SÁCH THƯ VIỆN TRƯỜNG THPT NGUYỄN DU"], [],
                        HEADERS, *books])  # fmt: skip


def _csv(rows: Iterable[Any], separator: str = ",") -> str:
    return "\r\n".join(separator.join(str(cell) for cell in row) for row in rows) + "\r\n"


def _cp1258(text: str) -> bytes:
    """Windows-1258 bytes as Windows writes them: base letters (with their shape marks)
    precomposed, tones as the code page's combining marks."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
        out += base.encode("cp1258") + "".join(c for c in parts if c in tones).encode("cp1258")
    return bytes(out)


def _events(source: SpreadsheetSource, checkpoint: str | None = None) -> list[Event]:
    return list(source.changes(checkpoint, overlap_seconds=300))


def _upserts(events: list[Event]) -> dict[str, Upsert]:
    return {e.local_id: e for e in events if isinstance(e, Upsert)}


def _problems(events: list[Event]) -> list[str]:
    return [f"{e.where}: {e.reason}" for e in events if isinstance(e, Problem)]


def _sub(record: Record, tag: str, code: str) -> list[str]:
    return [value for fld in record.get_fields(tag) for value in fld.get_subfields(code)]


def _f008(record: Record) -> str:
    data = record["008"].data
    assert data is not None
    return data


def _barcodes(upsert: Upsert) -> list[str]:
    assert upsert.items is not None
    return [item.barcode for item in upsert.items]


def _source(path: Path, **options: Any) -> SpreadsheetSource:
    """The source as tests use it: files written just now are read at once."""
    options.setdefault("settle_seconds", 0)
    return SpreadsheetSource(path, library=LIBRARY, **options)


def _age(path: Path, seconds: int) -> None:
    stamp = time.time_ns() - seconds * 10**9
    os.utime(path, ns=(stamp, stamp))


# -- workbooks ----------------------------------------------------------------------------


def test_a_school_sheet_becomes_records_with_their_copies(tmp_path: Path) -> None:
    """Rows of copies are grouped by ISBN into one record with three items; the title block
    above the headers is skipped; the MARC fields carry the sheet's values exactly."""
    source = _source(_school_sheet(tmp_path / "sach.xlsx"))
    events = _events(source)
    books = _upserts(events)
    assert sorted(books) == ["isbn-9786040000002", next(i for i in books if i.startswith("t-"))]
    nhung = books["isbn-9786040000002"].record
    assert _sub(nhung, "245", "a") == [NHUNG]
    assert nhung["245"].indicators == ("1", "0")
    assert _sub(nhung, "100", "a") == ["Nguyễn Văn An"]
    assert _sub(nhung, "700", "a") == ["Trần Thị Bình"]
    assert _sub(nhung, "020", "a") == ["9786040000002"]
    assert _sub(nhung, "260", "b") == ["Giáo dục Việt Nam"]
    assert _sub(nhung, "260", "c") == ["2019"]
    assert nhung["001"].data == "isbn-9786040000002"
    f008 = _f008(nhung)
    assert len(f008) == 40 and f008[6:11] == "s2019" and f008[35:38] == "vie"
    assert str(nhung.leader)[5:8] == "nam"
    assert books["isbn-9786040000002"].items == (
        Item(LIBRARY, "TK001", "Kho tham khảo"),
        Item(LIBRARY, "TK002", "Kho tham khảo"),
        Item(LIBRARY, "TK003", "Kho mượn"),
    )
    kieu = next(u for i, u in books.items() if i.startswith("t-"))
    assert _sub(kieu.record, "245", "a") == [KIEU] and _barcodes(kieu) == ["VH001"]
    assert not kieu.record.get_fields("020")
    assert not _problems(events)
    complete = [e for e in events if isinstance(e, Complete)]
    assert complete == [Complete(frozenset(books), "spreadsheet sach.xlsx")]
    assert isinstance(events[-1], Mark)


def test_sample_describes_the_sheet_and_the_columns(tmp_path: Path) -> None:
    """sources test shows sheet, header row, rows, titles and copies, the columns used
    and the ones that are not."""
    rows = [[*HEADERS, "Giá trị sử dụng"], *[[*book, "cũ"] for book in BOOKS]]
    sample = _source(_xlsx(tmp_path / "sach.xlsx", [["DANH MỤC SÁCH"], [], *rows])).sample(1)
    assert sample.summary.startswith(
        "spreadsheet sach.xlsx, sheet 'Sách', header row 3, 4 rows → 2 titles, 4 copies; "
        "columns used: 'Tên sách' (245 $a), "
    )
    assert "not used: 'STT', 'Giá trị sử dụng'" in sample.summary
    assert "column 'STT' is not used" in sample.problems
    assert "column 'Giá trị sử dụng' is not used" in sample.problems
    assert len(sample.records) == 1 and _sub(sample.records[0].record, "245", "a") == [NHUNG]


def test_headers_match_without_case_marks_or_punctuation(tmp_path: Path) -> None:
    """Headers such as "TÊN SÁCH", "tac gia", "Năm  xuất bản:", "Số đăng ký cá biệt (ĐKCB)"
    and English ones are all recognised."""
    assert column_key("  Năm  xuất_bản: ") == "nam xuat ban"
    rows = [["TÊN SÁCH", "tac gia", "Năm  xuất bản:", "Số đăng ký cá biệt (ĐKCB)", "Mã vạch"],
            [KIEU, "Nguyễn Du", 2015, "VH001", "x"]]  # fmt: skip
    books = _upserts(_events(_source(_xlsx(tmp_path / "a.xlsx", rows))))
    (kieu,) = books.values()
    assert _sub(kieu.record, "100", "a") == ["Nguyễn Du"]
    assert _sub(kieu.record, "260", "c") == ["2015"] and _barcodes(kieu) == ["VH001"]
    english = [["Title", "Author", "Publisher", "Year", "ISBN", "Barcode", "Call number"],
               ["Moby Dick", "Melville, Herman", "Penguin", 2003, "9780306406157", "E1",
                "813 MEL"]]  # fmt: skip
    (moby,) = _upserts(_events(_source(_xlsx(tmp_path / "b.xlsx", english)))).values()
    assert moby.record["100"].indicators == ("1", " ")  # "Surname, Forename"
    assert moby.items == (Item(LIBRARY, "E1", "", "813 MEL"),)


def test_nfc_and_nfd_cells_give_the_same_nfc_record(tmp_path: Path) -> None:
    """Text typed on a Mac (decomposed) or on Windows (composed) is stored in NFC."""
    nfd = [unicodedata.normalize("NFD", str(cell)) if isinstance(cell, str) else cell
           for cell in BOOKS[3]]  # fmt: skip
    assert nfd[1] != KIEU
    rows = [[unicodedata.normalize("NFD", h) for h in HEADERS], nfd]
    (kieu,) = _upserts(_events(_source(_xlsx(tmp_path / "nfd.xlsx", rows)))).values()
    assert _sub(kieu.record, "245", "a") == [KIEU]
    assert _sub(kieu.record, "100", "a") == ["Nguyễn Du"]
    assert kieu.items == (Item(LIBRARY, "VH001", "Kho mượn"),)


def test_the_id_column_groups_rows_and_names_the_record(tmp_path: Path) -> None:
    """With a "Mã sách" column, rows with the same id are one record under that id; a row
    reusing an id with another title is a problem and only adds its copy."""
    rows = [["Mã sách", "Tên sách", "Tác giả", "Số ĐKCB"],
            ["S01", KIEU, "Nguyễn Du", "A1"], ["S01", KIEU, "Nguyễn Du", "A2"],
            ["S02", NHUNG, "", "B1"], ["S01", "Số đỏ", "Vũ Trọng Phụng", "A3"]]  # fmt: skip
    events = _events(_source(_xlsx(tmp_path / "a.xlsx", rows)))
    books = _upserts(events)
    assert sorted(books) == ["S01", "S02"]
    assert _barcodes(books["S01"]) == ["A1", "A2", "A3"]
    assert books["S01"].record["001"].data == "S01"
    assert books["S02"].record["245"].indicators == ("0", "0")  # no main entry
    assert _problems(events) == [
        "a.xlsx:row 5: has the id 'S01' of row 2 but another title ('Số đỏ'); its copy is "
        "added to that book, its other values are not used"
    ]


def test_without_id_or_isbn_the_id_is_a_stable_digest(tmp_path: Path) -> None:
    """Title, author and year (folded) make the id: the same book written differently
    ("TRUYỆN KIỀU", extra spaces) groups together; another year is another record."""
    rows = [
        ["Tên sách", "Tác giả", "Năm XB", "Số ĐKCB"],
        [KIEU, "Nguyễn Du", 2015, "A1"],
        ["TRUYỆN  KIỀU", "nguyễn du", 2015.0, "A2"],
        [KIEU, "Nguyễn Du", 2020, "A3"],
    ]
    path = _xlsx(tmp_path / "a.xlsx", rows)
    first = _upserts(_events(_source(path)))
    again = _upserts(_events(_source(path)))
    assert sorted(first) == sorted(again) and len(first) == 2
    assert all(i.startswith("t-") and len(i) == 18 for i in first)
    assert sorted(_barcodes(u) for u in first.values()) == [["A1", "A2"], ["A3"]]


def test_books_sharing_an_isbn_but_not_a_title_are_kept_apart(tmp_path: Path) -> None:
    """A reused ISBN (or one set's volumes) must not merge two books: both get digest ids
    and a problem says why."""
    rows = [HEADERS, [1, "Toán 6 tập 1", "Bộ Giáo dục và Đào tạo", "Giáo dục", 2021,
                      "9786040000002", "T1", ""],
            [2, "Toán 6 tập 2", "Bộ Giáo dục và Đào tạo", "Giáo dục", 2021, "9786040000002",
             "T2", ""]]  # fmt: skip
    events = _events(_source(_xlsx(tmp_path / "a.xlsx", rows)))
    books = _upserts(events)
    assert len(books) == 2 and all(i.startswith("t-") for i in books)
    for book in books.values():
        assert _sub(book.record, "020", "a") == ["9786040000002"]
        assert _sub(book.record, "110", "a") == ["Bộ Giáo dục và Đào tạo"]  # corporate
    assert len(_problems(events)) == 2
    assert "its ISBN is also given to a book with another title" in _problems(events)[0]


def test_copies_that_leave_the_isbn_out_join_the_book_with_it(tmp_path: Path) -> None:
    """The ISBN typed on one copy's row only: every copy of that title, author and year
    is one record under the ISBN, made from the row that has it, whatever the order."""
    rows = [
        ["Tên sách", "Tác giả", "Năm XB", "ISBN", "Số ĐKCB"],
        [KIEU, "Nguyễn Du", 2015, "", "A1"],
        [KIEU, "Nguyễn Du", 2015, "9786041234567", "A2"],
        [KIEU, "Nguyễn Du", 2015, None, "A3"],
        [KIEU, "Nguyễn Du", 2020, None, "B1"],
    ]
    books = _upserts(_events(_source(_xlsx(tmp_path / "a.xlsx", rows))))
    assert len(books) == 2
    kieu = books["isbn-9786041234567"]
    assert _sub(kieu.record, "020", "a") == ["9786041234567"]
    assert _barcodes(kieu) == ["A1", "A2", "A3"]


def test_rows_with_only_copy_columns_are_copies_of_the_book_above(tmp_path: Path) -> None:
    """A title cell merged over three rows reads as empty below its first row: those rows
    are further copies of that book, not books without a title."""
    rows = [HEADERS, [1, KIEU, "Nguyễn Du", "Văn học", 2015, "", "A1", "Kho 1"],
            [None, None, None, None, None, None, "A2", "Kho 1"],
            [None, None, None, None, None, None, "A3", "Kho 2"]]  # fmt: skip
    path = tmp_path / "merged.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    sheet.merge_cells("B2:B4")
    sheet.merge_cells("C2:C4")
    book.save(path)
    events = _events(_source(path))
    (kieu,) = _upserts(events).values()
    assert _barcodes(kieu) == ["A1", "A2", "A3"]
    assert [item.location for item in kieu.items or ()] == ["Kho 1", "Kho 1", "Kho 2"]
    assert not _problems(events)


def test_a_second_header_row_under_merged_headers_is_read(tmp_path: Path) -> None:
    """A "Xuất bản" header merged over "Nơi XB | NXB | Năm XB": the second row's headers
    count, and data starts below it."""
    rows = [["DANH MỤC SÁCH"], [],
            ["STT", "Tên sách", "Tác giả", "Xuất bản", None, None, "Số ĐKCB"],
            [None, None, None, "Nơi XB", "NXB", "Năm XB", None],
            [1, KIEU, "Nguyễn Du", "Hà Nội", "Văn học", 2015, "A1"]]  # fmt: skip
    source = _source(_xlsx(tmp_path / "two.xlsx", rows))
    (kieu,) = _upserts(_events(source)).values()
    assert [(s.code, s.value) for s in kieu.record["260"].subfields] == [
        ("a", "Hà Nội"), ("b", "Văn học"), ("c", "2015")]  # fmt: skip
    assert "header row 4" in source.sample().summary


def test_numbers_dates_and_formulas_from_excel(tmp_path: Path) -> None:
    """2019.0 is the year 2019, a date cell gives its year, a column-numbering row under
    the headers is skipped, and a formula is read as the value Excel saved for it."""
    rows = [["Tên sách", "Năm XB", "Số trang", "Môn loại", "Ngôn ngữ", "Số ĐKCB"],
            ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)"],
            [KIEU, 2015.0, 120, 895.9221, "Tiếng Việt", 1001],
            ["Moby Dick", "=2000+3", "", "813.54", "Tiếng Anh", 1002],
            ["Số đỏ", None, "200", "8(V)", "", 1003],
            ["Dế Mèn phiêu lưu ký", datetime(2010, 5, 1), None, None, None, 1004]]  # fmt: skip
    path = _xlsx(tmp_path / "n.xlsx", rows)
    path.write_bytes(_with_cached_value(path.read_bytes(), "2000+3", "2003"))
    books = {_sub(u.record, "245", "a")[0]: u for u in _upserts(_events(_source(path))).values()}
    assert set(books) == {KIEU, "Dế Mèn phiêu lưu ký", "Moby Dick", "Số đỏ"}
    kieu, moby, so_do = books[KIEU].record, books["Moby Dick"].record, books["Số đỏ"].record
    assert _sub(kieu, "260", "c") == ["2015"] and _f008(kieu)[7:11] == "2015"
    assert _sub(kieu, "300", "a") == ["120 tr."]
    assert _sub(kieu, "082", "a") == ["895.9221"] and _sub(kieu, "041", "a") == ["vie"]
    assert _sub(moby, "260", "c") == ["2003"]
    assert _f008(moby)[35:38] == "eng" and _sub(moby, "041", "a") == ["eng"]
    assert _sub(so_do, "084", "a") == ["8(V)"] and not so_do.get_fields("082")
    assert _f008(so_do)[6:15] == "nuuuuuuuu"
    assert _barcodes(books[KIEU]) == ["1001"]
    de_men = books["Dế Mèn phiêu lưu ký"].record
    assert _sub(de_men, "260", "c") == ["2010"] and _f008(de_men)[6:11] == "s2010"


def _with_cached_value(data: bytes, formula: str, value: str) -> bytes:
    """The workbook with ``formula``'s result saved beside it, as Excel saves it."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            content = source.read(name)
            if name.startswith("xl/worksheets/"):
                old = f"<f>{formula}</f><v></v>".encode()
                assert old in content
                content = content.replace(old, f"<f>{formula}</f><v>{value}</v>".encode())
            target.writestr(name, content)
    return out.getvalue()


def test_isbns_stored_as_numbers_are_trusted_only_when_whole(tmp_path: Path) -> None:
    """A numeric ISBN with a valid check digit is kept (an ISBN-10 that lost its leading
    zero gets it back); 9.78604E+12 lost digits: a problem, no 020; a wrong check digit in
    text is kept as 020 $z."""
    rows = [["Tên sách", "ISBN", "Số ĐKCB"],
            ["Một", 9786041234567, "1"], ["Hai", 198526636, "2"],
            ["Ba", 9.78604e12, "3"], ["Bốn", "978-604-999999-9", "4"],
            ["Năm", "không có", "5"]]  # fmt: skip
    events = _events(_source(_xlsx(tmp_path / "isbn.xlsx", rows)))
    books = {_sub(u.record, "245", "a")[0]: u.record for u in _upserts(events).values()}
    assert _sub(books["Một"], "020", "a") == ["9786041234567"]
    assert _sub(books["Hai"], "020", "a") == ["0198526636"]
    assert not books["Ba"].get_fields("020")
    assert _sub(books["Bốn"], "020", "z") == ["9786049999999"]
    assert not books["Năm"].get_fields("020")
    assert _problems(events) == [
        "isbn.xlsx:row 4: column 'ISBN': ISBN 9786040000000 was stored as a number and has "
        "lost digits (its check digit does not agree); type the ISBN as text, left out"
    ]
    ids = set(_upserts(events))
    assert {"isbn-9786041234567", "isbn-9780198526636"} <= ids


def test_problem_rows_are_named_and_empty_rows_skipped(tmp_path: Path) -> None:
    """A row with an author but no title is a problem at file:row n; empty rows and a
    total line are not books; a barcode used twice keeps its first copy."""
    rows = [HEADERS, BOOKS[3], [], [None] * 8, [5, "", "Ai đó", "", "", "", "X1", ""],
            [6, "Số đỏ", "Vũ Trọng Phụng", "", "", "", "VH001", ""],
            [None, "Tổng cộng: 2 đầu sách"]]  # fmt: skip
    events = _events(_source(_xlsx(tmp_path / "p.xlsx", rows)))
    books = _upserts(events)
    assert len(books) == 2
    assert _problems(events) == [
        "p.xlsx:row 5: no title (column 'Tên sách' is empty); row not read",
        "p.xlsx:row 6: barcode 'VH001' is also on row 2; this copy is left out",
        "p.xlsx:row 7: 'Tổng cộng: 2 đầu sách' looks like a total line; not read",
    ]
    assert sorted(len(u.items or ()) for u in books.values()) == [0, 1]


def test_a_row_without_title_keeps_its_stored_record(tmp_path: Path) -> None:
    """A title erased by mistake must not delete the book: its id (here the id column)
    stays in the listing though the row is not read."""
    rows = [["Mã sách", "Tên sách", "Số ĐKCB"], ["S01", KIEU, "A1"], ["S02", "", "B1"]]
    events = _events(_source(_xlsx(tmp_path / "a.xlsx", rows)))
    assert sorted(_upserts(events)) == ["S01"]
    (complete,) = [e for e in events if isinstance(e, Complete)]
    assert complete.ids == frozenset({"S01", "S02"})


def test_legacy_font_text_in_cells_is_converted(tmp_path: Path) -> None:
    """A sheet typed with the ABC (.VnTime, TCVN3) fonts shows mojibake in Unicode cells,
    headers included: it is converted (the whole sheet votes), and sample says so."""

    def tcvn3(text: str) -> str:
        return encode(text, LegacyEncoding.TCVN3).decode("cp1252")

    headers = [tcvn3("Tên sách"), tcvn3("Tác giả"), tcvn3("Nhà xuất bản"), "ISBN"]
    rows = [headers, [tcvn3(NHUNG), tcvn3("Nguyễn Văn An"), tcvn3("Giáo dục"), "9786040000002"]]
    assert rows[1][0] != NHUNG
    source = _source(_xlsx(tmp_path / "abc.xlsx", rows))
    (book,) = _upserts(_events(source)).values()
    assert _sub(book.record, "245", "a") == [NHUNG]
    assert _sub(book.record, "100", "a") == ["Nguyễn Văn An"]
    assert _sub(book.record, "260", "b") == ["Giáo dục"]
    assert "converted" in source.sample().summary
    off = _source(tmp_path / "abc.xlsx", legacy=LegacyMode.OFF)
    with pytest.raises(SourceError):  # headers unreadable without conversion
        _events(off)


def test_sheet_is_chosen_by_name(tmp_path: Path) -> None:
    """``sheet`` picks a sheet by name (marks and case aside); a missing one is named with
    the sheets there are."""
    path = tmp_path / "two.xlsx"
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Hướng dẫn"
    first.append(["Nhập sách vào trang sau"])
    second = book.create_sheet("Sách giáo khoa")
    for row in [["Tên sách", "Số ĐKCB"], ["Toán 6", "G1"]]:
        second.append(row)
    book.save(path)
    (toan,) = _upserts(_events(_source(path, sheet="SACH GIAO KHOA"))).values()
    assert _sub(toan.record, "245", "a") == ["Toán 6"]
    with pytest.raises(SourceError, match="'Hướng dẫn', 'Sách giáo khoa'") as info:
        _events(_source(path, sheet="Sách"))
    assert not info.value.retryable


def test_authors_and_copies_in_one_cell(tmp_path: Path) -> None:
    """Full names separated by commas are several authors, a role after a comma is not a
    name; a barcode cell may list copies with ';' and a range is reported, not guessed."""
    rows = [
        ["Tên sách", "Tác giả", "Số ĐKCB"],
        ["Thơ chọn lọc", "Nguyễn Du, Tố Hữu", "A1; A2"],
        ["Ngữ văn 6", "Nguyễn Văn An, chủ biên", "B1-B3"],
    ]
    events = _events(_source(_xlsx(tmp_path / "a.xlsx", rows)))
    books = {_sub(u.record, "245", "a")[0]: u for u in _upserts(events).values()}
    assert _sub(books["Thơ chọn lọc"].record, "100", "a") == ["Nguyễn Du"]
    assert _sub(books["Thơ chọn lọc"].record, "700", "a") == ["Tố Hữu"]
    assert _barcodes(books["Thơ chọn lọc"]) == ["A1", "A2"]
    assert _sub(books["Ngữ văn 6"].record, "100", "a") == ["Nguyễn Văn An, chủ biên"]
    assert not books["Ngữ văn 6"].record.get_fields("700")
    assert _problems(events) == [
        "a.xlsx:row 3: barcode 'B1-B3' looks like a range, which is not expanded: give each "
        "copy its own row, or list the barcodes separated by ';'"
    ]


def test_copies_under_a_row_that_is_not_read_are_not_misfiled(tmp_path: Path) -> None:
    """Copy rows below a row without a title do not go to the book above that row."""
    rows = [
        ["Tên sách", "Tác giả", "Số ĐKCB"],
        [KIEU, "Nguyễn Du", "A1"],
        ["", "Tô Hoài", "B1"],
        [None, None, "B2"],
    ]
    events = _events(_source(_xlsx(tmp_path / "a.xlsx", rows)))
    (kieu,) = _upserts(events).values()
    assert _barcodes(kieu) == ["A1"]
    assert _problems(events) == [
        "a.xlsx:row 3: no title (column 'Tên sách' is empty); row not read",
        "a.xlsx:row 4: a copy without a book: no title on this row, and the row above is no "
        "book; row not read",
    ]


# -- bad files ----------------------------------------------------------------------------


def test_a_sheet_without_a_title_column_is_refused(tmp_path: Path) -> None:
    """No title column: SourceError (not retryable) naming the file and the headers."""
    path = _xlsx(tmp_path / "nt.xlsx", [["STT", "Tác giả", "Số ĐKCB"], [1, "Nguyễn Du", "A"]])
    with pytest.raises(SourceError) as info:
        _events(_source(path))
    message = str(info.value)
    assert str(path) in message and "no title column" in message
    assert "'STT', 'Tác giả', 'Số ĐKCB'" in message
    assert not info.value.retryable


def test_garbage_named_xlsx_is_refused(tmp_path: Path) -> None:
    """A file named .xlsx that is not a workbook, or a zip that is not one, is refused
    with the file's name."""
    path = tmp_path / "hong.xlsx"
    path.write_bytes(b"this is not a workbook\n" * 10)
    with pytest.raises(SourceError, match="hong.xlsx: not an Excel workbook") as info:
        _events(_source(path))
    assert not info.value.retryable
    other = tmp_path / "other.xlsx"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(SourceError, match="other.xlsx: not a readable Excel workbook"):
        _source(other).sample()


def test_a_password_protected_workbook_is_refused(tmp_path: Path) -> None:
    """An encrypted workbook (a real one, encrypted with msoffcrypto-tool) cannot be read:
    the error says to save a copy without the password."""
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = _school_sheet(tmp_path / "plain.xlsx")
    locked = tmp_path / "khoa.xlsx"
    with plain.open("rb") as handle, locked.open("wb") as out:
        OOXMLFile(handle).encrypt("mat-khau", out)
    with pytest.raises(SourceError, match="khoa.xlsx: the workbook is protected with a "
                       "password") as info:  # fmt: skip
        _events(_source(locked))
    assert "mat-khau" not in str(info.value)


def test_a_missing_file_is_a_retryable_error(tmp_path: Path) -> None:
    """The file may be being copied in: try again later."""
    with pytest.raises(SourceError, match="does not exist") as info:
        _events(_source(tmp_path / "chua-co.xlsx"))
    assert info.value.retryable


# -- CSV ----------------------------------------------------------------------------------


ROWS = [["Tên sách", "Tác giả", "Nhà xuất bản", "Năm xuất bản", "Số ĐKCB"],
        [NHUNG, "Nguyễn Văn An", "Giáo dục Việt Nam", "2019", "TK001"],
        [NHUNG, "Nguyễn Văn An", "Giáo dục Việt Nam", "2019", "TK002"],
        ["Đất rừng phương Nam", "Đoàn Giỏi", "Kim Đồng", "2018", "TK003"]]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("UTF-8 with BOM", b"\xef\xbb\xbf" + _csv(ROWS, ";").encode("utf-8")),
        ("UTF-8", _csv(ROWS).encode("utf-8")),
        ("UTF-8", unicodedata.normalize("NFD", _csv(ROWS)).encode("utf-8")),
        ("UTF-16", _csv(ROWS, "\t").encode("utf-16")),
        ("Windows-1258", _cp1258(_csv(ROWS))),
        ("TCVN3 (ABC)", encode(_csv(ROWS), LegacyEncoding.TCVN3)),
        ("VNI-Windows", encode(_csv(ROWS, ";"), LegacyEncoding.VNI)),
    ],
    ids=["utf8-bom", "utf8", "utf8-nfd", "utf16", "cp1258", "tcvn3", "vni"],
)
def test_csv_in_every_encoding_schools_use(tmp_path: Path, label: str, data: bytes) -> None:
    """Whatever the encoding (found by itself), the records hold the same NFC text."""
    path = tmp_path / "sach.csv"
    path.write_bytes(data)
    source = _source(path)
    books = {_sub(u.record, "245", "a")[0]: u for u in _upserts(_events(source)).values()}
    assert set(books) == {"Đất rừng phương Nam", NHUNG}
    assert _barcodes(books[NHUNG]) == ["TK001", "TK002"]
    assert _sub(books["Đất rừng phương Nam"].record, "100", "a") == ["Đoàn Giỏi"]
    assert _sub(books[NHUNG].record, "260", "b") == ["Giáo dục Việt Nam"]
    assert f"(CSV, {label}, " in source.sample().summary


@pytest.mark.parametrize("encoding", ["cp1258", "tcvn3", "vni"])
def test_a_declared_csv_encoding_is_used(tmp_path: Path, encoding: str) -> None:
    """``encoding: tcvn3`` (and the others) reads the bytes in that encoding."""
    writers = {"cp1258": _cp1258, "tcvn3": lambda t: encode(t, LegacyEncoding.TCVN3),
               "vni": lambda t: encode(t, LegacyEncoding.VNI)}  # fmt: skip
    path = tmp_path / "sach.csv"
    path.write_bytes(writers[encoding](_csv(ROWS)))
    titles = {_sub(u.record, "245", "a")[0]
              for u in _upserts(_events(_source(path, encoding=encoding))).values()}  # fmt: skip
    assert titles == {NHUNG, "Đất rừng phương Nam"}


def test_csv_with_a_title_line_rounded_isbn_and_float_year(tmp_path: Path) -> None:
    """A title line without separators above the headers, "2019.0" from a program's
    export, and an ISBN Excel printed as 9.78604E+12 (a problem naming the row)."""
    text = ("DANH MỤC SÁCH NĂM HỌC 2025-2026\r\n"
            "Tên sách;ISBN;Năm XB;Số ĐKCB\r\n"
            f"{KIEU};9.78604E+12;2015.0;A1\r\n")  # fmt: skip
    path = tmp_path / "x.csv"
    path.write_text(text, encoding="utf-8")
    events = _events(_source(path))
    (kieu,) = _upserts(events).values()
    assert _sub(kieu.record, "260", "c") == ["2015"] and not kieu.record.get_fields("020")
    assert _problems(events) == [
        "x.csv:row 3: column 'ISBN': ISBN '9.78604E+12' was saved as a rounded number and has "
        "lost digits; type the ISBN as text, left out"
    ]


def test_excel_sep_line_names_the_separator(tmp_path: Path) -> None:
    """Excel's "sep=;" first line says the separator (the title has commas in it) and is
    not a row."""
    path = tmp_path / "sep.csv"
    path.write_text("sep=;\r\nTên sách;Số ĐKCB\r\nThơ, văn chọn lọc;A1\r\n", encoding="utf-8")
    source = _source(path)
    (book,) = _upserts(_events(source)).values()
    assert _sub(book.record, "245", "a") == ["Thơ, văn chọn lọc"] and _barcodes(book) == ["A1"]
    assert "';'-separated), header row 1, 1 rows" in source.sample().summary


def test_csv_that_is_no_vietnamese_encoding_is_refused(tmp_path: Path) -> None:
    """Western Windows-1252 text is not guessed at: the error says how to save the file."""
    path = tmp_path / "w.csv"
    path.write_bytes("Title,Author\r\nLes Misérables,Hugo\r\n".encode("cp1252"))
    with pytest.raises(SourceError, match=r"w.csv:2: byte 0xe9 is not UTF-8.*CSV UTF-8"):
        _events(_source(path))


# -- mapping file and id rules ------------------------------------------------------------


def test_a_mapping_file_adds_columns(tmp_path: Path) -> None:
    """Extra headers map to built-in fields or to MARC fields, a subfield joining the
    record's own field (245 $b) or making a new one; id_rule 035$a takes the id from a
    mapped column and a row without it is a problem."""
    mapping = tmp_path / "cot.yaml"
    mapping.write_text('columns:\n  "Mã cũ": "035$a"\n  "Tên phụ": "245$b"\n'
                       '  "Từ khóa riêng": {field: "653$a", split: ";"}\n'
                       '  "STT": ignore\n  "Đầu đề": title\n', encoding="utf-8")  # fmt: skip
    rows = [["STT", "Đầu đề", "Tên phụ", "Mã cũ", "Từ khóa riêng", "Số ĐKCB"],
            [1, KIEU, "Đoạn trường tân thanh", "OLD-1", "thơ; cổ điển", "A1"],
            [2, "Số đỏ", "", "", "", "A2"]]  # fmt: skip
    path = _xlsx(tmp_path / "m.xlsx", rows)
    source = _source(path, mapping=mapping, id_rule="035$a")
    events = _events(source)
    (kieu,) = _upserts(events).values()
    assert kieu.local_id == "OLD-1" and kieu.record["001"].data == "OLD-1"
    assert [(s.code, s.value) for s in kieu.record["245"].subfields] == [
        ("a", KIEU), ("b", "Đoạn trường tân thanh")]  # fmt: skip
    assert _sub(kieu.record, "653", "a") == ["thơ", "cổ điển"]
    assert _problems(events) == [
        "m.xlsx:row 3: no 035 $a value (id_rule 035$a takes the id from it); row not read"
    ]
    assert "'STT' is ignored (mapping file)" in " ".join(source.sample().problems)


def test_a_bad_mapping_file_names_the_key(tmp_path: Path) -> None:
    """A mapping to something that is no field is refused before any row is read."""
    mapping = tmp_path / "cot.yaml"
    mapping.write_text('columns:\n  "Giá": "gia tien"\n', encoding="utf-8")
    with pytest.raises(SourceError, match=r"cot.yaml: columns: 'Giá': 'gia tien' is not a "
                       "field") as info:  # fmt: skip
        _source(tmp_path / "a.xlsx", mapping=mapping)
    assert not info.value.retryable


def test_id_rule_001_requires_the_id_column(tmp_path: Path) -> None:
    """``id_rule: 001`` never guesses an id: rows without one are problems, a sheet
    without the column is refused."""
    rows = [["Mã", "Tên sách"], [7, KIEU], [None, "Số đỏ"]]
    events = _events(_source(_xlsx(tmp_path / "a.xlsx", rows), id_rule="001"))
    assert sorted(_upserts(events)) == ["7"]
    assert _problems(events) == [
        "a.xlsx:row 3: column 'Mã' is empty (id_rule 001 takes the id from it); row not read"
    ]
    with pytest.raises(SourceError, match="id column"):
        _events(_source(_xlsx(tmp_path / "b.xlsx", [["Tên sách"], [KIEU]]), id_rule="001"))


# -- changes and checkpoints --------------------------------------------------------------


def test_an_unchanged_file_gives_only_a_mark(tmp_path: Path) -> None:
    """The checkpoint is the file's fingerprint: the same file again (even touched, with
    the same content) gives no upserts, only a mark."""
    path = _school_sheet(tmp_path / "sach.xlsx")
    _age(path, 100)
    first = _events(_source(path))
    checkpoint = first[-1]
    assert isinstance(checkpoint, Mark)
    again = _events(_source(path), checkpoint.checkpoint)
    assert again == [checkpoint]
    _age(path, 50)  # copied in again: new time, same bytes
    touched = _events(_source(path), checkpoint.checkpoint)
    assert len(touched) == 1 and isinstance(touched[0], Mark)
    assert touched[0].checkpoint != checkpoint.checkpoint  # remembers the new time


def test_an_edited_file_is_listed_again_with_its_new_ids(tmp_path: Path) -> None:
    """After an edit every book is given again and the listing holds exactly the new ids
    (the removed book is missing, the new one is there)."""
    path = _school_sheet(tmp_path / "sach.xlsx")
    _age(path, 100)
    first = _events(_source(path))
    mark = first[-1]
    assert isinstance(mark, Mark)
    _school_sheet(path, [*BOOKS[:3], [5, "Số đỏ", "Vũ Trọng Phụng", "", 1936, "", "X1", ""]])
    second = _events(_source(path), mark.checkpoint)
    books = _upserts(second)
    assert len(books) == 2 and "isbn-9786040000002" in books
    (complete,) = [e for e in second if isinstance(e, Complete)]
    assert complete.ids == frozenset(books)
    old_ids = {e.local_id for e in first if isinstance(e, Upsert)}
    assert len(old_ids - complete.ids) == 1  # Truyện Kiều is gone
    assert isinstance(second[-1], Mark) and second[-1].checkpoint != mark.checkpoint
    assert sorted(_source(path).current_ids() or []) == sorted(books)


def test_changed_settings_read_the_file_again(tmp_path: Path) -> None:
    """A new mapping or sheet makes different records from the same file: it is read."""
    path = _school_sheet(tmp_path / "sach.xlsx")
    mark = _events(_source(path))[-1]
    assert isinstance(mark, Mark)
    mapping = tmp_path / "m.yaml"
    mapping.write_text('columns:\n  "STT": "035$a"\n', encoding="utf-8")
    again = _events(_source(path, mapping=mapping), mark.checkpoint)
    assert len(_upserts(again)) == 2
    assert _problems(_events(_source(path), "not json")) == [
        "checkpoint: the stored checkpoint is not this source's; the file is read again"
    ]


# -- files still being written -----------------------------------------------------------

CATALOGUE = [["Mã sách", "Tên sách", "Tác giả", "Năm xuất bản"]] + [
    [f"MS{n:03d}", f"Sách số {n}", f"Nguyễn Văn {n}", 2000 + n % 20] for n in range(100)
]


def test_a_file_saved_within_the_settle_time_waits(tmp_path: Path) -> None:
    """A file modified less than settle_seconds ago may still be being saved: nothing is
    read, a Problem says so, the old checkpoint is marked again, and current_ids lists
    nothing; once settled it is read."""
    path = tmp_path / "sach.csv"
    path.write_text(_csv(CATALOGUE[:50]), encoding="utf-8")
    _age(path, 100)
    first = _events(_source(path))
    mark = first[-1]
    assert isinstance(mark, Mark) and len(_upserts(first)) == 49
    path.write_text(_csv(CATALOGUE), encoding="utf-8")
    patient = _source(path, settle_seconds=30)
    assert _events(patient, mark.checkpoint) == [
        Problem("sach.csv", "changed in the last 30 s; read at the next sync"),
        mark,
    ]
    assert patient.current_ids() is None
    assert _events(patient) == [
        Problem("sach.csv", "changed in the last 30 s; read at the next sync"),
        Mark(""),
    ]
    _age(path, 60)
    later = _events(patient, mark.checkpoint)
    (complete,) = [e for e in later if isinstance(e, Complete)]
    assert complete.ids is not None and len(complete.ids) == 100


def test_a_file_that_changes_while_it_is_read_gives_nothing(tmp_path: Path) -> None:
    """While another process appends to the file, a reading whose size or time moved
    between the start and the end gives no records and no listing, only a Problem and
    the old checkpoint."""
    path = tmp_path / "sach.csv"
    path.write_text(_csv(CATALOGUE * 200), encoding="utf-8")
    row = _csv([["MS999", "Sách thêm", "Lê Văn Thêm", 2025]])
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "with open(sys.argv[1], 'a', encoding='utf-8') as out:\n"
        "    while True:\n"
        "        out.write(sys.argv[2]); out.flush(); time.sleep(0.0005)\n"
    ), str(path), row])  # fmt: skip
    try:
        time.sleep(0.2)
        torn = None
        for _ in range(200):
            events = _events(_source(path), "previous")
            if any(isinstance(e, Problem) and "changed while it was read" in e.reason
                   for e in events):  # fmt: skip
                torn = events
                break
    finally:
        writer.kill()
        writer.wait()
    assert torn is not None, "the appends were never seen during a reading"
    assert torn[-1] == Mark("previous")
    assert not any(isinstance(e, Upsert | Complete) for e in torn)


def test_a_csv_cut_off_mid_row_is_cut_short(tmp_path: Path) -> None:
    """A CSV cut off mid-row (a copy in progress): the rows before the last are given,
    the last (maybe partial) is not, no Complete, a Problem naming the row; synced
    through the engine, the books missing from the file are not deleted."""
    folder = tmp_path / "conf"
    folder.mkdir()
    path = folder / "sach.csv"
    data = _csv(CATALOGUE).encode("utf-8")
    path.write_bytes(data)
    _age(path, 100)
    config = write_config(folder, [{"name": "s", "library": LIBRARY, "kind": "spreadsheet",
                                    "path": "sach.csv"}])  # fmt: skip
    store = open_store(config.store_location)
    try:
        assert sync_source(store, config, "s").ok
        assert len(list(store.local_ids(LIBRARY))) == 100
        mark = _events(_source(path))[-1]
        assert isinstance(mark, Mark)
        cut = data[: data.index(b"MS060") + 12]  # "MS060,Sách s"
        path.write_bytes(cut)
        _age(path, 100)
        events = _events(_source(path), mark.checkpoint)
        assert sorted(_upserts(events)) == [f"MS{n:03d}" for n in range(60)]
        assert not any(isinstance(e, Complete) for e in events)
        (problem,) = [e for e in events if isinstance(e, Problem)]
        assert problem.where == "sach.csv:row 62"
        assert problem.reason.startswith("row 62, the last, has 2 cells where the header has 4")
        assert "not deleted" in problem.reason
        assert events[-1] == mark
        assert _source(path).current_ids() is None
        report = sync_source(store, config, "s")
        assert report.written.deleted == 0
        assert len(list(store.local_ids(LIBRARY))) == 100
    finally:
        store.close()


def test_a_csv_whose_last_row_is_short_is_cut_short(tmp_path: Path) -> None:
    """A last row with fewer cells than the header (cut at a separator, then a line end
    added) also gives no listing and is not read."""
    path = tmp_path / "sach.csv"
    text = _csv(CATALOGUE[:10]) + "MS010,Sách số 10\r\n\r\n"
    path.write_text(text, encoding="utf-8")
    events = _events(_source(path))
    assert len(_upserts(events)) == 9 and "MS010" not in _upserts(events)
    assert not any(isinstance(e, Complete) for e in events)
    assert _problems(events)[0].startswith(
        "sach.csv:row 11: row 11, the last, has 2 cells where the header has 4"
    )
    assert any("cut short" in p for p in _source(path).sample().problems)


# -- through the engine -------------------------------------------------------------------


def test_open_source_and_sync_into_the_store(tmp_path: Path) -> None:
    """Configured as a source, the sheet syncs into the store: exact records and copies;
    after an edit the removed book is a tombstone and the copies are the new ones."""
    folder = tmp_path / "conf"
    folder.mkdir()
    sheet = _school_sheet(folder / "sach.xlsx")
    _age(sheet, 100)
    config = write_config(folder, [{"name": "nd-sach", "library": LIBRARY,
                                    "kind": "spreadsheet", "path": "sach.xlsx",
                                    "reconcile_hours": 0}])  # fmt: skip
    store = open_store(config.store_location)
    try:
        report = sync_source(store, config, "nd-sach")
        assert report.ok, report.error
        ids = sorted(store.local_ids(LIBRARY))
        assert len(ids) == 2 and "isbn-9786040000002" in ids
        stored = store.get(LIBRARY, "isbn-9786040000002")
        assert stored is not None and stored.marc is not None
        assert stored.marc["245"]["a"] == NHUNG
        assert [i.barcode for i in stored.items] == ["TK001", "TK002", "TK003"]
        kieu_id = next(i for i in ids if i.startswith("t-"))

        _school_sheet(sheet, [BOOKS[0], [2, NHUNG, "Nguyễn Văn An; Trần Thị Bình",
                                         "Giáo dục Việt Nam", 2019, "978-604-0-00000-2",
                                         "TK009", "Kho mượn"]])  # fmt: skip
        _age(sheet, 60)  # saved a minute ago: settled
        again = sync_source(store, config, "nd-sach")
        assert again.ok, again.error
        assert list(store.local_ids(LIBRARY)) == ["isbn-9786040000002"]
        gone = store.get(LIBRARY, kieu_id)
        assert gone is not None and gone.deleted
        stored = store.get(LIBRARY, "isbn-9786040000002")
        assert stored is not None
        assert [(i.barcode, i.location) for i in stored.items] == [
            ("TK001", "Kho tham khảo"), ("TK009", "Kho mượn")]  # fmt: skip
    finally:
        store.close()


def test_open_source_reads_the_settings(tmp_path: Path) -> None:
    """The factory resolves relative paths and refuses a rule a spreadsheet cannot use."""
    _age(_school_sheet(tmp_path / "sach.xlsx"), 60)
    settings = SourceSettings(name="s", library=LIBRARY, kind="spreadsheet",
                              options={"path": "sach.xlsx", "encoding": "auto"},
                              directory=str(tmp_path))  # fmt: skip
    source = open_source(settings)
    assert isinstance(source, BibliographicSource)
    assert len(_upserts(list(source.changes(None, overlap_seconds=0)))) == 2
    source.close()
    bad = SourceSettings(name="s", library=LIBRARY, kind="spreadsheet",
                         options={"path": "sach.xlsx", "id_rule": "identifier"},
                         directory=str(tmp_path))  # fmt: skip
    with pytest.raises(SourceError, match="does not apply to a spreadsheet"):
        open_source(bad)


def test_a_whole_csv_without_a_final_line_end_is_complete(tmp_path: Path) -> None:
    """Google Sheets writes no line end after the last row: a file whose last row is
    whole is still the whole catalogue (listed)."""
    path = tmp_path / "sach.csv"
    path.write_bytes(_csv(CATALOGUE).encode("utf-8").rstrip(b"\r\n"))
    _age(path, 100)
    events = _events(_source(path))
    (complete,) = [e for e in events if isinstance(e, Complete)]
    assert complete.ids is not None and len(complete.ids) == 100
    assert not [e for e in events if isinstance(e, Problem)]
