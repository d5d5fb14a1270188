"""Legacy 8-bit Vietnamese text (TCVN3/ABC and VNI-Windows) to Unicode, and mojibake repair.

Older Vietnamese catalogues were typed in two font-encodings that Unicode tools do not know:

* **TCVN3** ("ABC", TCVN 5712:1993 VN3): one byte per letter. The chart here is glibc's
  ``TCVN5712-1`` (the full VN1 level), so capitals with tones sit at 0x80-0x9F and in a few
  C0 control positions. The ABC fonts people actually used (VN3) have no such capitals: they
  type capitals with the ``.VnTimeH`` fonts, which draw the *lowercase* codes as capitals, and
  Word puts its Windows punctuation (curly quotes, dashes) at 0x80-0x9F. "ư" is at 0xAD, the
  soft hyphen, which many tools hide or drop.
* **VNI-Windows**: a base letter followed by a mark byte ("Vieät" is "Việt"), plus a few
  precomposed letters (ơ ư đ and the i with tones). No converter ships with any platform.

Such bytes reach us either raw (an ISO 2709 file that is not UTF-8) or as *mojibake*: the
bytes were read as Windows-1252 or Latin-1 and then stored as UTF-8 ("Nh÷ng nguyªn t¾c",
"Nhöõng nguyeân taéc"). :func:`encode`/:func:`decode` are faithful codecs; :func:`detect_bytes`,
:func:`detect_text`, :func:`repair_text` and :func:`repair_record` decide whether a value is
legacy text at all. That decision is built to be *precise*: a wrong conversion destroys good
data, a missed one leaves data as it was. See :func:`detect_text` for how it scores.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from pymarc import Record

__all__ = [
    "LegacyEncoding",
    "LegacyMode",
    "encode",
    "decode",
    "detect_bytes",
    "detect_text",
    "repair_text",
    "repair_record",
]


class LegacyEncoding(StrEnum):
    """An 8-bit Vietnamese encoding that this module can read and write."""

    TCVN3 = "tcvn3"
    VNI = "vni"


class LegacyMode(StrEnum):
    """The import option ``auto|tcvn3|vni|off``: how hard to look for legacy text.

    ``AUTO`` converts only on strong evidence, ``TCVN3``/``VNI`` say what a source is known to
    hold (somewhat less evidence suffices, the other encoding is never tried), ``OFF``
    converts nothing.
    """

    AUTO = "auto"
    TCVN3 = "tcvn3"
    VNI = "vni"
    OFF = "off"


# ---------------------------------------------------------------------------------------
# Code charts
# ---------------------------------------------------------------------------------------

_GRAVE, _HOOK, _TILDE, _ACUTE, _DOT = "\u0300", "\u0309", "\u0303", "\u0301", "\u0323"
_CIRCUMFLEX, _BREVE, _HORN = "\u0302", "\u0306", "\u031b"

#: TCVN 5712 bytes 0x80-0xFF, one row of 16 per line (glibc charmap TCVN5712-1). 0xB0-0xB4
#: are the five tone marks as combining characters; 0xAD is "ư".
_TCVN3_HIGH = (
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨ"  # 0x80
    "ÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"  # 0x90
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"  # 0xA0
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"  # 0xB0
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"  # 0xC0
    "éẹềểễếệìỉỄẾỒĩíịò"  # 0xD0
    "Ổỏõóọồổỗốộờởỡớợù"  # 0xE0
    "ỖủũúụừửữứựỳỷỹýỵỐ"  # 0xF0
)
#: The capitals VN1 puts in C0 control positions (the controls MARC needs stay free).
_TCVN3_CONTROLS = {
    0x01: "Ú", 0x02: "Ụ", 0x04: "Ừ", 0x05: "Ử", 0x06: "Ữ", 0x11: "Ứ",
    0x12: "Ự", 0x13: "Ỳ", 0x14: "Ỷ", 0x15: "Ỹ", 0x16: "Ý", 0x17: "Ỵ",
}  # fmt: skip

#: VNI-Windows mark bytes: the marks a byte adds to the letter before it, as (lowercase byte,
#: capital byte). Capitals use the capital mark byte; both are read after either case.
_VNI_MARKS = {
    _ACUTE: (0xF9, 0xD9),  # ù Ù
    _GRAVE: (0xF8, 0xD8),  # ø Ø
    _HOOK: (0xFB, 0xDB),  # û Û
    _TILDE: (0xF5, 0xD5),  # õ Õ
    _DOT: (0xEF, 0xCF),  # ï Ï
    _CIRCUMFLEX: (0xE2, 0xC2),  # â Â
    _CIRCUMFLEX + _ACUTE: (0xE1, 0xC1),  # á Á
    _CIRCUMFLEX + _GRAVE: (0xE0, 0xC0),  # à À
    _CIRCUMFLEX + _HOOK: (0xE5, 0xC5),  # å Å
    _CIRCUMFLEX + _TILDE: (0xE3, 0xC3),  # ã Ã
    _CIRCUMFLEX + _DOT: (0xE4, 0xC4),  # ä Ä
    _BREVE: (0xEA, 0xCA),  # ê Ê
    _BREVE + _ACUTE: (0xE9, 0xC9),  # é É
    _BREVE + _GRAVE: (0xE8, 0xC8),  # è È
    _BREVE + _HOOK: (0xFA, 0xDA),  # ú Ú
    _BREVE + _TILDE: (0xFC, 0xDC),  # ü Ü
    _BREVE + _DOT: (0xEB, 0xCB),  # ë Ë
}
#: VNI-Windows precomposed letters, as (lowercase byte, capital byte).
_VNI_LETTERS = {
    "ơ": (0xF4, 0xD4),  # ô Ô
    "ư": (0xF6, 0xD6),  # ö Ö
    "đ": (0xF1, 0xD1),  # ñ Ñ
    "í": (0xED, 0xCD),
    "ì": (0xEC, 0xCC),
    "ỉ": (0xE6, 0xC6),  # æ Æ
    "ĩ": (0xF3, 0xD3),  # ó Ó
    "ị": (0xF2, 0xD2),  # ò Ò
    "ỵ": (0xEE, 0xCE),  # î Î
}

_TONES = (_GRAVE, _HOOK, _TILDE, _ACUTE, _DOT)
_SHAPES = {"ă": "a" + _BREVE, "â": "a" + _CIRCUMFLEX, "ê": "e" + _CIRCUMFLEX,
           "ô": "o" + _CIRCUMFLEX, "ơ": "o" + _HORN, "ư": "u" + _HORN}  # fmt: skip
_VOWELS = "aăâeêioôơuưy"
#: The 134 precomposed Vietnamese letters (67 lowercase, 67 capitals) that are not ASCII.
_VIETNAMESE_LETTERS = "".join(
    sorted(
        {
            unicodedata.normalize("NFC", _SHAPES.get(vowel, vowel) + tone)
            for vowel in _VOWELS
            for tone in ("", *_TONES)
        }
        - set("aeiouy")
        | {"đ"}
    )
)
_VIETNAMESE_LETTERS += _VIETNAMESE_LETTERS.upper()


def _vni_spelling(letter: str) -> tuple[str, str]:
    """Split a lowercase Vietnamese letter into the VNI base and the marks its byte adds."""
    if letter in _VNI_LETTERS or letter.isascii():
        return letter, ""
    decomposed = unicodedata.normalize("NFD", letter)
    base, marks = decomposed[0], decomposed[1:]
    shape = "".join(m for m in marks if m not in _TONES)
    tone = "".join(m for m in marks if m in _TONES)
    if shape == _HORN:  # ơ and ư are letters of their own in VNI; only the tone is a mark
        return unicodedata.normalize("NFC", base + _HORN), tone
    return base, shape + tone


def _build_encoders() -> tuple[dict[str, bytes], dict[str, bytes]]:
    tcvn3: dict[str, bytes] = {ch: bytes([0x80 + i]) for i, ch in enumerate(_TCVN3_HIGH)}
    tcvn3.update({ch: bytes([b]) for b, ch in _TCVN3_CONTROLS.items()})
    vni: dict[str, bytes] = {}
    for letter in _VIETNAMESE_LETTERS:
        lower = letter.lower()
        capital = letter != lower
        base, marks = _vni_spelling(lower)
        if base in _VNI_LETTERS:
            head = bytes([_VNI_LETTERS[base][capital]])
        else:
            head = (base.upper() if capital else base).encode("ascii")
        vni[letter] = head + (bytes([_VNI_MARKS[marks][capital]]) if marks else b"")
    return tcvn3, vni


_TCVN3_ENCODE, _VNI_ENCODE = _build_encoders()
_TCVN3_TONE_BYTES = {_TCVN3_HIGH[i]: bytes([0x80 + i]) for i in range(0x30, 0x35)}

# Windows-1252 punctuation <-> the byte it stands for. Bytes Windows-1252 leaves undefined
# (0x81 0x8D 0x8F 0x90 0x9D) come through as the C1 controls, as they do from Latin-1.
_CP1252_CHARS = [bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)]
_CP1252_TO_LATIN1 = str.maketrans(
    {ch: chr(b) for b, ch in enumerate(_CP1252_CHARS) if 0x80 <= b < 0xA0 and ord(ch) != b}
)


def _build_decoders() -> dict[LegacyEncoding, list[str]]:
    """Byte -> text tables. VNI bytes that are neither marks nor letters read as Windows-1252."""
    tcvn3 = [chr(b) for b in range(0x80)] + list(_TCVN3_HIGH)
    for byte, char in _TCVN3_CONTROLS.items():
        tcvn3[byte] = char
    vni = list(_CP1252_CHARS)
    for marks, pair in _VNI_MARKS.items():
        for byte in pair:
            vni[byte] = marks
    for letter, (small, capital) in _VNI_LETTERS.items():
        vni[small], vni[capital] = letter, letter.upper()
    return {LegacyEncoding.TCVN3: tcvn3, LegacyEncoding.VNI: vni}


_DECODE = _build_decoders()


def encode(text: str, encoding: LegacyEncoding) -> bytes:
    """Encode ``text`` (any normalisation form) in a legacy Vietnamese encoding.

    Exists so that tests and exports can produce the bytes old systems hold. Capitals with
    tones use the VN1 positions of TCVN 5712 (as glibc does); VNI spells each letter as its
    base plus a mark byte. ASCII passes through; in VNI, so does Windows-1252 punctuation
    (0x80-0xBF, which VNI fonts do not use). Anything else raises ``UnicodeEncodeError``.
    """
    text = unicodedata.normalize("NFC", text)
    table = _TCVN3_ENCODE if encoding is LegacyEncoding.TCVN3 else _VNI_ENCODE
    out = bytearray()
    for index, char in enumerate(text):
        if char.isascii() and (encoding is LegacyEncoding.VNI or ord(char) not in _TCVN3_CONTROLS):
            out.append(ord(char))
        elif char in table:
            out += table[char]
        elif encoding is LegacyEncoding.TCVN3 and (spelled := _tcvn3_decomposed(char)):
            out += spelled
        elif encoding is LegacyEncoding.VNI and 0x80 <= (b := _cp1252_byte(char)) < 0xC0:
            out.append(b)
        else:
            raise UnicodeEncodeError(str(encoding), text, index, index + 1, "not in the chart")
    return bytes(out)


def _tcvn3_decomposed(char: str) -> bytes:
    """A letter TCVN3 lacks, as a letter it has plus a combining tone byte (as glibc does)."""
    decomposed = unicodedata.normalize("NFD", char)
    letter, tone = unicodedata.normalize("NFC", decomposed[:-1]), decomposed[-1]
    if len(decomposed) < 2 or tone not in _TCVN3_TONE_BYTES:
        return b""
    head = letter.encode("ascii") if len(letter) == 1 and letter.isascii() else None
    head = head or _TCVN3_ENCODE.get(letter)
    return head + _TCVN3_TONE_BYTES[tone] if head else b""


def _cp1252_byte(char: str) -> int:
    try:
        return char.encode("cp1252")[0]
    except UnicodeEncodeError:
        return -1


def decode(data: bytes, encoding: LegacyEncoding) -> str:
    """Decode legacy bytes to NFC Unicode, faithfully: every byte as its chart says.

    No guessing happens here (0x80-0x9F are TCVN3 capitals even where a Word document meant
    curly quotes); :func:`repair_text` is the place for judgement. A VNI mark byte that
    follows no letter is kept as the combining mark it is.
    """
    table = _DECODE[encoding]
    return unicodedata.normalize("NFC", "".join([table[b] for b in data]))


# ---------------------------------------------------------------------------------------
# Vietnamese syllables
# ---------------------------------------------------------------------------------------

#: Initial consonants, longest first ("" for a syllable that opens with its vowel).
_INITIALS = tuple("ngh ch gh gi kh ng nh ph qu th tr b c d đ g h k l m n p r s t v x".split())
_INITIALS += ("",)
#: Every Vietnamese rhyme (vần) without its tone.
_RHYMES = frozenset(
    """
    a ac ach ai am an ang anh ao ap at au ay ăc ăm ăn ăng ăp ăt âc âm ân âng âp ât âu ây
    e ec em en eng eo ep et ê êch êm ên ênh êp êt êu i ia ich im in inh ip it iu
    iêc iêm iên iêng iêp iêt iêu o oa oac oach oai oam oan oang oanh oao oap oat oay
    oăc oăm oăn oăng oăt oc oe oen oeo oet oi om on ong ooc oong op ot
    ô ôc ôi ôm ôn ông ôp ôt ơ ơi ơm ơn ơp ơt
    u ua uân uâng uât uây uc uê uêch uênh ui um un ung uôc uôi uôm uôn uông uôt uơ up ut
    uy uya uych uyên uyêt uyn uynh uyp uyt uyu
    ư ưa ưc ưi ưm ưng ưt ưu ươc ươi ươm ươn ương ươp ươt ươu y yêm yên yêng yêt yêu
    """.split()
)
#: Rhymes found only after "qu", whose u is then the medial ("quynh", "quých").
_QU_RHYMES = _RHYMES | {"ych", "yn", "ynh", "yp", "yt"}
_FRONT = "eêiy"
#: Initials that only come before a front vowel, and those that never do.
_FRONT_ONLY = frozenset({"k", "gh", "ngh"})
_NOT_FRONT = {"c": _FRONT, "ng": _FRONT, "g": "eêy"}
_STOP_FINALS = ("c", "ch", "p", "t")
_TONE_SET = frozenset(_TONES)
_LETTERS = frozenset("abcdđeghiklmnopqrstuvxyăâêôơư")


def _is_syllable(word: str) -> bool:
    """True when ``word`` (NFC) spells one Vietnamese syllable: the test a conversion passes.

    Checks case (lower, upper or capitalised), an initial, a rhyme from the table, spelling
    rules (k/gh/ngh before e ê i y only; c/g/ng not), at most one tone, on a vowel, and only
    acute or dot below on a syllable ending in c, ch, p, t.
    """
    lower = word.lower()
    if word not in (lower, word.upper()) and word[1:] != lower[1:]:
        return False
    decomposed = unicodedata.normalize("NFD", lower)
    tones = [i for i, ch in enumerate(decomposed) if ch in _TONE_SET]
    if len(tones) > 1:
        return False
    tone = decomposed[tones[0]] if tones else ""
    if tones:
        carrier = decomposed[: tones[0]].rstrip(_CIRCUMFLEX + _BREVE + _HORN)
        if not carrier or carrier[-1] not in "aeiouy":
            return False
        decomposed = decomposed.replace(tone, "")
    bare = unicodedata.normalize("NFC", decomposed)
    if not _LETTERS.issuperset(bare):
        return False
    for initial in _INITIALS:
        if not bare.startswith(initial):
            continue
        rhyme = bare[len(initial) :]
        if rhyme not in (_QU_RHYMES if initial == "qu" else _RHYMES):
            continue
        if (initial == "qu" and rhyme[0] in "uưo") or (initial == "gi" and rhyme[0] in "iy"):
            continue
        if initial in _FRONT_ONLY and rhyme[0] not in _FRONT:
            continue
        if rhyme[0] in _NOT_FRONT.get(initial, ""):
            continue
        if rhyme.endswith(_STOP_FINALS) and tone not in (_ACUTE, _DOT):
            continue
        return True
    return False


# ---------------------------------------------------------------------------------------
# Evidence
# ---------------------------------------------------------------------------------------

#: How strongly a VNI mark byte after a given vowel says "VNI" rather than Western or
#: Vietnamese Unicode text that holds the same Latin-1 letters. Calibrated on 312,000
#: non-ASCII strings of 130 languages' software translations (the gettext catalogues of a
#: Linux system) against the VNI spelling of the LoC records: 2 for pairs Western text
#: (almost) never writes ("aø", "aù", "eã"); less for pairs it does: Finnish "tärkeä" and
#: German "geändert" (eä 1), Swedish "poäng" (oä 0.5), Irish "Seán" (eá 0.5), French "où",
#: "goût", "naïf", Spanish "aún". 0 for pairs clean Vietnamese writes ("hoà", "hoá",
#: "hoãn"). Two-letter keys weigh the pair after a diphthong's first vowel, where Western
#: text has none of them ("quoác" is VNI "quốc", "Hueá" "Huế"). After ơ/ư (VNI ô/ö) every
#: tone mark scores 2. Unlisted pairs score 0, and so does a pair whose case differs ("uÕ":
#: VNI input methods write the mark in the case of its letter).
_AFTER_I = {"ie": 2.0, "ue": 2.0, "ye": 2.0}  # iê uê yê: "tieán", "Hueá", "Nguyeãn"
_VNI_PAIR_EVIDENCE: dict[str, dict[str, float]] = {
    "â": {"a": 2, "e": 1.5, "o": 2} | _AFTER_I,
    "à": {"a": 2, "e": 1, "uo": 2} | _AFTER_I,
    "á": {"a": 1.5, "e": 0.5, "uo": 2} | _AFTER_I,
    "å": {"a": 2, "e": 2, "o": 2},
    "ã": {"a": 2, "e": 2, "uo": 2},
    "ä": {"a": 2, "e": 1, "o": 0.5, "uo": 2} | _AFTER_I,
    "ê": {"a": 2},
    "è": {"a": 2},
    "é": {"a": 1},
    "ú": {"a": 0.5},
    "ü": {"a": 0.5},
    "ë": {"a": 1},
    "ù": {"a": 2, "e": 2, "o": 0.5, "u": 2, "y": 2},
    "ø": {"a": 2, "e": 2, "o": 2, "u": 2, "y": 2},
    "û": {"a": 1.5, "e": 2, "o": 0.5, "u": 2, "y": 2},
    "õ": {"a": 1, "e": 2, "o": 2, "u": 2, "y": 2},
    "ï": {"a": 0.5, "e": 0.5, "o": 1, "u": 0.5, "y": 1},
}
#: VNI precomposed letters after another letter: ư ỉ ỵ (ö æ î) are not Vietnamese letters
#: in Unicode, though Swedish "töm" and French "gîte" write two of them; ị ĩ ơ (ò ó ô) are
#: Vietnamese letters, so clean Vietnamese ("hòn", "võ", "tô") shows them: no evidence.
_VNI_LETTER_EVIDENCE = {"ö": 0.5, "æ": 1.0, "î": 0.5}
_VNI_HORN_BYTES = frozenset({0xF4, 0xD4, 0xF6, 0xD6})
_VNI_TONE_BYTES = frozenset(b for tone in _TONES for b in _VNI_MARKS[tone])
#: Latin-1 symbols that Western text writes next to digits, spaces or punctuation, not as
#: part of a word (µ, ª and º are letters to Unicode, but are units and ordinals in use).
#: As TCVN3 they are the commonest letters: ă â ê ô ơ ư đ and the a-family.
_SYMBOLIC = frozenset("µªº").union(ch for ch in map(chr, range(0xA1, 0x100)) if not ch.isalpha())
#: (before a letter, after a letter) evidence for a symbol at a word's edge where Western
#: text does put it: "«Le", "¿Qué", "£m", "µm"; "Coca-Cola®", "Mª", "Nº", "word¹", "l·l",
#: "m²", "a´", "n×m". Any other symbol at an edge ("lµ", "th¬", "§êi", "®éng") is worth 2.
_TCVN3_EDGE_EVIDENCE: dict[str, tuple[float, float]] = {
    "µ": (0, 2), "«": (1, 1), "»": (1, 1), "¿": (1, 2), "¡": (1, 2), "£": (1, 2),
    "¥": (1, 2), "©": (1, 1), "×": (1, 1), "®": (2, 1), "ª": (2, 1), "º": (2, 1), "¹": (2, 1),
    "·": (2, 1), "°": (1, 0.5), "±": (1, 0.5), "²": (2, 0.5), "³": (2, 0.5), "´": (1, 0.5),
}  # fmt: skip
_CONTROL_CAPITALS = frozenset(chr(b) for b in _TCVN3_CONTROLS)
#: Letters Western languages write only after a vowel ("naïf", "año", "Straße") or at the
#: start of a word (Icelandic þ); as TCVN3 (ù ủ ò ỵ) they follow consonants ("chïa", "Cña").
_AFTER_VOWELS_ONLY = frozenset("ïñßþ")
_CONSONANTS = frozenset("bcdfghjklmnpqrstvwxz")
#: Per-word evidence is capped so that one long odd word cannot outvote the rest.
_WORD_EVIDENCE_CAP = 3.0


def _tcvn3_evidence(original: str) -> float:
    """Evidence that a word is TCVN3: symbols inside it, odd letters, case that flips.

    A symbol between two letters ("Nh÷ng", "t¾c") is worth 2, and so is one at a word's edge
    where Western text never puts it ("lµ", "th¬", "§êi"); where Western text does, less
    (:data:`_TCVN3_EDGE_EVIDENCE`). A non-ASCII capital inside a word next to a small letter
    ("ViÖt", "§Þnh", "HuÕ"), a small non-ASCII letter between capitals ("HéI", typed with a
    capital .VnTimeH font), ï ñ ß þ after a consonant ("chïa") and a VN1 capital in a C0
    control position next to a letter are worth 2 each. Plain accented letters prove
    nothing ("Néi" could be anything) and neither does Windows punctuation (0x80-0x9F).
    """
    score = 0.0
    last = len(original) - 1
    for i, ch in enumerate(original):
        if ch.isascii() and ch not in _CONTROL_CAPITALS:
            continue
        before = original[i - 1] if i else ""
        after = original[i + 1] if i < last else ""
        if ch in _CONTROL_CAPITALS:
            score += 2 if before or after else 0
        elif ch in _SYMBOLIC:
            leading, trailing = _TCVN3_EDGE_EVIDENCE.get(ch, (2, 2))
            score += 2 if before and after else trailing if before else leading if after else 0
        elif ch.isupper() and i and (before.islower() or after.islower()):
            score += 2
        elif ch.islower() and before.isupper() and after.isupper():
            score += 2
        elif ch in _AFTER_VOWELS_ONLY and before.isascii() and before.lower() in _CONSONANTS:
            score += 2
    return score


def _vni_evidence(data: bytes) -> float:
    """Evidence that a word is VNI: mark bytes after the vowels they belong to.

    Scored pair by pair from :data:`_VNI_PAIR_EVIDENCE` and :data:`_VNI_LETTER_EVIDENCE`;
    a capital mark byte between a capital and a small letter ("UÛy") is worth 2. So are a
    tone after ơ/ư ("öõ"), "öô" (ươ), and "ñ" (đ) opening a word of three letters or more
    (Spanish starts almost no word with ñ; in a shorter word it is worth 1).
    """
    score = 0.0
    for i, b in enumerate(data):
        prev = data[i - 1] if i else -1
        char = _CP1252_CHARS[b]
        if b in _VNI_TONE_BYTES and prev in _VNI_HORN_BYTES:
            score += 2
        elif b in (0xF4, 0xD4) and prev in (0xF6, 0xD6):
            score += 2
        elif b in (0xF1, 0xD1):
            score += (2 if len(data) > 2 else 1) if i == 0 and len(data) > 1 else 0
        elif char.lower() in _VNI_LETTER_EVIDENCE:
            score += _VNI_LETTER_EVIDENCE[char.lower()] if i and chr(prev).isalpha() else 0
        elif prev >= 0 and (weights := _VNI_PAIR_EVIDENCE.get(char.lower())):
            base = chr(prev)
            if base.isupper() != char.isupper():
                continue
            two = (chr(data[i - 2]) + base).lower() if i > 1 else ""
            pair = weights.get(two, weights.get(base.lower(), 0.0))
            # A capital mark between a capital and a small letter ("UÛy", "AÙnh"): Western
            # text never capitalises the accent after a word's first letter.
            titled = char.isupper() and i + 1 < len(data) and chr(data[i + 1]).islower()
            score += 2 if pair and titled else pair
    return score


# ---------------------------------------------------------------------------------------
# Reading a text in a legacy encoding
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bar:
    """What a reading must reach to be accepted."""

    evidence: float  # points of evidence
    share: float  # of all words, how many must be Vietnamese syllables
    valid_per_invalid: int  # converted words that must be good for each one that is not


_STRONG = 4.0
_AUTO = _Bar(2.0, 0.5, 3)  # nothing known about the source: strong evidence
_DECLARED = _Bar(1.5, 0.5, 3)  # the source is declared to hold this encoding
_RECORD = _Bar(0.0, 0.25, 2)  # another field of the same record proved the encoding


@dataclass
class _Reading:
    """One candidate conversion of a text, with the counts the decision is made from."""

    encoding: LegacyEncoding
    text: str
    words: int = 0
    valid_words: int = 0
    changed_valid: int = 0
    changed_invalid: int = 0
    evidence: float = 0.0
    strongest_word: float = 0.0

    @property
    def score(self) -> float:
        """Evidence, plus 1 when two or more words are all Vietnamese and a converted one
        carries evidence of its own ("Hµ Néi": only "Hµ" is odd by itself; "Vieät Nam").
        """
        coherent = self.words >= 2 and self.valid_words == self.words and self.strongest_word >= 1
        return self.evidence + (1.0 if coherent else 0.0)

    def accepted(self, bar: _Bar) -> bool:
        """True when the conversion is good Vietnamese and its evidence clears ``bar``.

        Strong evidence (:data:`_STRONG`) halves the share of words that must be Vietnamese
        (a subject heading in English with one Vietnamese name) and forgives one converted
        word that is not a syllable (a compound like "Sàigòn", a foreign name, a typo).
        """
        score = self.score
        strong = score >= _STRONG
        allowed = max(self.changed_valid // bar.valid_per_invalid, 1 if strong else 0)
        if self.changed_valid == 0 or self.changed_invalid > allowed:
            return False
        if self.valid_words < (bar.share / 2 if strong else bar.share) * self.words:
            return False
        return score >= bar.evidence


_LETTERISH = {
    enc: [
        (b < 0x80 and chr(b).isalpha())
        or (b >= 0x80 and (table[b].isalpha() or unicodedata.combining(table[b][0]) > 0))
        or (enc is LegacyEncoding.TCVN3 and b in _TCVN3_CONTROLS)
        for b in range(256)
    ]
    for enc, table in _DECODE.items()
}
_HORN_O = re.compile("(?<![ưƯuU])([ơờởỡớợƠỜỞỠỚỢ])(?=(?:c|ng|u)$)", re.IGNORECASE)


def _runs(data: bytes, letterish: list[bool]) -> Iterator[tuple[int, int]]:
    start = -1
    for i, b in enumerate(data):
        if letterish[b]:
            if start < 0:
                start = i
        elif start >= 0:
            yield start, i
            start = -1
    if start >= 0:
        yield start, len(data)


def _tcvn3_word(data: bytes) -> str:
    """Decode one TCVN3 word the way ABC users typed it, not only as the chart says.

    A word typed in capitals with a .VnTimeH font comes out as capitals with a few small
    toned letters ("VIệT"); those are raised. A "ươ" whose ư (0xAD, soft hyphen) was dropped
    on the way leaves "ơ" before c, ng or u, which no Vietnamese rhyme has: the ư is put back.
    """
    word = decode(data, LegacyEncoding.TCVN3)
    upper = sum(1 for ch in word if ch.isupper())
    if upper >= 2 and all(ch.isupper() or not ch.isascii() for ch in word if ch.isalpha()):
        word = word.upper()
    if not _is_syllable(word):
        restored = _HORN_O.sub(lambda m: ("Ư" if m.group(1).isupper() else "ư") + m.group(1), word)
        if restored != word and _is_syllable(restored):
            return restored
    return word


def _read(data: bytes, original: str, encoding: LegacyEncoding) -> _Reading:
    """Convert ``data`` word by word and count how Vietnamese the result is.

    ``original`` is the text as it stands (one character per byte): what the bytes look like
    in Windows-1252. Words are runs of bytes that decode to letters or marks; everything else
    is kept as it stands. In TCVN3 a byte 0x80-0x9F that stood for Windows punctuation ("“")
    stays punctuation when reading it as a capital would spoil the word ("ỎNhững").
    """
    reading = _Reading(encoding, "")
    letterish = _LETTERISH[encoding]
    pieces: list[str] = []
    position = 0
    spans = list(_runs(data, letterish))
    if encoding is LegacyEncoding.TCVN3:
        spans = [part for span in spans for part in _split_punctuation(data, original, span)]
    for start, end in spans:
        pieces.append(original[position:start])
        position = end
        chunk = data[start:end]
        before = original[start:end]
        if encoding is LegacyEncoding.TCVN3:
            word, evidence = _tcvn3_word(chunk), _tcvn3_evidence(before)
        else:
            word, evidence = decode(chunk, encoding), _vni_evidence(chunk)
        pieces.append(word)
        valid = _is_syllable(word)
        reading.words += 1
        reading.valid_words += valid
        if word != before:
            evidence = min(evidence, _WORD_EVIDENCE_CAP)
            if valid:
                reading.changed_valid += 1
                reading.evidence += evidence
                reading.strongest_word = max(reading.strongest_word, evidence)
            else:
                # A compound ("Sàigòn") or a typo still shows the encoding, if less surely.
                reading.changed_invalid += 1
                reading.evidence += evidence / 2
    pieces.append(original[position:])
    reading.text = "".join(pieces)
    return reading


def _split_punctuation(data: bytes, original: str, span: tuple[int, int]) -> list[tuple[int, int]]:
    """Cut a TCVN3 word at Windows punctuation (0x80-0x9F) unless it reads as a syllable."""
    start, end = span
    cuts = [i for i in range(start, end) if 0x80 <= data[i] < 0xA0 and ord(original[i]) > 0xFF]
    if not cuts or _is_syllable(_tcvn3_word(data[start:end])):
        return [span]
    edges = [start - 1, *cuts, end]
    return [(a + 1, b) for a, b in zip(edges, edges[1:], strict=False) if b > a + 1]


def _as_bytes(text: str) -> tuple[bytes, str] | None:
    """The bytes a mojibake text was read from, and the text in the same (NFC) form.

    None when some character cannot have come from reading bytes as Windows-1252 or Latin-1
    (any Vietnamese letter beyond Latin-1, any other script): such text is already Unicode.
    """
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    try:
        return text.translate(_CP1252_TO_LATIN1).encode("latin-1"), text
    except UnicodeEncodeError:
        return None


_CONTROL_CAPITAL = re.compile("[" + "".join(sorted(_CONTROL_CAPITALS)) + "]")


def _needs_look(text: str) -> bool:
    """False for text that no legacy byte could have produced: plain ASCII (fast path)."""
    return not text.isascii() or _CONTROL_CAPITAL.search(text) is not None


def _choose(data: bytes, original: str, mode: LegacyMode, proven: bool = False) -> _Reading | None:
    if mode is LegacyMode.OFF:
        return None
    if mode is LegacyMode.AUTO:
        candidates = [_read(data, original, enc) for enc in LegacyEncoding]
        bar = _RECORD if proven else _AUTO
    else:
        candidates = [_read(data, original, LegacyEncoding(mode.value))]
        bar = _RECORD if proven else _DECLARED
    accepted = sorted((r for r in candidates if r.accepted(bar)), key=lambda r: -r.score)
    if not accepted or (len(accepted) > 1 and accepted[0].score == accepted[1].score):
        return None
    return accepted[0]


# ---------------------------------------------------------------------------------------
# Public detection and repair
# ---------------------------------------------------------------------------------------


def detect_bytes(data: bytes, mode: LegacyMode = LegacyMode.AUTO) -> LegacyEncoding | None:
    """Tell whether raw bytes (already known not to be UTF-8) are TCVN3 or VNI Vietnamese.

    None means "not recognisably Vietnamese": most likely Windows-1252 text in some other
    language (or real MARC-8), which the caller should read as such. The same evidence
    rules as :func:`detect_text` apply to the bytes' Windows-1252 reading; a declared
    ``mode`` tries only that encoding, with the lower bar :func:`repair_text` describes.
    """
    original = "".join([_CP1252_CHARS[b] for b in data])
    if mode is LegacyMode.OFF or not _needs_look(original):
        return None
    reading = _choose(data, original, mode)
    return reading.encoding if reading else None


def detect_text(text: str) -> LegacyEncoding | None:
    """Tell whether ``text`` is TCVN3 or VNI bytes mis-read as Windows-1252 or Latin-1.

    Every character must map back to one byte (any Vietnamese letter beyond Latin-1, or any
    other script, means the text is real Unicode). Each encoding's reading is then scored:

    * every converted word must be one valid Vietnamese syllable (initial, rhyme, spelling
      rules, one tone on a vowel; "gỏt" from French "goût" fails: a stop final takes only
      acute or dot) and at least half of all words must be;
    * evidence points come from what the *original* shows that Western text does not: for
      TCVN3, symbols inside words ("Nh÷ng" 2) or at edges where Western text never puts them
      ("th¬" 2; "Mª", "Coca-Cola®" 1), and case that flips mid-word ("ViÖt" 2); for VNI,
      mark bytes after the vowels they belong to ("Vieät" 2, "Nhöõng" 4; French "où",
      "naïf" only 0.5). Ordinary accented letters ("Néi", "håi") score nothing. A word gives
      at most 3; when every word is Vietnamese and one has evidence of its own, 1 more;
    * at least 2 points are needed. "Nh÷ng" alone converts, "¾" (a lone "ắ") does not.
      When both encodings pass with equal scores, neither is chosen.
    """
    found = _repair(text, LegacyMode.AUTO)
    return found.encoding if found else None


def _repair(text: str, mode: LegacyMode, proven: bool = False) -> _Reading | None:
    if mode is LegacyMode.OFF or not _needs_look(text):
        return None
    mapped = _as_bytes(text)
    if mapped is None:
        return None
    reading = _choose(*mapped, mode, proven)
    if reading is None or reading.text == text:
        return None
    return reading


def repair_text(text: str, mode: LegacyMode = LegacyMode.AUTO) -> tuple[str, LegacyEncoding | None]:
    """Convert legacy-encoding mojibake in ``text`` to Unicode; say which encoding it was.

    Returns ``(text, None)`` unchanged when there is nothing to convert: ASCII, real Unicode
    (Vietnamese or any language), or too little evidence. ``mode`` is the import option: in
    ``TCVN3``/``VNI`` mode only that encoding is tried and 1.5 points of evidence suffice
    instead of 2. The bar stays high even then: a source declared to be VNI still holds
    French and English records, and clean Vietnamese. See :func:`detect_text`.
    """
    reading = _repair(text, mode)
    return (reading.text, reading.encoding) if reading else (text, None)


def repair_record(record: Record, mode: LegacyMode = LegacyMode.AUTO) -> int:
    """Repair every data-field subfield of ``record`` in place; return how many changed.

    Control fields (001-009) are codes and dates, never converted. The record votes first:
    when its subfields that convert on their own (with the evidence ``mode`` asks for) all
    agree on one encoding, that encoding is proven for the record, and its other subfields
    convert on no more than valid Vietnamese syllables. That keeps a record consistent
    ("Quèc héi" in 260 $b, plain Latin-1 letters, converts because the title "Nh÷ng nguyªn
    t¾c" is plainly TCVN3) without letting weak evidence loose on records that show none.
    When subfields vote for both encodings, each subfield is decided on its own.
    """
    if mode is LegacyMode.OFF:
        return 0
    # Only values some legacy byte could have produced are looked at (most records are
    # plain ASCII or real Unicode: this is the import's hot path).
    subfields = [
        (field, index)
        for field in record.fields
        if not field.control_field
        for index, subfield in enumerate(field.subfields)
        if _needs_look(subfield.value)
    ]
    if not subfields:
        return 0
    alone = [_repair(field.subfields[i].value, mode) for field, i in subfields]
    votes = {reading.encoding for reading in alone if reading is not None}
    proven = LegacyMode(votes.pop().value) if len(votes) == 1 else None
    changed = 0
    for (field, index), reading in zip(subfields, alone, strict=True):
        value = field.subfields[index].value
        if reading is None and proven is not None:
            reading = _repair(value, proven, proven=True)
        if reading is not None:
            field.subfields[index] = field.subfields[index]._replace(value=reading.text)
            changed += 1
    return changed
