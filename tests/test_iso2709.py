"""The fast UTF-8 decoder gives exactly what pymarc gives, or steps aside."""

from __future__ import annotations

import pytest
from pymarc import Record

from crosswalks.iso2709 import decode_clean_utf8
from crosswalks.marcjson import marc_to_json
from gateway.marcfile import frame_iso2709

from .conftest import JAZZ_MARC8, LOC_5000, VIE_121


@pytest.mark.parametrize("path", [VIE_121, LOC_5000], ids=lambda p: p.name)
def test_same_records_as_pymarc(path) -> None:  # type: ignore[no-untyped-def]
    """Every record of the LoC files decodes field for field as pymarc decodes it."""
    for frame in frame_iso2709(path):
        fast = decode_clean_utf8(frame.data)
        assert fast is not None, frame.number
        slow = Record(data=frame.data, to_unicode=True, force_utf8=True)
        assert marc_to_json(fast) == marc_to_json(slow), frame.number
        assert str(fast.leader) == str(slow.leader)


def test_steps_aside_for_anything_unusual() -> None:
    """MARC-8, broken directories, bad indicators and invalid UTF-8 are left to pymarc."""
    marc8 = next(iter(frame_iso2709(JAZZ_MARC8))).data
    assert decode_clean_utf8(marc8) is None
    good = next(iter(frame_iso2709(VIE_121))).data
    assert decode_clean_utf8(good) is not None
    base = int(good[12:17])
    assert decode_clean_utf8(good[:12] + b"99999" + good[17:]) is None  # base address
    assert decode_clean_utf8(good[:30] + b"X" + good[31:]) is None  # directory digit
    bad_utf8 = good[: base + 40] + b"\xff" + good[base + 41 :]
    assert decode_clean_utf8(bad_utf8) is None
    assert decode_clean_utf8(b"garbage") is None
