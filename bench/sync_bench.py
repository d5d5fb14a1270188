"""Sync throughput: full and incremental syncs of the MARC-folder, OAI-PMH and SQL sources.

    python3 bench/sync_bench.py [--records N] [--changes C] [--sources folder,oai,sql]

The records are the first N (default 50,000) of the 250,000-record LoC corpus that
``import_bench.py`` fetches into ``bench/.cache``. Each source is timed end to end through
the real engine (``gateway.sync.sync_source``) into a fresh SQLite store, next to a peer
doing the bare part of the same work in the same run, so the ratios hold whatever the
machine:

- folder: the sync of an export folder holding the slice, next to ``lienthong import`` of
  the same file (the same parser and store, no sync bookkeeping);
- oai: a harvest from a second lienthong serving the slice (marc21), next to sickle
  listing the same records without storing them;
- sql: a Koha database in MariaDB (127.0.0.1:3306, root) holding the slice as
  ``biblio_metadata`` MARCXML, next to reading the same rows with SQLAlchemy alone.

Then C (default 100) records are changed at each source and the incremental sync that
picks them up is timed (the issue's target: under 2 s for 100 changes; full syncs of files
and SQL at 3,000 records/s or more).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from import_bench import corpus, slice_of  # noqa: E402
from pymarc import Field, MARCReader, Record, Subfield  # noqa: E402

from gateway.config import Config, load_config, render_config  # noqa: E402
from gateway.importer import import_files  # noqa: E402
from gateway.store import open_store  # noqa: E402
from gateway.sync import sync_source  # noqa: E402

LIBRARY = "loc"
TARGET_FULL = 3000  # records/s, files and SQL
TARGET_INCREMENTAL = 2.0  # seconds for 100 changes
WORKERS = os.cpu_count() or 1


def write_config(folder: Path, source: dict[str, Any], **values: Any) -> Config:
    """A configuration in ``folder`` with one library and ``source`` feeding it."""
    text = render_config({
        "store.path": "store.db", "gateway.oai_namespace": "bench.lienthong.vn",
        "libraries": [{"id": LIBRARY, "name": "Library of Congress (bench)", "kind": "national"}],
        "sources": [{"name": "bench", "library": LIBRARY, "reconcile_hours": 0, **source}],
        **values,
    })  # fmt: skip
    path = folder / "lienthong.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    """(result, seconds) of ``work()``."""
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def changed_copies(path: Path, count: int, text: str = "Đã sửa (bench).") -> list[Record]:
    """The first ``count`` records of ``path`` with a note added (a real content change)."""
    out = []
    with path.open("rb") as handle:
        for record in MARCReader(handle, to_unicode=True, force_utf8=True):
            if record is None:
                continue
            note = Subfield("a", text)
            record.add_ordered_field(Field(tag="500", indicators=[" ", " "], subfields=[note]))
            out.append(record)
            if len(out) == count:
                break
    return out


def sync(config: Config, workers: int = 1) -> tuple[Any, float]:
    """One sync of the bench source into the configuration's store: (report, seconds)."""
    store = open_store(config.store_location)
    try:
        report, seconds = timed(lambda: sync_source(store, config, "bench", workers=workers))
    finally:
        store.close()
    if not report.ok:
        raise SystemExit(f"sync failed: {report.error}")
    return report, seconds


# -- sources ------------------------------------------------------------------------------


def bench_folder(data: Path, records: int, changes: int, work: Path) -> dict[str, Any]:
    """Folder source (delta exports): full sync of the slice, then one file of changes."""
    folder = work / "folder"
    exports = folder / "exports"
    exports.mkdir(parents=True)
    long_ago = time.time() - 3600
    shutil.copy(data, exports / "ilib-full.mrc")
    os.utime(exports / "ilib-full.mrc", (long_ago, long_ago))
    config = write_config(folder, {"kind": "marc-folder", "path": "exports", "export": "delta"})
    full, full_seconds = sync(config, workers=WORKERS)
    peer_store = open_store(folder / "peer.db")
    _, peer_seconds = timed(lambda: import_files(peer_store, [data], source=LIBRARY,
                                                 namespace="bench.lienthong.vn",
                                                 workers=WORKERS))  # fmt: skip
    peer_store.close()
    delta = exports / "ilib-delta.mrc"
    delta.write_bytes(b"".join(r.as_marc() for r in changed_copies(data, changes)))
    os.utime(delta, (long_ago + 1, long_ago + 1))
    incremental, incremental_seconds = sync(config)
    return _row("MARC folder", full, full_seconds, "lienthong import", peer_seconds, records,
                incremental, incremental_seconds)  # fmt: skip


def _row(name: str, full: Any, full_seconds: float, peer: str, peer_seconds: float,
         records: int, incremental: Any, incremental_seconds: float) -> dict[str, Any]:  # fmt: skip
    return {
        "source": name, "records": full.written.new, "full_rate": records / full_seconds,
        "peer": peer, "peer_rate": records / peer_seconds,
        "changes": incremental.written.updated + incremental.written.new,
        "read": incremental.read,
        "incremental_seconds": incremental_seconds,
    }  # fmt: skip


def bench_sql(data: Path, records: int, changes: int, work: Path) -> dict[str, Any]:
    """Koha database source: full sync of biblio_metadata, then ``changes`` edits."""
    import sqlalchemy
    from sqlalchemy import text

    from tests.koha_schema import koha_database, koha_marcxml

    folder = work / "sql"
    folder.mkdir()
    with koha_database() as koha:
        rows = []
        with data.open("rb") as handle:
            for number, record in enumerate(MARCReader(handle, to_unicode=True,
                                                       force_utf8=True), start=1):  # fmt: skip
                if record is not None:
                    rows.append((number, koha_marcxml(record, number)))
        # A catalogue built over time: each hundred records an hour apart, so the
        # incremental sync's overlap (5 minutes) re-reads only the newest hundred.
        loaded = datetime(2025, 1, 1, 8)
        for start in range(0, len(rows), 100):
            koha.add_many(rows[start : start + 100], when=loaded + timedelta(hours=start // 100))
        config = write_config(folder, {"kind": "sql", "url": koha.url, "mapping": "koha"})
        full, full_seconds = sync(config, workers=WORKERS)
        engine = sqlalchemy.create_engine(koha.url)

        def bare_read() -> int:
            count = 0
            with engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=1000).execute(
                    text("SELECT biblionumber, metadata, timestamp FROM biblio_metadata")
                )
                for _ in result:
                    count += 1
            return count

        _, peer_seconds = timed(bare_read)
        engine.dispose()
        for record in changed_copies(data, changes):
            number = next(n for n, xml in rows[:changes] if f">{record['001'].data}<" in xml)
            koha.save_biblio(number, record)
        incremental, incremental_seconds = sync(config)
    return _row("SQL (Koha, MariaDB)", full, full_seconds, "SQLAlchemy read of the rows",
                peer_seconds, records, incremental, incremental_seconds)  # fmt: skip


def bench_oai(data: Path, records: int, changes: int, work: Path) -> dict[str, Any]:
    """OAI-PMH source: a second lienthong serves the slice; full harvest, then changes."""
    from oai_bench import SOURCE, cached_store, start_lienthong, stop
    from sickle import Sickle

    from gateway.importer import canonical_from_marc

    cached, _ = cached_store(records)
    provider = work / "provider"
    shutil.copytree(cached, provider)  # the cached store stays as it was
    process, port, _ = start_lienthong(provider, 500)
    try:
        url = f"http://127.0.0.1:{port}/oai"
        folder = work / "oai"
        folder.mkdir()
        # The provider's records may have been imported moments ago (the first run makes
        # the cached store), so the default 5-minute overlap would re-read them all: the
        # incremental harvest is timed with a 5-second overlap instead.
        config = write_config(folder, {"kind": "oai", "url": url, "metadata_prefix": "marc21",
                                       "overlap_seconds": 5})  # fmt: skip
        full, full_seconds = sync(config)

        def bare_harvest() -> int:
            listing = Sickle(url, max_retries=3).ListRecords(metadataPrefix="marc21")
            return sum(1 for _ in listing)

        _, peer_seconds = timed(bare_harvest)
        timings = []
        for round_ in (1, 2):  # the first also re-reads the provider's last bulk import
            store = open_store(provider / "lienthong.db")
            edited = [canonical_from_marc(r, source=SOURCE, namespace="bench.lienthong.vn")
                      for r in changed_copies(data, changes, f"Đã sửa lần {round_}.")]  # fmt: skip
            store.upsert(edited)
            store.close()
            timings.append(sync(config))
    finally:
        stop(process)
    (first, first_seconds), (incremental, incremental_seconds) = timings
    row = _row("OAI-PMH (lienthong provider)", full, full_seconds, "sickle ListRecords",
               peer_seconds, records, incremental, incremental_seconds)  # fmt: skip
    row["note"] = (f"first incremental after the full harvest: {first_seconds:.2f} s, "
                   f"{first.read:,} records read (the checkpoint is the provider's latest "
                   "datestamp, so its last bulk import is read again once)")  # fmt: skip
    return row


SOURCES: dict[str, Callable[[Path, int, int, Path], dict[str, Any]]] = {
    "folder": bench_folder,
    "oai": bench_oai,
    "sql": bench_sql,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--sources", default=",".join(SOURCES))
    args = parser.parse_args()
    data = slice_of(corpus(), args.records)
    rows = []
    with tempfile.TemporaryDirectory(prefix="sync-bench-") as temp:
        for name in args.sources.split(","):
            print(f"{name} ...", flush=True)
            rows.append(SOURCES[name](data, args.records, args.changes, Path(temp)))
    print(f"\n{args.records:,} records, {WORKERS} CPUs; incremental: {args.changes} changed "
          "records\n")  # fmt: skip
    print("| source | full sync rec/s | peer | peer rec/s | ratio | incremental s |")
    print("|---|---:|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['source']} | {row['full_rate']:,.0f} | {row['peer']} | "
              f"{row['peer_rate']:,.0f} | {row['full_rate'] / row['peer_rate']:.2f} | "
              f"{row['incremental_seconds']:.2f} ({row['changes']} changed, {row['read']:,} "
              "read) |")  # fmt: skip
    for row in rows:
        if row.get("note"):
            print(f"\n{row['source']}: {row['note']}")
    print(f"\ntargets: full sync >= {TARGET_FULL:,} rec/s (files, SQL); incremental of 100 "
          f"changes < {TARGET_INCREMENTAL:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
