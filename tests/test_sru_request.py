"""SRU request parameters: the table read both ways, and every bad request's diagnostic."""

from __future__ import annotations

import pytest

from crosswalks.formats import RecordFormat
from protocols.sru.errors import Diagnostic, SRUError
from protocols.sru.request import Limits, parse_request, requested_version
from protocols.sru.response import Operation, Version

LIMITS = Limits()


def _args(**values: str | list[str]) -> dict[bytes, list[bytes]]:
    return {
        name.encode(): [v.encode() for v in (value if isinstance(value, list) else [value])]
        for name, value in values.items()
    }


GOOD = [
    ({}, {"version": Version.V2_0, "operation": Operation.EXPLAIN}),
    ({"version": "1.2", "operation": "explain"}, {"version": Version.V1_2}),
    ({"query": "dc.title=kieu"}, {"operation": Operation.SEARCH_RETRIEVE, "start_record": 1,
                                  "maximum_records": 10, "record_schema": RecordFormat.MARCXML}),
    ({"version": "1.1", "operation": "searchRetrieve", "query": "x", "startRecord": "11",
      "maximumRecords": "5", "recordSchema": "dc", "recordPacking": "string",
      "sortKeys": "dc.title,,1"},
     {"start_record": 11, "maximum_records": 5, "record_schema": RecordFormat.SRW_DC,
      "escape_records": True, "sort_keys": "dc.title,,1"}),
    ({"query": "x", "recordSchema": "info:srw/schema/1/mods-v3.6",
      "recordXMLEscaping": "string", "recordPacking": "packed"},
     {"record_schema": RecordFormat.MODS, "escape_records": True}),
    ({"query": "x", "maximumRecords": "100000"}, {"maximum_records": 100}),  # capped
    ({"query": "x", "maximumRecords": "0"}, {"maximum_records": 0}),  # ZOOM counts first
    ({"query": "x", "x-pquery": "@attr 1=4 kieu", "x-info-5-stuff": "1"},
     {"ignored": ["x-pquery", "x-info-5-stuff"]}),
    ({"scanClause": "dc.title=kieu", "responsePosition": "3", "maximumTerms": "7"},
     {"operation": Operation.SCAN, "response_position": 3, "maximum_terms": 7}),
    ({"query": "x", "resultSetTTL": "300", "stylesheet": "/sru.xsl", "queryType": "cql"},
     {"result_set_ttl": 300, "stylesheet": "/sru.xsl"}),
    ({"version": "1.2", "query": "x", "scanClause": "y", "operation": "searchRetrieve"},
     {"operation": Operation.SEARCH_RETRIEVE, "ignored": ["scanClause"]}),
]  # fmt: skip


@pytest.mark.parametrize(("values", "expected"), GOOD, ids=[str(g[0]) for g in GOOD])
def test_requests_are_read_with_defaults_and_caps(
    values: dict[str, str], expected: dict[str, object]
) -> None:
    """Each request gives its operation, version and values; defaults and caps applied."""
    request = parse_request(_args(**values), LIMITS)
    for name, value in expected.items():
        assert getattr(request, name) == value, name


BAD = [
    ({"version": "3.0"}, Diagnostic.UNSUPPORTED_VERSION, "1.1 1.2 2.0"),
    ({"operation": "delete"}, Diagnostic.UNSUPPORTED_OPERATION, "delete"),
    ({"operation": "searchRetrieve"}, Diagnostic.MANDATORY_PARAMETER_MISSING, "query"),
    ({"query": "  "}, Diagnostic.MANDATORY_PARAMETER_MISSING, "query"),
    ({"operation": "scan"}, Diagnostic.MANDATORY_PARAMETER_MISSING, "scanClause"),
    ({"query": "x", "startRecord": "0"}, Diagnostic.UNSUPPORTED_PARAMETER_VALUE, "startRecord=0"),
    ({"query": "x", "startRecord": "-5"}, Diagnostic.UNSUPPORTED_PARAMETER_VALUE,
     "startRecord=-5"),
    ({"query": "x", "startRecord": "99999999999999999999"},
     Diagnostic.UNSUPPORTED_PARAMETER_VALUE, "startRecord=99999999999999999999"),
    ({"query": "x", "maximumRecords": "ten"}, Diagnostic.UNSUPPORTED_PARAMETER_VALUE,
     "maximumRecords=ten"),
    ({"query": "x", "maximumRecords": "²"}, Diagnostic.UNSUPPORTED_PARAMETER_VALUE,
     "maximumRecords=²"),
    ({"query": "x", "startRecord": "٣"}, Diagnostic.UNSUPPORTED_PARAMETER_VALUE, "startRecord=٣"),
    ({"query": "x", "startRecord": "--5"}, Diagnostic.UNSUPPORTED_PARAMETER_VALUE,
     "startRecord=--5"),
    ({"query": "x", "recordSchema": "marc-ish"}, Diagnostic.UNKNOWN_SCHEMA, "marc-ish"),
    ({"version": "1.2", "query": "x", "recordPacking": "json"},
     Diagnostic.UNSUPPORTED_RECORD_PACKING, "json"),
    ({"query": "x", "recordXMLEscaping": "json"}, Diagnostic.UNSUPPORTED_RECORD_PACKING,
     "json"),
    ({"query": "x", "queryType": "pqf"}, Diagnostic.UNSUPPORTED_PARAMETER_VALUE,
     "queryType=pqf"),
    ({"query": "x", "colour": "blue"}, Diagnostic.UNSUPPORTED_PARAMETER, "colour"),
    ({"query": ["x", "y"]}, Diagnostic.UNSUPPORTED_PARAMETER_VALUE,
     "query given more than once"),
    ({"query": "x" * 9000}, Diagnostic.QUERY_SYNTAX_ERROR, "query longer than 8192 characters"),
    ({"scanClause": "x", "maximumTerms": "1000"}, Diagnostic.TOO_MANY_TERMS_REQUESTED, "100"),
]  # fmt: skip


@pytest.mark.parametrize(("values", "diagnostic", "details"), BAD,
                         ids=[str(b[0])[:60] for b in BAD])  # fmt: skip
def test_bad_requests_get_their_diagnostic(
    values: dict[str, str], diagnostic: Diagnostic, details: str
) -> None:
    """Each malformed request names its problem with the standard's diagnostic."""
    with pytest.raises(SRUError) as caught:
        parse_request(_args(**values), LIMITS)
    assert caught.value.diagnostic is diagnostic
    assert caught.value.details == details


def test_bytes_that_are_not_utf8_are_a_diagnostic_not_a_crash() -> None:
    """Invalid UTF-8 in a value (after percent-decoding) is diagnostic 6."""
    with pytest.raises(SRUError) as caught:
        parse_request({b"query": [b"title=\xff\xfe"]}, LIMITS)
    assert caught.value.diagnostic is Diagnostic.UNSUPPORTED_PARAMETER_VALUE
    assert "not UTF-8" in caught.value.details


def test_the_answer_version_is_known_even_for_bad_requests() -> None:
    """The version to answer in comes first; without one, the configured default."""
    assert requested_version({}, Limits(default_version=Version.V1_2)) is Version.V1_2
    assert requested_version(_args(version="1.1", colour="x"), LIMITS) is Version.V1_1
