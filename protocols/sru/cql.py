"""CQL (Contextual Query Language, SRU 1.2/2.0) parsed into a syntax tree, and written back.

Sans-IO: a string in, a :class:`CQLQuery` out (or a :class:`CQLSyntaxError` carrying SRU
diagnostic 10 and the character position). The grammar is the LoC/OASIS one::

    sortedQuery  ::= prefixAssignment* scopedClause ['sortBy' sortSpec+]
    scopedClause ::= searchClause (boolean modifier* searchClause)*      (left-associative)
    searchClause ::= '(' cqlQuery ')' | index relation modifier* term | term
    relation     ::= '=' | '==' | '<>' | '<' | '>' | '<=' | '>=' | name (adj, all, any, ...)
    modifier     ::= '/' name [comparitor value]
    prefixAssignment ::= '>' [prefix '='] uri

Keywords (and, or, not, prox, sortBy, relation names) are case-insensitive. Terms keep
their backslash escapes: ``\\*`` is a literal asterisk, ``*`` and ``?`` mask, ``^`` anchors;
what they mean is decided when the query is mapped (:func:`term_pattern`). Nesting and the
number of boolean operators are bounded, so a hostile query costs little and never
exhausts the stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from .errors import Diagnostic, SRUError

__all__ = [
    "CQLQuery",
    "CQLSyntaxError",
    "Modifier",
    "Relation",
    "PrefixAssignment",
    "SearchClause",
    "BooleanClause",
    "PrefixedClause",
    "SortSpec",
    "Node",
    "parse_cql",
    "to_cql",
    "MAX_DEPTH",
    "MAX_BOOLEANS",
]

#: Deepest parenthesis nesting accepted (deeper is a syntax error, not a stack overflow).
MAX_DEPTH = 64
#: Most boolean operators in one query (diagnostic 38 beyond).
MAX_BOOLEANS = 256

_BOOLEANS = frozenset({"and", "or", "not", "prox"})
_KEYWORDS = _BOOLEANS | {"sortby"}
_COMPARITORS = frozenset({"=", "==", "<>", "<", ">", "<=", ">="})
_SPECIAL = frozenset('()=<>"/')


class CQLSyntaxError(SRUError):
    """A query that is not CQL: diagnostic 10, with the character position (0-based)."""

    def __init__(self, position: int, problem: str) -> None:
        self.position = position
        super().__init__(Diagnostic.QUERY_SYNTAX_ERROR, f"{problem} at character {position}")


@dataclass(frozen=True, slots=True)
class Modifier:
    """``/name`` or ``/name=value`` on a relation, a boolean or a sort key."""

    name: str
    comparison: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class Relation:
    """A relation: a symbol or a name (lower-cased), with its modifiers."""

    name: str
    modifiers: tuple[Modifier, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchClause:
    """``index relation term``; a bare term has neither index nor relation (server choice)."""

    term: str
    index: str | None = None
    relation: Relation | None = None


@dataclass(frozen=True, slots=True)
class BooleanClause:
    """``left operator right``; operator lower-cased (and, or, not, prox)."""

    operator: str
    left: Node
    right: Node
    modifiers: tuple[Modifier, ...] = ()


@dataclass(frozen=True, slots=True)
class PrefixAssignment:
    """``>prefix="uri"`` (or ``>"uri"``, which sets the default context set)."""

    uri: str
    prefix: str | None = None


@dataclass(frozen=True, slots=True)
class PrefixedClause:
    """Prefix assignments that hold for the query they precede."""

    prefixes: tuple[PrefixAssignment, ...]
    query: Node


@dataclass(frozen=True, slots=True)
class SortSpec:
    """One sort key of ``sortBy``: an index and its modifiers (sort.descending, ...)."""

    index: str
    modifiers: tuple[Modifier, ...] = ()


Node = SearchClause | BooleanClause | PrefixedClause


@dataclass(frozen=True, slots=True)
class CQLQuery:
    """A whole query: the clause tree and the sort keys of its ``sortBy``."""

    root: Node
    sort: tuple[SortSpec, ...] = ()


# -- lexer ---------------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  #: "(", ")", "/", "symbol", "word", "quoted", "end"
    text: str
    position: int


def _tokens(text: str) -> Iterator[_Token]:
    length = len(text)
    at = 0
    while at < length:
        char = text[at]
        if char.isspace():
            at += 1
        elif char in "()/":
            yield _Token(char, char, at)
            at += 1
        elif char in "=<>":
            pair = text[at : at + 2]
            symbol = pair if pair in _COMPARITORS else char
            yield _Token("symbol", symbol, at)
            at += len(symbol)
        elif char == '"':
            start = at
            at += 1
            while at < length and text[at] != '"':
                at += 2 if text[at] == "\\" else 1
            if at >= length:
                raise CQLSyntaxError(start, "unterminated quoted string")
            yield _Token("quoted", text[start + 1 : at], start)
            at += 1
        else:
            start = at
            while at < length and not text[at].isspace() and text[at] not in _SPECIAL:
                at += 1
            yield _Token("word", text[start:at], start)
    yield _Token("end", "", length)


# -- parser --------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token list; depth and boolean count are bounded."""

    def __init__(self, text: str) -> None:
        self.tokens = list(_tokens(text))
        self.at = 0
        self.depth = 0
        self.booleans = 0

    @property
    def next(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def keyword(self) -> str | None:
        """The next token as a lower-cased keyword, if it is an unquoted one."""
        token = self.next
        if token.kind == "word" and token.text.lower() in _KEYWORDS:
            return token.text.lower()
        return None

    def fail(self, expected: str) -> CQLSyntaxError:
        token = self.next
        found = "end of query" if token.kind == "end" else repr(token.text)
        return CQLSyntaxError(token.position, f"expected {expected}, found {found}")

    def term(self, what: str = "a search term") -> str:
        if self.next.kind in ("word", "quoted"):
            return self.take().text
        raise self.fail(what)

    def sorted_query(self) -> CQLQuery:
        if self.next.kind == "end":
            raise CQLSyntaxError(0, "empty query")
        root = self.cql_query()
        sort: list[SortSpec] = []
        if self.keyword() == "sortby":
            self.take()
            while self.next.kind in ("word", "quoted"):
                index = self.take().text
                sort.append(SortSpec(index, self.modifiers()))
            if not sort:
                raise self.fail("a sort key after sortBy")
        if self.next.kind != "end":
            raise self.fail("a boolean operator or the end of the query")
        return CQLQuery(root, tuple(sort))

    def cql_query(self) -> Node:
        prefixes: list[PrefixAssignment] = []
        while self.next.kind == "symbol" and self.next.text == ">":
            self.take()
            first = self.term("a prefix or a context set URI")
            if self.next.kind == "symbol" and self.next.text == "=":
                self.take()
                prefixes.append(PrefixAssignment(self.term("a context set URI"), first))
            else:
                prefixes.append(PrefixAssignment(first))
        clause = self.scoped_clause()
        return PrefixedClause(tuple(prefixes), clause) if prefixes else clause

    def scoped_clause(self) -> Node:
        left = self.search_clause()
        while (operator := self.keyword()) in _BOOLEANS:
            assert operator is not None
            self.take()
            self.booleans += 1
            if self.booleans > MAX_BOOLEANS:
                raise SRUError(Diagnostic.TOO_MANY_BOOLEAN_OPERATORS, f"more than {MAX_BOOLEANS}")
            modifiers = self.modifiers()
            left = BooleanClause(operator, left, self.search_clause(), modifiers)
        return left

    def search_clause(self) -> Node:
        token = self.next
        if token.kind == "(":
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise CQLSyntaxError(token.position, f"more than {MAX_DEPTH} nested parentheses")
            query = self.cql_query()
            if self.next.kind != ")":
                raise self.fail("')'")
            self.take()
            self.depth -= 1
            return query
        first = self.term()
        after = self.next
        if after.kind == "symbol":
            self.take()
            relation = Relation(after.text, self.modifiers())
            return SearchClause(self.term(), first, relation)
        if after.kind == "word" and after.text.lower() not in _KEYWORDS:
            self.take()
            relation = Relation(after.text.lower(), self.modifiers())
            return SearchClause(self.term(), first, relation)
        return SearchClause(first)

    def modifiers(self) -> tuple[Modifier, ...]:
        found: list[Modifier] = []
        while self.next.kind == "/":
            self.take()
            name = self.term("a modifier name")
            if self.next.kind == "symbol":
                comparison = self.take().text
                found.append(Modifier(name, comparison, self.term("a modifier value")))
            else:
                found.append(Modifier(name))
        return tuple(found)


def parse_cql(text: str) -> CQLQuery:
    """Parse a CQL query; raises :class:`CQLSyntaxError` (diagnostic 10) with the position,
    or :class:`SRUError` 38 for more than :data:`MAX_BOOLEANS` boolean operators."""
    return _Parser(text).sorted_query()


# -- writer --------------------------------------------------------------------------------


def _quoted(text: str) -> str:
    """A term as CQL text: bare when it can be, else in quotes (its escapes kept)."""
    if (
        text
        and text.lower() not in _KEYWORDS
        and not any(c.isspace() or c in _SPECIAL for c in text)
    ):
        return text
    if text.endswith("\\") and (len(text) - len(text.rstrip("\\"))) % 2:
        text += "\\"  # a bare word's final backslash would escape the closing quote
    return f'"{text}"'


def _modifiers(modifiers: tuple[Modifier, ...]) -> str:
    parts = []
    for modifier in modifiers:
        part = "/" + _quoted(modifier.name)
        if modifier.comparison is not None and modifier.value is not None:
            part += f"{modifier.comparison}{_quoted(modifier.value)}"
        parts.append(part)
    return "".join(parts)


def _node(node: Node, nested: bool) -> str:
    if isinstance(node, SearchClause):
        if node.index is None or node.relation is None:
            return _quoted(node.term)
        relation = node.relation.name + _modifiers(node.relation.modifiers)
        return f"{_quoted(node.index)} {relation} {_quoted(node.term)}"
    if isinstance(node, PrefixedClause):
        prefixes = " ".join(
            f">{_quoted(p.prefix)}={_quoted(p.uri)}" if p.prefix else f">{_quoted(p.uri)}"
            for p in node.prefixes
        )
        # An inner prefixed clause keeps its own parentheses (else the two would merge).
        text = f"{prefixes} {_node(node.query, True)}"
        return f"({text})" if nested else text
    left = _node(node.left, True)
    right = _node(node.right, True)
    # Booleans are left-associative: a boolean on the right needs parentheses.
    if isinstance(node.right, BooleanClause):
        right = f"({right})"
    text = f"{left} {node.operator}{_modifiers(node.modifiers)} {right}"
    return text


def to_cql(query: CQLQuery) -> str:
    """The query as CQL text that parses back to the same tree."""
    text = _node(query.root, False)
    if query.sort:
        keys = " ".join(_quoted(s.index) + _modifiers(s.modifiers) for s in query.sort)
        text += f" sortBy {keys}"
    return text
