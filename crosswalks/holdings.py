"""What a renderer needs to know about one held copy, without depending on the gateway.

Crosswalks know nothing but records: the gateway's ``Item`` (and any adapter's own holding
type) satisfies this protocol structurally, so MODS ``location``, SUTRS holdings lines and
the OPAC display take holdings without importing the gateway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pymarc import Field, Record, Subfield
from pymarc.field import Indicators

__all__ = ["Holding", "with_holdings"]


class Holding(Protocol):
    """One physical copy: which library holds it, where, under which call number."""

    @property
    def library(self) -> str:
        """Member library id (the record's source for its own copies)."""

    @property
    def barcode(self) -> str:
        """Item barcode, empty when unknown."""

    @property
    def location(self) -> str:
        """Shelving location or branch, empty when unknown."""

    @property
    def call_number(self) -> str:
        """Shelf mark, empty when unknown."""

    @property
    def status(self) -> str:
        """Circulation status ("available", "on loan", ...)."""


def with_holdings(record: Record, holdings: Sequence[Holding]) -> Record:
    """``record`` with an 852 per holding (library $a, location $b, call number $h, barcode
    $p), so MARC clients see which libraries hold it; unchanged when it has no holdings or
    already carries 852 fields (the holdings were read from them)."""
    if not holdings or record.get("852") is not None:
        return record
    copy = Record(force_utf8=True, leader=str(record.leader))
    copy.fields = list(record.fields)
    for holding in holdings:
        parts = (("a", holding.library), ("b", holding.location), ("h", holding.call_number),
                 ("p", holding.barcode))  # fmt: skip
        subfields = [Subfield(code, value) for code, value in parts if value]
        copy.fields.append(Field(tag="852", indicators=Indicators(" ", " "), subfields=subfields))
    return copy
