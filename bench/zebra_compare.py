"""SRU and Z39.50 throughput and latency: lienthong next to Index Data's Zebra, one run.

    python3 bench/zebra_compare.py [--records N] [--requests R] [--concurrency 1,8,32]
                                   [--protocols sru,z3950]

Installs nothing: Zebra comes from Debian's ``idzebra-2.0`` (``zebraidx``, ``zebrasrv``), the
Z39.50 client from Debian's ``yaz`` (``libyaz.so.5``); without them the script says so and
stops. Both servers get the same records (the first N of the 250,000-record LoC corpus that
bench/import_bench.py caches, else the 5,000 in ../shared/data/loc-5000.mrc) and run on
loopback; one zebrasrv answers both protocols on one port, one ``lienthong serve`` serves
both endpoints. Defaults: 10,000 records, 2,000 operations per run, concurrency 1, 8, 32.
Zebra serves the records byte for byte as given (UTF-8; its MARC 21 rules are told so, else
it would double-encode them), lienthong its canonical form (Unicode NFC).

What one operation is:
- SRU: a searchRetrieve (SRU 1.2, 10 MARCXML records), from one keep-alive HTTP session per
  client thread; checked: HTTP 200, a numberOfRecords, min(10, hits) records.
- Z39.50: a Search plus one Present of the first 10 USMARC records (element set F, UTF-8
  negotiated, no piggy-backing), from one persistent connection per client thread made with
  YAZ's ZOOM C API (bench/zoom.py; connecting is not timed); checked: no diagnostic,
  min(10, hits) records, each well-framed UTF-8 ISO 2709 (leader length equals byte length,
  base address, terminators, LDR/09 = 'a').
The queries are made from words of the records themselves: title, author, subject, ISBN and
any word, as CQL (dc.title, dc.creator, dc.subject, bath.isbn, cql.serverChoice) and as PQF
with the matching Bib-1 use attributes (1=4, 1=1003, 1=21, 1=7, 1=1016): the same probes in
the same order for every server and protocol.

Per protocol the table gives operations/s (successful operations only: a failed operation is
counted as an error, never as a fast answer) and p50/p95 latency per server and concurrency,
the ratio lienthong/Zebra, and the errors; then the benchmark's own CPU per operation (every
client thread: the share of the machine the client took from the servers), and a table of
hit totals per index for both servers with the share of queries whose hit counts agree. The
Z39.50 part ends with the issue's target: at concurrency 8, lienthong >= 0.5x Zebra's
operations/s with p95 < 50 ms.
Until lienthong has a Z39.50 endpoint (protocols/z3950/protocol.py), its Z39.50 columns are
left empty and Zebra's side still runs.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from pymarc import MARCReader  # noqa: E402

from gateway.config import render_config  # noqa: E402
from gateway.endpoints import available  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zoom import ZoomConnection, ZoomError, library  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED_5000 = HERE.parent.parent / "shared" / "data" / "loc-5000.mrc"
PROTOCOLS = ("sru", "z3950")
RECORDS_PER_OPERATION = 10
ZEBRA_DATABASE = "Default"
ZEBRA_CONFIG = """profilePath: {folder}:/usr/share/idzebra-2.0/tab
attset: bib1.att
attset: explain.att
recordType: grs.marcxml.marc21
register: {folder}/reg:4G
shadow: {folder}/shadow:4G
encoding: utf-8
"""
# usmarc/F for Z39.50 Present, MARCXML for SRU; both from Zebra's own USMARC rendering.
YAZ_GFS = """<yazgfs>
  <listen id="public">tcp:@:{port}</listen>
  <server id="server1" listenref="public">
    <config>{folder}/zebra.cfg</config>
    <cql2rpn>/usr/share/yaz/etc/pqf.properties</cql2rpn>
    <retrievalinfo>
      <retrieval syntax="usmarc" name="F">
        <backend syntax="usmarc" name="F">
          <marc inputformat="marc" outputformat="marc" inputcharset="utf-8"
                outputcharset="utf-8" leaderspec="9='a'"/>
        </backend>
      </retrieval>
      <retrieval syntax="xml" name="marcxml" identifier="info:srw/schema/1/marcxml-v1.1">
        <backend syntax="usmarc" name="F">
          <marc inputformat="marc" outputformat="marcxml" inputcharset="utf-8"/>
        </backend>
      </retrieval>
    </retrievalinfo>
  </server>
</yazgfs>
"""


class Index(NamedTuple):
    """One searched index: its CQL name (SRU), Bib-1 use attribute (Z39.50), word source."""

    name: str
    cql: str
    bib1_use: int
    words: str


INDEXES = (
    Index("title", "dc.title", 4, "title"),
    Index("author", "dc.creator", 1003, "creator"),
    Index("subject", "dc.subject", 21, "subject"),
    Index("isbn", "bath.isbn", 7, "isbn"),
    Index("any", "cql.serverChoice", 1016, "title"),
)


@dataclass(frozen=True, slots=True)
class Probe:
    """One query, rendered as CQL or PQF for the protocol at hand."""

    index: Index
    term: str

    def cql(self) -> str:
        """The SRU query, e.g. ``dc.title=computer``."""
        return f"{self.index.cql}={self.term}"

    def pqf(self) -> str:
        """The Z39.50 Type-1 query, e.g. ``@attr 1=4 "computer"``."""
        quoted = self.term.replace("\\", "\\\\").replace('"', '\\"')
        return f'@attr 1={self.index.bib1_use} "{quoted}"'


class BadAnswer(Exception):
    """A response that arrived but does not say what an answer must say."""


class Client(Protocol):
    """One client thread's connection to one server, speaking one protocol."""

    def run(self, probe: Probe) -> int:
        """One checked operation: the hit count (raises on any error)."""
        ...

    def recover(self, error: Exception) -> None:
        """Get ready for the next operation after ``error``."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


ERRORS: tuple[type[Exception], ...] = (BadAnswer, ZoomError, requests.RequestException)
_NUMBER_OF_RECORDS = re.compile(rb"numberOfRecords>\s*(\d+)\s*<")
_RECORD_DATA = re.compile(rb"<(?:[\w.-]+:)?recordData[\s>]")


class SRUClient:
    """searchRetrieve over one keep-alive HTTP session."""

    def __init__(self, url: str) -> None:
        """A session for ``url`` (the first request opens the connection)."""
        self.url = url
        self.session = requests.Session()

    def run(self, probe: Probe) -> int:
        """searchRetrieve of 10 MARCXML records; checks status, count and records."""
        params = {"version": "1.2", "operation": "searchRetrieve", "query": probe.cql(),
                  "maximumRecords": str(RECORDS_PER_OPERATION),
                  "recordSchema": "marcxml"}  # fmt: skip
        response = self.session.get(self.url, params=params, timeout=60)
        if response.status_code != 200:
            raise BadAnswer(f"HTTP {response.status_code}")
        found = _NUMBER_OF_RECORDS.search(response.content)
        if found is None:
            raise BadAnswer(f"no numberOfRecords in {response.content[:200]!r}")
        hits = int(found[1])
        records = len(_RECORD_DATA.findall(response.content))
        if records != min(RECORDS_PER_OPERATION, hits):
            raise BadAnswer(f"{records} records for {hits} hits")
        return hits

    def recover(self, error: Exception) -> None:
        """A fresh session: the old one may hold a broken connection."""
        self.session.close()
        self.session = requests.Session()

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()


class Z3950Client:
    """Search plus Present of 10 USMARC records over one ZOOM connection."""

    def __init__(self, port: int, database: str) -> None:
        """Connect and Init now, so that connecting is not part of any operation's time."""
        self.port = port
        self.database = database
        self.zoom: ZoomConnection | None = None
        try:
            self.zoom = self._connect()
        except ZoomError:
            pass  # run() tries again, and that attempt's failure is counted as an error

    def _connect(self) -> ZoomConnection:
        return ZoomConnection("127.0.0.1", self.port, self.database,
                              count=RECORDS_PER_OPERATION)  # fmt: skip

    def run(self, probe: Probe) -> int:
        """One search and present; ZoomConnection checks every record."""
        if self.zoom is None:
            self.zoom = self._connect()
        hits, _records = self.zoom.search_present(probe.pqf())
        return hits

    def recover(self, error: Exception) -> None:
        """Reconnect after connection-level errors (ZOOM codes >= 10000), not diagnostics."""
        if isinstance(error, ZoomError) and error.code >= 10000 and self.zoom is not None:
            self.zoom.close()
            self.zoom = None

    def close(self) -> None:
        """Close the connection."""
        if self.zoom is not None:
            self.zoom.close()
            self.zoom = None


@dataclass
class Run:
    """What one load run measured."""

    rate: float  #: successful operations per second of wall-clock time
    p50: float  #: ms, successful operations
    p95: float
    errors: list[str] = field(default_factory=list)
    hits: list[int | None] = field(default_factory=list)  #: per probe; None after an error
    client_cpu: float = 0.0  #: µs of this process's CPU (every thread) per operation


def percentile(ordered: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of ``ordered`` (sorted), NaN when empty."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def measure(clients: Sequence[Client], probes: Sequence[Probe]) -> Run:
    """Run every probe once, spread over one thread per client."""
    latencies: list[float] = []
    hits: list[int | None] = [None] * len(probes)
    errors: list[str] = []
    lock = threading.Lock()
    work = iter(enumerate(probes))

    def worker(client: Client) -> None:
        while True:
            with lock:
                item = next(work, None)
            if item is None:
                return
            number, probe = item
            started = time.perf_counter()
            try:
                found = client.run(probe)
            except ERRORS as exc:
                errors.append(f"{probe.index.name} {probe.term!r}: {exc}")
                client.recover(exc)
                continue
            elapsed = time.perf_counter() - started
            hits[number] = found
            latencies.append(elapsed)

    threads = [threading.Thread(target=worker, args=(client,)) for client in clients]
    cpu = time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    latencies.sort()
    return Run(
        rate=len(latencies) / wall,
        p50=statistics.median(latencies) * 1000 if latencies else math.nan,
        p95=percentile(latencies, 0.95) * 1000,
        errors=errors,
        hits=hits,
        client_cpu=cpu / max(1, len(probes)) * 1e6,
    )


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def corpus(records: int) -> Path:
    """The first ``records`` LoC records: from the cached 250k corpus, else loc-5000."""
    big = HERE / ".cache" / "BooksAll.2016.part01.utf8"
    if not big.exists():
        if records > 5000:
            print(f"(bench/.cache has no 250k corpus; using {SHARED_5000.name}: 5,000 records)")
        return SHARED_5000
    from import_bench import slice_of  # noqa: PLC0415 - only when the corpus is cached

    return slice_of(big, records)


def queries(path: Path, count: int) -> list[Probe]:
    """Probes both servers understand, made from words of the corpus's own records."""
    words: dict[str, list[str]] = {"title": [], "creator": [], "subject": [], "isbn": []}
    with path.open("rb") as handle:
        for record in MARCReader(handle, to_unicode=True, force_utf8=True, permissive=True):
            if record is None:
                continue
            for key, tag, code in (("title", "245", "a"), ("creator", "100", "a"),
                                   ("subject", "650", "a")):  # fmt: skip
                field_ = record.get(tag)
                if field_ is not None and field_.get(code):
                    word = field_[code].split()[0].strip(",.:;/").lower()
                    if word.isalpha() and len(word) > 3:
                        words[key].append(word)
            isbn = record.get("020")
            if isbn is not None and isbn.get("a"):
                words["isbn"].append(isbn["a"].split()[0])
    rng = random.Random(7)
    made = []
    for number in range(count):
        index = INDEXES[number % len(INDEXES)]
        made.append(Probe(index, rng.choice(words[index.words])))
    return made


def log_tail(log: Path, lines: int = 15) -> str:
    """The end of a server's log, for a failure message."""
    if not log.exists():
        return ""
    return "\n".join(log.read_text("utf-8", "replace").splitlines()[-lines:])


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    """Until ``url`` answers (or the server process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.args!r}\n{log_tail(log)}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url}")


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    """Until something accepts TCP connections on ``port`` (or the server process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.args!r}\n{log_tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port}")


@dataclass
class Server:
    """A running server: how to reach each protocol it serves."""

    name: str
    process: subprocess.Popen[bytes]
    sru_url: str | None = None
    z3950_port: int | None = None
    z3950_database: str = ZEBRA_DATABASE

    def client(self, protocol: str) -> Client:
        """A new client of ``protocol`` for this server."""
        if protocol == "sru":
            assert self.sru_url is not None
            return SRUClient(self.sru_url)
        assert self.z3950_port is not None
        return Z3950Client(self.z3950_port, self.z3950_database)

    def serves(self, protocol: str) -> bool:
        """True when the server was started with ``protocol``."""
        return (self.sru_url if protocol == "sru" else self.z3950_port) is not None


def start_zebra(folder: Path, records: Path) -> Server:
    """Index ``records`` in Zebra and start zebrasrv (SRU and Z39.50 on one port)."""
    (folder / "reg").mkdir()
    (folder / "shadow").mkdir()
    (folder / "zebra.cfg").write_text(ZEBRA_CONFIG.format(folder=folder))
    # Zebra's sample MARC 21 rules index no ISBN; add 020 $a so both servers answer the
    # same ISBN queries (a diagnostic would cost Zebra nothing and flatter it). Without
    # "encoding utf-8" Zebra reads the records as Latin-1 and serves them double-encoded.
    rules = Path("/usr/share/idzebra-2.0/tab/marc21.abs").read_text()
    (folder / "marc21.abs").write_text(rules + "\nencoding utf-8\nmelm 020$a\t\tISBN\n")
    port = free_port()
    (folder / "yazgfs.xml").write_text(YAZ_GFS.format(folder=folder, port=port))
    started = time.perf_counter()
    for command in (["update", str(records)], ["commit"]):
        subprocess.run(["zebraidx", "-c", str(folder / "zebra.cfg"), "-t", "grs.marcxml.marc21",
                        *command], check=True, capture_output=True, cwd=folder)  # fmt: skip
    print(f"Zebra indexed in {time.perf_counter() - started:.1f} s")
    # zebrasrv writes its pid and lock files into the working folder: keep them in ours.
    log = folder / "zebrasrv.log"  # only when it fails to start: logging costs it time
    process = subprocess.Popen(["zebrasrv", "-f", str(folder / "yazgfs.xml")], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    wait_for(url, process, log)
    return Server("Zebra", process, sru_url=url, z3950_port=port)


def start_lienthong(
    folder: Path, records: Path, protocols: Sequence[str], z3950_processes: int = 1
) -> Server:
    """Import ``records`` into a fresh lienthong store; one server serves every protocol,
    Z39.50 with ``z3950_processes`` processes (z3950.processes)."""
    z3950_port = free_port() if "z3950" in protocols else None
    overrides: dict[str, object] = {"store.path": "lienthong.db",
                                    "endpoints.sru": "sru" in protocols,
                                    "sru.stylesheet": "none"}  # fmt: skip
    if z3950_port is not None:
        overrides |= {"endpoints.z3950": True, "server.z3950_port": z3950_port,
                      "z3950.processes": z3950_processes}  # fmt: skip
    config = folder / "lienthong.yaml"
    config.write_text(render_config(overrides), "utf-8")
    gateway = [sys.executable, "-m", "gateway", "-c", str(config)]
    started = time.perf_counter()
    imported = subprocess.run([*gateway, "import", str(records)], capture_output=True,
                              cwd=HERE.parent)  # fmt: skip
    if imported.returncode:
        raise SystemExit(f"lienthong import failed:\n{imported.stderr.decode()[-2000:]}")
    print(f"lienthong imported in {time.perf_counter() - started:.1f} s")
    port = free_port()
    command = [*gateway, "serve", "--http-port", str(port)]
    if z3950_port is not None:
        command += ["--z3950-port", str(z3950_port)]
    log = folder / "serve.log"
    with log.open("wb") as errors:
        process = subprocess.Popen(command, cwd=HERE.parent, stdout=subprocess.DEVNULL,
                                   stderr=errors)  # fmt: skip
    wait_for(f"http://127.0.0.1:{port}/health", process, log)
    if z3950_port is not None:
        wait_for_port(z3950_port, process, log)
    return Server("lienthong", process,
                  sru_url=f"http://127.0.0.1:{port}/sru" if "sru" in protocols else None,
                  z3950_port=z3950_port)  # fmt: skip


def load(server: Server, protocol: str, probes: Sequence[Probe], concurrency: int) -> Run:
    """``concurrency`` fresh clients of ``server`` run ``probes`` once."""
    clients = [server.client(protocol) for _ in range(concurrency)]
    try:
        run = measure(clients, probes)
    finally:
        for client in clients:
            client.close()
    return run


def cells(run: Run | None) -> str:
    """ops/s and p50 / p95 table cells for one run ('-' when not measured)."""
    if run is None:
        return "- | -"
    return f"{run.rate:,.0f} | {run.p50:.1f} / {run.p95:.1f}"


OPERATIONS = {
    "sru": "searchRetrieve requests (SRU 1.2, 10 MARCXML records each)",
    "z3950": "Z39.50 operations (Search + Present of 10 USMARC records each, UTF-8)",
}


def compare(
    protocol: str,
    zebra: Server,
    ours: Server | None,
    probes: Sequence[Probe],
    concurrencies: Sequence[int],
    corpus_name: str,
) -> None:
    """Measure one protocol on both servers and print its tables."""
    servers = [server for server in (zebra, ours) if server is not None]
    for server in servers:  # warm both servers' caches the same way
        load(server, protocol, probes[:50], 4)
    print(f"\n{len(probes)} {OPERATIONS[protocol]} on {corpus_name}\n")
    print("| concurrency | Zebra ops/s | Zebra p50 / p95 ms | lienthong ops/s | "
          "lienthong p50 / p95 ms | ratio (ops/s) | errors Zebra / lienthong |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    first: tuple[Run, Run | None] | None = None
    rows = []
    for concurrency in concurrencies:
        z_run = load(zebra, protocol, probes, concurrency)
        o_run = load(ours, protocol, probes, concurrency) if ours is not None else None
        first = first or (z_run, o_run)
        ratio = f"{o_run.rate / z_run.rate:.2f}" if o_run and z_run.rate else "-"
        o_errors = str(len(o_run.errors)) if o_run else "-"
        rows.append((concurrency, z_run, o_run))
        print(f"| {concurrency} | {cells(z_run)} | {cells(o_run)} | {ratio} "
              f"| {len(z_run.errors)} / {o_errors} |", flush=True)  # fmt: skip
    assert first is not None
    for concurrency, *runs in rows:  # after the table, so that it stays one table
        for name, run in zip(("Zebra", "lienthong"), runs, strict=True):
            if run is not None and run.errors:
                print(f"- {name} at concurrency {concurrency}: {len(run.errors)} failed "
                      f"operations, e.g. {run.errors[0]}")  # fmt: skip
    cpu = {name: [run.client_cpu for _, *runs in rows if (run := runs[i]) is not None]
           for i, name in enumerate(("Zebra", "lienthong"))}  # fmt: skip
    print(
        "\nbench client CPU per operation (every thread of this process): "
        + "; ".join(f"{name} runs {min(v):.0f}-{max(v):.0f} µs" for name, v in cpu.items() if v)
    )
    print_hits(protocol, probes, concurrencies[0], *first)
    if protocol == "z3950":
        print_target(rows)


def print_hits(
    protocol: str, probes: Sequence[Probe], concurrency: int, zebra: Run, ours: Run | None
) -> None:
    """Hit totals per index and server (first run), and how often the counts agree."""
    print(
        f"\n{protocol} hits per index (the concurrency-{concurrency} run): totals, queries "
        "with hits, and queries whose hit counts agree (an error never agrees)\n"
    )
    print("| index | queries | Zebra hits | lienthong hits | with hits Zebra / lienthong "
          "| same count |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    our_hits = ours.hits if ours is not None else [None] * len(probes)
    for index in (*INDEXES, None):
        chosen = [n for n, probe in enumerate(probes) if index is None or probe.index == index]
        z = [zebra.hits[n] for n in chosen]
        o = [our_hits[n] for n in chosen]
        same = sum(1 for a, b in zip(z, o, strict=True) if a is not None and a == b)
        name = index.name if index is not None else "all"
        o_total = f"{sum(h or 0 for h in o):,}" if ours is not None else "-"
        o_with = str(sum(1 for h in o if h)) if ours is not None else "-"
        agree = f"{same / len(chosen):.0%}" if ours is not None and chosen else "-"
        print(f"| {name} | {len(chosen)} | {sum(h or 0 for h in z):,} | {o_total} "
              f"| {sum(1 for h in z if h)} / {o_with} | {agree} |")  # fmt: skip


def print_target(rows: Sequence[tuple[int, Run, Run | None]]) -> None:
    """The issue's Z39.50 target: lienthong >= 0.5x Zebra and p95 < 50 ms at concurrency 8."""
    for concurrency, z_run, o_run in rows:
        if concurrency != 8 or o_run is None:
            continue
        ratio = o_run.rate / z_run.rate if z_run.rate else math.nan
        met = ratio >= 0.5 and o_run.p95 < 50 and not o_run.errors
        print(f"\nTarget at concurrency 8 (lienthong >= 0.5x Zebra, p95 < 50 ms, no errors): "
              f"{'met' if met else 'NOT met'} (ratio {ratio:.2f}, p95 {o_run.p95:.1f} ms, "
              f"{len(o_run.errors)} errors)")  # fmt: skip


def main() -> None:
    """Print the comparison tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2000, help="operations per run")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--z3950-processes", type=int, default=os.cpu_count() or 1,
                        help="lienthong's z3950.processes (default: one per core, as Zebra "
                             "uses every core)")  # fmt: skip
    parser.add_argument("--protocols", default=",".join(PROTOCOLS),
                        help="comma-separated: sru, z3950 (default both)")  # fmt: skip
    args = parser.parse_args()
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    if not protocols or set(protocols) - set(PROTOCOLS):
        parser.error(f"--protocols takes {', '.join(PROTOCOLS)}")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    if not (shutil.which("zebraidx") and shutil.which("zebrasrv")):
        raise SystemExit("Zebra is not installed (Debian: apt-get install idzebra-2.0)")
    if "z3950" in protocols:
        library()  # fails here, with the reason, when libyaz is missing
    ours_serve = [p for p in protocols if p != "z3950" or available("z3950")]
    if "z3950" in protocols and "z3950" not in ours_serve:
        print("(lienthong has no Z39.50 endpoint yet (protocols/z3950/protocol.py): "
              "Z39.50 is measured on Zebra only)")  # fmt: skip
    records = corpus(args.records)
    probes = queries(records, args.requests)
    servers: list[Server] = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        (folder / "zebra").mkdir()
        (folder / "lienthong").mkdir()
        try:
            zebra = start_zebra(folder / "zebra", records)
            servers.append(zebra)
            ours = (
                start_lienthong(folder / "lienthong", records, ours_serve, args.z3950_processes)
                if ours_serve
                else None
            )
            if ours is not None:
                servers.append(ours)
            for protocol in protocols:
                serving = ours if ours is not None and ours.serves(protocol) else None
                compare(protocol, zebra, serving, probes, concurrencies, records.name)
        finally:
            for server in servers:
                server.process.terminate()
                server.process.wait(timeout=30)


if __name__ == "__main__":
    main()
