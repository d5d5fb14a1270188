"""ISO 2709: the fast UTF-8 decoder gives what pymarc gives (or steps aside), and the
encoder writes what readers read back, refusing what the format cannot express."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from pymarc import Field, Leader, Record, Subfield
from pymarc.field import Indicators

from crosswalks.iso2709 import MAX_RECORD_LENGTH, RecordTooLong, decode_clean_utf8, encode_iso2709
from crosswalks.marcjson import marc_to_json
from gateway.marcfile import frame_iso2709

from .conftest import JAZZ_MARC8, LOC_5000, VIE_121
from .records import make_marc
from .strategies import hostile_text, marc_records


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


# -- encoding --------------------------------------------------------------------------


def test_real_records_encode_to_what_pymarc_writes_and_read_back() -> None:
    """UTF-8 ISO 2709 of the 5,000 LoC records equals pymarc's as_marc() byte for byte."""
    for frame in frame_iso2709(LOC_5000):
        record = decode_clean_utf8(frame.data)
        assert record is not None
        assert encode_iso2709(record) == record.as_marc() == frame.data


def test_ldr09_is_set_for_the_charset_written() -> None:
    """Whatever the record said, UTF-8 output says 'a' and MARC-8 output says blank."""
    record = make_marc("x1", "Truyện Kiều")
    record.leader = Leader("00000nam  2200000 i 4500")
    utf8 = encode_iso2709(record)
    assert utf8[9:10] == b"a"
    assert "Truyện Kiều".encode() in utf8
    marc8 = encode_iso2709(record, marc8=True)
    assert marc8[9:10] == b" "
    back = Record(data=marc8, to_unicode=True)
    assert back["245"]["a"] == "Truyện Kiều"


def test_a_record_over_99999_bytes_is_refused_not_truncated() -> None:
    """A record with many holdings overflows the format: RecordTooLong names the size."""
    record = make_marc("big", "Sách có nhiều bản")
    for number in range(3000):
        record.add_field(Field(tag="852", indicators=Indicators(" ", " "),
                               subfields=[Subfield("p", f"DLK{number:06d}"),
                                          Subfield("h", "895.9 N573")]))  # fmt: skip
    with pytest.raises(RecordTooLong) as caught:
        encode_iso2709(record)
    assert caught.value.limit == MAX_RECORD_LENGTH
    assert caught.value.length > MAX_RECORD_LENGTH
    assert "99,999" in str(caught.value)


def test_a_field_over_9999_bytes_is_refused() -> None:
    """One 10,000-byte note cannot be described by a 4-digit field length."""
    record = make_marc("long", "Ghi chú dài", note="x" * 10_000)
    with pytest.raises(RecordTooLong) as caught:
        encode_iso2709(record)
    assert caught.value.tag == "500"


@settings(max_examples=150, deadline=None)
@given(marc_records())
def test_marc_to_iso2709_to_marc_is_the_identity(record: Record) -> None:
    """Any well-formed record survives ISO 2709, read by pymarc and by the fast decoder."""
    data = encode_iso2709(record)
    ours = decode_clean_utf8(data)
    theirs = Record(data=data, to_unicode=True, force_utf8=True)
    assert ours is not None
    assert ours.fields and theirs.fields
    expected = marc_to_json(record)["fields"]
    assert marc_to_json(ours)["fields"] == expected
    assert marc_to_json(theirs)["fields"] == expected
    # The leader is the record's, with the lengths and base address the encoder computed.
    leader = str(record.leader)
    assert str(ours.leader)[5:12] + str(ours.leader)[17:] == leader[5:12] + leader[17:]
    assert int(str(ours.leader)[:5]) == len(data)


def test_marc8_output_declares_other_character_sets_in_066() -> None:
    """Cyrillic and CJK switch sets, so 066 $c lists them; plain Vietnamese needs no 066."""
    record = make_marc("x1", "Київ 中文")
    data = encode_iso2709(record, marc8=True)
    back = Record(data=data, to_unicode=True)
    assert back["066"].get_subfields("c") == ["(N", ")Q", "$1"]  # ї is Extended Cyrillic
    assert back["245"]["a"] == "Київ 中文"
    plain = Record(data=encode_iso2709(make_marc("x2", "Việt Nam"), marc8=True), to_unicode=True)
    assert plain.get("066") is None


def test_one_byte_indicators_and_codes_whatever_the_record_holds() -> None:
    """A non-ASCII indicator becomes blank and a non-ASCII subfield code is left out, so
    readers still frame every field (a 2-byte indicator would shift the whole field)."""
    record = make_marc("x1", "Tên")
    record.add_field(Field(tag="500", indicators=Indicators("đ", "1"),
                           subfields=[Subfield("ă", "lost"), Subfield("a", "kept")]))  # fmt: skip
    back = decode_clean_utf8(encode_iso2709(record))
    assert back is not None
    note = back.get_fields("500")[0]
    assert note.indicators == Indicators(" ", "1")
    assert note.subfields == [Subfield("a", "kept")]


@settings(max_examples=100, deadline=None)
@given(marc_records(hostile_text))
def test_any_record_gives_iso2709_that_readers_frame_correctly(record: Record) -> None:
    """Delimiters, controls or surrogates in the data never break the structure: pymarc
    reads every field back, in both character sets."""
    for marc8 in (False, True):
        data = encode_iso2709(record, marc8=marc8)
        back = Record(data=data, to_unicode=True, force_utf8=not marc8, utf8_handling="replace")
        # MARC-8 output writes its own 066 (character sets present) in place of any other.
        fields = [f for f in back.fields if f.tag != "066"]
        expected = [f for f in record.fields if f.tag != "066"]
        assert [f.tag for f in fields] == [f.tag for f in expected]
        assert [len(f.subfields) for f in fields if not f.control_field] == [
            len(f.subfields) for f in expected if not f.control_field
        ]
