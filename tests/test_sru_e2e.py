"""SRU end to end: the real gateway (the demo catalogue) driven by YAZ's zoomsh and HTTP."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import requests
from lxml import etree

from tests.servers import running_gateway
from tests.xsd import assert_valid


@pytest.fixture(scope="module")
def sru(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo gateway on a free port; yields the SRU base URL."""
    folder = tmp_path_factory.mktemp("sru")
    with running_gateway(["demo", "--dir", str(folder / "demo")], folder, "sru") as base:
        yield f"{base}/sru"


def _zoomsh(*commands: str) -> str:
    result = subprocess.run(["zoomsh", *commands, "quit"], capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    return result.stdout + result.stderr


@pytest.mark.parametrize("version", ["1.2", "2.0"])
@pytest.mark.parametrize("query", ['dc.title="Truyện Kiều"', 'dc.title="truyen kieu"'])
def test_zoomsh_searches_shows_and_scans(sru: str, version: str, query: str) -> None:
    """YAZ's ZOOM shell finds Truyện Kiều with and without diacritics, shows the MARCXML
    record, and scans the title index, in SRU 1.2 and 2.0."""
    output = _zoomsh("set sru get", f"set sru_version {version}", f"connect {sru}",
                     f"search cql:{query}", "show 0 1", "scan cql:dc.title=truyen")  # fmt: skip
    hits = [line for line in output.splitlines() if line.endswith(" hits")]
    assert hits and int(hits[0].rsplit(" ", 2)[-2]) >= 1, output
    assert '<subfield code="a">Truyện Kiều /</subfield>' in output
    scanned = [line for line in output.splitlines() if line.startswith("Truyện ")]
    assert scanned and scanned[0].rsplit(" ", 1)[-1].isdigit(), output  # "term count" lines


def _get(url: str, **params: str) -> etree._Element:
    response = requests.get(url, params=params, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    return etree.fromstring(response.content)


def _valid(root: etree._Element) -> None:
    name = etree.QName(root)
    schemas = {"http://docs.oasis-open.org/ns/search-ws/sruResponse": "sru/sruResponse.xsd",
               "http://docs.oasis-open.org/ns/search-ws/scan": "sru/scan.xsd",
               "http://www.loc.gov/zing/srw/": "sru/v12_srw-types1.2.xsd"}  # fmt: skip
    schema = schemas[name.namespace or ""]
    if name.localname in ("searchRetrieveResponse", "scanResponse") or schema.endswith(
        "sruResponse.xsd"
    ):
        assert_valid(schema, etree.tostring(root))


def test_http_get_and_post_in_every_version(sru: str) -> None:
    """GET and form POST give the same valid answer; every version in its own shape."""
    for version in ("1.1", "1.2", "2.0"):
        params = {"version": version, "operation": "searchRetrieve", "recordSchema": "dc",
                  "query": 'dc.creator = "nguyen du"', "maximumRecords": "2"}  # fmt: skip
        root = _get(sru, **params)
        _valid(root)
        assert int(root.findtext("{*}numberOfRecords") or 0) >= 1
        posted = requests.post(sru, data=params, timeout=10)
        assert posted.status_code == 200
        assert etree.fromstring(posted.content).findtext("{*}numberOfRecords") == root.findtext(
            "{*}numberOfRecords"
        )


def test_explain_and_library_databases(sru: str) -> None:
    """Explain is a valid ZeeRex record; a library database is scoped; an unknown one is 235."""
    root = _get(sru)
    zeerex = root.find(".//{http://explain.z3950.org/dtd/2.0/}explain")
    assert zeerex is not None
    assert_valid("sru/explain.xsd", etree.tostring(zeerex))
    union = int(_get(sru, query="cql.allRecords=1", maximumRecords="0").findtext(
        "{*}numberOfRecords") or 0)  # fmt: skip
    school = int(_get(f"{sru}/thpt-ntmk", query="cql.allRecords=1", maximumRecords="0").findtext(
        "{*}numberOfRecords") or 0)  # fmt: skip
    assert union == 330 and 0 < school < union
    unknown = _get(f"{sru}/no-such-library", query="x")
    assert unknown.findtext(".//{*}uri") == "info:srw/diagnostic/1/235"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"query": "dc.title="}, "10"),
        ({"query": "(" * 1500 + "a" + ")" * 1500}, "10"),  # nested too deep
        ({"version": "9.9", "query": "x"}, "5"),
        ({"operation": "frobnicate", "version": "1.2"}, "4"),
        ({"query": "x", "recordSchema": "nonsense"}, "66"),
        ({"query": "x", "startRecord": "-1"}, "6"),
        ({"query": "x", "maximumRecords": "99999999999999999999"}, "6"),
        ({"query": "dc.title=*"}, "29"),
        ({"query": "x", "colour": "blue"}, "8"),
    ],
)
def test_bad_requests_get_diagnostics_with_http_200(sru: str, params: dict[str, str],
                                                    code: str) -> None:  # fmt: skip
    """Every malformed request is a well-formed SRU diagnostic response, HTTP 200."""
    root = _get(sru, **params)
    _valid(root)
    assert root.findtext(".//{*}uri") == f"info:srw/diagnostic/1/{code}"


def test_a_query_of_many_kilobytes_by_post(sru: str) -> None:
    """A 60 KB query (POST, as clients send long queries) is refused with diagnostic 10."""
    response = requests.post(sru, data={"query": "(" * 30_000 + "a" + ")" * 30_000}, timeout=10)
    assert response.status_code == 200
    assert etree.fromstring(response.content).findtext(".//{*}uri") == ("info:srw/diagnostic/1/10")


def test_invalid_utf8_and_repeated_parameters(sru: str) -> None:
    """Percent-encoded bytes that are not UTF-8, and a repeated parameter, are diagnostic 6."""
    for query in ("query=%FF%FE", "query=a&query=b"):
        response = requests.get(f"{sru}?{query}", timeout=10)
        assert response.status_code == 200
        root = etree.fromstring(response.content)
        assert root.findtext(".//{*}uri") == "info:srw/diagnostic/1/6"


def test_the_stylesheet_is_linked_when_asked(sru: str) -> None:
    """stylesheet=URL puts an xml-stylesheet processing instruction first."""
    response = requests.get(sru, params={"query": "x", "stylesheet": "/static/sru.xsl"},
                            timeout=10)  # fmt: skip
    assert b'<?xml-stylesheet type="text/xsl" href="/static/sru.xsl"?>' in response.content[:200]


def test_a_browser_gets_a_search_page(sru: str) -> None:
    """Responses link the gateway's own stylesheet by default; applying it (as a browser
    does) to a real searchRetrieve, scan and explain response gives a readable page."""
    stylesheet = requests.get(f"{sru}/sru.xsl", timeout=10)
    assert stylesheet.status_code == 200
    transform = etree.XSLT(etree.fromstring(stylesheet.content))
    searched = requests.get(sru, params={"query": 'dc.title="truyen kieu"',
                                         "recordSchema": "dc"}, timeout=10)  # fmt: skip
    assert b'href="/sru/sru.xsl"' in searched.content[:200]
    page = str(transform(etree.fromstring(searched.content)))
    assert "<form" in page and "Truyện Kiều" in page and "biểu ghi" in page
    cases = [
        ({"scanClause": "dc.title=truyen"}, "Truyện"),
        ({}, "Nhan đề"),
        ({"query": "dc.title="}, "Query syntax error"),
    ]
    for params, expected in cases:
        response = requests.get(sru, params=params, timeout=10)
        assert expected in str(transform(etree.fromstring(response.content)))


def test_records_say_which_libraries_hold_them(sru: str) -> None:
    """MARCXML records carry an 852 per copy (library, location, call number, barcode);
    MODS carries them as locations."""
    marc = _get(sru, query='dc.title="truyen kieu"', recordSchema="marcxml", maximumRecords="1")
    ns = {"m": "http://www.loc.gov/MARC21/slim"}
    libraries = marc.xpath(".//m:datafield[@tag='852']/m:subfield[@code='a']/text()",
                           namespaces=ns)  # fmt: skip
    assert libraries and set(libraries) <= {"dlk-tinh", "dlk-krongpac", "thpt-ntmk"}
    mods = _get(sru, query='dc.title="truyen kieu"', recordSchema="mods", maximumRecords="1")
    assert mods.findall(".//{http://www.loc.gov/mods/v3}location")
