"""Import throughput and search latency on the LoC corpus, next to pymarc in the same run.

    python3 bench/import_bench.py [--records N] [--workers W] [--keep DIR]

The corpus is ``BooksAll.2016.part01.utf8`` (250,000 LoC records, 242 MB) from the pymarc
5.4.0 source distribution, fetched once with pip into ``bench/.cache`` (not committed).
The peer is pymarc itself: its MARCReader parses the same slice in the same run, so the
table's ratios say how much of pymarc's parsing speed the whole import keeps on this
machine, whatever the machine. Search latency is measured on the store the import made.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymarc import MARCReader  # noqa: E402

from gateway.importer import import_files  # noqa: E402
from gateway.query import Index, Match, SortField, SortKey, Term  # noqa: E402
from gateway.store import open_store  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
MEMBER = "BooksAll.2016.part01.utf8"


def corpus() -> Path:
    """The 250,000-record file, downloaded and unpacked on first use."""
    target = CACHE / MEMBER
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    sdist = CACHE / "pymarc-5.4.0.tar.gz"
    if not sdist.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "pymarc==5.4.0", "-d", str(CACHE)],
            check=True,
        )  # fmt: skip
    with tarfile.open(sdist) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(MEMBER))
        source = archive.extractfile(member)
        assert source is not None
        with target.open("wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
    return target


def slice_of(path: Path, records: int) -> Path:
    """The first ``records`` records of ``path`` as a file of their own."""
    if records <= 0:
        return path
    target = CACHE / f"slice-{records}.mrc"
    if target.exists():
        return target
    with path.open("rb") as source, target.open("wb") as out:
        for _ in range(records):
            head = source.read(5)
            if not head:
                break
            out.write(head + source.read(int(head) - 5))
    return target


def pymarc_parse_rate(path: Path) -> tuple[int, float]:
    """Records/s for pymarc's MARCReader alone (to_unicode, as an importer would use it)."""
    start = time.perf_counter()
    count = 0
    with path.open("rb") as handle:
        for record in MARCReader(handle, to_unicode=True, permissive=True):
            count += record is not None
    return count, count / (time.perf_counter() - start)


def search_latencies(store_path: Path, samples: int = 200) -> dict[str, float]:
    """Median milliseconds of typical searches with a 10-record page, on a warm store."""
    rng = random.Random(7)
    words = ["history", "law", "music", "war", "poems", "china", "education", "water",
             "children", "church", "report", "theory", "america", "art", "health"]  # fmt: skip
    queries = {
        "title word, relevance": lambda w: (Term(Index.TITLE, w), ()),
        "title word, sort by title": lambda w: (Term(Index.TITLE, w), (SortKey(SortField.TITLE),)),
        "any phrase": lambda w: (Term(Index.ANY, f"{w} of", Match.PHRASE), ()),
        "author truncated": lambda w: (Term(Index.AUTHOR, w[:3], truncated=True), ()),
    }
    out = {}
    with open_store(store_path) as store:
        for name, make in queries.items():
            times = []
            for _ in range(samples):
                query, sort = make(rng.choice(words))
                start = time.perf_counter()
                store.search(query, sort=sort, limit=10)
                times.append((time.perf_counter() - start) * 1000)
            out[name] = statistics.median(times)
    return out


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=0, help="slice size (0 = all 250,000)")
    parser.add_argument("--workers", type=int, default=2, help="parser processes for import")
    parser.add_argument("--keep", type=Path, help="folder to keep the store in")
    args = parser.parse_args()
    path = slice_of(corpus(), args.records)

    count, parse_rate = pymarc_parse_rate(path)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="lienthong-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    store_path = folder / "bench.db"
    store_path.unlink(missing_ok=True)
    with open_store(store_path) as store:
        start = time.perf_counter()
        report = import_files(store, [path], source="loc", namespace="bench.lienthong.vn",
                              workers=args.workers)  # fmt: skip
        seconds = time.perf_counter() - start
        again_start = time.perf_counter()
        again = import_files(store, [path], source="loc", namespace="bench.lienthong.vn",
                             workers=args.workers)  # fmt: skip
        again_seconds = time.perf_counter() - again_start
    import_rate = report.read / seconds
    reimport_rate = again.read / again_seconds
    latencies = search_latencies(store_path)
    size_mb = sum(p.stat().st_size for p in folder.glob("bench.db*")) / 1e6

    print(f"corpus: {path.name}, {count} records, {path.stat().st_size / 1e6:.0f} MB")
    print(f"{'measure':<38} {'value':>14} {'vs pymarc parse':>16}")
    print(f"{'pymarc MARCReader parse (peer)':<38} {parse_rate:>10.0f} r/s {1.0:>16.2f}")
    print(f"{f'lienthong import ({args.workers} workers)':<38} {import_rate:>10.0f} r/s "
          f"{import_rate / parse_rate:>16.2f}")  # fmt: skip
    print(f"{'lienthong re-import (all unchanged)':<38} {reimport_rate:>10.0f} r/s "
          f"{reimport_rate / parse_rate:>16.2f}")  # fmt: skip
    print(f"{'store size':<38} {size_mb:>11.0f} MB")
    for name, ms in latencies.items():
        print(f"{'search: ' + name + ' (median)':<38} {ms:>11.2f} ms")
    print(f"summary: {report.summary()}; re-import: {again.summary()}")


if __name__ == "__main__":
    main()
