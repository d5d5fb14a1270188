"""Z39.50 end to end: the real gateway (the demo catalogue) driven by YAZ's yaz-client and zoomsh.

Both clients exit 0 whatever happens, so every check reads what they print. yaz-client's
``-m`` file holds every retrieved record's bytes as they came off the wire; pymarc and
``yaz-marcdump`` read those back, and the MARCXML printed is cut out and checked against
the official schema. Each yaz-client run is one session: several requests in a row, each
reply ending in an ``Elapsed:`` line, which is how the output is split per request.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from pymarc import MARCReader, Record

from gateway import __version__
from gateway.config import render_config
from gateway.demo import DEMO_LIBRARIES, DEMO_NAMESPACE
from gateway.endpoints import ENDPOINT_SPECS, available
from gateway.passwords import hash_password
from protocols.z3950.codec import encode_apdu
from tests.servers import GatewayProcess, free_port, running_gateway, running_gateway_process
from tests.xsd import assert_valid
from tests.z3950_apdus import search, term

MARCXML_XSD = "oai/MARC21slim.xsd"
MARC_NS = "{http://www.loc.gov/MARC21/slim}"
LIBRARY_IDS = {library.id for library in DEMO_LIBRARIES}
#: Bath level 1 exact-match title search (position first, structure phrase, complete field).
KIEU = '@attr 1=4 @attr 3=1 @attr 4=1 @attr 6=3 "Truyện Kiều"'
#: Bath level 0 keyword attributes (relation =, any position, word, no truncation, incomplete).
BATH0 = "@attr 2=3 @attr 3=3 @attr 4=2 @attr 5=100 @attr 6=1"
#: Every hit of a search comes back piggy-backed in the search response (up to 100).
PIGGYBACK = ("ssub 100", "lslb 200", "mspn 100")
_ELAPSED = re.compile(r"^Elapsed: [0-9.]+\n", re.MULTILINE)
_HITS = re.compile(r"^Number of hits: (\d+)", re.MULTILINE)
_DIAGNOSTIC = re.compile(r"\[(\d+)\] [^\n]*? -- v3 addinfo '([^']*)'")
_MARCXML = re.compile(r'<record xmlns="http://www\.loc\.gov/MARC21/slim">.*?</record>', re.DOTALL)
_SCAN_HEAD = re.compile(r"^(\d+) entries, position=(\d+)$", re.MULTILINE)
_SCAN_ENTRY = re.compile(r"^([* ]) (.+) \((\d+)\)$", re.MULTILINE)


# -- clients ------------------------------------------------------------------------------


@dataclass
class Session:
    """One yaz-client run: what it printed, that split per reply, and the records it saved."""

    text: str
    replies: list[str]  #: the Init's reply first, then one per request sent
    marc: bytes  #: every retrieved record's bytes, as yaz-client's -m file holds them

    @property
    def hits(self) -> list[int]:
        """The hit count of every search, in order (0 for a failed one)."""
        return [int(count) for count in _HITS.findall(self.text)]

    def records(self) -> list[Record]:
        """The saved records read back by pymarc (MARC-8 or UTF-8 as LDR/09 says)."""
        records = list(MARCReader(self.marc, to_unicode=True))
        assert records and all(record is not None for record in records), self.marc[:300]
        return records


def _open(port: int, database: str = "Default") -> str:
    return f"open tcp:127.0.0.1:{port}/{database}"


def _yaz(*commands: str, encoding: str = "utf-8") -> Session:
    """Run yaz-client on ``commands`` (a command file written in ``encoding``)."""
    with tempfile.TemporaryDirectory() as folder:
        script, marclog = Path(folder) / "commands", Path(folder) / "records.mrc"
        script.write_bytes("\n".join([*commands, "quit", ""]).encode(encoding))
        result = subprocess.run(["yaz-client", "-m", str(marclog), "-f", str(script)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=folder, timeout=60,
                                check=False)  # fmt: skip
        marc = marclog.read_bytes() if marclog.exists() else b""
    text = result.stdout.decode("utf-8", "replace")
    return Session(text, _ELAPSED.split(text)[:-1], marc)


def _zoomsh_bytes(*commands: str) -> bytes:
    result = subprocess.run(["zoomsh", *commands, "quit"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                            check=False)  # fmt: skip
    return result.stdout


def _zoomsh(*commands: str) -> str:
    return _zoomsh_bytes(*commands).decode("utf-8", "replace")


def _raw_records(output: bytes) -> list[bytes]:
    """The ISO 2709 records zoomsh's ``show ... raw`` printed, each as long as its leader says."""
    records = []
    for header in re.finditer(rb"^\d+ database=\S+ syntax=USmarc schema=\S+\n", output, re.M):
        start = header.end()
        records.append(output[start : start + int(output[start : start + 5])])
    return records


def _diagnostics(text: str) -> list[tuple[int, str]]:
    return [(int(code), addinfo) for code, addinfo in _DIAGNOSTIC.findall(text)]


def _scan(reply: str) -> tuple[int, list[tuple[bool, str, int]]]:
    """A scan reply as (position, [(is the position's entry, term, count), ...])."""
    head = _SCAN_HEAD.search(reply)
    assert head, reply
    entries = [(mark == "*", term, int(count)) for mark, term, count in _SCAN_ENTRY.findall(reply)]
    assert len(entries) == int(head.group(1)), reply
    return int(head.group(2)), entries


def _fold(text: str) -> str:
    """Lower case without diacritics, đ as d: how a user types Vietnamese on any keyboard."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _year(record: Record) -> int:
    return int(record["008"].data[7:11])


def _nfc(values: list[str]) -> list[str]:
    return [unicodedata.normalize("NFC", value) for value in values]


def _isbn10(isbn13: str) -> str:
    """The ISBN-10 of a 978 ISBN-13, hyphenated as the ISBN-13 is (without its prefix)."""
    parts = isbn13.split("-")
    assert parts[0] == "978", isbn13
    body = "".join(parts[1:])[:9]
    check = (11 - sum(int(d) * (10 - i) for i, d in enumerate(body)) % 11) % 11
    return "-".join([*parts[1:-1], "X" if check == 10 else str(check)])


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zport(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The demo gateway with its Z39.50 target on a free port (open access); yields the port."""
    folder = tmp_path_factory.mktemp("z3950")
    port = free_port()
    args = ["demo", "--dir", str(folder / "demo"), "--z3950-port", str(port)]
    with running_gateway(args, folder, "z3950"):
        yield port


@pytest.fixture(scope="module")
def kieu(zport: int) -> list[Record]:
    """The demo's editions of Truyện Kiều (Bath exact title), full MARC 21 in UTF-8."""
    session = _yaz("charset UTF-8", _open(zport), "format marc21", "elements F", *PIGGYBACK,
                   f"find {KIEU}")  # fmt: skip
    records = session.records()
    assert len(records) == session.hits[0] > 1, session.text
    return records


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, GatewayProcess]]:
    """The demo gateway with one Z39.50 account (kiosk / secret-demo), served by two
    processes (z3950.processes); yields the port and the running process (its log, the
    worker's included, readable while it runs)."""
    folder = tmp_path_factory.mktemp("z3950-login")
    demo = folder / "demo"
    demo.mkdir()
    # What prepare_demo writes, plus the account: `demo --dir` reuses this file and loads
    # the catalogue into the empty store.
    overrides: dict[str, object] = {
        "gateway.name": "Z39.50 login test",
        "gateway.admin_email": "thuvien@example.vn",
        "gateway.oai_namespace": DEMO_NAMESPACE,
        "store.path": "lienthong.db",
        "libraries": [{"id": lib.id, "name": lib.name, "kind": lib.kind}
                      for lib in DEMO_LIBRARIES],
        "z3950.accounts": [{"user": "kiosk", "password_hash": hash_password("secret-demo")}],
        "z3950.processes": 2,
    }  # fmt: skip
    for name in ENDPOINT_SPECS:
        overrides[f"endpoints.{name}"] = available(name)
    (demo / "lienthong.yaml").write_text(render_config(overrides), encoding="utf-8")
    port = free_port()
    args = ["demo", "--dir", str(demo), "--z3950-port", str(port)]
    with running_gateway_process(args, folder, "z3950") as (_, process):
        yield port, process


# -- Init and character sets --------------------------------------------------------------


def test_init_negotiates_utf8(zport: int) -> None:
    """With UTF-8 proposed, the target accepts it and says who it is and what it offers;
    terms with Vietnamese letters match and records are UTF-8 with LDR/09 = 'a'."""
    session = _yaz("charset UTF-8", _open(zport), "format marc21", "ssub 1", "lslb 100",
                   "mspn 1", f'find @attr 1=1003 {BATH0} "Nguyễn Du"')  # fmt: skip
    init = session.replies[0]
    assert "Connection accepted by v3 target." in init, init
    assert "Accepted character set : UTF-8" in init
    assert "ID     : lienthong\n" in init
    assert "Name   : lienthong Z39.50 target\n" in init
    assert f"Version: {__version__}\n" in init
    options = re.search(r"^Options: (.*)$", init, re.MULTILINE)
    assert options, init
    assert {"search", "present", "delSet", "scan", "sort", "namedResultSets",
            "negotiationModel"} <= set(options.group(1).split())  # fmt: skip
    assert session.hits[0] > 0
    (record,) = session.records()
    assert record.leader[9] == "a"
    assert record["100"]["a"].startswith("Nguyễn Du")
    assert "Nguyễn Du".encode() in session.marc


def test_init_without_negotiation(zport: int) -> None:
    """A client that negotiates nothing (Bath level 0) gets no charset answer nor the
    negotiation option; its terms are read as UTF-8 or else Latin-1, and records are
    UTF-8 MARC with LDR/09 = 'a'."""
    utf8 = _yaz(_open(zport), "format marc21", "ssub 1", "lslb 100", "mspn 1",
                f'find @attr 1=1003 {BATH0} "Nguyễn Du"',
                f'find @attr 1=1003 {BATH0} "Saint-Exupéry"')  # fmt: skip
    init = utf8.replies[0]
    assert "Connection accepted by v3 target." in init, init
    assert "Accepted character set" not in init
    assert "negotiationModel" not in init
    nguyen, exupery = utf8.hits
    assert nguyen > 0 and exupery > 0, utf8.text
    assert all(record.leader[9] == "a" for record in utf8.records())
    latin1 = _yaz(_open(zport), f'find @attr 1=1003 {BATH0} "Saint-Exupéry"', encoding="latin-1")
    assert latin1.hits == [exupery], latin1.text


def test_marc8_negotiation_serves_marc8_records(zport: int, kieu: list[Record]) -> None:
    """A client proposing only MARC-8 (YAZ's private charset form) gets it: LDR/09 is blank,
    the bytes are MARC-8 (no UTF-8 sequences), pymarc reads back the same Vietnamese text
    as the UTF-8 records, and MARC-8 terms match as UTF-8 ones do.

    yaz-client shows the Init; ZOOM fetches (yaz-client 5.34 cannot encode a search once
    MARC-8 is agreed), with its terms converted to MARC-8 (``rpnCharset``); YAZ's MARC-8
    encoder takes decomposed letters only, so the term is given in NFD.
    """
    init = _yaz("charset MARC-8", _open(zport)).replies[0]
    assert "Connection accepted by v3 target." in init, init
    assert "Accepted character set : MARC-8" in init
    author = unicodedata.normalize("NFD", "Nguyễn Du")
    output = _zoomsh_bytes("set charset MARC-8", "set rpnCharset MARC-8",
                           "set preferredRecordSyntax usmarc",
                           f"connect 127.0.0.1:{zport}/Default",
                           'search @attr 1=4 @attr 3=1 @attr 4=1 @attr 6=3 "truyen kieu"',
                           f"show 0 {len(kieu)} raw", f'search @attr 1=1003 "{author}"',
                           'search @attr 1=1003 "Nguyen Du"')  # fmt: skip
    text = output.decode("latin-1")
    hits = [int(count) for count in re.findall(r": (\d+) hits", text)]
    assert len(hits) == 3 and hits[0] == len(kieu), text
    assert hits[1] == hits[2] >= len(kieu)
    raw = _raw_records(output)
    assert len(raw) == len(kieu), text
    assert all(record[9:10] == b" " for record in raw)
    assert not any("Kiều".encode() in record or "Nguyễn".encode() in record for record in raw)
    tags = ("100", "245", "520", "650", "852")
    expected = {r["001"].data: _nfc([f.value() for f in r.get_fields(*tags)]) for r in kieu}
    served = list(MARCReader(b"".join(raw), to_unicode=True))
    assert all(record is not None for record in served)
    assert {r["001"].data: _nfc([f.value() for f in r.get_fields(*tags)]) for r in served} == (
        expected
    )


# -- searches -----------------------------------------------------------------------------


def test_bath_level0_keyword_searches(zport: int, kieu: list[Record]) -> None:
    """Bath level 0: keyword author, title, subject and any (2=3 3=3 4=2 5=100 6=1) all find
    the demo's records; 'any' covers at least what author and title find."""
    session = _yaz("charset UTF-8", _open(zport),
                   f'find @attr 1=1003 {BATH0} "Nguyễn Du"',
                   f"find @attr 1=4 {BATH0} kieu",
                   f'find @attr 1=21 {BATH0} "lục bát"',
                   f'find @attr 1=1016 {BATH0} "Nguyễn Du"',
                   f"find @attr 1=1016 {BATH0} kieu")  # fmt: skip
    author, title, subject, any_author, any_title = session.hits
    assert author >= len(kieu) and title >= len(kieu) and subject > 0, session.text
    assert any_author >= author and any_title >= title
    assert "Diagnostic" not in session.text


def test_bath_level1_searches(zport: int, kieu: list[Record]) -> None:
    """Bath level 1: exact match, first words in field, first characters, standard
    identifier and right truncation each find what they should, and no more."""
    isbn = kieu[0]["020"]["a"]
    session = _yaz("charset UTF-8", _open(zport),
                   f"find {KIEU}",
                   'find @attr 1=4 @attr 3=1 @attr 4=1 @attr 6=3 "Truyện"',
                   'find @attr 1=4 @attr 3=1 @attr 4=1 @attr 6=1 "Truyện"',
                   'find @attr 1=4 @attr 3=1 @attr 4=1 @attr 6=1 "Kiều"',
                   'find @attr 1=4 @attr 3=1 @attr 4=1 @attr 5=1 @attr 6=1 "Truy"',
                   'find @attr 1=4 @attr 3=1 @attr 4=1 @attr 5=1 @attr 6=1 "Kiề"',
                   f'find @attr 1=1007 "{isbn}"',
                   "find @attr 1=4 @attr 5=1 kie",
                   "find @attr 1=4 kie",
                   "find @attr 1=1003 @attr 5=1 nguy")  # fmt: skip
    exact, exact_part, first_words, not_first, first_chars, not_first_chars, standard, *rest = (
        session.hits
    )
    truncated, untruncated, author_truncated = rest
    assert exact == len(kieu), session.text
    assert exact_part == 0  # "Truyện" is not the complete title
    assert first_words >= exact and not_first == 0
    assert first_chars >= first_words and not_first_chars == 0
    assert standard == 1
    assert truncated >= exact and untruncated == 0  # "kie" is no word of its own
    assert author_truncated >= exact
    assert "Diagnostic" not in session.text


def test_date_range_searches(zport: int) -> None:
    """A Bath date range (1=31 with 2=4 and 2=2 ANDed) finds only records published in the
    range, and before, within and after partition everything that has a year."""
    session = _yaz("charset UTF-8", _open(zport), "format marc21", *PIGGYBACK,
                   "find @and @attr 1=31 @attr 2=4 2010 @attr 1=31 @attr 2=2 2015",
                   "find @attr 1=31 @attr 2=1 2010",
                   "find @attr 1=31 @attr 2=5 2015",
                   "find @attr 1=31 @attr 2=4 1000")  # fmt: skip
    within, before, after, dated = session.hits
    assert 0 < within <= 100 and before > 0 and after > 0, session.text
    assert within + before + after == dated
    records = session.records()[:within]
    assert len(records) == within
    for record in records:
        assert 2010 <= _year(record) <= 2015, record
        assert any(f"{_year(record)}" in value for value in record["264"].get_subfields("c"))


def test_koha_isbn_issn_and_combined_searches(zport: int, kieu: list[Record]) -> None:
    """What Koha's Z39.50 client sends: ISBN (1=7 5=1) as digits, hyphenated or pasted
    with a qualifier, ISSN (1=8 5=1) without an error, and several ANDed, finding the one
    edition."""
    isbn = kieu[0]["020"]["a"]
    koha_and = (f'@and @and @attr 1=7 @attr 5=1 "{isbn.replace("-", "")}" '
                '@attr 1=4 @attr 4=1 "Truyện Kiều" @attr 1=1003 "Nguyễn Du"')  # fmt: skip
    session = _yaz("charset UTF-8", _open(zport), "format marc21", *PIGGYBACK,
                   f'find @attr 1=7 @attr 5=1 "{isbn.replace("-", "")}"',
                   f'find @attr 1=7 @attr 5=1 "{isbn}"',
                   f'find @attr 1=7 @attr 5=1 "{isbn} (pbk.)"',
                   'find @attr 1=8 @attr 5=1 "0866-7500"',
                   f"find {koha_and}",
                   f"find {koha_and.replace('Truyện Kiều', 'Số đỏ')}")  # fmt: skip
    digits, hyphens, qualified, issn, combined, mismatched = session.hits
    assert (digits, hyphens, qualified, combined, mismatched) == (1, 1, 1, 1, 0), session.text
    assert issn == 0 and "Diagnostic" not in session.text  # the demo has no serials
    assert {r["001"].data for r in session.records()} == {kieu[0]["001"].data}


def test_koha_class_number_searches(zport: int, kieu: list[Record]) -> None:
    """Koha's Dewey (1=16) and LC call number (1=16 2=3 3=1 4=1 5=1 6=1) searches find the
    editions classed 895.9221 and shelved at "895.9221 NGU" (082 $a and 852 $h)."""
    call_number = kieu[0]["852"]["h"]
    dewey = kieu[0]["082"]["a"]
    isbn = kieu[0]["020"]["a"].replace("-", "")
    lc = f'@attr 1=16 @attr 2=3 @attr 3=1 @attr 4=1 @attr 5=1 @attr 6=1 "{call_number}"'
    session = _yaz("charset UTF-8", _open(zport), "format marc21", *PIGGYBACK,
                   f'find @attr 1=16 "{dewey}"',
                   f"find {lc}",
                   f'find @and @attr 1=7 @attr 5=1 "{isbn}" {lc}')  # fmt: skip
    assert "Diagnostic" not in session.text, session.text
    by_dewey, by_call_number, combined = session.hits
    assert by_dewey >= len(kieu), session.text
    assert by_call_number >= len(kieu)
    assert combined == 1
    records = session.records()
    assert len(records) == by_dewey + by_call_number + combined
    for record in records[:by_dewey]:
        assert record["082"]["a"].startswith(dewey), record
    for record in records[by_dewey : by_dewey + by_call_number]:
        shelved = [h for field in record.get_fields("852") for h in field.get_subfields("h")]
        assert any(h.startswith(call_number) for h in shelved), record


def test_isbn10_finds_the_isbn13_record(zport: int, kieu: list[Record]) -> None:
    """An ISBN-10 (computed from a record's 978 ISBN-13), with or without hyphens, as ISBN
    or standard identifier, finds that ISBN-13 record."""
    isbn13 = kieu[0]["020"]["a"]
    isbn10 = _isbn10(isbn13)
    plain = isbn10.replace("-", "")
    assert len(plain) == 10 and plain != isbn13.replace("-", "")[3:]
    session = _yaz("charset UTF-8", _open(zport), "format marc21", *PIGGYBACK,
                   f'find @attr 1=7 "{plain}"',
                   f'find @attr 1=7 "{isbn10}"',
                   f'find @attr 1=7 @attr 5=1 "{plain}"',
                   f'find @attr 1=1007 "{isbn10}"')  # fmt: skip
    assert session.hits == [1, 1, 1, 1], session.text
    assert {r["001"].data for r in session.records()} == {kieu[0]["001"].data}


@pytest.mark.parametrize(
    ("marked", "unmarked"),
    [
        ('@attr 1=1003 "Nguyễn Du"', '@attr 1=1003 "Nguyen Du"'),
        ('@attr 1=4 "Địa chí Đắk Lắk"', '@attr 1=4 "dia chi dak lak"'),
        ('@attr 1=4 "ĐỊA CHÍ ĐẮK LẮK"', '@attr 1=4 "Dia Chi Dak Lak"'),
        ('@attr 1=21 "Văn hóa Ê Đê"', '@attr 1=21 "van hoa e de"'),
        ('@attr 1=1016 "Đăm Săn"', '@attr 1=1016 "dam san"'),
    ],
)
def test_vietnamese_with_and_without_diacritics(zport: int, marked: str, unmarked: str) -> None:
    """A Vietnamese term finds the same records with its marks as without (đ/Đ as d)."""
    session = _yaz("charset UTF-8", _open(zport), f"find {marked}", f"find {unmarked}")
    with_marks, without = session.hits
    assert with_marks == without > 0, session.text


# -- present ------------------------------------------------------------------------------


def test_present_usmarc_with_holdings(zport: int, tmp_path: Path) -> None:
    """USMARC/MARC 21 presents parse (pymarc and yaz-marcdump, whose MARCXML is valid):
    245 is Truyện Kiều and every copy is an 852 with the library, location and call number."""
    session = _yaz("charset UTF-8", _open(zport), f"find {KIEU}", "format usmarc",
                   "elements F", "show 1+3", "format marc21", "show 4+2")  # fmt: skip
    assert session.text.count("Record type: USmarc") == 5, session.text
    records = session.records()
    assert len(records) == 5
    for record in records:
        assert record.leader[9] == "a"
        assert record["245"]["a"] == "Truyện Kiều /"
        assert record["245"]["c"] == "Nguyễn Du."
        holdings = record.get_fields("852")
        assert holdings
        for holding in holdings:
            assert holding["a"] in LIBRARY_IDS
            assert holding["b"] and holding["p"]
            assert holding["h"].startswith(record["082"]["a"])
    marc = tmp_path / "kieu.mrc"
    marc.write_bytes(session.marc)
    dumped = subprocess.run(["yaz-marcdump", "-i", "marc", "-o", "marcxml", str(marc)],
                            capture_output=True, timeout=60, check=True)  # fmt: skip
    collection = etree.fromstring(dumped.stdout)
    assert_valid(MARCXML_XSD, collection)
    assert len(collection.findall(f"{MARC_NS}record")) == 5


def test_present_marcxml_full_and_brief(zport: int, kieu: list[Record]) -> None:
    """The XML syntax gives MARCXML valid against the official schema; the brief element
    set has fewer fields than the full one, the title still, and no holdings."""
    session = _yaz("charset UTF-8", _open(zport), f"find {KIEU}", "format xml",
                   "elements F", "show 1", "elements B", "show 1")  # fmt: skip
    assert session.text.count("Record type: XML") == 2, session.text
    full, brief = (etree.fromstring(xml.encode()) for xml in _MARCXML.findall(session.text))
    for record in (full, brief):
        assert_valid(MARCXML_XSD, record)
    full_tags = [field.get("tag") for field in full if field.get("tag")]
    brief_tags = [field.get("tag") for field in brief if field.get("tag")]
    assert len(brief_tags) < len(full_tags) and set(brief_tags) <= set(full_tags)
    assert "245" in brief_tags and "852" in full_tags and "852" not in brief_tags
    title = full.find(f"{MARC_NS}datafield[@tag='245']/{MARC_NS}subfield[@code='a']")
    assert title is not None and title.text == "Truyện Kiều /"
    control = full.find(f"{MARC_NS}controlfield[@tag='001']")
    assert control is not None and control.text in {r["001"].data for r in kieu}


def test_present_brief_marc_has_fewer_fields(zport: int, kieu: list[Record]) -> None:
    """Element set B gives a brief MARC record of the same edition: fewer fields, a subset
    of the full record's tags, with 245 kept."""
    session = _yaz("charset UTF-8", _open(zport), f"find {KIEU}", "format marc21",
                   "elements B", "show 1+3")  # fmt: skip
    full = {r["001"].data: r for r in kieu}
    for brief in session.records():
        whole = full[brief["001"].data]
        assert len(brief.get_fields()) < len(whole.get_fields())
        assert {f.tag for f in brief.get_fields()} <= {f.tag for f in whole.get_fields()}
        assert brief["245"].value() == whole["245"].value()


def test_present_opac_holdings(zport: int, kieu: list[Record]) -> None:
    """The OPAC syntax gives the bibliographic record (its 852s kept out) and one holding per
    copy: nucCode = the library id, the call number and whether it is available now."""
    session = _yaz("charset UTF-8", _open(zport), f"find {KIEU}", "format opac",
                   "elements F", "show 1+3", "format marc21", "show 1")  # fmt: skip
    opac = session.replies[2]
    assert opac.count("Record type: OPAC") == 3, session.text
    codes = re.findall(r"^nucCode: (\S+)$", opac, re.MULTILINE)
    calls = re.findall(r"^callNumber: (.+)$", opac, re.MULTILINE)
    available_now = re.findall(r"^ availableNow: (-?\d+)$", opac, re.MULTILINE)
    bibliographic = session.records()[:3]  # the OPAC records' MARC, saved by yaz-client
    assert all(not record.get_fields("852") for record in bibliographic)
    full = {r["001"].data: r for r in kieu}
    copies = [f for r in bibliographic for f in full[r["001"].data].get_fields("852")]
    assert codes == [f["a"] for f in copies], opac
    assert calls == [f["h"] for f in copies]
    assert len(available_now) == len(copies)
    assert set(codes) <= LIBRARY_IDS
    assert "Record type: USmarc" in session.replies[3]  # and the session goes on


def test_zoomsh_shows_sutrs_and_opac(zport: int) -> None:
    """zoomsh shows the SUTRS record as readable Vietnamese text, the OPAC record with its
    holdings, and the XML syntax as valid MARCXML."""
    output = _zoomsh("set charset UTF-8", f"connect 127.0.0.1:{zport}/Default",
                     "set preferredRecordSyntax sutrs", f"search {KIEU}", "show 0 1",
                     "set preferredRecordSyntax opac", f"search {KIEU}", "show 0 1",
                     "set preferredRecordSyntax xml", f"search {KIEU}", "show 0 1")  # fmt: skip
    sutrs = output.split("syntax=SUTRS", 1)[1].split("hits", 1)[0]
    assert "Truyện Kiều" in sutrs and "Nguyễn Du" in sutrs and "895.9221" in sutrs, output
    opac = output.split("syntax=OPAC", 1)[1].split("hits", 1)[0]
    assert "<opacRecord>" in opac and "245 10 $a Truyện Kiều" in opac, output
    assert set(re.findall(r"<nucCode>([^<]+)</nucCode>", opac)) <= LIBRARY_IDS
    assert re.search(r"<callNumber>895\.9221 [^<]+</callNumber>", opac)
    assert '<availableNow value="' in opac
    xml = output.split("syntax=XML", 1)[1]
    (record,) = _MARCXML.findall(xml)
    assert_valid(MARCXML_XSD, record)


def test_zoomsh_search_show_and_scan(zport: int, kieu: list[Record]) -> None:
    """The ZOOM shell searches, shows USMARC and YAZ's MARCXML rendering of it (valid),
    and scans the title index with counts."""
    output = _zoomsh("set preferredRecordSyntax usmarc", "set charset UTF-8",
                     f"connect 127.0.0.1:{zport}/Default", "search @attr 1=4 kieu",
                     "show 0 1", "show 0 1 xml", "scan @attr 1=4 kieu")  # fmt: skip
    hits = re.search(rf"127\.0\.0\.1:{zport}/Default: (\d+) hits", output)
    assert hits and int(hits.group(1)) >= len(kieu), output
    assert "syntax=USmarc" in output and "245 10 $a Truyện Kiều / $c Nguyễn Du." in output
    (record,) = _MARCXML.findall(output)
    assert_valid(MARCXML_XSD, record)
    terms = re.findall(r"^(\S.*) (\d+)$", output.split("</record>", 1)[1], re.MULTILINE)
    assert len(terms) >= 5 and all(int(count) > 0 for _, count in terms), output


# -- databases ----------------------------------------------------------------------------


def test_library_database_and_unknown_database(zport: int, kieu: list[Record]) -> None:
    """A member library's database finds only its own records, with only its own copies,
    and scans with its own counts; an unknown database is diagnostic 235 and the session
    goes on."""
    session = _yaz("charset UTF-8", _open(zport, "dlk-tinh"), "format marc21", *PIGGYBACK,
                   f"find {KIEU}", "scanpos 1", "scansize 3", 'scan @attr 1=4 "Truyện Kiều"',
                   "base nosuchdb", f"find {KIEU}", "base Default", "ssub 0", "mspn 0",
                   f"find {KIEU}")  # fmt: skip
    library, unknown, union = session.hits
    assert 0 < library < len(kieu) == union, session.text
    records = session.records()
    assert len(records) == library
    assert "[dlk-tinh]Record type: USmarc" in session.replies[1]
    for record in records:
        assert {f["a"] for f in record.get_fields("852")} == {"dlk-tinh"}
    own = [r for r in kieu if {f["a"] for f in r.get_fields("852")} == {"dlk-tinh"}]
    assert {r["001"].data for r in records} == {r["001"].data for r in own}
    _, entries = _scan(session.replies[2])
    assert (True, "Truyện Kiều", library) in entries
    assert unknown == 0 and _diagnostics(session.replies[3]) == [(235, "nosuchdb")]


# -- scan, sort, result sets --------------------------------------------------------------


def test_scan_title_author_subject_any(zport: int, kieu: list[Record]) -> None:
    """Scan on title, author, subject and any (from terms with or without diacritics):
    the requested number of entries, each with its record count, and the first heading
    at or after the term at the requested position."""
    session = _yaz("charset UTF-8", _open(zport), "scanpos 2", "scansize 5",
                   "scan @attr 1=4 truyen", "scan @attr 1=1003 nguyen",
                   'scan @attr 1=21 "Văn học"', 'scan @attr 1=1016 "Nguyễn Du"')  # fmt: skip
    scans = [_scan(reply) for reply in session.replies[1:]]
    assert len(scans) == 4, session.text
    for position, entries in scans:
        assert position == 2 and len(entries) == 5
        assert [marked for marked, _, _ in entries] == [False, True, False, False, False]
        assert all(count > 0 for _, _, count in entries)
        assert len({term for _, term, _ in entries}) == 5
    (_, title), (_, author), (_, subject), (_, anything) = scans
    assert title[1][1:] == ("Truyện Kiều", len(kieu))
    assert _fold(author[1][1]).startswith("nguyen du")
    assert subject[1][1].startswith("Văn học")
    assert _fold(anything[1][1]).startswith("nguyen du")


def test_sort_by_date_and_title(zport: int) -> None:
    """Sort orders the result set as asked: by date of publication descending, then by
    title ascending with date descending within a title."""
    session = _yaz("charset UTF-8", _open(zport), "format marc21", *PIGGYBACK,
                   'find @attr 1=1003 "Nguyễn Nhật Ánh"', "sort 1=31 i>", "show 1+10",
                   "sort 1=4 i< 1=31 i>", "show 1+10")  # fmt: skip
    (total,) = session.hits
    assert 10 < total <= 100, session.text
    assert session.text.count("Received SortResponse: status=success") == 2
    records = session.records()
    unsorted, by_date, by_title = records[:total], records[total : total + 10], records[-10:]
    assert len(records) == total + 20
    assert [_year(r) for r in by_date] == sorted((_year(r) for r in unsorted), reverse=True)[:10]

    def title_then_newest(record: Record) -> tuple[str, int]:
        return _fold(record["245"]["a"]), -_year(record)

    expected = sorted(title_then_newest(r) for r in unsorted)[:10]
    assert [title_then_newest(r) for r in by_title] == expected


def test_named_result_sets_combine_and_delete(zport: int, kieu: list[Record]) -> None:
    """Named result sets are search operands (AND no bigger, OR no smaller than each);
    a deleted set is gone (diagnostic 30) while the session goes on."""
    session = _yaz("setnames", "charset UTF-8", _open(zport),
                   f"find {KIEU}", 'find @attr 1=1003 "Nguyễn Du"',
                   "find @and @set 1 @set 2", 'find @or @set 1 @attr 1=4 "Mắt biếc"',
                   "find @not @set 2 @set 1",
                   "delete 1", "find @set 1", "find @set 2", "delete nosuch")  # fmt: skip
    assert "Set numbering enabled." in session.text
    title, author, both, either, author_only, gone, still = session.hits
    assert title == len(kieu) and author >= title, session.text
    assert both == title  # every Truyện Kiều is by Nguyễn Du: AND is no bigger than either
    assert either > title  # OR adds the other set's records
    assert author_only == author - both
    assert "Got deleteResultSetResponse status=0" in session.text
    assert gone == 0 and (30, "1") in _diagnostics(session.text)
    assert still == author
    assert re.search(r"Got deleteResultSetResponse status=[1-9]", session.replies[-1])


def test_diagnostics_leave_the_session_usable(zport: int) -> None:
    """An unknown use attribute (114), a present out of range (13), a record syntax never
    served (239, per record) and an unknown result set (30) are diagnostics with addinfo;
    each time the next request works."""
    session = _yaz("charset UTF-8", _open(zport), "format marc21",
                   "find @attr 1=9999 kieu", f"find {KIEU}",
                   "show 100+1", "show 1",
                   "format grs-1", "show 1", "format marc21", "show 2",
                   "find @set nosuch", f"find {KIEU}", "show 3")  # fmt: skip
    unknown_use, kieu_hits, unknown_set, again = session.hits
    replies = session.replies
    assert unknown_use == 0 and _diagnostics(replies[1]) == [(114, "9999")], session.text
    assert kieu_hits > 0 and "Search was a success." in replies[2]
    assert _diagnostics(replies[3]) == [(13, f"100+1 of {kieu_hits}")]
    assert "Record type: USmarc" in replies[4]
    assert _diagnostics(replies[5]) == [(239, "GRS-1")]
    assert "nextResultSetPosition = 2" in replies[5]  # a surrogate: the record's place
    assert "Record type: USmarc" in replies[6]
    assert unknown_set == 0 and _diagnostics(replies[7]) == [(30, "nosuch")]
    assert again == kieu_hits and "Record type: USmarc" in replies[9]
    assert len(session.records()) == 3


# -- authentication -----------------------------------------------------------------------


def test_login_accepted(locked: tuple[int, GatewayProcess]) -> None:
    """With an account configured, its id and password (idPass, or open 'user/password')
    open a session that searches."""
    port, _ = locked
    for auth in ("auth kiosk secret-demo", "auth kiosk/secret-demo"):
        session = _yaz(auth, _open(port), f"find {KIEU}")
        assert "Connection accepted by v3 target." in session.text, session.text
        assert session.hits[0] > 0


def test_login_refused(locked: tuple[int, GatewayProcess]) -> None:
    """A wrong password, an unknown user and no login at all are refused at Init."""
    port, _ = locked
    for auth in ("auth kiosk wrong-secret", "auth nobody secret-demo", ""):
        session = _yaz(auth, _open(port), f"find {KIEU}")
        assert "Connection rejected by v3 target." in session.text, (auth, session.text)
        assert "Number of hits" not in session.text


def test_password_never_logged(locked: tuple[int, GatewayProcess]) -> None:
    """The server logs accepted and refused logins (the user, the reason) but never a
    password, right or wrong."""
    port, process = locked
    _yaz("auth kiosk secret-demo", _open(port), f"find {KIEU}")
    _yaz("auth kiosk wrong-secret", _open(port))
    log = process.output_so_far()
    assert "user kiosk" in log and "login refused" in log, log
    assert "secret-demo" not in log and "wrong-secret" not in log


# -- bad input on raw sockets (what no client would send) --------------------------------


def _raw_exchange(port: int, data: bytes, *, timeout: float = 10) -> bytes:
    """Send ``data`` on a fresh connection; everything the server writes until it closes."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _close_reason(data: bytes) -> tuple[int, str]:
    from protocols.z3950.ber import Framer
    from protocols.z3950.codec import decode_apdu, text_of

    [(name, value)] = [decode_apdu(pdu) for pdu in Framer(1 << 20).feed(data)]
    assert name == "close", (name, value)
    return value["closeReason"], text_of(value.get("diagnosticInformation", ""))


@pytest.mark.parametrize(
    "data, message",
    [
        (bytes(range(256)) * 4, "not a Z39.50 APDU"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not a Z39.50 APDU"),
        (b"\xb6\x84\x06\x40\x00\x00" + b"\x00" * 100, "exceeds the limit"),  # 100 MB promised
        (b"\xb6\x0a\x8d\x01\x00", None),  # a truncated searchRequest, then EOF (no reply)
        (encode_apdu(*search(term(4, "kieu"))), "searchRequest before initRequest"),
    ],
)
def test_bad_bytes_get_a_close_and_others_are_served(
    zport: int, data: bytes, message: str | None
) -> None:
    """Garbage, a lying or huge length, a truncated APDU, a Search before Init: the server
    closes that connection (with a Close naming why when it can tell), and a YAZ session
    opened right after searches as usual."""
    import socket

    if message is None:
        with socket.create_connection(("127.0.0.1", zport), timeout=10) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(65536) == b""  # nothing is answered for half an APDU
    else:
        reason, text = _close_reason(_raw_exchange(zport, data))
        assert reason == 6 and message in text, text
    session = _yaz(_open(zport), f"find {KIEU}")
    assert session.hits and session.hits[0] > 0, session.text


def test_two_processes_serve_one_port(locked: tuple[int, GatewayProcess]) -> None:
    """With z3950.processes 2 a worker listens on the same port; sessions opened at once
    (spread by the kernel over both processes) all log in and search."""
    import concurrent.futures
    import time

    port, process = locked
    deadline = time.monotonic() + 30
    while "z3950 worker" not in process.output_so_far() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert re.search(r"z3950 worker \d+ listening on 127\.0\.0\.1:" + str(port),
                     process.output_so_far())  # fmt: skip
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda _: _yaz("auth kiosk secret-demo", _open(port),
                                            f"find {KIEU}"), range(8)))  # fmt: skip
    assert all(run.hits and run.hits[0] > 0 for run in runs), [run.text for run in runs]


def test_workers_stop_with_the_server(tmp_path: Path) -> None:
    """Stopping the server stops its worker processes too (none is left listening)."""
    import os
    import time

    demo = tmp_path / "demo"
    demo.mkdir()
    overrides: dict[str, object] = {
        "gateway.name": "workers", "gateway.admin_email": "thuvien@example.vn",
        "gateway.oai_namespace": DEMO_NAMESPACE, "store.path": "lienthong.db",
        "libraries": [{"id": lib.id, "name": lib.name, "kind": lib.kind}
                      for lib in DEMO_LIBRARIES],
        "endpoints.z3950": True, "z3950.processes": 3,
    }  # fmt: skip
    (demo / "lienthong.yaml").write_text(render_config(overrides), encoding="utf-8")
    port = free_port()
    args = ["demo", "--dir", str(demo), "--z3950-port", str(port)]
    with running_gateway_process(args, tmp_path, "z3950") as (_, process):
        deadline = time.monotonic() + 30
        while process.output_so_far().count("z3950 worker") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        pids = [int(pid) for pid in re.findall(r"z3950 worker (\d+) listening",
                                                process.output_so_far())]  # fmt: skip
        assert len(pids) == 2
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"worker {pid} still running")
