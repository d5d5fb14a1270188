"""The Twisted layer of SRU, in memory: routing, deferred answers, a client that left."""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from twisted.web import server

from gateway.store import RecordStore
from protocols.sru.resource import build
from tests.web import DeferredPool, make_request, memory_context, render


def _context(tmp_path: Path, store: RecordStore) -> DeferredPool:
    return memory_context(tmp_path, store, **{"endpoints.sru": True})


def test_answers_after_the_pool_and_never_on_the_reactor(
    tmp_path: Path, vie_store: RecordStore
) -> None:
    """The store call goes to the pool; the response is written when it returns."""
    context = _context(tmp_path, vie_store)
    root = build(context)
    request = make_request([], query="dc.date >= 1990", maximumRecords="0")
    assert render(root, request) == server.NOT_DONE_YET
    assert request.written == [] and len(context.pending) == 1
    context.run()
    assert request.finished
    document = etree.fromstring(b"".join(request.written))
    assert int(document.findtext("{*}numberOfRecords") or 0) > 10
    assert request.responseHeaders.getRawHeaders(b"content-type") == [
        b"application/xml; charset=utf-8"
    ]


def test_a_client_that_left_gets_nothing_written(tmp_path: Path, vie_store: RecordStore) -> None:
    """If the connection closed while the store worked, the answer is dropped quietly."""
    context = _context(tmp_path, vie_store)
    request = make_request([], query="x")
    render(build(context), request)
    request.processingFailed(Exception("connection lost"))  # what a lost connection does
    context.run()
    assert request.written == []


def test_routing_to_libraries_the_stylesheet_and_unknown_databases(
    tmp_path: Path, vie_store: RecordStore
) -> None:
    """/sru/<library> is that library; /sru/sru.xsl the stylesheet; anything else 235."""
    context = _context(tmp_path, vie_store)
    root = build(context)
    library = make_request([b"loc"], query="cql.allRecords=1", maximumRecords="0")
    render(root, library)
    context.run()
    assert etree.fromstring(b"".join(library.written)).findtext("{*}numberOfRecords") == "121"
    stylesheet = render(root, make_request([b"sru.xsl"]))
    assert stylesheet.startswith(b"<?xml") and b"xsl:stylesheet" in stylesheet
    unknown = render(root, make_request([b"\xff\xfe"], query="x"))
    assert b"info:srw/diagnostic/1/235" in unknown
