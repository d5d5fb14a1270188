"""Translate the shared query model into SQLite: FTS5 expressions where possible, SQL else.

Boolean combinations of word terms stay one FTS5 expression (fast, and ranked by bm25 as a
whole); anything touching exact keys, dates or result sets becomes compound SQL over
record numbers. User text never reaches SQL or FTS5 syntax unquoted: words are folded,
split on non-word characters and each one double-quoted, and values travel as parameters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from crosswalks.vietnamese import fold_phrase, fold_words

from ..indexing import WORD_COLUMNS, key_for
from ..query import (
    TEXT_INDEXES,
    AllRecords,
    And,
    AndNot,
    Index,
    Match,
    Or,
    Query,
    QueryError,
    RecordNumbers,
    Relation,
    Term,
)

__all__ = ["Compiled", "FtsExpression", "SqlSelect", "SqlCompiler"]

_YEAR_DIGITS = re.compile(r"\d{1,4}")
_KEY_END = "\U0010ffff"
_HEADING_INDEXES = ("title", "author", "subject", "publisher")


@dataclass(frozen=True, slots=True)
class FtsExpression:
    """A query answered by one FTS5 MATCH expression over ``record_text``."""

    text: str


@dataclass(frozen=True, slots=True)
class SqlSelect:
    """A SELECT yielding a ``number`` column, its parameters, and an optional FTS5 expression
    of the query's positive word terms (for relevance ranking)."""

    sql: str
    params: list[object] = field(default_factory=list)
    scores: str | None = None


Compiled = FtsExpression | SqlSelect


class SqlCompiler:
    """Compiles one query; stateless apart from the query it is given."""

    def compile(self, query: Query) -> Compiled:
        """Return the FTS5 expression or SQL that selects the records matching ``query``."""
        if isinstance(query, Term):
            return self._term(query)
        if isinstance(query, And | Or | AndNot):
            return self._boolean(query)
        if isinstance(query, RecordNumbers):
            return SqlSelect(
                "SELECT value AS number FROM json_each(?)", [json.dumps(sorted(query.numbers))]
            )
        if isinstance(query, AllRecords):
            return SqlSelect("SELECT number FROM records WHERE deleted = 0")
        raise QueryError(f"unsupported query node {type(query).__name__}")

    @staticmethod
    def as_select(compiled: Compiled) -> tuple[str, list[object], str | None]:
        """Express any compiled query as SQL (sql, params, relevance expression)."""
        if isinstance(compiled, FtsExpression):
            return (
                "SELECT rowid AS number FROM record_text WHERE record_text MATCH ?",
                [compiled.text],
                compiled.text,
            )
        return compiled.sql, list(compiled.params), compiled.scores

    # -- booleans ---------------------------------------------------------------------
    def _boolean(self, node: And | Or | AndNot) -> Compiled:
        left, right = self.compile(node.left), self.compile(node.right)
        if isinstance(left, FtsExpression) and isinstance(right, FtsExpression):
            operator = {And: "AND", Or: "OR", AndNot: "NOT"}[type(node)]
            return FtsExpression(f"({left.text}) {operator} ({right.text})")
        lsql, lparams, lscores = self.as_select(left)
        rsql, rparams, rscores = self.as_select(right)
        operator = {And: "INTERSECT", Or: "UNION", AndNot: "EXCEPT"}[type(node)]
        if isinstance(node, AndNot):
            scores = lscores
        else:
            present = [s for s in (lscores, rscores) if s]
            scores = " OR ".join(f"({s})" for s in present) or None
        return SqlSelect(
            f"SELECT number FROM ({lsql}) {operator} SELECT number FROM ({rsql})",
            [*lparams, *rparams],
            scores,
        )

    # -- terms ------------------------------------------------------------------------
    def _term(self, term: Term) -> Compiled:
        if term.index is Index.DATE:
            return self._date(term)
        if term.index is Index.SOURCE:
            return self._source(term)
        if term.relation is not Relation.EQ:
            raise QueryError(
                f"relation {term.relation.value} applies to dates only", index=term.index.value
            )
        if term.index in TEXT_INDEXES and term.match is not Match.EXACT:
            return self._words(term)
        return self._key(term)

    @staticmethod
    def _words(term: Term) -> FtsExpression:
        words = fold_words(term.value)
        if not words:
            raise QueryError("the term has no searchable words", index=term.index.value,
                             value=term.value)  # fmt: skip
        # "other" holds only text that no named column has, so ANY searches all five.
        column = (
            "{" + (" ".join(WORD_COLUMNS) if term.index is Index.ANY else term.index.value) + "}"
        )
        star = " *" if term.truncated else ""
        if term.match is Match.PHRASE:
            return FtsExpression(f'{column} : "{" ".join(words)}"{star}')
        quoted = [f'"{w}"' for w in words]
        quoted[-1] += star
        operator = " OR " if term.match is Match.ANY_WORD else " AND "
        return FtsExpression(f"{column} : ({operator.join(quoted)})")

    def _key(self, term: Term) -> Compiled:
        if term.index in TEXT_INDEXES:
            return self._exact_text(term)
        if term.truncated:
            prefix = _prefix_key(term)
            return SqlSelect(
                "SELECT number FROM codes WHERE idx = ? AND key >= ? AND key < ?",
                [term.index.value, prefix, prefix + _KEY_END],
            )
        key = key_for(term.index, term.value)
        if key is None:
            # A value that cannot be a key of this index (an "ISBN" without digits) matches
            # nothing; it is not an error a cataloguer needs to see.
            return SqlSelect("SELECT number FROM records WHERE 0")
        return SqlSelect("SELECT number FROM codes WHERE idx = ? AND key = ?",
                         [term.index.value, key])  # fmt: skip

    def _exact_text(self, term: Term) -> SqlSelect:
        """Whole-heading match: records with all the words, whose stored heading key
        equals (or, truncated, starts with) the folded value."""
        candidates = self._words(Term(term.index, term.value, Match.ALL_WORDS, term.truncated))
        names = list(_HEADING_INDEXES) if term.index is Index.ANY else [term.index.value]
        marks = ",".join("?" * len(names))
        key = fold_phrase(term.value)
        if term.truncated:
            test, value = "substr(json_extract(j.value, '$[1]'), 1, ?) = ?", [len(key), key]
        else:
            test, value = "json_extract(j.value, '$[1]') = ?", [key]
        return SqlSelect(
            "SELECT r.number FROM records r WHERE r.number IN "
            "(SELECT rowid FROM record_text WHERE record_text MATCH ?) AND EXISTS "
            "(SELECT 1 FROM json_each(r.keys) j WHERE "
            f"json_extract(j.value, '$[0]') IN ({marks}) AND {test})",
            [candidates.text, *names, *value],
            candidates.text,
        )

    @staticmethod
    def _source(term: Term) -> SqlSelect:
        """Member library: a column of every record, not a key row."""
        value = key_for(Index.SOURCE, term.value.rstrip("*") if term.truncated else term.value)
        if not value:
            return SqlSelect("SELECT number FROM records WHERE 0")
        if term.truncated:
            return SqlSelect(
                "SELECT number FROM records WHERE deleted = 0 AND source >= ? AND source < ?",
                [value, value + _KEY_END],
            )
        return SqlSelect("SELECT number FROM records WHERE deleted = 0 AND source = ?", [value])

    @staticmethod
    def _date(term: Term) -> SqlSelect:
        match = _YEAR_DIGITS.search(term.value)
        if match is None:
            raise QueryError(
                f"{term.value!r} is not a year or date", index=term.index.value, value=term.value
            )
        digits = match.group(0)
        if term.truncated and len(digits) < 4:
            scale = 10 ** (4 - len(digits))
            low, high = int(digits) * scale, (int(digits) + 1) * scale - 1
        else:
            low = high = int(digits)
        condition = {
            Relation.EQ: ("year BETWEEN ? AND ?", [low, high]),
            Relation.LT: ("year < ?", [low]),
            Relation.LE: ("year <= ?", [high]),
            Relation.GT: ("year > ?", [high]),
            Relation.GE: ("year >= ?", [low]),
        }[term.relation]
        return SqlSelect(
            f"SELECT number FROM records WHERE deleted = 0 AND {condition[0]}", list(condition[1])
        )


def _prefix_key(term: Term) -> str:
    """The key prefix of a right-truncated value (its key form without the masked end)."""
    value = term.value.rstrip("*?")
    if term.index in (Index.ISBN, Index.ISSN):
        return re.sub(r"[^0-9X]", "", value.upper())
    if term.index in TEXT_INDEXES:
        return fold_phrase(value)
    return key_for(term.index, value) or ""
