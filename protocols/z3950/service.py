"""Z39.50 session semantics against the record store (sans-IO, blocking).

One :class:`Session` per connection. :meth:`Session.handle` takes one decoded APDU and
returns the APDUs to send back and whether the connection ends; it never raises. What an
APDU may do depends on the session's state, and that is a table (:data:`TRANSITIONS`):
anything not in it (a Search before Init, a second Init, a response APDU from the client)
is a protocol violation answered with a Close that says why.

Within a state, problems with a request are Bib-1 diagnostics in the operation's own
response (a failed search, a present with a non-surrogate diagnostic, a surrogate
diagnostic in place of one record), so the session goes on. Result sets keep their query
and sort order and fetch the records a Present asks for when it asks, which keeps a
session's memory small whatever the hit counts; a result set used as a search operand is
expanded to its record numbers then.
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from crosswalks.vietnamese import fold
from gateway import __version__
from gateway.indexing import heading_sort
from gateway.passwords import hash_password, verify_password
from gateway.query import And, Index, Or, Query, QueryError, SortKey, Term
from gateway.record import StoredRecord
from gateway.store import RecordStore

from .charset import negotiation_response, read_proposal
from .codec import Apdu, EncodedRecords, bit_string, bits_of, text_of, wire_text
from .errors import (
    CloseReason,
    Diagnostic,
    ProtocolViolation,
    Z3950Error,
    close_apdu,
    diagnostic_record,
)
from .records import (
    RecordCharset,
    RenderCache,
    Retrieval,
    decode_text,
    element_set,
    encode_text,
    named_record,
    record_syntax,
    retrieval_records,
)
from .rpn import CONTROL_CHARACTERS, TermEncoding, map_rpn, map_scan_term, map_sort

__all__ = ["TargetSettings", "Session", "SessionState", "Reply", "TRANSITIONS", "database_key"]

_LOG = logging.getLogger(__name__)

#: Options this target offers (bit numbers of the Init ``options`` BIT STRING).
_SEARCH, _PRESENT, _DELSET, _SCAN, _SORT, _NAMED_SETS, _COUNT_IN_SORT, _NEGOTIATION = (
    0, 1, 2, 7, 8, 14, 16, 17)  # fmt: skip
_OFFERED = frozenset({_SEARCH, _PRESENT, _DELSET, _SCAN, _SORT, _NAMED_SETS, _COUNT_IN_SORT})
_VERSIONS = frozenset({0, 1, 2})  # version-1, version-2 (the same protocol) and version-3
_MAX_DATABASES = 32
_MAX_SCAN_TERMS = 200
_MAX_SORT_KEYS = 8
_MAX_OPERAND_SET = 500_000  # record numbers a result set may expand to as a search operand
#: Records fetched (without MARC) at search time, so that the Present that follows almost
#: every copy-cataloguing search is served without running the query again.
_PREFETCH = 10
_REMEMBERED_DROPS = 256  # names of dropped sets kept, to answer 27 rather than 30
_ENVELOPE = 256  # bytes allowed for a response's own fields around its records


class SessionState(Enum):
    """Where a session is: before Init, open for operations, or ended."""

    AWAITING_INIT = "awaiting init"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class TargetSettings:
    """What every session of one target shares (from the configuration)."""

    max_result_sets: int = 20
    max_present: int = 100
    max_message_size: int = 8 * 1024 * 1024
    #: user id -> password hash; empty means open access.
    accounts: Mapping[str, str] = field(default_factory=dict)
    #: database_key(name) -> member library id (None: the union catalogue).
    databases: Mapping[str, str | None] = field(default_factory=lambda: {"default": None})
    library_names: Mapping[str, str] = field(default_factory=dict)
    implementation_name: str = "lienthong Z39.50 target"


@dataclass(slots=True)
class Reply:
    """APDUs to send, in order, and whether the connection then ends."""

    apdus: list[Apdu]
    close: bool = False


@dataclass(slots=True)
class ResultSet:
    """A named result: the query (scoped to its databases), its order and hit count."""

    query: Query
    sort: tuple[SortKey, ...]
    total: int
    #: The first records in order, without MARC (a snapshot taken at search time).
    first: list[StoredRecord] = field(default_factory=list)


def database_key(name: str) -> str:
    """How database names compare: case, Vietnamese marks and spacing ignored, so that
    "Thư viện tỉnh Đắk Lắk", "thu vien tinh dak lak" and an id all name their library."""
    return " ".join(fold(name).split())


def _reference(value: Mapping[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    """``reply`` with the request's referenceId echoed, as every response must."""
    if "referenceId" in value:
        reply = {"referenceId": value["referenceId"], **reply}
    return reply


def _esn(names: tuple[str, Any] | None) -> str | None:
    """The element set name of an ElementSetNames (the first, when given per database)."""
    if names is None:
        return None
    kind, value = names
    if kind == "genericElementSetName":
        return text_of(value, "latin-1")
    return text_of(value[0]["esn"], "latin-1") if value else None


class Session:
    """One client's Z39.50 session: its state, result sets and negotiated parameters.

    Result sets are keyed by their names exactly as sent (asn1tools' one-char-per-byte
    strings), so names in any character set stay distinct; they are decoded only to be
    shown in a diagnostic.
    """

    def __init__(
        self,
        store: RecordStore,
        settings: TargetSettings,
        *,
        peer: str = "",
        renderings: RenderCache | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.renderings = renderings if renderings is not None else RenderCache(1 << 22)
        self.peer = peer
        self.state = SessionState.AWAITING_INIT
        self.result_sets: OrderedDict[str, ResultSet] = OrderedDict()
        #: Names of sets the target dropped to stay within max_result_sets (diagnostic 27).
        self.dropped: OrderedDict[str, None] = OrderedDict()
        self.encoding = TermEncoding.UNNEGOTIATED
        self.charset = RecordCharset.UTF8
        self.version = 3
        self.options: set[int] = set()
        self.preferred_message_size = settings.max_message_size
        self.exceptional_record_size = settings.max_message_size
        self.user = ""

    # -- dispatch ---------------------------------------------------------------------
    def handle(self, apdu: Apdu) -> Reply:
        """The reply to one APDU (never raises)."""
        name, value = apdu
        handler = TRANSITIONS.get((self.state, name))
        try:
            if handler is None:
                raise ProtocolViolation(self._unexpected(name))
            return handler(self, value)
        except ProtocolViolation as violation:
            return self.close_reply(violation.reason, violation.message)
        except Exception:  # logged without the request's data
            _LOG.exception("Z39.50 %s from %s failed", name, self.peer)
            failure = FAILURES.get(name)
            if failure is None:
                return self.close_reply(CloseReason.SYSTEM_PROBLEM, "internal error")
            # The store may be busy or briefly unreachable: this operation fails with
            # "temporary system error" and the session (its result sets) stays usable.
            return failure(self, value, Z3950Error(Diagnostic.TEMPORARY_SYSTEM_ERROR, "try again"))

    def _unexpected(self, name: str) -> str:
        if self.state is SessionState.AWAITING_INIT:
            return f"{name} before initRequest"
        if name == "initRequest":
            return "a second initRequest in one session"
        return f"{name} is not a request a target accepts"

    def close_reply(self, reason: CloseReason, message: str) -> Reply:
        """A Close with ``reason`` and ``message`` (version 2 has no Close: the connection
        just ends); the session ends."""
        if self.state is not SessionState.CLOSED:
            level = logging.INFO if reason is CloseReason.FINISHED else logging.WARNING
            _LOG.log(level, "Z39.50 session from %s closed: %s (%s)", self.peer, message,
                     reason.name.lower())  # fmt: skip
        self.state = SessionState.CLOSED
        return Reply([close_apdu(reason, message)] if self.version >= 3 else [], close=True)

    def _diagnostic(self, error: Z3950Error) -> dict[str, Any]:
        return diagnostic_record(error, version2=self.version < 3)

    def _shown(self, raw: str) -> str:
        """A name or term the client sent, as text for a diagnostic or the log."""
        return _printable(decode_text(raw, self.charset))

    # -- Init -------------------------------------------------------------------------
    def init(self, value: dict[str, Any]) -> Reply:
        """Negotiate version, options, message sizes and character set; check the login."""
        versions = bits_of(value.get("protocolVersion")) & _VERSIONS
        options = bits_of(value.get("options"))
        accepted = bool(versions) and self._login(value.get("idAuthentication"))
        self.version = 3 if 2 in versions else 2
        other_info = []
        if accepted and _NEGOTIATION in options:
            proposal = None
            try:
                proposal = read_proposal(value.get("otherInfo"))
            except ProtocolViolation as violation:  # answered as if none had been made
                _LOG.warning("Z39.50 init from %s: %s", self.peer, violation.message)
            if proposal is not None:
                chosen = proposal.chosen
                if chosen is not None:
                    self.charset = chosen
                    self.encoding = (TermEncoding.MARC8 if chosen is RecordCharset.MARC8
                                     else TermEncoding.UTF8)  # fmt: skip
                other_info.append(negotiation_response(proposal))
        offered = set(_OFFERED) | ({_NEGOTIATION} if other_info else set())
        self.options = options & offered
        cap = self.settings.max_message_size
        self.preferred_message_size = max(4096, min(int(value["preferredMessageSize"]), cap))
        self.exceptional_record_size = max(
            self.preferred_message_size, min(int(value["exceptionalRecordSize"]), cap)
        )
        response: dict[str, Any] = {
            "protocolVersion": bit_string(versions or {2}, 3),
            "options": bit_string(self.options, 18),
            "preferredMessageSize": self.preferred_message_size,
            "exceptionalRecordSize": self.exceptional_record_size,
            "result": accepted,
            "implementationId": "lienthong",
            "implementationName": wire_text(self.settings.implementation_name),
            "implementationVersion": __version__,
        }
        if other_info:
            response["otherInfo"] = other_info
        client = _printable(text_of(value.get("implementationName", ""), "latin-1"))[:80]
        if not accepted:
            why = "no common protocol version" if not versions else "login refused"
            _LOG.warning("Z39.50 init from %s (%s) refused: %s", self.peer, client, why)
            self.state = SessionState.CLOSED
            return Reply([("initResponse", _reference(value, response))], close=True)
        _LOG.info("Z39.50 session from %s (%s%s), version %d, records in %s", self.peer, client,
                  f", user {_printable(self.user)}" if self.user else "", self.version,
                  self.charset.value)  # fmt: skip
        self.state = SessionState.OPEN
        return Reply([("initResponse", _reference(value, response))])

    def _login(self, authentication: tuple[str, Any] | None) -> bool:
        """True when access is open or the id and password match a configured account.

        An unknown user costs the same hash computation as a wrong password, so that
        timing does not tell which user ids exist.
        """
        accounts = self.settings.accounts
        if not accounts:
            return True
        user = password = ""
        if authentication is not None:
            kind, given = authentication
            if kind == "idPass":
                user = text_of(given.get("userId", ""))
                password = text_of(given.get("password", ""))
            elif kind == "open":
                user, _, password = str(given).partition("/")
        stored = accounts.get(user)
        matched = verify_password(password, stored if stored is not None else _dummy_hash())
        if stored is None or not matched:
            return False
        self.user = user
        return True

    # -- result sets ------------------------------------------------------------------
    def _result_set(self, raw: str) -> ResultSet:
        """The named set, or 27 (dropped by the target) or 30 (never made)."""
        found = self.result_sets.get(raw)
        if found is None:
            code = (Diagnostic.RESULT_SET_DELETED_BY_TARGET if raw in self.dropped
                    else Diagnostic.RESULT_SET_DOES_NOT_EXIST)  # fmt: skip
            raise Z3950Error(code, self._shown(raw))
        self.result_sets.move_to_end(raw)
        return found

    def _keep(self, raw: str, result: ResultSet) -> None:
        """Keep ``result`` under its name; beyond max_result_sets the least recently used
        set is dropped (the standard lets a target do so; yaz-client names every search's
        set anew, so refusing would fail the 21st search of a session)."""
        self.result_sets.pop(raw, None)
        self.dropped.pop(raw, None)
        while len(self.result_sets) >= self.settings.max_result_sets:
            oldest, _ = self.result_sets.popitem(last=False)
            self.dropped[oldest] = None
            while len(self.dropped) > _REMEMBERED_DROPS:
                self.dropped.popitem(last=False)
        self.result_sets[raw] = result

    def _operand(self, raw: str) -> frozenset[int] | None:
        """A result set's record numbers, for its use as a search operand (a use, for the
        least-recently-used order; a dropped set is 27, as elsewhere)."""
        if raw in self.dropped:
            raise Z3950Error(Diagnostic.RESULT_SET_DELETED_BY_TARGET, self._shown(raw))
        found = self.result_sets.get(raw)
        if found is None:
            return None
        self.result_sets.move_to_end(raw)
        if found.total > _MAX_OPERAND_SET:
            raise Z3950Error(Diagnostic.TOO_MANY_RECORDS, self._shown(raw))
        return frozenset(self.store.search_numbers(found.query, sort=found.sort))

    # -- Search -----------------------------------------------------------------------
    def search(self, value: dict[str, Any]) -> Reply:
        """Run the query, keep the named result set, piggy-back records per the bounds."""
        name = value["resultSetName"]
        try:
            scope = self._databases(value["databaseNames"])
            if name in self.result_sets and not value["replaceIndicator"]:
                raise Z3950Error(Diagnostic.RESULT_SET_EXISTS, self._shown(name))
        except Z3950Error as error:
            return self._failed_search(value, error)
        try:
            kind, rpn = value["query"]
            if kind not in ("type-1", "type-101"):
                raise Z3950Error(Diagnostic.QUERY_TYPE_NOT_SUPPORTED, kind.replace("type-", ""))
            query = map_rpn(rpn, encoding=self.encoding, result_sets=self._operand)
            if scope is not None:
                query = And(query, scope)
            small, large = value["smallSetUpperBound"], value["largeSetLowerBound"]
            medium = value["mediumSetPresentNumber"]
            wanted = min(max(small, medium, 0), self.settings.max_present)
            try:
                result = self.store.search(query, offset=0, limit=max(wanted, _PREFETCH),
                                           metadata=False)  # fmt: skip
            except QueryError as error:
                raise Z3950Error(Diagnostic.ILLEGAL_TERM_VALUE, error.value or str(error)) from None
        except Z3950Error as error:
            self.result_sets.pop(name, None)  # a failed search leaves no set of that name
            return self._failed_search(value, error)
        total = result.total
        kept = ResultSet(query, (), total, result.records)
        if total <= small:
            owed, names = total, value.get("smallSetElementSetNames")
        elif total < large:
            owed, names = min(total, medium), value.get("mediumSetElementSetNames")
        else:
            owed, names = 0, None
        response: dict[str, Any] = {"resultCount": total, "numberOfRecordsReturned": 0,
                                    "nextResultSetPosition": 1 if total else 0,
                                    "searchStatus": True}  # fmt: skip
        if owed > 0:
            try:
                how = self._retrieval(value.get("preferredRecordSyntax"), _esn(names))
            except Z3950Error as error:
                response["presentStatus"] = 5
                response["records"] = ("nonSurrogateDiagnostic", self._diagnostic(error))
            else:
                entries, status = self._pack(result.records[: min(owed, wanted)], how, owed)
                returned = len(entries.items)
                response.update(
                    numberOfRecordsReturned=returned,
                    nextResultSetPosition=_next_position(1, returned, total),
                    presentStatus=status,
                    records=("responseRecords", entries),
                )
        self._keep(name, kept)  # only once the whole answer is made
        return Reply([("searchResponse", _reference(value, response))])

    # -- failed operations: the operation's response carrying the diagnostic ------------
    def _failed_search(self, value: dict[str, Any], error: Z3950Error) -> Reply:
        failed = {"resultCount": 0, "numberOfRecordsReturned": 0, "nextResultSetPosition": 0,
                  "searchStatus": False, "resultSetStatus": 3,
                  "records": ("nonSurrogateDiagnostic", self._diagnostic(error))}  # fmt: skip
        return Reply([("searchResponse", _reference(value, failed))])

    def _failed_present(self, value: dict[str, Any], error: Z3950Error) -> Reply:
        failed = {"numberOfRecordsReturned": 0, "nextResultSetPosition": 0, "presentStatus": 5,
                  "records": ("nonSurrogateDiagnostic", self._diagnostic(error))}  # fmt: skip
        return Reply([("presentResponse", _reference(value, failed))])

    def _failed_scan(self, value: dict[str, Any], error: Z3950Error) -> Reply:
        diagnostics = [("defaultFormat", self._diagnostic(error))]
        failed = {"scanStatus": 6, "numberOfEntriesReturned": 0,
                  "entries": {"nonsurrogateDiagnostics": diagnostics}}  # fmt: skip
        return Reply([("scanResponse", _reference(value, failed))])

    def _failed_sort(self, value: dict[str, Any], error: Z3950Error) -> Reply:
        target = value.get("sortedResultSetName")
        failed = {"sortStatus": 2, "resultSetStatus": 3 if target in self.result_sets else 4,
                  "diagnostics": [("defaultFormat", self._diagnostic(error))]}  # fmt: skip
        return Reply([("sortResponse", _reference(value, failed))])

    def _databases(self, names: list[str]) -> Query | None:
        """The source restriction the databases mean (None: the whole union catalogue)."""
        if not names:
            raise Z3950Error(Diagnostic.DATABASE_DOES_NOT_EXIST, "")
        if len(names) > _MAX_DATABASES:
            raise Z3950Error(Diagnostic.TOO_MANY_DATABASES, str(_MAX_DATABASES))
        sources: list[str] = []
        union = False
        for raw in names:
            shown = decode_text(raw, self.charset)
            key = database_key(shown)
            if key not in self.settings.databases:
                raise Z3950Error(Diagnostic.DATABASE_DOES_NOT_EXIST, _printable(shown)[:100])
            source = self.settings.databases[key]
            if source is None:
                union = True
            elif source not in sources:
                sources.append(source)
        if union or not sources:
            return None
        scope: Query = Term(Index.SOURCE, sources[0])
        for source in sources[1:]:
            scope = Or(scope, Term(Index.SOURCE, source))
        return scope

    # -- Present ----------------------------------------------------------------------
    def present(self, value: dict[str, Any]) -> Reply:
        """Records ``start`` .. ``start + n - 1`` of a result set, within the size limits."""
        start, requested = value["resultSetStartPoint"], value["numberOfRecordsRequested"]
        try:
            found = self._result_set(value["resultSetId"])
            if "additionalRanges" in value:
                raise Z3950Error(Diagnostic.ADDITIONAL_RANGES_UNSUPPORTED, "additionalRanges")
            syntax, names = value.get("preferredRecordSyntax"), None
            composition = value.get("recordComposition")
            if composition is not None and composition[0] == "simple":
                names = composition[1]
            elif composition is not None:
                spec = composition[1]
                syntax = (spec.get("recordSyntax") or [syntax])[0]
                chosen = (spec.get("generic") or {}).get("elementSpec")
                if chosen is not None and chosen[0] == "elementSetName":
                    names = ("genericElementSetName", chosen[1])
            how = self._retrieval(syntax, _esn(names))
            if requested < 0 or start < 1 or (requested > 0 and start > found.total):
                shown = f"{_bounded(start)}+{_bounded(requested)} of {found.total}"
                raise Z3950Error(Diagnostic.PRESENT_OUT_OF_RANGE, shown)
        except Z3950Error as error:
            return self._failed_present(value, error)
        available = min(requested, found.total - start + 1)
        count = min(available, self.settings.max_present)
        records: list[StoredRecord] = []
        if 0 < count and start - 1 + count <= len(found.first):
            records = found.first[start - 1 : start - 1 + count]
        elif count > 0:
            records = self.store.search(found.query, sort=found.sort, offset=start - 1,
                                        limit=count, metadata=False).records  # fmt: skip
        entries, status = self._pack(records, how, available)
        returned = len(entries.items)
        response = {
            "numberOfRecordsReturned": returned,
            "nextResultSetPosition": _next_position(start, returned, found.total),
            "presentStatus": status,
            "records": ("responseRecords", entries),
        }
        return Reply([("presentResponse", _reference(value, response))])

    def _retrieval(self, syntax: str | None, esn: str | None) -> Retrieval:
        names = self.settings.library_names
        return Retrieval(
            syntax=record_syntax(syntax),
            elements=element_set(esn),
            charset=self.charset,
            library_name=lambda library: names.get(library, ""),
        )

    def _pack(
        self, records: list[StoredRecord], how: Retrieval, owed: int
    ) -> tuple[EncodedRecords, int]:
        """NamePlusRecords for ``records`` within the message size, and the present status.

        Each record is named by its member library's database. As YAZ's own server does,
        a record over the exceptional record size is surrogate diagnostic 17, and one over
        the preferred message size is 16 unless it is the only record asked for (it is
        then sent as exceptional); a record that would push the response past the
        preferred size ends it (status partial-2). Fewer records than ``owed`` for any
        other reason is partial-4 (the target's max_present).
        """
        entries: list[bytes] = []
        used = _ENVELOPE
        stopped = False
        retrievals = retrieval_records(records, how, self.renderings, self.store.fetch)
        for stored, retrieval in zip(records, retrievals, strict=True):
            try:
                if isinstance(retrieval, Z3950Error):
                    raise retrieval
                self._check_size(len(retrieval), owed)
                encoded = retrieval
            except Z3950Error as error:
                surrogate = ("defaultFormat", self._diagnostic(error))
                encoded = named_record(stored.source, ("surrogateDiagnostic", surrogate))
            if entries and used + len(encoded) > self.preferred_message_size:
                stopped = True
                break
            entries.append(encoded)
            used += len(encoded)
        if stopped:
            status = 2  # partial-2: message size
        elif len(entries) < owed:
            status = 4  # partial-4: the target's resource limit (max_present)
        else:
            status = 0
        return EncodedRecords(entries), status

    def _check_size(self, size: int, owed: int) -> None:
        """Diagnostic 17 for a record over the exceptional size, 16 for one over the
        preferred size when more than that one record was asked for."""
        if size > self.exceptional_record_size:
            raise Z3950Error(Diagnostic.EXCEEDS_EXCEPTIONAL_RECORD_SIZE, f"record of {size} bytes")
        if size > self.preferred_message_size - _ENVELOPE and owed != 1:
            raise Z3950Error(Diagnostic.EXCEEDS_PREFERRED_MESSAGE_SIZE, f"record of {size} bytes")

    # -- Delete -----------------------------------------------------------------------
    def delete(self, value: dict[str, Any]) -> Reply:
        """Delete the listed result sets (or all of them), with a status per set."""
        response: dict[str, Any]
        if value["deleteFunction"] == 1:
            self.result_sets.clear()
            response = {"deleteOperationStatus": 0}
        else:
            statuses = []
            for raw in value.get("resultSetList", ()):
                existed = self.result_sets.pop(raw, None) is not None
                statuses.append({"id": raw, "status": 0 if existed else 1})
            failed = any(entry["status"] for entry in statuses)
            response = {"deleteOperationStatus": 9 if failed else 0}
            if statuses:
                response["deleteListStatuses"] = statuses
        return Reply([("deleteResultSetResponse", _reference(value, response))])

    # -- Scan -------------------------------------------------------------------------
    def scan(self, value: dict[str, Any]) -> Reply:
        """Browse an index around a term: headings with their record counts.

        More terms than the target lists at once are capped (the preferred position scaled
        with them); fewer entries than asked, at an end of the list, is status partial-5.
        """
        try:
            scope = self._databases(value["databaseNames"])
            source = scope.value if isinstance(scope, Term) else None
            if scope is not None and source is None:
                raise Z3950Error(Diagnostic.DATABASE_COMBINATION, "scan one library at a time")
            index, start = map_scan_term(value["termListAndStartPoint"],
                                         value.get("attributeSet"), self.encoding)  # fmt: skip
            step = value.get("stepSize", 0)
            if step != 0:
                raise Z3950Error(Diagnostic.STEP_SIZE_NOT_SUPPORTED, _bounded(step))
            asked = value["numberOfTermsRequested"]
            position = value.get("preferredPositionInResponse", 1)
            if asked < 0 or position < 1 or position > max(asked, 0) + 1:
                raise Z3950Error(Diagnostic.SCAN_POSITION_UNSUPPORTED, _bounded(position))
            count = min(asked, _MAX_SCAN_TERMS)
            if count < asked:
                position = 1 + (position - 1) * count // asked
            before = min(position - 1, count)
            terms = self.store.scan(index, start, before=before, after=count - before,
                                    source=source)  # fmt: skip
        except Z3950Error as error:
            return self._failed_scan(value, error)
        origin = heading_sort(index, start)
        preceding = sum(1 for term in terms if heading_sort(index, term.term) < origin)
        entries = []
        for term in terms:
            encoded = encode_text(term.term, self.charset)
            info: dict[str, Any] = {"term": ("general", encoded), "globalOccurrences": term.count}
            entries.append(("termInfo", info))
        response: dict[str, Any] = {
            "stepSize": 0,
            # partial-4 when the target's own cap cut the list, partial-5 at its end.
            "scanStatus": 0 if len(entries) >= asked else 4 if len(entries) == count else 5,
            "numberOfEntriesReturned": len(entries),
            "positionOfTerm": preceding + 1,
        }
        if entries:
            response["entries"] = {"entries": entries}
        return Reply([("scanResponse", _reference(value, response))])

    # -- Sort -------------------------------------------------------------------------
    def sort(self, value: dict[str, Any]) -> Reply:
        """Sort one result set into a new (or the same) named set."""
        target = value["sortedResultSetName"]
        try:
            inputs = value["inputResultSetNames"]
            if len(inputs) != 1:
                raise Z3950Error(Diagnostic.SORT_TOO_MANY_INPUT_RESULTS, str(len(inputs)))
            found = self._result_set(inputs[0])
            if not target:
                raise Z3950Error(Diagnostic.NO_RESULT_SET_NAME_ON_SORT)
            if len(value["sortSequence"]) > _MAX_SORT_KEYS:
                raise Z3950Error(Diagnostic.TOO_MANY_SORT_KEYS, str(_MAX_SORT_KEYS))
            keys = map_sort(value["sortSequence"])
        except Z3950Error as error:
            return self._failed_sort(value, error)
        self._keep(target, ResultSet(found.query, keys, found.total))
        response: dict[str, Any] = {"sortStatus": 0}
        if _COUNT_IN_SORT in self.options:
            response["resultCount"] = found.total
        return Reply([("sortResponse", _reference(value, response))])

    # -- Close ------------------------------------------------------------------------
    def close(self, value: dict[str, Any]) -> Reply:
        """The client ends the session: answer with a Close of our own (finished)."""
        reply = self.close_reply(CloseReason.FINISHED, "closed at the client's request")
        reply.apdus = [(name, _reference(value, body)) for name, body in reply.apdus]
        return reply


@functools.cache
def _dummy_hash() -> str:
    """Verified when a login names an unknown user, so it takes as long as a wrong one."""
    return hash_password("lienthong: no such user")


def _next_position(start: int, returned: int, total: int) -> int:
    """nextResultSetPosition: the record after those returned, 0 past the end (as YAZ)."""
    following = start + returned
    return following if following <= total else 0


def _bounded(number: int) -> str:
    """An integer from a request, as text for a diagnostic (however many digits it has)."""
    return str(number) if abs(number) < 10**18 else "out of range"


def _printable(text: str) -> str:
    """Client-supplied text fit for one log line (no forged lines, no terminal codes)."""
    return CONTROL_CHARACTERS.sub("?", text)


#: Request -> its response reporting a failure (an unexpected error becomes diagnostic 2).
FAILURES: dict[str, Callable[[Session, dict[str, Any], Z3950Error], Reply]] = {
    "searchRequest": Session._failed_search,
    "presentRequest": Session._failed_present,
    "scanRequest": Session._failed_scan,
    "sortRequest": Session._failed_sort,
}

#: (state, APDU) -> what the session does; anything else is a protocol violation.
TRANSITIONS: dict[tuple[SessionState, str], Callable[[Session, dict[str, Any]], Reply]] = {
    (SessionState.AWAITING_INIT, "initRequest"): Session.init,
    (SessionState.AWAITING_INIT, "close"): Session.close,
    (SessionState.OPEN, "searchRequest"): Session.search,
    (SessionState.OPEN, "presentRequest"): Session.present,
    (SessionState.OPEN, "deleteResultSetRequest"): Session.delete,
    (SessionState.OPEN, "scanRequest"): Session.scan,
    (SessionState.OPEN, "sortRequest"): Session.sort,
    (SessionState.OPEN, "close"): Session.close,
}
