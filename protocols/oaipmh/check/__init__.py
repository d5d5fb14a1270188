"""The administrator's harvest self-test behind ``lienthong oai check URL`` (sans Click).

It does to any OAI-PMH 2.0 base URL (ours, or a member library's Koha or DSpace) what a
national harvester does: Identify, ListMetadataFormats, ListSets and a whole
ListIdentifiers, following resumption tokens, then GetRecord of one identifier it found;
and it checks what harvesters depend on and complain about: duplicates, a list that does
not end with an empty token (or ends with a token too many), completeListSize and cursor,
token lifetimes, datestamps against Identify's granularity and the dates asked for,
responseDate, compression, speed per page. With folders of the official XML Schemas (not
shipped; see :mod:`gateway.xmlschemas`) every response is validated as well.

:func:`check_endpoint` returns a :class:`CheckReport`: one :class:`Finding` per check
(PASS, WARN or FAIL, in plain words) and the measured :class:`HarvestFigures`;
:func:`report_lines` writes it for a terminal. An address that is not an OAI-PMH endpoint
at all (unreachable, an HTML page) raises :class:`EndpointError` instead.

The package's modules, each importing only those above it:

- :mod:`.standard`: what OAI-PMH 2.0 defines (namespace, granularities, datestamps);
- :mod:`.report`: the findings, figures and options of a run, and :func:`report_lines`;
- :mod:`.fetch`: HTTP requests, retries after 503, and telling OAI-PMH XML from the rest;
- :mod:`.responses`: the checks on every response, and :func:`load_schemas`;
- :mod:`.headers`: the checks on every ListIdentifiers header;
- :mod:`.harvest`: the run itself, verb by verb, behind :func:`check_endpoint`.
"""

from __future__ import annotations

from gateway.xmlschemas import SchemaFolderError

from .harvest import EndpointError, check_endpoint
from .report import CHECKS, CheckOptions, CheckReport, Finding, HarvestFigures, Level, report_lines
from .responses import load_schemas
from .standard import Datestamp, parse_datestamp

__all__ = [
    "CHECKS",
    "CheckOptions",
    "CheckReport",
    "Datestamp",
    "EndpointError",
    "Finding",
    "HarvestFigures",
    "Level",
    "SchemaFolderError",
    "check_endpoint",
    "load_schemas",
    "parse_datestamp",
    "report_lines",
]
