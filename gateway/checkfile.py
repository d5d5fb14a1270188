"""``lienthong check``: every record of a file read as the importer reads it, then checked.

The reader's own problems (a broken directory, invalid UTF-8 it had to replace) come
first, then the record checks of :mod:`crosswalks.check`, so a librarian sees in one list
everything the import would report and everything other systems would object to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pymarc import Record

from crosswalks.check import Finding, Severity, check_record, structure_problems

from .marcfile import (
    MarcFileError,
    MarcFormat,
    file_format,
    frame_iso2709,
    parse_iso2709,
    read_marc_file,
)

__all__ = ["CheckedRecord", "check_file"]


@dataclass(slots=True)
class CheckedRecord:
    """The findings for one record of a file."""

    where: str  #: "record 12 at byte 40960"
    control_number: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """How many findings are errors."""
        return sum(1 for finding in self.findings if finding.severity is Severity.ERROR)


def check_file(path: str | Path) -> Iterator[CheckedRecord]:
    """Check every record of ``path`` (ISO 2709, MARCXML or MARC-in-JSON, detected).

    Raises MarcFileError when the file cannot be read as a MARC file at all.
    """
    fmt = file_format(path)
    if fmt is None:
        raise MarcFileError(f"{path}: empty file")
    if fmt is MarcFormat.ISO2709:
        for frame in frame_iso2709(path):
            result = parse_iso2709(frame)
            checked = CheckedRecord(result.where(), None, structure_problems(frame.data))
            if frame.note:
                checked.findings.insert(0, Finding(Severity.ERROR, None, frame.note))
            _add_result(checked, result.record, result.error, result.warning)
            yield checked
        return
    for result in read_marc_file(path):
        checked = CheckedRecord(result.where(), None)
        _add_result(checked, result.record, result.error, result.warning)
        yield checked


def _add_result(
    checked: CheckedRecord, record: Record | None, error: str | None, warning: str | None
) -> None:
    if error:
        checked.findings.append(Finding(Severity.ERROR, None, f"unreadable: {error}"))
    if warning:
        checked.findings.append(Finding(Severity.WARNING, None, f"repaired on reading: {warning}"))
    if record is None:
        return
    control = record.get("001")
    if control is not None and control.data:
        checked.control_number = control.data.strip()
    checked.findings.extend(check_record(record))
