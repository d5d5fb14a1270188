"""ISO 2709 (MARC exchange format): a fast UTF-8 decoder and an encoder that never truncates.

Decoding: pymarc's decoder is general (MARC-8, repairs, per-subfield decoding) and costs about as
much as all the indexing an import does. Clean UTF-8 records need none of that: each field
is decoded once and split on the subfield delimiter, giving exactly what pymarc gives.
Anything unusual (a bad directory, wrong indicators, invalid UTF-8, MARC-8) returns None
and the caller uses pymarc, with its repairs and warnings.

Encoding: the format's five-digit record length caps a record at 99,999 bytes and its
four-digit field length caps a field at 9,999. pymarc writes such records with a wrong
length that readers then mis-frame; here they raise :class:`RecordTooLong`, so a server can
say so (and offer MARCXML) instead of sending a corrupt record.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pymarc import Field, Record

from .fields import data_field, subfield

__all__ = ["decode_clean_utf8", "encode_iso2709", "RecordTooLong", "MAX_RECORD_LENGTH"]

_FIELD_TERMINATOR = 0x1E
#: The largest record the leader's five-digit length can describe.
MAX_RECORD_LENGTH = 99_999
_MAX_FIELD_LENGTH = 9_999
_MAX_OFFSET = 99_999
_LEADER = 24
_ENTRY = 12


def decode_clean_utf8(chunk: bytes) -> Record | None:
    """Decode one record framed by its terminator, or None if it needs pymarc's care."""
    try:
        leader = chunk[:_LEADER].decode("ascii")
        base = int(chunk[12:17])
    except (UnicodeDecodeError, ValueError):
        return None
    if leader[9] != "a" or not _LEADER < base <= len(chunk):
        return None
    if chunk[base - 1] != _FIELD_TERMINATOR or (base - 1 - _LEADER) % _ENTRY:
        return None
    fields: list[Field] = []
    try:
        directory = chunk[_LEADER : base - 1].decode("ascii")
        for at in range(0, len(directory), _ENTRY):
            tag = directory[at : at + 3]
            length = int(directory[at + 3 : at + 7])
            start = base + int(directory[at + 7 : at + 12])
            end = start + length - 1
            if length < 1 or end >= len(chunk) or chunk[end] != _FIELD_TERMINATOR:
                return None
            text = chunk[start:end].decode("utf-8")
            if tag < "010" and tag.isdigit():
                fields.append(Field(tag=tag, data=text))
                continue
            parts = text.split("\x1f")
            indicators = parts[0]
            if len(indicators) != 2:
                return None
            fields.append(_data_field(tag, indicators, parts[1:]))
    except (UnicodeDecodeError, ValueError):
        return None
    record = Record(leader=leader, force_utf8=True)
    record.fields = fields
    return record


def _data_field(tag: str, indicators: str, parts: list[str]) -> Field:
    """A data field from its raw indicator and subfield parts (hot path)."""
    return data_field(tag, indicators[0], indicators[1],
                      [subfield(part[0], part[1:]) for part in parts if part])  # fmt: skip


class RecordTooLong(ValueError):
    """The record (or one field) does not fit the lengths ISO 2709 can express."""

    def __init__(self, length: int, limit: int, tag: str | None = None) -> None:
        self.length = length
        self.limit = limit
        self.tag = tag
        where = f"field {tag} is" if tag else "record is"
        super().__init__(f"{where} {length:,} bytes; ISO 2709 allows at most {limit:,}")


def encode_iso2709(record: Record, *, marc8: bool = False) -> bytes:
    """The record as ISO 2709 bytes: UTF-8 with LDR/09 'a', or MARC-8 with LDR/09 blank.

    The leader's lengths, base address, indicator/subfield counts and entry map are always
    recomputed, whatever the record carried. Raises :class:`RecordTooLong` rather than
    writing a record whose lengths overflow their digits.
    """
    if marc8:
        encode = _marc8_encoder()
        fields = [(field.tag, _marc8_field(field, encode)) for field in record.fields]
    else:
        fields = [(field.tag, _utf8_field(field)) for field in record.fields]
    if marc8:
        fields = _with_066(fields)
    directory: list[bytes] = []
    offset = 0
    for tag, data in fields:
        length = len(data)
        if length > _MAX_FIELD_LENGTH:
            raise RecordTooLong(length, _MAX_FIELD_LENGTH, tag)
        if offset > _MAX_OFFSET:
            raise RecordTooLong(offset, MAX_RECORD_LENGTH)
        directory.append(b"%3s%04d%05d" % (tag.encode("ascii", "replace")[:3], length, offset))
        offset += length
    base = _LEADER + _ENTRY * len(directory) + 1
    total = base + offset + 1
    if total > MAX_RECORD_LENGTH:
        raise RecordTooLong(total, MAX_RECORD_LENGTH)
    leader = str(record.leader).ljust(_LEADER)[:_LEADER]
    leader = f"{total:05d}{leader[5:9]}{' ' if marc8 else 'a'}22{base:05d}{leader[17:20]}4500"
    body = [data for _, data in fields]
    return b"".join([leader.encode("ascii", "replace"), *directory, b"\x1e", *body, b"\x1d"])


def _pieces(field: Field) -> list[str]:
    """A data field's indicators, then each subfield as code + value, ready to join on
    the subfield delimiter.

    Indicators and subfield codes must be exactly one byte each or every reader mis-frames
    the field: an indicator that is not one ASCII character becomes blank, a subfield whose
    code is not one is left out (as in MARCXML). The format's delimiters are taken out of
    the data, where a stray one would cut the field.
    """
    indicators = "".join(i if len(i) == 1 and " " <= i <= "~" else " " for i in
                         (field.indicator1, field.indicator2))  # fmt: skip
    pieces = [indicators]
    for code, value in field.subfields:
        if code in _CODES:
            pieces.append(code + (value if value.isprintable() else value.translate(_DELIMITERS)))
    return pieces


def _utf8_field(field: Field) -> bytes:
    """One field in UTF-8 with its terminator (one encode per field: the hot path)."""
    if field.control_field:
        text = field.data or ""
        if not text.isprintable():
            text = text.translate(_DELIMITERS)
    else:
        text = "\x1f".join(_pieces(field))
    # A lone surrogate becomes "?": the output stays valid UTF-8.
    return (text + "\x1e").encode("utf-8", "replace")


def _marc8_field(field: Field, encode: Callable[[str], bytes]) -> bytes:
    """One field in MARC-8: each piece on its own, so each starts and ends in the default
    character sets (the MARC-8 encoder writes controls and delimiters as references)."""
    if field.control_field:
        return encode(field.data or "") + b"\x1e"
    return b"\x1f".join(encode(piece) for piece in _pieces(field)) + b"\x1e"


# An ISO 2022 designation (technique 2) or a MARC locking escape (technique 1), without ESC.
_ESCAPE = re.compile(rb"\x1b([()$,\-][!]?[0-9A-Za-z]|[bgps])")
_DEFAULT_SETS = frozenset({b"(B", b")E", b")!E", b"s"})


def _with_066(fields: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Add 066 (character sets present) when MARC-8 data switches to other sets.

    MARC 21 requires it so that a receiving system knows, before reading the data, which
    sets it must support: $c lists each alternate set by its escape sequence after ESC.
    A 066 the record carried is replaced, since it described the record's old encoding.
    """
    kept = [(tag, data) for tag, data in fields if tag != "066"]
    found: list[bytes] = []
    for _, data in kept:
        for match in _ESCAPE.finditer(data):
            designation = match.group(1)
            if designation not in _DEFAULT_SETS and designation not in found:
                found.append(designation)
    if not found:
        return kept
    data = b"  " + b"".join(b"\x1fc" + designation for designation in found) + b"\x1e"
    at = next((i for i, (tag, _) in enumerate(kept) if tag > "066"), len(kept))
    return [*kept[:at], ("066", data), *kept[at:]]


# The format's own delimiters cannot appear in data; one-byte printable subfield codes.
_DELIMITERS = str.maketrans("", "", "\x1d\x1e\x1f")
_CODES = frozenset(chr(c) for c in range(0x21, 0x7F))


def _marc8_encoder() -> Callable[[str], bytes]:
    from .marc8 import encode_marc8  # the MARC-8 tables load only when a client wants them

    return encode_marc8
