"""MARC-in-JSON: the record layout pymarc, Koha and the Ross Singer proposal share.

It is the store's serialised form (compact, lossless, fast to parse with the standard
library) and one of the formats served to clients that ask for JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from pymarc import Field, Record

from .fields import data_field, subfield

__all__ = ["marc_to_json", "marc_from_json", "marc_json_text"]


def marc_json_text(record: Record) -> str:
    """The record as compact MARC-in-JSON text: the stored form and the hashed form."""
    return json.dumps(marc_to_json(record), ensure_ascii=False, separators=(",", ":"))


def marc_to_json(record: Record) -> dict[str, object]:
    """MARC-in-JSON (the Ross Singer layout pymarc also reads) as a plain dict."""
    fields: list[dict[str, object]] = []
    for fld in record.fields:
        if fld.is_control_field():
            fields.append({fld.tag: fld.data})
        else:
            fields.append(
                {
                    fld.tag: {
                        "ind1": fld.indicator1,
                        "ind2": fld.indicator2,
                        "subfields": [{s.code: s.value} for s in fld.subfields],
                    }
                }
            )
    return {"leader": str(record.leader), "fields": fields}


def marc_from_json(data: dict[str, object]) -> Record:
    """Inverse of :func:`marc_to_json`; tolerant of missing indicators and null values.

    Raises ValueError (naming the field) for a structure that is not MARC-in-JSON.
    """
    leader = str(data.get("leader") or "").ljust(24)[:24]  # pymarc refuses a short leader
    record = Record(leader=leader, force_utf8=True)
    fields = data.get("fields") or []
    if not isinstance(fields, list):
        raise ValueError('MARC-in-JSON "fields" must be an array')
    record.fields = _fields_from_json(fields)
    return record


def _fields_from_json(fields: Iterable[object]) -> list[Field]:
    result: list[Field] = []
    for entry in fields:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ValueError(f"a MARC-in-JSON field must be an object with one tag: {entry!r}")
        ((tag, body),) = entry.items()
        tag = tag if type(tag) is str else str(tag)
        if isinstance(body, dict):
            entries = body.get("subfields") or []
            try:
                subfields = [
                    subfield(_text(code), _text(value))
                    for sub in entries
                    for code, value in sub.items()
                ]
            except AttributeError:
                raise ValueError(f'field {tag}: "subfields" must be an array of objects') from None
            ind1 = body.get("ind1") or " "
            ind2 = body.get("ind2") or " "
            result.append(data_field(tag, _text(ind1)[:1], _text(ind2)[:1], subfields))
        else:
            result.append(Field(tag=tag, data=_text(body)))
    return result


def _text(value: object) -> str:
    """A JSON value as text (null as empty): values are strings in well-formed input."""
    if type(value) is str:
        return value
    return "" if value is None else str(value)
