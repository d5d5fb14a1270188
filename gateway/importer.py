"""Load MARC files into the store, permissively: every good record kept, every bad one named.

Used by ``lienthong import`` and by adapters that receive MARC export files. A record that
cannot be read is reported with file, record number, position and reason, and skipped; a
record that was read with repairs (wrong length in the leader, invalid UTF-8) is kept and
reported as repaired. Nothing stops the import except a file that cannot be opened.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pymarc import Record

from .marcfile import MarcFileError, ReadResult, read_marc_file
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


def import_files(
    store: RecordStore,
    paths: Iterable[str | Path],
    *,
    source: str,
    namespace: str,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    on_problem: Callable[[ImportProblem], None] | None = None,
) -> ImportReport:
    """Import every record of every file into ``store`` under ``source``.

    ``progress`` is called with the number of bytes of input consumed since the last call;
    ``on_problem`` with each problem as it is found (the report keeps them all as well).
    """
    report = ImportReport()

    def problem(item: ImportProblem) -> None:
        report.problems.append(item)
        if on_problem:
            on_problem(item)

    batch: list[CanonicalRecord] = []
    for path in paths:
        label = str(path)
        done = 0
        try:
            for result in read_marc_file(path):
                report.read += 1
                if progress and result.position_unit == "byte" and result.position > done:
                    progress(result.position - done)
                    done = result.position
                canonical = _accept(result, label, source, namespace, report, problem)
                if canonical is not None:
                    batch.append(canonical)
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
    return report


def _accept(
    result: ReadResult,
    label: str,
    source: str,
    namespace: str,
    report: ImportReport,
    problem: Callable[[ImportProblem], None],
) -> CanonicalRecord | None:
    if result.record is None:
        report.skipped += 1
        problem(ImportProblem(label, result.where(), result.error or "unreadable", skipped=True))
        return None
    local_id, id_warning = local_id_of(result.record)
    warnings = [w for w in (result.warning, id_warning) if w]
    if warnings:
        report.repaired += 1
        problem(ImportProblem(label, result.where(), "; ".join(warnings), skipped=False))
    return canonical_from_marc(result.record, source=source, namespace=namespace,
                               local_id=local_id)  # fmt: skip


def _size(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
