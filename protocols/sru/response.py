"""SRU responses as bytes, in the version the client asked for (sans-IO).

SRU 1.1 and 1.2 share the LoC namespace (``http://www.loc.gov/zing/srw/``) and carry a
``version`` element; SRU 2.0 (OASIS) has its own namespaces and none. Records are embedded
as XML (``recordPacking`` xml in 1.x, ``recordXMLEscaping`` xml in 2.0) or as escaped text
(string). A fatal diagnostic is still a complete response: no records, the diagnostic, HTTP
200. Built as text, like the crosswalks, because pages carry records by the dozen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from crosswalks.xmlchars import XmlText, escape_xml

from .errors import SRUError

__all__ = [
    "Version",
    "Operation",
    "ResponseRecord",
    "SearchRetrieveResponse",
    "Facet",
    "search_retrieve_response",
    "scan_response",
    "ResponseTerm",
    "diagnostic_response",
    "explain_response",
    "SRU1_NS",
    "SRU2_NS",
]

SRU1_NS = "http://www.loc.gov/zing/srw/"
DIAG1_NS = "http://www.loc.gov/zing/srw/diagnostic/"
SRU2_NS = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
DIAG2_NS = "http://docs.oasis-open.org/ns/search-ws/diagnostic"


class Version(StrEnum):
    """The SRU versions served."""

    V1_1 = "1.1"
    V1_2 = "1.2"
    V2_0 = "2.0"

    @property
    def legacy(self) -> bool:
        """True for the LoC 1.x versions (one namespace, a version element)."""
        return self is not Version.V2_0


class Operation(StrEnum):
    """SRU operations; each has its own response element."""

    EXPLAIN = "explain"
    SEARCH_RETRIEVE = "searchRetrieve"
    SCAN = "scan"


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """One record of a page: its schema URI, its rendering (XML text), its position."""

    schema: str
    data: str
    position: int
    identifier: str | None = None


@dataclass(frozen=True, slots=True)
class Facet:
    """Counts of one index's values among the hits (SRU 2.0 facetedResults)."""

    index: str  #: the CQL index name the client asked for
    label: str
    terms: Sequence[tuple[str, int, str]]  #: (value, count, CQL query), most frequent first


FACET_NS = "http://docs.oasis-open.org/ns/search-ws/facetedResults"


@dataclass(slots=True)
class SearchRetrieveResponse:
    """Everything a searchRetrieve response says."""

    version: Version
    total: int
    records: Sequence[ResponseRecord] = ()
    next_position: int | None = None
    result_set_id: str | None = None
    result_set_ttl: int | None = None
    escape_records: bool = False  #: recordPacking=string (1.x) / recordXMLEscaping=string
    diagnostics: Sequence[SRUError] = field(default_factory=list)
    stylesheet: str | None = None
    facets: Sequence[Facet] = ()  #: written in 2.0 only (1.x has no place for them)


def _facets(facets: Sequence[Facet], text: XmlText) -> str:
    parts = [f'<srw:facetedResults xmlns:facet="{FACET_NS}">']
    for facet in facets:
        parts.append(
            f"<facet:facet><facet:facetDisplayLabel>{text.escape(facet.label)}"
            f"</facet:facetDisplayLabel><facet:index>{text.escape(facet.index)}</facet:index>"
            "<facet:terms>"
        )
        for value, count, query in facet.terms:
            parts.append(
                f"<facet:term><facet:actualTerm>{text.escape(value)}</facet:actualTerm>"
                f"<facet:query>{text.escape(query)}</facet:query>"
                f"<facet:count>{count}</facet:count></facet:term>"
            )
        parts.append("</facet:terms></facet:facet>")
    parts.append("</srw:facetedResults>")
    return "".join(parts)


def _open(version: Version, element: str, stylesheet: str | None) -> list[str]:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    if stylesheet:
        parts.append(f'<?xml-stylesheet type="text/xsl" href="{escape_xml(stylesheet)}"?>\n')
    if version.legacy:
        parts.append(f'<srw:{element} xmlns:srw="{SRU1_NS}" xmlns:diag="{DIAG1_NS}">')
        parts.append(f"<srw:version>{version}</srw:version>")
    else:
        parts.append(f'<srw:{element} xmlns:srw="{SRU2_NS}" xmlns:diag="{DIAG2_NS}">')
    return parts


def _diagnostics(errors: Sequence[SRUError], text: XmlText, prefix: str = "srw") -> str:
    """The diagnostics element (in the response's namespace, named by ``prefix``)."""
    if not errors:
        return ""
    items = []
    for error in errors:
        details = (
            f"<diag:details>{text.escape(error.details)}</diag:details>" if error.details else ""
        )
        items.append(
            f"<diag:diagnostic><diag:uri>{error.diagnostic.uri}</diag:uri>{details}"
            f"<diag:message>{text.escape(error.message)}</diag:message></diag:diagnostic>"
        )
    return f"<{prefix}:diagnostics>" + "".join(items) + f"</{prefix}:diagnostics>"


def _record(version: Version, record: ResponseRecord, escape: bool, text: XmlText) -> str:
    data = text.escape(record.data) if escape else record.data
    if version.legacy:
        packing = f"<srw:recordPacking>{'string' if escape else 'xml'}</srw:recordPacking>"
    else:
        packing = (
            "<srw:recordPacking>packed</srw:recordPacking>"
            f"<srw:recordXMLEscaping>{'string' if escape else 'xml'}</srw:recordXMLEscaping>"
        )
    identifier = (
        f"<srw:recordIdentifier>{text.escape(record.identifier)}</srw:recordIdentifier>"
        if record.identifier and version.legacy
        else ""
    )
    return (
        f"<srw:record><srw:recordSchema>{escape_xml(record.schema)}</srw:recordSchema>{packing}"
        f"{identifier}<srw:recordData>{data}</srw:recordData>"
        f"<srw:recordPosition>{record.position}</srw:recordPosition></srw:record>"
    )


def search_retrieve_response(
    response: SearchRetrieveResponse, text: XmlText | None = None
) -> bytes:
    """The searchRetrieveResponse document (UTF-8 bytes) for ``response``.

    Elements come in each version's schema order. The result set id and its time to live
    are SRU 2.0 elements; the 1.x schema has no place for them, so 1.x clients reuse a
    result set by the id they learn from a 2.0 response or from the ``x-`` extension.
    """
    clean = text if text is not None else XmlText()
    version = response.version
    parts = _open(version, "searchRetrieveResponse", response.stylesheet)
    parts.append(f"<srw:numberOfRecords>{response.total}</srw:numberOfRecords>")
    if response.result_set_id and not version.legacy:
        parts.append(f"<srw:resultSetId>{escape_xml(response.result_set_id)}</srw:resultSetId>")
    if response.records:
        parts.append("<srw:records>")
        parts.extend(_record(version, r, response.escape_records, clean) for r in response.records)
        parts.append("</srw:records>")
    if response.next_position:
        parts.append(f"<srw:nextRecordPosition>{response.next_position}</srw:nextRecordPosition>")
    parts.append(_diagnostics(response.diagnostics, clean))
    if response.result_set_id and response.result_set_ttl is not None and not version.legacy:
        parts.append(f"<srw:resultSetTTL>{response.result_set_ttl}</srw:resultSetTTL>")
    if response.facets and not version.legacy and any(f.terms for f in response.facets):
        parts.append(_facets([f for f in response.facets if f.terms], clean))
    parts.append("</srw:searchRetrieveResponse>")
    return "".join(parts).encode("utf-8")


def diagnostic_response(
    version: Version, operation: Operation, error: SRUError, stylesheet: str | None = None
) -> bytes:
    """A complete response to a request that failed as a whole (a fatal diagnostic).

    searchRetrieve says zero records; explain and scan carry only the diagnostic, which
    their 1.x forms allow (2.0's explain needs a record, so a 2.0 explain failure is
    answered in the searchRetrieve form clients already read diagnostics from).
    """
    text = XmlText()
    if operation is Operation.SEARCH_RETRIEVE or (
        operation is Operation.EXPLAIN and not version.legacy
    ):
        response = SearchRetrieveResponse(version, 0, diagnostics=[error], stylesheet=stylesheet)
        return search_retrieve_response(response, text)
    if operation is Operation.SCAN:
        return scan_response(version, (), [error], stylesheet)
    element = "explainResponse"
    parts = _open(version, element, stylesheet)
    parts.append(_diagnostics([error], text))
    parts.append(f"</srw:{element}>")
    return "".join(parts).encode("utf-8")


@dataclass(frozen=True, slots=True)
class ResponseTerm:
    """One scan term: the value to search with, its record count, how to show it."""

    value: str
    count: int
    display: str | None = None


SCAN2_NS = "http://docs.oasis-open.org/ns/search-ws/scan"


def scan_response(
    version: Version,
    terms: Sequence[ResponseTerm],
    diagnostics: Sequence[SRUError] = (),
    stylesheet: str | None = None,
) -> bytes:
    """The scanResponse document: terms in order, each with value, count, display form and
    (2.0) where it sits in the list."""
    text = XmlText()
    if version.legacy:
        parts = _open(version, "scanResponse", stylesheet)
        prefix = "srw"
    else:
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n']
        if stylesheet:
            parts.append(f'<?xml-stylesheet type="text/xsl" href="{escape_xml(stylesheet)}"?>\n')
        parts.append(f'<scan:scanResponse xmlns:scan="{SCAN2_NS}" xmlns:diag="{DIAG2_NS}">')
        prefix = "scan"
    if terms:
        parts.append(f"<{prefix}:terms>")
        last = len(terms) - 1
        for position, term in enumerate(terms):
            display = (
                f"<{prefix}:displayTerm>{text.escape(term.display)}</{prefix}:displayTerm>"
                if term.display
                else ""
            )
            where = ""
            if not version.legacy:
                place = "only" if last == 0 else {0: "first", last: "last"}.get(position, "inner")
                where = f"<scan:whereInList>{place}</scan:whereInList>"
            parts.append(
                f"<{prefix}:term><{prefix}:value>{text.escape(term.value)}</{prefix}:value>"
                f"<{prefix}:numberOfRecords>{term.count}</{prefix}:numberOfRecords>"
                f"{display}{where}</{prefix}:term>"
            )
        parts.append(f"</{prefix}:terms>")
    parts.append(_diagnostics(diagnostics, text, prefix))
    parts.append(f"</{prefix}:scanResponse>")
    return "".join(parts).encode("utf-8")


ZEEREX_SCHEMA = "http://explain.z3950.org/dtd/2.0/"


def explain_response(version: Version, record: str, stylesheet: str | None = None) -> bytes:
    """The explainResponse document carrying the ZeeRex record (XML text)."""
    parts = _open(version, "explainResponse", stylesheet)
    packing = (
        "<srw:recordPacking>xml</srw:recordPacking>"
        if version.legacy
        else "<srw:recordPacking>packed</srw:recordPacking>"
        "<srw:recordXMLEscaping>xml</srw:recordXMLEscaping>"
    )
    parts.append(
        f"<srw:record><srw:recordSchema>{ZEEREX_SCHEMA}</srw:recordSchema>{packing}"
        f"<srw:recordData>{record}</srw:recordData></srw:record></srw:explainResponse>"
    )
    return "".join(parts).encode("utf-8")
