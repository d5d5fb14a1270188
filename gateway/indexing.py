"""What of a MARC record goes into which index: the single table both stores use.

Both store implementations call :func:`index_record` and store its result the same way, so
a record is findable by exactly the same searches whichever store is configured. Text is
folded here (crosswalks.vietnamese) so stores need no Vietnamese-aware tokenizer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pymarc import Record

from crosswalks.identifiers import isbn_key, issn_key
from crosswalks.vietnamese import fold, fold_phrase, sort_key

from .query import Index

__all__ = ["IndexedRecord", "index_record", "key_for", "heading_sort", "strip_isbd", "year_of"]

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

_ISBD_TAIL = re.compile(r"[\s/:;,=]+$")
_YEAR = re.compile(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)")
_SPACE = re.compile(r"\s+")


@dataclass(slots=True)
class IndexedRecord:
    """Folded text per word index, headings per browsable index, and sort values."""

    words: dict[Index, str] = field(default_factory=dict)
    #: (index, key, display) triples: exact-match keys and scan headings.
    keys: list[tuple[Index, str, str]] = field(default_factory=list)
    #: browse order of each entry of ``keys`` (see :func:`heading_sort`), same positions.
    key_sorts: list[str] = field(default_factory=list)
    title_sort: str = ""
    author_sort: str = ""
    year: int | None = None


def strip_isbd(text: str) -> str:
    """Remove ISBD punctuation at the end of a subfield (" /", " :", ";", ",", final ".").

    A final period is kept after a single letter ("Nguyễn, V.") because it belongs to an
    initial, and after an ellipsis.
    """
    text = _ISBD_TAIL.sub("", text.strip())
    if text.endswith(".") and not text.endswith("..."):
        words = text[:-1].split()
        if not (words and len(words[-1].rstrip(".")) == 1):
            text = text[:-1].rstrip()
    return text


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
    if index in (Index.ISBN, Index.ISSN, Index.CONTROL_NUMBER, Index.LANGUAGE, Index.SOURCE):
        return key_for(index, text) or ""
    return sort_key(text, with_case=False)


def year_of(record: Record) -> int | None:
    """Publication year: 008/07-10 when it is a year, else the first year in 260/264 $c."""
    f008 = record.get("008")
    if f008 is not None and f008.data and len(f008.data) >= 11:
        date1 = f008.data[7:11]
        if date1.isdigit() and date1 != "0000":
            return int(date1)
    for tag in ("264", "260"):
        for fld in record.get_fields(tag):
            for value in fld.get_subfields("c"):
                match = _YEAR.search(value)
                if match:
                    return int(match.group(1))
    return None


def _subfield_text(record: Record, table: dict[str, str]) -> list[tuple[str, str]]:
    """(tag, joined subfield text) for every field named in ``table``."""
    out: list[tuple[str, str]] = []
    for fld in record.get_fields(*table):
        codes = table[fld.tag]
        parts = [strip_isbd(s.value) for s in fld.subfields if s.code in codes]
        text = " ".join(p for p in parts if p)
        if text:
            out.append((fld.tag, text))
    return out


def _nonfiling(record: Record) -> str:
    """The 245 title without its non-filing article ("The ", "A ") for sorting."""
    f245 = record.get("245")
    if f245 is None:
        return ""
    text = " ".join(strip_isbd(v) for v in f245.get_subfields("a", "b", "n", "p"))
    skip = f245.indicator2
    if skip and skip.isdigit() and 0 < int(skip) < len(text):
        text = text[int(skip):]
    return text


def index_record(source: str, record: Record) -> IndexedRecord:
    """Extract everything the store indexes from one record of ``source``."""
    out = IndexedRecord()
    keys = out.keys

    titles = _subfield_text(record, _TITLE_TAGS)
    out.words[Index.TITLE] = fold(" ".join(t for _, t in titles))
    for fld in record.get_fields(*_TITLE_HEADING_TAGS):
        codes = _TITLE_HEADING_TAGS[fld.tag]
        heading = " ".join(strip_isbd(s.value) for s in fld.subfields if s.code in codes)
        _add_key(keys, Index.TITLE, heading)

    authors = _subfield_text(record, _AUTHOR_TAGS)
    out.words[Index.AUTHOR] = fold(" ".join(a for _, a in authors))
    for _, heading in authors:
        _add_key(keys, Index.AUTHOR, heading)

    subjects: list[str] = []
    for fld in record.get_fields(*_SUBJECT_TAGS):
        codes = _SUBJECT_TAGS[fld.tag]
        parts = [strip_isbd(s.value) for s in fld.subfields if s.code in codes]
        heading = " -- ".join(p for p in parts if p)
        if heading:
            subjects.append(heading)
            _add_key(keys, Index.SUBJECT, heading)
    out.words[Index.SUBJECT] = fold(" ".join(subjects))

    publishers = _subfield_text(record, _PUBLISHER_TAGS)
    out.words[Index.PUBLISHER] = fold(" ".join(p for _, p in publishers))
    for _, heading in publishers:
        _add_key(keys, Index.PUBLISHER, heading)

    everything: list[str] = []
    for fld in record.fields:
        if not fld.is_control_field() and fld.tag[:1] != "9":
            everything.extend(s.value for s in fld.subfields if s.code.isalpha())
    out.words[Index.ANY] = fold(" ".join(everything))

    for fld in record.get_fields(*_ISBN_TAGS):
        for value in fld.get_subfields(*_ISBN_TAGS[fld.tag]):
            _add_key(keys, Index.ISBN, value)
    for fld in record.get_fields(*_ISSN_TAGS):
        for value in fld.get_subfields(*_ISSN_TAGS[fld.tag]):
            _add_key(keys, Index.ISSN, value)

    f001 = record.get("001")
    if f001 is not None and f001.data:
        _add_key(keys, Index.CONTROL_NUMBER, f001.data)
    for tag, code in (("010", "a"), ("035", "a")):
        for fld in record.get_fields(tag):
            for value in fld.get_subfields(code):
                _add_key(keys, Index.CONTROL_NUMBER, value)

    languages: set[str] = set()
    f008 = record.get("008")
    if f008 is not None and f008.data and len(f008.data) >= 38:
        languages.add(f008.data[35:38])
    for fld in record.get_fields("041"):
        for value in fld.get_subfields("a"):
            languages.update(value[i:i + 3] for i in range(0, len(value) - 2, 3))
    for code in sorted(languages):
        if code.strip() and code.isalpha():
            _add_key(keys, Index.LANGUAGE, code)
    _add_key(keys, Index.SOURCE, source)

    out.year = year_of(record)
    if out.year is not None:
        keys.append((Index.DATE, f"{out.year:04d}", str(out.year)))
    out.key_sorts = [heading_sort(index, display) for index, _, display in keys]
    out.title_sort = sort_key(_nonfiling(record))
    out.author_sort = sort_key(authors[0][1]) if authors else ""
    return out


def _add_key(keys: list[tuple[Index, str, str]], index: Index, display: str) -> None:
    display = display.strip()
    if not display:
        return
    key = key_for(index, display)
    if key and (index, key, display) not in keys:
        keys.append((index, key, display))
