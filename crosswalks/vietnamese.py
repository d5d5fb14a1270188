"""Vietnamese-aware text: normalisation, folding for matching, and alphabetical sort keys.

Three different jobs, kept apart on purpose:

* :func:`normalize` is for *stored and displayed* text. It only repairs encoding-level
  defects (NFC, and the vowel-shape/tone mark order that plain NFC cannot repair), it never
  changes what a reader sees.
* :func:`fold` is for *matching*. Marks are dropped, đ/Đ/Ð become d and case is folded, so a
  user typing "dak lak" on a keyboard without Vietnamese input finds "Đắk Lắk".
* :func:`sort_key` is for *ordering*. Vietnamese alphabetical order (a ă â b c d đ e ê ...)
  first, tones second, case last; Python's default order would put "Đặng" after "Z".
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize", "fold", "fold_words", "sort_key", "VOWEL_SHAPE_MARKS", "TONE_MARKS"]

#: Marks that change the shape (and identity) of a Vietnamese vowel: circumflex, breve, horn.
VOWEL_SHAPE_MARKS = frozenset("\u0302\u0306\u031b")
#: The five tone marks, in Vietnamese collation order (no mark sorts first).
TONE_MARKS = "\u0300\u0309\u0303\u0301\u0323"

_COMBINING_RUN = re.compile(r"[\u0300-\u036f]{2,}")
# A Vietnamese mark typed after the space instead of before it ("Nha ̀xuất"): legacy input
# tools and conversions produce it. The mark belongs to the letter before the space.
_DETACHED_MARK = re.compile(
    r"(?<=[A-Za-z])( +)([\u0300\u0301\u0303\u0309\u0323\u0302\u0306\u031b]+)"
)
_ANY_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Đ/đ do not decompose in Unicode; Ð (U+00D0, Icelandic eth) and ð are what Đ/đ often
# become after a wrong legacy-encoding conversion, so they are matched as d too.
_D_FOLD = str.maketrans({"Đ": "d", "đ": "d", "Ð": "d", "ð": "d", "ı": "i"})
_NON_WORD = re.compile(r"[\W_]+")


def _reorder_marks(match: re.Match[str]) -> str:
    marks = match.group(0)
    shape = [m for m in marks if m in VOWEL_SHAPE_MARKS]
    if not shape:
        return marks
    return "".join(shape) + "".join(m for m in marks if m not in VOWEL_SHAPE_MARKS)


def normalize(text: str) -> str:
    """Return ``text`` in NFC, with vowel-shape marks moved ahead of tone marks first.

    Some cataloguing tools write "e" + acute + circumflex; NFC then composes "é" and leaves a
    loose circumflex, which displays wrongly and never matches "ế". Putting the shape mark
    first lets NFC compose the intended letter. A Vietnamese mark separated from its letter
    by a space ("Nha ̀xuất") is moved back onto the letter. Pure ASCII is returned
    unchanged (fast path).
    """
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    decomposed = _DETACHED_MARK.sub(r"\2\1", decomposed)
    decomposed = _COMBINING_RUN.sub(_reorder_marks, decomposed)
    return unicodedata.normalize("NFC", decomposed)


def fold(text: str) -> str:
    """Fold ``text`` for matching: no marks, đ -> d, case-folded. Never use it for display."""
    if text.isascii():
        return text.lower()
    stripped = _ANY_COMBINING.sub("", unicodedata.normalize("NFD", text))
    return stripped.translate(_D_FOLD).casefold()


def fold_words(text: str) -> list[str]:
    """Fold ``text`` and split it into words the way the text indexes tokenise it.

    A word is a run of letters and digits; everything else (punctuation, ``_``, spaces)
    separates words. The store's full-text tokenizer uses the same rule, so a query string
    folded here meets the indexed words exactly.
    """
    return [w for w in _NON_WORD.split(fold(text)) if w]


def fold_phrase(text: str) -> str:
    """Fold ``text`` and collapse punctuation and spaces, for whole-field (exact) keys."""
    return " ".join(fold_words(text))


# ---------------------------------------------------------------------------------------
# Sort keys
# ---------------------------------------------------------------------------------------

_ALPHABET = [
    "a", "ă", "â", "b", "c", "d", "đ", "e", "ê", "f", "g", "h", "i", "j", "k", "l", "m",
    "n", "o", "ô", "ơ", "p", "q", "r", "s", "t", "u", "ư", "v", "w", "x", "y", "z",
]  # fmt: skip
# Letters are given code points 0x41.. : after space and digits, before every other script.
# ASCII letters and punctuation never reach the key as themselves, so the range is free.
_PRIMARY = str.maketrans(
    {letter: chr(0x41 + rank) for rank, letter in enumerate(_ALPHABET)} | {"ð": chr(0x41 + 6)}
)
_ASCII_PRIMARY = bytes.maketrans(
    bytes(range(ord("a"), ord("z") + 1)),
    bytes(0x41 + _ALPHABET.index(chr(c)) for c in range(ord("a"), ord("z") + 1)),
)
# In NFD the shape mark may follow the tone mark (canonical order puts dot below, class
# 220, before circumflex, class 230), so tones are taken out before shapes are joined.
_SHAPED = re.compile("a\u0306|a\u0302|e\u0302|o\u0302|o\u031b|u\u031b")
_SHAPED_LETTER = {"a\u0306": "ă", "a\u0302": "â", "e\u0302": "ê", "o\u0302": "ô",
                  "o\u031b": "ơ", "u\u031b": "ư"}  # fmt: skip
_DROP_TONES = str.maketrans(dict.fromkeys(TONE_MARKS))
# Word separators in NFD text: combining marks belong to their letter, not to a gap.
_NFD_SEPARATORS = re.compile(r"(?:[^\w\u0300-\u036f]|_)+")
# Secondary level: the text with each tone mark turned into a character above every
# letter and other marks removed, cut after its last tone (empty without tones). Keys of
# equal primary level have the same letters, so the first difference is the first letter
# whose tone differs; "no tone" (the next letter, a space, or the end) sorts first, and
# the tones in between sort in Vietnamese order. Cutting keeps keys short: English text
# has no secondary level at all.
_TONE_CHARS = [chr(0x10FFF0 + rank) for rank in range(len(TONE_MARKS))]
_TONE_HIGH: dict[int, str | None] = dict.fromkeys(range(0x300, 0x370))
_TONE_HIGH.update({ord(m): _TONE_CHARS[rank] for rank, m in enumerate(TONE_MARKS)})
_LEVEL_SEPARATOR = "\x01"


def sort_key(text: str) -> str:
    """Return a string whose plain code-point order is Vietnamese alphabetical order.

    The key has two levels separated by U+0001: letters (with ă â đ ê ô ơ ư as letters of
    their own), then tones. Because it is an ordinary string, any store can sort on it with
    a binary collation (SQLite, PostgreSQL ``COLLATE "C"``) without ICU. Case and
    punctuation are ignored and runs of spaces count once, so "Nguyễn, Du" and "NGUYỄN DU"
    share a key (one heading in a browse list); ties are for the caller to break.
    """
    if text.isascii():
        # No marks, so no tones: the letters mapped byte-wise, and no secondary level.
        cleaned = " ".join(_NON_WORD.split(text.lower())).strip()
        return cleaned.encode("ascii").translate(_ASCII_PRIMARY).decode("ascii") + "\x01"
    decomposed = unicodedata.normalize("NFD", text).lower()
    cleaned = " ".join(_NFD_SEPARATORS.split(decomposed)).strip()
    shaped = _SHAPED.sub(_join_shape, cleaned.translate(_DROP_TONES))
    primary = _ANY_COMBINING.sub("", shaped).translate(_PRIMARY)
    tones = cleaned.translate(_TONE_HIGH)
    last = max(tones.rfind(mark) for mark in _TONE_CHARS)
    return primary + _LEVEL_SEPARATOR + tones[: last + 1]


def _join_shape(match: re.Match[str]) -> str:
    return _SHAPED_LETTER[match.group(0)]
