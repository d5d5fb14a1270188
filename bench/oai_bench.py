"""OAI-PMH ListRecords harvest throughput and page-time flatness: lienthong next to pyoai.

    python3 bench/oai_bench.py [--records N] [--page-size S] [--gzip] [--profile K]
                               [--peer-pages P] [--peer-budget SECONDS] [--peer-full | --no-peer]

A full ``ListRecords metadataPrefix=marc21`` harvest of the LoC corpus that
bench/import_bench.py caches (250,000 records; ``--records N`` takes the first N). The
store is imported once with ``lienthong import`` and kept in ``bench/.cache/oai-store-N-vS``
(N the slice, S the store's schema version), so reruns go straight to the harvest. The
harvester is this process, the servers are child processes: a raw ``http.client`` client
on one keep-alive connection that finds the resumptionToken with a regular expression on
the page's tail (no XML parse), so the client is never the bottleneck.

The peer is the ``oaipmh`` package (pyoai 4.x): its ``BatchingServer`` over a small
bench-only backend that reads the same SQLite file (``LIMIT/OFFSET`` in feed order, since
pyoai's tokens carry an offset cursor), MARC decoded with the gateway's own
``marc_from_json`` and written by the gateway's MARCXML writer registered as a pyoai
metadata writer, behind ``http.server`` (HTTP/1.1 keep-alive; gzip at zlib level 6 like
the gateway when ``--gzip`` asks). Offset paging makes deep pages dearer, so it is first
harvested for ``--peer-pages`` pages at the start and as many from the 90% point (reached
with its own token, cursor edited); when a straight line through both windows puts its
whole harvest within ``--peer-budget`` seconds it is then harvested whole as well
(``--peer-full``: always). The side-by-side ratios compare both on the same page windows.
The issue's published figures for other providers are printed as ratios of ours, for
scale only.

``--profile K`` then replays K pages at the start and K at the 90% point in this process
(``OAIService.respond`` on the same store, the harvest's own tokens) under cProfile and
prints where a page's time goes. After a change of the store's schema, delete
``bench/.cache/oai-store-*``.
"""

from __future__ import annotations

import argparse
import cProfile
import html
import http.client
import json
import os
import pstats
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from import_bench import CACHE, corpus, slice_of  # noqa: E402

from gateway.config import render_config  # noqa: E402
from gateway.store.sqlite import SCHEMA_VERSION  # noqa: E402

TARGET = 3000  # records/s, the target
#: Published harvest rates the issue quotes (records/s); not measured here.
PUBLISHED = (("OCLC", 800), ("HathiTrust", 300), ("FOLIO", 100))
_TOKEN = re.compile(rb"<resumptionToken[^>]*>([^<]*)</resumptionToken>")
_PEER_CURSOR = re.compile(r"cursor%3D\d+")
SOURCE = "loc"


# -- the store ---------------------------------------------------------------------------


def config_text(page_size: int) -> str:
    """A gateway configuration serving OAI-PMH from ``lienthong.db`` next to it."""
    return render_config({
        "store.path": "lienthong.db", "endpoints.oaipmh": True, "oai.page_size": page_size,
        "oai.stylesheet": "none", "gateway.oai_namespace": "bench.lienthong.vn",
        "libraries": [{"id": SOURCE, "name": "Library of Congress (bench)", "kind": "national"}],
    })  # fmt: skip


def gateway_command(config: Path, *args: str) -> list[str]:
    """``python3 -m gateway -c CONFIG ARGS``."""
    return [sys.executable, "-m", "gateway", "-c", str(config), *args]


def child_env() -> dict[str, str]:
    """The environment for child processes: this checkout first on the path."""
    return dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    )


def cached_store(records: int) -> tuple[Path, int]:
    """(store folder, records in it): imported on the first run for this slice size."""
    source = slice_of(corpus(), records)
    folder = CACHE / f"oai-store-{records or 'all'}-v{SCHEMA_VERSION}"
    marker = folder / "imported.json"
    if marker.exists():
        return folder, int(json.loads(marker.read_text())["records"])
    if folder.exists():
        shutil.rmtree(folder)  # an import that did not finish
    folder.mkdir(parents=True)
    config = folder / "lienthong.yaml"
    config.write_text(config_text(200), "utf-8")
    print(f"importing {source.name} into {folder} (once) ...", flush=True)
    started = time.perf_counter()
    done = subprocess.run(gateway_command(config, "import", str(source), "--source", SOURCE),
                          cwd=REPO, env=child_env(), capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}):\n{done.stderr[-3000:]}")
    db = sqlite3.connect(folder / "lienthong.db")
    count = int(db.execute("SELECT count(*) FROM records WHERE deleted = 0").fetchone()[0])
    db.close()
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    print(f"imported {count} records in {seconds:.0f} s: {summary}")
    marker.write_text(json.dumps({"records": count, "seconds": seconds, "summary": summary}))
    return folder, count


def warm_file_cache(folder: Path) -> None:
    """Read the store files once, so neither server pays for a cold disk cache."""
    for path in sorted(folder.glob("lienthong.db*")):
        with path.open("rb") as handle:
            while handle.read(1 << 24):
                pass


# -- servers -----------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, path: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Until GET ``path`` answers 200 (or the server process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited ({process.returncode}): {process.args}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise SystemExit(f"no answer from port {port}")


def start_lienthong(folder: Path, page_size: int) -> tuple[subprocess.Popen[bytes], int, Path]:
    """The gateway serving OAI-PMH on the cached store: (process, port, log file)."""
    config = folder / "lienthong.yaml"
    config.write_text(config_text(page_size), "utf-8")
    port = free_port()
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(gateway_command(config, "serve", "--http-port", str(port)),
                                   cwd=REPO, env=child_env(), stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    wait_for(port, "/health", process)
    return process, port, log


def start_peer(folder: Path, page_size: int) -> tuple[subprocess.Popen[bytes], int]:
    """pyoai serving the same store (this script's ``--serve-peer``): (process, port)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-peer", str(folder / "lienthong.db"),
         "--port", str(port), "--page-size", str(page_size)],
        cwd=REPO, env=child_env(),
    )  # fmt: skip
    wait_for(port, "/oai?verb=Identify", process)
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a server this script started."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the harvester -----------------------------------------------------------------------


@dataclass
class Harvest:
    """What one harvest (or one window of pages) measured."""

    seconds: list[float] = field(default_factory=list)  #: per page, request to last byte
    records: list[int] = field(default_factory=list)  #: per page
    page_bytes: list[int] = field(default_factory=list)  #: XML bytes per page
    queries: list[str] = field(default_factory=list)  #: the query string of each page
    wire_bytes: int = 0
    xml_bytes: int = 0
    wall: float = 0.0
    errors: list[str] = field(default_factory=list)
    final_token: str | None = None  #: the token the last page fetched handed out

    @property
    def total(self) -> int:
        """Records harvested."""
        return sum(self.records)

    def rate(self) -> float:
        """Records/s over the whole harvest, wall clock (client included)."""
        return self.total / self.wall if self.wall else 0.0

    def page_rate(self) -> float:
        """Records/s counting only page times (request sent to last byte read)."""
        return self.total / sum(self.seconds) if self.seconds else 0.0


class Harvester:
    """A raw HTTP/1.1 harvester on one keep-alive connection."""

    def __init__(self, port: int, path: str, gzip: bool) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
        self.path = path
        self.headers = {"Accept-Encoding": "gzip"} if gzip else {}

    def get(self, query: str) -> tuple[bytes, int, float]:
        """(XML body, bytes on the wire, seconds from request to last byte)."""
        started = time.perf_counter()
        self.connection.request("GET", f"{self.path}?{query}", headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status} for {query[:120]}: {raw[:300]!r}")
        body = raw
        if response.getheader("content-encoding") == "gzip":
            body = zlib.decompress(raw, 31)
        return body, len(raw), elapsed

    def harvest(self, first: str, pages: int | None = None) -> Harvest:
        """Follow resumption tokens from the query ``first`` (at most ``pages`` pages)."""
        result = Harvest()
        query: str | None = first
        started = time.perf_counter()
        while query is not None and (pages is None or len(result.seconds) < pages):
            body, wire, elapsed = self.get(query)
            result.queries.append(query)
            result.seconds.append(elapsed)
            result.records.append(body.count(b"<header"))
            result.wire_bytes += wire
            result.xml_bytes += len(body)
            result.page_bytes.append(len(body))
            if b"<error" in body:
                error = re.search(rb"<error[^>]*>[^<]*", body)
                result.errors.append((error.group(0) if error else body[:200]).decode())
            token = page_token(body)
            result.final_token = token
            query = None if token is None else resume(token)
        result.wall = time.perf_counter() - started
        return result

    def close(self) -> None:
        """Drop the connection."""
        self.connection.close()


def page_token(body: bytes) -> str | None:
    """The page's non-empty resumptionToken, found in its tail (where the schema puts it)."""
    found = _TOKEN.search(body, max(0, len(body) - 4096)) or _TOKEN.search(body)
    if found is None or not found.group(1).strip():
        return None
    return html.unescape(found.group(1).strip().decode("utf-8"))


def resume(token: str) -> str:
    """The query string that continues a ListRecords list with ``token``."""
    return f"verb=ListRecords&resumptionToken={quote(token, safe='')}"


def peer_token_at(token: str, cursor: int) -> str:
    """A pyoai token (``quote(urlencode(kw))``) moved to another offset cursor."""
    moved, count = _PEER_CURSOR.subn(f"cursor%3D{cursor}", token)
    if count != 1:
        raise SystemExit(f"unexpected pyoai token format: {token}")
    return moved


# -- the pyoai peer (runs in its own process) ----------------------------------------------


def serve_peer(db_path: Path, port: int, page_size: int) -> None:
    """pyoai's BatchingServer over the store file, on http.server, until terminated."""
    from lxml import etree
    from oaipmh import common, error, metadata
    from oaipmh.server import BatchingServer

    from crosswalks.holdings import with_holdings
    from crosswalks.marcjson import marc_from_json
    from crosswalks.marcxml import MARCXML_NS, MARCXML_SCHEMA_LOCATION, marc_to_marcxml
    from gateway.record import Item

    base_url = f"http://127.0.0.1:{port}/oai"

    class StoreBackend:
        """IBatchingOAI over the records table, paged by offset as pyoai's tokens say."""

        def __init__(self) -> None:
            self.db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
            self.db.execute("PRAGMA cache_size = -65536")

        def identify(self) -> common.Identify:
            return common.Identify(
                repositoryName="pyoai peer (bench)", baseURL=base_url, protocolVersion="2.0",
                adminEmails=["bench@example.vn"], earliestDatestamp=datetime(2000, 1, 1),
                deletedRecord="persistent", granularity="YYYY-MM-DDThh:mm:ssZ",
                compression=["identity"],
            )  # fmt: skip

        def listMetadataFormats(self, identifier: str | None = None) -> list[tuple[str, str, str]]:  # noqa: N802
            return [("marc21", MARCXML_SCHEMA_LOCATION, MARCXML_NS)]

        def listSets(self, cursor: int = 0, batch_size: int = 10) -> list[Any]:  # noqa: N802
            raise error.NoSetHierarchyError("no sets in the bench peer")

        def _rows(self, with_marc: bool, from_: datetime | None, until: datetime | None,
                  cursor: int, batch_size: int) -> Iterator[tuple[Any, Any, None]]:  # fmt: skip
            where, params = [], []
            if from_ is not None:
                where.append("datestamp >= ?")
                params.append(int(from_.replace(tzinfo=UTC).timestamp()))
            if until is not None:
                where.append("datestamp <= ?")
                params.append(int(until.replace(tzinfo=UTC).timestamp()))
            rows = self.db.execute(
                f"SELECT oai_identifier, datestamp, deleted, sets, items, "
                f"{'marc' if with_marc else 'NULL'} FROM records "
                f"WHERE {' AND '.join(where) or '1'} ORDER BY datestamp, sequence "
                "LIMIT ? OFFSET ?",
                (*params, batch_size, cursor),
            ).fetchall()
            for oai_id, stamp, deleted, sets, items, marc in rows:
                moment = datetime.fromtimestamp(stamp, tz=UTC).replace(tzinfo=None)
                head = common.Header(None, oai_id, moment, sorted(json.loads(sets)), bool(deleted))
                record = None
                if marc and not deleted:
                    holdings = [Item(**item) for item in json.loads(items)]
                    record = with_holdings(marc_from_json(json.loads(marc)), holdings)
                yield head, record, None

        def listRecords(self, metadataPrefix: str, set: str | None = None,  # noqa: N802,N803,A002
                        from_: datetime | None = None, until: datetime | None = None,
                        cursor: int = 0, batch_size: int = 10) -> list[Any]:  # fmt: skip
            if metadataPrefix != "marc21":
                raise error.CannotDisseminateFormatError(metadataPrefix)
            if set is not None:
                raise error.NoSetHierarchyError("no sets in the bench peer")
            return list(self._rows(True, from_, until, int(cursor), int(batch_size)))

        def listIdentifiers(self, metadataPrefix: str, set: str | None = None,  # noqa: N802,N803,A002
                            from_: datetime | None = None, until: datetime | None = None,
                            cursor: int = 0, batch_size: int = 10) -> list[Any]:  # fmt: skip
            if metadataPrefix != "marc21":
                raise error.CannotDisseminateFormatError(metadataPrefix)
            return [head for head, _, _ in self._rows(False, from_, until, int(cursor),
                                                       int(batch_size))]  # fmt: skip

        def getRecord(self, metadataPrefix: str, identifier: str) -> Any:  # noqa: N802,N803
            raise error.IdDoesNotExistError(identifier)

    def write_marc21(element: etree._Element, record: Any) -> None:
        element.append(marc_to_marcxml(record))

    registry = metadata.MetadataRegistry()
    registry.registerWriter("marc21", write_marc21)
    oai = BatchingServer(StoreBackend(), registry, resumption_batch_size=page_size)

    class PeerHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the gateway's Twisted server
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle and the
        # client's delayed ACK would add ~40 ms to every small (gzipped) page.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            if parts.path != "/oai":
                self.send_error(404)
                return
            arguments = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            body = oai.handleRequest(arguments)
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                packer = zlib.compressobj(6, zlib.DEFLATED, 31)
                body = packer.compress(body) + packer.flush()
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    HTTPServer(("127.0.0.1", port), PeerHandler).serve_forever()


# -- in-process profile ----------------------------------------------------------------------

#: Profile rows: label, then (file suffix, function) whose cumulative time it is.
_PROFILE_PARTS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("SQL feed query (execute + fetchall)",
     (("~", "<method 'execute' of 'sqlite3.Connection' objects>"),
      ("~", "<method 'fetchall' of 'sqlite3.Cursor' objects>"))),
    ("row decode: JSON + marc_from_json", (("gateway/store/sqlite.py", "_stored"),)),
    ("  of which marc_from_json", (("crosswalks/marcjson.py", "marc_from_json"),)),
    ("  of which json.loads", (("json/__init__.py", "loads"),)),
    ("MARCXML render (render_xml)", (("crosswalks/formats.py", "render_xml"),)),
    ("  of which with_holdings", (("crosswalks/holdings.py", "with_holdings"),)),
    ("about (provenance + DC)", (("protocols/oaipmh/service.py", "_about"),)),
    ("header", (("protocols/oaipmh/service.py", "_header"),)),
    ("token sign/verify", (("protocols/oaipmh/tokens.py", "encode"),
                           ("protocols/oaipmh/tokens.py", "decode"))),
    ("envelope (document)", (("protocols/oaipmh/response.py", "document"),)),
)  # fmt: skip


def profile_pages(folder: Path, page_size: int, windows: dict[str, list[str]]) -> None:
    """Replay the harvest's own requests in this process and print a per-page breakdown."""
    from gateway.store import open_store
    from protocols.oaipmh.service import LibraryInfo, Limits, OAIService, Repository

    store = open_store(folder / "lienthong.db", create=False)
    libraries = {SOURCE: LibraryInfo("Library of Congress (bench)", "national")}
    repository = Repository("bench", "bench@example.vn", "bench.lienthong.vn", libraries)
    service = OAIService(store, repository, Limits(page_size=page_size))
    base = "http://127.0.0.1/oai"

    def arguments(query: str) -> dict[bytes, list[bytes]]:
        pairs = parse_qs(query, keep_blank_values=True).items()
        return {k.encode(): [v[0].encode()] for k, v in pairs}

    print(f"\nin-process profile (OAIService.respond, page size {page_size}); ms per page")
    header = f"{'part':<40}" + "".join(f"{name:>16}" for name in windows)
    print(header)
    print("-" * len(header))
    columns: dict[str, dict[str, float]] = {}
    for name, queries in windows.items():
        prepared = [arguments(q) for q in queries]
        service.respond(prepared[0], base)  # warm this window's pages
        plain = []
        bodies = []
        for request in prepared:
            started = time.perf_counter()
            bodies.append(service.respond(request, base))
            plain.append(time.perf_counter() - started)
        profiler = cProfile.Profile()
        profiler.enable()
        for request in prepared:
            service.respond(request, base)
        profiler.disable()
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        respond = _cumulative(stats, (("protocols/oaipmh/service.py", "respond"),))
        # cProfile inflates Python-heavy parts more than C calls; scale to unprofiled time.
        scale = statistics.mean(plain) / (respond / len(prepared)) if respond else 1.0
        column = {"respond, unprofiled": statistics.mean(plain) * 1000}
        for label, keys in _PROFILE_PARTS:
            column[label] = _cumulative(stats, keys) / len(prepared) * scale * 1000
        parts = sum(column[label] for label, _ in _PROFILE_PARTS if not label.startswith(" "))
        column["other (list logic, records, joins)"] = column["respond, unprofiled"] - parts
        started = time.perf_counter()
        for body in bodies:  # as protocols/oaipmh/resource.py compresses
            packer = zlib.compressobj(6, zlib.DEFLATED, 31)
            packer.compress(body) + packer.flush()
        column["gzip level 6 (if asked)"] = (time.perf_counter() - started) / len(bodies) * 1000
        column["page size, KB uncompressed"] = statistics.mean(len(b) for b in bodies) / 1000
        columns[name] = column
    for label in columns[next(iter(windows))]:
        print(f"{label:<40}" + "".join(f"{columns[n][label]:>16.1f}" for n in windows))
    store.close()


def _cumulative(stats: dict[Any, Any], keys: Sequence[tuple[str, str]]) -> float:
    total = 0.0
    for (filename, _, function), (_, _, _, cumulative, _) in stats.items():
        for suffix, name in keys:
            if function == name and filename.endswith(suffix):
                total += cumulative
    return total


# -- report ---------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def flatness(seconds: Sequence[float]) -> float:
    """Mean page time of the last 10% of pages over that of the first 10% (full pages only:
    the last, short page is left out)."""
    full = list(seconds[:-1]) if len(seconds) > 1 else list(seconds)
    tenth = max(1, len(full) // 10)
    return statistics.mean(full[-tenth:]) / statistics.mean(full[:tenth])


def per_byte(harvest: Harvest) -> list[float]:
    """Seconds per XML byte of each page: deep records being longer does not count."""
    return [t / max(1, n) for t, n in zip(harvest.seconds, harvest.page_bytes, strict=True)]


def window_rate(harvest: Harvest, start: int, count: int) -> tuple[float, float]:
    """(records/s by page time, mean page seconds) of pages ``start`` .. ``start+count``."""
    seconds = harvest.seconds[start : start + count]
    records = harvest.records[start : start + count]
    return sum(records) / sum(seconds), statistics.mean(seconds)


def print_harvest(name: str, harvest: Harvest) -> None:
    """One server's full-harvest table."""
    s = harvest.seconds
    print(f"\n{name}: {harvest.total:,} records in {len(s)} pages, {harvest.wall:.1f} s")
    rows = [
        ("records/s (wall clock, whole harvest)", f"{harvest.rate():,.0f}"),
        ("records/s (sum of page times)", f"{harvest.page_rate():,.0f}"),
        ("page s: first", f"{s[0]:.4f}"),
        ("page s: median", f"{statistics.median(s):.4f}"),
        ("page s: p95", f"{pct(s, 0.95):.4f}"),
        ("page s: max", f"{max(s):.4f} (page {s.index(max(s)) + 1})"),
        ("page s: last", f"{s[-1]:.4f} ({harvest.records[-1]} records)"),
        ("flatness: mean last 10% / first 10%", f"{flatness(s):.2f}"),
        ("  the same per XML byte (content-neutral)", f"{flatness(per_byte(harvest)):.2f}"),
        ("bytes on the wire", f"{harvest.wire_bytes / 1e6:,.1f} MB"),
        ("bytes of XML", f"{harvest.xml_bytes / 1e6:,.1f} MB "
                         f"({harvest.xml_bytes / max(1, harvest.total):,.0f} B/record)"),
        ("wire MB/s", f"{harvest.wire_bytes / 1e6 / harvest.wall:,.1f}"),
    ]  # fmt: skip
    for label, value in rows:
        print(f"  {label:<40} {value}")
    if harvest.errors:
        print(f"  {len(harvest.errors)} OAI-PMH error responses, e.g. {harvest.errors[0]}")


def trend(harvest: Harvest, buckets: int = 10) -> None:
    """Mean page time per tenth of the harvest: a flat row means deep pages cost the same."""
    s = harvest.seconds[:-1] or harvest.seconds
    size = max(1, len(s) // buckets)
    means = [
        statistics.mean(s[i : i + size]) * 1000
        for i in range(0, size * buckets, size)
        if s[i : i + size]
    ]
    print("  mean page ms by tenth: " + " ".join(f"{m:.0f}" for m in means))


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=0, help="slice size (0 = all 250,000)")
    parser.add_argument("--page-size", type=int, default=200, help="records per page (both)")
    parser.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip")
    parser.add_argument("--peer-pages", type=int, default=20,
                        help="peer pages harvested at the start and at the 90%% point")  # fmt: skip
    peer = parser.add_mutually_exclusive_group()
    peer.add_argument("--peer-full", action="store_true", help="harvest the peer whole too")
    parser.add_argument("--peer-budget", type=float, default=600,
                        help="harvest the peer whole when that is estimated to take at most "
                        "this many seconds (default 600)")  # fmt: skip
    peer.add_argument("--no-peer", action="store_true", help="leave out the pyoai peer")
    parser.add_argument("--profile", type=int, default=0, metavar="K",
                        help="profile K pages at the start and K at 90%% in-process")  # fmt: skip
    parser.add_argument("--serve-peer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_peer:
        serve_peer(args.serve_peer, args.port, args.page_size)
        return

    folder, count = cached_store(args.records)
    warm_file_cache(folder)
    first = "verb=ListRecords&metadataPrefix=marc21"
    coding = "gzip" if args.gzip else "identity"
    print(
        f"store: {folder.name}, {count:,} records; ListRecords marc21, page size "
        f"{args.page_size}, {coding}; client: http.client, one keep-alive connection"
    )

    process, port, log = start_lienthong(folder, args.page_size)
    try:
        client = Harvester(port, "/oai", args.gzip)
        client.get("verb=Identify")
        ours = client.harvest(first)
        client.close()
    finally:
        stop(process)
    print_harvest("lienthong", ours)
    trend(ours)
    if ours.total != count:
        print(f"  !! harvested {ours.total:,} records, the store holds {count:,}")
    log_lines = log.read_text("utf-8", "replace").splitlines()
    notable = [line for line in log_lines if re.search(r"error|warn|traceback|fail", line, re.I)]
    print(f"  server log: {len(log_lines)} lines, {len(notable)} mention an error or warning "
          f"({log})")  # fmt: skip
    for line in notable[:5]:
        print(f"    {line[:160]}")

    pages = len(ours.seconds)
    window = max(1, min(args.peer_pages, pages // 10 or 1))
    deep = min(int(pages * 0.9), max(0, pages - 1 - window))
    if not args.no_peer:
        peer_run(folder, args, ours, window, deep, count)
    published(ours)
    if args.profile:
        k = min(args.profile, window)
        windows = {f"pages 1-{k}": ours.queries[:k],
                   f"pages {deep + 1}-{deep + k}": ours.queries[deep : deep + k]}  # fmt: skip
        profile_pages(folder, args.page_size, windows)


def peer_run(
    folder: Path, args: argparse.Namespace, ours: Harvest, window: int, deep: int, count: int
) -> None:
    """Harvest the pyoai peer (windows, or whole) and print the side-by-side table."""
    first = "verb=ListRecords&metadataPrefix=marc21"
    process, port = start_peer(folder, args.page_size)
    try:
        client = Harvester(port, "/oai", args.gzip)
        client.get("verb=Identify")
        shallow = client.harvest(first, window)
        assert shallow.final_token is not None
        token = peer_token_at(shallow.final_token, deep * args.page_size)
        deeper = client.harvest(resume(token), window)
        estimate = whole_estimate(shallow, deeper, deep, len(ours.seconds))
        whole = None
        if args.peer_full or estimate <= args.peer_budget:
            whole = client.harvest(first)
        client.close()
    finally:
        stop(process)
    for part in (shallow, deeper):
        if part.errors:
            print(f"  pyoai: {len(part.errors)} error responses, e.g. {part.errors[0]}")
    if whole is not None:
        print_harvest("pyoai peer (whole harvest)", whole)
        trend(whole)

    o_shallow, o_shallow_page = window_rate(ours, 0, window)
    o_deep, o_deep_page = window_rate(ours, deep, window)
    p_shallow, p_shallow_page = window_rate(shallow, 0, window)
    p_deep, p_deep_page = window_rate(deeper, 0, window)
    pages = len(ours.seconds)
    print(f"\nside by side (same {window}-page windows; records/s from page times; "
          f"deep window = pages {deep + 1}-{deep + window} of {pages}, pyoai reached by "
          f"its own token with cursor={deep * args.page_size})")  # fmt: skip
    print(f"| {'measure':<44} | {'lienthong':>12} | {'pyoai peer':>12} | {'ratio':>7} |")
    print(f"|{'-' * 46}|{'-' * 13}:|{'-' * 13}:|{'-' * 8}:|")
    rows = [
        (f"records/s, pages 1-{window}", o_shallow, p_shallow, "{:,.0f}"),
        (f"records/s, pages {deep + 1}-{deep + window}", o_deep, p_deep, "{:,.0f}"),
        (f"mean page ms, pages 1-{window}", o_shallow_page * 1000, p_shallow_page * 1000, "{:.1f}"),
        (f"mean page ms, pages {deep + 1}-{deep + window}", o_deep_page * 1000, p_deep_page * 1000,
         "{:.1f}"),
        ("deep/shallow page-time ratio", o_deep_page / o_shallow_page,
         p_deep_page / p_shallow_page, "{:.2f}"),
        ("bytes/record on the wire", ours.wire_bytes / max(1, ours.total),
         (whole or shallow).wire_bytes / max(1, (whole or shallow).total), "{:,.0f}"),
    ]  # fmt: skip
    if whole is not None:
        rows.append(("records/s, whole harvest (wall clock)", ours.rate(), whole.rate(), "{:,.0f}"))
        rows.append(("flatness, whole harvest (last/first 10%)", flatness(ours.seconds),
                     flatness(whole.seconds), "{:.2f}"))  # fmt: skip
    else:
        rows.append(("records/s, whole harvest (pyoai: estimated)", ours.rate(),
                     count / estimate, "{:,.0f}"))  # fmt: skip
    for label, a, b, fmt in rows:
        print(f"| {label:<44} | {fmt.format(a):>12} | {fmt.format(b):>12} | {a / b:>7.2f} |")
    if whole is None:
        print(f"(pyoai harvested for {2 * window} pages only, its whole harvest being estimated "
              f"at ~{estimate:,.0f} s by a straight line through both windows, over "
              f"--peer-budget {args.peer_budget:g} s; lienthong's took {ours.wall:,.0f} s; "
              "--peer-full measures it anyway)")  # fmt: skip


def whole_estimate(shallow: Harvest, deeper: Harvest, deep: int, pages: int) -> float:
    """Seconds a whole pyoai harvest would take, its page time growing linearly with the
    offset between the two windows (as OFFSET paging does)."""
    first, later = statistics.mean(shallow.seconds), statistics.mean(deeper.seconds)
    slope = (later - first) / max(1, deep)
    return sum(first + slope * page for page in range(pages))


def published(ours: Harvest) -> None:
    """The issue's reference figures, as ratios of our measured rate."""
    rate = ours.rate()
    print("\nfor scale: published harvest rates (the issue's figures, NOT measured here)")
    print(f"| {'provider':<28} | {'records/s':>10} | {'lienthong / it':>14} |")
    print(f"|{'-' * 30}|{'-' * 11}:|{'-' * 15}:|")
    print(f"| {'lienthong (measured above)':<28} | {rate:>10,.0f} | {1.0:>14.2f} |")
    for name, figure in PUBLISHED:
        print(f"| {name + ' (published)':<28} | {figure:>10,} | {rate / figure:>14.1f} |")
    flat = flatness(ours.seconds)
    verdict = "met" if rate >= TARGET and flat <= 1.25 else "NOT met"
    print(f"target >= {TARGET:,} records/s with flat pages (flatness <= 1.25): {verdict} "
          f"({rate:,.0f} records/s, flatness {flat:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
