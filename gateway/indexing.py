"""What of a MARC record goes into which index: the single table both stores use.

Both store implementations call :func:`index_record` and store its result the same way, so
a record is findable by exactly the same searches whichever store is configured. Text is
folded here (crosswalks.vietnamese) so stores need no Vietnamese-aware tokenizer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pymarc import Record

from crosswalks.identifiers import isbn_key, issn_key
from crosswalks.marcjson import marc_json_text
from crosswalks.punctuation import strip_isbd
from crosswalks.vietnamese import fold, fold_phrase, sort_key

from .query import Index
from .record import CanonicalRecord, content_digest

__all__ = [
    "IndexedRecord",
    "PreparedRecord",
    "WORD_COLUMNS",
    "index_record",
    "prepare_record",
    "key_for",
    "keys_json",
    "heading_sort",
    "year_of",
]

# Which subfields of which tags feed the word indexes (title, author, subject, publisher)
# and the heading lists used for exact matching and scan. Grammar as data, per the design.
_TITLE_TAGS = {
    "245": "abfgknps",
    "246": "abnp",
    "130": "adfklmnoprs",
    "240": "adfklmnoprs",
    "730": "adfklmnoprst",
    "740": "anp",
    "490": "a",
    "830": "anp",
    "440": "anp",
}
_TITLE_HEADING_TAGS = {"245": "abnp", "246": "abnp", "130": "anp", "240": "anp", "730": "anp",
                       "740": "anp", "830": "anp"}  # fmt: skip
_AUTHOR_TAGS = {tag: "abcdq" for tag in ("100", "700", "800", "720")}
_AUTHOR_TAGS.update({tag: "abcdn" for tag in ("110", "111", "710", "711", "810", "811")})
_SUBJECT_TAGS = {tag: "abcdvxyz" for tag in ("600", "610", "611", "630", "648", "650", "651",
                                             "653", "654", "655", "656", "657", "690")}  # fmt: skip
_PUBLISHER_TAGS = {"260": "b", "264": "b", "028": "b"}
_ISBN_TAGS = {"020": "az"}
_ISSN_TAGS = {"022": "alyz"}

_YEAR = re.compile(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)")
_SPACE = re.compile(r"\s+")


#: Word-index columns in the order stores keep them; "other" is every remaining text, so
#: the ANY index searches all five columns and no text is indexed twice.
WORD_COLUMNS = ("title", "author", "subject", "publisher", "other")
#: Indexes whose headings are browsable text (sorted with Vietnamese sort keys).
TEXT_HEADINGS = frozenset({Index.TITLE, Index.AUTHOR, Index.SUBJECT, Index.PUBLISHER})
_HEADING_NAMES = frozenset(index.value for index in TEXT_HEADINGS)


@dataclass(slots=True)
class IndexedRecord:
    """Folded text per word column, (index, key, sort, display) headings, sort values."""

    words: tuple[str, str, str, str, str] = ("", "", "", "", "")
    #: (index name, match key, browse sort key, display form) for exact match and scan.
    keys: list[tuple[str, str, str, str]] = field(default_factory=list)
    title_sort: str = ""
    author_sort: str = ""
    year: int | None = None

    def __reduce__(self) -> tuple[object, ...]:
        # Positional pickling: import workers send one of these per record, and the
        # generic slots-dataclass path costs more than building the record did.
        return (IndexedRecord, (self.words, self.keys, self.title_sort, self.author_sort,
                                self.year))  # fmt: skip


def key_for(index: Index, value: str) -> str | None:
    """The comparison key of ``value`` in ``index``: the same function for data and queries."""
    if index is Index.ISBN:
        return isbn_key(value)
    if index is Index.ISSN:
        return issn_key(value)
    if index in (Index.CONTROL_NUMBER, Index.LANGUAGE, Index.SOURCE):
        key = _SPACE.sub("", fold(value))
        return key or None
    key = fold_phrase(value)
    return key or None


def heading_sort(index: Index, text: str) -> str:
    """Browse (scan) order of a heading, for data and for a scan's start term alike.

    Text headings browse in Vietnamese alphabetical order, ignoring case; codes and numbers
    browse by their key (years as four digits).
    """
    if index is Index.DATE:
        match = _YEAR.search(text)
        return match.group(1) if match else text.strip()
    if index in TEXT_HEADINGS or index is Index.ANY:
        return sort_key(text)
    return key_for(index, text) or ""


def year_of(record: Record) -> int | None:
    """Publication year: 008/07-10 when it is a year, else the first year in 260/264 $c."""
    f008 = record.get("008")
    if f008 is not None and f008.data and len(f008.data) >= 11:
        date1 = f008.data[7:11]
        if date1.isascii() and date1.isdigit() and date1 != "0000":
            return int(date1)
    for tag in ("264", "260"):
        for fld in record.get_fields(tag):
            for value in fld.get_subfields("c"):
                match = _YEAR.search(value)
                if match:
                    return int(match.group(1))
    return None


def _nonfiling(record: Record) -> str:
    """The 245 title without its non-filing article ("The ", "A ") for sorting."""
    f245 = record.get("245")
    if f245 is None:
        return ""
    text = " ".join(strip_isbd(v) for v in f245.get_subfields("a", "b", "n", "p"))
    skip = f245.indicator2
    if skip and skip.isascii() and skip.isdigit() and 0 < int(skip) < len(text):
        text = text[int(skip) :]
    return text


# tag -> (index, subfields for words, subfields for the heading, heading joiner)
_TEXT_FIELDS: dict[str, tuple[Index, str, str, str]] = {}
for _tag, _codes in _TITLE_TAGS.items():
    _TEXT_FIELDS[_tag] = (Index.TITLE, _codes, _TITLE_HEADING_TAGS.get(_tag, ""), " ")
for _tag, _codes in _AUTHOR_TAGS.items():
    _TEXT_FIELDS[_tag] = (Index.AUTHOR, _codes, _codes, " ")
for _tag, _codes in _SUBJECT_TAGS.items():
    _TEXT_FIELDS[_tag] = (Index.SUBJECT, _codes, _codes, " -- ")
for _tag, _codes in _PUBLISHER_TAGS.items():
    _TEXT_FIELDS[_tag] = (Index.PUBLISHER, _codes, _codes, " ")
_KEY_FIELDS: dict[str, tuple[Index, str]] = {
    "020": (Index.ISBN, "az"),
    "022": (Index.ISSN, "alyz"),
    "010": (Index.CONTROL_NUMBER, "a"),
    "035": (Index.CONTROL_NUMBER, "a"),
}
# What else goes into the "any" words: the text fields (1XX-8XX), the standard numbers
# people paste into a search box, and call numbers (below). Other 0XX fields are codes
# (cataloguing source, geographic codes) that would make "dlc" match the whole catalogue;
# 9XX are local fields with no common meaning.
_OTHER_TEXT_BLOCKS = frozenset("12345678")
# Physical description and RDA content/media/carrier types: "24 cm", "text", "volume"
# would match nearly every record of a catalogue.
_NOT_TEXT = frozenset({"300", "336", "337", "338", "340", "344", "345", "346", "347", "348"})
# Classification and call numbers are searched too: copy cataloguers (Koha's Z39.50 "Dewey"
# and "LC call number" fields) look records up by the shelf mark on the book in hand.
_OTHER_TEXT_CODES = frozenset({"020", "022", "024", "027", "028", "050", "055", "060", "070",
                               "080", "082", "083", "084", "086", "090", "092", "099"})  # fmt: skip
_COLUMN = {Index.TITLE: 0, Index.AUTHOR: 1, Index.SUBJECT: 2, Index.PUBLISHER: 3}


def index_record(record: Record) -> IndexedRecord:
    """Extract everything the store indexes from one record, in one pass over its fields
    (this runs for every record of every import). The source library and the year are
    columns of the record itself in every store, so they are not keys here."""
    out = IndexedRecord()
    columns: tuple[list[str], ...] = ([], [], [], [], [])
    headings: list[tuple[Index, str]] = []
    languages: list[str] = []
    for fld in record.fields:
        tag = fld.tag
        if fld.is_control_field():
            data = fld.data or ""
            if tag == "001" and data.strip():
                headings.append((Index.CONTROL_NUMBER, data))
            elif tag == "008" and len(data) >= 38:
                languages.append(data[35:38])
            continue
        subfields = fld.subfields
        text_role = _TEXT_FIELDS.get(tag)
        if text_role is not None:
            index, word_codes, heading_codes, joiner = text_role
            column = columns[_COLUMN[index]]
            other = columns[4]
            parts = []
            for sub in subfields:
                if sub.code in word_codes:
                    column.append(sub.value)
                    if sub.code in heading_codes:
                        parts.append(strip_isbd(sub.value))
                elif sub.code.isalpha():
                    other.append(sub.value)
            heading = joiner.join(p for p in parts if p)
            if heading:
                headings.append((index, heading))
            continue
        key_role = _KEY_FIELDS.get(tag)
        if key_role is not None:
            index, codes = key_role
            headings.extend((index, s.value) for s in subfields if s.code in codes)
        elif tag == "041":
            for value in (s.value for s in subfields if s.code == "a"):
                languages.extend(value[i : i + 3] for i in range(0, len(value) - 2, 3))
        if (tag[0] in _OTHER_TEXT_BLOCKS and tag not in _NOT_TEXT) or tag in _OTHER_TEXT_CODES:
            columns[4].extend(s.value for s in subfields if s.code.isalpha())
    out.words = tuple(fold(" ".join(parts)) for parts in columns)  # type: ignore[assignment]

    headings.extend((Index.LANGUAGE, code) for code in languages if code.isalpha())
    keys = out.keys
    seen: set[tuple[str, str, str]] = set()
    for index, display in headings:
        display = display.strip()
        key = key_for(index, display) if display else None
        if key is None or (index.value, key, display) in seen:
            continue
        seen.add((index.value, key, display))
        sort = sort_key(display) if index in TEXT_HEADINGS else key
        keys.append((index.value, key, sort, display))
        if index is Index.AUTHOR and not out.author_sort:
            out.author_sort = sort

    out.year = year_of(record)
    out.title_sort = sort_key(_nonfiling(record))
    return out


@dataclass(slots=True)
class PreparedRecord:
    """A canonical record reduced to what a store writes: plain strings, no pymarc objects.

    Preparing is most of an import's work and needs no database, so it can run in worker
    processes (the value pickles cheaply) while one writer commits; both stores take it.
    """

    source: str
    local_id: str
    oai_identifier: str
    marc_json: str
    sets: tuple[str, ...]
    sets_json: str
    items_json: str
    content_hash: str
    index: IndexedRecord
    #: JSON [[index, key, sort], ...] with sort empty for codes: what a store needs to find
    #: and remove this record's index entries later without a reverse index.
    keys_json: str

    def __reduce__(self) -> tuple[object, ...]:
        return (PreparedRecord, (self.source, self.local_id, self.oai_identifier,
                                 self.marc_json, self.sets, self.sets_json, self.items_json,
                                 self.content_hash, self.index, self.keys_json))  # fmt: skip


def prepare_record(record: CanonicalRecord) -> PreparedRecord:
    """Index, serialise and hash ``record`` once, for any store."""
    marc_json = marc_json_text(record.marc)
    sets = tuple(sorted(record.sets))
    index = index_record(record.marc)
    return PreparedRecord(
        source=record.source,
        local_id=record.local_id,
        oai_identifier=record.oai_identifier,
        marc_json=marc_json,
        sets=sets,
        sets_json=json.dumps(sets, ensure_ascii=False),
        items_json=json.dumps([i.as_dict() for i in record.items], ensure_ascii=False)
        if record.items
        else "[]",
        content_hash=content_digest(marc_json, record.sets, record.items),
        index=index,
        keys_json=keys_json(index),
    )


def keys_json(index: IndexedRecord) -> str:
    """JSON [[index, key, sort], ...] of a record's index keys (sort empty for codes)."""
    keys = [
        [name, key, sort if name in _HEADING_NAMES else ""] for name, key, sort, _ in index.keys
    ]
    return json.dumps(keys, ensure_ascii=False)
