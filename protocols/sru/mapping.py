"""CQL syntax trees to the gateway's query model, through context-set tables.

Clients name indexes from several context sets (``dc.title``, ``bath.isbn``,
``cql.serverChoice``, ``rec.identifier``, unprefixed local names); the tables below say
which store index each one searches, so adding a name is a line of data. What the store
cannot do is refused with the SRU diagnostic that says so: unknown index 16, relation 19,
relation modifier 20, empty term 27, masking other than right truncation 28, a term of
masks only 29, anchoring other than the whole field 32, proximity 39, boolean modifiers 46,
unknown context set 15, unknown result set 51.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
    standard_number_index,
)

from .cql import (
    BooleanClause,
    CQLQuery,
    Modifier,
    Node,
    PrefixedClause,
    SearchClause,
    SortSpec,
)
from .errors import Diagnostic, SRUError

__all__ = [
    "CONTEXT_SETS",
    "INDEXES",
    "MappedQuery",
    "map_query",
    "map_sort",
    "scan_index",
    "facet_requests",
    "FACET_INDEXES",
    "TermPattern",
    "term_pattern",
]

#: Context sets by prefix: the URI a prefix assignment may name, and what clients call it.
CONTEXT_SETS: dict[str, str] = {
    "cql": "info:srw/cql-context-set/1/cql-v1.2",
    "dc": "info:srw/cql-context-set/1/dc-v1.1",
    "bath": "http://zing.z3950.org/cql/bath/2.0/",
    "rec": "info:srw/cql-context-set/2/rec-1.1",
    "bib": "info:srw/cql-context-set/1/bib-v1",
    "lt": "info:srw/cql-context-set/x/lienthong-v1",
}
_SET_BY_URI = {uri: prefix for prefix, uri in CONTEXT_SETS.items()}
_SET_BY_URI["info:srw/cql-context-set/1/cql-v1.1"] = "cql"
_SET_BY_URI["info:srw/cql-context-set/2/rec-1.0"] = "rec"

#: ``prefix.name`` (lower case) -> the store index. Unprefixed names use the local set.
INDEXES: dict[str, Index] = {
    "cql.serverchoice": Index.ANY, "cql.anywhere": Index.ANY, "cql.keywords": Index.ANY,
    "dc.title": Index.TITLE, "dc.creator": Index.AUTHOR, "dc.contributor": Index.AUTHOR,
    "dc.subject": Index.SUBJECT, "dc.publisher": Index.PUBLISHER, "dc.date": Index.DATE,
    "dc.language": Index.LANGUAGE, "dc.description": Index.ANY,
    "dc.identifier": Index.CONTROL_NUMBER, "dc.source": Index.SOURCE,
    "bath.title": Index.TITLE, "bath.keytitle": Index.TITLE, "bath.name": Index.AUTHOR,
    "bath.author": Index.AUTHOR, "bath.personalname": Index.AUTHOR,
    "bath.corporatename": Index.AUTHOR, "bath.conferencename": Index.AUTHOR,
    "bath.subject": Index.SUBJECT, "bath.topicalsubject": Index.SUBJECT,
    "bath.geographicname": Index.SUBJECT, "bath.isbn": Index.ISBN, "bath.issn": Index.ISSN,
    "bath.standardidentifier": Index.CONTROL_NUMBER, "bath.any": Index.ANY,
    "rec.identifier": Index.CONTROL_NUMBER,
    "bib.title": Index.TITLE, "bib.name": Index.AUTHOR, "bib.subject": Index.SUBJECT,
    "bib.date": Index.DATE, "bib.publisher": Index.PUBLISHER, "bib.isbn": Index.ISBN,
    "bib.issn": Index.ISSN,
    "lt.title": Index.TITLE, "lt.author": Index.AUTHOR, "lt.subject": Index.SUBJECT,
    "lt.publisher": Index.PUBLISHER, "lt.any": Index.ANY, "lt.keyword": Index.ANY,
    "lt.isbn": Index.ISBN, "lt.issn": Index.ISSN, "lt.date": Index.DATE,
    "lt.year": Index.DATE, "lt.language": Index.LANGUAGE, "lt.library": Index.SOURCE,
    "lt.source": Index.SOURCE, "lt.controlnumber": Index.CONTROL_NUMBER,
}  # fmt: skip
# Identifier indexes whose term says which standard number it is.
_STANDARD_NUMBER = frozenset({"dc.identifier", "bath.standardidentifier"})

# CQL relation -> how words match (text indexes); order relations are for dates.
_MATCH = {"=": Match.ALL_WORDS, "all": Match.ALL_WORDS, "any": Match.ANY_WORD,
          "adj": Match.PHRASE, "==": Match.EXACT}  # fmt: skip
_ORDER = {"<": Relation.LT, "<=": Relation.LE, ">": Relation.GT, ">=": Relation.GE}
# Relation modifiers this store honours by always doing the same thing (folded, Vietnamese
# aware), and those that change the match.
_HARMLESS_MODIFIERS = frozenset({"ignorecase", "ignoreaccents", "word", "locale", "masked",
                                 "lang", "relevant"})  # fmt: skip
_SORT_FIELDS = {Index.TITLE: SortField.TITLE, Index.AUTHOR: SortField.AUTHOR,
                Index.DATE: SortField.DATE}  # fmt: skip

ResultSets = Callable[[str], frozenset[int] | None]


@dataclass(frozen=True, slots=True)
class TermPattern:
    """A CQL term read for its masks and anchors (escapes resolved)."""

    text: str
    truncated: bool  #: a final unescaped ``*``
    anchored: bool  #: ``^`` at both ends: the whole field


def term_pattern(term: str, *, masked: bool = True) -> TermPattern:
    """Resolve backslash escapes; refuse masks and anchors the store cannot honour.

    Only right truncation (``kie*``) and whole-field anchoring (``^Truyện Kiều^``) are
    searchable; anything else is diagnostic 28 or 32, a term of masks only 29.
    """
    chars: list[str] = []
    special: list[int] = []  # positions (in chars) of unescaped * ? ^
    escaped = False
    for char in term:
        if escaped:
            chars.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            if masked and char in "*?^":
                special.append(len(chars))
            chars.append(char)
    text = "".join(chars)
    if not masked or not special:
        return TermPattern(text, False, False)
    marks = {position: text[position] for position in special}
    body_start = 1 if marks.get(0) == "^" else 0
    anchored_end = marks.get(len(text) - 1) == "^" and len(text) > 1
    anchored = bool(body_start and anchored_end)
    if body_start != anchored_end and "^" in marks.values():
        raise SRUError(Diagnostic.ANCHORING_NOT_SUPPORTED, term)
    body = text[body_start : len(text) - 1 if anchored_end else len(text)]
    inner = {p - body_start: c for p, c in marks.items() if c != "^"}
    if any(c == "^" for p, c in marks.items() if p not in (0, len(text) - 1)):
        raise SRUError(Diagnostic.ANCHORING_NOT_SUPPORTED, term)
    truncated = inner.get(len(body) - 1) == "*"
    if truncated:
        body = body[:-1]
        inner.pop(len(body), None)
    if inner:
        if not body.strip("*?"):
            raise SRUError(Diagnostic.MASKED_WORDS_TOO_SHORT, term)
        raise SRUError(Diagnostic.MASKING_NOT_SUPPORTED, term)
    if truncated and not body.strip():
        raise SRUError(Diagnostic.MASKED_WORDS_TOO_SHORT, term)
    return TermPattern(body, truncated, anchored)


@dataclass(frozen=True, slots=True)
class MappedQuery:
    """A CQL query as the store takes it: the query and its sort keys."""

    query: Query
    sort: tuple[SortKey, ...]


class _Mapper:
    def __init__(self, result_sets: ResultSets) -> None:
        self.result_sets = result_sets
        self.prefixes: list[dict[str, str]] = [{}]  # prefix -> known set, innermost last

    def context(self, prefix: str) -> str:
        for scope in reversed(self.prefixes):
            if prefix in scope:
                return scope[prefix]
        return prefix

    def node(self, node: Node) -> Query:
        if isinstance(node, PrefixedClause):
            scope: dict[str, str] = {}
            for assignment in node.prefixes:
                known = _SET_BY_URI.get(assignment.uri)
                if known is None:
                    raise SRUError(Diagnostic.UNSUPPORTED_CONTEXT_SET, assignment.uri)
                scope[(assignment.prefix or "").lower()] = known
            self.prefixes.append(scope)
            try:
                return self.node(node.query)
            finally:
                self.prefixes.pop()
        if isinstance(node, BooleanClause):
            if node.operator == "prox":
                raise SRUError(Diagnostic.PROXIMITY_NOT_SUPPORTED, "prox")
            if node.modifiers:
                raise SRUError(Diagnostic.UNSUPPORTED_BOOLEAN_MODIFIER, node.modifiers[0].name)
            left, right = self.node(node.left), self.node(node.right)
            if node.operator == "and":
                return And(left, right)
            if node.operator == "or":
                return Or(left, right)
            return AndNot(left, right)
        return self.clause(node)

    def index_name(self, index: str | None) -> str:
        """The qualified, lower-case index name (prefix resolved, default set applied)."""
        if index is None:
            return "cql.serverchoice"
        name = index.lower()
        prefix, _, rest = name.rpartition(".")
        if not prefix:
            default = self.context("")
            return f"{default}.{rest}" if default else f"lt.{rest}"
        return f"{self.context(prefix)}.{rest}"

    def clause(self, clause: SearchClause) -> Query:
        name = self.index_name(clause.index)
        relation = clause.relation.name if clause.relation else "="
        modifiers = clause.relation.modifiers if clause.relation else ()
        if name == "cql.allrecords":
            return AllRecords()
        if name == "cql.resultsetid":
            numbers = self.result_sets(clause.term)
            if numbers is None:
                raise SRUError(Diagnostic.RESULT_SET_DOES_NOT_EXIST, clause.term)
            return RecordNumbers(numbers)
        index = INDEXES.get(name)
        if index is None:
            raise SRUError(Diagnostic.UNSUPPORTED_INDEX, clause.index or name)
        masked = _check_modifiers(modifiers)
        match = _MATCH.get(relation.removeprefix("cql."))
        if any(m.name.lower() == "string" for m in modifiers):
            match = Match.EXACT
        pattern = term_pattern(clause.term, masked=masked)
        if not pattern.text.strip():
            raise SRUError(Diagnostic.EMPTY_TERM_UNSUPPORTED, clause.index or "")
        if name in _STANDARD_NUMBER:
            index = standard_number_index(pattern.text)
        if pattern.anchored:
            match = Match.EXACT
        relation = relation.removeprefix("cql.")
        if match is not None:
            return Term(index, pattern.text, match, pattern.truncated)
        if relation in _ORDER and index is Index.DATE:
            return Term(index, pattern.text, Match.ALL_WORDS, False, _ORDER[relation])
        if relation == "within" and index is Index.DATE:
            bounds = pattern.text.split()
            if len(bounds) != 2:
                raise SRUError(Diagnostic.UNSUPPORTED_RELATION, "within needs two dates")
            return And(Term(index, bounds[0], relation=Relation.GE),
                       Term(index, bounds[1], relation=Relation.LE))  # fmt: skip
        if relation == "<>":
            return AndNot(AllRecords(), Term(index, pattern.text, Match.EXACT, pattern.truncated))
        raise SRUError(Diagnostic.UNSUPPORTED_RELATION, relation)

    def sort(self, specs: Sequence[SortSpec]) -> tuple[SortKey, ...]:
        keys = []
        for spec in specs:
            index = INDEXES.get(self.index_name(spec.index))
            field = _SORT_FIELDS.get(index) if index is not None else None
            if field is None:
                raise SRUError(Diagnostic.SORT_NOT_SUPPORTED, spec.index)
            names = {m.name.lower() for m in spec.modifiers}
            keys.append(SortKey(field, descending="sort.descending" in names))
        return tuple(keys)


def _check_modifiers(modifiers: tuple[Modifier, ...]) -> bool:
    """Refuse modifiers that would change the match; return whether masks are masks."""
    masked = True
    for modifier in modifiers:
        name = modifier.name.lower().removeprefix("cql.")
        if name == "unmasked":
            masked = False
        elif name not in _HARMLESS_MODIFIERS and name != "string":
            raise SRUError(Diagnostic.UNSUPPORTED_RELATION_MODIFIER, modifier.name)
    return masked


def map_query(query: CQLQuery, result_sets: ResultSets = lambda _: None) -> MappedQuery:
    """The store query and sort keys for a parsed CQL query, or :class:`SRUError`.

    ``result_sets`` looks up a result set named by ``cql.resultSetId`` (None: unknown).
    """
    mapper = _Mapper(result_sets)
    return MappedQuery(mapper.node(query.root), mapper.sort(query.sort))


def map_sort(specs: Sequence[SortSpec]) -> tuple[SortKey, ...]:
    """Store sort keys for sort specifications (CQL sortBy, or SRU 1.1 sortKeys)."""
    return _Mapper(lambda _: None).sort(specs)


def scan_index(clause: CQLQuery) -> tuple[Index, str]:
    """The index and start term of a scan clause (``index = term`` or a bare term).

    A scan clause is one search clause with the ``=`` relation; anything else is refused
    with the diagnostic that names the problem.
    """
    root = clause.root
    mapper = _Mapper(lambda _: None)
    while isinstance(root, PrefixedClause):
        mapper.node(PrefixedClause(root.prefixes, SearchClause("x")))  # checks the sets
        root = root.query
    if not isinstance(root, SearchClause):
        raise SRUError(Diagnostic.QUERY_SYNTAX_ERROR, "a scan clause is one index = term")
    if root.relation is not None and root.relation.name not in ("=", "cql.="):
        raise SRUError(Diagnostic.UNSUPPORTED_RELATION, root.relation.name)
    name = mapper.index_name(root.index)
    index = INDEXES.get(name)
    if index is None:
        raise SRUError(Diagnostic.UNSUPPORTED_INDEX, root.index or name)
    return index, term_pattern(root.term, masked=False).text


#: Indexes whose values can be counted as facets.
FACET_INDEXES = frozenset({Index.AUTHOR, Index.SUBJECT, Index.DATE, Index.LANGUAGE,
                           Index.SOURCE})  # fmt: skip


def facet_requests(text: str, default_limit: int = 10) -> list[tuple[str, Index, int]]:
    """SRU 2.0 ``facetLimit`` ("10:dc.creator,5:dc.subject"): (name, index, limit) each.

    A name may come without a count (the default limit). Unknown or uncountable indexes
    are diagnostic 16; a count that is not a number is 6.
    """
    found = []
    mapper = _Mapper(lambda _: None)
    for item in filter(None, (part.strip() for part in text.split(","))):
        count, _, name = item.rpartition(":")
        if count and not (count.isascii() and count.isdigit()):
            raise SRUError(Diagnostic.UNSUPPORTED_PARAMETER_VALUE, f"facetLimit={item[:40]}")
        index = INDEXES.get(mapper.index_name(name))
        if index not in FACET_INDEXES:
            raise SRUError(Diagnostic.UNSUPPORTED_INDEX, name[:80])
        assert index is not None
        found.append((name, index, min(int(count), 100) if count else default_limit))
    return found
