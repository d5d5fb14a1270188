"""CQL parser: the grammar as tables (valid -> tree, invalid -> position), and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.sru.cql import (
    MAX_BOOLEANS,
    MAX_DEPTH,
    BooleanClause,
    CQLQuery,
    CQLSyntaxError,
    Modifier,
    Node,
    PrefixAssignment,
    PrefixedClause,
    Relation,
    SearchClause,
    SortSpec,
    parse_cql,
    to_cql,
)
from protocols.sru.errors import Diagnostic, SRUError

from .strategies import VIETNAMESE_LETTERS

EQ = Relation("=")
VALID: list[tuple[str, CQLQuery]] = [
    ("kieu", CQLQuery(SearchClause("kieu"))),
    ('"truyện kiều"', CQLQuery(SearchClause("truyện kiều"))),
    ("dc.title=kieu", CQLQuery(SearchClause("kieu", "dc.title", EQ))),
    ('dc.title = "Truyện Kiều"', CQLQuery(SearchClause("Truyện Kiều", "dc.title", EQ))),
    ("title == x", CQLQuery(SearchClause("x", "title", Relation("==")))),
    ("date <> 1999", CQLQuery(SearchClause("1999", "date", Relation("<>")))),
    ("date >= 1999", CQLQuery(SearchClause("1999", "date", Relation(">=")))),
    ("date<2000", CQLQuery(SearchClause("2000", "date", Relation("<")))),
    ("title ANY \"a b\"", CQLQuery(SearchClause("a b", "title", Relation("any")))),
    ("title cql.adj x", CQLQuery(SearchClause("x", "title", Relation("cql.adj")))),
    ("date within \"1990 2000\"", CQLQuery(SearchClause("1990 2000", "date", Relation("within")))),
    ("title all/ignoreCase/locale=vi x",
     CQLQuery(SearchClause("x", "title", Relation("all", (Modifier("ignoreCase"),
                                                           Modifier("locale", "=", "vi")))))),
    ("a AND b", CQLQuery(BooleanClause("and", SearchClause("a"), SearchClause("b")))),
    ("a and b or c", CQLQuery(BooleanClause(
        "or", BooleanClause("and", SearchClause("a"), SearchClause("b")), SearchClause("c")))),
    ("a and (b or c)", CQLQuery(BooleanClause(
        "and", SearchClause("a"), BooleanClause("or", SearchClause("b"), SearchClause("c"))))),
    ("a Not b", CQLQuery(BooleanClause("not", SearchClause("a"), SearchClause("b")))),
    ("a prox/distance<3/unit=word b", CQLQuery(BooleanClause(
        "prox", SearchClause("a"), SearchClause("b"),
        (Modifier("distance", "<", "3"), Modifier("unit", "=", "word"))))),
    ('>dc="info:srw/cql-context-set/1/dc-v1.1" dc.title=x', CQLQuery(PrefixedClause(
        (PrefixAssignment("info:srw/cql-context-set/1/dc-v1.1", "dc"),),
        SearchClause("x", "dc.title", EQ)))),
    ('>"info:srw/cql-context-set/1/dc-v1.1" title=x', CQLQuery(PrefixedClause(
        (PrefixAssignment("info:srw/cql-context-set/1/dc-v1.1"),),
        SearchClause("x", "title", EQ)))),
    ("title=x sortBy dc.date/sort.descending title", CQLQuery(
        SearchClause("x", "title", EQ),
        (SortSpec("dc.date", (Modifier("sort.descending"),)), SortSpec("title")))),
    ("x SORTBY title", CQLQuery(SearchClause("x"), (SortSpec("title"),))),
    ("title = and", CQLQuery(SearchClause("and", "title", EQ))),
    ('"and" or "sortby"', CQLQuery(BooleanClause("or", SearchClause("and"),
                                                  SearchClause("sortby")))),
    (r'title = "say \"hi\""', CQLQuery(SearchClause(r"say \"hi\"", "title", EQ))),
    ("title = kie*", CQLQuery(SearchClause("kie*", "title", EQ))),
    ("title = ^kieu^", CQLQuery(SearchClause("^kieu^", "title", EQ))),
    (r"title = a\*b", CQLQuery(SearchClause(r"a\*b", "title", EQ))),
    ('title = ""', CQLQuery(SearchClause("", "title", EQ))),
    ("((((a))))", CQLQuery(SearchClause("a"))),
    ("  a  \t\n", CQLQuery(SearchClause("a"))),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[v[0] for v in VALID])
def test_valid_queries_parse_to_their_tree_and_write_back(text: str, expected: CQLQuery) -> None:
    """Each query gives exactly its tree, and writing the tree gives a query that parses
    to the same tree (keywords in any case, bare or quoted terms)."""
    parsed = parse_cql(text)
    assert parsed == expected
    assert parse_cql(to_cql(parsed)) == parsed


INVALID: list[tuple[str, int, str]] = [
    ("", 0, "empty query"),
    ("   ", 0, "empty query"),
    ("dc.title=", 9, "expected a search term"),
    ("a and", 5, "expected a search term"),
    ("(a", 2, "expected ')'"),
    ("a)", 1, "expected a boolean operator or the end"),
    ('"abc', 0, "unterminated quoted string"),
    ('title = "abc\\"', 8, "unterminated quoted string"),
    ("title foo", 9, "expected a search term"),
    ("harry potter", 12, "expected a search term"),
    ("a sortBy", 8, "expected a sort key"),
    ("a or not b", 10, "expected a search term"),  # "not b" reads as index + relation
    ("title = x y", 10, "expected a boolean operator"),
    ("title =/", 8, "expected a modifier name"),
    ("title =/ x", 10, "expected a search term"),  # x is the modifier's name
    ("a prox/distance<", 16, "expected a modifier value"),
    (">dc=", 4, "expected a context set URI"),
    (">dc= title=x", 10, "expected a search term, found '='"),
    ("()", 1, "expected a search term"),
    ("title = = x", 8, "expected a search term"),
    ("title = x and (", 15, "expected a search term"),
]


@pytest.mark.parametrize(
    ("text", "position", "problem"), INVALID, ids=[i[0] or "empty" for i in INVALID]
)
def test_invalid_queries_give_diagnostic_10_with_the_position(
    text: str, position: int, problem: str
) -> None:
    """Every syntax error is diagnostic 10, naming what was expected and where."""
    with pytest.raises(CQLSyntaxError) as caught:
        parse_cql(text)
    assert caught.value.diagnostic is Diagnostic.QUERY_SYNTAX_ERROR
    assert caught.value.position == position
    assert problem in caught.value.details
    assert f"at character {position}" in caught.value.details


def test_nesting_and_boolean_counts_are_bounded() -> None:
    """Deep parentheses are a syntax error (never a RecursionError); too many booleans 38."""
    assert parse_cql("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH) == CQLQuery(SearchClause("a"))
    with pytest.raises(CQLSyntaxError, match="nested"):
        parse_cql("(" * 100_000 + "a" + ")" * 100_000)
    with pytest.raises(SRUError) as caught:
        parse_cql(" and ".join(["a"] * (MAX_BOOLEANS + 2)))
    assert caught.value.diagnostic is Diagnostic.TOO_MANY_BOOLEAN_OPERATORS


# -- round trip ----------------------------------------------------------------------------

_TEXT = st.text(st.sampled_from(VIETNAMESE_LETTERS + "abcxyzAZ09 .-_*?^()=<>/\t:'"), max_size=12)
_NAME = st.from_regex(r"[a-z][a-z0-9]{0,5}(\.[a-z][a-zA-Z0-9]{0,8})?", fullmatch=True)
_MODIFIERS = st.lists(
    st.builds(Modifier, _NAME)
    | st.builds(Modifier, _NAME, st.sampled_from(["=", "<", ">="]), _TEXT),
    max_size=2,
).map(tuple)
_RELATION = st.builds(
    Relation,
    st.sampled_from(["=", "==", "<>", "<", ">", "<=", ">=", "adj", "all", "any", "within",
                     "encloses", "cql.any"]),
    _MODIFIERS,
)  # fmt: skip
_CLAUSE = st.builds(SearchClause, _TEXT) | st.builds(SearchClause, _TEXT, _NAME, _RELATION)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    booleans = st.builds(BooleanClause, st.sampled_from(["and", "or", "not", "prox"]),
                         children, children, _MODIFIERS)  # fmt: skip
    prefixes = st.lists(
        st.builds(PrefixAssignment, _TEXT, st.none() | _NAME), min_size=1, max_size=2
    ).map(tuple)
    return booleans | st.builds(PrefixedClause, prefixes, children)


_QUERIES = st.builds(
    CQLQuery,
    st.recursive(_CLAUSE, _extend, max_leaves=8),
    st.lists(st.builds(SortSpec, _NAME, _MODIFIERS), max_size=2).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(_QUERIES)
def test_write_then_parse_gives_the_same_tree(query: CQLQuery) -> None:
    """Any tree written as CQL parses back to itself (parse -> write -> parse is stable)."""
    text = to_cql(query)
    assert parse_cql(text) == query
    assert to_cql(parse_cql(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_gives_an_sru_diagnostic(text: str) -> None:
    """Garbage never raises anything but an SRU diagnostic, and what parses round-trips."""
    try:
        parsed = parse_cql(text)
    except SRUError as exc:
        assert exc.diagnostic in (Diagnostic.QUERY_SYNTAX_ERROR,
                                  Diagnostic.TOO_MANY_BOOLEAN_OPERATORS)  # fmt: skip
        return
    assert parse_cql(to_cql(parsed)) == parsed
