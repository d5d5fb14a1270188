"""The demo catalogue: three member libraries of one province, generated deterministically.

A provincial library, a district library and a secondary school, with a few hundred MARC 21
records in Vietnamese and English (real works, plausible editions), copies with barcodes,
patrons with PINs and some loans. The same seed always gives the same catalogue, so the
README can name barcodes that exist and tests can count on them.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pymarc import Field, Record, Subfield
from pymarc.field import Indicators

from crosswalks.punctuation import strip_isbd

from .config import Config, Library, load_config, render_config
from .importer import canonical_from_marc
from .passwords import hash_password
from .record import CanonicalRecord, Item

__all__ = [
    "DEMO_KIOSK_PASSWORD",
    "DEMO_KIOSK_USER",
    "DEMO_LIBRARIES",
    "DemoCatalogue",
    "build_demo",
    "prepare_demo",
    "write_circulation_files",
]

SEED = 20261122

DEMO_LIBRARIES = [
    Library("dlk-tinh", "Thư viện tỉnh Đắk Lắk", "provincial"),
    Library("dlk-krongpac", "Thư viện huyện Krông Pắc", "district"),
    Library("thpt-ntmk", "Thư viện Trường THPT Nguyễn Thị Minh Khai", "school"),
]
_PREFIX = {"dlk-tinh": "DLK", "dlk-krongpac": "KPC", "thpt-ntmk": "NTMK"}
_RECORDS_PER_LIBRARY = {"dlk-tinh": 160, "dlk-krongpac": 90, "thpt-ntmk": 80}


@dataclass(frozen=True, slots=True)
class Work:
    """A work that editions are made of."""

    title: str
    subtitle: str
    author: str  # inverted form, "" for none
    dates: str
    language: str
    subjects: tuple[str, ...]
    ddc: str
    summary: str


_VI_WORKS = [
    Work("Truyện Kiều", "", "Nguyễn, Du", "1765-1820", "vie", ("Văn học Việt Nam", "Thơ lục bát"),
         "895.9221", "Kiệt tác thơ Nôm kể về cuộc đời mười lăm năm lưu lạc của Thúy Kiều."),
    Work("Dế Mèn phiêu lưu ký", "", "Tô, Hoài", "1920-2014", "vie", ("Văn học thiếu nhi", "Truyện"),
         "895.9223", "Cuộc phiêu lưu của chú Dế Mèn qua thế giới loài vật."),
    Work("Số đỏ", "tiểu thuyết", "Vũ, Trọng Phụng", "1912-1939", "vie",
         ("Văn học Việt Nam", "Tiểu thuyết trào phúng"), "895.92232",
         "Tiểu thuyết trào phúng về xã hội thành thị Hà Nội những năm 1930."),
    Work("Tắt đèn", "", "Ngô, Tất Tố", "1894-1954", "vie", ("Văn học hiện thực", "Nông thôn"),
         "895.92232", "Cuộc sống cơ cực của người nông dân trước Cách mạng tháng Tám."),
    Work("Chí Phèo", "tập truyện ngắn", "Nam Cao", "1915-1951", "vie",
         ("Truyện ngắn", "Văn học hiện thực"), "895.92233", "Tuyển tập truyện ngắn của Nam Cao."),
    Work("Đất rừng phương Nam", "", "Đoàn, Giỏi", "1925-1989", "vie",
         ("Văn học thiếu nhi", "Nam Bộ"), "895.9223", "Cuộc phiêu lưu của bé An ở miền Tây Nam Bộ."),
    Work("Vang bóng một thời", "", "Nguyễn, Tuân", "1910-1987", "vie", ("Tùy bút", "Văn hóa"),
         "895.9228", "Những nét đẹp văn hóa xưa của người Hà Nội."),
    Work("Nhật ký Đặng Thùy Trâm", "", "Đặng, Thùy Trâm", "1942-1970", "vie",
         ("Nhật ký", "Chiến tranh Việt Nam"), "959.7043", "Nhật ký của một nữ bác sĩ ở chiến trường."),
    Work("Cho tôi xin một vé đi tuổi thơ", "truyện", "Nguyễn, Nhật Ánh", "1955-", "vie",
         ("Văn học tuổi mới lớn",), "895.9223", "Những kỷ niệm tuổi thơ hồn nhiên."),
    Work("Mắt biếc", "truyện dài", "Nguyễn, Nhật Ánh", "1955-", "vie",
         ("Văn học tuổi mới lớn", "Tình yêu"), "895.9223", "Mối tình đơn phương của Ngạn dành cho Hà Lan."),
    Work("Tôi thấy hoa vàng trên cỏ xanh", "", "Nguyễn, Nhật Ánh", "1955-", "vie",
         ("Văn học tuổi mới lớn",), "895.9223", "Câu chuyện tuổi thơ ở một làng quê nghèo."),
    Work("Việt Nam sử lược", "", "Trần, Trọng Kim", "1883-1953", "vie",
         ("Lịch sử Việt Nam",), "959.7", "Bộ thông sử Việt Nam viết bằng chữ quốc ngữ."),
    Work("Sử thi Đăm Săn", "", "", "", "vie", ("Sử thi", "Văn hóa Ê Đê", "Tây Nguyên"),
         "398.209597", "Sử thi của người Ê Đê về người anh hùng Đăm Săn."),
    Work("Địa chí Đắk Lắk", "", "", "", "vie", ("Địa chí", "Đắk Lắk"), "915.976",
         "Tổng quan về tự nhiên, lịch sử, văn hóa và kinh tế tỉnh Đắk Lắk."),
    Work("Cà phê Buôn Ma Thuột", "kỹ thuật trồng và chế biến", "Phạm, Văn Hưng", "1962-", "vie",
         ("Cà phê", "Nông nghiệp", "Buôn Ma Thuột"), "633.73", "Hướng dẫn trồng, chăm sóc và chế biến cà phê."),
    Work("Không gian văn hóa cồng chiêng Tây Nguyên", "", "Tô, Ngọc Thanh", "1934-2022", "vie",
         ("Cồng chiêng", "Văn hóa Tây Nguyên"), "781.62", "Nghiên cứu về di sản cồng chiêng."),
    Work("Những ngôi sao xa xôi", "", "Lê, Minh Khuê", "1949-", "vie",
         ("Truyện ngắn", "Chiến tranh Việt Nam"), "895.92233", "Tập truyện về những cô gái thanh niên xung phong."),
    Work("Nỗi buồn chiến tranh", "", "Bảo Ninh", "1952-", "vie",
         ("Tiểu thuyết", "Chiến tranh Việt Nam"), "895.92234", "Tiểu thuyết về ký ức chiến tranh."),
    Work("Thơ Hồ Xuân Hương", "", "Hồ, Xuân Hương", "1772-1822", "vie", ("Thơ Nôm",),
         "895.9221", "Tuyển tập thơ Nôm của bà chúa thơ Nôm."),
    Work("Lược sử nước Việt bằng tranh", "", "Hiếu Minh", "", "vie", ("Lịch sử Việt Nam", "Truyện tranh"),
         "959.7", "Lịch sử Việt Nam kể bằng tranh cho thiếu nhi."),
    Work("Ẩm thực Việt Nam", "món ăn ba miền", "Ưng, Thị Hoa", "1970-", "vie",
         ("Ẩm thực", "Món ăn Việt Nam"), "641.59597", "Giới thiệu các món ăn truyền thống ba miền."),
    Work("Ơn nghĩa sinh thành", "tuyển tập ca dao", "", "", "vie", ("Ca dao", "Gia đình"),
         "398.9", "Ca dao, tục ngữ về công cha nghĩa mẹ."),
]  # fmt: skip

_EN_WORKS = [
    Work("Pride and prejudice", "", "Austen, Jane", "1775-1817", "eng", ("English fiction",
         "Courtship -- Fiction"), "823.7", "Elizabeth Bennet and Mr. Darcy in Regency England."),
    Work("The old man and the sea", "", "Hemingway, Ernest", "1899-1961", "eng",
         ("Fishers -- Fiction", "Cuba -- Fiction"), "813.52", "An old Cuban fisherman's struggle with a marlin."),
    Work("A brief history of time", "from the big bang to black holes", "Hawking, Stephen",
         "1942-2018", "eng", ("Cosmology", "Astrophysics"), "523.1", "Cosmology for general readers."),
    Work("The Sorrow of war", "a novel of North Vietnam", "Bảo Ninh", "1952-", "eng",
         ("Vietnam War, 1961-1975 -- Fiction",), "895.92234", "English translation of Nỗi buồn chiến tranh."),
    Work("The tale of Kieu", "", "Nguyễn, Du", "1765-1820", "eng", ("Vietnamese poetry",),
         "895.9221", "Bilingual edition of Truyện Kiều."),
    Work("Vietnam", "a history", "Karnow, Stanley", "1925-2013", "eng", ("Vietnam -- History",),
         "959.704", "History of Vietnam and the wars of the twentieth century."),
    Work("Coffee", "growing, processing, sustainable production", "Wintgens, Jean Nicolas", "",
         "eng", ("Coffee", "Agriculture"), "633.73", "A guidebook for growers and processors."),
    Work("Oxford advanced learner's dictionary", "", "Hornby, A. S.", "1898-1978", "eng",
         ("English language -- Dictionaries",), "423", "Dictionary for learners of English."),
    Work("Introduction to algorithms", "", "Cormen, Thomas H.", "", "eng",
         ("Computer algorithms", "Computer programming"), "005.1", "A textbook of algorithms."),
    Work("The little prince", "", "Saint-Exupéry, Antoine de", "1900-1944", "eng",
         ("Fairy tales",), "843.912", "A pilot meets a little prince from another planet."),
]  # fmt: skip

_TEXTBOOK_SUBJECTS = [
    ("Toán", "510", "Toán học"), ("Ngữ văn", "807", "Ngữ văn"), ("Tiếng Anh", "428", "Tiếng Anh"),
    ("Lịch sử", "907", "Lịch sử"), ("Địa lí", "910", "Địa lí"), ("Vật lí", "530", "Vật lí"),
    ("Hóa học", "540", "Hóa học"), ("Sinh học", "570", "Sinh học"), ("Tin học", "004", "Tin học"),
    ("Giáo dục công dân", "170", "Giáo dục công dân"),
]  # fmt: skip

_VI_PUBLISHERS = [
    ("Hà Nội", "Kim Đồng"), ("Hà Nội", "Văn học"), ("Hà Nội", "Giáo dục Việt Nam"),
    ("TP. Hồ Chí Minh", "Trẻ"), ("Hà Nội", "Hội Nhà văn"), ("Hà Nội", "Chính trị quốc gia Sự thật"),
    ("TP. Hồ Chí Minh", "Tổng hợp TP. Hồ Chí Minh"), ("Hà Nội", "Khoa học xã hội"),
    ("Đà Nẵng", "Đà Nẵng"), ("Hà Nội", "Thế giới"),
]  # fmt: skip
_EN_PUBLISHERS = [
    ("Oxford", "Oxford University Press"), ("London", "Penguin Books"), ("New York", "Scribner"),
    ("Cambridge", "Cambridge University Press"), ("Cambridge, Mass.", "MIT Press"),
    ("Hà Nội", "Thế giới"),
]  # fmt: skip

_GIVEN = ["An", "Bình", "Chi", "Dũng", "Đức", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng",
          "Khánh", "Lan", "Linh", "Long", "Mai", "Minh", "Nam", "Ngọc", "Nhung", "Phúc", "Quân",
          "Quỳnh", "Sơn", "Tâm", "Thảo", "Thu", "Trang", "Trung", "Tuấn", "Uyên", "Vân", "Yến"]  # fmt: skip
_MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Ngọc", "Thanh", "Hữu", "Quang", "Thu", "Xuân"]
_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
           "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "H'Hen Niê", "Y Moan Ênuôl"]  # fmt: skip
_LOCATIONS = {
    "dlk-tinh": ["Kho mượn", "Phòng đọc tổng hợp", "Phòng thiếu nhi", "Kho địa chí"],
    "dlk-krongpac": ["Kho mượn", "Phòng đọc"],
    "thpt-ntmk": ["Kho sách giáo khoa", "Kho tham khảo", "Phòng đọc học sinh"],
}


@dataclass(frozen=True, slots=True)
class Patron:
    """A demo borrower (the embedded circulation back end loads these)."""

    library: str
    barcode: str
    pin: str
    name: str
    category: str
    email: str


@dataclass(frozen=True, slots=True)
class Loan:
    """A demo loan of one item to one patron."""

    library: str
    item_barcode: str
    patron_barcode: str
    checkout_date: date
    due_date: date


@dataclass
class DemoCatalogue:
    """Everything the demo loads: records per library, patrons, loans."""

    records: list[CanonicalRecord]
    patrons: list[Patron]
    loans: list[Loan]

    @property
    def items(self) -> list[tuple[CanonicalRecord, Item]]:
        """Every copy with the record it belongs to."""
        return [(record, item) for record in self.records for item in record.items]


def _isbn13(rng: random.Random, prefix: str) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(12 - len(prefix)))
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _hyphenate(isbn: str) -> str:
    return f"{isbn[:3]}-{isbn[3:6]}-{isbn[6:8]}-{isbn[8:12]}-{isbn[12]}"


def _is_vietnamese_name(name: str) -> bool:
    return name.split(",")[0].split(" ")[0] in _FAMILY or name in ("Bảo Ninh", "Nam Cao")


def _author_field(tag: str, author: str, dates: str) -> Field:
    subfields = [Subfield("a", author + ("," if dates else ("" if author.endswith(".") else ".")))]
    if dates:
        subfields.append(Subfield("d", dates + ("" if dates.endswith("-") else ".")))
    return Field(
        tag=tag, indicators=Indicators("1" if "," in author else "0", " "), subfields=subfields
    )


def _record(
    library: str, number: int, work: Work, year: int, place: str, publisher: str,
    isbn: str, edition: int, pages: int, series: str = "",
) -> Record:  # fmt: skip
    record = Record(force_utf8=True, leader="00000nam a2200000 i 4500")
    control = f"{_PREFIX[library]}{number:06d}"
    country = "vm " if work.language == "vie" else "enk"
    fiction = "1" if work.ddc.startswith("8") else "0"
    f008 = (f"260101s{year}    {country}a   " + "  " + "    " + " 001 " + fiction + " "
            + work.language + " d")  # fmt: skip
    assert len(f008) == 40, f008
    record.add_field(
        Field(tag="001", data=control),
        Field(tag="003", data=f"VN-{_PREFIX[library]}"),
        Field(tag="005", data=f"{year}0101000000.0"),
        Field(tag="008", data=f008),
        Field(tag="020", indicators=Indicators(" ", " "), subfields=[
            Subfield("a", _hyphenate(isbn)), Subfield("q", "bìa mềm" if work.language == "vie"
                                                      else "paperback")]),
        Field(tag="040", indicators=Indicators(" ", " "), subfields=[
            Subfield("a", f"VN-{_PREFIX[library]}"), Subfield("b", "vie"), Subfield("e", "rda")]),
        Field(tag="041", indicators=Indicators("0", " "), subfields=[Subfield("a", work.language)]),
        Field(tag="082", indicators=Indicators("0", "4"), subfields=[Subfield("a", work.ddc),
                                                          Subfield("2", "23")]),
    )  # fmt: skip
    # Vietnamese personal names are entered in direct order (family name first, no comma),
    # as Vietnamese cataloguing practice does; Western names inverted.
    vietnamese = work.language == "vie" or not work.author or _is_vietnamese_name(work.author)
    heading = work.author.replace(", ", " ") if vietnamese else work.author
    if work.author:
        record.add_field(_author_field("100", heading, work.dates))
    if not work.author:
        statement = []
    elif vietnamese:
        statement = [heading]
    else:
        statement = work.author.split(", ")[::-1]
    title_subfields = [
        Subfield("a", work.title + (" :" if work.subtitle else (" /" if statement else ".")))
    ]
    if work.subtitle:
        title_subfields.append(Subfield("b", work.subtitle + (" /" if statement else ".")))
    if statement:
        title_subfields.append(Subfield("c", " ".join(statement) + "."))
    nonfiling = (
        "4" if work.title.startswith("The ") else ("2" if work.title.startswith("A ") else "0")
    )
    record.add_field(Field(tag="245", indicators=Indicators("1" if work.author else "0", nonfiling),
                           subfields=title_subfields))  # fmt: skip
    if edition > 1:
        ordinal = {2: "2nd", 3: "3rd"}.get(edition, f"{edition}th")
        label = f"Tái bản lần thứ {edition - 1}." if work.language == "vie" else f"{ordinal} ed."
        record.add_field(
            Field(tag="250", indicators=Indicators(" ", " "), subfields=[Subfield("a", label)])
        )
    record.add_field(
        Field(tag="264", indicators=Indicators(" ", "1"), subfields=[
            Subfield("a", place + " :"), Subfield("b", publisher + ","), Subfield("c", f"{year}.")]),
        Field(tag="300", indicators=Indicators(" ", " "), subfields=[
            Subfield("a", f"{pages} {'tr.' if work.language == 'vie' else 'p.'} ;"),
            Subfield("c", "21 cm.")]),
        Field(tag="336", indicators=Indicators(" ", " "), subfields=[Subfield("a", "text"),
                                                          Subfield("2", "rdacontent")]),
    )  # fmt: skip
    if series:
        record.add_field(
            Field(tag="490", indicators=Indicators("0", " "), subfields=[Subfield("a", series)])
        )
    record.add_field(
        Field(tag="520", indicators=Indicators(" ", " "), subfields=[Subfield("a", work.summary)])
    )
    for subject in work.subjects:
        parts = subject.split(" -- ")
        subfields = [Subfield("a", parts[0])] + [Subfield("x", p) for p in parts[1:]]
        if work.language == "vie":
            record.add_field(
                Field(
                    tag="650",
                    indicators=Indicators(" ", "7"),
                    subfields=subfields + [Subfield("2", "Bộ TK TVQG")],
                )
            )
        else:
            record.add_field(Field(tag="650", indicators=Indicators(" ", "0"), subfields=subfields))
    return record


def _works_for(library: str, rng: random.Random) -> Iterator[tuple[Work, str]]:
    """Works a library catalogues, with a series name for textbooks."""
    count = _RECORDS_PER_LIBRARY[library]
    produced = 0
    if library == "thpt-ntmk":
        for grade in (10, 11, 12):
            for name, ddc, subject in _TEXTBOOK_SUBJECTS:
                if produced >= count // 2:
                    break
                yield (Work(f"{name} {grade}", "sách giáo khoa", "", "", "vie",
                            (subject, "Sách giáo khoa"), ddc,
                            f"Sách giáo khoa môn {name} lớp {grade}."),
                       "Kết nối tri thức với cuộc sống")  # fmt: skip
                produced += 1
    pool = _VI_WORKS + _EN_WORKS
    while produced < count:
        weights = [3 if w.language == "vie" else (1 if library != "dlk-krongpac" else 0.3)
                   for w in pool]  # fmt: skip
        yield rng.choices(pool, weights)[0], ""
        produced += 1


def build_demo(namespace: str, *, today: date | None = None) -> DemoCatalogue:
    """Generate the demo catalogue. Records and copies depend only on the seed; loan
    dates are placed around ``today`` so loans are current whenever the demo is made."""
    today = today or date.today()
    rng = random.Random(SEED)
    records: list[CanonicalRecord] = []
    barcodes: dict[str, list[str]] = {lib.id: [] for lib in DEMO_LIBRARIES}
    for library in DEMO_LIBRARIES:
        number = 0
        for work, series in _works_for(library.id, rng):
            number += 1
            publishers = _VI_PUBLISHERS if work.language == "vie" else _EN_PUBLISHERS
            place, publisher = rng.choice(publishers)
            year = rng.randint(1995, 2025)
            isbn = _isbn13(
                rng, "978604" if work.language == "vie" else "978" + str(rng.choice("01"))
            )
            marc = _record(library.id, number, work, year, place, publisher, isbn,
                           edition=rng.choice((1, 1, 1, 2, 3)), pages=rng.randint(64, 640),
                           series=series)  # fmt: skip
            canonical = canonical_from_marc(marc, source=library.id, namespace=namespace)
            copies = []
            for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
                barcode = f"{_PREFIX[library.id]}{len(barcodes[library.id]) + 1:06d}"
                barcodes[library.id].append(barcode)
                cutter = (work.author or work.title)[:3].upper()
                copies.append(Item(library=library.id, barcode=barcode,
                                   location=rng.choice(_LOCATIONS[library.id]),
                                   call_number=f"{work.ddc} {cutter}"))  # fmt: skip
            canonical.items = tuple(copies)
            records.append(canonical)
    patrons = _patrons(rng)
    loans = _loans(rng, records, patrons, today)
    return DemoCatalogue(records, patrons, loans)


def _patrons(rng: random.Random) -> list[Patron]:
    patrons = []
    for library in DEMO_LIBRARIES:
        for n in range(1, 13):
            family, middle, given = rng.choice(_FAMILY), rng.choice(_MIDDLE), rng.choice(_GIVEN)
            name = f"{family} {given}" if " " in family else f"{family} {middle} {given}"
            category = "hocsinh" if library.kind == "school" else rng.choice(("bandoc", "thieunhi"))
            barcode = f"BD{_PREFIX[library.id]}{n:04d}"
            patrons.append(Patron(library.id, barcode, f"{rng.randrange(10000):04d}", name,
                                  category, f"{barcode.lower()}@example.vn"))  # fmt: skip
    return patrons


def _loans(
    rng: random.Random, records: list[CanonicalRecord], patrons: list[Patron], today: date
) -> list[Loan]:
    loans = []
    for library in DEMO_LIBRARIES:
        items = [i for r in records if r.source == library.id for i in r.items]
        members = [p for p in patrons if p.library == library.id]
        for item in rng.sample(items, 8):
            out = today - timedelta(days=rng.randint(1, 30))
            # One in four is overdue, so fines and blocks can be shown.
            length = rng.choice((14, 14, 21, 7))
            loans.append(Loan(library.id, item.barcode, rng.choice(members).barcode, out,
                              out + timedelta(days=length)))  # fmt: skip
    return loans


def write_circulation_files(catalogue: DemoCatalogue, directory: Path) -> list[Path]:
    """Write patrons.csv, items.csv and loans.csv (UTF-8) for the circulation back end."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    tables = {
        "patrons.csv": (["library", "barcode", "pin", "name", "category", "email"],
                        [[p.library, p.barcode, p.pin, p.name, p.category, p.email]
                         for p in catalogue.patrons]),
        "items.csv": (["library", "barcode", "record", "title", "location", "call_number"],
                      [[i.library, i.barcode, r.local_id, strip_isbd(r.marc.title or ""), i.location,
                        i.call_number] for r, i in catalogue.items]),
        "loans.csv": (["library", "item_barcode", "patron_barcode", "checkout_date", "due_date"],
                      [[loan.library, loan.item_barcode, loan.patron_barcode,
                        loan.checkout_date.isoformat(), loan.due_date.isoformat()]
                       for loan in catalogue.loans]),
    }  # fmt: skip
    for name, (header, rows) in tables.items():
        path = directory / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        written.append(path)
    return written


DEMO_NAMESPACE = "demo.lienthong.vn"
#: The demo's ready SIP2 kiosk login (library dlk-tinh): the README and tests use it.
DEMO_KIOSK_USER = "kiosk-demo"
DEMO_KIOSK_PASSWORD = "muontra-2026"
_CIRCULATION_FILES = ("patrons.csv", "items.csv", "loans.csv")


def _demo_kiosk() -> dict[str, object]:
    """The demo's kiosk account, every key given (so no example value is rendered)."""
    return {
        "user": DEMO_KIOSK_USER,
        "password_hash": hash_password(DEMO_KIOSK_PASSWORD),
        "library": "dlk-tinh",
        "location": "",
        "allowed_addresses": [],
        "charset": "utf-8",
        "terminator": "cr",
        "error_detection": True,
        "backend": "embedded",
    }


def prepare_demo(directory: Path, echo: Callable[[str], None] = print) -> Config:
    """Create or reuse a demo folder: configuration, store with the catalogue, CSV files.

    An existing folder is reused as it is (records added by hand survive); a store without
    records gets the demo catalogue, and a circulation database without borrowers gets the
    demo's borrowers, copies and loans from the CSV files (so loans made at a kiosk survive
    a restart of the demo).
    """
    from .circulation.csvfiles import import_files
    from .circulation.embedded import circulation_path, open_embedded
    from .endpoints import ENDPOINT_SPECS, available
    from .store import open_store

    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "lienthong.yaml"
    if not config_file.exists():
        overrides: dict[str, object] = {
            "gateway.name": "Liên thông thư viện tỉnh Đắk Lắk (demo)",
            "gateway.admin_email": "thuvien@example.vn",
            "gateway.oai_namespace": DEMO_NAMESPACE,
            "store.path": "lienthong.db",
            "libraries": [{"id": lib.id, "name": lib.name, "kind": lib.kind}
                          for lib in DEMO_LIBRARIES],
            "circulation.path": "circulation.db",
            "sip2.accounts": [_demo_kiosk()],
        }  # fmt: skip
        for name in ENDPOINT_SPECS:
            overrides[f"endpoints.{name}"] = available(name)
        config_file.write_text(render_config(overrides), encoding="utf-8")
        echo(f"wrote {config_file}")
    config = load_config(config_file)
    catalogue: DemoCatalogue | None = None
    with open_store(config.store_location) as store:
        if store.count() == 0 and not store.source_stats():
            catalogue = build_demo(config.values["gateway"]["oai_namespace"])
            summary = store.upsert(catalogue.records)
            files = write_circulation_files(catalogue, directory)
            echo(f"loaded {summary.new} demo records; wrote {', '.join(p.name for p in files)}")
        else:
            echo(f"reusing {directory} ({store.count()} records)")
    with open_embedded(config) as circulation:
        if circulation.counts()["patrons"] == 0:
            paths = [directory / name for name in _CIRCULATION_FILES]
            if not all(path.exists() for path in paths):
                catalogue = catalogue or build_demo(config.values["gateway"]["oai_namespace"])
                paths = write_circulation_files(catalogue, directory)
            loaded = import_files(
                circulation,
                list(zip(("patrons", "items", "loans"), paths, strict=True)),
                libraries=[lib.id for lib in config.libraries],
            )
            echo(f"loaded {loaded.patrons.new} borrowers, {loaded.items.new} copies and "
                 f"{loaded.loans.new} loans into {circulation_path(config).name}")  # fmt: skip
    return config
