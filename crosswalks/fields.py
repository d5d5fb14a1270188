"""pymarc fields built without ``Field.__init__``'s generic checks, for the hot paths.

Decoding a stored record (MARC-in-JSON) or a clean ISO 2709 record builds some forty
subfields per record, and pymarc's constructors re-validate what the caller already knows
is well formed; on a search page that cost more than the search. Callers pass values they
have checked (one-character indicators, string codes and values).
"""

from __future__ import annotations

from pymarc import Field, Subfield
from pymarc.field import Indicators

__all__ = ["data_field", "subfield"]

_new_tuple = tuple.__new__


def subfield(code: str, value: str) -> Subfield:
    """A Subfield without the NamedTuple constructor's Python-level wrapper."""
    return _new_tuple(Subfield, (code, value))  # type: ignore[no-any-return]


def data_field(tag: str, ind1: str, ind2: str, subfields: list[Subfield]) -> Field:
    """A data field exactly as ``Field(tag, Indicators(ind1, ind2), subfields)`` makes it."""
    field = object.__new__(Field)
    field.tag = tag
    field.data = None
    field.control_field = False
    field._indicators = Indicators(ind1, ind2)
    field.subfields = subfields
    return field
