"""The shared query model: what SRU's CQL and Z39.50's Type-1 queries both become.

Protocols translate their query languages into these values; the store answers them. The
model is deliberately small: terms on named indexes, three boolean operators, and an
explicit set of record numbers (a previous result set used as an operand).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Index",
    "Match",
    "Relation",
    "Term",
    "And",
    "Or",
    "AndNot",
    "RecordNumbers",
    "AllRecords",
    "Query",
    "SortField",
    "SortKey",
    "QueryError",
    "TEXT_INDEXES",
    "standard_number_index",
]


class Index(StrEnum):
    """Searchable indexes. Every protocol maps its own index names onto these."""

    TITLE = "title"
    AUTHOR = "author"
    SUBJECT = "subject"
    PUBLISHER = "publisher"
    ANY = "any"
    ISBN = "isbn"
    ISSN = "issn"
    DATE = "date"
    CONTROL_NUMBER = "control_number"
    LANGUAGE = "language"
    SOURCE = "source"


#: Indexes of free text: word, phrase and exact-field matching, browsable headings.
TEXT_INDEXES = frozenset({Index.TITLE, Index.AUTHOR, Index.SUBJECT, Index.PUBLISHER, Index.ANY})


class Match(StrEnum):
    """How a term's words meet the indexed text."""

    ALL_WORDS = "all"  #: every word somewhere in the field (CQL ``all``, Bath word list)
    ANY_WORD = "any"  #: at least one word (CQL ``any``)
    PHRASE = "phrase"  #: the words adjacent and in order (CQL ``=`` on a quoted phrase, ``adj``)
    EXACT = "exact"  #: the whole field, nothing more (CQL ``==``, Bath complete field)


class Relation(StrEnum):
    """Comparison for ordered indexes (dates/years)."""

    EQ = "="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


class QueryError(ValueError):
    """A query the store cannot answer as asked (bad value for an index, unsupported relation).

    Protocols turn it into their own diagnostic; ``index`` and ``value`` say what was wrong.
    """

    def __init__(self, message: str, *, index: str | None = None, value: str | None = None):
        super().__init__(message)
        self.index = index
        self.value = value


@dataclass(frozen=True, slots=True)
class Term:
    """A search term on one index.

    ``truncated`` means right truncation of the last word (or of the whole value for exact
    and key matches). ``relation`` other than ``=`` is only meaningful on the date index.
    """

    index: Index
    value: str
    match: Match = Match.ALL_WORDS
    truncated: bool = False
    relation: Relation = Relation.EQ


@dataclass(frozen=True, slots=True)
class And:
    """Records matching both operands."""

    left: Query
    right: Query


@dataclass(frozen=True, slots=True)
class Or:
    """Records matching either operand."""

    left: Query
    right: Query


@dataclass(frozen=True, slots=True)
class AndNot:
    """Records matching ``left`` but not ``right`` (CQL ``not``, Z39.50 AND-NOT)."""

    left: Query
    right: Query


@dataclass(frozen=True, slots=True)
class RecordNumbers:
    """An explicit set of record numbers: a stored result set used as an operand."""

    numbers: frozenset[int]


@dataclass(frozen=True, slots=True)
class AllRecords:
    """Every live record (CQL ``cql.allRecords``)."""


Query = Term | And | Or | AndNot | RecordNumbers | AllRecords


class SortField(StrEnum):
    """Orders the store can sort a result by."""

    RELEVANCE = "relevance"
    TITLE = "title"
    AUTHOR = "author"
    DATE = "date"


@dataclass(frozen=True, slots=True)
class SortKey:
    """One sort criterion; text sorts in Vietnamese alphabetical order."""

    field: SortField
    descending: bool = False


_ISBN = re.compile(r"^(97[89])?[\d-]{9,13}[\dxX]$")
_ISSN = re.compile(r"^\d{4}-?\d{3}[\dxX]$")


def standard_number_index(text: str) -> Index:
    """Which index a "standard identifier" term searches, from its shape: ISSN (8 digits,
    perhaps hyphenated), ISBN (10 or 13), else the control numbers. SRU's
    ``dc.identifier`` and Z39.50's use attribute 1007 both ask this."""
    compact = text.replace(" ", "")
    if _ISSN.match(compact):
        return Index.ISSN
    if _ISBN.match(compact):
        return Index.ISBN
    return Index.CONTROL_NUMBER
