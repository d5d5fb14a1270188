"""Borrowers, copies and loans from CSV files, as school libraries keep them in Excel.

Column headers are recognised in English (what ``gateway.demo.write_circulation_files``
writes) and in the Vietnamese a school would type ("Họ và tên", "Số thẻ", "Số đăng ký cá
biệt"...), ignoring case, diacritics, spaces and underscores, so "HO VA TEN" and
"ho_va_ten" work too. Columns nobody asked for ("STT", "Ghi chú") are ignored.

Files must be UTF-8 (with or without the BOM Excel writes); a file in a legacy encoding is
refused with a message saying which one it looks like, because guessing wrong would
store mangled names. A comma, semicolon (Excel with Vietnamese regional settings) or tab
separates the columns.

Every problem is reported as ``file:line: column 'x': problem``; a file with any problem
imports nothing, and the files given together are stored in one transaction.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from crosswalks.vietnamese import fold

from .embedded import (
    EmbeddedCirculation,
    ItemRecord,
    LoadError,
    LoadSummary,
    LoanRecord,
    PatronRecord,
)

__all__ = [
    "CsvError",
    "Kind",
    "read_patrons",
    "read_items",
    "read_loans",
    "import_files",
    "PATRON_COLUMNS",
    "ITEM_COLUMNS",
    "LOAN_COLUMNS",
    "header_key",
    "sniff_delimiter",
]

Kind = Literal["patrons", "items", "loans"]

_LIBRARY = ("library", "thu vien", "ma thu vien", "don vi")
_ITEM_BARCODE = ("so dang ky ca biet", "sdkcb", "dkcb", "ma vach", "ma sach", "ma cuon")
_PATRON_BARCODE = ("ma the", "so the", "ma ban doc", "ma hoc sinh", "so the thu vien")

#: Field name -> accepted headers (folded). The first one is the one messages suggest.
PATRON_COLUMNS: dict[str, tuple[str, ...]] = {
    "library": _LIBRARY,
    "barcode": ("barcode", "patron barcode", "card", *_PATRON_BARCODE),
    "pin": ("pin", "ma pin", "mat khau", "password"),
    "name": ("name", "ho va ten", "ho ten", "ten ban doc", "ten hoc sinh"),
    "category": ("category", "lop", "loai ban doc", "doi tuong"),
    "email": ("email", "e mail", "thu dien tu"),
    "phone": ("phone", "so dien thoai", "dien thoai", "sdt"),
    "address": ("address", "dia chi"),
    "language": ("language", "ngon ngu"),
    "expires": ("expires", "ngay het han", "han the", "het han"),
}
ITEM_COLUMNS: dict[str, tuple[str, ...]] = {
    "library": _LIBRARY,
    "barcode": ("barcode", "item barcode", *_ITEM_BARCODE),
    "record": ("record", "record id", "ma bieu ghi"),
    "title": ("title", "ten sach", "nhan de", "ten tai lieu"),
    "location": ("location", "kho", "vi tri", "kho sach"),
    "call_number": ("call number", "ky hieu phan loai", "so phan loai", "ky hieu xep gia"),
    "loanable": ("loanable", "cho muon", "duoc muon"),
}
LOAN_COLUMNS: dict[str, tuple[str, ...]] = {
    "library": _LIBRARY,
    "item_barcode": ("item barcode", *_ITEM_BARCODE),
    "patron_barcode": ("patron barcode", *_PATRON_BARCODE),
    "checkout_date": ("checkout date", "ngay muon"),
    "due_date": ("due date", "han tra", "ngay hen tra", "ngay phai tra"),
    "renewals": ("renewals", "so lan gia han"),
}
_REQUIRED: dict[Kind, tuple[str, ...]] = {
    "patrons": ("barcode", "name"),
    "items": ("barcode", "title"),
    "loans": ("item_barcode", "patron_barcode", "checkout_date", "due_date"),
}
_COLUMNS: dict[Kind, dict[str, tuple[str, ...]]] = {
    "patrons": PATRON_COLUMNS,
    "items": ITEM_COLUMNS,
    "loans": LOAN_COLUMNS,
}

_SEPARATORS = re.compile(r"[\s_\-./]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f|]")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_YES = {"", "1", "x", "yes", "y", "true", "co", "duoc"}
_NO = {"0", "no", "n", "false", "khong"}


class CsvError(Exception):
    """Files that cannot be imported; ``problems`` lists every reason, one per line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def header_key(text: str) -> str:
    """A header as matched: folded (no marks, đ -> d, lower case), with runs of spaces,
    underscores, hyphens, dots and slashes made one space. Shared with the spreadsheet
    source so both read the same Vietnamese headers the same way."""
    return " ".join(_SEPARATORS.split(fold(text.strip()))).strip()


def _decode(path: Path, data: bytes) -> tuple[str | None, str | None]:
    """The text of a CSV file, or a problem naming its encoding."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, (f"{path}: the file is UTF-16 text (Excel's 'Unicode Text'); save it "
                      "as 'CSV UTF-8 (Comma delimited)' and import it again")  # fmt: skip
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        where = f"{path}:{line}: byte 0x{data[exc.start]:02x} is not UTF-8"
    for legacy, label in (("cp1258", "Windows-1258 (Vietnamese Windows)"),
                          ("cp1252", "Windows-1252 (Western Windows)")):  # fmt: skip
        try:
            data.decode(legacy)
        except UnicodeDecodeError:
            continue
        return None, (f"{where}; the file is not UTF-8 and reads as {label} text, which "
                      "is not converted on a guess: save it as 'CSV UTF-8 (Comma delimited)' "
                      "in Excel (or convert it with iconv -f " + legacy.upper()
                      + " -t UTF-8) and import it again")  # fmt: skip
    return None, f"{where}; the file is not UTF-8 text"


def sniff_delimiter(text: str) -> str:
    """The separator of the first line: comma, semicolon (Excel with Vietnamese regional
    settings) or tab, whichever occurs most (comma on a tie)."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _parse_date(value: str) -> date:
    match = _DMY.match(value)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return date(year, month, day)
    return date.fromisoformat(value)


def _parse_datetime(value: str, *, end_of_day: bool) -> datetime:
    """A date (then the start or the end of that day) or a date and time."""
    try:
        return datetime.combine(_parse_date(value), time(23, 59, 59) if end_of_day else time())
    except ValueError:
        return datetime.fromisoformat(value).replace(tzinfo=None)


@dataclass
class _Row:
    """One data row: its values by field name, and where it came from."""

    values: dict[str, str]
    line: int
    headers: dict[str, str]  #: field -> header as written, for messages


def _rows(path: Path, kind: Kind, problems: list[str]) -> list[_Row]:
    """The file's rows keyed by field name; problems with the file itself are appended."""
    label = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"{label}: cannot read: {exc.strerror}")
        return []
    text, problem = _decode(path, data)
    if text is None:
        problems.append(problem or f"{label}: unreadable")
        return []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        problems.append(f"{label}: the file is empty")
        return []
    except csv.Error as exc:
        problems.append(f"{label}:1: {exc}")
        return []
    columns = _COLUMNS[kind]
    by_header = {alias: name for name, aliases in columns.items() for alias in aliases}
    by_header.update({header_key(name): name for name in columns})
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    for index, title in enumerate(header):
        name = by_header.get(header_key(title))
        if name is None:
            continue
        if name in positions:
            problems.append(f"{label}:1: column {title!r}: means the same as column "
                            f"{headers[name]!r}")  # fmt: skip
            continue
        positions[name], headers[name] = index, title.strip()
    for name in _REQUIRED[kind]:
        if name not in positions:
            expected = ", ".join(repr(a) for a in (name, *columns[name][1:4]))
            problems.append(f"{label}:1: column {name!r}: missing (a {kind} file needs it; "
                            f"headers recognised: {expected})")  # fmt: skip
    if any(p.startswith(f"{label}:1:") for p in problems):
        return []
    rows = []
    line = reader.line_num + 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                # Runs of white space (a line break typed in an Excel cell) become one space.
                values = {
                    name: (" ".join(record[i].split()) if i < len(record) else "")
                    for name, i in positions.items()
                }
                rows.append(_Row(values, line, headers))
            line = reader.line_num + 1
    except csv.Error as exc:
        problems.append(f"{label}:{line}: {exc}")
    return rows


class _RowReader:
    """Field access for one row that records problems as ``file:line: column 'x': ...``."""

    def __init__(self, path: Path, row: _Row, problems: list[str]) -> None:
        self.path, self.row, self.problems = path, row, problems
        self.where = f"{path}:{row.line}"

    def problem(self, name: str, message: str) -> None:
        column = self.row.headers.get(name, name)
        self.problems.append(f"{self.where}: column {column!r}: {message}")

    def text(self, name: str, *, required: bool = False, limit: int = 255) -> str:
        value = self.row.values.get(name, "")
        if required and not value:
            self.problem(name, "empty")
        elif _CONTROL.search(value):
            self.problem(name, "contains '|' or a control character")
        elif len(value) > limit:
            self.problem(name, f"longer than {limit} characters")
        return value

    def parsed(self, name: str, parse: Callable[[str], Any], what: str) -> Any:
        value = self.row.values.get(name, "")
        if not value:
            return None
        try:
            return parse(value)
        except ValueError:
            self.problem(name, f"{value!r} is not {what}")
            return None

    def library(self, default: str | None, libraries: Collection[str] | None) -> str:
        value = self.row.values.get("library", "") or (default or "")
        if not value:
            self.problem("library", "empty, and no --library given")
        elif libraries is not None and value not in libraries:
            known = ", ".join(sorted(libraries))
            self.problem("library", f"{value!r} is not a configured library (known: {known})")
        return value


def _check_unique(
    seen: dict[tuple[str, str], int], key: tuple[str, str], reader: _RowReader, name: str
) -> None:
    if key in seen:
        reader.problem(name, f"{key[1]!r} is also on line {seen[key]}")
    else:
        seen[key] = reader.row.line


def read_patrons(
    path: Path,
    *,
    default_library: str | None = None,
    libraries: Collection[str] | None = None,
    problems: list[str] | None = None,
) -> list[PatronRecord]:
    """The borrowers of a patrons file; problems go to ``problems`` (else raise
    :class:`CsvError`)."""
    found: list[str] = []
    records: list[PatronRecord] = []
    seen: dict[tuple[str, str], int] = {}
    for row in _rows(path, "patrons", found):
        r = _RowReader(path, row, found)
        library = r.library(default_library, libraries)
        barcode = r.text("barcode", required=True, limit=64)
        _check_unique(seen, (library, barcode), r, "barcode")
        pin = r.text("pin", limit=64)
        email = r.text("email")
        if email and not _EMAIL.match(email):
            r.problem("email", f"{email!r} is not an e-mail address")
        language = r.text("language").lower() or "vi"
        if not _LANGUAGE.match(language):
            r.problem("language", f"{language!r} is not a two-letter language code (vi, en)")
        records.append(
            PatronRecord(
                library=library,
                barcode=barcode,
                name=r.text("name", required=True),
                pin=pin or None,
                category=r.text("category"),
                email=email,
                phone=r.text("phone"),
                address=r.text("address"),
                language=language,
                expires=r.parsed("expires", _parse_date, "a date (2027-05-31 or 31/05/2027)"),
                where=r.where,
            )
        )
    return _finish(records, found, problems)


def read_items(
    path: Path,
    *,
    default_library: str | None = None,
    libraries: Collection[str] | None = None,
    problems: list[str] | None = None,
) -> list[ItemRecord]:
    """The copies of an items file (see :func:`read_patrons`)."""
    found: list[str] = []
    records: list[ItemRecord] = []
    seen: dict[tuple[str, str], int] = {}
    for row in _rows(path, "items", found):
        r = _RowReader(path, row, found)
        library = r.library(default_library, libraries)
        barcode = r.text("barcode", required=True, limit=64)
        _check_unique(seen, (library, barcode), r, "barcode")
        loanable_text = fold(r.text("loanable"))
        if loanable_text not in _YES | _NO:
            r.problem("loanable", f"{loanable_text!r} is not yes/no (có/không, 1/0)")
        records.append(
            ItemRecord(
                library=library,
                barcode=barcode,
                title=r.text("title", required=True, limit=1000),
                record_id=r.text("record"),
                location=r.text("location"),
                call_number=r.text("call_number"),
                loanable=loanable_text not in _NO,
                where=r.where,
            )
        )
    return _finish(records, found, problems)


def read_loans(
    path: Path,
    *,
    default_library: str | None = None,
    libraries: Collection[str] | None = None,
    problems: list[str] | None = None,
) -> list[LoanRecord]:
    """The current loans of a loans file (see :func:`read_patrons`)."""
    found: list[str] = []
    records: list[LoanRecord] = []
    seen: dict[tuple[str, str], int] = {}
    what = "a date (2026-11-22 or 22/11/2026)"
    for row in _rows(path, "loans", found):
        r = _RowReader(path, row, found)
        library = r.library(default_library, libraries)
        item = r.text("item_barcode", required=True, limit=64)
        _check_unique(seen, (library, item), r, "item_barcode")
        patron = r.text("patron_barcode", required=True, limit=64)
        out = r.parsed("checkout_date", lambda v: _parse_datetime(v, end_of_day=False), what)
        due = r.parsed("due_date", lambda v: _parse_datetime(v, end_of_day=True), what)
        for name, value in (("checkout_date", out), ("due_date", due)):
            if value is None and not row.values.get(name):
                r.problem(name, "empty")
        renewals = r.parsed("renewals", int, "a whole number") or 0
        if renewals < 0:
            r.problem("renewals", "is negative")
        if out is not None and due is not None:
            records.append(LoanRecord(library, item, patron, out, due, renewals, where=r.where))
    return _finish(records, found, problems)


def _finish(records: list[Any], found: list[str], problems: list[str] | None) -> list[Any]:
    if problems is not None:
        problems.extend(found)
        return records
    if found:
        raise CsvError(found)
    return records


_READERS: dict[Kind, Callable[..., list[Any]]] = {
    "patrons": read_patrons,
    "items": read_items,
    "loans": read_loans,
}


def import_files(
    backend: EmbeddedCirculation,
    files: Sequence[tuple[Kind, Path]],
    *,
    default_library: str | None = None,
    libraries: Collection[str] | None = None,
) -> LoadSummary:
    """Read every file, then store them all in one transaction: when any file has a
    problem (or a loan names a copy or borrower that does not exist), nothing is stored
    and :class:`CsvError` lists every problem."""
    problems: list[str] = []
    loaded: dict[Kind, list[Any]] = {"patrons": [], "items": [], "loans": []}
    for kind, path in files:
        loaded[kind] += _READERS[kind](
            Path(path), default_library=default_library, libraries=libraries, problems=problems
        )
    if problems:
        raise CsvError(problems)
    try:
        return backend.load(loaded["patrons"], loaded["items"], loaded["loans"])
    except LoadError as exc:
        raise CsvError(exc.problems) from None
