"""The OAI-PMH browser page: protocols/oaipmh/oai.xsl applied (with libxslt, as browsers
based on it do) to real responses of an in-process OAIService over the Vietnamese records.

The assertions are on what a librarian sees in the page and on where its links lead:
every link is fed back to the service the way a browser would send it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree, html

from gateway.importer import import_files
from gateway.store import RecordStore, open_store
from protocols.oaipmh.service import LibraryInfo, Limits, OAIService, Repository

from .conftest import REPO, VIE_121
from .records import NAMESPACE, make_record

STYLESHEET = REPO / "protocols" / "oaipmh" / "oai.xsl"
BASE_URL = "http://127.0.0.1/oai"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
MARC = "{http://www.loc.gov/MARC21/slim}"
LIBRARY = "Thư viện Quốc hội Hoa Kỳ"
REPOSITORY = "Thư viện liên thông thử nghiệm"
PAGE_SIZE = 50
#: One of the 121 records (loc-vie-121.mrc), with its title as oai_dc gives it.
LOCAL_ID = "00236597"
IDENTIFIER = f"oai:{NAMESPACE}:loc/{LOCAL_ID}"
TITLE = "Ngôi chùa, một vùng tâm thức, một vùng thi ca = Thiền lâm chư gia đề vịnh thi"
VERBS = {"Identify", "ListMetadataFormats", "ListSets", "GetRecord", "ListIdentifiers",
         "ListRecords"}  # fmt: skip


def _service(store: RecordStore, page_size: int = PAGE_SIZE) -> OAIService:
    repository = Repository(REPOSITORY, "quantri@lienthong.vn", NAMESPACE,
                            {"loc": LibraryInfo(LIBRARY, "national")})  # fmt: skip
    return OAIService(store, repository, Limits(page_size=page_size, stylesheet="/oai/oai.xsl"))


@pytest.fixture(scope="module")
def transform() -> etree.XSLT:
    """The stylesheet as the gateway serves it, compiled once."""
    return etree.XSLT(etree.parse(str(STYLESHEET)))


@pytest.fixture(scope="module")
def service(vie_store: RecordStore) -> OAIService:
    """The data provider over the 121 Vietnamese records, 50 to a page."""
    return _service(vie_store)


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[RecordStore]:
    """A store of our own (it gets written to) holding the 121 records."""
    with open_store(tmp_path / "store.db") as store:
        import_files(store, [VIE_121], source="loc", namespace=NAMESPACE)
        yield store


class Page:
    """A response and the HTML page the stylesheet makes of it."""

    def __init__(self, transform: etree.XSLT, response: bytes) -> None:
        self.response = etree.fromstring(response)
        self.html_text = str(transform(self.response))
        assert not transform.error_log, transform.error_log
        self.root = html.document_fromstring(self.html_text)

    @property
    def text(self) -> str:
        """The visible text of the body, whitespace collapsed."""
        return _text(self.root.body)

    def links(self, text: str | None = None) -> list[str]:
        """The hrefs of the links (whose text, collapsed, is ``text`` when given)."""
        return [a.get("href") for a in self.root.iter("a")
                if text is None or " ".join(a.text_content().split()) == text]  # fmt: skip

    def row(self, label: str) -> list[str]:
        """The texts of the table cells next to each header cell reading ``label``."""
        found = []
        for th in self.root.iter("th"):
            if " ".join(th.text_content().split()).startswith(label):
                cell = th.getnext()
                if cell is not None:
                    found.append(" ".join(cell.text_content().split()))
        return found


def _text(element: html.HtmlElement) -> str:
    """An element's text as a reader sees it: table cells apart, whitespace collapsed."""
    return " ".join(" ".join(element.itertext()).split())


def _arguments(href: str) -> dict[bytes, list[bytes]]:
    """What the server receives when a browser follows a relative link."""
    assert href.startswith("?"), href
    query = parse_qs(urlsplit(href).query, keep_blank_values=True, strict_parsing=True)
    return {name.encode(): [v.encode() for v in values] for name, values in query.items()}


def _ask(service: OAIService, transform: etree.XSLT, **arguments: str) -> Page:
    encoded = {name.encode(): [value.encode()] for name, value in arguments.items()}
    return Page(transform, service.respond(encoded, BASE_URL))


def _follow(service: OAIService, transform: etree.XSLT, href: str) -> Page:
    return Page(transform, service.respond(_arguments(href), BASE_URL))


def _query(href: str) -> Mapping[str, list[str]]:
    return parse_qs(urlsplit(href).query)


# -- the stylesheet itself --------------------------------------------------------------


def test_the_served_stylesheet_is_xslt_1_writing_utf8_html() -> None:
    """The file /oai/oai.xsl serves (read as resource.py reads it) is an XSLT 1.0
    stylesheet for HTML in UTF-8 that needs nothing a browser lacks (no document(), no
    extensions)."""
    served = resources.files("protocols.oaipmh").joinpath("oai.xsl").read_bytes()
    root = etree.fromstring(served)
    xsl = "{http://www.w3.org/1999/XSL/Transform}"
    assert root.tag == f"{xsl}stylesheet" and root.get("version") == "1.0"
    output = root.find(f"{xsl}output")
    assert output is not None
    assert (output.get("method"), output.get("encoding")) == ("html", "UTF-8")
    assert root.get("extension-element-prefixes") is None
    expressions = [value for element in root.iter() for value in element.attrib.values()]
    assert not [e for e in expressions if "document(" in e or "exsl" in e]
    etree.XSLT(root)  # compiles


@pytest.mark.parametrize(
    "arguments",
    [
        {"verb": "Identify"},
        {"verb": "ListMetadataFormats"},
        {"verb": "ListSets"},
        {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": IDENTIFIER},
        {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"},
        {"verb": "ListRecords", "metadataPrefix": "marc21"},
        {"verb": "Frobnicate"},
    ],
    ids=lambda arguments: "-".join(arguments.values()),
)
def test_every_page_is_vietnamese_html_with_the_verb_bar(
    service: OAIService, transform: etree.XSLT, arguments: dict[str, str]
) -> None:
    """Every response, errors included, becomes an HTML page in Vietnamese whose bar links
    the six verbs with relative links; the verb of the page is marked current."""
    page = _ask(service, transform, **arguments)
    assert page.html_text.startswith("<!DOCTYPE html")
    assert page.root.tag == "html" and page.root.get("lang") == "vi"
    assert "OAI-PMH" in (page.root.findtext("head/title") or "")
    nav = page.root.find(".//nav")
    assert nav is not None
    hrefs = [a.get("href") for a in nav.iter("a")]
    assert {_query(href)["verb"][0] for href in hrefs} == VERBS
    assert all(href.startswith("?") for href in page.links() if "verb=" in href)
    assert "?verb=ListRecords&metadataPrefix=oai_dc" in hrefs
    current = [a.text_content() for a in nav.iter("a") if a.get("class") == "current"]
    if arguments["verb"] in VERBS:
        assert current and current[0].endswith(" / " + arguments["verb"])
    else:
        assert not current


# -- the verbs --------------------------------------------------------------------------


def test_identify_shows_the_repository_in_vietnamese_and_english(
    service: OAIService, transform: etree.XSLT
) -> None:
    """Identify reads as labelled lines ("Tên kho / Repository name"); the sample
    identifier links to GetRecord."""
    page = _ask(service, transform, verb="Identify")
    assert page.row("Tên kho / Repository name") == [REPOSITORY]
    assert page.row("Địa chỉ gốc / Base URL") == [BASE_URL]
    assert page.row("Biểu ghi đã xóa / Deleted records") == ["giữ mãi / kept forever (persistent)"]
    assert "mailto:quantri@lienthong.vn" in page.links()
    sample = page.response.findtext(".//{*}sampleIdentifier")
    assert sample and page.links(sample)
    assert _query(page.links(sample)[0]) == {"verb": ["GetRecord"], "metadataPrefix": ["oai_dc"],
                                             "identifier": [sample]}  # fmt: skip


def test_list_metadata_formats_links_each_format(service: OAIService,
                                                 transform: etree.XSLT) -> None:  # fmt: skip
    """Each format is listed with its namespace and a link to its records; asked about one
    item, the links go to that item in each format instead."""
    page = _ask(service, transform, verb="ListMetadataFormats")
    prefixes = [e.text for e in page.response.iter(f"{OAI}metadataPrefix")]
    assert prefixes and set(prefixes) >= {"oai_dc", "marc21", "mods"}
    browse = [_query(href) for href in page.links("Biểu ghi / Records")]
    assert browse == [{"verb": ["ListRecords"], "metadataPrefix": [p]} for p in prefixes]
    assert "http://www.loc.gov/MARC21/slim" in page.text

    item = _ask(service, transform, verb="ListMetadataFormats", identifier=IDENTIFIER)
    records = [_query(href) for href in item.links("Biểu ghi / Record")]
    assert records == [{"verb": ["GetRecord"], "metadataPrefix": [p], "identifier": [IDENTIFIER]}
                       for p in prefixes]  # fmt: skip


def test_list_sets_names_the_libraries_and_links_their_records(
    service: OAIService, transform: etree.XSLT
) -> None:
    """ListSets shows each set's spec, name and description, with links to its records and
    identifiers; the library's link gives that library's records."""
    page = _ask(service, transform, verb="ListSets")
    assert "Tên tập / Set name" in page.text
    assert LIBRARY in page.text and "Biểu ghi của Thư viện Quốc hội Hoa Kỳ" in page.text
    assert "Sách / Books" in page.text
    hrefs = page.links("Biểu ghi / Records")
    wanted = "?verb=ListRecords&metadataPrefix=oai_dc&set=library:loc"
    assert wanted in hrefs
    assert "?verb=ListIdentifiers&metadataPrefix=oai_dc&set=library:loc" in page.links(
        "Định danh / Identifiers"
    )
    records = _follow(service, transform, wanted)
    assert records.response.find(f"{OAI}error") is None
    assert "Biểu ghi 1–50 trong 121" in records.text


def test_get_record_in_oai_dc_reads_as_element_name_and_value(
    service: OAIService, transform: etree.XSLT
) -> None:
    """A Dublin Core record is its title as heading, then one "element: value" line per
    element, the header with its links, and the library it came from."""
    page = _ask(service, transform, verb="GetRecord", metadataPrefix="oai_dc",
                identifier=IDENTIFIER)  # fmt: skip
    assert page.root.findtext(".//article/h3") == TITLE
    dc = page.response.find(".//{*}metadata/{*}dc")
    assert dc is not None
    assert page.row("Nhan đề / Title") == [e.text for e in dc.iter(f"{DC}title")]
    assert page.row("Tác giả phụ / Contributor") == ["Nguyễn, Khắc Mai"]
    assert page.row("Nhà xuất bản / Publisher") == ["[Hà Nội] : Nhà xuất bản Tôn giáo"]
    assert page.row("Định danh / Identifier") == [f"{IDENTIFIER} (oai_dc · marc21 · mods)"]
    assert page.row("Thư viện / Library") == [LIBRARY]
    assert page.row("Định dạng nguồn / Origin format") == ["MARC 21"]
    assert page.row("Tập / Sets") == ["library:loc, type:book"]
    formats = {_query(href)["metadataPrefix"][0]: _query(href) for href in page.links()
               if _query(href).get("identifier") == [IDENTIFIER]}  # fmt: skip
    assert set(formats) == {"oai_dc", "marc21", "mods"}
    assert formats["marc21"] == {"verb": ["GetRecord"], "metadataPrefix": ["marc21"],
                                 "identifier": [IDENTIFIER]}  # fmt: skip
    in_dc = f"?verb=GetRecord&metadataPrefix=oai_dc&identifier={IDENTIFIER}"
    assert page.links(IDENTIFIER) == [in_dc]
    assert "?verb=ListRecords&metadataPrefix=oai_dc&set=type:book" in page.links("type:book")


def test_get_record_in_marc21_shows_leader_tags_indicators_and_subfields(
    service: OAIService, transform: etree.XSLT
) -> None:
    """A MARC 21 record reads as a cataloguer writes it: the leader, then a line per field
    with its tag, its indicators (blank as _) and $-coded subfields."""
    page = _ask(service, transform, verb="GetRecord", metadataPrefix="marc21",
                identifier=IDENTIFIER)  # fmt: skip
    leader = page.response.findtext(f".//{MARC}leader")
    lines = {}
    for tr in page.root.iterfind(".//table[@class='marc']/tr"):
        cells = [td.text_content() for td in tr.iterfind("td")]
        lines.setdefault(cells[0], []).append(cells[1:])
    assert lines["LDR"] == [["", leader]]
    assert lines["003"] == [["", "DLC"]]
    assert lines["245"] == [["00", "$a Ngôi chùa, một vùng tâm thức, một vùng thi ca = "
                             "$b Thiền lâm chư gia đề vịnh thi / "
                             "$c Nguyên Hiệp-Nguyễn Khắc Mai biên soạn."]]  # fmt: skip
    assert lines["260"] == [["__", "$a [Hà Nội] : $b Nhà xuất bản Tôn giáo, $c 2001."]]
    assert lines["700"] == [["1_", "$a Nguyễn, Khắc Mai."]]
    fields = page.response.findall(f".//{MARC}controlfield") + page.response.findall(
        f".//{MARC}datafield"
    )
    assert sum(len(found) for found in lines.values()) == 1 + len(fields)
    assert page.root.findtext(".//article/h3") == TITLE  # ISBD " /" left off the heading


def test_get_record_in_mods_shows_every_text_of_the_record(
    service: OAIService, transform: etree.XSLT
) -> None:
    """A format the page does not know (MODS) still shows every value it holds, each
    labelled with its element path."""
    page = _ask(service, transform, verb="GetRecord", metadataPrefix="mods",
                identifier=IDENTIFIER)  # fmt: skip
    mods = page.response.find(".//{*}metadata/{http://www.loc.gov/mods/v3}mods")
    assert mods is not None
    texts = [" ".join(t.split()) for t in mods.itertext() if t.strip()]
    assert len(texts) > 20
    generic = page.root.find(".//table[@class='generic']")
    assert generic is not None
    shown = [" ".join(td.text_content().split()) for td in generic.iter("td")]
    assert shown == texts
    assert page.row("titleInfo › title")[0] == "Ngôi chùa, một vùng tâm thức, một vùng thi ca"
    assert page.row("Thư viện / Library") == [LIBRARY]


def test_list_records_pages_through_the_tokens(service: OAIService,
                                               transform: etree.XSLT) -> None:  # fmt: skip
    """A list says where its page stands ("Biểu ghi 51–100 trong 121"); the next-page link
    carries the response's token exactly and, followed, gives the next page; the last page
    says the list has ended. Every record shows its Vietnamese title."""
    page = _ask(service, transform, verb="ListRecords", metadataPrefix="oai_dc")
    seen: list[str] = []
    for first, last in ((1, 50), (51, 100), (101, 121)):
        assert f"Biểu ghi {first}–{last} trong 121 / Records {first}–{last} of 121" in page.text
        assert page.root.find(".//ol").get("start") == str(first)
        records = page.response.findall(f".//{OAI}record")
        titles = [r.findtext(f".//{DC}title") for r in records]
        assert [h.text_content() for h in page.root.iterfind(".//article/h3")] == titles
        seen += titles
        token = page.response.findtext(f".//{OAI}resumptionToken")
        nexts = page.links("Trang sau / Next page →")
        if last < 121:
            assert token and nexts == [f"?verb=ListRecords&resumptionToken={token}"]
            page = _follow(service, transform, nexts[0])
        else:
            assert not token and not nexts
            assert "Hết danh sách / End of the list" in page.text
    assert len(seen) == 121 and TITLE in seen
    assert any("ệ" in title or "ư" in title for title in seen)


def test_list_identifiers_next_page_keeps_its_verb(service: OAIService,
                                                   transform: etree.XSLT) -> None:  # fmt: skip
    """ListIdentifiers shows headers only, each identifier linked to its record, and its
    next-page link asks for ListIdentifiers again."""
    page = _ask(service, transform, verb="ListIdentifiers", metadataPrefix="oai_dc",
                set="library:loc")  # fmt: skip
    identifiers = [e.text for e in page.response.iter(f"{OAI}identifier")]
    assert len(identifiers) == PAGE_SIZE
    assert page.row("Định danh / Identifier") == [f"{i} (oai_dc · marc21 · mods)"
                                                  for i in identifiers]  # fmt: skip
    assert "Biểu ghi 1–50 trong 121" in page.text and "Dữ liệu mô tả" not in page.text
    token = page.response.findtext(f".//{OAI}resumptionToken")
    assert page.links("Trang sau / Next page →") == [
        f"?verb=ListIdentifiers&resumptionToken={token}"
    ]
    other = {_query(h)["metadataPrefix"][0]: _query(h) for h in page.links("marc21")
             if _query(h)["verb"] == ["ListIdentifiers"]}  # fmt: skip
    assert other["marc21"]["set"] == ["library:loc"]
    second = _follow(service, transform, page.links("Trang sau / Next page →")[0])
    assert "Biểu ghi 51–100 trong 121" in second.text


def test_every_link_of_a_records_page_gives_an_answer(service: OAIService,
                                                      transform: etree.XSLT) -> None:  # fmt: skip
    """Followed as a browser would, no link of a ListRecords page (bar, records in each
    format, sets, other formats, next page) leads to an OAI-PMH error."""
    page = _ask(service, transform, verb="ListRecords", metadataPrefix="marc21",
                set="type:book")  # fmt: skip
    hrefs = sorted(set(page.links()))
    assert len(hrefs) > 3 * PAGE_SIZE
    for href in hrefs:
        answer = service.respond(_arguments(href), BASE_URL)
        errors = etree.fromstring(answer).findall(f"{OAI}error")
        assert not errors, (href, [e.text for e in errors])


# -- deleted records ---------------------------------------------------------------------


def test_a_deleted_record_shows_as_deleted(own_store: RecordStore, transform: etree.XSLT) -> None:
    """After a deletion, the list shows that record's header marked "Đã xóa / Deleted"
    (and only that one), and GetRecord says it is deleted instead of showing metadata."""
    own_store.delete("loc", [LOCAL_ID])
    service = _service(own_store, page_size=200)
    listed = _ask(service, transform, verb="ListIdentifiers", metadataPrefix="oai_dc")
    deleted = [div for div in listed.root.iterfind(".//div")
               if "deleted" in (div.get("class") or "").split()]  # fmt: skip
    assert len(deleted) == 1
    text = _text(deleted[0])
    assert IDENTIFIER in text and "Trạng thái / Status Đã xóa / Deleted" in text
    assert listed.text.count("Đã xóa / Deleted") == 1

    records = _ask(service, transform, verb="ListRecords", metadataPrefix="oai_dc")
    articles = [a for a in records.root.iterfind(".//article") if "deleted" in a.get("class")]
    assert len(articles) == 1
    assert articles[0].findtext("h3") == "Biểu ghi đã xóa / Deleted record"

    one = _ask(service, transform, verb="GetRecord", metadataPrefix="marc21",
               identifier=IDENTIFIER)  # fmt: skip
    assert one.root.findtext(".//article/h3") == "Biểu ghi đã xóa / Deleted record"
    assert one.row("Trạng thái / Status")[0].startswith("Đã xóa / Deleted")
    assert "Dữ liệu mô tả" not in one.text and TITLE not in one.text


def test_identifiers_that_need_escaping_link_back_to_their_record(
    own_store: RecordStore, transform: etree.XSLT
) -> None:
    """A local id with characters a query string gives meaning to ('&', '+', '=', a
    space the identifier keeps as %20) is escaped in the links, so following them gets
    that very record."""
    own_store.upsert([make_record("12&3+4=5 6?", "Tục ngữ ca dao", source="loc")])
    service = _service(own_store, page_size=200)
    record = own_store.get("loc", "12&3+4=5 6?")
    assert record is not None
    identifier = record.oai_identifier
    assert "&" in identifier and "%20" in identifier
    page = _ask(service, transform, verb="GetRecord", metadataPrefix="oai_dc",
                identifier=identifier)  # fmt: skip
    assert page.root.findtext(".//article/h3") == "Tục ngữ ca dao"
    href = page.links(identifier)[0]
    assert "&3" not in href and "%25" in href
    assert _arguments(href)[b"identifier"] == [identifier.encode()]
    for link in page.links("marc21") + page.links("mods"):
        followed = _follow(service, transform, link)
        assert followed.response.find(f"{OAI}error") is None
        assert "Tục ngữ ca dao" in followed.text


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "codes"),
    [
        ({"verb": "Frobnicate"}, ["badVerb"]),
        ({"verb": "ListRecords"}, ["badArgument"]),
        ({"verb": "GetRecord", "metadataPrefix": "dc", "identifier": "oai:x:y/z"},
         ["cannotDisseminateFormat", "idDoesNotExist"]),
        ({"verb": "ListIdentifiers", "resumptionToken": "not-a-token"}, ["badResumptionToken"]),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "library:nowhere"},
         ["noRecordsMatch"]),
    ],
    ids=lambda value: "+".join(value) if isinstance(value, list) else None,
)  # fmt: skip
def test_errors_show_their_code_and_message(
    service: OAIService, transform: etree.XSLT, arguments: dict[str, str], codes: list[str]
) -> None:
    """Each error of a response is a box with its code, what the code means in Vietnamese
    and English, and the repository's message."""
    page = _ask(service, transform, **arguments)
    errors = page.response.findall(f"{OAI}error")
    assert [e.get("code") for e in errors] == codes
    boxes = [box for box in page.root.iterfind(".//div") if box.get("class") == "error"]
    assert len(boxes) == len(errors)
    for box, error in zip(boxes, errors, strict=True):
        assert box.findtext("span[@class='code']") == error.get("code")
        assert box.findtext("span[@class='message']") == error.text
        assert " / " in box.text_content()  # the meaning, in both languages
    assert page.root.findtext(".//h2", "").startswith("Lỗi / Error")
    assert page.root.find(".//article") is None


def test_a_deleted_item_has_no_metadata_formats(own_store: RecordStore,
                                                transform: etree.XSLT) -> None:  # fmt: skip
    """noMetadataFormats for a deleted item is shown with its Vietnamese meaning."""
    own_store.delete("loc", [LOCAL_ID])
    page = _ask(_service(own_store), transform, verb="ListMetadataFormats",
                identifier=IDENTIFIER)  # fmt: skip
    assert "noMetadataFormats — Biểu ghi này không có định dạng nào" in page.text
    assert "the item is deleted" in page.text
