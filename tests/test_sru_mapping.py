"""CQL -> query model: the context-set tables, relations, masks, and the diagnostics."""

from __future__ import annotations

import pytest

from gateway.query import (
    AllRecords,
    And,
    AndNot,
    Index,
    Match,
    Or,
    RecordNumbers,
    Relation,
    SortField,
    SortKey,
    Term,
)
from gateway.store import RecordStore
from protocols.sru.cql import parse_cql
from protocols.sru.errors import Diagnostic, SRUError
from protocols.sru.mapping import INDEXES, map_query

MAPPED = [
    ("kieu", Term(Index.ANY, "kieu")),
    ("cql.serverChoice = kieu", Term(Index.ANY, "kieu")),
    ('dc.title = "truyện kiều"', Term(Index.TITLE, "truyện kiều")),
    ("DC.Title any \"a b\"", Term(Index.TITLE, "a b", Match.ANY_WORD)),
    ('dc.title adj "truyen kieu"', Term(Index.TITLE, "truyen kieu", Match.PHRASE)),
    ('dc.title == "Truyện Kiều"', Term(Index.TITLE, "Truyện Kiều", Match.EXACT)),
    ('title = "^Truyện Kiều^"', Term(Index.TITLE, "Truyện Kiều", Match.EXACT)),
    ("dc.title =/string x", Term(Index.TITLE, "x", Match.EXACT)),
    ("dc.creator = nguyen*", Term(Index.AUTHOR, "nguyen", truncated=True)),
    ("bath.author =/ignoreCase du", Term(Index.AUTHOR, "du")),
    ("bath.isbn = 9786041234567", Term(Index.ISBN, "9786041234567")),
    ("bath.issn = 0317-8471", Term(Index.ISSN, "0317-8471")),
    ("dc.identifier = 0-19-852663-6", Term(Index.ISBN, "0-19-852663-6")),
    ("dc.identifier = 0317-8471", Term(Index.ISSN, "0317-8471")),
    ("rec.identifier = 00280611", Term(Index.CONTROL_NUMBER, "00280611")),
    ("subject = thơ", Term(Index.SUBJECT, "thơ")),
    ("lt.library = dlk-tinh", Term(Index.SOURCE, "dlk-tinh")),
    ("dc.date >= 1990", Term(Index.DATE, "1990", relation=Relation.GE)),
    ('dc.date within "1990 2000"',
     And(Term(Index.DATE, "1990", relation=Relation.GE),
         Term(Index.DATE, "2000", relation=Relation.LE))),
    ("a or b not c", AndNot(Or(Term(Index.ANY, "a"), Term(Index.ANY, "b")), Term(Index.ANY, "c"))),
    ("cql.allRecords = 1", AllRecords()),
    ("title <> x", AndNot(AllRecords(), Term(Index.TITLE, "x", Match.EXACT))),
    (r"title = a\*b", Term(Index.TITLE, "a*b")),
    ("title =/cql.unmasked a*b", Term(Index.TITLE, "a*b")),
    ('>dc="info:srw/cql-context-set/1/dc-v1.1" dc.title = x', Term(Index.TITLE, "x")),
    ('>"info:srw/cql-context-set/1/dc-v1.1" creator = x', Term(Index.AUTHOR, "x")),
    ('>b="http://zing.z3950.org/cql/bath/2.0/" b.isbn = 1', Term(Index.ISBN, "1")),
]  # fmt: skip


@pytest.mark.parametrize(("cql", "expected"), MAPPED, ids=[m[0] for m in MAPPED])
def test_cql_maps_to_the_query_model(cql: str, expected: object) -> None:
    """Index names from every context set, relations, masks and prefixes, as a table."""
    assert map_query(parse_cql(cql)).query == expected


REFUSED = [
    ("foo.bar = x", Diagnostic.UNSUPPORTED_INDEX, "foo.bar"),
    ("dc.type = book", Diagnostic.UNSUPPORTED_INDEX, "dc.type"),
    ("dc.title encloses x", Diagnostic.UNSUPPORTED_RELATION, "encloses"),
    ("dc.title < x", Diagnostic.UNSUPPORTED_RELATION, "<"),
    ("dc.title =/respectCase x", Diagnostic.UNSUPPORTED_RELATION_MODIFIER, "respectCase"),
    ('dc.title = ""', Diagnostic.EMPTY_TERM_UNSUPPORTED, "dc.title"),
    ("dc.title = *ieu", Diagnostic.MASKING_NOT_SUPPORTED, "*ieu"),
    ("dc.title = k?eu", Diagnostic.MASKING_NOT_SUPPORTED, "k?eu"),
    ("dc.title = *", Diagnostic.MASKED_WORDS_TOO_SHORT, "*"),
    ("dc.title = ***", Diagnostic.MASKED_WORDS_TOO_SHORT, "***"),
    ("dc.title = ^kieu", Diagnostic.ANCHORING_NOT_SUPPORTED, "^kieu"),
    ("a prox b", Diagnostic.PROXIMITY_NOT_SUPPORTED, "prox"),
    ("a and/rel.algorithm=x b", Diagnostic.UNSUPPORTED_BOOLEAN_MODIFIER, "rel.algorithm"),
    ('>x="urn:nothing" x.title = y', Diagnostic.UNSUPPORTED_CONTEXT_SET, "urn:nothing"),
    ("cql.resultSetId = abc", Diagnostic.RESULT_SET_DOES_NOT_EXIST, "abc"),
    ("x sortBy dc.subject", Diagnostic.SORT_NOT_SUPPORTED, "dc.subject"),
]


@pytest.mark.parametrize(("cql", "diagnostic", "details"), REFUSED, ids=[r[0] for r in REFUSED])
def test_what_the_store_cannot_do_is_refused_with_its_diagnostic(
    cql: str, diagnostic: Diagnostic, details: str
) -> None:
    """Each unsupported index, relation, modifier or mask gets its own SRU diagnostic."""
    with pytest.raises(SRUError) as caught:
        map_query(parse_cql(cql))
    assert caught.value.diagnostic is diagnostic
    assert caught.value.details == details


def test_sort_keys_and_result_sets() -> None:
    """sortBy becomes store sort keys; cql.resultSetId uses the lookup it is given."""
    mapped = map_query(parse_cql("x sortBy dc.date/sort.descending dc.title"))
    assert mapped.sort == (SortKey(SortField.DATE, True), SortKey(SortField.TITLE))
    sets = {"rs1": frozenset({1, 5})}
    assert map_query(parse_cql("cql.resultSetId = rs1"), sets.get).query == RecordNumbers(
        frozenset({1, 5})
    )


def test_every_table_entry_names_a_store_index() -> None:
    """The table is data: each name maps to an index the store can search."""
    assert INDEXES and all(isinstance(index, Index) for index in INDEXES.values())


@pytest.mark.parametrize(
    ("cql", "expected_min"),
    [
        ('dc.title = "Thời trẻ của một đại tướng"', 1),
        ('dc.title = "thoi tre cua mot dai tuong"', 1),  # no diacritics
        ('dc.title adj "dai tuong"', 1),
        ("dc.date >= 1990 and dc.date <= 2010", 50),
        ("cql.allRecords = 1 not dc.language = vie", 0),
    ],
)
def test_mapped_queries_find_the_vietnamese_records(
    vie_store: RecordStore, cql: str, expected_min: int
) -> None:
    """Mapped CQL runs on the store: Vietnamese titles with and without marks match."""
    mapped = map_query(parse_cql(cql))
    result = vie_store.search(mapped.query, sort=mapped.sort, limit=10)
    assert result.total >= expected_min
    if expected_min == 0:
        assert result.total == 0
