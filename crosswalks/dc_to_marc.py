"""Dublin Core (or DC-like spreadsheet columns) to a valid MARC 21 bibliographic record.

School libraries keep their catalogues in spreadsheets and small databases whose columns
are Dublin Core in all but name. The National Library and every Z39.50/SRU client expect
MARC 21, so such rows are crosswalked on the way in, following the reference table: the
record gets a real leader (type of record from dc:type) and a 40-character 008 (date,
language), every DC value lands in the field the reference table names, and ``042 $a dc``
says where the record came from. Read back through :mod:`crosswalks.marc_to_dc`, every
value returns in its own element except where the tables send it elsewhere: coverage goes
to 500 (read back as a description) and an identifier with a wrong ISBN check digit to
020 $z (kept for searching, not published as an identifier).

Values are kept as the source wrote them (after Vietnamese NFC); no ISBD punctuation is
added, so LDR/18 is blank (non-ISBD).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from pymarc import Field, Record, Subfield
from pymarc.field import Indicators

from .identifiers import isbn_is_valid, issn_is_valid
from .vietnamese import fold, normalize

__all__ = ["dc_to_marc", "language_code", "is_personal_name"]

_YEAR = re.compile(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)")
_URL = re.compile(r"(?i)(?:https?|ftp)://\S+")
_ISBN_SHAPE = re.compile(r"(?i)^(?:urn:)?(?:isbn[:\s]*)?([0-9][0-9\s-]{8,16}[0-9x])$")
_ISSN_SHAPE = re.compile(r"(?i)^(?:urn:)?(?:issn[:\s]*)?([0-9]{4}-?[0-9]{3}[0-9x])$")
_MIME = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")

# dc:type values (DCMI types, and the words Vietnamese spreadsheets use) -> LDR/06, LDR/07.
# Keys are folded (no marks, lower case), so "Sách", "sach" and "SÁCH" all match.
_TYPES: dict[str, tuple[str, str]] = {
    "text": ("a", "m"), "book": ("a", "m"), "sach": ("a", "m"), "giao trinh": ("a", "m"),
    "luan van": ("a", "m"), "luan an": ("a", "m"), "thesis": ("a", "m"),
    "tai lieu": ("a", "m"), "sach giao khoa": ("a", "m"), "sach tham khao": ("a", "m"),
    "serial": ("a", "s"), "journal": ("a", "s"), "periodical": ("a", "s"),
    "newspaper": ("a", "s"), "bao": ("a", "s"), "tap chi": ("a", "s"), "tap san": ("a", "s"),
    "map": ("e", "m"), "ban do": ("e", "m"), "cartographic": ("e", "m"),
    "image": ("k", "m"), "stillimage": ("k", "m"), "still image": ("k", "m"),
    "hinh anh": ("k", "m"), "anh": ("k", "m"), "tranh": ("k", "m"),
    "movingimage": ("g", "m"), "moving image": ("g", "m"), "video": ("g", "m"),
    "phim": ("g", "m"), "sound": ("i", "m"), "audio": ("i", "m"), "am thanh": ("i", "m"),
    "sach noi": ("i", "m"), "music": ("j", "m"), "am nhac": ("j", "m"),
    "software": ("m", "m"), "dataset": ("m", "m"), "interactiveresource": ("m", "m"),
    "phan mem": ("m", "m"), "co so du lieu": ("m", "m"), "physicalobject": ("r", "m"),
    "physical object": ("r", "m"), "hien vat": ("r", "m"), "do dung": ("r", "m"),
    "collection": ("p", "c"), "bo suu tap": ("p", "c"), "kit": ("o", "m"),
}  # fmt: skip

# Language names and ISO 639-1 codes -> MARC (ISO 639-2/B) codes, folded keys.
_LANGUAGES = {
    "vi": "vie", "vie": "vie", "vietnamese": "vie", "tieng viet": "vie", "viet": "vie",
    "en": "eng", "eng": "eng", "english": "eng", "tieng anh": "eng", "anh": "eng",
    "fr": "fre", "fra": "fre", "fre": "fre", "french": "fre", "tieng phap": "fre",
    "phap": "fre", "zh": "chi", "zho": "chi", "chi": "chi", "chinese": "chi",
    "tieng trung": "chi", "tieng hoa": "chi", "trung": "chi", "han": "chi",
    "ru": "rus", "rus": "rus", "russian": "rus", "tieng nga": "rus", "nga": "rus",
    "ja": "jpn", "jpn": "jpn", "japanese": "jpn", "tieng nhat": "jpn", "nhat": "jpn",
    "ko": "kor", "kor": "kor", "korean": "kor", "tieng han": "kor", "han quoc": "kor",
    "de": "ger", "deu": "ger", "ger": "ger", "german": "ger", "tieng duc": "ger",
    "duc": "ger", "lo": "lao", "lao": "lao", "tieng lao": "lao", "km": "khm",
    "khm": "khm", "khmer": "khm", "tieng khmer": "khm", "th": "tha", "tha": "tha",
    "thai": "tha", "tieng thai": "tha", "es": "spa", "spa": "spa", "spanish": "spa",
    "la": "lat", "lat": "lat", "latin": "lat", "mul": "mul", "nhieu ngon ngu": "mul",
}  # fmt: skip

# How Vietnamese organisation names begin ("Trường THPT ...", "Nhà xuất bản ...", "Sở ...").
# Matched at the start, with marks (a folded "truong" would also catch the surname Trương),
# so personal names made of the same syllables ("Lê Thị Thu", "Phan Công Tâm") stay people.
_CORPORATE_STARTS = (
    "nhà xuất bản ", "nxb ", "trường ", "viện ", "bộ ", "hội ", "hiệp hội ", "sở ", "cục ",
    "tổng cục ", "ủy ban ", "uỷ ban ", "trung tâm ", "thư viện ", "công ty ", "học viện ",
    "đại học ", "ban ", "đảng ", "đoàn thanh niên ", "liên hiệp ", "liên đoàn ",
    "câu lạc bộ ", "tạp chí ", "báo ", "phòng ", "văn phòng ", "chi cục ", "quỹ ",
)  # fmt: skip
# English corporate words, anywhere in the name.
_CORPORATE_WORDS = frozenset(
    "university institute library association committee department ministry press society "
    "council centre center company school office publishers publishing inc ltd".split()
)


def language_code(value: str) -> str | None:
    """The MARC language code for a DC language value ("Tiếng Việt", "vi", "vie")."""
    key = fold(value).strip().replace("-", " ")
    key = key.split(" (")[0].strip()
    return _LANGUAGES.get(key)


def is_personal_name(name: str) -> bool:
    """A person's name rather than an organisation's (see the tables above)."""
    lowered = normalize(name).casefold() + " "
    if lowered.startswith(_CORPORATE_STARTS):
        return False
    return not (_CORPORATE_WORDS & set(re.split(r"[\s,.()]+", lowered)))


def _field(tag: str, ind: str, *subfields: tuple[str, str]) -> Field:
    return Field(
        tag=tag,
        indicators=Indicators(ind[0], ind[1]),
        subfields=[Subfield(code, value) for code, value in subfields],
    )


def _values(pairs: Mapping[str, Sequence[str]] | Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group values by lower-case element name ("dc.title", "DC:Title" -> "title")."""
    items = pairs.items() if isinstance(pairs, Mapping) else ((k, [v]) for k, v in pairs)
    grouped: dict[str, list[str]] = {}
    for name, values in items:
        element = name.lower().rsplit(":", 1)[-1].rsplit(".", 1)[-1].strip()
        if isinstance(values, str):
            values = [values]
        for value in values:
            text = normalize(str(value)).strip()
            if text:
                grouped.setdefault(element, []).append(text)
    return grouped


def dc_to_marc(
    pairs: Mapping[str, Sequence[str]] | Iterable[tuple[str, str]],
    *,
    entered: date,
    control_number: str | None = None,
    country: str = "xx",
) -> Record:
    """A MARC 21 record from Dublin Core values.

    ``pairs`` is a mapping from element name to values, or (element, value) pairs; names
    may carry a prefix ("dc:title", "dc.creator"). ``entered`` is 008/00-05 (date entered
    on file): pass a stable date (when the row was first seen), never "today", or every
    sync would see a changed record. ``country`` is the MARC country code for 008/15-17
    ("vm" for Vietnam), unknown ("xx") by default because DC does not say.

    Raises ValueError when there is no title: MARC requires 245 and a record without a
    title is useless to every catalogue that receives it.
    """
    dc = _values(pairs)
    titles = dc.get("title", [])
    if not titles:
        raise ValueError("a record needs a title (dc:title is empty)")
    leader6, leader7 = "a", "m"
    for value in dc.get("type", []):
        if fold(value) in _TYPES:
            leader6, leader7 = _TYPES[fold(value)]
            break
    languages = [code for code in map(language_code, dc.get("language", [])) if code]
    year_match = next((m for m in map(_YEAR.search, dc.get("date", [])) if m), None)
    year = year_match.group(1) if year_match else None

    record = Record(force_utf8=True, leader=f"00000n{leader6}{leader7} a22000007  4500")
    fields: list[Field] = []
    if control_number:
        fields.append(Field(tag="001", data=control_number))
    dates_008 = f"s{year}    " if year else "nuuuuuuuu"  # 06 type of date, 07-10, 11-14
    f008 = (
        f"{entered:%y%m%d}{dates_008}{country[:3]:<3}"
        f"{'|' * 17}{languages[0] if languages else 'und'} d"
    )
    fields.append(Field(tag="008", data=f008))

    identifiers = dc.get("identifier", [])
    isbns: list[tuple[str, str]] = []
    issns, urls, others = [], [], []
    for value in identifiers:
        isbn, issn = _ISBN_SHAPE.match(value), _ISSN_SHAPE.match(value)
        if issn and issn_is_valid(issn.group(1)):
            issns.append(issn.group(1))
        elif isbn and len(re.sub(r"[\s-]", "", isbn.group(1))) in (10, 13):
            # A wrong check digit is still the number printed in the book: MARC keeps it
            # as an invalid ISBN ($z), where searches still find it.
            isbns.append(("a" if isbn_is_valid(isbn.group(1)) else "z", isbn.group(1)))
        elif _URL.fullmatch(value):
            urls.append(value)
        else:
            others.append(value)
    fields += [_field("020", "  ", isbn) for isbn in isbns]
    fields += [_field("022", "  ", ("a", v)) for v in issns]
    fields += [_field("024", "8 ", ("a", v)) for v in others]
    fields.append(_field("042", "  ", ("a", "dc")))
    if languages:
        fields.append(_field("041", "0 ", *[("a", code) for code in languages]))

    creators = dc.get("creator", [])
    main_entry = len(creators) == 1 and is_personal_name(creators[0])
    if main_entry:
        # A comma means "Surname, Forename" (inverted); Vietnamese names are written in
        # direct order ("Nguyễn Du"), which MARC codes as forename (0).
        fields.append(
            _field("100", ("1" if "," in creators[0] else "0") + " ", ("a", creators[0]),
                   ("e", "author"))
        )  # fmt: skip
    fields.append(_field("245", ("1" if main_entry else "0") + "0", ("a", titles[0])))
    fields += [_field("246", "3 ", ("a", title)) for title in titles[1:]]
    publishers = dc.get("publisher", [])
    dates = dc.get("date", [])
    if publishers or dates:
        imprint = [("b", p) for p in publishers] + [("c", d) for d in dates]
        fields.append(_field("264", " 1", *imprint))
    for value in dc.get("format", []):
        fields.append(
            _field("856", "4 ", ("q", value))
            if _MIME.match(value)
            else _field("300", "  ", ("a", value))
        )
    fields += [_field("500", "  ", ("a", v)) for v in dc.get("coverage", [])]
    fields += [_field("520", "  ", ("a", v)) for v in dc.get("description", [])]
    fields += [_field("540", "  ", ("a", v)) for v in dc.get("rights", [])]
    if dc.get("language") and not languages:
        fields += [_field("546", "  ", ("a", v)) for v in dc["language"]]
    fields += [_field("653", "  ", ("a", v)) for v in dc.get("subject", [])]
    fields += [_field("655", " 7", ("a", v), ("2", "local")) for v in dc.get("type", [])]
    if not main_entry:
        fields += [_field("720", "  ", ("a", v), ("e", "author")) for v in creators]
    fields += [_field("720", "  ", ("a", v)) for v in dc.get("contributor", [])]
    fields += [_field("786", "0 ", ("n", v)) for v in dc.get("source", [])]
    fields += [_field("787", "0 ", ("n", v)) for v in dc.get("relation", [])]
    fields += [_field("856", "40", ("u", v)) for v in urls]
    fields.sort(key=lambda field: field.tag)  # stable: DC order kept within a tag
    record.add_field(*fields)
    return record
