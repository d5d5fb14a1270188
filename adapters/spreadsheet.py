"""A school library's book list in Excel (.xlsx) or CSV as a source (``kind: spreadsheet``).

Schools keep their catalogue as a sheet with one row per book or, more often, one row per
copy: the title repeated on every row, each with its own accession number ("Số ĐKCB").
This source reads such a sheet as it is, turns each book into a MARC 21 record with its
copies as items, and treats the file as a complete snapshot every time it changes.

**Headers** are recognised by name, in Vietnamese or English, ignoring case, diacritics
(đ is d), punctuation and spacing, and a parenthesised remark ("Số đăng ký cá biệt
(ĐKCB)"): see :data:`HEADERS` and :data:`TARGETS` for what each becomes. A ``mapping``
file adds or overrides headers (see :func:`load_mapping`). The sheet read is ``sheet``,
else the first visible one; its header row is found among the first
:data:`HEADER_SEARCH_ROWS` rows as the first with at least two known headers, so the
school's name and the list's title above it ("DANH MỤC SÁCH THƯ VIỆN TRƯỜNG ...") do no
harm; a second header row below it (a merged "Xuất bản" over "NXB | Năm XB") is read
with it, and a row numbering the columns ("(1) (2) (3)") right under it is skipped.
Columns nobody knows are left out and named by ``sources test``.

**Books and copies.** Rows are grouped into one record by, in this order, the id column
("Mã sách", "ID", "Mã"), else the ISBN (copies of the same title, author and year that
leave it out join the book that has it), else the folded title, author and year. The local
id is the id column's value, else ``isbn-<ISBN-13>``, else ``t-<16 hex digits>``, a digest
of the folded title, author and year (editing one of those then makes it a new record,
the old one being deleted by the next listing). Books that share an ISBN but not a title
(a reused ISBN, volumes of a set) are kept apart by the digest. A row with nothing but
copy columns (the title cell merged over several rows, or left blank on repeats) is a
further copy of the book above it. Each row's barcode, location and call number become
one :class:`~gateway.record.Item` of that book; a barcode cell may list several barcodes
separated by ``;`` or ``,``. The ``id_rule`` setting can make the id stricter: ``001``
takes it only from the id column, and a field such as ``035$a`` takes it from a column
mapped to that field; a row without it is then a problem, never a guessed id.

**Records** are built directly as MARC 21 (a book's leader, a 40-character 008 with the
year and the language, Vietnamese unless a language column says otherwise, and the fields
in :data:`TARGETS`). The first author is the main entry (110 for an organisation such as
"Bộ Giáo dục và Đào tạo"), the others are added entries; names are separated by ";", or
by "," when every part is a full name ("Nguyễn Du, Tố Hữu", not "Melville, Herman").
008/00-05 is a fixed date, the same as the SQL source uses, because a spreadsheet does
not say when a row was added and "today" would change every record on every sync. Values
are kept as written after Vietnamese NFC normalisation; nothing is punctuated. Numbers
that Excel made of text are handled: 2019.0 is 2019, and an ISBN stored as a number is
trusted only when its check digit proves that no digit was lost (9.78604E+12 is a
problem, not an ISBN).

**Text.** ``.xlsx`` cells are Unicode; text typed with the old ABC (.VnTime, TCVN3) or VNI
fonts shows in them as mojibake ("Nh÷ng nguyªn t¾c") and is converted with
:mod:`crosswalks.legacy` as the library's ``legacy_vietnamese`` setting says (cells vote:
when every converted cell agrees on one encoding, the weaker cells of the sheet are read
in that encoding too). CSV files are decoded as ``encoding`` says; ``auto`` reads UTF-8
(with or without the BOM Excel writes), UTF-16 with a BOM, and otherwise recognises
TCVN3, VNI or Windows-1258 Vietnamese bytes; anything else is refused rather than guessed.

**Changes.** The checkpoint is the file's size, modification time and content digest (and
a digest of the settings that shape the records): an unchanged file gives no events but a
:class:`~adapters.interface.Mark`; a changed one gives every record (the store ignores the
unchanged ones), then a :class:`~adapters.interface.Complete` listing the file's ids. A
row that cannot be read but whose id is known (id column or ISBN) keeps its stored record
in the listing, so a title erased by mistake does not delete the book.

**A file still being written** must not be taken for the catalogue: the books it does not
have yet would be deleted. So a file modified less than ``settle_seconds`` ago is left for
the next sync; a file that changes while it is read gives nothing this time; and a CSV
file that looks cut short gives its rows but no listing, its last row left out: one whose
last row has fewer cells than the header (spreadsheet programs write every cell of every
row; a missing final line end alone is no sign, Google Sheets writes none).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from time import time_ns
from typing import Any

import yaml
from pymarc import Field, Indicators, Record, Subfield

from crosswalks.dc_to_marc import is_personal_name, language_code
from crosswalks.identifiers import isbn_is_valid, isbn_key
from crosswalks.legacy import LegacyEncoding, LegacyMode, decode, detect_bytes, repair_text
from crosswalks.vietnamese import fold, fold_phrase, normalize
from gateway.circulation.csvfiles import header_key, sniff_delimiter
from gateway.record import Item, normalize_record

from .interface import Complete, Event, Mark, Problem, Sample, SourceError, SourceSettings, Upsert
from .records import id_rule as parse_id_rule

__all__ = [
    "HEADERS",
    "TARGETS",
    "HEADER_SEARCH_ROWS",
    "ENTERED",
    "Column",
    "SETTLE_SECONDS",
    "SpreadsheetSource",
    "load_mapping",
    "open_source",
]

#: A file modified more recently than this is taken to be still being written.
SETTLE_SECONDS = 10.0
#: How many rows from the top are searched for the header row.
HEADER_SEARCH_ROWS = 10
#: 008/00-05 (date entered on file) of every record: fixed, see the module docstring.
ENTERED = date(2000, 1, 1)
#: Changes when the records built from the same file would change, so files are read again.
_RECORDS_VERSION = 1
_CHECKPOINT_VERSION = 1
_LEADER = "00000nam a22000007  4500"
_SAMPLE_PROBLEMS = 20
_DETECT_BYTES = 65536

#: Built-in fields and the headers that name them, folded as :func:`column_key` folds.
HEADERS: dict[str, tuple[str, ...]] = {
    "id": ("ma sach", "id", "ma", "ma tai lieu", "ma bieu ghi", "record id"),
    "title": ("ten sach", "nhan de", "tieu de", "title", "ten tai lieu", "nhan de chinh"),
    "subtitle": ("phu de", "nhan de phu", "subtitle"),
    "author": ("tac gia", "author", "authors", "ten tac gia", "tac gia chinh"),
    "publisher": ("nha xuat ban", "nxb", "nha xb", "publisher"),
    "place": ("noi xuat ban", "noi xb", "place of publication", "place"),
    "year": ("nam xuat ban", "nam xb", "year", "nam", "publication year"),
    "edition": ("lan xuat ban", "tai ban", "lan tai ban", "edition"),
    "isbn": ("isbn", "ma isbn", "so isbn"),
    "price": ("gia", "gia tien", "gia bia", "don gia", "price"),
    "classification": ("mon loai", "phan loai", "ddc", "ky hieu phan loai", "so phan loai",
                       "classification"),
    "subject": ("chu de", "tu khoa", "subject", "subjects", "keywords"),
    "language": ("ngon ngu", "language"),
    "pages": ("so trang", "trang", "pages"),
    "note": ("ghi chu", "note", "notes"),
    "barcode": ("so dang ky ca biet", "dkcb", "so dkcb", "sdkcb", "ma dkcb", "ma vach",
                "barcode"),
    "location": ("kho", "vi tri", "kho sach", "location"),
    "call_number": ("ky hieu xep gia", "call number"),
    "copies": ("so luong", "so ban", "so cuon", "copies"),
}  # fmt: skip
#: What each built-in field becomes (shown by ``sources test``).
TARGETS: dict[str, str] = {
    "id": "record id, 001",
    "title": "245 $a",
    "subtitle": "245 $b",
    "author": "100 $a, others 700 $a",
    "publisher": "260 $b",
    "place": "260 $a",
    "year": "260 $c, 008/07-10",
    "edition": "250 $a",
    "isbn": "020 $a",
    "price": "020 $c",
    "classification": "082 $a (DDC numbers) or 084 $a",
    "subject": "650 $a (split on ';' and ',')",
    "language": "041 $a, 008/35-37",
    "pages": "300 $a",
    "note": "500 $a",
    "barcode": "copy barcode",
    "location": "copy location",
    "call_number": "copy call number",
    "copies": "number of copies (not stored)",
}
_COPY_FIELDS = frozenset({"barcode", "location", "call_number", "copies"})
_IGNORE = "ignore"
_MARC_TARGET = re.compile(r"^(0[1-9][0-9]|[1-9][0-9]{2})\$([a-z0-9])$")

_PUNCTUATION = re.compile(r"[^\w ]+")
_PARENTHESISED = re.compile(r"\([^)]*\)|\[[^]]*\]")
_YEAR = re.compile(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)")
_FLOAT_YEAR = re.compile(r"^(\d{4})\.0+$")
_DDC = re.compile(r"^[0-9]{3}(?:\.[0-9]+)?$")
_SCIENTIFIC = re.compile(r"^\d(?:[.,]\d+)?[eE][+]?\d+$")
_ISBN_TEXT = re.compile(r"(?<![0-9Xx])(?:97[89][\s-]?)?(?:[0-9][\s-]?){8,9}[0-9Xx](?![0-9])")
_BARCODE_RANGE = re.compile(r"^(\D*)(\d+)\s*-\s*\1?(\d+)$")
_COLUMN_NUMBER = re.compile(r"^\(?(?:[0-9]{1,2}|[A-Za-z])\)?$")
_TOTAL_LINE = ("tong cong", "tong so")
_SEP_LINE = re.compile(r"sep=([,;\t|])[ \t]*(?:\r\n|\n|\r)")
#: Values that mean "none" in a school's ISBN column ("-", "không có", "chưa có").
_NO_VALUE = frozenset({"", "-", "--", "x", "0", "khong", "khong co", "chua co", "n a", "na"})
#: Roles written after a name ("Nguyễn Văn An, chủ biên"): such a comma separates no names.
_ROLES = frozenset({"chu bien", "tong chu bien", "dong chu bien", "bien soan", "chu bien bien soan",
                    "dich", "bien dich", "nguoi dich", "hieu dinh", "minh hoa", "tuyen chon",
                    "gioi thieu", "ed", "eds", "editor", "editors", "translator"})  # fmt: skip
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


# -- columns and the mapping file -----------------------------------------------------------


def column_key(text: str) -> str:
    """A header as matched: :func:`~gateway.circulation.csvfiles.header_key` (folded,
    separators collapsed) with the remaining punctuation dropped too."""
    return " ".join(_PUNCTUATION.sub(" ", header_key(text)).split())


def _keys(text: str) -> tuple[str, ...]:
    """The keys a header is looked up by: as written, then without a remark in brackets."""
    full = column_key(text)
    bare = column_key(_PARENTHESISED.sub(" ", text))
    return (full, bare) if bare and bare != full else (full,)


@dataclass(frozen=True, slots=True)
class Column:
    """A column the source reads: where it is, its header as written, what it becomes.

    ``target`` is a built-in field name (a key of :data:`HEADERS`) or a MARC data field
    and subfield such as ``035$a`` from the mapping file, with ``split`` separating
    several values in one cell.
    """

    index: int
    header: str
    target: str
    split: str | None = None


def load_mapping(path: Path) -> dict[str, tuple[str, str | None]]:
    """A mapping file's headers (folded) and what they become: (target, split).

    Layout::

        columns:
          "Giá tiền": price            # a built-in field (see TARGETS)
          "Mã cũ": "035$a"             # a MARC field and subfield
          "Từ khóa": {field: "653$a", split: ";"}
          "STT": ignore                # known, and deliberately not read

    Raises :class:`SourceError` naming the file and the key for anything else.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise SourceError(f"cannot read the mapping file {path}: {exc.strerror or exc}",
                          retryable=False) from None  # fmt: skip
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise SourceError(f"mapping file {path} is not valid YAML: {reason}",
                          retryable=False) from None  # fmt: skip
    if not isinstance(data, dict) or set(data) - {"columns"} or "columns" not in data:
        raise SourceError(f"mapping file {path}: expected one key, 'columns', mapping each "
                          "header to a field", retryable=False)  # fmt: skip
    columns = data["columns"]
    if not isinstance(columns, dict) or not columns:
        raise SourceError(f"mapping file {path}: 'columns' must map headers to fields",
                          retryable=False)  # fmt: skip
    known = ", ".join(sorted(TARGETS))
    found: dict[str, tuple[str, str | None]] = {}
    for header, value in columns.items():
        where = f"mapping file {path}: columns: {header!r}"
        split: str | None = None
        if isinstance(value, dict):
            if set(value) - {"field", "split"} or "field" not in value:
                raise SourceError(f"{where}: expected 'field' and optionally 'split'",
                                  retryable=False)  # fmt: skip
            split = None if value.get("split") is None else str(value["split"])
            if split == "":
                raise SourceError(f"{where}: 'split' is empty", retryable=False)
            value = value["field"]
        target = str(value).strip() if value is not None else ""
        builtin = target in TARGETS or target == _IGNORE
        if not builtin and not _MARC_TARGET.match(target):
            raise SourceError(f"{where}: {target!r} is not a field: use one of {known}, "
                              "ignore, or a MARC field and subfield such as 035$a",
                              retryable=False)  # fmt: skip
        if builtin:
            split = None  # built-in fields split as TARGETS says (authors, subjects)
        key = column_key(str(header))
        if not key:
            raise SourceError(f"{where}: the header is empty", retryable=False)
        found[key] = (target, split)
    return found


# -- reading the file into rows -------------------------------------------------------------


@dataclass(slots=True)
class _Table:
    """A sheet's rows (1-based row number, cell values) and how the file was read."""

    rows: list[tuple[int, list[Any]]]
    kind: str  #: "xlsx" or "csv"
    sheet: str | None = None
    encoding: str | None = None  #: CSV: how the bytes were read
    separator: str | None = None
    converted: bool = False  #: CSV: already decoded from a legacy encoding
    line_ended: bool = True  #: CSV: the text ends with a line end (else it may be cut short)


def _clean(value: Any) -> Any:
    """A cell value with text in Vietnamese NFC and runs of white space made one space."""
    if isinstance(value, str):
        text = " ".join(value.split())
        return normalize(text) if not text.isascii() else text
    return value


def _sniff(data: bytes) -> str:
    """What the bytes are: "zip" (an .xlsx), "ole" (old .xls, or an encrypted workbook)."""
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    return "text"


def _read_xlsx(path: Path, data: bytes, sheet: str | None) -> _Table:
    import openpyxl  # only sources that read workbooks load it

    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (data validation, styles); harmless.
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheets = list(book.worksheets)
                if not sheets:
                    raise SourceError(f"{path}: the workbook has no worksheet",
                                      retryable=False)  # fmt: skip
                chosen = _choose_sheet(path, sheets, sheet)
                if hasattr(chosen, "reset_dimensions"):
                    # Some programs write a wrong size; read every row that is there.
                    chosen.reset_dimensions()
                rows = [
                    (number, [_clean(v) for v in values])
                    for number, values in enumerate(
                        chosen.iter_rows(min_row=1, min_col=1, values_only=True), 1
                    )
                ]
                title = str(chosen.title)
            finally:
                book.close()
    except SourceError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        reason = " ".join(str(exc).split()) or type(exc).__name__
        message = f"{path}: not a readable Excel workbook ({reason}); save it again as .xlsx"
        raise SourceError(message, retryable=False) from None
    return _Table(rows, "xlsx", sheet=title)


def _choose_sheet(path: Path, sheets: list[Any], wanted: str | None) -> Any:
    if wanted is None:
        visible = [s for s in sheets if getattr(s, "sheet_state", "visible") == "visible"]
        return (visible or sheets)[0]
    for match in (lambda s: s.title == wanted, lambda s: fold(s.title) == fold(wanted)):
        for candidate in sheets:
            if match(candidate):
                return candidate
    names = ", ".join(repr(s.title) for s in sheets)
    raise SourceError(f"{path}: there is no sheet {wanted!r}; the sheets are {names}",
                      retryable=False)  # fmt: skip


def _refuse_ole(path: Path, data: bytes) -> SourceError:
    if "EncryptedPackage".encode("utf-16-le") in data:
        return SourceError(f"{path}: the workbook is protected with a password; save a copy "
                           "without the password (File > Info > Protect Workbook) for the "
                           "gateway to read", retryable=False)  # fmt: skip
    return SourceError(f"{path}: this is an old Excel 97-2003 workbook (.xls), which is not "
                       "read; open it in Excel and save it as .xlsx (Excel Workbook) or as "
                       "CSV UTF-8", retryable=False)  # fmt: skip


def _looks_cp1258(text: str) -> bool:
    """True when a Windows-1258 reading of the bytes (NFC) is plainly Vietnamese: letters
    only Vietnamese has (ơ ư ă đ, tones composed on vowels), and no tone mark left over on
    something that is not a vowel (which is what a wrong reading leaves)."""
    letters = sum(1 for ch in text if ord(ch) > 0xFF and ch.isalpha())
    loose = sum(1 for ch in text if ch in _TONE_MARKS)
    return letters >= 2 and loose * 20 <= letters


def _decode_csv(
    path: Path, data: bytes, encoding: str, legacy: LegacyMode
) -> tuple[str, str, bool]:
    """The text of a CSV file, how it was read, and whether it was converted from a legacy
    encoding (then its text needs no repair)."""
    wanted = encoding.lower().replace("_", "-")
    if wanted == "auto":
        if data.startswith(codecs.BOM_UTF8):
            return _strict(path, data[3:], "utf-8"), "UTF-8 with BOM", False
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return _strict(path, data, "utf-16"), "UTF-16", False
        try:
            return data.decode("utf-8"), "UTF-8", False
        except UnicodeDecodeError as exc:
            first_bad = exc.start
        # The first 64 KiB hold hundreds of rows: evidence enough, and far quicker.
        found = detect_bytes(data[:_DETECT_BYTES], legacy)
        if found is None and len(data) > _DETECT_BYTES:
            found = detect_bytes(data, legacy)
        if found is not None:
            label = "TCVN3 (ABC)" if found is LegacyEncoding.TCVN3 else "VNI-Windows"
            return decode(data, found), label, True
        reading = unicodedata.normalize("NFC", data.decode("cp1258", errors="replace"))
        if _looks_cp1258(reading):
            return reading, "Windows-1258", True
        line = data.count(b"\n", 0, first_bad) + 1
        raise SourceError(
            f"{path}:{line}: byte 0x{data[first_bad]:02x} is not UTF-8, and the file does not "
            "read as TCVN3, VNI or Windows-1258 Vietnamese; save it in Excel as 'CSV UTF-8 "
            "(Comma delimited)', or set this source's encoding",
            retryable=False,
        )
    if wanted in ("tcvn3", "vni"):
        return decode(data, LegacyEncoding(wanted)), wanted.upper(), True
    if wanted in ("utf-8", "utf8", "utf-8-sig"):
        return _strict(path, data, "utf-8-sig"), "UTF-8", False
    try:
        name = codecs.lookup(wanted).name
    except LookupError:
        raise SourceError(f"encoding {encoding!r} is not known: use auto, utf-8, utf-16, "
                          "cp1258, tcvn3 or vni", retryable=False) from None  # fmt: skip
    text = unicodedata.normalize("NFC", _strict(path, data, name))
    return text, name, name == "cp1258"


def _strict(path: Path, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = (f"{path}:{line}: byte 0x{data[exc.start]:02x} is not {encoding} text; "
                   "check this source's encoding")  # fmt: skip
        raise SourceError(message, retryable=False) from None


def _read_csv(path: Path, data: bytes, encoding: str, legacy: LegacyMode) -> _Table:
    text, label, converted = _decode_csv(path, data, encoding, legacy)
    text = text.lstrip("\ufeff")
    directive = _SEP_LINE.match(text)
    if directive:  # Excel's "sep=;" first line names the separator (Excel hides the line)
        separator, text = directive.group(1), text[directive.end() :]
    else:
        # The header may sit below a title line without separators: sniff the busiest line.
        lines = text.splitlines()[:HEADER_SEARCH_ROWS]
        separators = [sniff_delimiter(line) for line in lines] or [","]
        separator = max(zip(separators, lines or [""], strict=True),
                        key=lambda pair: pair[1].count(pair[0]))[0]  # fmt: skip
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    rows: list[tuple[int, list[Any]]] = []
    try:
        for number, record in enumerate(reader, 1):
            rows.append((number, [_clean(cell) for cell in record]))
    except csv.Error as exc:
        raise SourceError(f"{path}:row {len(rows) + 1}: {exc}", retryable=False) from None
    return _Table(rows, "csv", encoding=label, separator=separator, converted=converted,
                  line_ended=not text or text.endswith(("\n", "\r")))  # fmt: skip


def _repair(rows: list[tuple[int, list[Any]]], mode: LegacyMode) -> int:
    """Convert TCVN3/VNI mojibake in text cells in place; return how many cells changed.

    When every cell that converts on its own evidence agrees on one encoding, the sheet
    is taken to be typed in it and the remaining cells are read with the lower bar a
    declared encoding has, as :func:`crosswalks.legacy.repair_record` does for a record.
    """
    if mode is LegacyMode.OFF:
        return 0
    votes: Counter[LegacyEncoding] = Counter()
    pending: list[tuple[list[Any], int]] = []
    for _, cells in rows:
        for index, value in enumerate(cells):
            if isinstance(value, str) and not value.isascii():
                text, found = repair_text(value, mode)
                if found is None:
                    pending.append((cells, index))
                else:
                    cells[index] = normalize(text)
                    votes[found] += 1
    changed = sum(votes.values())
    if len(votes) == 1 and mode is LegacyMode.AUTO:
        declared = LegacyMode(next(iter(votes)).value)
        for cells, index in pending:
            text, found = repair_text(cells[index], declared)
            if found is not None:
                cells[index] = normalize(text)
                changed += 1
    return changed


# -- cells ----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell as text: whole numbers without ".0", dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _year(value: Any) -> tuple[str, str | None]:
    """The year as written for 260 $c, and its four digits for 008 (None: no year)."""
    if isinstance(value, datetime | date):
        return str(value.year), str(value.year)
    text = _text(value)
    plain = _FLOAT_YEAR.match(text)
    if plain:
        text = plain.group(1)
    match = _YEAR.search(text)
    return text, match.group(1) if match else None


def _isbns(value: Any) -> tuple[list[tuple[str, str]], str | None]:
    """The 020 subfields ($a valid, $z wrong check digit) in an ISBN cell, and a problem.

    A number is trusted only with a valid check digit: Excel turns long numbers into
    floats and CSV exports print them as 9.78604E+12, losing digits for good. An ISBN-10
    that began with 0 is given its zero back when the check digit then agrees.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        shown = _text(value)
        if isinstance(value, float) and not value.is_integer():
            return [], (f"ISBN {value!r} was stored as a number with a fraction; type the "
                        "ISBN as text")  # fmt: skip
        digits = str(int(value))
        if len(digits) == 9:
            digits = "0" + digits
        if len(digits) in (10, 13) and isbn_is_valid(digits):
            return [("a", digits)], None
        return [], (f"ISBN {shown} was stored as a number and has lost digits (its check "
                    "digit does not agree); type the ISBN as text, left out")  # fmt: skip
    text = _text(value).strip()
    if fold_phrase(text) in _NO_VALUE:
        return [], None
    if _SCIENTIFIC.match(text.replace(" ", "")):
        return [], (f"ISBN {text!r} was saved as a rounded number and has lost digits; "
                    "type the ISBN as text, left out")  # fmt: skip
    found: list[tuple[str, str]] = []
    for part in re.split(r"[;,/]", text):
        match = _ISBN_TEXT.search(part)
        if match is None:
            if part.strip():
                return found, f"{part.strip()!r} is not an ISBN, left out"
            continue
        digits = re.sub(r"[\s-]", "", match.group(0)).upper()
        found.append(("a" if isbn_is_valid(digits) else "z", digits))
    return found, None


# -- one row --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    """One data row: the values of the columns read, by target."""

    number: int
    values: dict[str, Any]
    extra: list[tuple[Column, str]]

    def text(self, name: str) -> str:
        return _text(self.values.get(name)).strip()

    def has_book(self) -> bool:
        """Whether the row says anything about a book (not only about a copy)."""
        return bool(self.extra) or any(
            _text(value).strip() for name, value in self.values.items()
            if name not in _COPY_FIELDS
        )  # fmt: skip


def _split(text: str, separators: str) -> list[str]:
    return [part.strip() for part in re.split(f"[{re.escape(separators)}]", text) if part.strip()]


def _authors(text: str) -> list[str]:
    """The names in an author cell: split on ";", and on "," when every part is a full
    name of two words or more ("Nguyễn Du, Tố Hữu") and none is a role ("chủ biên"), so an
    inverted name ("Melville, Herman") stays one name."""
    names: list[str] = []
    for part in _split(text, ";"):
        pieces = _split(part, ",")
        whole = all(len(p.split()) >= 2 and fold_phrase(p) not in _ROLES for p in pieces)
        names += pieces if len(pieces) > 1 and whole else [part]
    return names


def _field(tag: str, indicators: str, *subfields: tuple[str, str]) -> Field:
    return Field(
        tag=tag,
        indicators=Indicators(indicators[0], indicators[1]),
        subfields=[Subfield(code, value) for code, value in subfields],
    )


def _record(row: _Row, notes: list[str]) -> Record:
    """The MARC 21 record of a row that has a title; trouble with a value goes to
    ``notes`` (the record is still made, without that value)."""
    fields: list[Field] = []
    isbns, problem = _isbns(row.values.get("isbn"))
    if problem:
        notes.append(f"column {'ISBN'!r}: {problem}")
    price = row.text("price")
    if isbns:
        fields += [_field("020", "  ", isbn) for isbn in isbns]
        if price:
            fields[0].add_subfield("c", price)
    elif price:
        fields.append(_field("020", "  ", ("c", price)))

    languages: list[str] = []
    unknown_languages: list[str] = []
    for value in _split(row.text("language"), ";,/"):
        code = language_code(value)
        (languages if code else unknown_languages).append(code or value)
    if languages:
        fields.append(_field("041", "0 ", *[("a", code) for code in languages]))
    language = languages[0] if languages else ("und" if unknown_languages else "vie")

    classification = row.text("classification")
    if classification:
        ddc = _DDC.match(classification)
        fields.append(_field("082" if ddc else "084", "04" if ddc else "  ",
                             ("a", classification)))  # fmt: skip

    authors = _authors(row.text("author"))
    main_entry = False
    for number, name in enumerate(authors):
        person = is_personal_name(name)
        if number == 0:
            main_entry = True
            fields.append(_field("100" if person else "110",
                                 ("1 " if "," in name else "0 ") if person else "2 ",
                                 ("a", name)))  # fmt: skip
        else:
            fields.append(_field("700" if person else "710",
                                 ("1 " if "," in name else "0 ") if person else "2 ",
                                 ("a", name)))  # fmt: skip

    title = [("a", row.text("title"))]
    if row.text("subtitle"):
        title.append(("b", row.text("subtitle")))
    fields.append(_field("245", ("1" if main_entry else "0") + "0", *title))
    if row.text("edition"):
        fields.append(_field("250", "  ", ("a", row.text("edition"))))

    year_text, year = _year(row.values.get("year"))
    imprint = [(code, row.text(name)) for code, name in (("a", "place"), ("b", "publisher"))]
    imprint = [(code, value) for code, value in imprint if value]
    if year_text:
        imprint.append(("c", year_text))
    if imprint:
        fields.append(_field("260", "  ", *imprint))

    pages = row.text("pages")
    if pages:
        if pages.isdigit():
            pages += " tr." if language == "vie" else " p."
        fields.append(_field("300", "  ", ("a", pages)))
    if row.text("note"):
        fields.append(_field("500", "  ", ("a", row.text("note"))))
    fields += [_field("546", "  ", ("a", value)) for value in unknown_languages]
    fields += [_field("650", " 4", ("a", s)) for s in _split(row.text("subject"), ";,")]

    fields.sort(key=lambda f: f.tag)  # stable: the sheet's order within a tag
    dates = f"s{year}    " if year else "nuuuuuuuu"
    country = "vm " if language == "vie" else "xx "
    f008 = f"{ENTERED:%y%m%d}{dates}{country}{'|' * 17}{language} d"
    record = Record(force_utf8=True, leader=_LEADER)
    record.add_field(Field(tag="008", data=f008), *fields)
    for column, value in row.extra:
        _add_extra(record, column, value)
    return record


def _add_extra(record: Record, column: Column, value: str) -> None:
    """A mapped ``TAG$code`` column: its subfield joins the record's first field with that
    tag when that field lacks the code (245 $b, 020 $c), else it is a field of its own."""
    tag, code = column.target.split("$")
    values = _split(value, column.split) if column.split else [value]
    existing = record.get(tag)
    for number, text in enumerate(values):
        if number == 0 and existing is not None and not existing.get_subfields(code):
            existing.add_subfield(code, text)
        else:
            record.add_ordered_field(_field(tag, "  ", (code, text)))


def _digest_id(row: _Row) -> str:
    year_text, year = _year(row.values.get("year"))
    key = "|".join((fold_phrase(row.text("title")), fold_phrase(row.text("author")),
                    year or fold_phrase(year_text)))  # fmt: skip
    return "t-" + hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def _isbn_id(row: _Row) -> str | None:
    isbns, _ = _isbns(row.values.get("isbn"))
    for _code, digits in isbns:
        key = isbn_key(digits)
        if key:
            return f"isbn-{key}"
    return None


def _clean_id(value: Any) -> str | None:
    text = _text(value).strip()
    return (text if text.isascii() else normalize(text)) or None


# -- a whole file ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Book:
    """A record being gathered: the row that made it and its copies."""

    local_id: str
    record: Record
    row: int
    title: str  #: folded, to notice rows that share an id but not a title
    items: list[Item] = field(default_factory=list)


@dataclass(slots=True)
class _IsbnPlan:
    """Grouping by ISBN, decided over the whole sheet so that the order of rows does not
    matter: ISBN ids given to books with different titles (kept apart), the ISBN id of
    each title/author/year that has exactly one (for rows of that book that leave the
    ISBN out), and the first row with each ISBN (the record is made from it)."""

    shared: set[str] = field(default_factory=set)
    by_digest: dict[str, str] = field(default_factory=dict)
    first: dict[str, _Row] = field(default_factory=dict)


@dataclass(slots=True)
class _Parsed:
    """Everything one reading of the file found."""

    table: _Table
    header_row: int
    used: list[Column]
    unused: list[tuple[str, str]]  #: (header, why)
    books: dict[str, _Book]
    problems: list[Problem]
    kept: set[str]  #: ids of rows that could not be read: their stored records stay
    rows: int  #: data rows read (empty ones not counted)
    repaired: int
    #: Why the file looks cut short (a CSV still being copied): then it lists nothing.
    cut_short: Problem | None = None

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self.books) | frozenset(self.kept)

    @property
    def copies(self) -> int:
        return sum(len(book.items) for book in self.books.values())


class SpreadsheetSource:
    """One .xlsx or .csv file of a library's books (see the module docstring)."""

    def __init__(
        self,
        path: str | Path,
        *,
        library: str,
        sheet: str | None = None,
        encoding: str = "auto",
        mapping: str | Path | None = None,
        id_rule: str | None = None,
        legacy: LegacyMode = LegacyMode.AUTO,
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.settle_seconds = settle_seconds
        self.name = self.path.name
        self.library = library
        self.sheet = sheet
        self.encoding = encoding or "auto"
        self.legacy = legacy
        rule = (id_rule or "").strip() or None
        if rule is not None and rule != "001" and not _MARC_TARGET.match(rule):
            raise ValueError(f"id_rule {id_rule!r} does not apply to a spreadsheet: leave "
                             "it out, or use 001 (the id column) or a mapped field such as "
                             "035$a")  # fmt: skip
        self.id_rule = rule
        self.headers: dict[str, tuple[str, str | None]] = {
            alias: (name, None) for name, aliases in HEADERS.items() for alias in aliases
        }
        mapping_digest = ""
        if mapping is not None:
            mapping_path = Path(mapping)
            self.headers.update(load_mapping(mapping_path))
            mapping_digest = hashlib.blake2b(mapping_path.read_bytes(), digest_size=8).hexdigest()
        shape = [_RECORDS_VERSION, sheet, self.encoding, rule, str(legacy), library, mapping_digest]
        self._settings = hashlib.blake2b(json.dumps(shape).encode(), digest_size=8).hexdigest()
        #: (size, mtime_ns) and ids of the last reading (None: it looked cut short), for
        #: current_ids after changes
        self._ids: tuple[tuple[int, int], frozenset[str] | None] | None = None
        self._id_header = "id"

    # -- reading --------------------------------------------------------------------------

    def _stat(self) -> os.stat_result:
        """The file's size and times; SourceError when it is not there."""
        try:
            info = self.path.stat()
            if self.path.is_dir():
                raise SourceError(f"{self.path} is a folder; set path to the .xlsx or .csv "
                                  "file itself", retryable=False)  # fmt: skip
        except FileNotFoundError:
            raise SourceError(f"{self.path} does not exist") from None
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        return info

    def _load(self) -> tuple[bytes, int, int]:
        """The file's bytes, size and modification time; SourceError when it is not there,
        :class:`_Unsteady` when it changed while it was read (a torn copy of a file being
        saved must not be taken for the catalogue)."""
        info = self._stat()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise SourceError(f"{self.path} does not exist") from None
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        after = self._stat()
        stamp = (info.st_size, info.st_mtime_ns)
        if len(data) != info.st_size or (after.st_size, after.st_mtime_ns) != stamp:
            raise _Unsteady(self.path)
        return data, info.st_size, info.st_mtime_ns

    def _settling(self, info: os.stat_result) -> Problem | None:
        """A Problem when the file was modified within the settle time (it may still be
        being saved or copied), else None."""
        if time_ns() - info.st_mtime_ns >= int(self.settle_seconds * 1e9):
            return None
        return Problem(self.name, f"changed in the last {self.settle_seconds:g} s; read at "
                       "the next sync")  # fmt: skip

    def _table(self, data: bytes) -> _Table:
        kind = _sniff(data)
        suffix = self.path.suffix.lower()
        if kind == "ole":
            raise _refuse_ole(self.path, data)
        if kind == "zip":
            return _read_xlsx(self.path, data, self.sheet)
        if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
            raise SourceError(f"{self.path}: not an Excel workbook (the file is not a zip "
                              "archive, so it is damaged or something else renamed); open it "
                              "in Excel and save it again", retryable=False)  # fmt: skip
        return _read_csv(self.path, data, self.encoding, self.legacy)

    def _parse(self, data: bytes, stamp: tuple[int, int]) -> _Parsed:
        """A fresh reading (records are handed out, and the engine changes them in place,
        so only the ids are remembered)."""
        table = self._table(data)
        repaired = 0 if table.converted else _repair(table.rows, self.legacy)
        parsed = self._read(table, repaired)
        self._ids = (stamp, None if parsed.cut_short is not None else parsed.ids)
        return parsed

    def _target(self, header: str) -> tuple[str, str | None] | None:
        for key in _keys(header):
            if key in self.headers:
                return self.headers[key]
        return None

    def _header_row(self, rows: list[tuple[int, list[Any]]]) -> tuple[int, dict[int, str]]:
        """The position of the (last) header row in ``rows`` and the headers by column."""
        top = rows[:HEADER_SEARCH_ROWS]

        def known(cells: list[Any]) -> dict[int, str]:
            found = {}
            for index, value in enumerate(cells):
                text = _text(value).strip()
                target = self._target(text) if text else None
                if target is not None and target[0] != _IGNORE:
                    found[index] = text
            return found

        recognised = [known(cells) for _, cells in top]
        chosen = next((i for i, found in enumerate(recognised) if len(found) >= 2), None)
        if chosen is None:
            chosen = next((i for i, found in enumerate(recognised)
                           if any(self._target(h) == ("title", None) for h in found.values())),
                          None)  # fmt: skip
        if chosen is None:
            first = next(((n, c) for n, c in top if any(_text(v).strip() for v in c)), None)
            found_text = (
                f"row {first[0]} has " + ", ".join(repr(_text(v).strip()) for v in first[1]
                                                   if _text(v).strip())
                if first else "the file has no rows"
            )  # fmt: skip
            raise SourceError(
                f"{self.path}: no title column: no row among the first {HEADER_SEARCH_ROWS} "
                "has the headers of a book list (a title column such as 'Tên sách', 'Nhan "
                f"đề', 'Tiêu đề' or 'Title' is needed); {found_text}",
                retryable=False,
            )
        headers = {i: _text(v).strip() for i, v in enumerate(top[chosen][1]) if _text(v).strip()}
        # A second header row: known headers only where the first row is empty or unknown,
        # and nothing under the first row's known headers (they are merged down).
        if chosen + 1 < len(rows):
            below = rows[chosen + 1][1]
            sub = known(below)
            upper = recognised[chosen]
            under_known = any(_text(below[i]).strip() for i in upper if i < len(below))
            if sub and not under_known and not any(i in upper for i in sub):
                headers.update(sub)
                return chosen + 1, headers
        return chosen, headers

    def _columns(
        self, headers: dict[int, str], header_number: int
    ) -> tuple[list[Column], list[tuple[str, str]]]:
        used: list[Column] = []
        unused: list[tuple[str, str]] = []
        taken: dict[str, str] = {}
        for index, header in sorted(headers.items()):
            target = self._target(header)
            if target is None:
                unused.append((header, "not used"))
            elif target[0] == _IGNORE:
                unused.append((header, "ignored (mapping file)"))
            elif target[0] in taken:
                unused.append((header, f"not used: means the same as column "
                               f"{taken[target[0]]!r}"))  # fmt: skip
            else:
                if target[0] in TARGETS:
                    taken[target[0]] = header
                used.append(Column(index, header, target[0], target[1]))
        if "title" not in taken:
            found = ", ".join(repr(h) for _, h in sorted(headers.items()))
            raise SourceError(
                f"{self.path}: no title column (one headed 'Tên sách', 'Nhan đề', 'Tiêu đề' "
                f"or 'Title' is needed); the headers in row {header_number} are {found}",
                retryable=False,
            )
        if self.id_rule == "001" and "id" not in taken:
            raise SourceError(f"{self.path}: id_rule 001 takes each book's id from an id "
                              "column ('Mã sách', 'ID', 'Mã'), and there is none",
                              retryable=False)  # fmt: skip
        return used, unused

    def _read(self, table: _Table, repaired: int) -> _Parsed:
        rows = table.rows
        position, headers = self._header_row(rows)
        header_number = rows[position][0]
        used, unused = self._columns(headers, header_number)
        data_rows = rows[position + 1 :]
        cut_short = None
        if table.kind == "csv":
            cut_short, data_rows = self._cut_short(table, rows[position], data_rows, headers)
        self._id_header = _header(used, "id")
        problems: list[Problem] = []
        where = self.name
        entries: list[tuple[str, _Row]] = []  # ("book" | "copy" | "skipped", row)
        kept: set[str] = set()
        count = 0
        for number, cells in data_rows:
            row = _Row(number, {}, [])
            for column in used:
                value = cells[column.index] if column.index < len(cells) else None
                if value is None or (isinstance(value, str) and not value):
                    continue
                if column.target in TARGETS:
                    row.values[column.target] = value
                else:
                    row.extra.append((column, _text(value).strip()))
            if not row.values and not row.extra:
                continue  # empty, or only cells of columns not read ("STT")
            if count == 0 and _numbers_columns(cells):
                continue  # "(1) (2) (3)" under the headers
            count += 1
            at = f"{where}:row {number}"
            if not row.has_book():
                entries.append(("copy", row))
                continue
            title = row.text("title")
            if not title:
                known = self._known_id(row)
                if known:
                    kept.add(known)
                problems.append(Problem(at, f"no title (column {_header(used, 'title')!r} is "
                                        "empty); row not read"))  # fmt: skip
                entries.append(("skipped", row))  # copies below it are not the book above's
                continue
            if _is_total_line(row):
                problems.append(Problem(at, f"{title!r} looks like a total line; not read"))
                entries.append(("skipped", row))
                continue
            entries.append(("book", row))

        plan = self._isbn_plan(entries)
        books: dict[str, _Book] = {}
        barcodes: dict[str, int] = {}
        current: _Book | None = None
        for kind, row in entries:
            at = f"{where}:row {row.number}"
            if kind == "skipped":
                current = None
                continue
            if kind == "book":
                book = self._book(row, at, books, plan, problems)
                if book is None:
                    current = None
                    continue
                current = book
            elif current is None:
                problems.append(Problem(at, "a copy without a book: no title on this row, "
                                        "and the row above is no book; row not read"))  # fmt: skip
                continue
            self._copies(row, current, at, barcodes, problems)
        problems.sort(key=_row_of)  # in the order of the sheet
        return _Parsed(table, header_number, used, unused, books, problems, kept - set(books),
                       count, repaired, cut_short)  # fmt: skip

    def _cut_short(
        self,
        table: _Table,
        header: tuple[int, list[Any]],
        data_rows: list[tuple[int, list[Any]]],
        headers: dict[int, str],
    ) -> tuple[Problem | None, list[tuple[int, list[Any]]]]:
        """Whether a CSV file looks cut short, and the data rows to read: all of them, or
        all but the last, which may be only part of a row."""
        last = len(data_rows) - 1
        while last >= 0 and not any(_text(v).strip() for v in data_rows[last][1]):
            last -= 1
        number, cells = data_rows[last] if last >= 0 else header
        width = max(headers) + 1
        # A missing last line end alone is no sign (Google Sheets writes none); a last row
        # shorter than the header is, since spreadsheet programs write every cell.
        if last < 0 or len(cells) >= width:
            return None, data_rows
        why = f"row {number}, the last, has {len(cells)} cells where the header has {width}"
        if not table.line_ended:
            why += " and no line end after it"
        skipped = f"row {number} is not read, and " if last >= 0 else ""
        reason = (
            f"{why}, so the file looks cut short (a copy still in progress?): {skipped}books "
            "missing from the file are not deleted. If the file is whole, save it again from "
            "Excel or LibreOffice, which write every cell of every row"
        )
        kept = data_rows[:last] + data_rows[last + 1 :] if last >= 0 else data_rows
        return Problem(f"{self.name}:row {number}", reason), kept

    def _known_id(self, row: _Row) -> str | None:
        """The id of a row that is not read, when it does not depend on the missing title."""
        if self.id_rule is None:
            return _clean_id(row.values.get("id")) or _isbn_id(row)
        if self.id_rule == "001":
            return _clean_id(row.values.get("id"))
        return None

    def _isbn_plan(self, entries: list[tuple[str, _Row]]) -> _IsbnPlan:
        """How rows without an id column value are grouped by ISBN (see :class:`_IsbnPlan`)."""
        plan = _IsbnPlan()
        if self.id_rule is not None:
            return plan
        titles: dict[str, set[str]] = {}
        by_digest: dict[str, set[str]] = {}
        for kind, row in entries:
            if kind == "book" and _clean_id(row.values.get("id")) is None:
                isbn = _isbn_id(row)
                if isbn:
                    titles.setdefault(isbn, set()).add(fold_phrase(row.text("title")))
                    by_digest.setdefault(_digest_id(row), set()).add(isbn)
                    plan.first.setdefault(isbn, row)
        plan.shared = {isbn for isbn, names in titles.items() if len(names) > 1}
        plan.by_digest = {digest: next(iter(isbns)) for digest, isbns in by_digest.items()
                          if len(isbns) == 1 and not isbns & plan.shared}  # fmt: skip
        return plan

    def _book(
        self,
        row: _Row,
        at: str,
        books: dict[str, _Book],
        plan: _IsbnPlan,
        problems: list[Problem],
    ) -> _Book | None:
        """The book a titled row belongs to (made from it when it is the first row)."""
        notes: list[str] = []
        record: Record | None = None
        source = row  # the row the record is made from
        if self.id_rule is None:
            local_id = _clean_id(row.values.get("id"))
            if local_id is None:
                local_id = _isbn_id(row)
                if local_id is None:
                    local_id = plan.by_digest.get(_digest_id(row))
                    source = plan.first.get(local_id or "", row)
                elif local_id in plan.shared:
                    local_id = None
                    problems.append(Problem(at, "its ISBN is also given to a book with another "
                                            "title; kept apart, identified by title, author "
                                            "and year"))  # fmt: skip
            local_id = local_id or _digest_id(row)
        elif self.id_rule == "001":
            local_id = _clean_id(row.values.get("id"))
        else:
            record = _record(row, notes)
            local_id = parse_id_rule(self.id_rule).id_of(record)
        if local_id is None:
            if self.id_rule == "001":
                missing = f"column {self._id_header!r} is empty"
            else:
                missing = f"no {parse_id_rule(str(self.id_rule)).missing} value"
            problems.append(Problem(at, f"{missing} (id_rule {self.id_rule} takes the id from "
                                    "it); row not read"))  # fmt: skip
            return None
        title = fold_phrase(row.text("title"))
        book = books.get(local_id)
        if book is not None:
            if book.title != title:
                problems.append(Problem(at, f"has the id {local_id!r} of row {book.row} but "
                                        f"another title ({row.text('title')!r}); its copy "
                                        "is added to that book, its other values are not "
                                        "used"))  # fmt: skip
            return book
        if record is None:
            record = _record(source, notes)
        record.add_ordered_field(Field(tag="001", data=local_id))
        problems += [Problem(f"{self.name}:row {source.number}", note) for note in notes]
        book = books[local_id] = _Book(local_id, record, row.number, title)
        return book

    def _copies(
        self,
        row: _Row,
        book: _Book,
        at: str,
        barcodes: dict[str, int],
        problems: list[Problem],
    ) -> None:
        location, call_number = row.text("location"), row.text("call_number")
        found = _split(row.text("barcode"), ";,")
        for barcode in found:
            span = _BARCODE_RANGE.match(barcode)
            if span and len(span[2]) == len(span[3]) and int(span[3]) > int(span[2]):
                problems.append(Problem(at, f"barcode {barcode!r} looks like a range, which is "
                                        "not expanded: give each copy its own row, or list "
                                        "the barcodes separated by ';'"))  # fmt: skip
        for barcode in found:
            first = barcodes.get(barcode)
            if first is not None:
                problems.append(Problem(at, f"barcode {barcode!r} is also on row {first}; this "
                                        "copy is left out"))  # fmt: skip
                continue
            barcodes[barcode] = row.number
            book.items.append(Item(self.library, barcode, location, call_number))
        if not found and (location or call_number):
            book.items.append(Item(self.library, "", location, call_number))

    # -- the interface --------------------------------------------------------------------

    def changes(self, checkpoint: str | None, *, overlap_seconds: int = 0) -> Iterator[Event]:
        """Nothing but a Mark when the file is as the checkpoint remembers it; else every
        book, then the listing of the file's ids, then a Mark (``overlap_seconds`` does not
        apply: the file is compared by size, time and content, not by a clock)."""
        del overlap_seconds
        before, note = _load_checkpoint(checkpoint)
        if note:
            yield Problem("checkpoint", note)
        settling = self._settling(self._stat())
        if settling is not None:
            yield settling
            yield Mark(checkpoint or "")
            return
        try:
            data, size, mtime_ns = self._load()
        except _Unsteady as exc:
            yield Problem(self.name, str(exc))
            yield Mark(checkpoint or "")
            return
        if before is not None and before.get("settings") == self._settings:
            if (before.get("size"), before.get("mtime_ns")) == (size, mtime_ns):
                yield Mark(_dump_checkpoint(before))
                return
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        now = {"version": _CHECKPOINT_VERSION, "size": size, "mtime_ns": mtime_ns,
               "digest": digest, "settings": self._settings}  # fmt: skip
        if before is not None and before.get("settings") == self._settings:
            if (before.get("size"), before.get("digest")) == (size, digest):
                yield Mark(_dump_checkpoint(now))  # touched or copied again, not changed
                return
        parsed = self._parse(data, (size, mtime_ns))
        changed = datetime.fromtimestamp(mtime_ns / 1e9, UTC)
        yield from parsed.problems
        for book in parsed.books.values():
            yield Upsert(book.local_id, book.record, changed, tuple(book.items))
        if parsed.cut_short is not None:
            # Not remembered as read: it is read (and reported) again until it is whole.
            yield parsed.cut_short
            yield Mark(checkpoint or "")
            return
        yield Complete(parsed.ids, what=f"spreadsheet {self.name}")
        yield Mark(_dump_checkpoint(now))

    def current_ids(self) -> Iterator[str] | None:
        """The ids of the books in the file now (and of unreadable rows whose id is
        known, so that their stored records are kept); None while the file may be
        incomplete: changed within the settle time, changing as it is read, or cut short."""
        if self._settling(self._stat()) is not None:
            return None
        try:
            data, size, mtime_ns = self._load()
        except _Unsteady:
            return None
        if self._ids is None or self._ids[0] != (size, mtime_ns):
            self._parse(data, (size, mtime_ns))
        assert self._ids is not None
        ids = self._ids[1]
        return None if ids is None else iter(sorted(ids))

    def sample(self, limit: int = 5) -> Sample:
        """What the file holds: sheet, header row, rows, books and copies, the columns
        read and not read, the first ``limit`` records and the problems."""
        settling = self._settling(self._stat())
        try:
            data, size, mtime_ns = self._load()
        except _Unsteady as exc:
            raise SourceError(str(exc)) from None
        parsed = self._parse(data, (size, mtime_ns))
        table = parsed.table
        summary = f"spreadsheet {self.name}"
        if table.kind == "xlsx":
            summary += f", sheet {table.sheet!r}"
        else:
            summary += f" (CSV, {table.encoding}, {table.separator!r}-separated)"
        summary += (
            f", header row {parsed.header_row}, {parsed.rows} rows → {len(parsed.books)} "
            f"titles, {parsed.copies} copies; columns used: "
            + ", ".join(f"{c.header!r} ({TARGETS.get(c.target, c.target)})" for c in parsed.used)
        )
        if parsed.unused:
            summary += "; not used: " + ", ".join(repr(h) for h, _ in parsed.unused)
        if parsed.repaired:
            summary += (f"; {parsed.repaired} cells typed in TCVN3 (ABC) or VNI fonts "
                        "converted")  # fmt: skip
        problems = [f"column {header!r} is {why}" for header, why in parsed.unused]
        listed = [f"{p.where}: {p.reason}" for p in parsed.problems]
        if len(listed) > _SAMPLE_PROBLEMS:
            more = len(listed) - _SAMPLE_PROBLEMS
            listed = listed[:_SAMPLE_PROBLEMS] + [f"and {more} more problems"]
        problems += listed
        for late in (parsed.cut_short, settling):
            if late is not None:
                problems.append(f"{late.where}: {late.reason}")
        records = tuple(
            Upsert(book.local_id, normalize_record(book.record), None, tuple(book.items))
            for book in list(parsed.books.values())[: max(limit, 0)]
        )
        return Sample(summary, records, tuple(problems))

    def close(self) -> None:
        """Nothing stays open: the file is read whole and closed at once."""
        self._ids = None


class _Unsteady(Exception):
    """The file changed while it was read."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path.name} changed while it was read (still being saved or "
                         "copied?); read again at the next sync")  # fmt: skip


def _row_of(problem: Problem) -> int:
    number = problem.where.rpartition(":row ")[2]
    return int(number) if number.isdigit() else 0


def _header(used: list[Column], target: str) -> str:
    return next((c.header for c in used if c.target == target), target)


def _numbers_columns(cells: list[Any]) -> bool:
    """A row under the headers that numbers the columns: "(1) (2) (3)" or "A B C"."""
    values = [_text(v).strip() for v in cells if _text(v).strip()]
    return len(values) >= 2 and all(_COLUMN_NUMBER.match(v) for v in values)


def _is_total_line(row: _Row) -> bool:
    """A "Tổng cộng: 120 cuốn" line under the list: a title cell and no copy or author."""
    words = fold_phrase(row.text("title")) + " "
    return words.startswith(tuple(t + " " for t in _TOTAL_LINE)) and not (
        row.text("barcode") or row.text("author") or row.text("isbn")
    )


def _load_checkpoint(text: str | None) -> tuple[dict[str, Any] | None, str | None]:
    if not text:
        return None, None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("version") != _CHECKPOINT_VERSION:
        return None, "the stored checkpoint is not this source's; the file is read again"
    return data, None


def _dump_checkpoint(state: Mapping[str, Any]) -> str:
    return json.dumps(dict(state), sort_keys=True)


def open_source(settings: SourceSettings) -> SpreadsheetSource:
    """The source for a ``kind: spreadsheet`` entry (``path``, ``sheet``, ``encoding``,
    ``mapping``, ``id_rule``)."""
    options = settings.options
    file = settings.path("path", "the .xlsx or .csv file")
    mapping = settings.path("mapping", "the column file") if options.get("mapping") else None
    legacy = settings.legacy_mode()
    try:
        return SpreadsheetSource(
            file,
            library=settings.library,
            sheet=options.get("sheet") or None,
            encoding=str(options.get("encoding") or "auto"),
            mapping=mapping or None,
            id_rule=options.get("id_rule") or None,
            legacy=legacy,
        )
    except ValueError as exc:
        raise SourceError(f"source {settings.name}: {exc}", retryable=False) from None
