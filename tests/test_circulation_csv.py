"""CSV import for the embedded circulation back end: school spreadsheets, all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from gateway.circulation.csvfiles import CsvError, import_files, read_items, read_patrons
from gateway.circulation.embedded import EmbeddedCirculation
from gateway.demo import build_demo, write_circulation_files

LIBRARIES = ["thpt-ntmk", "dlk-tinh", "dlk-krongpac"]


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[EmbeddedCirculation]:
    """An empty embedded back end in a fresh folder."""
    with EmbeddedCirculation(tmp_path / "circulation.db") as opened:
        yield opened


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_demo_files_import_and_reimport(backend: EmbeddedCirculation, tmp_path: Path) -> None:
    """The demo's patrons.csv, items.csv and loans.csv load completely; loading them
    again reports everything unchanged and leaves the database as it was."""
    catalogue = build_demo("demo.test", today=date(2026, 11, 22))
    paths = write_circulation_files(catalogue, tmp_path / "demo")
    files = list(zip(("patrons", "items", "loans"), paths, strict=True))
    summary = import_files(backend, files, libraries=LIBRARIES)  # type: ignore[arg-type]
    assert summary.patrons.new == len(catalogue.patrons) == 36
    assert summary.items.new == len(catalogue.items)
    assert summary.loans.new == len(catalogue.loans) == 24
    before = backend.dump()
    again = import_files(backend, files, libraries=LIBRARIES)  # type: ignore[arg-type]
    assert again.patrons.unchanged == 36 and again.loans.unchanged == 24
    assert again.items.new == again.items.updated == 0
    assert backend.dump() == before
    one = catalogue.patrons[0]
    assert backend.check_pin(one.library, one.barcode, one.pin)
    loan = catalogue.loans[0]
    item = backend.item(loan.library, loan.item_barcode)
    assert item is not None and item.borrower == loan.patron_barcode
    assert item.due == datetime.combine(loan.due_date, datetime.max.time()).replace(microsecond=0)


def test_vietnamese_headers_bom_and_semicolons(backend: EmbeddedCirculation,
                                               tmp_path: Path) -> None:  # fmt: skip
    """Excel's 'CSV UTF-8' with Vietnamese headers (any case, no marks needed), a BOM and
    semicolons; unknown columns (STT) are ignored; --library fills the library."""
    patrons = _write(tmp_path / "hoc-sinh.csv", "\ufeffSTT;Số thẻ;HỌ VÀ TÊN;Lớp;Mã PIN;Email;"
                     "So dien thoai;Ngày hết hạn\n"
                     "1;HS001;Nguyễn Văn Đức;10A1;1234;duc@example.vn;0905123456;31/05/2027\n"
                     "2;HS002;Trần Thị Mai;10A2;;;;\n")  # fmt: skip
    items = _write(tmp_path / "sach.csv", "Số đăng ký cá biệt,Tên sách,Kho,Ký hiệu phân loại,"
                   "Cho mượn\nNTMK0001,Truyện Kiều,Kho mượn,895.9221 NG-D,có\n"
                   "NTMK0002,Từ điển Anh - Việt,Phòng đọc,423 TU-D,không\n")  # fmt: skip
    summary = import_files(backend, [("patrons", patrons), ("items", items)],
                           default_library="thpt-ntmk", libraries=LIBRARIES)  # fmt: skip
    assert summary.patrons.new == 2 and summary.items.new == 2
    duc = backend.patron("thpt-ntmk", "HS001")
    assert duc is not None and duc.name == "Nguyễn Văn Đức" and duc.phone == "0905123456"
    assert duc.expires == datetime(2027, 5, 31, 23, 59, 59)
    assert backend.check_pin("thpt-ntmk", "HS001", "1234")
    mai = backend.patron("thpt-ntmk", "HS002")
    assert mai is not None and not mai.has_pin
    [row] = backend.patrons("thpt-ntmk", "tran thi")
    assert row.category == "10A2"
    kieu = backend.item("thpt-ntmk", "NTMK0001")
    dictionary = backend.item("thpt-ntmk", "NTMK0002")
    assert kieu is not None and kieu.call_number == "895.9221 NG-D" and kieu.loanable
    assert dictionary is not None and not dictionary.loanable
    assert dictionary.location == "Phòng đọc"


def test_row_problems_name_file_line_and_column(backend: EmbeddedCirculation,
                                                tmp_path: Path) -> None:  # fmt: skip
    """Every problem is file:line: column 'x': problem, with the header as written; a file
    with problems imports nothing, not even its good rows."""
    path = _write(tmp_path / "patrons.csv", "Thư viện,Mã thẻ,Họ tên,Email,Ngày hết hạn\n"
                  "thpt-ntmk,HS001,Nguyễn Văn An,an@example.vn,\n"
                  "thpt-ntmk,,Không Có Thẻ,,\n"
                  "truong-x,HS003,Lê Văn C,,\n"
                  "thpt-ntmk,HS001,Trùng Mã,khong-phai-email,32/13/2027\n")  # fmt: skip
    with pytest.raises(CsvError) as caught:
        import_files(backend, [("patrons", path)], libraries=LIBRARIES)
    assert caught.value.problems == [
        f"{path}:3: column 'Mã thẻ': empty",
        f"{path}:4: column 'Thư viện': 'truong-x' is not a configured library (known: "
        "dlk-krongpac, dlk-tinh, thpt-ntmk)",
        f"{path}:5: column 'Mã thẻ': 'HS001' is also on line 2",
        f"{path}:5: column 'Email': 'khong-phai-email' is not an e-mail address",
        f"{path}:5: column 'Ngày hết hạn': '32/13/2027' is not a date (2027-05-31 or 31/05/2027)",
    ]
    assert backend.counts()["patrons"] == 0


def test_missing_columns_and_library(tmp_path: Path) -> None:
    """A file without a required column is refused at line 1; rows without a library and
    no default are refused."""
    path = _write(tmp_path / "items.csv", "barcode,location\nX1,Kho\n")
    with pytest.raises(CsvError) as caught:
        read_items(path, libraries=LIBRARIES)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{path}:1: column 'title': missing")
    patrons = _write(tmp_path / "p.csv", "barcode,name\nP1,Lan\n")
    with pytest.raises(CsvError) as caught:
        read_patrons(patrons)
    assert caught.value.problems == [
        f"{patrons}:2: column 'library': empty, and no --library given"
    ]


def test_legacy_encodings_are_refused_with_their_name(tmp_path: Path) -> None:
    """A Windows-1258 file is not guessed at: the message names the file, the line and the
    encoding it looks like; UTF-16 is named too."""
    legacy = _write(tmp_path / "cu.csv", "barcode,name\nP1,Tr\u00e2n\nP2,\u0110\u00f4\u0300\n",
                    "cp1258")  # fmt: skip
    with pytest.raises(CsvError) as caught:
        read_patrons(legacy, default_library="thpt-ntmk")
    [message] = caught.value.problems
    assert message.startswith(f"{legacy}:2: byte 0xe2 is not UTF-8")
    assert "Windows-1258" in message and "CSV UTF-8" in message
    utf16 = _write(tmp_path / "u16.csv", "\ufeffbarcode,name\n", "utf-16-le")
    with pytest.raises(CsvError) as caught:
        read_patrons(utf16, default_library="thpt-ntmk")
    assert "UTF-16" in caught.value.problems[0]


def test_files_together_are_all_or_nothing(backend: EmbeddedCirculation, tmp_path: Path) -> None:
    """A loan naming a copy that does not exist stops the patrons and items given with it
    from being stored too."""
    patrons = _write(tmp_path / "p.csv", "barcode,name\nHS001,Lan\n")
    items = _write(tmp_path / "i.csv", "barcode,title\nB1,Sách\n")
    loans = _write(tmp_path / "l.csv", "Số đăng ký cá biệt,Số thẻ,Ngày mượn,Hạn trả\n"
                   "B1,HS001,2026-11-01,15/11/2026\nB9,HS001,2026-11-01,2026-11-15\n")  # fmt: skip
    files = [("patrons", patrons), ("items", items), ("loans", loans)]
    with pytest.raises(CsvError) as caught:
        import_files(backend, files, default_library="thpt-ntmk")  # type: ignore[arg-type]
    assert caught.value.problems == [
        f"{loans}:3: column 'item_barcode': no copy 'B9' in library 'thpt-ntmk'"
    ]
    assert backend.counts() == {"patrons": 0, "items": 0, "loans": 0, "overdue": 0, "holds": 0,
                                "unpaid_fees": 0}  # fmt: skip
    loans.write_text(loans.read_text(encoding="utf-8").replace("B9", "B1"), encoding="utf-8")
    with pytest.raises(CsvError) as caught:
        import_files(backend, files, default_library="thpt-ntmk")  # type: ignore[arg-type]
    assert caught.value.problems == [f"{loans}:3: column 'Số đăng ký cá biệt': 'B1' is also "
                                     "on line 2"]  # fmt: skip
    loans.write_text("item_barcode,patron_barcode,checkout_date,due_date\n"
                     "B1,HS001,2026-11-01,2026-11-15\n", encoding="utf-8")  # fmt: skip
    summary = import_files(backend, files, default_library="thpt-ntmk")  # type: ignore[arg-type]
    assert (summary.patrons.new, summary.items.new, summary.loans.new) == (1, 1, 1)
    [loan] = backend.loans()
    assert loan.checked_out == datetime(2026, 11, 1) and loan.due == datetime(2026, 11, 15, 23,
                                                                              59, 59)  # fmt: skip


def test_quoted_multiline_cells_keep_line_numbers(tmp_path: Path) -> None:
    """A quoted cell spanning two lines does not shift the line numbers of later rows."""
    path = _write(tmp_path / "p.csv", 'barcode,name,address\nP1,Lan,"Số 1\nBuôn Ma Thuột"\n'
                  "P2,,x\n")  # fmt: skip
    with pytest.raises(CsvError) as caught:
        read_patrons(path, default_library="thpt-ntmk")
    assert caught.value.problems == [f"{path}:4: column 'name': empty"]
