"""SRU searchRetrieve throughput and latency: lienthong next to Index Data's Zebra, one run.

    python3 bench/zebra_compare.py [--records N] [--requests R] [--concurrency 1,8,32]

Installs nothing: Zebra comes from Debian's ``idzebra-2.0`` (``zebraidx``, ``zebrasrv``);
without it the script says so and stops. Both servers get the same records (the first N of
the 250,000-record LoC corpus that bench/import_bench.py caches, else the 5,000 in
../shared/data/loc-5000.mrc), run on loopback, and answer the same CQL queries (title,
author, subject, ISBN, any word; SRU 1.2, 10 MARCXML records each) from the same client
threads (one keep-alive HTTP session each). The table gives requests/s and p50/p95 latency
per server and concurrency, and the ratio lienthong/Zebra.
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from pymarc import MARCReader  # noqa: E402

from gateway.config import render_config  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED_5000 = HERE.parent.parent / "shared" / "data" / "loc-5000.mrc"
ZEBRA_CONFIG = """profilePath: {folder}:/usr/share/idzebra-2.0/tab
attset: bib1.att
attset: explain.att
recordType: grs.marcxml.marc21
register: {folder}/reg:4G
shadow: {folder}/shadow:4G
encoding: utf-8
"""
YAZ_GFS = """<yazgfs>
  <listen id="public">tcp:@:{port}</listen>
  <server id="server1" listenref="public">
    <config>{folder}/zebra.cfg</config>
    <cql2rpn>/usr/share/yaz/etc/pqf.properties</cql2rpn>
    <retrievalinfo>
      <retrieval syntax="xml" name="marcxml" identifier="info:srw/schema/1/marcxml-v1.1">
        <backend syntax="usmarc" name="F">
          <marc inputformat="marc" outputformat="marcxml" inputcharset="utf-8"/>
        </backend>
      </retrieval>
    </retrievalinfo>
  </server>
</yazgfs>
"""


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


def queries(path: Path, count: int) -> list[str]:
    """CQL queries both servers understand, made from words of the corpus's own records."""
    words: dict[str, list[str]] = {"title": [], "creator": [], "subject": [], "isbn": []}
    with path.open("rb") as handle:
        for record in MARCReader(handle, to_unicode=True, force_utf8=True, permissive=True):
            if record is None:
                continue
            for key, tag, code in (("title", "245", "a"), ("creator", "100", "a"),
                                   ("subject", "650", "a")):  # fmt: skip
                field = record.get(tag)
                if field is not None and field.get(code):
                    word = field[code].split()[0].strip(",.:;/").lower()
                    if word.isalpha() and len(word) > 3:
                        words[key].append(word)
            isbn = record.get("020")
            if isbn is not None and isbn.get("a"):
                words["isbn"].append(isbn["a"].split()[0])
    rng = random.Random(7)
    templates = [("dc.title", "title"), ("dc.creator", "creator"), ("dc.subject", "subject"),
                 ("bath.isbn", "isbn"), ("cql.serverChoice", "title")]  # fmt: skip
    made = []
    for number in range(count):
        index, key = templates[number % len(templates)]
        made.append(f"{index}={rng.choice(words[key])}")
    return made


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Until ``url`` answers (or the server process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.args}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url}")


def start_zebra(folder: Path, records: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Index ``records`` in Zebra and start its SRU server."""
    (folder / "reg").mkdir()
    (folder / "shadow").mkdir()
    (folder / "zebra.cfg").write_text(ZEBRA_CONFIG.format(folder=folder))
    # Zebra's sample MARC 21 rules index no ISBN; add 020 $a so both servers answer the
    # same ISBN queries (a diagnostic would cost Zebra nothing and flatter it).
    rules = Path("/usr/share/idzebra-2.0/tab/marc21.abs").read_text()
    (folder / "marc21.abs").write_text(rules + "\nmelm 020$a\t\tISBN\n")
    port = free_port()
    (folder / "yazgfs.xml").write_text(YAZ_GFS.format(folder=folder, port=port))
    started = time.perf_counter()
    for command in (["update", str(records)], ["commit"]):
        subprocess.run(["zebraidx", "-c", str(folder / "zebra.cfg"), "-t", "grs.marcxml.marc21",
                        *command], check=True, capture_output=True, cwd=folder)  # fmt: skip
    print(f"Zebra indexed in {time.perf_counter() - started:.1f} s")
    # zebrasrv writes its pid and lock files into the working folder: keep them in ours.
    process = subprocess.Popen(["zebrasrv", "-f", str(folder / "yazgfs.xml")], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    wait_for(url, process)
    return process, url


def start_lienthong(folder: Path, records: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Import ``records`` into a fresh lienthong store and serve SRU."""
    config = folder / "lienthong.yaml"
    config.write_text(render_config({"store.path": "lienthong.db", "endpoints.sru": True,
                                     "sru.stylesheet": "none"}), "utf-8")  # fmt: skip
    gateway = [sys.executable, "-m", "gateway", "-c", str(config)]
    started = time.perf_counter()
    subprocess.run([*gateway, "import", str(records)], check=True, capture_output=True,
                   cwd=HERE.parent)  # fmt: skip
    print(f"lienthong imported in {time.perf_counter() - started:.1f} s")
    port = free_port()
    process = subprocess.Popen([*gateway, "serve", "--http-port", str(port)], cwd=HERE.parent,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/sru"
    wait_for(url, process)
    return process, url


def load(url: str, cql: list[str], concurrency: int) -> tuple[float, float, float]:
    """Run every query once from ``concurrency`` threads: (requests/s, p50 ms, p95 ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    work = iter(cql)
    failures = []

    def worker() -> None:
        session = requests.Session()
        while True:
            with lock:
                query = next(work, None)
            if query is None:
                return
            params = {"version": "1.2", "operation": "searchRetrieve", "query": query,
                      "maximumRecords": "10", "recordSchema": "marcxml"}  # fmt: skip
            started = time.perf_counter()
            response = session.get(url, params=params, timeout=60)
            elapsed = time.perf_counter() - started
            if response.status_code != 200 or b"numberOfRecords" not in response.content:
                failures.append(query)
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        print(f"  {len(failures)} failed requests at {url}, e.g. {failures[0]}")
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    return len(latencies) / wall, statistics.median(latencies) * 1000, p95 * 1000


def main() -> None:
    """Print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", default="1,8,32")
    args = parser.parse_args()
    if not (shutil.which("zebraidx") and shutil.which("zebrasrv")):
        raise SystemExit("Zebra is not installed (Debian: apt-get install idzebra-2.0)")
    records = corpus(args.records)
    cql = queries(records, args.requests)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        (folder / "zebra").mkdir()
        (folder / "lienthong").mkdir()
        zebra, zebra_url = start_zebra(folder / "zebra", records)
        servers = [zebra]
        try:
            ours, our_url = start_lienthong(folder / "lienthong", records)
            servers.append(ours)
            for url in (zebra_url, our_url):  # warm both caches the same way
                load(url, cql[:50], 4)
            print(f"\n{len(cql)} searchRetrieve requests (SRU 1.2, 10 MARCXML records each) "
                  f"on {records.name}\n")  # fmt: skip
            print("| concurrency | Zebra req/s | Zebra p50/p95 ms | lienthong req/s | "
                  "lienthong p50/p95 ms | ratio (req/s) |")  # fmt: skip
            print("|---:|---:|---:|---:|---:|---:|")
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                z_rate, z50, z95 = load(zebra_url, cql, concurrency)
                o_rate, o50, o95 = load(our_url, cql, concurrency)
                print(f"| {concurrency} | {z_rate:,.0f} | {z50:.1f} / {z95:.1f} | {o_rate:,.0f} "
                      f"| {o50:.1f} / {o95:.1f} | {o_rate / z_rate:.2f} |")  # fmt: skip
        finally:
            for process in servers:
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
