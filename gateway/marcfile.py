"""Read MARC files of any common kind, record by record, reporting what is broken.

ISO 2709 (UTF-8 or MARC-8), MARCXML and MARC-in-JSON are told apart by their first bytes.
The ISO 2709 reader frames records itself instead of trusting each leader's length: when a
length is wrong it falls back to the record terminator, so one damaged record costs that
record only, and each problem is reported with the byte offset where the record starts.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import mmap
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lxml import etree
from pymarc import Field, Record

from crosswalks.iso2709 import decode_clean_utf8
from crosswalks.legacy import LegacyEncoding, LegacyMode, detect_bytes
from crosswalks.legacy import decode as legacy_decode
from crosswalks.marcjson import marc_from_json
from crosswalks.marcxml import record_from_marcxml
from crosswalks.vietnamese import normalize

__all__ = [
    "Frame",
    "MarcFileError",
    "MarcFormat",
    "ReadResult",
    "detect_format",
    "file_format",
    "frame_iso2709",
    "parse_iso2709",
    "read_marc_file",
]

RECORD_TERMINATOR = 0x1D
_PYMARC_LOG = logging.getLogger("pymarc")
_MARCXML_NS = "http://www.loc.gov/MARC21/slim"
_LEADER_LENGTH = 24


class MarcFormat(StrEnum):
    """The file formats :func:`read_marc_file` understands."""

    ISO2709 = "iso2709"
    MARCXML = "marcxml"
    JSON = "json"


class MarcFileError(Exception):
    """The file as a whole cannot be read (missing, unreadable, not a MARC file)."""


@dataclass(frozen=True, slots=True)
class ReadResult:
    """One record read, or the reason it could not be.

    ``position`` is where the record starts: a byte offset for ISO 2709, a line for XML and
    JSON lines, an array index for a JSON array (``position_unit`` says which).
    ``warning`` notes a record that was kept but repaired (e.g. invalid UTF-8 replaced).
    """

    number: int
    position: int
    position_unit: str
    record: Record | None
    error: str | None = None
    warning: str | None = None
    legacy_values: int = 0  #: values read from TCVN3/VNI bytes rather than as declared

    def where(self) -> str:
        """Human-readable location: "record 12 at byte 40960"."""
        return f"record {self.number} at {self.position_unit} {self.position}"


def detect_format(head: bytes) -> MarcFormat:
    """Guess the format from the first bytes of a file."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return MarcFormat.MARCXML
    if text.startswith((b"{", b"[")):
        return MarcFormat.JSON
    if text[:5].isdigit():
        return MarcFormat.ISO2709
    raise MarcFileError("not a MARC file: expected ISO 2709, MARCXML or MARC-in-JSON")


def file_format(path: str | Path) -> MarcFormat | None:
    """The format of the file at ``path``, None for an empty file; MarcFileError if it
    cannot be read or is not MARC."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        raise MarcFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not head.strip():
        return None
    try:
        return detect_format(head)
    except MarcFileError as exc:
        raise MarcFileError(f"{path}: {exc}") from None


def read_marc_file(path: str | Path, legacy: LegacyMode = LegacyMode.AUTO) -> Iterator[ReadResult]:
    """Yield every record of ``path`` in order; broken ones as results with ``error`` set.

    ``legacy`` says how ISO 2709 bytes that are not what the leader claims are read
    (see :func:`parse_iso2709`); XML and JSON are Unicode by definition.
    """
    fmt = file_format(path)
    if fmt is None:
        return
    if fmt is MarcFormat.ISO2709:
        for frame in frame_iso2709(path):
            yield parse_iso2709(frame, legacy)
        return
    with Path(path).open("rb") as handle:
        if fmt is MarcFormat.MARCXML:
            yield from _read_marcxml(handle)
        else:
            yield from _read_json(handle)


# -- ISO 2709 ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """The bytes of one ISO 2709 record as cut from a file, before parsing."""

    number: int
    start: int
    data: bytes
    note: str | None  #: why the leader's length was not trusted, if it was not
    end: int


def frame_iso2709(path: str | Path) -> Iterator[Frame]:
    """Cut a file into records: by each leader's length when it ends on a terminator,
    else up to the next terminator, so a wrong length costs one record, not the rest."""
    with Path(path).open("rb") as handle:
        if not handle.read(1):
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            size = len(data)
            position = 0
            number = 0
            while position < size:
                # Line breaks or padding between records are common in exported files.
                while position < size and data[position] in b"\r\n\x1a\x00 ":
                    position += 1
                if position >= size:
                    break
                number += 1
                start = position
                chunk, position, note = _frame(data, start, size)
                yield Frame(number, start, chunk, note, position)


def _frame(data: mmap.mmap, start: int, size: int) -> tuple[bytes, int, str | None]:
    """Cut one record at ``start``: by its leader length if that ends on a terminator,
    else up to the next terminator. Returns (bytes, next position, framing note)."""
    head = data[start : start + 5]
    if head.isdigit():
        length = int(head)
        end = start + length
        if length >= _LEADER_LENGTH and end <= size and data[end - 1] == RECORD_TERMINATOR:
            return data[start:end], end, None
    terminator = data.find(b"\x1d", start)
    end = size if terminator < 0 else terminator + 1
    note = "record length in leader is wrong; record cut at its terminator"
    if terminator < 0:
        note = "record has no terminator (file truncated?)"
    return data[start:end], end, note


def parse_iso2709(frame: Frame, legacy: LegacyMode = LegacyMode.AUTO) -> ReadResult:
    """Decode one framed record: the fast path for clean UTF-8, pymarc for the rest.

    Bytes that are not what the leader says (invalid UTF-8; "MARC-8" that is really TCVN3
    or VNI) are read as legacy Vietnamese when ``legacy`` allows and the evidence holds,
    else replaced with U+FFFD; either way the record is kept and the repair reported.
    """
    number, start, chunk, framing = frame.number, frame.start, frame.data, frame.note
    if framing is None:
        fast = decode_clean_utf8(chunk)
        if fast is not None:
            return ReadResult(number, start, "byte", fast)

    converted = 0

    def result(
        record: Record | None, error: str | None = None, warning: str | None = None
    ) -> ReadResult:
        return ReadResult(number, start, "byte", record, error, warning, converted)

    if len(chunk) < _LEADER_LENGTH:
        return result(None, f"only {len(chunk)} bytes, shorter than a leader")
    if not chunk.endswith(b"\x1d"):
        return result(None, framing or "record has no terminator")
    utf8 = chr(chunk[9]) == "a"
    notes = [framing] if framing else []
    try:
        if not utf8 and _legacy_in_marc8(chunk, legacy):
            # The leader says MARC-8 but the bytes are TCVN3/VNI: one char per byte, then
            # each value converted from its bytes.
            record, repairs = _decode(chunk, False, "strict", file_encoding="latin-1")
            note, converted = _resolve_bytes(record, legacy, _latin1_bytes, declared="MARC-8")
            notes.append(note)
        else:
            record, repairs = _decode(chunk, utf8, "strict")
    except UnicodeDecodeError:
        # Invalid UTF-8, or a MARC-8 record whose escape sequences are broken: keep the
        # bytes apart (surrogate escapes), read them as legacy Vietnamese if they are,
        # else as U+FFFD, and say so.
        try:
            record, repairs = _decode(chunk, True, "surrogateescape")
        except Exception as exc:  # pymarc raises many kinds on damaged data
            return result(None, _reason(exc))
        if not utf8:
            notes.append("MARC-8 decoding failed; read as UTF-8")
        note, converted = _resolve_bytes(record, legacy, _escaped_bytes, declared="UTF-8")
        notes.append(note)
    except Exception as exc:
        return result(None, _reason(exc))
    notes.extend(repairs)
    if not record.fields:
        return result(None, "record has no fields (bad directory?)")
    return result(record, warning="; ".join(note for note in notes if note) or None)


# -- bytes that are not what the leader says ------------------------------------------------

_ESCAPED = re.compile("[\udc80-\udcff]")


def _escaped_bytes(value: str) -> bytes | None:
    """The original bytes of a value decoded with surrogate escapes, None if it was clean."""
    return value.encode("utf-8", "surrogateescape") if _ESCAPED.search(value) else None


def _latin1_bytes(value: str) -> bytes | None:
    """The original bytes of a value decoded one char per byte, None if they are ASCII."""
    return None if value.isascii() else value.encode("latin-1")


def _legacy_in_marc8(chunk: bytes, mode: LegacyMode) -> bool:
    """True when a "MARC-8" record's bytes are TCVN3 or VNI Vietnamese instead.

    Real MARC-8 switches scripts with ESC and puts ANSEL marks before letters; a record
    without escapes is taken for legacy text only when at least two thirds of its 8-bit
    subfields read as Vietnamese in one encoding (none in the other), even when the
    encoding is declared: one ambiguous subfield ("Nhơn" in ANSEL is "Nhẳn" in TCVN3) must
    not turn a real MARC-8 record into garbage.
    """
    if mode is LegacyMode.OFF or b"\x1b" in chunk or chunk.isascii():
        return False
    base = int(chunk[12:17]) if chunk[12:17].isdigit() else _LEADER_LENGTH
    parts = [
        subfield[1:]  # without its code
        for field in chunk[base:].split(b"\x1e")
        for subfield in field.split(b"\x1f")[1:]
        if not subfield.isascii()
    ]
    verdicts = [detect_bytes(part, mode) for part in parts]
    found = set(verdicts) - {None}
    if len(found) != 1:
        return False
    return 3 * sum(1 for verdict in verdicts if verdict is not None) >= 2 * len(parts)


def _vote(parts: list[bytes], mode: LegacyMode) -> LegacyEncoding | None:
    """The legacy encoding of bytes known not to be what the leader says (not UTF-8).

    A declared ``mode`` is trusted; in auto mode the parts that are recognised must agree.
    """
    if mode is LegacyMode.OFF or not parts:
        return None
    if mode is not LegacyMode.AUTO:
        return LegacyEncoding(mode.value)
    found = {detect_bytes(part) for part in parts} - {None}
    return found.pop() if len(found) == 1 else None


def _resolve_bytes(
    record: Record, mode: LegacyMode, raw_of: Callable[[str], bytes | None], declared: str
) -> tuple[str, int]:
    """Convert every value that kept its raw bytes; return the report's note and how many
    values were read as legacy Vietnamese."""
    values: list[tuple[Field, int | None, bytes]] = []
    for field in record.fields:
        if field.control_field:
            raw = raw_of(field.data or "")
            if raw is not None:
                values.append((field, None, raw))
            continue
        for position, subfield in enumerate(field.subfields):
            raw = raw_of(subfield.value)
            if raw is not None:
                values.append((field, position, raw))
    encoding = _vote([raw for _, index, raw in values if index is not None], mode)
    replaced = 0
    for field, index, raw in values:
        if encoding is not None and index is not None:
            text = normalize(legacy_decode(raw, encoding))
        else:
            text = raw.decode("utf-8", "replace")
            replaced += 1
        if index is None:
            field.data = text
        else:
            field.subfields[index] = field.subfields[index]._replace(value=text)
    converted = len(values) - replaced
    notes = []
    if converted and encoding is not None:
        notes.append(f"{converted} value(s) read as {encoding.value.upper()} (not {declared})")
    if replaced:
        notes.append(f"invalid {declared} bytes replaced with U+FFFD in {replaced} value(s)")
    return "; ".join(notes), converted


class _Collect(logging.Handler):
    """Collects pymarc's repair warnings so they are reported with the record."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().split(":", 1)[0]
        if message not in self.messages:
            self.messages.append(message)


def _decode(
    chunk: bytes, utf8: bool, handling: str, file_encoding: str = "iso8859-1"
) -> tuple[Record, list[str]]:
    """Parse one ISO 2709 record; return it with the repairs pymarc made on the way.

    pymarc logs indicator repairs and writes MARC-8 troubles to stderr; both are caught
    here and returned, so the importer reports them per record instead of flooding the
    terminal.
    """
    collector = _Collect()
    _PYMARC_LOG.addHandler(collector)
    propagate, _PYMARC_LOG.propagate = _PYMARC_LOG.propagate, False
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            record = Record(
                data=chunk,
                to_unicode=True,
                force_utf8=utf8,
                hide_utf8_warnings=True,
                utf8_handling=handling,
                file_encoding=file_encoding,
            )
    finally:
        _PYMARC_LOG.removeHandler(collector)
        _PYMARC_LOG.propagate = propagate
    repairs = list(collector.messages)
    if stderr.getvalue():
        repairs.append("MARC-8 multibyte character cut short (replaced by a space)")
    return record, repairs


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


# -- MARCXML ---------------------------------------------------------------------------


def _read_marcxml(handle: object) -> Iterator[ReadResult]:
    number = 0
    parser = etree.iterparse(
        handle, events=("end",), recover=False, huge_tree=True, resolve_entities=False,
        no_network=True,
    )  # fmt: skip
    try:
        for _, element in parser:
            if etree.QName(element).localname != "record":
                continue
            number += 1
            line = element.sourceline or 0
            try:
                record = record_from_marcxml(element)
                yield ReadResult(number, line, "line", record)
            except ValueError as exc:
                yield ReadResult(number, line, "line", None, str(exc))
            element.clear(keep_tail=True)
    except etree.XMLSyntaxError as exc:
        # XML cannot be resynchronised after a syntax error: report where it stopped.
        yield ReadResult(number + 1, exc.lineno or 0, "line", None, f"XML syntax error: {exc.msg}")


# -- MARC-in-JSON ----------------------------------------------------------------------


def _read_json(handle: object) -> Iterator[ReadResult]:
    raw = handle.read()  # type: ignore[attr-defined]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield ReadResult(1, exc.start, "byte", None, "file is not UTF-8")
        return
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            array = json.loads(text)
        except json.JSONDecodeError as exc:
            yield ReadResult(1, exc.lineno, "line", None, f"JSON syntax error: {exc.msg}")
            return
        for index, item in enumerate(array):
            yield _json_record(index + 1, index, "array index", item)
        return
    # One object, or JSON lines (one record per line).
    try:
        yield _json_record(1, 1, "line", json.loads(text))
        return
    except json.JSONDecodeError:
        pass
    number = 0
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        number += 1
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield ReadResult(number, line_number, "line", None, f"JSON syntax error: {exc.msg}")
            continue
        yield _json_record(number, line_number, "line", item)


def _json_record(number: int, position: int, unit: str, item: object) -> ReadResult:
    if not isinstance(item, dict) or "fields" not in item:
        return ReadResult(number, position, unit, None, "not a MARC-in-JSON record object")
    try:
        record = marc_from_json(item)
    except (ValueError, TypeError, AttributeError) as exc:
        return ReadResult(number, position, unit, None, _reason(exc))
    if not record.fields:
        return ReadResult(number, position, unit, None, "record has no fields")
    return ReadResult(number, position, unit, record)
