"""A fast decoder for well-formed ISO 2709 records in UTF-8 (the common case on import).

pymarc's decoder is general (MARC-8, repairs, per-subfield decoding) and costs about as
much as all the indexing an import does. Clean UTF-8 records need none of that: each field
is decoded once and split on the subfield delimiter, giving exactly what pymarc gives.
Anything unusual (a bad directory, wrong indicators, invalid UTF-8, MARC-8) returns None
and the caller uses pymarc, with its repairs and warnings.
"""

from __future__ import annotations

from pymarc import Field, Record, Subfield
from pymarc.field import Indicators

__all__ = ["decode_clean_utf8"]

_FIELD_TERMINATOR = 0x1E
# Subfield is a NamedTuple; building it through tuple.__new__ skips a Python-level wrapper,
# which matters at some 40 subfields per record.
_new_tuple = tuple.__new__
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
    """A data field built without Field.__init__'s generic argument checks (hot path)."""
    field = object.__new__(Field)
    field.tag = tag
    field.data = None
    field.control_field = False
    field._indicators = Indicators(indicators[0], indicators[1])
    field.subfields = [_new_tuple(Subfield, (part[0], part[1:])) for part in parts if part]
    return field
