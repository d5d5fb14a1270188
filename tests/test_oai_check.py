"""``lienthong oai check``: the harvest self-test, against the real demo gateway and against
small deliberately broken providers that each test serves itself on a free port."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from lxml import etree

from gateway.cli import main
from gateway.xmlschemas import combined_schema
from protocols.oaipmh.check import CheckOptions, CheckReport, Level, check_endpoint, load_schemas

from .conftest import REPO, SHARED
from .servers import free_port, running_gateway

OAI_XSD = SHARED / "xsd" / "oai"
MODS_XSD = SHARED / "xsd" / "mods"
DEMO_RECORDS = 330

# -- the real gateway ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_oai(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo gateway on a free port; yields its OAI-PMH base URL."""
    folder = tmp_path_factory.mktemp("oai-check")
    with running_gateway(["demo", "--dir", str(folder / "demo")], folder, "oaipmh") as base:
        yield f"{base}/oai"


def test_demo_gateway_passes_every_check(demo_oai: str) -> None:
    """Against our own demo, with the official schemas of ../shared/xsd/oai and mods, every
    check passes and exactly the demo's 330 identifiers are harvested, in MODS too."""
    for prefix in ("oai_dc", "mods"):
        options = CheckOptions(prefix=prefix, schema_folders=(OAI_XSD, MODS_XSD))
        report = check_endpoint(demo_oai, options)
        assert [f for f in report.findings if f.level is not Level.PASS] == [], prefix
        figures = report.figures
        assert figures.identifiers == figures.headers == DEMO_RECORDS
        assert figures.complete_list_size == DEMO_RECORDS and figures.last_token_empty
        assert figures.duplicates == 0 and figures.invalid_responses == 0
        assert figures.pages == len(figures.page_seconds) >= 2


def test_command_exits_0_against_the_demo(demo_oai: str) -> None:
    """``python3 -m gateway oai check URL --schemas ...`` as an administrator types it: one
    PASS line per check, the count of identifiers, exit status 0, no config file needed."""
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "oai", "check", demo_oai,
         "--schemas", str(OAI_XSD), "--schemas", str(MODS_XSD)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    checks = [line for line in lines if line[:4] in ("PASS", "WARN", "FAIL")]
    assert len(checks) >= 15 and all(line.startswith("PASS") for line in checks), result.stdout
    assert f"{DEMO_RECORDS} identifiers in 2 pages" in result.stdout
    assert "0 WARN, 0 FAIL" in lines[-1]


def test_max_pages_stops_early_and_says_so(demo_oai: str) -> None:
    """--max-pages 1 harvests one page and warns that the end of the list went unchecked,
    which is no failure."""
    report = check_endpoint(demo_oai, CheckOptions(max_pages=1))
    assert report.figures.pages == 1 and report.figures.identifiers < DEMO_RECORDS
    assert _level(report, "ListIdentifiers") is Level.WARN
    assert _level(report, "last page") is Level.WARN and not report.failed


# -- canned providers ---------------------------------------------------------------------

STAMP = "2026-01-02T03:04:05Z"
OAI_NS = "http://www.openarchives.org/OAI/2.0/"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(body: str, verb: str = "", clock: timedelta = timedelta()) -> bytes:
    """A response document around ``body``, dated now (by a clock ``clock`` ahead)."""
    attribute = f' verb="{verb}"' if verb else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="{OAI_NS}">'
        f"<responseDate>{_iso(_now() + clock)}</responseDate>"
        f"<request{attribute}>http://example.org/oai</request>{body}</OAI-PMH>"
    ).encode()


def headers(*numbers: int, stamp: str = STAMP) -> str:
    """ListIdentifiers headers for oai:test:1, oai:test:2, ..."""
    return "".join(
        f"<header><identifier>oai:test:{n}</identifier><datestamp>{stamp}</datestamp>"
        "<setSpec>a</setSpec></header>"
        for n in numbers
    )


def token(text: str = "", size: int = 6, cursor: int = 0, hours: float = 48) -> str:
    """A resumptionToken; the empty one (no text) ends the list."""
    expires = f' expirationDate="{_iso(_now() + timedelta(hours=hours))}"' if text else ""
    return (f'<resumptionToken{expires} completeListSize="{size}" cursor="{cursor}">{text}'
            "</resumptionToken>")  # fmt: skip


IDENTIFY = (
    "<Identify><repositoryName>Canned</repositoryName><baseURL>{base}</baseURL>"
    "<protocolVersion>2.0</protocolVersion><adminEmail>a@example.org</adminEmail>"
    "<earliestDatestamp>2026-01-01T00:00:00Z</earliestDatestamp>"
    "<deletedRecord>persistent</deletedRecord><granularity>YYYY-MM-DDThh:mm:ssZ</granularity>"
    "</Identify>"
)
GET_RECORD = (
    "<GetRecord><record><header><identifier>oai:test:1</identifier>"
    f"<datestamp>{STAMP}</datestamp></header><metadata>"
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Truyện Kiều</dc:title></oai_dc:dc>'
    "</metadata></record></GetRecord>"
)
FORMATS = (
    "<ListMetadataFormats><metadataFormat><metadataPrefix>oai_dc</metadataPrefix>"
    "<schema>http://www.openarchives.org/OAI/2.0/oai_dc.xsd</schema>"
    "<metadataNamespace>http://www.openarchives.org/OAI/2.0/oai_dc/</metadataNamespace>"
    "</metadataFormat></ListMetadataFormats>"
)

#: One answer: a document (given the base URL), or (HTTP status, content type, body).
Answer = Callable[[str], bytes] | tuple[int, str, bytes]


def good_provider(clock: timedelta = timedelta()) -> dict[str, Answer]:
    """A small correct provider: six identifiers in two pages, keyed by verb or token;
    its responseDate runs ``clock`` ahead."""

    def answer(body: str, verb: str = "") -> Answer:
        return lambda base: envelope(body.replace("{base}", base), verb, clock)

    return {
        "Identify": answer(IDENTIFY, "Identify"),
        "ListMetadataFormats": answer(FORMATS, "ListMetadataFormats"),
        "ListSets": answer(
            "<ListSets><set><setSpec>a</setSpec><setName>A</setName></set></ListSets>"
        ),
        "ListIdentifiers": answer(
            f"<ListIdentifiers>{headers(1, 2, 3)}{token('p2')}</ListIdentifiers>"
        ),
        "p2": answer(f"<ListIdentifiers>{headers(4, 5, 6)}{token(cursor=3)}</ListIdentifiers>"),
        "GetRecord": answer(GET_RECORD, "GetRecord"),
    }


@dataclass
class CannedProvider:
    """A tiny HTTP server answering from a table; ``requests`` counts what it was asked."""

    answers: dict[str, Answer]
    url: str = ""
    requests: int = 0


class _CannedHandler(BaseHTTPRequestHandler):
    server: _CannedServer

    def do_GET(self) -> None:
        provider = self.server.provider
        provider.requests += 1
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        key = query.get("resumptionToken") or query.get("verb", "")
        answer = provider.answers.get(key, provider.answers.get("*"))
        if answer is None:
            status, kind, body = 200, "text/xml", envelope('<error code="badVerb">no</error>')
        elif callable(answer):
            status, kind, body = 200, "text/xml; charset=utf-8", answer(provider.url)
        else:
            status, kind, body = answer
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if status == 503:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        pass


class _CannedServer(ThreadingHTTPServer):
    daemon_threads = True
    provider: CannedProvider


@pytest.fixture
def serve() -> Iterator[Callable[[Mapping[str, Answer]], CannedProvider]]:
    """Starts canned providers on free ports for one test, and stops them after it."""
    servers: list[_CannedServer] = []

    def start(answers: Mapping[str, Answer]) -> CannedProvider:
        server = _CannedServer(("127.0.0.1", 0), _CannedHandler)
        server.provider = CannedProvider(dict(answers))
        server.provider.url = f"http://127.0.0.1:{server.server_address[1]}/oai"
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server.provider

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _check(provider: CannedProvider, **options: object) -> CheckReport:
    return check_endpoint(provider.url, CheckOptions(timeout=5, **options),  # type: ignore[arg-type]
                          sleep=lambda seconds: None)  # fmt: skip


def _level(report: CheckReport, check: str) -> Level | None:
    finding = report.finding(check)
    return None if finding is None else finding.level


def _message(report: CheckReport, check: str) -> str:
    finding = report.finding(check)
    assert finding is not None, check
    return finding.message


def test_correct_canned_provider_fails_nothing(serve: Callable[..., CannedProvider]) -> None:
    """The canned provider the broken ones are made from is itself correct: no FAIL, six
    identifiers in two pages; only what it leaves out (gzip, schemas) is a WARN."""
    report = _check(serve(good_provider()))
    assert not report.failed, report.findings
    assert report.figures.identifiers == 6 and report.figures.pages == 2
    warned = {f.check for f in report.findings if f.level is Level.WARN}
    assert warned == {"compression", "schema"}
    assert "--schemas" in _message(report, "schema")


def test_duplicate_identifiers_across_pages_fail(serve: Callable[..., CannedProvider]) -> None:
    """An identifier served on page 1 and again, unchanged, on page 2 is a duplicate."""
    answers = good_provider()
    answers["p2"] = lambda base: envelope(
        f"<ListIdentifiers>{headers(3, 4, 5, 6)}{token(size=7, cursor=3)}</ListIdentifiers>"
    )
    report = _check(serve(answers))
    assert _level(report, "duplicates") is Level.FAIL
    assert "oai:test:3 on pages 1 and 2" in _message(report, "duplicates")
    assert report.figures.duplicates == 1 and report.figures.identifiers == 6


def test_token_on_the_last_page_fails(serve: Callable[..., CannedProvider]) -> None:
    """A last page that hands out one more token (which then gives noRecordsMatch) fails
    the last-page check: harvesters complain about exactly this."""
    answers = good_provider()
    answers["p2"] = lambda base: envelope(
        f"<ListIdentifiers>{headers(4, 5, 6)}{token('p3', cursor=3)}</ListIdentifiers>"
    )
    answers["p3"] = lambda base: envelope('<error code="noRecordsMatch">nothing left</error>')
    report = _check(serve(answers))
    assert _level(report, "last page") is Level.FAIL
    assert "page 2 carried a resumption token" in _message(report, "last page")
    assert report.figures.identifiers == 6


def test_missing_empty_token_fails(serve: Callable[..., CannedProvider]) -> None:
    """A list sent in pages whose last page has no resumptionToken at all fails."""
    answers = good_provider()
    answers["p2"] = lambda base: envelope(f"<ListIdentifiers>{headers(4, 5, 6)}</ListIdentifiers>")
    report = _check(serve(answers))
    assert _level(report, "last page") is Level.FAIL
    assert "has no resumptionToken" in _message(report, "last page")
    assert report.figures.last_token_empty is False


def test_repeated_token_stops_instead_of_looping(serve: Callable[..., CannedProvider]) -> None:
    """A token that leads back to itself is reported after one round, not followed forever."""
    answers = good_provider()
    answers["p2"] = lambda base: envelope(
        f"<ListIdentifiers>{headers(4, 5, 6)}{token('p2', cursor=3)}</ListIdentifiers>"
    )
    provider = serve(answers)
    report = _check(provider)
    assert _level(report, "ListIdentifiers") is Level.FAIL
    assert "page 2 carries the same resumption token as page 1" in _message(
        report, "ListIdentifiers"
    )
    assert provider.requests < 10


def test_invalid_xml_page_fails(serve: Callable[..., CannedProvider]) -> None:
    """A page that is not well-formed XML (a raw control character, an unclosed element)
    stops the harvest with a FAIL that says so; the other checks still report."""
    answers = good_provider()
    answers["p2"] = lambda base: envelope("<ListIdentifiers>" + headers(4) + "<header>\x01")
    report = _check(serve(answers))
    assert _level(report, "ListIdentifiers") is Level.FAIL
    message = _message(report, "ListIdentifiers")
    assert "page 2 is unusable" in message and "not well-formed" in message
    assert _level(report, "GetRecord") is Level.PASS


def test_error_answer_to_identify_fails(serve: Callable[..., CannedProvider]) -> None:
    """Identify answered with an OAI-PMH error is a FAIL (exit 1), and the rest is still
    checked: the endpoint is OAI-PMH, just broken."""
    answers = good_provider()
    answers["Identify"] = lambda base: envelope(
        '<error code="badVerb">Identify? never heard</error>'
    )
    provider = serve(answers)
    report = _check(provider)
    assert _level(report, "Identify") is Level.FAIL
    assert "badVerb" in _message(report, "Identify")
    assert report.figures.identifiers == 6
    result = CliRunner().invoke(main, ["oai", "check", provider.url, "--timeout", "5"])
    assert result.exit_code == 1 and "FAIL  Identify" in result.stdout


def test_schema_invalid_page_fails(serve: Callable[..., CannedProvider]) -> None:
    """With --schemas, a page with an element OAI-PMH.xsd does not allow fails the schema
    check, naming the page and the schema's message."""
    answers = good_provider()
    answers["p2"] = lambda base: envelope(
        f"<ListIdentifiers>{headers(4, 5, 6)}<extra/>{token(cursor=3)}</ListIdentifiers>"
    )
    report = _check(serve(answers), schema_folders=(OAI_XSD,))
    assert _level(report, "schema") is Level.FAIL
    message = _message(report, "schema")
    assert "1 of 6 responses invalid" in message and "ListIdentifiers page 2" in message
    assert "extra" in message


def test_schema_folder_without_wrapper_and_unknown_formats(
    serve: Callable[..., CannedProvider], tmp_path: Path
) -> None:
    """The wrapper schema is built from whatever the folder holds (no oai-all.xsd needed);
    metadata in a namespace no given schema covers is a WARN, not a FAIL."""
    folder = tmp_path / "xsd"
    shutil.copytree(OAI_XSD, folder)
    (folder / "oai-all.xsd").unlink()
    answers = good_provider()
    answers["GetRecord"] = lambda base: envelope(
        GET_RECORD.replace(
            "oai_dc:dc xmlns:oai_dc", 'x:thing xmlns:x="urn:x-other" xmlns:oai_dc'
        ).replace("</oai_dc:dc>", "</x:thing>")
    )
    report = _check(serve(answers), schema_folders=(folder,))
    assert _level(report, "schema") is Level.WARN
    assert "no schema given for urn:x-other" in _message(report, "schema")
    # A metadata element the schemas do cover is still validated strictly.
    broken = load_schemas([folder])
    bad = GET_RECORD.replace("<dc:title>", "<dc:nonsense>").replace("</dc:title>", "</dc:nonsense>")
    assert not broken.schema.validate(etree.fromstring(envelope(bad)))


def test_combined_schema_covers_every_namespace_in_the_folders() -> None:
    """One in-memory schema imports every schema of the folders by target namespace,
    MODS (and xlink) from a second folder included; import-only files are left out."""
    combined = combined_schema([OAI_XSD, MODS_XSD], required=["OAI-PMH.xsd"])
    assert {"OAI-PMH.xsd", "oai_dc.xsd", "MARC21slim.xsd", "mods-3-7.xsd"} <= set(
        combined.file_names()
    )
    assert "oai-all.xsd" not in combined.file_names()
    assert combined.namespaces["http://www.w3.org/XML/1998/namespace"].parent == OAI_XSD


def test_short_token_lifetime_and_wrong_granularity(serve: Callable[..., CannedProvider]) -> None:
    """A token that expires in two hours is a WARN (aggregators ask for 23 h); day
    datestamps from a repository that says seconds granularity are a FAIL."""
    answers = good_provider()
    answers["ListIdentifiers"] = lambda base: envelope(
        f"<ListIdentifiers>{headers(1, 2, 3, stamp='2026-01-02')}{token('p2', hours=2)}"
        "</ListIdentifiers>"
    )
    report = _check(serve(answers))
    assert _level(report, "expirationDate") is Level.WARN
    assert "2.0 h" in _message(report, "expirationDate")
    assert _level(report, "datestamps") is Level.FAIL
    assert "not at Identify's granularity" in _message(report, "datestamps")


def test_local_time_written_as_utc_fails(serve: Callable[..., CannedProvider]) -> None:
    """A provider whose responseDate is seven hours ahead (Vietnam's local time labelled
    UTC) fails the responseDate check: date-based harvests would miss records."""
    answers = good_provider(clock=timedelta(hours=7))
    report = _check(serve(answers))
    assert _level(report, "responseDate") is Level.FAIL
    message = _message(report, "responseDate")
    assert "ahead of this machine's clock" in message and "local time written as UTC" in message


def test_503_with_retry_after_is_retried(serve: Callable[..., CannedProvider]) -> None:
    """A 503 with Retry-After (a provider busy for a moment) is waited for and retried a few
    times; a provider that never recovers fails the HTTP check rather than hanging."""
    answers = good_provider()
    answers["p2"] = (503, "text/plain", b"busy")
    report = _check(serve(answers))
    assert report.figures.retries == 3
    assert _level(report, "HTTP") is Level.FAIL and "HTTP 503" in _message(report, "HTTP")
    assert _level(report, "ListIdentifiers") is Level.FAIL


def test_html_page_is_a_usage_error(serve: Callable[..., CannedProvider]) -> None:
    """A URL that answers with a web page (a library's OPAC home) is not an OAI-PMH
    endpoint: exit status 2 and one plain line, no traceback."""
    html = b"<!DOCTYPE html><html><body><h1>OPAC</h1></body></html>"
    provider = serve({"*": (200, "text/html; charset=utf-8", html)})
    result = CliRunner().invoke(main, ["oai", "check", provider.url])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "is not an OAI-PMH base URL" in result.stderr and "HTML page" in result.stderr


def test_unreachable_port_is_a_usage_error() -> None:
    """Nothing listening on the port: exit status 2 with one line saying so."""
    url = f"http://127.0.0.1:{free_port()}/oai"
    result = CliRunner().invoke(main, ["oai", "check", url, "--timeout", "5"])
    assert result.exit_code == 2
    assert result.stderr == f"lienthong: cannot reach {url}: connection refused\n"


def test_schema_folder_without_oai_pmh_xsd_is_a_usage_error(tmp_path: Path) -> None:
    """--schemas pointing at a folder without OAI-PMH.xsd is refused before any request."""
    url = f"http://127.0.0.1:{free_port()}/oai"
    result = CliRunner().invoke(main, ["oai", "check", url, "--schemas", str(tmp_path)])
    assert result.exit_code == 2 and "no OAI-PMH.xsd in" in result.stderr
