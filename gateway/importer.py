"""Load MARC files into the store, permissively: every good record kept, every bad one named.

Used by ``lienthong import`` and by adapters that receive MARC export files. A record that
cannot be read is reported with file, record number, position and reason, and skipped; a
record that was read with repairs (wrong length in the leader, invalid UTF-8) is kept and
reported as repaired. Nothing stops the import except a file that cannot be opened.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import multiprocessing.pool
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from pymarc import Record

from crosswalks.legacy import LegacyMode, repair_record

from .indexing import PreparedRecord, prepare_record
from .marcfile import (
    Frame,
    MarcFileError,
    MarcFormat,
    ReadResult,
    file_format,
    frame_iso2709,
    parse_iso2709,
    read_marc_file,
)
from .record import CanonicalRecord, Item, default_sets, normalize_record, oai_identifier
from .store import RecordStore, WriteSummary

__all__ = ["ImportProblem", "ImportReport", "import_files", "canonical_from_marc", "local_id_of"]


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """A record that was skipped (``skipped=True``) or kept with repairs."""

    file: str
    where: str
    reason: str
    skipped: bool

    def __str__(self) -> str:
        outcome = "skipped" if self.skipped else "kept"
        return f"{self.file}: {self.where}: {self.reason} ({outcome})"


@dataclass(slots=True)
class ImportReport:
    """Counts for the summary line, and every problem in file order."""

    read: int = 0
    skipped: int = 0
    repaired: int = 0
    legacy_converted: int = 0  #: subfield values converted from TCVN3/VNI to Unicode
    written: WriteSummary = field(default_factory=WriteSummary)
    problems: list[ImportProblem] = field(default_factory=list)
    unreadable_files: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: read, new, updated, unchanged, skipped (and repaired when any)."""
        w = self.written
        line = (
            f"read {self.read}, new {w.new}, updated {w.updated}, unchanged {w.unchanged}, "
            f"skipped {self.skipped}"
        )
        if self.repaired:
            line += f", kept with repairs {self.repaired}"
        if self.legacy_converted:
            line += f", values converted from TCVN3/VNI {self.legacy_converted}"
        if self.unreadable_files:
            line += f", unreadable files {len(self.unreadable_files)}"
        return line


def local_id_of(record: Record) -> tuple[str, str | None]:
    """The record's id within its source: 001, else a digest of its content.

    Returns (id, warning). A digest id is stable for the same record, so re-importing an
    unchanged file stays idempotent, but an edited record without 001 becomes a new one;
    the warning says so.
    """
    f001 = record.get("001")
    if f001 is not None and f001.data and f001.data.strip():
        return f001.data.strip(), None
    digest = hashlib.blake2b(record.as_json().encode("utf-8"), digest_size=10).hexdigest()
    return f"nocn-{digest}", "record has no 001 control number; identified by its content"


def items_from_852(source: str, record: Record) -> tuple[Item, ...]:
    """Holdings carried in 852 fields ($b location, $h/$i call number, $p barcode)."""
    items = []
    for fld in record.get_fields("852"):
        call_number = " ".join(fld.get_subfields("h", "i")).strip()
        location = " ".join(fld.get_subfields("b", "c")).strip()
        barcode = " ".join(fld.get_subfields("p")).strip()
        items.append(Item(library=source, barcode=barcode, location=location,
                          call_number=call_number))  # fmt: skip
    return tuple(items)


def canonical_from_marc(
    record: Record, *, source: str, namespace: str, local_id: str | None = None
) -> CanonicalRecord:
    """Normalise a MARC record and wrap it with the gateway's metadata."""
    normalize_record(record)
    if local_id is None:
        local_id, _ = local_id_of(record)
    return CanonicalRecord(
        source=source,
        local_id=local_id,
        marc=record,
        oai_identifier=oai_identifier(namespace, source, local_id),
        sets=default_sets(source, record),
        items=items_from_852(source, record),
    )


class _Outcome(NamedTuple):
    """One record's fate, computed where the record was parsed (maybe a worker process);
    a NamedTuple because it crosses the process boundary for every record."""

    where: str
    prepared: PreparedRecord | None
    error: str | None
    warning: str | None
    end: int  #: byte offset after the record (ISO 2709), for progress
    legacy: int = 0  #: values converted from TCVN3/VNI


def _outcome_of(
    result: ReadResult, source: str, namespace: str, legacy: LegacyMode, end: int = 0
) -> _Outcome:
    if result.record is None:
        return _Outcome(result.where(), None, result.error or "unreadable", None, end)
    converted = repair_record(result.record, legacy)
    local_id, id_warning = local_id_of(result.record)
    legacy_note = f"{converted} value(s) converted from legacy Vietnamese" if converted else None
    warnings = [w for w in (result.warning, legacy_note, id_warning) if w]
    canonical = canonical_from_marc(result.record, source=source, namespace=namespace,
                                    local_id=local_id)  # fmt: skip
    return _Outcome(result.where(), prepare_record(canonical), None,
                    "; ".join(warnings) or None, end, converted + result.legacy_values)  # fmt: skip


def _prepare_frames(
    frames: list[Frame], source: str, namespace: str, legacy: LegacyMode
) -> list[_Outcome]:
    """Worker-process entry: parse and prepare a run of framed records."""
    return [_outcome_of(parse_iso2709(f, legacy), source, namespace, legacy, f.end) for f in frames]


def _outcomes(
    path: str | Path,
    source: str,
    namespace: str,
    pool: multiprocessing.pool.Pool | None,
    workers: int,
    legacy: LegacyMode,
) -> Iterator[_Outcome]:
    """Every record of one file as an outcome, in file order.

    With a pool, ISO 2709 records are cut here and parsed and prepared by the workers in
    runs of a few hundred, with a bounded number of runs in flight (memory stays flat
    however big the file is).
    """
    if file_format(path) is not MarcFormat.ISO2709:
        for result in read_marc_file(path, legacy):
            yield _outcome_of(result, source, namespace, legacy)
        return
    if pool is None:
        for frame in frame_iso2709(path):
            yield _outcome_of(parse_iso2709(frame, legacy), source, namespace, legacy, frame.end)
        return
    pending: deque[multiprocessing.pool.AsyncResult[list[_Outcome]]] = deque()
    window = 4 * workers
    run: list[Frame] = []
    for frame in frame_iso2709(path):
        run.append(frame)
        if len(run) == _RUN:
            pending.append(pool.apply_async(_prepare_frames, (run, source, namespace, legacy)))
            run = []
            while len(pending) >= window:
                yield from pending.popleft().get()
    if run:
        pending.append(pool.apply_async(_prepare_frames, (run, source, namespace, legacy)))
    while pending:
        yield from pending.popleft().get()


_RUN = 250


def import_files(
    store: RecordStore,
    paths: Iterable[str | Path],
    *,
    source: str,
    namespace: str,
    batch_size: int = 5000,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_problem: Callable[[ImportProblem], None] | None = None,
    legacy: LegacyMode = LegacyMode.AUTO,
) -> ImportReport:
    """Import every record of every file into ``store`` under ``source``.

    ``workers`` > 1 parses and prepares ISO 2709 records in that many processes while this
    one writes (use it from the command line, not inside a running server).
    ``progress`` is called with the number of bytes of input consumed since the last call;
    ``on_problem`` with each problem as it is found (the report keeps them all as well).
    ``legacy`` is how TCVN3/VNI text is looked for (raw bytes and mojibake); the report
    counts the values converted.
    """
    report = ImportReport()

    def problem(item: ImportProblem) -> None:
        report.problems.append(item)
        if on_problem:
            on_problem(item)

    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    batch: list[PreparedRecord] = []
    try:
        for path in paths:
            label = str(path)
            done = 0
            try:
                for outcome in _outcomes(path, source, namespace, pool, workers, legacy):
                    report.read += 1
                    report.legacy_converted += outcome.legacy
                    if progress and outcome.end > done:
                        progress(outcome.end - done)
                        done = outcome.end
                    if outcome.prepared is None:
                        report.skipped += 1
                        problem(ImportProblem(label, outcome.where, outcome.error or "",
                                              skipped=True))  # fmt: skip
                        continue
                    if outcome.warning:
                        report.repaired += 1
                        problem(ImportProblem(label, outcome.where, outcome.warning,
                                              skipped=False))  # fmt: skip
                    batch.append(outcome.prepared)
                    if len(batch) >= batch_size:
                        report.written.add(store.upsert(batch))
                        batch = []
            except MarcFileError as exc:
                report.unreadable_files.append(label)
                problem(ImportProblem(label, "file", str(exc), skipped=True))
            if progress:
                size = _size(path)
                if size > done:
                    progress(size - done)
        if batch:
            report.written.add(store.upsert(batch))
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return report


def _size(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
