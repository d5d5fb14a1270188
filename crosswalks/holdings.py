"""What a renderer needs to know about one held copy, without depending on the gateway.

Crosswalks know nothing but records: the gateway's ``Item`` (and any adapter's own holding
type) satisfies this protocol structurally, so MODS ``location``, SUTRS holdings lines and
the OPAC display take holdings without importing the gateway.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Holding"]


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
