"""The Twisted layer of OAI-PMH, in memory: the pool, compression, the base URL, faults."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import pytest
from lxml import etree
from twisted.web import http, server

from gateway.store import RecordStore
from protocols.oaipmh.resource import build, choose_encoding
from tests.oai import OAI, assert_oai_valid
from tests.web import DeferredPool, make_request, memory_context, render


def _context(tmp_path: Path, store: RecordStore, **overrides: object) -> DeferredPool:
    return memory_context(tmp_path, store, **{"endpoints.oaipmh": True, **overrides})


@pytest.mark.parametrize(
    ("header", "coding"),
    [(None, None), (b"", None), (b"gzip", "gzip"), (b"GZIP", "gzip"), (b"x-gzip", "gzip"),
     (b"deflate", "deflate"), (b"gzip, deflate", "gzip"), (b"deflate;q=1, gzip;q=0.5", "deflate"),
     (b"gzip;q=0", None), (b"*", "gzip"), (b"*;q=0.3, gzip;q=0", "deflate"), (b"br", None),
     (b"identity", None), (b"gzip;q=bogus, deflate", "deflate"), (b"\xff\xfe;;,,=", None)],
)  # fmt: skip
def test_content_coding_is_negotiated_as_rfc_9110_says(
    header: bytes | None, coding: str | None
) -> None:
    """q-values, case, x-gzip, the * wildcard, refusals (q=0) and junk headers."""
    assert choose_encoding(header) == coding


def test_the_answer_is_made_in_the_pool_and_compressed_there(
    tmp_path: Path, vie_store: RecordStore
) -> None:
    """Nothing is written until the pool call returns; the body it returns is already
    gzip-compressed (compressing a page is work the reactor should not do)."""
    context = _context(tmp_path, vie_store)
    request = make_request([], verb="ListRecords", metadataPrefix="marc21")
    request.requestHeaders.setRawHeaders(b"accept-encoding", [b"gzip"])
    assert render(build(context), request) == server.NOT_DONE_YET
    assert request.written == [] and len(context.pending) == 1
    context.run()
    body = b"".join(request.written)
    assert request.responseHeaders.getRawHeaders(b"content-encoding") == [b"gzip"]
    assert request.responseHeaders.getRawHeaders(b"content-length") == [str(len(body)).encode()]
    root = assert_oai_valid(gzip.decompress(body))
    assert len(root.findall(f".//{OAI}record")) == 121


def test_deflate_is_the_zlib_format(tmp_path: Path, vie_store: RecordStore) -> None:
    """HTTP's "deflate" coding is zlib-wrapped (RFC 9110), which is what clients expect."""
    context = _context(tmp_path, vie_store)
    request = make_request([], verb="Identify")
    request.requestHeaders.setRawHeaders(b"accept-encoding", [b"deflate"])
    render(build(context), request)
    context.run()
    assert_oai_valid(zlib.decompress(b"".join(request.written)))


def test_base_url_is_the_one_the_harvester_used_or_the_configured_one(
    tmp_path: Path, vie_store: RecordStore
) -> None:
    """Without ``oai.base_url`` the request element carries the Host the harvester sent;
    a forged Host that is no host name falls back to the listening address; a configured
    base URL wins over both."""
    context = _context(tmp_path, vie_store)
    for host, expected in ((b"thuvien.example.vn:8080", "http://thuvien.example.vn:8080/oai"),
                           (b'evil"<x>', None)):  # fmt: skip
        request = make_request([], verb="Identify")
        request.prepath = [b"oai"]
        request.requestHeaders.setRawHeaders(b"host", [host])
        render(build(context), request)
        context.run()
        root = assert_oai_valid(b"".join(request.written))
        base = root.findtext(f"{OAI}request")
        assert base == expected if expected else (base or "").startswith("http://")
        assert "evil" not in (base or "")
    configured = _context(tmp_path, vie_store, **{"oai.base_url": "https://lienthong.vn/oai"})
    request = make_request([], verb="Identify")
    render(build(configured), request)
    configured.run()
    assert etree.fromstring(b"".join(request.written)).findtext(f"{OAI}request") == (
        "https://lienthong.vn/oai"
    )


class _BrokenStore:
    """A store whose reads fail (disk gone, database down)."""

    def __getattr__(self, name: str) -> object:
        def fail(*args: object, **kwargs: object) -> object:
            raise OSError("disk I/O error")

        return fail


def test_a_store_failure_is_a_503_to_retry_not_a_traceback(tmp_path: Path) -> None:
    """When the store cannot be read the harvester gets 503 with Retry-After (harvesters
    retry those) and a short message without internals."""
    context = _context(tmp_path, _BrokenStore())  # type: ignore[arg-type]
    request = make_request([], verb="ListRecords", metadataPrefix="oai_dc")
    render(build(context), request)
    context.run()
    assert request.responseCode == 503
    assert request.responseHeaders.getRawHeaders(b"retry-after") == [b"60"]
    assert b"disk" not in b"".join(request.written)


def test_a_client_that_left_gets_nothing_written(tmp_path: Path, vie_store: RecordStore) -> None:
    """If the connection closed while the store worked, the answer is dropped quietly."""
    context = _context(tmp_path, vie_store)
    request = make_request([], verb="ListRecords", metadataPrefix="oai_dc")
    render(build(context), request)
    request.processingFailed(Exception("connection lost"))
    context.run()
    assert request.written == []


def test_post_is_answered_like_get_and_the_stylesheet_is_served(
    tmp_path: Path, vie_store: RecordStore
) -> None:
    """POST takes the same arguments; /oai/oai.xsl is the stylesheet; other paths 404."""
    context = _context(tmp_path, vie_store)
    root = build(context)
    request = make_request([], b"POST", verb="GetRecord", metadataPrefix="oai_dc",
                           identifier="oai:nowhere.vn:loc/1")  # fmt: skip
    render(root, request)
    context.run()
    assert b'code="idDoesNotExist"' in b"".join(request.written)
    sheet = render(root, make_request([b"oai.xsl"]))
    assert b"xsl:stylesheet" in sheet
    missing = make_request([b"nothing"])
    render(root, missing)
    assert missing.responseCode == 404


def test_an_argument_in_both_query_and_form_body_is_repeated(
    tmp_path: Path, vie_store: RecordStore
) -> None:
    """twisted.web would let the body's verb replace the query's; the gateway reads both
    places, so the harvester learns its request was ambiguous (badVerb for a repeated
    verb), and arguments split between them are taken together."""
    context = _context(tmp_path, vie_store)
    root = build(context)
    cases = [(b"verb=Identify", b"verb=ListSets", "badVerb"),
             (b"verb=ListIdentifiers", b"metadataPrefix=oai_dc", None)]  # fmt: skip
    for query, body, code in cases:
        request = make_request([], b"POST")
        request.uri = b"/oai?" + query
        request.args = {**http.parse_qs(query, 1), **http.parse_qs(body, 1)}
        request.content = io.BytesIO(body)
        request.requestHeaders.setRawHeaders(
            b"content-type", [b"application/x-www-form-urlencoded"]
        )
        render(root, request)
        context.run()
        answer = assert_oai_valid(b"".join(request.written))
        codes = [e.get("code") for e in answer.iter(f"{OAI}error")]
        assert codes == ([code] if code else [])


@pytest.mark.parametrize(
    ("host", "kept"),
    [(b"thuvien.vn", True), (b"thuvien.vn:65535", True), (b"[2001:db8::1]:8080", True),
     (b"thuvien.vn:65536", False), (b"thuvien.vn:80:80", False), (b"a b", False), (b"", False)],
)  # fmt: skip
def test_only_a_well_formed_host_header_becomes_the_base_url(
    tmp_path: Path, vie_store: RecordStore, host: bytes, kept: bool
) -> None:
    """Host names, IPv6 literals and ports up to 65535 are used; anything else falls back
    to the listening address, so the base URL is always a valid URI."""
    context = _context(tmp_path, vie_store)
    request = make_request([], verb="Identify")
    request.prepath = [b"oai"]
    request.requestHeaders.setRawHeaders(b"host", [host])
    render(build(context), request)
    context.run()
    base = assert_oai_valid(b"".join(request.written)).findtext(f"{OAI}request")
    assert (base == f"http://{host.decode()}/oai") is kept
