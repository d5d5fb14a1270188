"""Unicode to MARC-8: the encoding Z39.50 clients get when they ask for USMARC (LDR/09 blank).

pymarc reads MARC-8 but cannot write it; this module writes it, one field's (or subfield's)
text at a time, following the MARC 21 "Character Sets and Encoding Options" specification:

* ASCII is the default G0 set and ANSEL (Extended Latin) the default G1 set. Greek, Cyrillic,
  Hebrew, Arabic, CJK (EACC), superscripts and subscripts are reached with escape sequences,
  and every string ends with ASCII and ANSEL designated again, so each piece of field data
  stands on its own. A space needs no escape sequence: every single-byte set shares it.
* MARC-8 has no precomposed letters, and its combining marks come *before* the base letter
  (Unicode puts them after). A character is written as itself when a MARC-8 set has it, and
  is otherwise decomposed (canonically, one level at a time) until its parts can be written.
  That keeps ơ ư Ơ Ư as the ANSEL base letters they are (MARC-8 has no combining horn), so
  "ở" is hook above + ơ; đ/Đ have no decomposition and are ANSEL letters too.
* Where one letter carries several marks, a vowel-shape mark (circumflex, breve) is written
  before a mark below it: "ệ" is circumflex, dot below, e (the cataloguing convention for
  Vietnamese; both orders mean the same letter).
* A character MARC-8 lacks becomes the specification's lossless numeric character reference,
  ``&#xXXXX;`` (at least four upper-case hex digits), and is counted, so the caller can log
  how much of a record could not be carried (:func:`encode_marc8_counted`). Control
  characters are written the same way: a raw ESC or delimiter would corrupt the record.

The reverse mapping is built once, at import, from pymarc's own decoding table
(:data:`pymarc.marc8_mapping.CODESETS`), so pymarc reads back what is written here, except
where its reader falls short of the specification: it drops the C1 controls (non-sort
begin/end, the joiners) and gives the halves of a double mark as U+FE20..U+FE23.
yaz-iconv reads all of these as written.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

from pymarc import marc8_mapping

__all__ = [
    "encode_marc8",
    "encode_marc8_counted",
    "is_marc8_encodable",
    "Marc8Result",
]


class Marc8Result(NamedTuple):
    """MARC-8 bytes and how many characters had to be written as ``&#xXXXX;`` references."""

    data: bytes
    unmappable: int


# Character sets by the final character of their escape sequence.
_ASCII = 0x42
_ANSEL = 0x45
_GREEK = 0x53
_CYRILLIC = 0x4E
_CYRILLIC_EXTENDED = 0x51
_HEBREW = 0x32
_ARABIC = 0x33
_ARABIC_EXTENDED = 0x34
_SUPERSCRIPTS = 0x70
_SUBSCRIPTS = 0x62
_EACC = 0x31

_ESC = b"\x1b"
_G0, _G1 = 0, 1

# The escape sequence that designates each set, in order of preference when a character is in more
# than one set. Technique 2 (ISO 2022): ``ESC ( F`` for a G0 set, ``ESC ) F`` for a G1 set, ``ESC $
# 1`` for the multibyte EACC. ANSEL back into G1 (needed only after Extended Cyrillic or Extended
# Arabic took G1) is written ``ESC ) E``, not LC's later two-byte final ``ESC ) ! E``: pymarc,
# marc4j and MARC::Charset read only the first and yaz reads both, so the short form is the one
# every client understands. Technique 1 (MARC's own locking escapes): ``ESC p`` superscripts, ``ESC
# b`` subscripts, left with ``ESC s``; another set is designated straight from them (``ESC s``
# followed by an escape sequence makes pymarc read that escape sequence as text). The Greek symbols
# set (``ESC g``: alpha, beta, gamma) is not used: the specification discourages it, and Basic
# Greek has the same letters.
_DESIGNATIONS: dict[int, bytes] = {
    _ASCII: _ESC + b"(B",
    _ANSEL: _ESC + b")E",
    _GREEK: _ESC + b"(S",
    _CYRILLIC: _ESC + b"(N",
    _CYRILLIC_EXTENDED: _ESC + b")Q",
    _HEBREW: _ESC + b"(2",
    _ARABIC: _ESC + b"(3",
    _ARABIC_EXTENDED: _ESC + b")4",
    _SUPERSCRIPTS: _ESC + b"p",
    _SUBSCRIPTS: _ESC + b"b",
    _EACC: _ESC + b"$1",
}
_TECHNIQUE_1 = frozenset({_SUPERSCRIPTS, _SUBSCRIPTS})
_ASCII_FROM_TECHNIQUE_1 = _ESC + b"s"
_G1_SETS = frozenset({_ANSEL, _CYRILLIC_EXTENDED, _ARABIC_EXTENDED})
# Space and the MARC-8 C1 controls (0x88/0x89 non-sort begin/end, 0x8D/0x8E joiners) are
# "accessed at any time": no set needs designating for them.
_ANY_REGISTER = 2

_SHAPE_MARKS = frozenset("\u0302\u0306")


class _Code(NamedTuple):
    charset: int
    register: int
    data: bytes
    combining: bool


def _ansel_mark(byte: bytes) -> _Code:
    return _Code(_ANSEL, _G1, byte, True)


# Unicode puts U+0360 (double tilde) and U+0361 (double inverted breve, the ligature tie)
# once, after the first of two letters; MARC-8 writes a left half before the first letter
# and a right half before the second.
_DOUBLE_MARKS = {
    "\u0360": (_ansel_mark(b"\xfa"), _ansel_mark(b"\xfb")),
    "\u0361": (_ansel_mark(b"\xeb"), _ansel_mark(b"\xec")),
}


def _build_candidates() -> dict[str, tuple[_Code, ...]]:
    """Every Unicode character MARC-8 has, with its codes in order of preference."""
    found: dict[str, list[_Code]] = {}
    for charset in _DESIGNATIONS:
        register = _G1 if charset in _G1_SETS else _G0
        for code, (point, combining) in sorted(marc8_mapping.CODESETS[charset].items()):
            if code < 0x20:
                continue  # ESC and the record/field/subfield separators are structure, not text
            if code == 0x20 or 0x80 <= code < 0xA0:
                where = _ANY_REGISTER
            elif (code >= 0x80) != (register == _G1) and charset != _EACC:
                continue  # not reachable from the register this set is designated into
            else:
                where = register
            data = code.to_bytes(3 if charset == _EACC else 1, "big")
            found.setdefault(chr(point), []).append(_Code(charset, where, data, bool(combining)))
    # pymarc returns NFC, so a code whose character NFC replaces (a CJK compatibility
    # ideograph, the Greek question mark) also serves the character it becomes, last.
    for char, codes in list(found.items()):
        composed = unicodedata.normalize("NFC", char)
        if composed != char and len(composed) == 1:
            found.setdefault(composed, []).extend(codes)
    return {char: tuple(codes) for char, codes in found.items()}


_CANDIDATES = _build_candidates()
_DEFAULT_STATE = (_ASCII, _ANSEL)
# The commonest case (ASCII and ANSEL designated), looked up once per character.
_DEFAULT_CHOICE = {
    char: next(
        (c for c in codes if c.charset in _DEFAULT_STATE or c.register == _ANY_REGISTER), codes[0]
    )
    for char, codes in _CANDIDATES.items()
}
# ... and the bytes of those written with no escape sequence in that state.
_DEFAULT_BYTES = {
    char: code.data
    for char, code in _DEFAULT_CHOICE.items()
    if code.charset in _DEFAULT_STATE or code.register == _ANY_REGISTER
}
_EXPANSIONS: dict[str, str] = {}
# Per character: what it is written as, each part flagged as a mark or not.
_PARTS: dict[str, tuple[tuple[str, bool], ...]] = {}


def encode_marc8(text: str) -> bytes:
    """Encode ``text`` as MARC-8 field data (see :func:`encode_marc8_counted`)."""
    if text.isascii() and text.isprintable():
        return text.encode("ascii")
    return _Encoder().encode(text).data


def encode_marc8_counted(text: str) -> Marc8Result:
    """Encode ``text`` as MARC-8 and count the characters written as ``&#xXXXX;``.

    The result starts and ends with the default sets (ASCII in G0, ANSEL in G1) designated.
    Text is taken in NFC first, so decomposed and precomposed input give the same bytes.
    """
    if text.isascii() and text.isprintable():
        return Marc8Result(text.encode("ascii"), 0)
    return _Encoder().encode(text)


def is_marc8_encodable(text: str) -> bool:
    """True if MARC-8 can carry ``text`` without numeric character references."""
    if text.isascii():
        return text.isprintable()
    return encode_marc8_counted(text).unmappable == 0


def _expand(char: str) -> str:
    """``char`` if MARC-8 has it, else its canonical decomposition down to what MARC-8 has.

    A character whose base letter MARC-8 lacks stays whole, to become one reference.
    """
    expanded = _EXPANSIONS.get(char)
    if expanded is None:
        expanded = char
        decomposition = unicodedata.decomposition(char)
        if char not in _CANDIDATES and decomposition and not decomposition.startswith("<"):
            parts = "".join(_expand(chr(int(h, 16))) for h in decomposition.split())
            if parts[0] in _CANDIDATES:
                expanded = parts
        _EXPANSIONS[char] = expanded
    return expanded


def _is_mark(char: str) -> bool:
    codes = _CANDIDATES.get(char)
    if codes is not None:
        return codes[0].combining
    return char in _DOUBLE_MARKS or unicodedata.category(char).startswith("M")


def _shape_first(marks: list[str]) -> list[str]:
    """Move circumflex/breve ahead of marks below the letter (or cedilla, overlay...).

    Only marks of another non-zero combining class are passed, so the text stays canonically
    equivalent: an acute before a circumflex means something else and stays where it is.
    """
    for i in range(1, len(marks)):
        if marks[i] in _SHAPE_MARKS:
            j = i
            while j and 0 < unicodedata.combining(marks[j - 1]) != 230:
                marks[j - 1], marks[j] = marks[j], marks[j - 1]
                j -= 1
    return marks


def _reference(char: str) -> bytes:
    return b"&#x%04X;" % ord(char)


class _Encoder:
    """The G0/G1 state of one string being written."""

    __slots__ = ("g0", "g1", "out", "unmappable")

    def __init__(self) -> None:
        self.g0, self.g1 = _DEFAULT_STATE
        self.out = bytearray()
        self.unmappable = 0

    def encode(self, text: str) -> Marc8Result:
        clusters = self._clusters(unicodedata.normalize("NFC", text))
        right_half: _Code | None = None  # of a double mark, owed to the next letter
        for index, (base, marks) in enumerate(clusters):
            if not marks and right_half is None and base in _CANDIDATES:
                if self.g0 == _ASCII and self.g1 == _ANSEL:
                    data = _DEFAULT_BYTES.get(base)
                    if data is not None:
                        self.out += data
                        continue
                code = self._choose(base, self.g0, self.g1)
                if self._current(code):  # the common case: a letter in a designated set
                    self.out += code.data
                    continue
            if base is None or base not in _CANDIDATES:
                self._references(([base] if base else []) + marks)
                continue
            # Marks MARC-8 has go before the letter; from the first one it lacks on, they
            # follow it as references, so the marks keep their order. A double mark needs a
            # second letter to span.
            spans = index + 1 < len(clusters) and clusters[index + 1][0] in _CANDIDATES
            written = 0
            for mark in marks:
                if mark not in _CANDIDATES and not (spans and mark in _DOUBLE_MARKS):
                    break
                written += 1
            right_half = self._cluster(base, _shape_first(marks[:written]), right_half)
            self._references(marks[written:])
        self._restore_defaults()
        return Marc8Result(bytes(self.out), self.unmappable)

    @staticmethod
    def _clusters(text: str) -> list[tuple[str | None, list[str]]]:
        """Base characters with the marks that follow them (a leading mark has no base)."""
        clusters: list[tuple[str | None, list[str]]] = []
        for char in text:
            parts = _PARTS.get(char)
            if parts is None:
                parts = _PARTS[char] = tuple((p, _is_mark(p)) for p in _expand(char))
            for part, is_mark in parts:
                if is_mark:
                    if not clusters:
                        clusters.append((None, []))
                    clusters[-1][1].append(part)
                else:
                    clusters.append((part, []))
        return clusters

    def _cluster(self, base: str, marks: list[str], right_half: _Code | None) -> _Code | None:
        """Write marks then their base; returns the right half owed to the next letter."""
        base_code = self._choose(base, self.g0, self.g1)
        if base_code.register == _G0:
            g0, g1 = base_code.charset, self.g1
        elif base_code.register == _G1:
            g0, g1 = self.g0, base_code.charset
        else:
            g0, g1 = self.g0, self.g1
        owed = None
        codes = [right_half] if right_half else []
        for mark in marks:
            halves = _DOUBLE_MARKS.get(mark)
            if halves is not None:
                codes.append(halves[0])
                owed = halves[1]
            else:
                codes.append(self._choose(mark, g0, g1))
        # Designate the base's set first when no mark needs its register: the marks then
        # sit directly before their letter, with no escape sequence in between.
        if all(c.register != base_code.register and self._current(c) for c in codes):
            self._designate(base_code)
        for code in codes:
            self._designate(code)
            self.out += code.data
        self._designate(base_code)
        self.out += base_code.data
        return owed

    @staticmethod
    def _choose(char: str, g0: int, g1: int) -> _Code:
        """The code for ``char`` in the G0 set, else in the G1 set, else the preferred one.

        G0 first: a mark on a Greek or Hebrew letter comes from the letter's own set when
        that set has it, although ANSEL in G1 has the same mark.
        """
        if g0 == _ASCII and g1 == _ANSEL:
            return _DEFAULT_CHOICE[char]
        codes = _CANDIDATES[char]
        for code in codes:
            if code.register == _G0 and code.charset == g0:
                return code
        for code in codes:
            if code.register == _G1 and code.charset == g1:
                return code
            if code.register == _ANY_REGISTER and g0 != _EACC:
                return code
        return codes[0]

    def _current(self, code: _Code) -> bool:
        """True if ``code`` can be written now, with no escape sequence before it."""
        if code.register == _G0:
            return code.charset == self.g0
        if self.g0 == _EACC:
            return False  # see _designate
        return code.register == _ANY_REGISTER or code.charset == self.g1

    def _designate(self, code: _Code) -> None:
        if code.register == _G0:
            if self.g0 != code.charset:
                self._designate_g0(code.charset)
            return
        # pymarc reads every byte as part of a three-byte character while EACC is in G0,
        # G1 bytes included, so EACC is left before anything else is written.
        if self.g0 == _EACC:
            self._designate_g0(_ASCII)
        if code.register == _G1 and self.g1 != code.charset:
            self.out += _DESIGNATIONS[code.charset]
            self.g1 = code.charset

    def _designate_g0(self, charset: int) -> None:
        if charset == _ASCII and self.g0 in _TECHNIQUE_1:
            self.out += _ASCII_FROM_TECHNIQUE_1
        else:
            self.out += _DESIGNATIONS[charset]
        self.g0 = charset

    def _references(self, chars: list[str]) -> None:
        if not chars:
            return
        if self.g0 != _ASCII:
            self._designate_g0(_ASCII)
        for char in chars:
            self.out += _reference(char)
        self.unmappable += len(chars)

    def _restore_defaults(self) -> None:
        if self.g1 != _ANSEL:
            self.out += _DESIGNATIONS[_ANSEL]
            self.g1 = _ANSEL
        if self.g0 != _ASCII:
            self._designate_g0(_ASCII)
