"""Type-1 (RPN) queries, Scan terms and Sort keys -> the query model, through the Bib-1 tables.

Inputs are shaped exactly as asn1tools decodes the BER that YAZ sends (checked against
``yaz-client -d`` dumps of the same commands): SEQUENCE -> dict, CHOICE -> (name, value).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from crosswalks.marc8 import encode_marc8
from gateway.query import (
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
)
from gateway.store import RecordStore
from protocols.z3950.attributes import BIB1, USE_ATTRIBUTES, Hint
from protocols.z3950.errors import Diagnostic, Z3950Error
from protocols.z3950.rpn import (
    TermEncoding,
    decode_term,
    map_rpn,
    map_scan_term,
    map_sort,
)

EXP1 = "1.2.840.10003.3.2"
UTF8 = TermEncoding.UTF8


def attrs(spec: str) -> list[dict[str, Any]]:
    """``"1=4 5=1"`` as a decoded AttributeList (the PQF ``@attr`` notation, numeric only)."""
    elements = []
    for pair in spec.split():
        kind, value = pair.split("=")
        elements.append({"attributeType": int(kind), "attributeValue": ("numeric", int(value))})
    return elements


def apt(spec: str, term: str | bytes | tuple[str, Any]) -> dict[str, Any]:
    """A decoded AttributesPlusTerm; a str term is sent as UTF-8 octets (``general``)."""
    if isinstance(term, str):
        term = ("general", term.encode("utf-8"))
    elif isinstance(term, bytes):
        term = ("general", term)
    return {"attributes": attrs(spec), "term": term}


def op(spec: str, term: str | bytes | tuple[str, Any]) -> tuple[str, Any]:
    """An RPNStructure leaf holding one term."""
    return ("op", ("attrTerm", apt(spec, term)))


def node(operator: str, left: tuple[str, Any], right: tuple[str, Any]) -> tuple[str, Any]:
    """An RPNStructure operator node."""
    return ("rpnRpnOp", {"rpn1": left, "rpn2": right, "op": (operator, None)})


def rpn(structure: tuple[str, Any], attribute_set: str = BIB1) -> dict[str, Any]:
    """A decoded RPNQuery."""
    return {"attributeSet": attribute_set, "rpn": structure}


SETS = {"default": frozenset({1, 2, 3}), "s2": frozenset({7})}


def mapped(structure: tuple[str, Any], encoding: TermEncoding = UTF8, **kwargs: Any) -> Query:
    """map_rpn with the session's result sets of these tests."""
    return map_rpn(rpn(structure, **kwargs), encoding=encoding, result_sets=SETS.get)


def refused(structure: tuple[str, Any], encoding: TermEncoding = UTF8, **kwargs: Any) -> Z3950Error:
    """The diagnostic map_rpn raises."""
    with pytest.raises(Z3950Error) as caught:
        mapped(structure, encoding, **kwargs)
    return caught.value


# -- every use attribute ------------------------------------------------------------------

USES = {
    1: Term(Index.AUTHOR, "x"), 2: Term(Index.AUTHOR, "x"), 3: Term(Index.AUTHOR, "x"),
    4: Term(Index.TITLE, "x"), 5: Term(Index.TITLE, "x"), 6: Term(Index.TITLE, "x"),
    7: Term(Index.ISBN, "x"), 8: Term(Index.ISSN, "x"), 9: Term(Index.CONTROL_NUMBER, "x"),
    12: Term(Index.CONTROL_NUMBER, "x"), 13: Term(Index.ANY, "x", Match.PHRASE),
    16: Term(Index.ANY, "x", Match.PHRASE), 21: Term(Index.SUBJECT, "x"),
    27: Term(Index.SUBJECT, "x"), 30: Term(Index.DATE, "1999"), 31: Term(Index.DATE, "1999"),
    33: Term(Index.TITLE, "x"), 54: Term(Index.LANGUAGE, "x"), 59: Term(Index.ANY, "x"),
    63: Term(Index.ANY, "x"), 1003: Term(Index.AUTHOR, "x"), 1004: Term(Index.AUTHOR, "x"),
    1007: Term(Index.CONTROL_NUMBER, "x"), 1016: Term(Index.ANY, "x"),
    1018: Term(Index.PUBLISHER, "x"), 1031: Term(Index.ANY, "x"), 1035: Term(Index.ANY, "x"),
    1044: Term(Index.SOURCE, "x"), 1211: Term(Index.CONTROL_NUMBER, "x"),
}  # fmt: skip


def test_use_table_covers_the_reference_list() -> None:
    """Every use attribute the reference lists has a row (big targets refusing 1004 or 6 is
    what users complain about), and nothing else is in the table by accident."""
    assert set(USE_ATTRIBUTES) == set(USES)


@pytest.mark.parametrize("use", sorted(USES))
def test_every_use_attribute_maps(use: int) -> None:
    """Each use attribute searches its index; none is 114."""
    term = "1999" if use in (30, 31) else "x"
    assert mapped(op(f"1={use}", term)) == USES[use]


# -- Bath profile and Koha's searches -----------------------------------------------------

KEYWORD = "2=3 3=3 4=2 5=100 6=1"
SEARCHES = [
    # Bath level 0: keyword on author, title, subject, any.
    ("bath0 author", op(f"1=1003 {KEYWORD}", "Nguyễn Du"), Term(Index.AUTHOR, "Nguyễn Du")),
    ("bath0 title", op(f"1=4 {KEYWORD}", "kieu"), Term(Index.TITLE, "kieu")),
    ("bath0 subject", op(f"1=21 {KEYWORD}", "thơ"), Term(Index.SUBJECT, "thơ")),
    ("bath0 any", op(f"1=1016 {KEYWORD}", "hà nội"), Term(Index.ANY, "hà nội")),
    # Bath level 1: exact match, first words, first characters, keyword truncated.
    ("bath1 exact", op("1=4 2=3 3=1 4=1 5=100 6=3", "Truyện Kiều"),
     Term(Index.TITLE, "Truyện Kiều", Match.EXACT)),
    ("bath1 first words", op("1=1003 2=3 3=1 4=1 5=100 6=1", "Nguyễn Du"),
     And(Term(Index.AUTHOR, "Nguyễn Du", Match.PHRASE),
         Term(Index.AUTHOR, "Nguyễn Du", Match.EXACT, True))),
    ("bath1 first characters", op("1=4 2=3 3=1 4=1 5=1 6=1", "Truyện Ki"),
     Term(Index.TITLE, "Truyện Ki", Match.EXACT, True)),
    ("bath1 keyword truncated", op("1=21 2=3 3=3 4=2 5=1 6=1", "lịch s"),
     Term(Index.SUBJECT, "lịch s", truncated=True)),
    ("bath1 phrase", op("1=4 2=3 3=3 4=1 5=100 6=1", "truyen kieu"),
     Term(Index.TITLE, "truyen kieu", Match.PHRASE)),
    ("bath1 standard identifier isbn", op("1=1007 2=3 3=1 4=1 5=100 6=3", "0-19-852663-6"),
     Term(Index.ISBN, "0-19-852663-6")),
    ("bath1 standard identifier issn", op("1=1007", "0317-8471"), Term(Index.ISSN, "0317-8471")),
    ("bath1 standard identifier bare digits", op("1=1007", "00280611"),
     Or(Term(Index.ISSN, "00280611"), Term(Index.CONTROL_NUMBER, "00280611"))),
    ("bath1 standard identifier bare isbn", op("1=1007", "094688840X"),
     Or(Term(Index.ISBN, "094688840X"), Term(Index.CONTROL_NUMBER, "094688840X"))),
    ("bath1 standard identifier other", op("1=1007", "sn 86-12345"),
     Term(Index.CONTROL_NUMBER, "sn 86-12345")),
    ("bath1 date range", node("and", op("1=31 2=4 4=4", "1990"), op("1=31 2=2 4=4", "2000")),
     And(Term(Index.DATE, "1990", relation=Relation.GE),
         Term(Index.DATE, "2000", relation=Relation.LE))),
    ("date before", op("1=30 2=1", "1990"), Term(Index.DATE, "1990", relation=Relation.LT)),
    ("date after", op("1=30 2=5", "1990"), Term(Index.DATE, "1990", relation=Relation.GT)),
    ("decade truncated", op("1=31 5=1", "199"), Term(Index.DATE, "199", truncated=True)),
    # Koha's Z39.50 client.
    ("koha isbn", op("1=7 5=1", "0131103628"), Term(Index.ISBN, "0131103628")),
    ("koha isbn-13", op("1=7 5=1", "978-0-13-110362-7"), Term(Index.ISBN, "978-0-13-110362-7")),
    ("koha issn", op("1=8 5=1", "0317-8471"), Term(Index.ISSN, "0317-8471")),
    ("koha dewey", op("1=16", "895.922"), Term(Index.ANY, "895.922", Match.PHRASE)),
    ("koha lc call number", op("1=16 2=3 3=1 4=1 5=1 6=1", "PL4378.6"),
     Term(Index.ANY, "PL4378.6", Match.PHRASE, True)),
    ("koha local number", op("1=12", "00280611"), Term(Index.CONTROL_NUMBER, "00280611")),
    # Partial ISBN-10: a prefix of its ISBN-13 key.
    ("isbn-10 prefix", op("1=7 5=1", "0-13-110"), Term(Index.ISBN, "978013110", truncated=True)),
    # Hints that rewrite numbers into their stored form.
    ("lccn hyphen", op("1=9", "85-2"), Term(Index.CONTROL_NUMBER, "85000002")),
    ("lccn prefix", op("1=9", "sn 86-12345"), Term(Index.CONTROL_NUMBER, "sn86012345")),
    ("oclc", op("1=1211", "ocm00012345"),
     Or(Or(Term(Index.CONTROL_NUMBER, "(OCoLC)12345"),
           Term(Index.CONTROL_NUMBER, "(OCoLC)ocm00012345")),
        Term(Index.CONTROL_NUMBER, "ocm00012345"))),
    # No use attribute: any (or the date index for a year structure).
    ("no attributes", op("", "kieu"), Term(Index.ANY, "kieu")),
    ("year without use", op("4=4", "1999"), Term(Index.DATE, "1999")),
    # Structures.
    ("word list", op("1=4 4=6", "a b"), Term(Index.TITLE, "a b")),
    ("free-form text is any word", op("1=4 4=105", "a b"),
     Term(Index.TITLE, "a b", Match.ANY_WORD)),
    ("string is exact (YAZ cql ==)", op("1=4 4=108", "a b"),
     Term(Index.TITLE, "a b", Match.EXACT)),
    ("key is exact", op("1=1003 4=3", "a b"), Term(Index.AUTHOR, "a b", Match.EXACT)),
    ("year structure on a text index", op("1=4 4=4", "1999"), Term(Index.TITLE, "1999")),
    ("complete subfield is a phrase", op("1=4 6=2", "a b"), Term(Index.TITLE, "a b", Match.PHRASE)),
    ("first in subfield is anywhere", op("1=4 3=2 4=1", "a b"),
     Term(Index.TITLE, "a b", Match.PHRASE)),
    ("note complete field is a phrase", op("1=63 3=1 4=1 6=3", "a b"),
     Term(Index.ANY, "a b", Match.PHRASE)),
    # Relations: lenient on text, negated by and-not.
    ("order relation on text is =", op("1=4 2=4", "kieu"), Term(Index.TITLE, "kieu")),
    ("order relation on isbn is =", op("1=7 2=5", "0131103628"), Term(Index.ISBN, "0131103628")),
    ("relevance", op("1=1016 2=102", "kieu"), Term(Index.ANY, "kieu")),
    ("not equal", op("1=4 2=6 6=3", "kieu"),
     AndNot(AllRecords(), Term(Index.TITLE, "kieu", Match.EXACT))),
    # Masks.
    ("z39.58 final ?", op("1=4 5=104", "kie?"), Term(Index.TITLE, "kie", truncated=True)),
    ("z39.58 ?n", op("1=4 5=104", "kie?3"), Term(Index.TITLE, "kie", truncated=True)),
    ("z39.58 final #", op("1=4 5=104", "kie#"), Term(Index.TITLE, "kie", truncated=True)),
    ("z39.58 several words", op("1=1003 5=104", "nguy? du?"),
     And(Term(Index.AUTHOR, "nguy", truncated=True), Term(Index.AUTHOR, "du", truncated=True))),
    ("z39.58 plain and masked words", op("1=4 4=105 5=104", "truyen ki? tho"),
     Or(Term(Index.TITLE, "truyen tho", Match.ANY_WORD),
        Term(Index.TITLE, "ki", Match.ANY_WORD, True))),
    ("z39.58 no mask", op("1=4 5=104", "kieu"), Term(Index.TITLE, "kieu")),
    ("# process", op("1=4 5=101", "truyen kie#"), Term(Index.TITLE, "truyen kie", truncated=True)),
    ("regex literal", op("1=4 5=102", "kieu"), Term(Index.TITLE, "kieu")),
    ("regex final .*", op("1=4 5=102", "kie.*"), Term(Index.TITLE, "kie", truncated=True)),
    ("numeric term", op("1=31", ("numeric", 1999)), Term(Index.DATE, "1999")),
    ("character string term", op("1=4", ("characterString", "kieu")), Term(Index.TITLE, "kieu")),
    ("term trimmed", op("1=4", "  kieu "), Term(Index.TITLE, "kieu")),
]  # fmt: skip


@pytest.mark.parametrize(("structure", "expected"), [s[1:] for s in SEARCHES],
                         ids=[s[0] for s in SEARCHES])  # fmt: skip
def test_searches_map_to_the_query_model(structure: tuple[str, Any], expected: Query) -> None:
    """Bath level 0 and 1 searches, Koha's searches, structures, relations and masks."""
    assert mapped(structure) == expected


def test_complex_use_attribute_by_name() -> None:
    """A complex use attribute naming a Bib-1 use ("title", as yaz-client's ``1=title``
    sends it) is that use; the first known alternative wins."""
    element = {"attributeType": 1, "attributeValue": ("complex", {"list": [("string", "Title")]})}
    query = rpn(("op", ("attrTerm", {"attributes": [element], "term": ("general", b"x")})))
    assert map_rpn(query, encoding=UTF8, result_sets=SETS.get) == Term(Index.TITLE, "x")
    element["attributeValue"] = ("complex", {"list": [("string", "nope"), ("numeric", 21)]})
    assert map_rpn(query, encoding=UTF8, result_sets=SETS.get) == Term(Index.SUBJECT, "x")


def test_element_attribute_set_overrides_the_query_set() -> None:
    """An element naming Bib-1 is read under a query set of another name, and the reverse
    is 121."""
    element = {"attributeSet": BIB1, **attrs("1=4")[0]}
    query = rpn(("op", ("attrTerm", {"attributes": [element], "term": ("general", b"x")})), EXP1)
    assert map_rpn(query, encoding=UTF8, result_sets=SETS.get) == Term(Index.TITLE, "x")
    element["attributeSet"] = EXP1
    query = rpn(("op", ("attrTerm", {"attributes": [element], "term": ("general", b"x")})))
    with pytest.raises(Z3950Error) as caught:
        map_rpn(query, encoding=UTF8, result_sets=SETS.get)
    assert (caught.value.diagnostic, caught.value.addinfo) == (121, EXP1)


# -- diagnostics --------------------------------------------------------------------------

DIAGNOSTICS = [
    ("unknown use", op("1=9999", "x"), Diagnostic.UNSUPPORTED_USE_ATTRIBUTE, "9999"),
    ("unknown complex use", ("op", ("attrTerm", {"attributes": [{"attributeType": 1,
     "attributeValue": ("complex", {"list": [("string", "shoe-size")]})}],
     "term": ("general", b"x")})), Diagnostic.UNSUPPORTED_USE_ATTRIBUTE, "shoe-size"),
    ("type 7 (Zebra's sort)", op("1=4 7=1", "x"), Diagnostic.UNSUPPORTED_ATTRIBUTE_TYPE, "7"),
    ("type 0", op("0=1", "x"), Diagnostic.UNSUPPORTED_ATTRIBUTE_TYPE, "0"),
    ("relation outside bib-1", op("1=4 2=7", "x"), Diagnostic.UNSUPPORTED_RELATION, "7"),
    ("always matches", op("1=4 2=103", "x"), Diagnostic.UNSUPPORTED_RELATION, "103"),
    ("position outside bib-1", op("1=4 3=4", "x"), Diagnostic.UNSUPPORTED_POSITION, "4"),
    ("structure outside bib-1", op("1=4 4=7", "x"), Diagnostic.UNSUPPORTED_STRUCTURE, "7"),
    ("left truncation", op("1=4 5=2", "x"), Diagnostic.UNSUPPORTED_TRUNCATION, "2"),
    ("both truncation", op("1=4 5=3", "x"), Diagnostic.UNSUPPORTED_TRUNCATION, "3"),
    ("truncation outside bib-1", op("1=4 5=99", "x"), Diagnostic.UNSUPPORTED_TRUNCATION, "99"),
    ("inner mask", op("1=4 5=104", "wom?n"), Diagnostic.UNSUPPORTED_TRUNCATION, "wom?n"),
    ("leading mask", op("1=4 5=101", "#kieu"), Diagnostic.UNSUPPORTED_TRUNCATION, "#kieu"),
    ("real regex", op("1=4 5=102", "ki[e]u"), Diagnostic.UNSUPPORTED_TRUNCATION, "ki[e]u"),
    ("masked words in a phrase", op("1=4 4=1 5=104", "a? b"),
     Diagnostic.UNSUPPORTED_TRUNCATION, "a b"),
    ("masks only", op("1=4 5=104", "?"), Diagnostic.TRUNCATED_WORDS_TOO_SHORT, "?"),
    ("completeness outside bib-1", op("1=4 6=4", "x"), Diagnostic.UNSUPPORTED_COMPLETENESS, "4"),
    ("two uses", op("1=4 1=21", "x"), Diagnostic.UNSUPPORTED_COMBINATION, "1=4 1=21"),
    ("empty term", op("1=4", ""), Diagnostic.MALFORMED_TERM, "empty term"),
    ("blank term", op("1=4", "   "), Diagnostic.MALFORMED_TERM, "empty term"),
    ("punctuation only", op("1=4", "--"), Diagnostic.MALFORMED_TERM, "no searchable words in '--'"),
    ("date without digits", op("1=31", "xyz"), Diagnostic.ILLEGAL_TERM_VALUE, "xyz"),
    ("oid term", op("1=4", ("oid", "1.2.3")), Diagnostic.UNSUPPORTED_TERM_TYPE, "oid"),
    ("null term", op("1=4", ("null", None)), Diagnostic.UNSUPPORTED_TERM_TYPE, "null"),
    ("missing result set", ("op", ("resultSet", "nope")),
     Diagnostic.RESULT_SET_DOES_NOT_EXIST, "nope"),
    ("missing result set with attributes",
     ("op", ("resultAttr", {"resultSet": "gone", "attributes": attrs("1=4")})),
     Diagnostic.RESULT_SET_DOES_NOT_EXIST, "gone"),
    ("proximity", ("rpnRpnOp", {"rpn1": op("", "a"), "rpn2": op("", "b"), "op": ("prox", {
     "exclusion": False, "distance": 3, "ordered": True, "relationType": 2,
     "proximityUnitCode": ("known", 2)})}), Diagnostic.OPERATOR_UNSUPPORTED, "prox"),
    ("first problem in reading order", node("and", op("1=9999", "a"), op("7=1", "b")),
     Diagnostic.UNSUPPORTED_USE_ATTRIBUTE, "9999"),
]  # fmt: skip


@pytest.mark.parametrize(("structure", "diagnostic", "addinfo"), [d[1:] for d in DIAGNOSTICS],
                         ids=[d[0] for d in DIAGNOSTICS])  # fmt: skip
def test_refusals_carry_the_bib1_diagnostic(
    structure: tuple[str, Any], diagnostic: Diagnostic, addinfo: str
) -> None:
    """What cannot be searched as asked is the specific diagnostic, with its addinfo."""
    error = refused(structure)
    assert (error.diagnostic, error.addinfo) == (diagnostic, addinfo)


def test_other_attribute_set_is_121() -> None:
    """Attributes under another set (yaz-client ``@attrset gils``) are not guessed at."""
    error = refused(op("1=4", "x"), attribute_set="1.2.840.10003.3.5")
    assert (error.diagnostic, error.addinfo) == (121, "1.2.840.10003.3.5")


def test_term_without_attributes_needs_no_attribute_set() -> None:
    """A bare term under another query set is an "any" search: no attribute is read."""
    assert mapped(op("", "kieu"), attribute_set=EXP1) == Term(Index.ANY, "kieu")


# -- operators and result sets ------------------------------------------------------------


def test_boolean_trees() -> None:
    """AND, OR and AND-NOT, nested, keep their operand order (yaz ``@or a @not b c``)."""
    a, b, c = (op("1=4 2=3", t) for t in "abc")
    assert mapped(node("or", a, node("and-not", b, c))) == Or(
        Term(Index.TITLE, "a"), AndNot(Term(Index.TITLE, "b"), Term(Index.TITLE, "c"))
    )
    assert mapped(node("and", node("or", a, b), c)) == And(
        Or(Term(Index.TITLE, "a"), Term(Index.TITLE, "b")), Term(Index.TITLE, "c")
    )


def test_result_set_operands() -> None:
    """A named result set is its record numbers; with attributes, the set itself."""
    assert mapped(("op", ("resultSet", "default"))) == RecordNumbers(SETS["default"])
    with_attributes = ("op", ("resultAttr", {"resultSet": "s2", "attributes": attrs("1=4")}))
    assert mapped(node("and", op("1=4", "kieu"), with_attributes)) == And(
        Term(Index.TITLE, "kieu"), RecordNumbers(frozenset({7}))
    )


def _nested(depth: int) -> tuple[str, Any]:
    structure = op("1=4", "x")
    for _ in range(depth):
        structure = node("and", structure, op("1=21", "y"))
    return structure


def test_depth_limit() -> None:
    """Operators nested up to max_depth map; one more is 108, with the limit in addinfo."""
    query = map_rpn(rpn(_nested(64)), encoding=UTF8, result_sets=SETS.get)
    depth = 0
    while isinstance(query, And):
        query, depth = query.left, depth + 1
    assert depth == 64
    error = refused(_nested(65))
    assert (error.diagnostic, error.addinfo) == (108, "operators nested more than 64 deep")
    with pytest.raises(Z3950Error):
        map_rpn(rpn(_nested(3)), encoding=UTF8, result_sets=SETS.get, max_depth=2)


def test_depth_bomb_does_not_recurse() -> None:
    """A query nested 100 000 deep (either side) is 108, not a RecursionError."""
    assert refused(_nested(100_000)).diagnostic == Diagnostic.MALFORMED_QUERY
    right = op("1=4", "x")
    for _ in range(100_000):
        right = node("or", op("1=21", "y"), right)
    assert refused(right).diagnostic == Diagnostic.MALFORMED_QUERY


# -- character sets -----------------------------------------------------------------------

NGUYEN = "Nguyễn"


def test_utf8_terms_are_nfc() -> None:
    """UTF-8 "Nguyễn", precomposed or decomposed, is the same NFC term."""
    decomposed = unicodedata.normalize("NFD", NGUYEN)
    assert decomposed != NGUYEN
    for text in (NGUYEN, decomposed):
        assert mapped(op("1=1003", text)) == Term(Index.AUTHOR, NGUYEN)
    # Tone mark before the vowel-shape mark: plain NFC cannot compose "ễ" from it.
    misordered = "Nguye\u0303\u0302n"
    assert decode_term(misordered.encode(), UTF8) == NGUYEN


def test_character_string_terms_are_decoded_in_the_session_charset() -> None:
    """An InternationalString term arrives as its bytes read as Latin-1 (asn1tools); the
    UTF-8 inside is recovered."""
    as_decoded = NGUYEN.encode("utf-8").decode("latin-1")
    assert mapped(op("1=1003", ("characterString", as_decoded))) == Term(Index.AUTHOR, NGUYEN)


def test_marc8_terms_under_marc8() -> None:
    """A MARC-8 term (combining marks before the letter) is read under MARC-8."""
    raw = encode_marc8("Nguyễn Đình Chiểu")
    assert raw != "Nguyễn Đình Chiểu".encode()
    assert mapped(op("1=1003", raw), TermEncoding.MARC8) == Term(Index.AUTHOR, "Nguyễn Đình Chiểu")
    greek = encode_marc8("ΑΒΓ abc")
    assert b"\x1b(S" in greek  # an escape sequence to Basic Greek and back
    assert decode_term(greek, TermEncoding.MARC8) == "ΑΒΓ abc"


def test_unnegotiated_terms_fall_back_to_latin1() -> None:
    """Without negotiation (Bath level 0) UTF-8 is taken when valid, else Latin-1."""
    unnegotiated = TermEncoding.UNNEGOTIATED
    assert decode_term("Tô Hoài".encode(), unnegotiated) == "Tô Hoài"
    assert decode_term("Müller café".encode("latin-1"), unnegotiated) == "Müller café"


MALFORMED = [
    ("invalid utf-8 under utf-8", b"Nguy\xe1n", UTF8, "not UTF-8"),
    ("latin-1 under utf-8", "café".encode("latin-1"), UTF8, "not UTF-8"),
    ("C0 under utf-8", b"kieu\x00", UTF8, "control character in term"),
    ("tab under utf-8", b"truyen\tkieu", UTF8, "control character in term"),
    ("C1 under utf-8", "a\u0085b".encode(), UTF8, "control character in term"),
    ("C1 under latin-1 fallback", b"a\x85b", TermEncoding.UNNEGOTIATED,
     "control character in term"),
    ("escape under unnegotiated", b"a\x1bb", TermEncoding.UNNEGOTIATED,
     "control character in term"),
    ("C0 under marc-8", b"a\x07b", TermEncoding.MARC8, "control character in term"),
    ("C1 under marc-8", b"a\x85b", TermEncoding.MARC8, "control character in term"),
    ("not ansel", b"a\xffb", TermEncoding.MARC8, "not MARC-8"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "encoding", "addinfo"), [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])  # fmt: skip
def test_malformed_terms_are_125(raw: bytes, encoding: TermEncoding, addinfo: str) -> None:
    """Bytes that are not text in the session's character set are 125, never a guess."""
    with pytest.raises(Z3950Error) as caught:
        decode_term(raw, encoding)
    assert (caught.value.diagnostic, caught.value.addinfo) == (125, addinfo)


def test_marc8_nonsort_markers_are_dropped() -> None:
    """MARC-8's non-sort begin/end controls are allowed and carry no text."""
    assert decode_term(b"\x88The \x89Tale", TermEncoding.MARC8) == "The Tale"


# -- scan ---------------------------------------------------------------------------------

SCANS = [
    ("title", apt("1=4", "kieu"), (Index.TITLE, "kieu")),
    ("bath scan author", apt("1=1003 2=3 3=1 4=1 5=1 6=1", "Nguyễn"), (Index.AUTHOR, "Nguyễn")),
    ("subject", apt("1=21", "thơ"), (Index.SUBJECT, "thơ")),
    ("any", apt("1=1016", "a"), (Index.ANY, "a")),
    ("no use", apt("", "a"), (Index.ANY, "a")),
    ("date", apt("1=31", "1999"), (Index.DATE, "1999")),
    ("empty start", apt("1=4", ""), (Index.TITLE, "")),
    ("standard identifier", apt("1=1007", "0317-8471"), (Index.ISSN, "0317-8471")),
    ("lccn", apt("1=9", "85-2"), (Index.CONTROL_NUMBER, "85000002")),
    ("language", apt("1=54", "vie"), (Index.LANGUAGE, "vie")),
    ("library", apt("1=1044", "loc"), (Index.SOURCE, "loc")),
]  # fmt: skip


@pytest.mark.parametrize(("term", "expected"), [s[1:] for s in SCANS], ids=[s[0] for s in SCANS])
def test_scan_terms(term: dict[str, Any], expected: tuple[Index, str]) -> None:
    """A scan's start term: its index and its text (what yaz-client ``scan`` sends)."""
    assert map_scan_term(term, BIB1, UTF8) == expected


@pytest.mark.parametrize("use", [use for use, a in USE_ATTRIBUTES.items() if not a.browsable])
def test_scan_refuses_what_has_no_list_of_its_own(use: int) -> None:
    """Call numbers and notes live only among the "any" words: 114, not a list of titles."""
    assert USE_ATTRIBUTES[use].hint in (Hint.CALL_NUMBER, Hint.FREE_TEXT)
    with pytest.raises(Z3950Error) as caught:
        map_scan_term(apt(f"1={use}", "x"), BIB1, UTF8)
    assert (caught.value.diagnostic, caught.value.addinfo) == (114, str(use))


def test_scan_checks_attributes_like_search() -> None:
    """Scan gives the same diagnostics for sets, types and uses; no set means Bib-1."""
    assert map_scan_term(apt("1=4", "a"), None, UTF8) == (Index.TITLE, "a")
    for term, attribute_set, code in ((apt("1=4", "a"), EXP1, 121), (apt("8=1", "a"), BIB1, 113),
                                      (apt("1=9999", "a"), BIB1, 114),
                                      (apt("1=4", b"\x00"), BIB1, 125)):  # fmt: skip
        with pytest.raises(Z3950Error) as caught:
            map_scan_term(term, attribute_set, UTF8)
        assert caught.value.diagnostic == code


# -- sort ---------------------------------------------------------------------------------


def sort_spec(key: tuple[str, Any], relation: int = 0, case: int = 1) -> dict[str, Any]:
    """A decoded SortKeySpec with a generic key, as yaz-client sends it."""
    return {"sortElement": ("generic", key), "sortRelation": relation, "caseSensitivity": case,
            "missingValueAction": ("null", None)}  # fmt: skip


def by_use(use: int) -> tuple[str, Any]:
    """A sortAttributes key (yaz-client ``sort 1=4 ia``)."""
    return ("sortAttributes", {"id": BIB1, "list": attrs(f"1={use}")})


def test_sort_keys() -> None:
    """Title, author and date by use attribute or sort field name, either direction; more
    than three keys are fine."""
    sequence = [sort_spec(by_use(4)), sort_spec(by_use(1003), 1), sort_spec(by_use(31)),
                sort_spec(("sortfield", "title"), 1), sort_spec(("sortfield", "Author")),
                sort_spec(("sortfield", "date-of-publication"), 1),
                sort_spec(by_use(1004))]  # fmt: skip
    assert map_sort(sequence) == (
        SortKey(SortField.TITLE), SortKey(SortField.AUTHOR, True), SortKey(SortField.DATE),
        SortKey(SortField.TITLE, True), SortKey(SortField.AUTHOR),
        SortKey(SortField.DATE, True), SortKey(SortField.AUTHOR),
    )  # fmt: skip


SORT_REFUSALS = [
    ("frequency relation", [sort_spec(by_use(4), 3)], Diagnostic.ILLEGAL_SORT_RELATION, "3"),
    ("bad case value", [sort_spec(by_use(4), 0, 2)], Diagnostic.ILLEGAL_CASE_VALUE, "2"),
    ("unsortable use", [sort_spec(by_use(7))], Diagnostic.CANNOT_SORT, "1=7"),
    ("unknown use", [sort_spec(by_use(9999))], Diagnostic.CANNOT_SORT, "1=9999"),
    ("no use", [sort_spec(("sortAttributes", {"id": BIB1, "list": attrs("2=3")}))],
     Diagnostic.CANNOT_SORT, "no use attribute"),
    ("unknown field", [sort_spec(("sortfield", "colour"))], Diagnostic.CANNOT_SORT, "colour"),
    ("element spec", [sort_spec(("elementSpec", ("elementSetName", "F")))],
     Diagnostic.CANNOT_SORT, "elementSpec"),
    ("other attribute set", [sort_spec(("sortAttributes", {"id": EXP1, "list": attrs("1=4")}))],
     Diagnostic.UNSUPPORTED_ATTRIBUTE_SET, EXP1),
    ("database specific", [{"sortElement": ("datbaseSpecific", []), "sortRelation": 0,
                            "caseSensitivity": 1}],
     Diagnostic.DATABASE_SPECIFIC_SORT_UNSUPPORTED, "datbaseSpecific"),
    ("no keys", [], Diagnostic.ILLEGAL_SORT, "no sort keys"),
]  # fmt: skip


@pytest.mark.parametrize(("sequence", "diagnostic", "addinfo"), [s[1:] for s in SORT_REFUSALS],
                         ids=[s[0] for s in SORT_REFUSALS])  # fmt: skip
def test_sort_refusals(
    sequence: list[dict[str, Any]], diagnostic: Diagnostic, addinfo: str
) -> None:
    """Sorts the store cannot do are the sort diagnostics (207, 210, 214, 215, 237)."""
    with pytest.raises(Z3950Error) as caught:
        map_sort(sequence)
    assert (caught.value.diagnostic, caught.value.addinfo) == (diagnostic, addinfo)


# -- against the Vietnamese records -------------------------------------------------------


def found(
    store: RecordStore, structure: tuple[str, Any], encoding: TermEncoding = UTF8
) -> set[str]:
    """Local ids (001) of the records the mapped query finds."""
    result = store.search(mapped(structure, encoding), limit=500)
    return {record.local_id for record in result.records}


def test_mapped_searches_find_records(vie_store: RecordStore) -> None:
    """The mapping finds what a copy cataloguer expects in the LoC Vietnamese records."""
    # Diacritics folded: "Nguyen" finds "Nguyễn", and so does MARC-8 "Nguyễn".
    nguyen = found(vie_store, op(f"1=1003 {KEYWORD}", "Nguyen"))
    assert "00280610" in nguyen and len(nguyen) > 10
    assert found(vie_store, op("1=1003", encode_marc8(NGUYEN)), TermEncoding.MARC8) == nguyen
    assert found(vie_store, op("1=1003", unicodedata.normalize("NFD", NGUYEN))) == nguyen
    # The record has ISBN-10 094688840X: ISBN-13 and hyphenated forms find it (Koha 5=1).
    for isbn in ("9780946888405", "0-946888-40-X", "094688840x"):
        assert found(vie_store, op("1=7 5=1", isbn)) == {"00369139"}, isbn
    assert found(vie_store, op("1=1007", "978-0-946888-40-5")) == {"00369139"}
    assert found(vie_store, op("1=7 5=1", "0946")) >= {"00369139"}
    # LCCN as written with a hyphen; the control number as stored.
    assert found(vie_store, op("1=9", "00-280610")) == {"00280610"}
    assert found(vie_store, op("1=12", "00280610")) == {"00280610"}
    assert found(vie_store, op("1=1007", "00280610")) == {"00280610"}
    # Exact title, first words, first characters.
    assert found(vie_store, op("1=4 3=1 4=1 6=3", "Văn xuôi Hoàng Cầm")) == {"00280615"}
    assert found(vie_store, op("1=4 3=1 4=1 6=3", "Van xuoi")) == set()
    first_words = found(vie_store, op("1=4 3=1 4=1 6=1", "tho to huu"))
    assert first_words == {"00280614"}
    assert found(vie_store, op("1=4 3=1 4=1 5=1 6=1", "Thăng Lo")) == {"00280619"}
    # Date range, library and language.
    in_range = found(vie_store, node("and", op("1=31 2=4 4=4", "2000"), op("1=31 2=2", "2001")))
    assert len(in_range) == 17
    assert len(found(vie_store, op("1=1044", "loc"))) == 121
    assert found(vie_store, op("1=54", "chi")) <= found(vie_store, op("1=54", "vie"))


def test_call_number_search_finds_records(vie_store: RecordStore) -> None:
    """Koha's LC call number search (050 $a PL4378.6) finds the record."""
    assert "00236597" in found(vie_store, op("1=16 2=3 3=1 4=1 5=1 6=1", "PL4378.6"))


def test_utf8_terms_in_a_marc8_session_are_read_as_utf8() -> None:
    """A client that negotiated MARC-8 records but types UTF-8 terms still finds Nguyễn."""
    for name in ("Nguyễn Du", "Lê Quý Đôn", "Bùi Giáng", "Ngô Tất Tố", "Hải"):
        assert decode_term(name.encode(), TermEncoding.MARC8) == name
    from crosswalks.marc8 import encode_marc8

    assert decode_term(encode_marc8("Nguyễn Du"), TermEncoding.MARC8) == "Nguyễn Du"
