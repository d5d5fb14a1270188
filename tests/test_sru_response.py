"""SRU response documents: each version's shape, valid against its schema in ../shared/xsd."""

from __future__ import annotations

import pytest
from lxml import etree

from crosswalks.formats import RecordFormat, render_xml
from gateway.marcfile import read_marc_file
from gateway.record import normalize_record
from protocols.sru.errors import Diagnostic, SRUError
from protocols.sru.response import (
    Operation,
    ResponseRecord,
    SearchRetrieveResponse,
    Version,
    diagnostic_response,
    search_retrieve_response,
)
from tests.conftest import VIE_121
from tests.xsd import assert_valid

SCHEMAS = {
    Version.V1_1: "sru/v12_srw-types1.2.xsd",
    Version.V1_2: "sru/v12_srw-types1.2.xsd",
    Version.V2_0: "sru/sruResponse.xsd",
}
URIS = {
    RecordFormat.MARCXML: "info:srw/schema/1/marcxml-v1.1",
    RecordFormat.SRW_DC: "info:srw/schema/1/dc-v1.1",
    RecordFormat.MODS: "info:srw/schema/1/mods-v3.7",
}


def _page(fmt: RecordFormat) -> list[ResponseRecord]:
    records = [normalize_record(r.record) for r in read_marc_file(VIE_121) if r.record][:5]
    return [
        ResponseRecord(URIS[fmt], render_xml(record, fmt), position, f"lib/{position}")
        for position, record in enumerate(records, start=1)
    ]


@pytest.mark.parametrize("version", list(Version))
@pytest.mark.parametrize("fmt", list(URIS), ids=str)
@pytest.mark.parametrize("escape", [False, True], ids=["xml", "string"])
def test_search_retrieve_pages_validate_in_every_version(
    version: Version, fmt: RecordFormat, escape: bool
) -> None:
    """A page of Vietnamese records in each schema and packing is valid for its version,
    and the record data reads back (as elements, or as escaped text)."""
    page = _page(fmt)
    document = search_retrieve_response(
        SearchRetrieveResponse(
            version,
            121,
            page,
            next_position=6,
            result_set_id="rs1",
            result_set_ttl=300,
            escape_records=escape,
        )  # fmt: skip
    )
    assert_valid(SCHEMAS[version], document)
    root = etree.fromstring(document)
    ns = {"srw": root.nsmap["srw"]}
    assert root.findtext("srw:numberOfRecords", namespaces=ns) == "121"
    assert root.findtext("srw:nextRecordPosition", namespaces=ns) == "6"
    data = root.findall("srw:records/srw:record/srw:recordData", ns)
    assert len(data) == 5
    if escape:
        assert data[0].text is not None and data[0].text.startswith("<")
        assert len(data[0]) == 0
    else:
        assert len(data[0]) == 1
    if version is Version.V2_0:
        assert root.findtext("srw:resultSetId", namespaces=ns) == "rs1"
    else:
        assert root.findtext("srw:version", namespaces=ns) == version.value


@pytest.mark.parametrize("version", list(Version))
def test_a_fatal_diagnostic_is_a_complete_valid_response(version: Version) -> None:
    """A syntax error answers as a searchRetrieveResponse with 0 records and the diagnostic
    (URI, details, message), in the version asked for; a stylesheet link comes first."""
    error = SRUError(Diagnostic.QUERY_SYNTAX_ERROR, "expected a search term at character 9")
    document = diagnostic_response(version, Operation.SEARCH_RETRIEVE, error, "/sru.xsl")
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet')
    assert_valid(SCHEMAS[version], document)
    root = etree.fromstring(document)
    diag = root.find(".//{*}diagnostic")
    assert diag is not None
    assert diag.findtext("{*}uri") == "info:srw/diagnostic/1/10"
    assert diag.findtext("{*}details") == "expected a search term at character 9"
    assert diag.findtext("{*}message") == "Query syntax error"


def test_explain_and_scan_diagnostics_in_2_0_validate() -> None:
    """2.0 scan has its own namespace; a failed 2.0 explain answers in the searchRetrieve
    form (its explainResponse needs a record)."""
    error = SRUError(Diagnostic.UNSUPPORTED_INDEX, "dc.type")
    for operation in (Operation.SCAN, Operation.EXPLAIN):
        document = diagnostic_response(Version.V2_0, operation, error)
        assert_valid("sru/sruResponse.xsd" if operation is Operation.EXPLAIN else "sru/scan.xsd",
                     document)  # fmt: skip
        assert b"info:srw/diagnostic/1/16" in document


def test_details_with_markup_and_control_characters_stay_well_formed() -> None:
    """A client's query echoed in a diagnostic cannot break the XML."""
    error = SRUError(Diagnostic.UNSUPPORTED_INDEX, 'a<b>&"c"\x1b')
    document = diagnostic_response(Version.V1_2, Operation.SEARCH_RETRIEVE, error)
    assert_valid(SCHEMAS[Version.V1_2], document)
    assert etree.fromstring(document).findtext(".//{*}details") == 'a<b>&"c"'
