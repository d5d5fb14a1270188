"""Record checks: what is wrong with a MARC record before it goes to the National Library.

In the spirit of MARC::Lint: a librarian runs ``lienthong check export.mrc`` on what a
source sends and sees, per record, the problems other systems will trip over: a leader
with impossible codes, a missing or repeated 245, an 008 of the wrong length, indicators
and subfield codes MARC does not allow, ISBNs with a wrong check digit, and text that was
damaged on the way (undecodable bytes, control characters, Vietnamese marks out of order, legacy
TCVN3/VNI text read as Latin-1). Errors break exchange; warnings are worth fixing.

Byte-level structure (record length, base address, directory) is checked on the raw
bytes by :func:`structure_problems`, because a parser repairs or rejects those before a
record object exists.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from pymarc import Record

from .identifiers import isbn_as_written, isbn_is_valid, issn_is_valid
from .legacy import detect_text
from .marcxml import INDICATORS
from .vietnamese import normalize
from .xmlchars import INVALID_XML_CHARACTERS

__all__ = ["Severity", "Finding", "check_record", "structure_problems"]


class Severity(StrEnum):
    """How much a problem matters to the systems that receive the record."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: how bad, where (a tag, "LDR", or None for the whole record), what."""

    severity: Severity
    where: str | None
    message: str

    def __str__(self) -> str:
        place = f"{self.where}: " if self.where else ""
        return f"{self.severity}: {place}{self.message}"


# Leader positions with a closed set of values (MARC 21 Bibliographic), as data:
# position -> (allowed values, severity when violated, what the position is).
_LEADER_CODES: dict[int, tuple[str, Severity, str]] = {
    5: ("acdnp", Severity.ERROR, "record status"),
    6: ("acdefgijkmoprt", Severity.ERROR, "type of record"),
    7: ("abcdims", Severity.ERROR, "bibliographic level"),
    8: (" a", Severity.WARNING, "type of control"),
    9: (" a", Severity.ERROR, "character coding scheme"),
    17: (" 1234578uzIJKLM", Severity.WARNING, "encoding level"),
    18: (" acinu", Severity.WARNING, "descriptive cataloguing form"),
    19: (" abc", Severity.WARNING, "multipart resource record level"),
}
#: Fields MARC 21 defines as non-repeatable (the ones that matter for exchange).
_NOT_REPEATABLE = frozenset(
    "001 003 005 008 010 018 040 042 100 110 111 130 240 243 245 254 256 263 306 357 384".split()
)
_TAG = re.compile(r"[0-9A-Za-z]{3}")
_SUBFIELD_CODE = re.compile(r"[0-9a-z]")
_DATE_005 = re.compile(r"\d{14}\.\d")
_DATE1 = re.compile(r"[0-9u|]{4}|    ")
_LANGUAGE = re.compile(r"[a-z]{3}|   |\|\|\|")


def _text_findings(where: str, value: str) -> list[Finding]:
    """Encoding damage in one value."""
    found: list[Finding] = []
    if "\ufffd" in value:
        found.append(Finding(Severity.ERROR, where, "undecodable bytes (U+FFFD) in the text"))
    bad = INVALID_XML_CHARACTERS.findall(value)
    if bad:
        codes = ", ".join(sorted({f"U+{ord(c):04X}" for c in bad}))
        found.append(Finding(Severity.ERROR, where, f"control or non-character(s) {codes}"))
    if not value.isascii():
        # Decomposed (NFD) text is legitimate MARC 21 (LC writes it); marks typed in an order
        # or place that NFC cannot compose into one letter are a real defect.
        if normalize(value) != unicodedata.normalize("NFC", value):
            found.append(
                Finding(Severity.WARNING, where,
                        "Vietnamese marks out of order or detached (NFC cannot compose them)")
            )  # fmt: skip
        encoding = detect_text(value)
        if encoding is not None:
            found.append(
                Finding(Severity.WARNING, where,
                        f"looks like {encoding.value.upper()} Vietnamese read as Latin-1")
            )  # fmt: skip
    return found


def _leader_findings(leader: str) -> list[Finding]:
    if len(leader) != 24:
        return [Finding(Severity.ERROR, "LDR", f"leader is {len(leader)} characters; 24 expected")]
    found = []
    for position, (allowed, severity, meaning) in _LEADER_CODES.items():
        if leader[position] not in allowed:
            found.append(
                Finding(severity, "LDR",
                        f"{position:02d} {meaning} {leader[position]!r} is not one of "
                        f"{' '.join(repr(c) for c in allowed)}")
            )  # fmt: skip
    if leader[10:12] != "22" or leader[20:24] != "4500":
        found.append(
            Finding(Severity.WARNING, "LDR", "positions 10-11 must be '22' and 20-23 '4500'")
        )
    return found


def _control_findings(tag: str, data: str) -> list[Finding]:
    found = _text_findings(tag, data)
    if tag == "008":
        if len(data) != 40:
            found.append(Finding(Severity.ERROR, tag, f"is {len(data)} characters; 40 expected"))
        else:
            if not _DATE1.fullmatch(data[7:11]):
                found.append(Finding(Severity.WARNING, tag, f"07-10 date {data[7:11]!r}"))
            if not _LANGUAGE.fullmatch(data[35:38]):
                found.append(Finding(Severity.WARNING, tag, f"35-37 language {data[35:38]!r}"))
    elif tag == "005" and not _DATE_005.fullmatch(data):
        found.append(Finding(Severity.WARNING, tag, f"{data!r} is not yyyymmddhhmmss.f"))
    return found


def check_record(record: Record) -> list[Finding]:
    """Every problem found in ``record``, in field order (leader first)."""
    found = _leader_findings(str(record.leader))
    counts: dict[str, int] = {}
    for field in record.fields:
        tag = field.tag
        counts[tag] = counts.get(tag, 0) + 1
        if not _TAG.fullmatch(tag):
            found.append(Finding(Severity.ERROR, tag, "tag is not three letters or digits"))
        if field.control_field:
            found.extend(_control_findings(tag, field.data or ""))
            continue
        for position, indicator in ((1, field.indicator1), (2, field.indicator2)):
            if indicator not in INDICATORS:
                found.append(Finding(Severity.ERROR, tag, f"indicator {position} {indicator!r}"))
        if not field.subfields:
            found.append(Finding(Severity.ERROR, tag, "data field without subfields"))
        for code, value in field.subfields:
            where = f"{tag} ${code}"
            if not _SUBFIELD_CODE.fullmatch(code):
                found.append(Finding(Severity.ERROR, tag, f"subfield code {code!r}"))
            if not value.strip():
                found.append(Finding(Severity.WARNING, where, "empty subfield"))
                continue
            found.extend(_text_findings(where, value))
            if tag == "020" and code == "a":
                number = isbn_as_written(value)
                if not isbn_is_valid(number):
                    found.append(
                        Finding(Severity.WARNING, where,
                                f"ISBN {number} has a wrong check digit or length "
                                "(an invalid ISBN belongs in $z)")
                    )  # fmt: skip
            elif tag == "022" and code == "a" and not issn_is_valid(value.strip()[:9]):
                found.append(Finding(Severity.WARNING, where, f"ISSN {value.strip()} is invalid"))
    if "245" not in counts:
        found.append(Finding(Severity.ERROR, "245", "no title field"))
    main_entries = [tag for tag in ("100", "110", "111", "130") if tag in counts]
    if len(main_entries) > 1:
        found.append(
            Finding(Severity.ERROR, "1XX", f"more than one main entry ({', '.join(main_entries)})")
        )
    if "001" not in counts:
        found.append(Finding(Severity.WARNING, "001", "no control number"))
    if "008" not in counts:
        found.append(Finding(Severity.WARNING, "008", "no fixed-length data elements"))
    for tag, count in counts.items():
        if count > 1 and tag in _NOT_REPEATABLE:
            found.append(
                Finding(Severity.ERROR, tag, f"is not repeatable but occurs {count} times")
            )
    return found


def structure_problems(chunk: bytes) -> list[Finding]:
    """Problems in the ISO 2709 structure of one record's bytes (leader, directory)."""
    found: list[Finding] = []
    if len(chunk) < 25:
        return [Finding(Severity.ERROR, "LDR", f"record is only {len(chunk)} bytes")]
    head = chunk[:24]
    if head[:5].isdigit() and int(head[:5]) != len(chunk):
        found.append(
            Finding(Severity.ERROR, "LDR",
                    f"record length says {int(head[:5])} bytes; the record has {len(chunk)}")
        )  # fmt: skip
    if not chunk.endswith(b"\x1d"):
        found.append(Finding(Severity.ERROR, None, "record terminator (1D) missing"))
    if not head[12:17].isdigit():
        found.append(Finding(Severity.ERROR, "LDR", f"base address {head[12:17]!r}"))
        return found
    base = int(head[12:17])
    directory_end = chunk.find(b"\x1e", 24)
    if directory_end < 0 or directory_end + 1 != base:
        found.append(
            Finding(Severity.ERROR, "LDR",
                    f"base address {base} does not follow the directory (ends at "
                    f"{directory_end + 1})")
        )  # fmt: skip
        return found
    directory = chunk[24:directory_end]
    if len(directory) % 12:
        found.append(Finding(Severity.ERROR, None, "directory length is not a multiple of 12"))
        return found
    for at in range(0, len(directory), 12):
        entry = directory[at : at + 12]
        tag = entry[:3].decode("ascii", "replace")
        if not entry[3:].isdigit():
            found.append(Finding(Severity.ERROR, tag, f"directory entry {entry!r} is not numeric"))
            continue
        length, start = int(entry[3:7]), int(entry[7:12])
        end = base + start + length
        if end > len(chunk) or length < 1 or chunk[end - 1] != 0x1E:
            found.append(
                Finding(Severity.ERROR, tag,
                        f"directory says {length} bytes at {start}; no field terminator there")
            )  # fmt: skip
    return found
