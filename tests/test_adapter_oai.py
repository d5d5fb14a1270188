"""The OAI-PMH source against real providers: a second lienthong serving its demo catalogue
on loopback (harvested in marc21 and oai_dc, changed while it runs and harvested again from
the checkpoint), and small real HTTP servers that misbehave on purpose (503 with
Retry-After, garbage, a page cut off half-way, a refused resumption token, a missing
format, a server that never answers)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from adapters.interface import (
    Complete,
    Deletion,
    Event,
    Mark,
    Problem,
    SourceError,
    SourceSettings,
    Upsert,
)
from adapters.oai import OaiSource, harvest_from, local_id_from_identifier, open_source
from gateway.demo import DEMO_NAMESPACE, build_demo
from gateway.store import open_store
from gateway.sync import sync_source
from tests.conftest import REPO
from tests.servers import free_port, running_gateway
from tests.sync_helpers import write_config

DEMO_COUNTS = {"dlk-tinh": 160, "dlk-krongpac": 90, "thpt-ntmk": 80}


# -- a second lienthong -------------------------------------------------------------------


@dataclass
class Provider:
    """A running lienthong demo: its OAI-PMH base URL, configuration and store file."""

    url: str
    config: Path
    store: Path


@contextlib.contextmanager
def _demo(folder: Path) -> Iterator[Provider]:
    with running_gateway(["demo", "--dir", str(folder / "demo")], folder, "oaipmh") as base:
        time.sleep(1.1)  # harvests start in a later second than the demo's datestamps
        yield Provider(f"{base}/oai", folder / "demo" / "lienthong.yaml",
                       folder / "demo" / "lienthong.db")  # fmt: skip


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """A lienthong demo on a free loopback port that no test changes."""
    with _demo(tmp_path_factory.mktemp("oai-provider")) as running:
        yield running


@pytest.fixture
def changing_provider(tmp_path: Path) -> Iterator[Provider]:
    """A lienthong demo of this test's own, which the test may change."""
    with _demo(tmp_path) as running:
        yield running


def _demo_ids() -> dict[str, str]:
    """Every demo record's expected local id (``library/local``) and its 245 $a."""
    catalogue = build_demo(DEMO_NAMESPACE)
    return {f"{r.source}/{r.local_id}": r.marc["245"]["a"] for r in catalogue.records}


def _events(source: OaiSource, checkpoint: str | None = None, overlap: int = 0) -> list[Event]:
    return list(source.changes(checkpoint, overlap_seconds=overlap))


def _upserts(events: list[Event]) -> dict[str, Upsert]:
    return {e.local_id: e for e in events if isinstance(e, Upsert)}


def _cli(config: Path, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "gateway", "-c", str(config), *args],
                            capture_output=True, text=True, timeout=120, cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_marc21_harvest_reads_every_demo_record(provider: Provider) -> None:
    """A full marc21 harvest gives exactly the demo's 330 records under library/local ids,
    in NFC with their titles as built, a listing of all of them, then one mark at the
    provider's time."""
    events = _events(OaiSource(provider.url))
    upserts = _upserts(events)
    expected = _demo_ids()
    assert len([e for e in events if isinstance(e, Upsert)]) == 330
    assert set(upserts) == set(expected)
    for local_id, upsert in upserts.items():
        assert upsert.record["245"]["a"] == expected[local_id]
        assert upsert.record["001"].data == local_id.split("/")[1]
        assert upsert.changed is not None and upsert.changed.tzinfo is not None
    title = upserts["dlk-tinh/DLK000003"].record["245"]["a"]
    assert title == "Lược sử nước Việt bằng tranh /"
    assert all(unicodedata.is_normalized("NFC", sub.value)
               for u in upserts.values() for f in u.record.get_fields()
               if not f.is_control_field() for sub in f.subfields)  # fmt: skip
    assert not [e for e in events if isinstance(e, Problem | Deletion)]
    listings = [e for e in events if isinstance(e, Complete)]
    assert len(listings) == 1 and listings[0].ids == frozenset(expected)
    assert isinstance(events[-1], Mark) and events[-2] is listings[0]
    assert len(events[-1].checkpoint) == 20 and events[-1].checkpoint.endswith("Z")


def test_oai_dc_harvest_crosswalks_every_record(provider: Provider) -> None:
    """oai_dc records come back as MARC 21 made by the DC crosswalk: 330 of them, the
    local id in 001, the title without ISBD punctuation, 042 $a dc."""
    upserts = _upserts(_events(OaiSource(provider.url, prefix="oai_dc")))
    assert len(upserts) == 330 and set(upserts) == set(_demo_ids())
    record = upserts["dlk-tinh/DLK000003"].record
    assert record["245"]["a"] == "Lược sử nước Việt bằng tranh"
    assert record["001"].data == "dlk-tinh/DLK000003"
    assert record["042"]["a"] == "dc"
    assert unicodedata.is_normalized("NFC", record["245"]["a"])


def test_set_and_listing_and_sample(provider: Provider) -> None:
    """A set limits the harvest to one library (80 school records); current_ids lists
    the same ids; sample names the provider, its granularity and its formats."""
    source = open_source(SourceSettings("ntmk", "thpt-ntmk", "oai", {
        "url": provider.url, "set": "library:thpt-ntmk", "metadata_prefix": "marc21",
        "id_rule": None, "timeout_seconds": 30}))  # fmt: skip
    upserts = _upserts(_events(source))
    assert len(upserts) == DEMO_COUNTS["thpt-ntmk"]
    assert all(local_id.startswith("thpt-ntmk/") for local_id in upserts)
    ids = source.current_ids()
    assert ids is not None and set(ids) == set(upserts)
    sample = source.sample(3)
    assert "Liên thông thư viện tỉnh Đắk Lắk (demo)" in sample.summary
    assert "seconds" in sample.summary and "marc21" in sample.summary
    assert "80 marc21 records in set 'library:thpt-ntmk'" in sample.summary
    assert len(sample.records) == 3 and not sample.problems


def test_id_rule_001_takes_ids_from_the_records(provider: Provider) -> None:
    """With id_rule 001 the ids are the records' control numbers (DLK000001, ...); a full
    harvest's listing is "everything given" since only the engine sees every id."""
    events = _events(OaiSource(provider.url, id_rule="001", set_spec="library:dlk-tinh"))
    upserts = _upserts(events)
    assert len(upserts) == 160 and "DLK000003" in upserts
    assert [e.ids for e in events if isinstance(e, Complete)] == [None]
    assert OaiSource(provider.url, id_rule="001").current_ids() is None


def _stamp(moment: datetime | None) -> str:
    assert moment is not None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_incremental_harvest_returns_exactly_the_changes(changing_provider: Provider) -> None:
    """A full harvest's checkpoint is the latest datestamp (earlier than the responseDate:
    the demo was built a second before). After one record re-imported with a new title and
    one deleted at the provider, the next harvest gives those changes and, besides them,
    only re-reads of the checkpoint's own second; a harvest after that gives nothing new
    and keeps the checkpoint; a wide overlap reads everything again."""
    source = OaiSource(changing_provider.url)
    first = _events(source)
    checkpoint = first[-1]
    assert isinstance(checkpoint, Mark)
    built = max(_stamp(u.changed) for u in _upserts(first).values())
    assert checkpoint.checkpoint == built
    changed = _upserts(first)["dlk-tinh/DLK000003"].record
    changed["245"]["a"] = "Lược sử nước Việt bằng tranh (tái bản) /"
    record_file = changing_provider.store.parent / "changed.mrc"
    record_file.write_bytes(changed.as_marc())
    _cli(changing_provider.config, "import", str(record_file), "--source", "dlk-tinh")
    with open_store(changing_provider.store) as store:
        store.delete("dlk-krongpac", ["KPC000002"])
    time.sleep(1.1)  # the next harvest's responseDate is in a later second than the changes

    second = _events(source, checkpoint.checkpoint)
    upserts = _upserts(second)
    newer = [i for i, u in upserts.items() if _stamp(u.changed) > built]
    assert newer == ["dlk-tinh/DLK000003"]
    assert all(_stamp(u.changed) == built for i, u in upserts.items() if i not in newer)
    assert upserts["dlk-tinh/DLK000003"].record["245"]["a"] == changed["245"]["a"]
    deletions = [e for e in second if isinstance(e, Deletion)]
    assert [e.local_id for e in deletions] == ["dlk-krongpac/KPC000002"]
    assert not [e for e in second if isinstance(e, Complete | Problem)]
    mark = second[-1]
    latest = max(_stamp(upserts["dlk-tinh/DLK000003"].changed), _stamp(deletions[0].changed))
    assert isinstance(mark, Mark) and mark.checkpoint == latest > checkpoint.checkpoint

    third = _events(source, mark.checkpoint)
    assert {e.local_id for e in third if isinstance(e, Upsert | Deletion)} <= {
        "dlk-tinh/DLK000003", "dlk-krongpac/KPC000002"
    }  # fmt: skip
    assert third[-1] == mark
    wide = _events(source, mark.checkpoint, overlap=3600)
    assert len(_upserts(wide)) == 329
    assert [e.local_id for e in wide if isinstance(e, Deletion)] == ["dlk-krongpac/KPC000002"]
    ids = source.current_ids()
    assert ids is not None and set(ids) == set(_demo_ids()) - {"dlk-krongpac/KPC000002"}


def test_engine_mirrors_the_provider(changing_provider: Provider, tmp_path: Path) -> None:
    """Through the sync engine: a first sync stores the 330 records under library
    ``dlk-tinh``; after a deletion at the provider, the next sync stores exactly that
    (one tombstoned, the rest, re-read from the checkpoint's second, unchanged)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    config = write_config(folder, [{"name": "demo-oai", "library": "dlk-tinh", "kind": "oai",
                                    "url": changing_provider.url,
                                    "overlap_seconds": 0}])  # fmt: skip
    with open_store(folder / "store.db") as store:
        report = sync_source(store, config, "demo-oai")
        assert report.ok, report.error
        assert report.written.new == 330 and report.read == 330
        with open_store(changing_provider.store) as provider_store:
            provider_store.delete("thpt-ntmk", ["NTMK000001"])
        time.sleep(1.1)
        report = sync_source(store, config, "demo-oai")
        assert report.ok, report.error
        written = report.written
        assert (written.deleted, written.new, written.updated) == (1, 0, 0)
        assert report.read == 330 and written.unchanged == 329
        live = set(store.local_ids("dlk-tinh"))
        assert len(live) == 329 and "thpt-ntmk/NTMK000001" not in live


# -- misbehaving providers ------------------------------------------------------------------

OAI_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            "<responseDate>{date}</responseDate><request>http://x/oai</request>")  # fmt: skip
DATE = "2026-12-02T10:00:00Z"


def _page(body: str, date: str = DATE) -> bytes:
    return (OAI_HEAD.format(date=date) + body + "</OAI-PMH>").encode("utf-8")


def _record(
    number: int,
    *,
    deleted: bool = False,
    metadata: str | None = None,
    datestamp: str = "2026-12-01T08:00:00Z",
) -> str:
    identifier = f"oai:test.example:lib/R{number}"
    status = ' status="deleted"' if deleted else ""
    head = (f"<header{status}><identifier>{identifier}</identifier>"
            f"<datestamp>{datestamp}</datestamp></header>")  # fmt: skip
    if deleted:
        return f"<record>{head}</record>"
    if metadata is None:
        metadata = (
            '<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500'
            f'</leader><controlfield tag="001">R{number}</controlfield><datafield tag="245" '
            f'ind1="0" ind2="0"><subfield code="a">Sách số {number}</subfield></datafield>'
            "</record>"
        )
    return f"<record>{head}<metadata>{metadata}</metadata></record>"


def _list(records: str, token: str | None = None, date: str = DATE) -> bytes:
    tail = f"<resumptionToken>{token}</resumptionToken>" if token else "<resumptionToken/>"
    return _page(f"<ListRecords>{records}{tail}</ListRecords>", date)


def _error(code: str, text: str = "") -> bytes:
    return _page(f'<error code="{code}">{text}</error>')


IDENTIFY = _page(
    "<Identify><repositoryName>Thư viện thử</repositoryName><baseURL>http://x/oai</baseURL>"
    "<protocolVersion>2.0</protocolVersion><adminEmail>a@example.vn</adminEmail>"
    "<earliestDatestamp>2020-01-01</earliestDatestamp><deletedRecord>persistent"
    "</deletedRecord><granularity>{granularity}</granularity></Identify>"
)
FORMATS = _page(
    "<ListMetadataFormats><metadataFormat><metadataPrefix>oai_dc</metadataPrefix><schema>s"
    "</schema><metadataNamespace>n</metadataNamespace></metadataFormat><metadataFormat>"
    "<metadataPrefix>mods</metadataPrefix><schema>s</schema><metadataNamespace>n"
    "</metadataNamespace></metadataFormat></ListMetadataFormats>"
)

#: An answer: status, headers, body (and seconds to wait before answering).
Answer = tuple[int, dict[str, str], bytes] | tuple[int, dict[str, str], bytes, float]


@dataclass
class CannedProvider:
    """A real HTTP server on loopback answering each request with ``answer(params)``;
    every request's parameters are kept in ``requests``."""

    answer: Callable[[dict[str, str]], Answer]
    granularity: str = "YYYY-MM-DDThh:mm:ssZ"
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def verbs(self) -> list[str]:
        """The verbs asked for, a token request written as ``token:<token>``."""
        return [f"token:{p['resumptionToken']}" if "resumptionToken" in p else p["verb"]
                for p in self.requests]  # fmt: skip


@contextlib.contextmanager
def _canned(
    answer: Callable[[dict[str, str]], Answer], granularity: str = "YYYY-MM-DDThh:mm:ssZ"
) -> Iterator[CannedProvider]:
    canned = CannedProvider(answer, granularity)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            params = dict(parse_qsl(urlsplit(self.path).query))
            canned.requests.append(params)
            if params.get("verb") == "Identify":
                identify = IDENTIFY.replace(b"{granularity}", canned.granularity.encode())
                reply: Answer = (200, {}, identify)
            elif params.get("verb") == "ListMetadataFormats":
                reply = (200, {}, FORMATS)
            else:
                reply = canned.answer(params)
            if len(reply) == 4:
                time.sleep(reply[3])
            status, headers, body = reply[0], reply[1], reply[2]
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                headers = {"Content-Type": "text/xml; charset=utf-8", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    canned.url = f"http://127.0.0.1:{server.server_address[1]}/oai"
    try:
        yield canned
    finally:
        server.shutdown()
        server.server_close()


def _quick(url: str, **kwargs: object) -> OaiSource:
    """A source that retries fast (the pauses are what is under test elsewhere)."""
    options: dict[str, object] = {"attempts": 3, "backoff": 0.05, "max_wait": 0.2,
                                  "timeout": 5, **kwargs}  # fmt: skip
    return OaiSource(url, **options)  # type: ignore[arg-type]


def _no_match(params: dict[str, str]) -> Answer:
    return 200, {}, _error("noRecordsMatch")


def _two_pages(params: dict[str, str]) -> Answer:
    if params.get("resumptionToken") == "p2":
        return 200, {}, _list(_record(3) + _record(4))
    return 200, {}, _list(_record(1) + _record(2), token="p2")


def test_retry_after_is_honoured_and_capped() -> None:
    """Two 503s with Retry-After: 3600 are waited out for no longer than the cap, then
    the harvest goes on; a provider that stays at 503 fails retryably, naming the URL."""
    busy = {"count": 0}

    def answer(params: dict[str, str]) -> Answer:
        if busy["count"] < 2:
            busy["count"] += 1
            return 503, {"Retry-After": "3600"}, b"busy"
        return _two_pages(params)

    with _canned(answer) as canned:
        started = time.monotonic()
        events = _events(_quick(canned.url))
        assert time.monotonic() - started < 5
        assert sorted(_upserts(events)) == ["lib/R1", "lib/R2", "lib/R3", "lib/R4"]
        assert canned.verbs() == ["ListRecords"] * 3 + ["token:p2"]
    with _canned(lambda params: (503, {"Retry-After": "0"}, b"busy")) as canned:
        with pytest.raises(SourceError) as caught:
            _events(_quick(canned.url))
        assert caught.value.retryable and "HTTP 503" in str(caught.value)
        assert canned.url in str(caught.value)


def test_retry_after_waits_the_seconds_it_asks_for() -> None:
    """A Retry-After of 1 second below the cap is waited for in full."""
    busy = {"count": 0}

    def answer(params: dict[str, str]) -> Answer:
        busy["count"] += 1
        return (503, {"Retry-After": "1"}, b"") if busy["count"] == 1 else _two_pages(params)

    with _canned(answer) as canned:
        started = time.monotonic()
        assert len(_upserts(_events(_quick(canned.url, max_wait=30)))) == 4
        assert time.monotonic() - started >= 0.9


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<html><head><title>Error</title><meta charset=x></head></html>", "it begins"),
        (b"Internal Server Error", "not well-formed XML"),
        (b"", "empty page"),
        (b"<?xml version='1.0'?><rss><channel/></rss>", "root element is <rss>"),
    ],
)
def test_garbage_is_a_plain_source_error(body: bytes, words: str) -> None:
    """A page that is not OAI-PMH XML fails the harvest with the URL and what was wrong,
    before any mark."""
    with _canned(lambda params: (200, {"Content-Type": "text/html"}, body)) as canned:
        source = _quick(canned.url)
        with pytest.raises(SourceError) as caught:
            _events(source)
        message = str(caught.value)
        assert words in message and f"{canned.url}?verb=ListRecords" in message


def test_half_a_page_stops_the_harvest_without_a_mark() -> None:
    """Page 2 cut off half-way (a well-sent response whose XML stops in a record): the
    records of page 1 were given, then the harvest fails, and no mark was given."""

    def answer(params: dict[str, str]) -> Answer:
        if params.get("resumptionToken") == "p2":
            whole = _list(_record(3) + _record(4))
            return 200, {}, whole[: len(whole) // 2]
        return _two_pages(params)

    with _canned(answer) as canned:
        given: list[Event] = []
        with pytest.raises(SourceError) as caught:
            for event in _quick(canned.url).changes(None, overlap_seconds=0):
                given.append(event)
        assert "cut off half-way" in str(caught.value) and "resumptionToken=p2" in str(caught.value)
        assert sorted(_upserts(given)) == ["lib/R1", "lib/R2"]
        assert not [e for e in given if isinstance(e, Mark | Complete)]


def test_a_transfer_broken_off_is_retried_then_fails() -> None:
    """A server that promises more bytes than it sends (the connection closes early) is
    asked again, then the harvest fails retryably."""
    with _canned(lambda p: (200, {"Content-Length": "5000"}, _list(_record(1)))) as canned:
        with pytest.raises(SourceError) as caught:
            _events(_quick(canned.url))
        assert caught.value.retryable and "tried 3 times" in str(caught.value)
        assert len(canned.requests) == 3


def test_refused_resumption_token_restarts_the_list_once() -> None:
    """badResumptionToken on page 2 starts the list over from the same arguments (the
    re-read records are harmless); a second refusal fails the harvest."""
    refusals = {"left": 1}

    def answer(params: dict[str, str]) -> Answer:
        if params.get("resumptionToken") == "p2" and refusals["left"]:
            refusals["left"] -= 1
            return 200, {}, _error("badResumptionToken", "expired")
        return _two_pages(params)

    with _canned(answer) as canned:
        events = _events(_quick(canned.url), "2026-12-01T00:00:00Z", overlap=60)
        assert canned.verbs() == ["Identify", "ListRecords", "token:p2", "ListRecords",
                                  "token:p2"]  # fmt: skip
        froms = [p.get("from") for p in canned.requests if p.get("verb") == "ListRecords"
                 and "resumptionToken" not in p]  # fmt: skip
        assert froms == ["2026-11-30T23:59:00Z"] * 2
        assert [e.local_id for e in events if isinstance(e, Upsert)] == [
            "lib/R1", "lib/R2", "lib/R1", "lib/R2", "lib/R3", "lib/R4"]  # fmt: skip
        # One mark, at the end: the records' datestamp, which is before the responseDate.
        assert [e for e in events if isinstance(e, Mark)] == [Mark("2026-12-01T08:00:00Z")]
    refusals["left"] = 2
    with _canned(answer) as canned:
        with pytest.raises(SourceError) as caught:
            _events(_quick(canned.url))
        assert "refused its own resumption token" in str(caught.value)


def test_missing_format_names_the_formats_offered() -> None:
    """cannotDisseminateFormat (a provider without marc21) is not retryable and says which
    formats the provider offers and which of them lienthong reads."""

    def answer(params: dict[str, str]) -> Answer:
        return 200, {}, _error("cannotDisseminateFormat", "no marc21")

    with _canned(answer) as canned:
        with pytest.raises(SourceError) as caught:
            _events(_quick(canned.url))
        message = str(caught.value)
        assert not caught.value.retryable
        assert "does not offer metadata format 'marc21'" in message
        assert "it offers oai_dc, mods (set metadata_prefix to oai_dc)" in message
        sample = _quick(canned.url).sample()
        assert sample.problems and "does not offer marc21" in sample.problems[0]


def test_no_records_match_keeps_the_checkpoint() -> None:
    """An incremental harvest that finds nothing gives only a mark, of the checkpoint it
    started from (no datestamp says how far the provider's clock has got), having asked
    from = checkpoint − overlap, in seconds; a first harvest that finds nothing marks the
    provider's responseDate (not our time)."""
    with _canned(_no_match) as canned:
        events = _events(_quick(canned.url), "2026-12-02T09:00:00Z", overlap=300)
        assert events == [Mark("2026-12-02T09:00:00Z")]
        assert canned.requests[-1]["from"] == "2026-12-02T08:55:00Z"
        assert _events(_quick(canned.url))[-1] == Mark(DATE)


def test_datestamps_behind_the_response_date_are_not_skipped() -> None:
    """A Koha behind UTC writes its local time with a Z, so its datestamps are hours
    behind its responseDate: the checkpoint is the latest datestamp read (when earlier),
    so a change saved after the harvest, datestamped before its responseDate, is found
    by the next one; with datestamps ahead, the responseDate stays the checkpoint."""
    stamps = {1: "2026-12-02T04:30:00Z", 2: "2026-12-02T05:00:00Z"}
    clock = {"now": "2026-12-02T10:00:00Z"}

    def answer(params: dict[str, str]) -> Answer:
        since = params.get("from", "")
        found = "".join(_record(n, datestamp=d) for n, d in stamps.items() if d >= since)
        if not found:
            return 200, {}, _page('<error code="noRecordsMatch"/>', clock["now"])
        return 200, {}, _list(found, date=clock["now"])

    with _canned(answer) as canned:
        source = _quick(canned.url)
        first = _events(source, overlap=300)
        assert first[-1] == Mark("2026-12-02T05:00:00Z")
        stamps[3] = "2026-12-02T06:00:00Z"  # saved at 06:00 local time, 11:00 UTC
        clock["now"] = "2026-12-02T11:30:00Z"
        second = _events(source, "2026-12-02T05:00:00Z", overlap=300)
        assert canned.requests[-1]["from"] == "2026-12-02T04:55:00Z"
        assert sorted(_upserts(second)) == ["lib/R2", "lib/R3"]
        assert second[-1] == Mark("2026-12-02T06:00:00Z")
        stamps[4] = "2026-12-02T18:00:00Z"  # a provider ahead of UTC
        ahead = _events(source, "2026-12-02T06:00:00Z", overlap=300)
        assert "lib/R4" in _upserts(ahead) and ahead[-1] == Mark("2026-12-02T11:30:00Z")


def test_day_granularity_asks_for_whole_days() -> None:
    """A YYYY-MM-DD provider is asked for the day the overlapped checkpoint falls on: the
    day itself, or the day before just after midnight."""
    with _canned(_no_match, granularity="YYYY-MM-DD") as canned:
        _events(_quick(canned.url), "2026-12-02T12:00:00Z", overlap=300)
        _events(_quick(canned.url), "2026-12-02T00:02:00Z", overlap=300)
        froms = [p["from"] for p in canned.requests if "from" in p]
        assert froms == ["2026-12-02", "2026-12-01"]
    assert harvest_from("2026-12-02", 0, "YYYY-MM-DD") == "2026-12-02"
    assert harvest_from("not a date", 0, "YYYY-MM-DD") is None


def test_deleted_and_unreadable_records() -> None:
    """A deleted header is a deletion; a record whose metadata cannot be read is a
    problem named by its identifier, the harvest goes on, and a full harvest still lists
    the unreadable record (it exists at the provider; its stored copy must stay)."""
    broken = '<record xmlns="http://www.loc.gov/MARC21/slim"><leader>x</leader></record>'
    records = (_record(1) + _record(2, deleted=True) + _record(3, metadata=broken)
               + _record(4, metadata="<dc xmlns='urn:other'/>") + _record(5))  # fmt: skip
    with _canned(lambda params: (200, {}, _list(records))) as canned:
        events = _events(_quick(canned.url))
    assert [e.local_id for e in events if isinstance(e, Deletion)] == ["lib/R2"]
    problems = [e for e in events if isinstance(e, Problem)]
    assert [p.where for p in problems] == ["oai:test.example:lib/R3", "oai:test.example:lib/R4"]
    assert "has no fields" in problems[0].reason and "not a MARCXML record" in problems[1].reason
    assert sorted(_upserts(events)) == ["lib/R1", "lib/R5"]
    assert _upserts(events)["lib/R1"].record["245"]["a"] == "Sách số 1"
    listing = next(e for e in events if isinstance(e, Complete))
    assert listing.ids == frozenset({"lib/R1", "lib/R3", "lib/R4", "lib/R5"})


def test_timeouts_and_refused_connections_are_retryable() -> None:
    """A provider that does not answer within timeout_seconds, and a port nothing listens
    on, are each tried a few times and then reported as retryable errors."""

    def slow(params: dict[str, str]) -> Answer:
        return 200, {}, _list(_record(1)), 2.0

    with _canned(slow) as canned:
        with pytest.raises(SourceError) as caught:
            _events(_quick(canned.url, timeout=0.3, attempts=2))
        assert caught.value.retryable and "did not answer in time" in str(caught.value)
    url = f"http://127.0.0.1:{free_port()}/oai"
    with pytest.raises(SourceError) as caught:
        _events(_quick(url))
    assert caught.value.retryable and "refused the connection" in str(caught.value)
    assert url in str(caught.value) and "tried 3 times" in str(caught.value)


def test_local_ids_and_settings() -> None:
    """Ids drop only ``oai:<repository>:``; other identifiers stay whole; passwords in
    the url never reach a message; unusable settings fail when the source is opened."""
    assert local_id_from_identifier("oai:demo.lienthong.vn:dlk-tinh/DLK1") == "dlk-tinh/DLK1"
    assert local_id_from_identifier("oai:dspace.org:123456789/7") == "123456789/7"
    assert local_id_from_identifier("KOHA-OAI-TEST:52") == "KOHA-OAI-TEST:52"
    assert local_id_from_identifier("oai:x") == "oai:x"
    assert local_id_from_identifier("  ") is None
    url = f"http://harvester:s3cret@127.0.0.1:{free_port()}/oai"
    with pytest.raises(SourceError) as caught:
        _events(_quick(url, attempts=1))
    assert "s3cret" not in str(caught.value) and "harvester:***@" in str(caught.value)
    for options, words in [({}, "url"), ({"url": "http://x/oai", "metadata_prefix": "mods"},
                                         "marc21 or oai_dc"),
                           ({"url": "http://x/oai", "metadata_prefix": "oai_dc",
                             "id_rule": "001"}, "must be identifier"),
                           ({"url": "http://x/oai", "id_rule": "24x"}, "not one")]:  # fmt: skip
        with pytest.raises(SourceError) as caught:
            open_source(SourceSettings("s", "lib", "oai", options))
        assert not caught.value.retryable and words in str(caught.value)


def test_http_error_statuses_in_words() -> None:
    """An OAI error sent with HTTP 400 is read as that OAI error (badArgument: not
    retryable, the formats named); a 404 page means the url is wrong (not retryable)."""

    def bad_argument(params: dict[str, str]) -> Answer:
        return 400, {}, _error("badArgument", "unknown metadataPrefix")

    with _canned(bad_argument) as canned:
        with pytest.raises(SourceError) as caught:
            _events(_quick(canned.url))
        assert not caught.value.retryable
        assert "did not accept" in str(caught.value) and "it offers oai_dc, mods" in str(
            caught.value
        )

    def missing(params: dict[str, str]) -> Answer:
        return 404, {"Content-Type": "text/html"}, b"<html><body>Not Found</body></html>"

    with _canned(missing) as canned:
        with pytest.raises(SourceError) as caught:
            _events(_quick(canned.url))
        assert not caught.value.retryable and "HTTP 404" in str(caught.value)
        assert "check the url setting" in str(caught.value)


def test_deleted_headers_under_a_record_id_rule() -> None:
    """With id_rule 001 a deleted header has no id to delete: an incremental harvest
    reports it as a problem pointing to --full; a full harvest leaves it out of its
    "everything given" listing instead, which deletes it."""
    records = _record(1) + _record(2, deleted=True)
    with _canned(lambda params: (200, {}, _list(records))) as canned:
        source = _quick(canned.url, id_rule="001")
        incremental = _events(source, "2026-12-01T00:00:00Z")
        full = _events(source)
    assert sorted(_upserts(incremental)) == ["R1"]
    problems = [e for e in incremental if isinstance(e, Problem)]
    assert len(problems) == 1 and "--full" in problems[0].reason
    assert not [e for e in incremental if isinstance(e, Complete)]
    assert not [e for e in full if isinstance(e, Problem)]
    assert [e.ids for e in full if isinstance(e, Complete)] == [None]
