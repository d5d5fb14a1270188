"""Type-1 (RPN) queries, Scan terms and Sort keys, as decoded from BER, to the query model.

Input is what asn1tools makes of the Z39.50 ASN.1 (SEQUENCE -> dict, CHOICE -> (name, value)
tuple). The attribute tables are in :mod:`protocols.z3950.attributes`; this module decodes
terms in the session's character set, walks the operator tree without recursion (a
malicious query nested 100 000 deep costs a loop, not the interpreter's stack) and builds
the store's terms. Every refusal is a :class:`Z3950Error` with the Bib-1 diagnostic a
client can show, never an exception of another kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from pymarc import marc8_mapping
from pymarc.marc8 import MARC8ToUnicode

from crosswalks.vietnamese import fold_words, normalize
from gateway.indexing import key_for
from gateway.query import (
    TEXT_INDEXES,
    AllRecords,
    And,
    AndNot,
    Index,
    Match,
    Or,
    Query,
    RecordNumbers,
    Relation,
    SortField,
    SortKey,
    Term,
    standard_number_index,
)

from .attributes import (
    COMPLETENESS,
    POSITIONS,
    RELATIONS,
    SORT_FIELD_NAMES,
    SORT_USES,
    STRUCTURES,
    TRUNCATIONS,
    USE_NAMES,
    Attributes,
    Completeness,
    Hint,
    Truncation,
    UseAttribute,
    resolve_attributes,
)
from .codec import text_of
from .errors import Diagnostic, Z3950Error

__all__ = [
    "TermEncoding",
    "ResultSets",
    "decode_term",
    "term_text",
    "map_rpn",
    "map_term",
    "map_scan_term",
    "map_sort",
]

#: Looks up a named result set of the session: its record numbers, or None when unknown.
ResultSets = Callable[[str], frozenset[int] | None]


class TermEncoding(StrEnum):
    """The character set search terms arrive in, as charset negotiation left it."""

    UTF8 = "utf-8"  #: negotiated UTF-8: anything else is a malformed term
    MARC8 = "marc-8"  #: negotiated MARC-8 (ASCII + ANSEL and the escape sequences)
    UNNEGOTIATED = "unnegotiated"  #: no negotiation: UTF-8 when valid, else Latin-1 (Bath 0)


# C0 and C1 controls and DEL: no search term has a reason to carry one, and they would
# reach logs and diagnostics.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# MARC-8 bytes that are not text: C0 controls other than ESC (which designates character
# sets), DEL, and the C1 range apart from the four MARC-8 C1 controls (non-sort begin/end,
# joiner, zero width non-joiner), which the decoder drops.
_MARC8_CONTROL = re.compile(rb"[\x00-\x1a\x1c-\x1f\x7f\x80-\x87\x8a-\x8c\x8f-\x9f]")
_ANSEL = marc8_mapping.CODESETS[0x45]


def decode_term(raw: bytes, encoding: TermEncoding) -> str:
    """The text of a term's bytes in the session's character set, NFC (Vietnamese-aware).

    Invalid UTF-8 under negotiated UTF-8, bytes that are neither MARC-8 nor UTF-8 under
    negotiated MARC-8, and control characters are diagnostic 125 (Malformed search term):
    guessing would search for something the user did not type.
    """
    if encoding is TermEncoding.MARC8:
        # Clients that negotiate MARC-8 for the records often still send the terms typed
        # in UTF-8 (zoomsh without rpnCharset). Non-ASCII bytes that are valid UTF-8 mean
        # that: MARC-8 text puts its marks (0xE0-0xFE) before ASCII letters, which is
        # never valid UTF-8, and reading "Lê" as MARC-8 would search for "L©®".
        try:
            text = raw.decode("utf-8") if not raw.isascii() else _decode_marc8(raw)
        except UnicodeDecodeError:
            text = _decode_marc8(raw)
    elif encoding is TermEncoding.UTF8:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Z3950Error(Diagnostic.MALFORMED_TERM, "not UTF-8") from None
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    if CONTROL_CHARACTERS.search(text):
        raise Z3950Error(Diagnostic.MALFORMED_TERM, "control character in term")
    return normalize(text)


def _decode_marc8(raw: bytes) -> str:
    if _MARC8_CONTROL.search(raw):
        raise Z3950Error(Diagnostic.MALFORMED_TERM, "control character in term")
    # Without escape sequences every byte is ASCII or ANSEL; pymarc would turn a byte
    # that is neither into a space, so it is checked here. (With escapes, other sets
    # apply and pymarc's reading is trusted.)
    if b"\x1b" not in raw and any(byte >= 0x80 and byte not in _ANSEL for byte in raw):
        raise Z3950Error(Diagnostic.MALFORMED_TERM, "not MARC-8")
    try:
        return str(MARC8ToUnicode(quiet=True).translate(raw))
    except (UnicodeDecodeError, IndexError, KeyError, TypeError, ValueError):
        raise Z3950Error(Diagnostic.MALFORMED_TERM, "not MARC-8") from None


def term_text(term: tuple[str, Any], encoding: TermEncoding) -> str:
    """The text of a decoded Term CHOICE: octets and character strings in the session's
    character set, integers as decimal digits; other term types are diagnostic 124."""
    kind, value = term
    if kind == "numeric":
        return str(int(value))
    if kind == "general":
        return decode_term(bytes(value), encoding)
    if kind == "characterString":
        # asn1tools hands InternationalString over as its bytes read as Latin-1; their
        # real character set is the session's. A string holding more than Latin-1 was
        # built by hand, already as text.
        try:
            raw = str(value).encode("latin-1")
        except UnicodeEncodeError:
            return normalize(str(value))
        return decode_term(raw, encoding)
    raise Z3950Error(Diagnostic.UNSUPPORTED_TERM_TYPE, kind)


# -- the operator tree -----------------------------------------------------------------

_OPERATORS: dict[str, Callable[[Query, Query], Query]] = {"and": And, "or": Or,
                                                           "and-not": AndNot}  # fmt: skip


def map_rpn(
    query: Mapping[str, Any],
    *,
    encoding: TermEncoding,
    result_sets: ResultSets,
    max_depth: int = 64,
) -> Query:
    """The store query for a decoded RPNQuery (``{'attributeSet': oid, 'rpn': ...}``).

    Operators nested more than ``max_depth`` deep are diagnostic 108; the tree is walked
    with an explicit stack, so no depth reaches Python's recursion limit. A result set
    operand becomes its record numbers (``result_sets``), or diagnostic 30 when unknown.
    Proximity is 110: the store keeps no word positions a proximity test could use.
    """
    attribute_set = query.get("attributeSet")

    def operand(choice: tuple[str, Any]) -> Query:
        kind, body = choice
        if kind == "attrTerm":
            return map_term(body, attribute_set, encoding)
        if kind == "resultSet":
            name = str(body)  # as sent: the session keys its sets by the raw names
        elif kind == "resultAttr":
            # The attributes would narrow the set to records with that field; the set
            # itself is the nearest answer (Bath: lenient), and clients rarely send it.
            name = str(body["resultSet"])
        else:
            raise Z3950Error(Diagnostic.MALFORMED_QUERY, f"operand {kind}")
        numbers = result_sets(name)
        if numbers is None:
            raise Z3950Error(Diagnostic.RESULT_SET_DOES_NOT_EXIST, text_of(name))
        return RecordNumbers(numbers)

    values: list[Query] = []
    # Work items: (None, structure, depth) visits a node; (combine, None, 0) pops two
    # mapped operands and joins them. rpn1 is pushed last so it is mapped first, which
    # makes the first problem in reading order the one reported.
    work: list[tuple[Callable[[Query, Query], Query] | None, Any, int]] = [(None, query["rpn"], 0)]
    while work:
        combine, node, depth = work.pop()
        if combine is not None:
            right = values.pop()
            values.append(combine(values.pop(), right))
            continue
        kind, body = node
        if kind == "op":
            values.append(operand(body))
            continue
        if kind != "rpnRpnOp":
            raise Z3950Error(Diagnostic.MALFORMED_QUERY, f"structure {kind}")
        if depth >= max_depth:
            raise Z3950Error(
                Diagnostic.MALFORMED_QUERY, f"operators nested more than {max_depth} deep"
            )
        operator = body["op"][0]
        joined = _OPERATORS.get(operator)
        if joined is None:
            raise Z3950Error(Diagnostic.OPERATOR_UNSUPPORTED, operator)
        work.append((joined, None, 0))
        work.append((None, body["rpn2"], depth + 1))
        work.append((None, body["rpn1"], depth + 1))
    return values[0]


# -- terms -----------------------------------------------------------------------------


def map_term(apt: Mapping[str, Any], attribute_set: str | None, encoding: TermEncoding) -> Query:
    """The store query for one decoded AttributesPlusTerm (one index, one term).

    Usually one :class:`Term`; an Or of terms where one number is stored in several
    forms (OCLC), an And where the match needs two tests (first words in field, several
    masked words) and an AndNot for the not-equal relation.
    """
    attributes = resolve_attributes(apt.get("attributes", ()), attribute_set)
    text = term_text(apt["term"], encoding)
    return _TermBuilder(attributes).build(text)


_Z3958_END = re.compile(r"(?:\?\d*|#)+$")
_HASH_END = re.compile(r"#+$")
_REGEX_SPECIAL = re.compile(r"[.^$*+?()\[\]{}|\\]")
_DIGIT = re.compile(r"\d")
_ISBN_FORM = re.compile(r"[^0-9Xx]")
_BARE_NUMBER = re.compile(r"[0-9]+[Xx]?")


class _TermBuilder:
    """The query for one term under one set of (already checked) attributes."""

    def __init__(self, attributes: Attributes) -> None:
        self.attributes = attributes
        number = attributes.structure
        self.structure = STRUCTURES[number] if number is not None else None
        self.use: UseAttribute | None = attributes.use_attribute

    def build(self, text: str) -> Query:
        words = _unmask(text.strip(), TRUNCATIONS[self.attributes.truncation])
        value = " ".join(word for word, _ in words)
        if not value:
            raise Z3950Error(Diagnostic.MALFORMED_TERM, "empty term")
        index = self._index(value)
        relation = RELATIONS[self.attributes.relation]
        order = relation.order if index is Index.DATE else Relation.EQ
        if index in TEXT_INDEXES:
            query = self._text(index, words)
        else:
            if any(truncated for _, truncated in words[:-1]):
                raise Z3950Error(Diagnostic.UNSUPPORTED_TRUNCATION, text)
            query = self._key(index, value, words[-1][1], order)
            if self.use is not None and self.use.hint is Hint.STANDARD_IDENTIFIER:
                query = self._standard_identifier(index, query, value, words[-1][1])
        return AndNot(AllRecords(), query) if relation.negated else query

    def _index(self, value: str) -> Index:
        if self.use is None:
            dated = self.structure is not None and self.structure.date
            return Index.DATE if dated else Index.ANY
        if self.use.hint is Hint.STANDARD_IDENTIFIER:
            return standard_number_index(value)
        return self.use.index

    def _standard_identifier(
        self, index: Index, query: Query, value: str, truncated: bool
    ) -> Query:
        """A bare run of digits shaped like an ISSN or ISBN may as well be a control number
        (LoC's LCCNs are 8 or 10 digits): it searches both. Hyphens say which it is."""
        if index is Index.CONTROL_NUMBER or not _BARE_NUMBER.fullmatch(value):
            return query
        return Or(query, self._key(Index.CONTROL_NUMBER, value, truncated, Relation.EQ))

    def _key(self, index: Index, value: str, truncated: bool, order: Relation) -> Query:
        """Codes, numbers and years: compared whole (or by prefix when truncated)."""
        if index is Index.DATE and not _DIGIT.search(value):
            raise Z3950Error(Diagnostic.ILLEGAL_TERM_VALUE, value)
        if index in (Index.ISBN, Index.ISSN):
            value, truncated = _standard_number(index, value, truncated)
        hint = self.use.hint if self.use is not None else Hint.NONE
        forms = _FORMS.get(hint, _as_is)(value)
        terms: list[Query] = [Term(index, form, truncated=truncated, relation=order)
                              for form in forms]  # fmt: skip
        return _join(Or, terms)

    def _text(self, index: Index, words: list[tuple[str, bool]]) -> Query:
        """Text indexes: words, phrase, first words or characters, or the whole heading."""
        match, anchored = self._match()
        value = " ".join(word for word, _ in words)
        if not fold_words(value):
            raise Z3950Error(Diagnostic.MALFORMED_TERM, f"no searchable words in {value!r}")
        if not any(truncated for _, truncated in words[:-1]):
            truncated = words[-1][1]
            if not anchored:
                return Term(index, value, match, truncated)
            if truncated:  # first characters in field: the heading starts with them
                return Term(index, value, Match.EXACT, True)
            # First words in field: the heading starts with the words, as whole words.
            return And(Term(index, value, Match.PHRASE), Term(index, value, Match.EXACT, True))
        # Masks end several words ("nguy? du?"): the store truncates only a term's last
        # word, but "all words" and "any word" are the And/Or of one term per word.
        if anchored or match not in (Match.ALL_WORDS, Match.ANY_WORD):
            raise Z3950Error(Diagnostic.UNSUPPORTED_TRUNCATION, value)
        plain = " ".join(word for word, truncated in words if not truncated)
        terms: list[Query] = [Term(index, plain, match)] if plain else []
        terms += [Term(index, word, match, True) for word, truncated in words if truncated]
        return _join(And if match is Match.ALL_WORDS else Or, terms)

    def _match(self) -> tuple[Match, bool]:
        """The word match, and whether the term is anchored at the start of the heading."""
        match = self.structure.match if self.structure is not None else Match.ALL_WORDS
        hint = self.use.hint if self.use is not None else Hint.NONE
        if hint is Hint.CALL_NUMBER:
            # A class number is one code ("895.922 34"): its parts in order, anywhere,
            # since it is no heading an exact or first-in-field test could look at.
            return Match.PHRASE, False
        completeness = COMPLETENESS[self.attributes.completeness]
        anchored = POSITIONS[self.attributes.position]
        if hint is Hint.FREE_TEXT:
            whole = completeness is not Completeness.INCOMPLETE or anchored
            return (Match.PHRASE if whole or match is Match.EXACT else match), False
        if completeness is Completeness.FIELD or match is Match.EXACT:
            return Match.EXACT, False
        if completeness is Completeness.SUBFIELD:
            match = Match.PHRASE
        return match, anchored


def _unmask(text: str, truncation: Truncation) -> list[tuple[str, bool]]:
    """The term's words with masks taken off: (word, right-truncated) in order.

    Masks are honoured at the end of a word only (the store matches word prefixes); a
    mask inside a word is 120, a word of masks only is 9 (Truncated words too short).
    """
    if truncation is Truncation.NONE:
        return [(text, False)]
    if truncation is Truncation.RIGHT:
        return [(text, True)]
    if truncation is Truncation.REGEX:
        body = text.removesuffix(".*")
        if _REGEX_SPECIAL.search(body):
            raise Z3950Error(Diagnostic.UNSUPPORTED_TRUNCATION, text)
        return [(body, body != text)]
    end, masks = (_HASH_END, "#") if truncation is Truncation.HASH else (_Z3958_END, "?#")
    words = []
    for word in text.split():
        bare = end.sub("", word)
        if not bare:
            raise Z3950Error(Diagnostic.TRUNCATED_WORDS_TOO_SHORT, text)
        if any(mask in bare for mask in masks):
            raise Z3950Error(Diagnostic.UNSUPPORTED_TRUNCATION, text)
        words.append((bare, bare != word))
    return words or [("", False)]


def _standard_number(index: Index, value: str, truncated: bool) -> tuple[str, bool]:
    """ISBN and ISSN keys under truncation (Koha sends ``1=7 5=1`` for a whole ISBN).

    A whole number is its whole key, truncated or not; that matters because ISBNs are
    keyed as ISBN-13, so a truncated ISBN-10 would never be a prefix of its own key. A
    partial ISBN-10 ("013110") is a prefix of the 978 form of the ISBN-13 keys.
    """
    if not truncated or key_for(index, value) is not None:
        return value, False
    digits = _ISBN_FORM.sub("", value)
    if index is Index.ISBN and digits and not digits.startswith(("978", "979")):
        return "978" + digits, True
    return value, True


def _lccn(value: str) -> list[str]:
    """LC's normalisation of an LCCN: no blanks, nothing from '/', the serial after a
    hyphen zero-filled to six digits ("85-2" -> "85000002"), as 010 $a stores it."""
    compact = "".join(value.split()).split("/", 1)[0]
    prefix, hyphen, serial = compact.partition("-")
    if hyphen and serial.isascii() and serial.isdigit() and len(serial) <= 6:
        compact = prefix + serial.zfill(6)
    return [compact or value]


_OCLC = re.compile(r"(?:\(ocolc\))?\s*(?:ocm|ocn|on)?0*([0-9]+)", re.IGNORECASE)


def _oclc(value: str) -> list[str]:
    """The forms an OCLC number is stored in: 035 "(OCoLC)12345678", the same with the
    ocm/ocn/on prefix OCLC's own records carry, and that prefixed form as an 001."""
    found = _OCLC.fullmatch(value.strip())
    if found is None:
        return [value]
    digits = found.group(1) or "0"
    number = int(digits)
    prefixed = (f"ocm{number:08d}" if number < 10**8 else
                f"ocn{number:09d}" if number < 10**9 else f"on{number}")  # fmt: skip
    return [f"(OCoLC){digits}", f"(OCoLC){prefixed}", prefixed]


def _as_is(value: str) -> list[str]:
    return [value]


#: Use attribute hints that rewrite a number into the form(s) the index stores.
_FORMS: dict[Hint, Callable[[str], list[str]]] = {Hint.LCCN: _lccn, Hint.OCLC: _oclc}


def _join(operator: Callable[[Query, Query], Query], terms: Sequence[Query]) -> Query:
    query = terms[0]
    for term in terms[1:]:
        query = operator(query, term)
    return query


# -- scan ------------------------------------------------------------------------------


def map_scan_term(
    apt: Mapping[str, Any], attribute_set: str | None, encoding: TermEncoding
) -> tuple[Index, str]:
    """The index to browse and the start term of a ScanRequest's termListAndStartPoint.

    Attributes are checked as for a search (121, 113, 114, 117-122); relation, position,
    structure, truncation and completeness say nothing about where a browse starts, so
    they are otherwise ignored. A use attribute whose index is not a list of its own
    values (call numbers and notes, which only the "any" words hold) is 114. An empty
    start term is the start of the list.
    """
    attributes = resolve_attributes(apt.get("attributes", ()), attribute_set)
    text = term_text(apt["term"], encoding).strip()
    use = attributes.use_attribute
    if use is None:
        structure = STRUCTURES.get(attributes.structure or 0)
        return (Index.DATE if structure is not None and structure.date else Index.ANY), text
    if not use.browsable:
        raise Z3950Error(Diagnostic.UNSUPPORTED_USE_ATTRIBUTE, str(attributes.use))
    if use.hint is Hint.STANDARD_IDENTIFIER:
        return standard_number_index(text), text
    forms = _FORMS.get(use.hint, _as_is)(text) if text else [text]
    return use.index, forms[0]


# -- sort ------------------------------------------------------------------------------


def map_sort(sort_sequence: Sequence[Mapping[str, Any]]) -> tuple[SortKey, ...]:
    """Store sort keys for a SortRequest's sortSequence (decoded SortKeySpecs), in order.

    Keys are Bib-1 sort attributes (what ``yaz-client`` sends for ``sort 1=4 ia``) or
    sort field names ("title", "author", "date"). Ascending and descending are the sort
    relations the store has (others 214); case sensitivity must be one of its two values
    (215) but text always sorts case-insensitively in Vietnamese order; a missing-value
    action is accepted and records without the value sort last. Anything the store
    cannot order by is 207.
    """
    keys = []
    for spec in sort_sequence:
        field = _sort_field(spec["sortElement"])
        relation = spec.get("sortRelation", 0)
        if relation not in (0, 1):
            raise Z3950Error(Diagnostic.ILLEGAL_SORT_RELATION, str(relation))
        if spec.get("caseSensitivity", 1) not in (0, 1):
            raise Z3950Error(Diagnostic.ILLEGAL_CASE_VALUE, str(spec["caseSensitivity"]))
        keys.append(SortKey(field, descending=relation == 1))
    if not keys:
        raise Z3950Error(Diagnostic.ILLEGAL_SORT, "no sort keys")
    return tuple(keys)


def _sort_field(element: tuple[str, Any]) -> SortField:
    kind, key = element
    if kind != "generic":
        raise Z3950Error(Diagnostic.DATABASE_SPECIFIC_SORT_UNSUPPORTED, kind)
    key_kind, body = key
    if key_kind == "sortfield":
        name = str(body).strip().lower()
        field = SORT_FIELD_NAMES.get(name)
        if field is None and name in USE_NAMES:
            field = SORT_USES.get(USE_NAMES[name])
        if field is None:
            raise Z3950Error(Diagnostic.CANNOT_SORT, str(body))
        return field
    if key_kind == "sortAttributes":
        try:
            use = resolve_attributes(body["list"], body["id"]).use
        except Z3950Error as error:
            if error.diagnostic is not Diagnostic.UNSUPPORTED_USE_ATTRIBUTE:
                raise
            raise Z3950Error(Diagnostic.CANNOT_SORT, f"1={error.addinfo}") from None
        field = SORT_USES.get(use) if use is not None else None
        if field is None:
            raise Z3950Error(Diagnostic.CANNOT_SORT, f"1={use}" if use else "no use attribute")
        return field
    raise Z3950Error(Diagnostic.CANNOT_SORT, key_kind)
