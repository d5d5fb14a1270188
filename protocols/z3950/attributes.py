"""The Bib-1 attribute set (``1.2.840.10003.3.1``) as data: what each attribute value means here.

A Type-1 term carries up to six attributes: use (which field), relation, position,
structure, truncation and completeness (how the term meets the field). The tables below say,
for every value this target accepts, which store index and which kind of match it becomes;
:mod:`protocols.z3950.rpn` reads them and builds the query. Following the Bath profile,
values Bib-1 defines are honoured by the nearest search the store can do, and only values
outside Bib-1 (or a handful the store truly cannot do: left truncation, AlwaysMatches) get
the attribute type's diagnostic; an unknown use attribute is 114, an attribute type other
than 1-6 is 113, an attribute set other than Bib-1 is 121.

What the store indexes (``gateway.indexing``) decides the use table: 1XX/7XX names are the
author index, 130/240/245/246/4XX/7XX/8XX titles the title index, 6XX the subject index, 001,
010 $a and 035 $a the control-number index, every other text field (notes, places, 852
holdings) only the "any" index. Classification and call numbers (050/060/080/082/084/090
...) have no index of their own but are among the "any" words, so Dewey and LC call number
searches are phrase searches there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from gateway.query import Index, Match, Relation, SortField

from .errors import Diagnostic, Z3950Error

__all__ = [
    "BIB1",
    "Hint",
    "UseAttribute",
    "USE_ATTRIBUTES",
    "USE_NAMES",
    "RelationMeaning",
    "RELATIONS",
    "POSITIONS",
    "Structure",
    "STRUCTURES",
    "Truncation",
    "TRUNCATIONS",
    "Completeness",
    "COMPLETENESS",
    "AttributeType",
    "ATTRIBUTE_TYPES",
    "Attributes",
    "resolve_attributes",
    "SORT_USES",
    "SORT_FIELD_NAMES",
]

#: The Bib-1 attribute set: the only one this target interprets.
BIB1 = "1.2.840.10003.3.1"


class Hint(Enum):
    """What a use attribute needs beyond its index."""

    NONE = "none"
    #: ISBN, ISSN or another number: the term's shape decides the index (as SRU's
    #: ``bath.standardIdentifier`` does).
    STANDARD_IDENTIFIER = "standard identifier"
    #: LC control numbers are written "85-12345" and stored "85012345": normalised per LC.
    LCCN = "lccn"
    #: OCLC numbers are stored as 035 "(OCoLC)12345678" or "(OCoLC)ocm12345678".
    OCLC = "oclc"
    #: A classification code searched as one phrase of the "any" words; not a heading, so
    #: never matched against headings and not browsable.
    CALL_NUMBER = "call number"
    #: A field the store keeps only among the "any" words (notes, places): word and phrase
    #: matching only, never against headings, and not browsable.
    FREE_TEXT = "free text"


@dataclass(frozen=True, slots=True)
class UseAttribute:
    """A Bib-1 use attribute: its Bib-1 name, the store index it searches, and any hint."""

    name: str
    index: Index
    hint: Hint = Hint.NONE

    @property
    def browsable(self) -> bool:
        """Whether Scan on this attribute lists its own values (the index's headings or keys)."""
        return self.hint not in (Hint.CALL_NUMBER, Hint.FREE_TEXT)


#: Every Bib-1 use attribute copy cataloguing relies on (the reference list and the Bath
#: profile), by value. Names are Bib-1's, as Zebra's ``bib1.att`` spells them; a complex
#: (string) use attribute may name one of them.
USE_ATTRIBUTES: dict[int, UseAttribute] = {
    # Names: the author index holds 1XX/7XX/8XX personal, corporate and meeting names.
    1: UseAttribute("personal-name", Index.AUTHOR),
    2: UseAttribute("corporate-name", Index.AUTHOR),
    3: UseAttribute("conference-name", Index.AUTHOR),
    1003: UseAttribute("author", Index.AUTHOR),
    1004: UseAttribute("author-name-personal", Index.AUTHOR),
    # Titles: 245/246, uniform titles (130/240/730) and series (440/490/830) are all in the
    # title index. Key title (222) is not, but a serial's 245 nearly always carries it.
    4: UseAttribute("title", Index.TITLE),
    5: UseAttribute("title-series", Index.TITLE),
    6: UseAttribute("title-uniform", Index.TITLE),
    33: UseAttribute("title-key", Index.TITLE),
    # Subjects: 6XX, LCSH or not (the store does not keep the thesaurus apart).
    21: UseAttribute("subject-heading", Index.SUBJECT),
    27: UseAttribute("lc-subject-heading", Index.SUBJECT),
    # Numbers.
    7: UseAttribute("isbn", Index.ISBN),
    8: UseAttribute("issn", Index.ISSN),
    9: UseAttribute("lc-card-number", Index.CONTROL_NUMBER, Hint.LCCN),  # 010 $a
    12: UseAttribute("local-number", Index.CONTROL_NUMBER),  # 001, 010 $a, 035 $a
    1007: UseAttribute("identifier-standard", Index.CONTROL_NUMBER, Hint.STANDARD_IDENTIFIER),
    1211: UseAttribute("oclc-number", Index.CONTROL_NUMBER, Hint.OCLC),  # 035 $a (OCoLC)
    # Classification: see the module docstring (phrases among the "any" words).
    13: UseAttribute("dewey-classification", Index.ANY, Hint.CALL_NUMBER),
    16: UseAttribute("lc-call-number", Index.ANY, Hint.CALL_NUMBER),
    # Dates: the record's year (008/07-10, else 260/264 $c).
    30: UseAttribute("date", Index.DATE),
    31: UseAttribute("date-of-publication", Index.DATE),
    # Codes.
    54: UseAttribute("code-language", Index.LANGUAGE),  # 008/35-37 and 041 $a
    1044: UseAttribute("possessing-institution", Index.SOURCE),  # the member library
    # Text that only the "any" words hold: 260/264 $a, 5XX notes. Material type has no
    # index of its own (the leader and 33X are not indexed); genre/form (655) and the
    # words of the record are the nearest thing that can answer "map" or "thesis".
    59: UseAttribute("place-publication", Index.ANY, Hint.FREE_TEXT),
    63: UseAttribute("note", Index.ANY, Hint.FREE_TEXT),
    1031: UseAttribute("material-type", Index.ANY, Hint.FREE_TEXT),
    1018: UseAttribute("publisher", Index.PUBLISHER),
    # Everything: all five word columns (title, author, subject, publisher, other).
    1016: UseAttribute("any", Index.ANY),
    1035: UseAttribute("anywhere", Index.ANY),
}  # fmt: skip

#: Complex (string) use attributes: Bib-1 names, case-insensitive, and the short names
#: clients use in their place.
USE_NAMES: dict[str, int] = {use.name: value for value, use in USE_ATTRIBUTES.items()} | {
    "subject": 21,
    "lccn": 9,
    "oclc": 1211,
    "standard-identifier": 1007,
    "language": 54,
    "keyword": 1016,
}


@dataclass(frozen=True, slots=True)
class RelationMeaning:
    """A relation attribute as the store takes it: an order (dates only), maybe negated."""

    order: Relation
    negated: bool = False


#: Relation (type 2). Order relations compare years; on other indexes they are read as
#: "=" (Bath: the nearest sensible search). Phonetic, stem and relevance are "=": matching
#: already folds case and marks, and results are ranked anyway. AlwaysMatches (103) is not
#: here (the store cannot ask "has this field"): 117.
RELATIONS: dict[int, RelationMeaning] = {
    1: RelationMeaning(Relation.LT),
    2: RelationMeaning(Relation.LE),
    3: RelationMeaning(Relation.EQ),
    4: RelationMeaning(Relation.GE),
    5: RelationMeaning(Relation.GT),
    6: RelationMeaning(Relation.EQ, negated=True),
    100: RelationMeaning(Relation.EQ),
    101: RelationMeaning(Relation.EQ),
    102: RelationMeaning(Relation.EQ),
}

#: Position (type 3): whether the term is anchored at the start of the field. The store keeps
#: no subfield boundaries, so "first in subfield" is searched anywhere (a superset).
POSITIONS: dict[int, bool] = {1: True, 2: False, 3: False}


@dataclass(frozen=True, slots=True)
class Structure:
    """A structure attribute: how the words match on a text index, and whether it is a date."""

    match: Match
    date: bool = False


#: Structure (type 4), as Zebra reads them where Bib-1 leaves room: word list (6) is every
#: word, free-form and document text (105, 106) any word, string (108: YAZ's CQL "==")
#: and key (3) the whole field. Dates on a text index are searched as words.
STRUCTURES: dict[int, Structure] = {
    1: Structure(Match.PHRASE),
    2: Structure(Match.ALL_WORDS),
    3: Structure(Match.EXACT),
    4: Structure(Match.ALL_WORDS, date=True),  # year
    5: Structure(Match.ALL_WORDS, date=True),  # date (normalised)
    6: Structure(Match.ALL_WORDS),
    100: Structure(Match.ALL_WORDS, date=True),  # date (un-normalised)
    101: Structure(Match.ALL_WORDS),  # name (normalised): "Nguyen, Du" in either order
    102: Structure(Match.ALL_WORDS),  # name (un-normalised)
    103: Structure(Match.ALL_WORDS),  # structure
    104: Structure(Match.PHRASE),  # URx: its parts in order
    105: Structure(Match.ANY_WORD),  # free-form text
    106: Structure(Match.ANY_WORD),  # document text
    107: Structure(Match.EXACT),  # local number
    108: Structure(Match.EXACT),  # string
    109: Structure(Match.PHRASE),  # numeric string: its digit groups in order
}


class Truncation(Enum):
    """How a truncation attribute marks the term's open end."""

    NONE = "none"
    RIGHT = "right"  #: the whole term is right-truncated
    HASH = "#"  #: 101: '#' stands for any characters
    Z3958 = "z39.58"  #: 104: '?' (optionally '?n') any characters, '#' one character
    REGEX = "regex"  #: 102/103: a regular expression; only a literal or a final ".*"


#: Truncation (type 5). Left and left-and-right truncation (2, 3) are not here: the store's
#: word index only matches word prefixes, so they are 120. A mask inside a word is 120 too.
TRUNCATIONS: dict[int, Truncation] = {
    1: Truncation.RIGHT,
    100: Truncation.NONE,
    101: Truncation.HASH,
    102: Truncation.REGEX,
    103: Truncation.REGEX,  # regExpr-2 (Zebra's fuzzy match): a literal is searched as is
    104: Truncation.Z3958,
}


class Completeness(Enum):
    """How much of the field the term covers."""

    INCOMPLETE = "incomplete subfield"
    SUBFIELD = "complete subfield"  #: no subfield boundaries in the store: a phrase
    FIELD = "complete field"  #: the whole heading


#: Completeness (type 6).
COMPLETENESS: dict[int, Completeness] = {
    1: Completeness.INCOMPLETE,
    2: Completeness.SUBFIELD,
    3: Completeness.FIELD,
}


@dataclass(frozen=True, slots=True)
class AttributeType:
    """One Bib-1 attribute type: its name, the values accepted, and the diagnostic for others."""

    name: str
    values: Mapping[int, object]
    diagnostic: Diagnostic
    #: String values a complex attribute may carry (lower case) and the value each stands for.
    names: Mapping[str, int]


#: The six Bib-1 attribute types; any other type is diagnostic 113.
ATTRIBUTE_TYPES: dict[int, AttributeType] = {
    1: AttributeType("use", USE_ATTRIBUTES, Diagnostic.UNSUPPORTED_USE_ATTRIBUTE, USE_NAMES),
    2: AttributeType("relation", RELATIONS, Diagnostic.UNSUPPORTED_RELATION, {}),
    3: AttributeType("position", POSITIONS, Diagnostic.UNSUPPORTED_POSITION, {}),
    4: AttributeType("structure", STRUCTURES, Diagnostic.UNSUPPORTED_STRUCTURE, {}),
    5: AttributeType("truncation", TRUNCATIONS, Diagnostic.UNSUPPORTED_TRUNCATION, {}),
    6: AttributeType("completeness", COMPLETENESS, Diagnostic.UNSUPPORTED_COMPLETENESS, {}),
}


@dataclass(frozen=True, slots=True)
class Attributes:
    """The attributes of one term, checked against the tables (absent ones at their defaults).

    No use attribute means "any" (or the date index for a year or date structure); the
    other defaults are Bib-1's: "=", any position, no truncation, incomplete subfield. No
    structure attribute leaves the choice to the target (every word, like CQL's "=").
    """

    use: int | None = None
    relation: int = 3
    position: int = 3
    structure: int | None = None
    truncation: int = 100
    completeness: int = 1

    @property
    def use_attribute(self) -> UseAttribute | None:
        """The use attribute's table entry (None: none given)."""
        return None if self.use is None else USE_ATTRIBUTES[self.use]


_FIELDS = {1: "use", 2: "relation", 3: "position", 4: "structure", 5: "truncation",
           6: "completeness"}  # fmt: skip


def resolve_attributes(
    elements: Sequence[Mapping[str, Any]], attribute_set: str | None
) -> Attributes:
    """Check a decoded AttributeList against the tables; raise the diagnostic that applies.

    ``attribute_set`` is the query's (or the scan's) set; an element naming its own set
    overrides it, and None means Bib-1. A type given twice with different values is 123:
    Bib-1 gives no meaning to two use (or two relation) attributes on one term.
    """
    values: dict[int, int] = {}
    for element in elements:
        oid = element.get("attributeSet", attribute_set)
        if oid is not None and oid != BIB1:
            raise Z3950Error(Diagnostic.UNSUPPORTED_ATTRIBUTE_SET, str(oid))
        kind = element["attributeType"]
        rule = ATTRIBUTE_TYPES.get(kind)
        if rule is None:
            raise Z3950Error(Diagnostic.UNSUPPORTED_ATTRIBUTE_TYPE, str(kind))
        value = _value(rule, element["attributeValue"])
        if values.get(kind, value) != value:
            raise Z3950Error(
                Diagnostic.UNSUPPORTED_COMBINATION, f"{kind}={values[kind]} {kind}={value}"
            )
        values[kind] = value
    return Attributes(**{_FIELDS[kind]: value for kind, value in values.items()})


def _value(rule: AttributeType, choice: tuple[str, Any]) -> int:
    """The numeric value of a numeric or complex attribute value, checked against ``rule``.

    A complex value lists alternatives (strings or numbers); the first one this target
    knows is taken, and the diagnostic names the first one when none is known.
    """
    kind, value = choice
    if kind == "numeric":
        alternatives: list[tuple[str, Any]] = [("numeric", value)]
    elif kind == "complex":
        alternatives = list(value.get("list", ()))
    else:
        raise Z3950Error(Diagnostic.MALFORMED_QUERY, f"attribute value {kind}")
    for alternative_kind, alternative in alternatives:
        if alternative_kind == "numeric" and alternative in rule.values:
            return int(alternative)
        if alternative_kind == "string" and str(alternative).lower() in rule.names:
            return rule.names[str(alternative).lower()]
    first = str(alternatives[0][1]) if alternatives else ""
    raise Z3950Error(rule.diagnostic, first)


#: Sort (SortKeySpec sortAttributes): which use attributes the store can order by. The
#: author order is the record's first name heading, so every name attribute sorts by it.
SORT_USES: dict[int, SortField] = {
    4: SortField.TITLE,
    1: SortField.AUTHOR,
    2: SortField.AUTHOR,
    3: SortField.AUTHOR,
    1003: SortField.AUTHOR,
    1004: SortField.AUTHOR,
    30: SortField.DATE,
    31: SortField.DATE,
}

#: Sort (SortKeySpec sortfield): names clients send (yaz-client ``sort title ia``), lower
#: case; Bib-1 use names are read through :data:`USE_NAMES` as well.
SORT_FIELD_NAMES: dict[str, SortField] = {
    "title": SortField.TITLE,
    "author": SortField.AUTHOR,
    "creator": SortField.AUTHOR,
    "name": SortField.AUTHOR,
    "date": SortField.DATE,
    "year": SortField.DATE,
}
