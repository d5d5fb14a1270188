"""Vietnamese text: normalisation, folding, sort keys, and standard numbers."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from pymarc import MARCReader

from crosswalks.identifiers import isbn10_to_13, isbn_key, issn_key
from crosswalks.vietnamese import fold, fold_words, normalize, sort_key

from .conftest import VIE_121


def _vie_subfields() -> list[str]:
    with VIE_121.open("rb") as handle:
        return [
            sub.value
            for record in MARCReader(handle, to_unicode=True)
            for field in record.fields
            if not field.is_control_field()
            for sub in field.subfields
        ]


def _loose_marks(text: str) -> bool:
    """True when NFC text still has a combining mark (one that composed with nothing)."""
    return any(unicodedata.combining(c) for c in text)


def _mark_after_space(text: str) -> bool:
    return any(unicodedata.combining(c) and text[i - 1] == " " for i, c in enumerate(text) if i)


def test_mark_order_fix_repairs_the_35_loc_subfields() -> None:
    """Plain NFC leaves loose marks in 39 LoC subfields: 35 with the shape mark after the
    tone mark (as the data README counts), 5 with a mark typed after a space (one with
    both); normalize() leaves none."""
    values = _vie_subfields()
    assert len(values) == 2672
    assert sum(1 for v in values if not unicodedata.is_normalized("NFC", v)) == 746
    plain = [unicodedata.normalize("NFC", v) for v in values]
    assert sum(1 for v in plain if _loose_marks(v)) == 39
    assert sum(1 for v in plain if _mark_after_space(v)) == 5
    assert [v for v in values if _loose_marks(normalize(v))] == []


def test_normalize_examples() -> None:
    """Tone before shape mark is reordered; already-correct text is unchanged."""
    assert normalize("Che\u0301\u0302") == "Chế"
    assert normalize("Nguye\u0303\u0302n") == "Nguyễn"
    assert normalize("tho\u031b\u0300") == "thờ"
    assert normalize("Đắk Lắk") == "Đắk Lắk"
    assert normalize("plain ascii") == "plain ascii"
    assert normalize("Nha ̀xuá̂t bản") == "Nhà xuất bản"


def test_fold_drops_marks_and_d_bar() -> None:
    """Folding maps đ/Đ/Ð to d and drops every mark, case-insensitively."""
    assert fold("Đắk Lắk") == "dak lak"
    assert fold("Nguyễn Du") == "nguyen du"
    assert fold("ÐẶNG") == "dang"
    assert fold("Ư Ơ Ă Â Ê Ô") == "u o a a e o"
    assert fold_words("Lịch sử Việt Nam, 1945-1975 / Trần_Kim") == [
        "lich", "su", "viet", "nam", "1945", "1975", "tran", "kim"
    ]  # fmt: skip


def test_vietnamese_alphabetical_order() -> None:
    """a ă â b c d đ e ê ... o ô ơ ... u ư; tones none, grave, hook, tilde, acute, dot."""
    expected = ["An", "Anh", "Ăn", "Ấn", "Bùi", "Dương", "Đặng", "Hà", "ma", "mà", "mả", "mã",
                "má", "mạ", "Nguyên", "Nguyễn", "Nguyễn Du", "Ong", "Ông", "Ơn", "Uyên", "Ưng",
                "Zorro"]  # fmt: skip
    shuffled = sorted(expected, key=lambda s: s[::-1])
    assert sorted(shuffled, key=sort_key) == expected
    assert sorted(["Đặng", "Z", "D"], key=sort_key) == ["D", "Đặng", "Z"]
    assert sort_key("Nguyễn, Du") == sort_key("NGUYỄN DU")
    # Text without tones has no second level, so English keys stay as short as the text.
    assert sort_key("History").endswith("\x01") and len(sort_key("History")) == 8


@given(st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyAĂĐƠƯ \u0300\u0301\u0303\u0309\u0323,"))
def test_sort_key_ignores_composition(text: str) -> None:
    """Composed and decomposed spellings of one text have the same key."""
    composed, decomposed = (unicodedata.normalize(form, text) for form in ("NFC", "NFD"))
    assert sort_key(composed) == sort_key(decomposed)


def test_isbn_normalisation() -> None:
    """Hyphens and qualifiers ignored; ISBN-10 becomes ISBN-13; junk is not an ISBN."""
    assert isbn_key("0-19-852663-6 (pbk.)") == "9780198526636"
    assert isbn_key("978-0-19-852663-6 :") == "9780198526636"
    assert isbn_key("ISBN 978 604 1 00000 3") == "9786041000003"
    assert isbn_key("080442957X") == isbn10_to_13("080442957X") == "9780804429573"
    assert isbn_key("12345") is None
    assert isbn_key("giá 45000đ") is None
    assert issn_key("1859-1434") == "18591434"
    assert issn_key("0317-847x") == "0317847X"
