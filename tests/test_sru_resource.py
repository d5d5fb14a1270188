"""The Twisted layer of SRU, in memory: routing, deferred answers, a client that left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import etree
from twisted.internet import defer
from twisted.internet.testing import MemoryReactor
from twisted.web import server
from twisted.web.test.requesthelper import DummyRequest

from gateway.config import load_config, render_config
from gateway.endpoints import GatewayContext
from gateway.store import RecordStore
from protocols.sru.resource import build


class _Deferred(GatewayContext):
    """Runs "pool" calls when the test says so, to see what happens meanwhile."""

    pending: list[tuple[Any, tuple[Any, ...], dict[str, Any], defer.Deferred[Any]]]

    def in_thread(self, function: Any, *args: Any, **kwargs: Any) -> defer.Deferred[Any]:
        deferred: defer.Deferred[Any] = defer.Deferred()
        self.pending.append((function, args, kwargs, deferred))
        return deferred

    def run(self) -> None:
        while self.pending:
            function, args, kwargs, deferred = self.pending.pop(0)
            deferred.callback(function(*args, **kwargs))


def _context(tmp_path: Path, store: RecordStore) -> _Deferred:
    path = tmp_path / "lienthong.yaml"
    libs = [{"id": "loc", "name": "Library of Congress", "kind": "national"}]
    path.write_text(render_config({"libraries": libs, "endpoints.sru": True}), "utf-8")
    context = _Deferred(load_config(path), store, pool=None, reactor=MemoryReactor())  # type: ignore[arg-type]
    context.pending = []
    return context


def _request(path: list[bytes], **args: str) -> DummyRequest:
    request = DummyRequest(path)
    request.args = {k.encode(): [v.encode()] for k, v in args.items()}
    request.method = b"GET"
    request.getRequestHostname = lambda: b"127.0.0.1"  # type: ignore[method-assign]
    return request


def _render(root: Any, request: DummyRequest) -> Any:
    resource = root
    while request.postpath and not getattr(resource, "isLeaf", False):
        resource = resource.getChildWithDefault(request.postpath.pop(0), request)
    return resource.render(request)


def test_answers_after_the_pool_and_never_on_the_reactor(
    tmp_path: Path, vie_store: RecordStore
) -> None:
    """The store call goes to the pool; the response is written when it returns."""
    context = _context(tmp_path, vie_store)
    root = build(context)
    request = _request([], query="dc.date >= 1990", maximumRecords="0")
    assert _render(root, request) == server.NOT_DONE_YET
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
    request = _request([], query="x")
    _render(build(context), request)
    request.processingFailed(Exception("connection lost"))  # what a lost connection does
    context.run()
    assert request.written == []


def test_routing_to_libraries_the_stylesheet_and_unknown_databases(
    tmp_path: Path, vie_store: RecordStore
) -> None:
    """/sru/<library> is that library; /sru/sru.xsl the stylesheet; anything else 235."""
    context = _context(tmp_path, vie_store)
    root = build(context)
    library = _request([b"loc"], query="cql.allRecords=1", maximumRecords="0")
    _render(root, library)
    context.run()
    assert etree.fromstring(b"".join(library.written)).findtext("{*}numberOfRecords") == "121"
    stylesheet = _render(root, _request([b"sru.xsl"]))
    assert stylesheet.startswith(b"<?xml") and b"xsl:stylesheet" in stylesheet
    unknown = _render(root, _request([b"\xff\xfe"], query="x"))
    assert b"info:srw/diagnostic/1/235" in unknown
