"""Numbered diagnostics with their standard message: the shape SRU and Bib-1 share.

Both protocols define their diagnostics as an enum whose members are the standard's code
and message (``UNSUPPORTED_INDEX = 16, "Unsupported index"``); this base makes such a
member an int equal to its code with a ``message``, so each protocol's table is data only.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Self

__all__ = ["NumberedDiagnostic"]


class NumberedDiagnostic(IntEnum):
    """An IntEnum whose members are ``code, message`` pairs (subclass it, add members)."""

    message: str

    def __new__(cls, code: int, message: str) -> Self:
        member = int.__new__(cls, code)
        member._value_ = code
        member.message = message
        return member
