"""Records per second for every rendering, next to pymarc's own writers in the same run.

    python3 bench/crosswalk_bench.py [--file PATH] [--repeat N]

Input: the 5,000 LoC records in ../shared/data/loc-5000.mrc, parsed once up front (parsing
is the import benchmark's business). Each rendering produces the bytes a client receives.
Peers: pymarc's ``record_to_xml`` (MARCXML), ``as_marc`` (ISO 2709) and ``as_json``, run
on the same records in the same process, so the ratios hold on any machine. The target
for each XML rendering is 5,000 records/s.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymarc import Record, record_to_xml  # noqa: E402

from crosswalks.formats import RecordFormat, render  # noqa: E402
from gateway.marcfile import read_marc_file  # noqa: E402

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "loc-5000.mrc"

# Our rendering -> the pymarc writer that does the nearest job (None: pymarc has none).
PEERS: dict[RecordFormat, tuple[str, Callable[[Record], object]] | None] = {
    RecordFormat.MARCXML: ("pymarc record_to_xml", record_to_xml),
    RecordFormat.OAI_DC: ("pymarc record_to_xml", record_to_xml),
    RecordFormat.SRW_DC: ("pymarc record_to_xml", record_to_xml),
    RecordFormat.MODS: ("pymarc record_to_xml", record_to_xml),
    RecordFormat.SUTRS: None,
    RecordFormat.MARC21: ("pymarc as_marc", lambda r: r.as_marc()),
    RecordFormat.MARC8: None,
    RecordFormat.JSON: ("pymarc as_json", lambda r: r.as_json().encode()),
}


def _render(record: Record, *, fmt: RecordFormat, brief: bool) -> bytes:
    return render(record, fmt, brief=brief)


def rate(records: list[Record], function: Callable[[Record], object], repeat: int) -> float:
    """Best records/s over ``repeat`` passes (the least disturbed run)."""
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        for record in records:
            function(record)
        best = max(best, len(records) / (time.perf_counter() - started))
    return best


def main() -> None:
    """Print one table row per rendering: ours, the peer, the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    records = [r.record for r in read_marc_file(args.file) if r.record is not None]
    print(f"{len(records)} records from {args.file.name}; best of {args.repeat} passes\n")
    print("| rendering | records/s | peer | peer records/s | ratio | XML target 5,000/s |")
    print("|---|---:|---|---:|---:|---|")
    for fmt in RecordFormat:
        for brief in (False, True):
            ours = rate(records, functools.partial(_render, fmt=fmt, brief=brief), args.repeat)
            peer = PEERS[fmt]
            label = f"{fmt.value}{' brief' if brief else ''}"
            target = ""
            if fmt in (RecordFormat.MARCXML, RecordFormat.OAI_DC, RecordFormat.SRW_DC,
                       RecordFormat.MODS):  # fmt: skip
                target = "met" if ours >= 5000 else "NOT met"
            if peer is None or brief:
                print(f"| {label} | {ours:,.0f} | | | | {target} |")
                continue
            theirs = rate(records, peer[1], args.repeat)
            print(f"| {label} | {ours:,.0f} | {peer[0]} | {theirs:,.0f} | {ours / theirs:.2f} "
                  f"| {target} |")  # fmt: skip


if __name__ == "__main__":
    main()
