"""What OAI-PMH 2.0 itself defines, for every other module of the check to judge by.

The namespace, granularities, deletedRecord policies and datestamps are spelled out here
rather than taken from our provider: the check judges any provider, ours included, by the
standard alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..arguments import Granularity
from ..arguments import parse_datestamp as read_datestamp

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_O = f"{{{OAI_NS}}}"

DAY, SECONDS = Granularity.DAY.value, Granularity.SECONDS.value
DELETED_RECORD_POLICIES = ("no", "persistent", "transient")


@dataclass(frozen=True, slots=True)
class Datestamp:
    """An OAI-PMH UTC datestamp, as the span of time it stands for (a day, or a second)."""

    text: str
    granularity: str
    start: datetime
    end: datetime


def parse_datestamp(text: str) -> Datestamp | None:
    """The datestamp ``text`` (``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm:ssZ``), or None."""
    try:
        start, granularity = read_datestamp(text)
        end, _ = read_datestamp(text, end_of_day=True)
    except ValueError:
        return None
    return Datestamp(text, granularity.value, start, end)


def whole_number(text: str | None) -> int | None:
    """``text`` as the xs:nonNegativeInteger the standard's numbers are, or None.

    Only ASCII digits: ``str.isdigit`` also accepts "²" and "٣", which ``int`` refuses
    or the schema does not allow.
    """
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None
