"""SRU request parameters (GET query string or POST form) into a typed request (sans-IO).

The parameters are a table (grammar as data): which operation takes each one, how its
value is read, what a bad value is answered with. Every problem becomes an SRU diagnostic
in the version the client asked for: unsupported version 5 (naming the supported ones),
operation 4, missing mandatory parameter 7, unknown parameter 8 (``x-`` extensions are
ignored, as the standard says), bad value 6 (also for repeated parameters and bytes that
are not UTF-8), unknown record schema 66, record packing 71.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from crosswalks.formats import RecordFormat

from .errors import Diagnostic, SRUError
from .response import Operation, Version

__all__ = [
    "SRURequest",
    "Limits",
    "parse_request",
    "requested_version",
    "RECORD_SCHEMAS",
    "SCHEMA_URIS",
    "SUPPORTED_VERSIONS",
]

SUPPORTED_VERSIONS = tuple(Version)

#: Record schemas by short name and by URI (both must be accepted).
RECORD_SCHEMAS: dict[str, RecordFormat] = {
    "marcxml": RecordFormat.MARCXML,
    "marc21": RecordFormat.MARCXML,
    "info:srw/schema/1/marcxml-v1.1": RecordFormat.MARCXML,
    "http://www.loc.gov/marc21/slim": RecordFormat.MARCXML,
    "dc": RecordFormat.SRW_DC,
    "info:srw/schema/1/dc-v1.1": RecordFormat.SRW_DC,
    "info:srw/schema/1/dc-schema": RecordFormat.SRW_DC,
    "http://purl.org/dc/elements/1.1/": RecordFormat.SRW_DC,
    "mods": RecordFormat.MODS,
    "info:srw/schema/1/mods-v3.7": RecordFormat.MODS,
    "info:srw/schema/1/mods-v3.6": RecordFormat.MODS,
    "info:srw/schema/1/mods-v3.5": RecordFormat.MODS,
    "info:srw/schema/1/mods-v3.4": RecordFormat.MODS,
    "info:srw/schema/1/mods-v3.3": RecordFormat.MODS,
    "http://www.loc.gov/mods/v3": RecordFormat.MODS,
}


#: The URI each record schema is announced with in responses and in explain.
SCHEMA_URIS: dict[RecordFormat, str] = {
    RecordFormat.MARCXML: "info:srw/schema/1/marcxml-v1.1",
    RecordFormat.SRW_DC: "info:srw/schema/1/dc-v1.1",
    RecordFormat.MODS: "info:srw/schema/1/mods-v3.7",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Defaults and caps (the explain record publishes the same numbers)."""

    default_version: Version = Version.V2_0
    default_records: int = 10
    max_records: int = 100
    default_terms: int = 20
    max_terms: int = 100
    max_query_length: int = 8192
    #: Linked from every response without a ``stylesheet`` of its own (browsers show a
    #: search page; SRU clients ignore it). None: no link.
    stylesheet: str | None = None


@dataclass(slots=True)
class SRURequest:
    """One SRU request, read and checked; defaults filled in."""

    version: Version
    operation: Operation
    query: str | None = None
    scan_clause: str | None = None
    start_record: int = 1
    maximum_records: int = 10
    record_schema: RecordFormat = RecordFormat.MARCXML
    escape_records: bool = False
    sort_keys: str | None = None
    result_set_ttl: int | None = None
    stylesheet: str | None = None
    response_position: int = 1
    maximum_terms: int = 20
    facet_limit: str | None = None
    ignored: list[str] = field(default_factory=list)  #: x- and other tolerated parameters


def _positive(name: str, value: str) -> int:
    number = _integer(name, value)
    if number < 1:
        raise SRUError(Diagnostic.UNSUPPORTED_PARAMETER_VALUE, f"{name}={value}")
    return number


def _non_negative(name: str, value: str) -> int:
    number = _integer(name, value)
    if number < 0:
        raise SRUError(Diagnostic.UNSUPPORTED_PARAMETER_VALUE, f"{name}={value}")
    return number


def _integer(name: str, value: str) -> int:
    text = value.strip()
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(text) > 12:
        raise SRUError(Diagnostic.UNSUPPORTED_PARAMETER_VALUE, f"{name}={value[:40]}")
    return int(text)


def _schema(name: str, value: str) -> RecordFormat:
    found = RECORD_SCHEMAS.get(value.strip()) or RECORD_SCHEMAS.get(value.strip().lower())
    if found is None:
        raise SRUError(Diagnostic.UNKNOWN_SCHEMA, value[:200])
    return found


def _text(name: str, value: str) -> str:
    return value


_Setter = Callable[[SRURequest, str], None]


def _setter(attribute: str, reader: Callable[[str, str], object], name: str) -> _Setter:
    def apply(request: SRURequest, value: str) -> None:
        setattr(request, attribute, reader(name, value))

    return apply


def _packing(request: SRURequest, value: str) -> None:
    """1.x: xml|string says how records are embedded; 2.0: packed|unpacked (only packed)."""
    allowed = ("xml", "string") if request.version.legacy else ("packed",)
    if value not in allowed:
        raise SRUError(Diagnostic.UNSUPPORTED_RECORD_PACKING, value[:40])
    if request.version.legacy:
        request.escape_records = value == "string"


def _escaping(request: SRURequest, value: str) -> None:
    if value not in ("xml", "string"):
        raise SRUError(Diagnostic.UNSUPPORTED_RECORD_PACKING, value[:40])
    request.escape_records = value == "string"


def _query_type(request: SRURequest, value: str) -> None:
    if value.lower() != "cql":
        raise SRUError(Diagnostic.UNSUPPORTED_PARAMETER_VALUE, f"queryType={value[:40]}")


_SEARCH = frozenset({Operation.SEARCH_RETRIEVE})
_SCAN = frozenset({Operation.SCAN})
_ALL = frozenset(Operation)

# name -> (operations that take it, versions that know it (None: all), how it is applied)
_PARAMETERS: dict[str, tuple[frozenset[Operation], frozenset[Version] | None, _Setter]] = {
    "query": (_SEARCH, None, _setter("query", _text, "query")),
    "startRecord": (_SEARCH, None, _setter("start_record", _positive, "startRecord")),
    "maximumRecords": (_SEARCH, None,
                       _setter("maximum_records", _non_negative, "maximumRecords")),
    "recordSchema": (_SEARCH, None, _setter("record_schema", _schema, "recordSchema")),
    "recordPacking": (_ALL, None, _packing),
    "recordXMLEscaping": (_ALL, frozenset({Version.V2_0}), _escaping),
    "sortKeys": (_SEARCH, frozenset({Version.V1_1}), _setter("sort_keys", _text, "sortKeys")),
    "resultSetTTL": (_SEARCH, None, _setter("result_set_ttl", _non_negative, "resultSetTTL")),
    "stylesheet": (_ALL, None, _setter("stylesheet", _text, "stylesheet")),
    "scanClause": (_SCAN, None, _setter("scan_clause", _text, "scanClause")),
    "responsePosition": (_SCAN, None,
                         _setter("response_position", _non_negative, "responsePosition")),
    "maximumTerms": (_SCAN, None, _setter("maximum_terms", _positive, "maximumTerms")),
    "queryType": (_SEARCH, frozenset({Version.V2_0}), _query_type),
    "facetLimit": (_SEARCH, frozenset({Version.V2_0}),
                   _setter("facet_limit", _text, "facetLimit")),
    "httpAccept": (_ALL, frozenset({Version.V2_0}), lambda request, value: None),
    "extraRequestData": (_ALL, None, lambda request, value: None),
}  # fmt: skip
_TOLERATED = frozenset({"version", "operation"})


def _decode(arguments: Mapping[bytes, Sequence[bytes]]) -> dict[str, str]:
    """Parameters as text: UTF-8 only, each at most once (diagnostic 6 otherwise)."""
    values: dict[str, str] = {}
    for raw_name, raw_values in arguments.items():
        try:
            name = raw_name.decode("utf-8")
            decoded = [value.decode("utf-8") for value in raw_values]
        except UnicodeDecodeError:
            shown = raw_name.decode("utf-8", "replace")[:40]
            raise SRUError(Diagnostic.UNSUPPORTED_PARAMETER_VALUE,
                           f"{shown}: not UTF-8") from None  # fmt: skip
        if len(decoded) > 1:
            raise SRUError(Diagnostic.UNSUPPORTED_PARAMETER_VALUE, f"{name} given more than once")
        values[name] = decoded[0] if decoded else ""
    return values


def requested_version(arguments: Mapping[bytes, Sequence[bytes]], limits: Limits) -> Version:
    """The version to answer in, even when the request is bad in other ways.

    An unsupported version is answered in the default version with diagnostic 5, whose
    details list the versions this server speaks.
    """
    raw = (arguments.get(b"version") or [b""])[0].decode("utf-8", "replace").strip()
    if not raw:
        return limits.default_version
    try:
        return Version(raw)
    except ValueError:
        supported = " ".join(v.value for v in SUPPORTED_VERSIONS)
        raise SRUError(Diagnostic.UNSUPPORTED_VERSION, supported) from None


def parse_request(arguments: Mapping[bytes, Sequence[bytes]], limits: Limits) -> SRURequest:
    """The typed request, or :class:`SRUError` with the diagnostic to answer.

    ``arguments`` is what twisted.web gives (GET and form POST alike): raw names to lists
    of raw values, percent-decoding already done.
    """
    version = requested_version(arguments, limits)
    values = _decode(arguments)
    operation_name = values.get("operation", "").strip()
    if operation_name:
        try:
            operation = Operation(operation_name)
        except ValueError:
            raise SRUError(Diagnostic.UNSUPPORTED_OPERATION, operation_name[:40]) from None
    elif "query" in values:
        operation = Operation.SEARCH_RETRIEVE
    elif "scanClause" in values:
        operation = Operation.SCAN
    else:
        operation = Operation.EXPLAIN
    request = SRURequest(
        version,
        operation,
        maximum_records=limits.default_records,
        maximum_terms=limits.default_terms,
        stylesheet=limits.stylesheet,
    )
    for name, value in values.items():
        if name in _TOLERATED:
            continue
        spec = _PARAMETERS.get(name)
        if spec is None or operation not in spec[0] or (spec[1] and version not in spec[1]):
            if name.startswith("x-") or spec is not None:
                request.ignored.append(name)  # extensions, and parameters of other operations
                continue
            raise SRUError(Diagnostic.UNSUPPORTED_PARAMETER, name[:40])
        spec[2](request, value)
    if operation is Operation.SEARCH_RETRIEVE:
        if not (request.query or "").strip():
            raise SRUError(Diagnostic.MANDATORY_PARAMETER_MISSING, "query")
        if len(request.query or "") > limits.max_query_length:
            raise SRUError(Diagnostic.QUERY_SYNTAX_ERROR,
                           f"query longer than {limits.max_query_length} characters")  # fmt: skip
        request.maximum_records = min(request.maximum_records, limits.max_records)
    if operation is Operation.SCAN:
        if not (request.scan_clause or "").strip():
            raise SRUError(Diagnostic.MANDATORY_PARAMETER_MISSING, "scanClause")
        if request.maximum_terms > limits.max_terms:
            raise SRUError(Diagnostic.TOO_MANY_TERMS_REQUESTED, str(limits.max_terms))
    return request
