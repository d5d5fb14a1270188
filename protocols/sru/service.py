"""SRU semantics over the record store: searchRetrieve and scan (sans-IO, blocking).

One call per HTTP request: :meth:`SRUService.respond` takes the raw parameters and the
database (None for the union catalogue, a member library's id for ``/sru/<id>``) and
returns the response bytes. It never raises: a bad request is answered with its SRU
diagnostic in the version asked for, and an unexpected failure with diagnostic 1 (logged,
without the request's data). The store is blocking, so the Twisted layer calls this in its
thread pool.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

from crosswalks.formats import render_xml
from crosswalks.xmlchars import XmlText
from gateway.query import And, Index, Query, QueryError, SortKey, Term
from gateway.store import RecordStore

from .cql import Modifier, SortSpec, parse_cql
from .errors import Diagnostic, SRUError
from .explain import INDEX_TITLES, ExplainInfo, explain_record
from .mapping import facet_requests, map_query, map_sort, scan_index
from .request import SCHEMA_URIS, Limits, SRURequest, parse_request, requested_version
from .response import (
    Facet,
    Operation,
    ResponseRecord,
    ResponseTerm,
    SearchRetrieveResponse,
    diagnostic_response,
    explain_response,
    scan_response,
    search_retrieve_response,
)

__all__ = ["SRUService", "ResultSets"]

_LOG = logging.getLogger(__name__)


class ResultSets:
    """Named result sets kept for their time to live (in this process, bounded in number).

    A client names a set with ``resultSetTTL`` and reuses it as ``cql.resultSetId = id``;
    the oldest sets are dropped first when more than ``capacity`` are alive.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, capacity: int = 1000) -> None:
        self._clock = clock
        self._capacity = capacity
        self._sets: OrderedDict[str, tuple[float, frozenset[int]]] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, numbers: Sequence[int], ttl: int) -> str:
        """Keep ``numbers`` for ``ttl`` seconds; return the new set's id."""
        name = secrets.token_hex(6)
        with self._lock:
            self._sets[name] = (self._clock() + ttl, frozenset(numbers))
            while len(self._sets) > self._capacity:
                self._sets.popitem(last=False)
        return name

    def get(self, name: str) -> frozenset[int] | None:
        """The set's record numbers, or None when unknown or expired."""
        with self._lock:
            found = self._sets.get(name)
            if found is None:
                return None
            if found[0] < self._clock():
                del self._sets[name]
                return None
            return found[1]


def _operation_hint(arguments: Mapping[bytes, Sequence[bytes]]) -> Operation:
    """The operation a request meant, to shape a diagnostic before it could be read."""
    named = (arguments.get(b"operation") or [b""])[0]
    if named == b"scan" or (not named and b"scanClause" in arguments):
        return Operation.SCAN
    if named == b"explain" or (not named and b"query" not in arguments):
        return Operation.EXPLAIN
    return Operation.SEARCH_RETRIEVE


def _sort_keys_11(text: str | None) -> tuple[SortKey, ...]:
    """SRU 1.1 ``sortKeys``: space-separated ``path,schema,ascending,...`` keys."""
    if not text:
        return ()
    specs = []
    for key in text.split():
        parts = key.split(",")
        descending = len(parts) > 2 and parts[2] == "0"
        modifiers = (Modifier("sort.descending"),) if descending else ()
        specs.append(SortSpec(parts[0], modifiers))
    return map_sort(specs)


def _cql_quoted(value: str) -> str:
    """A value as a quoted CQL term (backslash and quote escaped, masks made literal)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    for mask in "*?^":
        escaped = escaped.replace(mask, "\\" + mask)
    return f'"{escaped}"'


class SRUService:
    """Answers SRU requests from one store."""

    def __init__(
        self,
        store: RecordStore,
        limits: Limits,
        result_sets: ResultSets | None = None,
        titles: Callable[[str | None], tuple[str, str]] | None = None,
    ) -> None:
        self.store = store
        self.limits = limits
        self.result_sets = result_sets or ResultSets()
        #: (Vietnamese, English) title of a database; the union catalogue is None.
        self.titles = titles or (lambda database: (
            "Mục lục liên thông" if database is None else f"Thư viện {database}",
            "Union catalogue" if database is None else f"Library {database}",
        ))  # fmt: skip

    def respond(
        self,
        arguments: Mapping[bytes, Sequence[bytes]],
        database: str | None = None,
        *,
        endpoint: tuple[str, int] = ("localhost", 80),
    ) -> bytes:
        """The response document for one request (never raises).

        ``endpoint`` is the host and port the client reached (explain announces them).
        """
        operation = _operation_hint(arguments)
        try:
            version = requested_version(arguments, self.limits)
        except SRUError as error:
            return diagnostic_response(self.limits.default_version, operation, error)
        stylesheet = None
        try:
            request = parse_request(arguments, self.limits)
            operation, stylesheet = request.operation, request.stylesheet
            if operation is Operation.SEARCH_RETRIEVE:
                return self.search_retrieve(request, database)
            if operation is Operation.SCAN:
                return self.scan(request, database)
            return self.explain(request, database, endpoint)
        except SRUError as error:
            return diagnostic_response(version, operation, error, stylesheet)
        except QueryError as error:
            wrapped = SRUError(Diagnostic.UNSUPPORTED_PARAMETER_VALUE, str(error)[:200])
            return diagnostic_response(version, operation, wrapped, stylesheet)
        except Exception:  # answered as diagnostic 1; the request's data stays out of the log
            _LOG.exception("SRU %s failed", operation.value)
            failure = SRUError(Diagnostic.GENERAL_SYSTEM_ERROR)
            return diagnostic_response(version, operation, failure, stylesheet)

    def _scoped(self, query: Query, database: str | None) -> Query:
        return query if database is None else And(query, Term(Index.SOURCE, database))

    def search_retrieve(self, request: SRURequest, database: str | None) -> bytes:
        """One page of records for the query, rendered in the requested schema."""
        assert request.query is not None
        mapped = map_query(parse_cql(request.query), self.result_sets.get)
        sort = mapped.sort or _sort_keys_11(request.sort_keys)
        query = self._scoped(mapped.query, database)
        result = self.store.search(
            query, sort=sort, offset=request.start_record - 1, limit=request.maximum_records
        )
        diagnostics: list[SRUError] = []
        if request.maximum_records and result.total and request.start_record > result.total:
            diagnostics.append(
                SRUError(Diagnostic.FIRST_RECORD_OUT_OF_RANGE, str(request.start_record))
            )
        page = XmlText()
        fmt = request.record_schema
        records = [
            ResponseRecord(
                SCHEMA_URIS[fmt],
                render_xml(stored.marc, fmt, holdings=stored.items, text=page),
                position,
                stored.oai_identifier,
            )  # fmt: skip
            for position, stored in enumerate(result.records, start=request.start_record)
            if stored.marc is not None
        ]
        if page.removed or page.repaired:
            _LOG.info("SRU page: %d characters removed, %d values repaired for XML",
                      page.removed, page.repaired)  # fmt: skip
        following = request.start_record + len(records)
        result_set_id = None
        if request.result_set_ttl:
            numbers = self.store.search_numbers(query, sort=sort)
            result_set_id = self.result_sets.keep(numbers, request.result_set_ttl)
        facets = []
        if request.facet_limit:
            for name, index, limit in facet_requests(request.facet_limit):
                counted = self.store.facets(query, index, limit=limit)
                vi, en = INDEX_TITLES[index]
                # A heading is found again by exact match; codes and years by equality.
                relation = "==" if index in (Index.AUTHOR, Index.SUBJECT) else "="
                terms = [(t.term, t.count, f"{name} {relation} {_cql_quoted(t.term)}")
                         for t in counted]  # fmt: skip
                facets.append(Facet(name, f"{vi} / {en}", terms))
        response = SearchRetrieveResponse(
            request.version,
            result.total,
            records,
            next_position=following if records and following <= result.total else None,
            result_set_id=result_set_id,
            result_set_ttl=request.result_set_ttl,
            escape_records=request.escape_records,
            diagnostics=diagnostics,
            stylesheet=request.stylesheet,
            facets=facets,
        )
        return search_retrieve_response(response, page)

    def scan(self, request: SRURequest, database: str | None = None) -> bytes:
        """Index terms around the scan clause's term, with their record counts."""
        assert request.scan_clause is not None
        index, start = scan_index(parse_cql(request.scan_clause))
        before = max(request.response_position - 1, 0)
        if before > request.maximum_terms:
            raise SRUError(Diagnostic.RESPONSE_POSITION_OUT_OF_RANGE,
                           str(request.response_position))  # fmt: skip
        found = self.store.scan(index, start, before=before,
                                after=request.maximum_terms - before, source=database)  # fmt: skip
        terms = [ResponseTerm(term.term, term.count, term.term) for term in found]
        return scan_response(request.version, terms, stylesheet=request.stylesheet)

    def explain(
        self, request: SRURequest, database: str | None, endpoint: tuple[str, int]
    ) -> bytes:
        """The ZeeRex record of the union catalogue or of one library's database."""
        stats = [s for s in self.store.source_stats() if database in (None, s.source)]
        changes = [s.last_change for s in stats if s.last_change is not None]
        last = max(changes).strftime("%Y-%m-%dT%H:%M:%SZ") if changes else None
        title_vi, title_en = self.titles(database)
        info = ExplainInfo(
            host=endpoint[0],
            port=endpoint[1],
            database="sru" if database is None else f"sru/{database}",
            title_vi=title_vi,
            title_en=title_en,
            records=sum(s.records for s in stats),
            last_update=last,
            limits=self.limits,
        )
        return explain_response(request.version, explain_record(info), request.stylesheet)
