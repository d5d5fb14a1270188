"""Legacy Vietnamese encodings (TCVN3/ABC, VNI-Windows): codecs, detection, mojibake repair."""

from __future__ import annotations

import copy
import string
import subprocess
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymarc import Field, Indicators, MARCReader, Record, Subfield

from crosswalks.iso2709 import decode_clean_utf8
from crosswalks.legacy import (
    LegacyEncoding,
    LegacyMode,
    decode,
    detect_bytes,
    detect_text,
    encode,
    repair_record,
    repair_text,
)
from crosswalks.vietnamese import normalize

from .conftest import LOC_5000, VIE_121
from .strategies import VIETNAMESE_LETTERS

TCVN3, VNI = LegacyEncoding.TCVN3, LegacyEncoding.VNI

#: glibc's iconv (Debian libc-bin, an essential package): the independent TCVN3 reader.
ICONV = "iconv"


def test_there_are_134_letters() -> None:
    """The alphabet the round-trip property draws from has the 134 letters it should."""
    assert len(set(VIETNAMESE_LETTERS)) == 134


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


@cache
def _records(path: Path) -> list[Record]:
    """The records of ``path`` as pymarc reads them."""
    with path.open("rb") as handle:
        return [r for r in MARCReader(handle, to_unicode=True, force_utf8=True) if r]


@cache
def _loc_5000() -> list[Record]:
    """loc-5000, through the project's fast UTF-8 decoder (pymarc for what it declines).

    It yields the same subfields as pymarc in a third of the time, which keeps this file
    under five seconds.
    """
    records = []
    for chunk in LOC_5000.read_bytes().split(b"\x1d")[:-1]:
        record = decode_clean_utf8(chunk + b"\x1d")
        if record is None:
            record = next(iter(MARCReader(chunk + b"\x1d", to_unicode=True, force_utf8=True)))
        assert record is not None
        records.append(record)
    return records


def _subfield_values(records: list[Record]) -> list[str]:
    return [
        sub.value
        for record in records
        for field in record.fields
        if not field.is_control_field()
        for sub in field.subfields
    ]


@cache
def _vie_values() -> list[str]:
    """Every subfield of the 121 Vietnamese LoC records, with the mark order repaired."""
    return [normalize(value) for value in _subfield_values(_records(VIE_121))]


def _cp1252(data: bytes) -> str:
    """What Windows shows for bytes read as Windows-1252 (its 5 holes become C1 controls)."""
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in data)


def _cp1252_bytes(text: str) -> bytes:
    """The bytes a Windows-1252 (or Latin-1, for C1 controls) reading came from."""
    return bytes(ord(ch) if ord(ch) < 0x100 else ch.encode("cp1252")[0] for ch in text)


def _latin1(data: bytes) -> str:
    return data.decode("latin-1")


MOJIBAKE: dict[str, Callable[[bytes], str]] = {"cp1252": _cp1252, "latin-1": _latin1}


@cache
def _encodable(encoding: LegacyEncoding) -> list[tuple[str, bytes]]:
    pairs = []
    for value in _vie_values():
        try:
            pairs.append((value, encode(value, encoding)))
        except UnicodeEncodeError:
            pass
    return pairs


def _has_vietnamese_letter(text: str) -> bool:
    return any(ch in VIETNAMESE_LETTERS for ch in text)


# ---------------------------------------------------------------------------------------
# Codecs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "count"), [(TCVN3, 2672), (VNI, 2671)])
def test_loc_values_round_trip(encoding: LegacyEncoding, count: int) -> None:
    """Every LoC Vietnamese subfield our encoders can encode decodes back to itself.

    TCVN3 takes all 2,672 (a stray "ḍ" becomes d + the combining dot byte, as glibc does);
    VNI has no spelling for "ḍ", so one subfield is left out.
    """
    pairs = _encodable(encoding)
    assert len(pairs) == count
    assert [value for value, data in pairs if decode(data, encoding) != value] == []


def test_tcvn3_chart_is_glibcs_byte_by_byte() -> None:
    """Each byte but NUL and newline decodes as ``iconv -f TCVN5712-1`` decodes it alone.

    One difference shows up only when tone bytes stack up (0xAF "Ằ" followed by 0xB0-0xB4
    below): iconv composes left to right and leaves its output unnormalised, our decoder
    returns NFC, which reorders the dot below first. NFC of iconv's output is identical.
    """
    data = bytes(range(1, 256))
    lines = b"\n".join(bytes([b]) for b in data if b != 0x0A)
    out = subprocess.run(
        [ICONV, "-f", "TCVN5712-1", "-t", "UTF-8"], input=lines, capture_output=True, check=True
    )
    theirs = out.stdout.decode("utf-8").split("\n")
    ours = [decode(bytes([b]), TCVN3) for b in data if b != 0x0A]
    assert theirs == ours
    together = subprocess.run(
        [ICONV, "-f", "TCVN5712-1", "-t", "UTF-8"], input=data, capture_output=True, check=True
    ).stdout.decode("utf-8")
    # Here iconv differs (glibc 2.x): "Ằ" + five tone marks stays in its order, unnormalised.
    assert unicodedata.normalize("NFC", together) == decode(data, TCVN3)


def test_tcvn3_decoder_agrees_with_iconv_on_loc_values() -> None:
    """The TCVN3 bytes of all 2,672 LoC subfields decode the same with iconv and with us.

    No difference at all on real text: iconv also reads 0xAD as "ư" (the soft-hyphen loss
    happens only once the bytes are read as Windows-1252), and it composes a base letter
    with a following tone byte just as NFC does. Our encoder also writes exactly the bytes
    ``iconv -t TCVN5712-1`` writes for the 134 letters.
    """
    pairs = _encodable(TCVN3)
    assert not any(b"\n" in data for _, data in pairs)
    out = subprocess.run(
        [ICONV, "-f", "TCVN5712-1", "-t", "UTF-8"],
        input=b"\n".join(data for _, data in pairs),
        capture_output=True,
        check=True,
    )
    theirs = out.stdout.decode("utf-8").split("\n")
    assert theirs == [decode(data, TCVN3) for _, data in pairs]
    letters = subprocess.run(
        [ICONV, "-f", "UTF-8", "-t", "TCVN5712-1"],
        input=VIETNAMESE_LETTERS.encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert letters == encode(VIETNAMESE_LETTERS, TCVN3)


CODEC_CASES = [
    # (text, encoding, bytes)
    ("Những nguyên tắc", TCVN3, b"Nh\xf7ng nguy\xaan t\xbec"),
    ("Những nguyên tắc", VNI, b"Nh\xf6\xf5ng nguye\xe2n ta\xe9c"),
    ("Việt Nam", VNI, b"Vie\xe4t Nam"),
    ("nước", TCVN3, b"n\xad\xedc"),
    ("người", VNI, b"ng\xf6\xf4\xf8i"),
    ("Đặng", TCVN3, b"\xa7\xc6ng"),
    ("Đặng", VNI, b"\xd1a\xebng"),
    ("Ủy ban", TCVN3, b"\x9ey ban"),
    ("Ủy ban", VNI, b"U\xdby ban"),
    ("Úc", TCVN3, b"\x01c"),
    ("ỵ Ỵ ị ỉ", VNI, b"\xee \xce \xf2 \xe6"),
    ("“quote” – ©", VNI, b"\x93quote\x94 \x96 \xa9"),
    ("no\u00a0break", TCVN3, b"no\xa0break"),
]


@pytest.mark.parametrize(("text", "encoding", "data"), CODEC_CASES)
def test_codec_table(text: str, encoding: LegacyEncoding, data: bytes) -> None:
    """Known spellings encode to the charted bytes and decode back, also from NFD input."""
    assert encode(text, encoding) == data
    assert encode(unicodedata.normalize("NFD", text), encoding) == data
    assert decode(data, encoding) == text


def test_decode_is_faithful_nfc() -> None:
    """decode() reads every byte as its chart says and returns NFC, guessing nothing.

    A TCVN3 base letter followed by a tone byte composes; Windows quotes at 0x93/0x94 come
    out as the VN1 capitals they are in the chart (repair_text is where they stay quotes);
    a VNI mark with no letter before it stays a combining mark.
    """
    assert decode(b"a\xb3", TCVN3) == "á"
    assert decode(b"\x93Nh\xf7ng\x94", TCVN3) == "ỎNhữngÕ"
    assert decode(b"\xf9", VNI) == "\u0301"
    assert decode(b"vie\xc4t VIE\xe4T", VNI) == "việt VIỆT"  # either case of mark byte
    for encoding in LegacyEncoding:
        assert unicodedata.is_normalized("NFC", decode(bytes(range(256)), encoding))


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("ç", VNI), ("ü", VNI), ("ñ", VNI), ("“", TCVN3), ("é€", TCVN3), ("\x01", TCVN3), ("中", VNI)],
)
def test_encode_refuses_what_the_chart_lacks(text: str, encoding: LegacyEncoding) -> None:
    """Characters with no spelling raise instead of turning into a Vietnamese letter."""
    with pytest.raises(UnicodeEncodeError):
        encode(text, encoding)


@given(st.text(alphabet=VIETNAMESE_LETTERS + string.ascii_letters + " "))
@pytest.mark.parametrize("encoding", list(LegacyEncoding))
def test_round_trip_property(encoding: LegacyEncoding, text: str) -> None:
    """decode(encode(t)) == t for any text of Vietnamese letters, ASCII letters and spaces."""
    assert decode(encode(text, encoding), encoding) == text


# ---------------------------------------------------------------------------------------
# Detection and repair of real Vietnamese text
# ---------------------------------------------------------------------------------------

# Per-string AUTO repair leaves these many LoC subfields as they are (never converting them
# wrongly). The TCVN3 ones are words made only of ordinary Latin-1 letters ("håi ký" for
# "hồi ký", "Quèc héi", "Tuæi 30"), English notes with one Vietnamese word, and a source
# typo ("Nguyẽn"). For VNI add the mojibake that *is* clean Vietnamese: "Hoà Chí Minh"
# is VNI for "Hồ Chí Minh", "thô" for "thơ". Record-level repair converts all of them.
MAX_MISSED = {TCVN3: 7, VNI: 17}


@pytest.mark.parametrize("reading", list(MOJIBAKE))
@pytest.mark.parametrize("encoding", list(LegacyEncoding))
def test_mojibake_of_loc_values_is_repaired(encoding: LegacyEncoding, reading: str) -> None:
    """The mojibake of every LoC subfield repairs to the original, or is left alone.

    Never a third outcome: no wrong conversion, no wrong encoding. Subfields in English are
    unchanged by the round trip and come back as they are.
    """
    missed = []
    for value, data in _encodable(encoding):
        mojibake = MOJIBAKE[reading](data)
        text, found = repair_text(mojibake)
        if text == value:
            assert found is (encoding if mojibake != value else None)
        else:
            assert (text, found) == (mojibake, None)
            missed.append(mojibake)
    assert len(missed) <= MAX_MISSED[encoding], missed


@pytest.mark.parametrize("encoding", list(LegacyEncoding))
def test_mojibake_records_repair_completely(encoding: LegacyEncoding) -> None:
    """Turned into mojibake, all 121 records come back exactly with repair_record in AUTO.

    The record vote carries the weak subfields ("Hoà Chí Minh", "Quèc héi") and lets the
    source typo "Nguyẽn" through next to two good names. (The Windows-1252 reading; the
    Latin-1 one behaves the same subfield by subfield, see above.)
    """
    converted = 0
    for record in _records(VIE_121):
        damaged = copy.deepcopy(record)
        expected = []
        for field in damaged.fields:
            if field.is_control_field():
                continue
            for index, sub in enumerate(field.subfields):
                value = normalize(sub.value)
                try:
                    mojibake = _cp1252(encode(value, encoding))
                except UnicodeEncodeError:
                    mojibake = value
                field.subfields[index] = Subfield(sub.code, mojibake)
                expected.append(value)
        converted += repair_record(damaged, LegacyMode.AUTO)
        assert _subfield_values([damaged]) == expected
    assert converted >= 750


@pytest.mark.parametrize("encoding", list(LegacyEncoding))
def test_detect_bytes_names_the_encoding(encoding: LegacyEncoding) -> None:
    """Raw TCVN3 or VNI bytes of Vietnamese subfields are named right, or not named.

    Only bytes that are not valid UTF-8 are asked about (the importer tries UTF-8 first).
    The ones left unnamed are the same kinds as in the mojibake test, plus "Phan, Kính"
    whose VNI bytes are plain Windows-1252.
    """
    unnamed = 0
    asked = 0
    for value, data in _encodable(encoding):
        if not _has_vietnamese_letter(value):
            continue
        try:
            data.decode("utf-8")
            continue
        except UnicodeDecodeError:
            asked += 1
        found = detect_bytes(data)
        assert found in (encoding, None), value
        unnamed += found is None
    assert asked >= 750
    assert unnamed <= MAX_MISSED[encoding] + 1


# ---------------------------------------------------------------------------------------
# Precision: clean text is never touched
# ---------------------------------------------------------------------------------------


DETECTING_MODES = (LegacyMode.AUTO, LegacyMode.TCVN3, LegacyMode.VNI)


def test_clean_records_convert_nothing() -> None:
    """All subfields of loc-5000 and loc-vie-121 (as stored, and normalised) stay as they are.

    In AUTO mode, and even in the declared TCVN3 and VNI modes: 147,568 values, and
    repair_record changes no subfield in any of the 5,121 records.
    """
    records = _loc_5000() + _records(VIE_121)
    conversions = []
    values = 0
    for raw in _subfield_values(records):
        for value in {raw, normalize(raw)}:
            values += 1
            # ASCII takes the same fast path in every mode (test_ascii_is_never_converted).
            modes = (LegacyMode.AUTO,) if value.isascii() else DETECTING_MODES
            for mode in modes:
                text, found = repair_text(value, mode)
                if found is not None or text != value:
                    conversions.append((mode, value, text))
    assert values > 140_000
    assert conversions == []
    # Only records with a non-ASCII subfield can change; copying the rest would be slow.
    candidates = [r for r in records if not all(v.isascii() for v in _subfield_values([r]))]
    assert len(candidates) > 300
    assert sum(repair_record(copy.deepcopy(r)) for r in candidates) == 0


WESTERN = [
    "Élève, à côté, garçon, œuvre, Noël",
    "Élève",
    "à",
    "où",
    "né",
    "goût",
    "Le goût du thaï",
    "Loïc",
    "naïve",
    "Zoë",
    "Citroën",
    "«Le Monde»",
    "« Le »",
    "Müller, Straße, Öl, Äpfel, für",
    "Köln",
    "Bär",
    "Hän on",
    "»Der Spiegel«",
    "Silben\u00adtrennung",
    "Año, niño, ¿Qué?, ¡Hola!, Peña",
    "Ñu",
    "aún",
    "Mª José",
    "Mª Pía",
    "Nº 5",
    "São Paulo, não, ações",
    "Søren Kierkegaard",
    "på",
    "Ørsted",
    "Þór",
    "col·lecció",
    "“Hello” – world…",
    "Tom’s",
    "© 2001",
    "20°C",
    "½",
    "¾",
    "Ø",
    "ß",
    "3×4",
    "m²",
    "10 µm",
    "5 µm × 3 µm",
    "Coca-Cola®",
    "£m",
    "Ã©cole",
    # Found in 312,000 strings of software translations while tuning the VNI pair weights:
    "poäng",
    "Din poäng",
    "Seán Ó",
    "meä",
    "træ",
    "Töm den",
    "Toï",
    "Pî_van:",
    "Benutzerdefiniert %s×%s",
    "linio %dª:",
    "\u0080\u0099",
]
CLEAN_VIETNAMESE = [
    "Những nguyên tắc",
    "Việt Nam",
    "Hà Nội",
    "Tô Hoài",
    "Hoà Bình",
    "hoãn",
    "Hồ Chí Minh",
    "Đắk Lắk",
    "thô",
    "Nhôn",
    "tròn hòn",
    "Lý",
    "Quân đội nhân dân",
]


@pytest.mark.parametrize("text", WESTERN)
def test_western_text_is_left_alone(text: str) -> None:
    """French, German, Spanish, Portuguese, Nordic text and Windows punctuation never convert."""
    assert repair_text(text) == (text, None)
    assert detect_text(text) is None
    assert detect_bytes(_cp1252_bytes(text)) is None


@pytest.mark.parametrize("form", ["NFC", "NFD"])
@pytest.mark.parametrize("text", CLEAN_VIETNAMESE)
@pytest.mark.parametrize("mode", list(LegacyMode))
def test_clean_vietnamese_is_left_alone(text: str, form: str, mode: LegacyMode) -> None:
    """Correct Unicode Vietnamese, composed or decomposed, is never converted in any mode.

    Latin-1-only words ("Tô Hoài", "Hoà Bình", "hoãn", "tròn") are the risky ones: their VNI
    reading ("Tơ Hồi", "Hồ Bình") is Vietnamese too, but shows no VNI-only mark byte.
    """
    value = unicodedata.normalize(form, text)
    assert repair_text(value, mode) == (value, None)


@pytest.mark.parametrize("mode", list(LegacyMode))
def test_ascii_is_never_converted(mode: LegacyMode) -> None:
    """Plain ASCII is both encodings' spelling of itself: nothing to do, in any mode."""
    for text in ("Buddhist poetry, Vietnamese.", "Viet Nam", "Nha xuat ban", ""):
        assert repair_text(text, mode) == (text, None)


# ---------------------------------------------------------------------------------------
# Repair examples
# ---------------------------------------------------------------------------------------

AUTO = LegacyMode.AUTO
REPAIRS = [
    # (mojibake, mode, repaired, encoding found); None, None: it must stay as it is
    ("Nh÷ng nguyªn t¾c", AUTO, "Những nguyên tắc", TCVN3),
    ("Nhöõng nguyeân taéc", AUTO, "Những nguyên tắc", VNI),
    ("Vieät Nam", AUTO, "Việt Nam", VNI),
    ("ViÖt Nam", AUTO, "Việt Nam", TCVN3),
    ("Nh÷ng", AUTO, "Những", TCVN3),  # a symbol inside a word: plainly TCVN3
    ("th¬", AUTO, "thơ", TCVN3),
    ("¾", AUTO, None, None),  # a lone "ắ" is no evidence
    ("Hµ Néi", AUTO, "Hà Nội", TCVN3),
    ("Néi", AUTO, None, None),  # ordinary Latin-1 letters: not enough alone
    ("Néi", LegacyMode.TCVN3, None, None),
    ("Lª, Anh Minh.", LegacyMode.TCVN3, "Lê, Anh Minh.", TCVN3),
    ("“Nh÷ng nguyªn t¾c”", AUTO, "“Những nguyên tắc”", TCVN3),  # Word's quotes stay quotes
    ("HéI NHµ V¡N", AUTO, "HỘI NHÀ VĂN", TCVN3),  # typed with a capital .VnTimeH font
    ("Nh÷ng n\u00adíc", AUTO, "Những nước", TCVN3),  # 0xAD read as a soft hyphen
    ("Nh÷ng níc", AUTO, "Những nước", TCVN3),  # ... and then dropped: the ư is put back
    ("žy ban nh©n d©n", AUTO, "Ủy ban nhân dân", TCVN3),  # a VN1 capital, Windows-1252
    ("\u009ey ban nh©n d©n", AUTO, "Ủy ban nhân dân", TCVN3),  # ... and Latin-1
    ("UÛy ban nhaân daân", AUTO, "Ủy ban nhân dân", VNI),
    ("Nhöõng ngöôøi", AUTO, "Những người", VNI),
    ("Saøigoøn tuyeát traéng :", AUTO, "Sàigòn tuyết trắng :", VNI),  # one word fails
    ("Nam §Þnh (Vietnam : Province)", AUTO, "Nam Định (Vietnam : Province)", TCVN3),
    ("Battle of §iÖn Biªn Phñ, 1954", AUTO, "Battle of Điện Biên Phủ, 1954", TCVN3),
    ("Later Lª dynasty", AUTO, None, None),  # English with one weak word
    ("Nhöõng nguyeân taéc", LegacyMode.TCVN3, None, None),  # the declared encoding only
    ("Nh÷ng nguyªn t¾c", LegacyMode.VNI, None, None),
    ("Nh÷ng nguyªn t¾c", LegacyMode.OFF, None, None),
    ("Hoà Chí Minh", LegacyMode.VNI, None, None),  # VNI "Hồ", but also clean Vietnamese
]


@pytest.mark.parametrize(("mojibake", "mode", "repaired", "encoding"), REPAIRS)
def test_repair_table(
    mojibake: str, mode: LegacyMode, repaired: str | None, encoding: LegacyEncoding | None
) -> None:
    """Known mojibake repairs to the right text, or stays, depending on evidence and mode."""
    assert repair_text(mojibake, mode) == (repaired or mojibake, encoding)
    if repaired is not None:
        assert repair_text(repaired, mode) == (repaired, None)  # idempotent


def test_detect_text() -> None:
    """detect_text names the encoding exactly when AUTO repair would convert."""
    assert detect_text("Nh÷ng nguyªn t¾c") is TCVN3
    assert detect_text("Nhöõng nguyeân taéc") is VNI
    assert detect_text("Những nguyên tắc") is None
    assert detect_text("Élève") is None


def test_modes_are_the_import_option_values() -> None:
    """The mode enum spells the ``auto|tcvn3|vni|off`` option and matches the encodings."""
    assert [m.value for m in LegacyMode] == ["auto", "tcvn3", "vni", "off"]
    assert LegacyMode("vni") is LegacyMode.VNI
    assert {e.value for e in LegacyEncoding} == {"tcvn3", "vni"}


# ---------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------


def _record(*fields: Field) -> Record:
    record = Record()
    record.add_field(*fields)
    return record


def _tcvn3_record() -> Record:
    return _record(
        Field(tag="001", data="ViÖt-001"),
        Field(
            tag="245",
            indicators=Indicators("1", "0"),
            subfields=[Subfield("a", "Nh÷ng nguyªn t¾c /"), Subfield("c", "NguyÔn V¨n An.")],
        ),
        Field(
            tag="260",
            indicators=Indicators(" ", " "),
            subfields=[Subfield("a", "Hµ Néi :"), Subfield("b", "Quèc héi,")],
        ),
        Field(
            tag="650",
            indicators=Indicators(" ", "0"),
            subfields=[Subfield("a", "Buddhist poetry, Vietnamese.")],
        ),
    )


def test_repair_record_converts_consistently() -> None:
    """A record plainly in TCVN3 converts all its Vietnamese subfields, the weak ones too.

    "Quèc héi" alone is ordinary Latin-1 letters and would stay; the title's evidence
    proves the record's encoding. The control field and the English heading stay.
    """
    record = _tcvn3_record()
    assert repair_text("Quèc héi,") == ("Quèc héi,", None)
    assert repair_record(record) == 4
    assert _subfield_values([record]) == [
        "Những nguyên tắc /",
        "Nguyễn Văn An.",
        "Hà Nội :",
        "Quốc hội,",
        "Buddhist poetry, Vietnamese.",
    ]
    assert record["001"].data == "ViÖt-001"
    assert repair_record(record) == 0


def test_repair_record_off_and_other_encoding() -> None:
    """OFF converts nothing; declaring the wrong encoding converts nothing either."""
    for mode in (LegacyMode.OFF, LegacyMode.VNI):
        record = _tcvn3_record()
        before = _subfield_values([record])
        assert repair_record(record, mode) == 0
        assert _subfield_values([record]) == before


def test_repair_record_declared_mode() -> None:
    """Declaring TCVN3 converts the same record the same way."""
    record = _tcvn3_record()
    assert repair_record(record, LegacyMode.TCVN3) == 4
    assert record["260"]["b"] == "Quốc hội,"


def test_repair_record_without_proof_decides_per_subfield() -> None:
    """Without a subfield strong enough to prove the encoding, weak ones stay as they are."""
    record = _record(
        Field(
            tag="260",
            indicators=Indicators(" ", " "),
            subfields=[Subfield("a", "Néi :"), Subfield("b", "Quèc héi,")],
        )
    )
    assert repair_record(record) == 0
    assert _subfield_values([record]) == ["Néi :", "Quèc héi,"]
