"""Hypothesis strategies for MARC records, shared by the round-trip properties."""

from __future__ import annotations

import unicodedata

from hypothesis import strategies as st
from pymarc import Field, Leader, Record, Subfield
from pymarc.field import Indicators

# The 134 precomposed Vietnamese letters that are not ASCII, built independently of the
# code under test: 12 vowels (a ă â e ê i o ô ơ u ư y) with 6 tones each, less plain
# a e i o u y, plus đ; and the capitals.
_TONES = ("", "\u0300", "\u0309", "\u0303", "\u0301", "\u0323")
_SMALL = sorted(
    {unicodedata.normalize("NFC", v + t) for v in "aăâeêioôơuưy" for t in _TONES} - set("aeiouy")
    | {"đ"}
)
#: The 134 non-ASCII Vietnamese letters, lower case then capitals.
VIETNAMESE_LETTERS = "".join(_SMALL) + "".join(_SMALL).upper()

_ANY_TEXT_CHAR = st.characters(
    blacklist_categories=("Cs", "Cc", "Co", "Cn"),
    blacklist_characters="\x1d\x1e\x1f\ufffe\uffff",
)
#: Subfield text: Vietnamese, ASCII and any other assigned, non-control character.
subfield_text = st.text(
    st.one_of(st.sampled_from(VIETNAMESE_LETTERS + "aeiouy ,.:;/=-()[]'&<>\"0123456789abcXYZ"),
              _ANY_TEXT_CHAR),
    min_size=1,
    max_size=40,
)  # fmt: skip
_CODES = "abcdefghijklmnopqrstuvwxyz0123456789"
_INDICATORS = "0123456789abcdefghijklmnopqrstuvwxyz "


#: Anything at all, controls, non-characters and lone surrogates included: what a broken
#: source can put into a subfield.
hostile_text = st.text(
    st.one_of(st.sampled_from(VIETNAMESE_LETTERS), st.characters(), st.sampled_from(
        "\x00\x1b\x1d\x1e\x1f\x0b\ufffe\uffff\ud800\udfff&<>\"")),
    min_size=1,
    max_size=30,
)  # fmt: skip


@st.composite
def data_fields(draw: st.DrawFn, text: st.SearchStrategy[str] = subfield_text) -> Field:
    """A data field with a valid tag, indicators and one to five subfields."""
    tag = draw(st.integers(10, 999).map(lambda n: f"{n:03d}"))
    subfields = draw(
        st.lists(st.builds(Subfield, st.sampled_from(_CODES), text), min_size=1, max_size=5)
    )
    return Field(
        tag=tag,
        indicators=Indicators(
            draw(st.sampled_from(_INDICATORS)), draw(st.sampled_from(_INDICATORS))
        ),
        subfields=subfields,
    )


@st.composite
def marc_records(draw: st.DrawFn, text: st.SearchStrategy[str] = subfield_text) -> Record:
    """A MARC 21 record: leader, 001, 008, then data fields in tag order. With the default
    ``text`` it is well formed; with :data:`hostile_text` its data is anything at all."""
    record = Record(force_utf8=True, leader=Leader("00000nam a2200000 i 4500"))
    record.add_field(Field(tag="001", data=draw(st.text(_CODES, min_size=1, max_size=12))))
    record.add_field(Field(tag="008", data="260101s2020    vm            000 0 vie d"))
    fields = draw(st.lists(data_fields(text), min_size=1, max_size=8))
    record.add_field(*sorted(fields, key=lambda field: field.tag))
    return record
