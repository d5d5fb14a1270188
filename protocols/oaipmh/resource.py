"""The thin Twisted layer: ``/oai`` (GET and POST) and ``/oai/oai.xsl``.

GET and form POST both arrive as ``request.args``; the service runs in the gateway's
thread pool (the store blocks). Every protocol answer is HTTP 200, errors included, as
OAI-PMH wants. Responses are compressed with gzip or deflate when the harvester's
Accept-Encoding asks for it (Identify announces both): a page of MARCXML shrinks about
tenfold, which is what makes a national harvest over a provincial uplink practical.
"""

from __future__ import annotations

import re
import zlib
from importlib import resources
from typing import Any

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http, pages, resource, server

from gateway.endpoints import GatewayContext

from .service import LibraryInfo, Limits, OAIService, Repository

__all__ = ["build", "OAIResource", "choose_encoding", "CODINGS"]

_CONTENT_TYPE = b"text/xml; charset=utf-8"
_LOG = Logger()
#: Content codings we write, in the order we prefer them at equal quality.
CODINGS = ("gzip", "deflate")
_FORM = b"application/x-www-form-urlencoded"
_HOST = re.compile(r"(?:[A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::(?P<port>[0-9]{1,5}))?")


def choose_encoding(accept: bytes | None) -> str | None:
    """The content coding to answer with for an Accept-Encoding header (RFC 9110), or
    None for the identity coding. ``x-gzip`` counts as gzip; ``*`` admits both."""
    if not accept:
        return None
    quality: dict[str, float] = {}
    for part in accept.decode("latin-1").split(","):
        name, _, parameters = part.strip().partition(";")
        name = name.strip().lower()
        if name == "x-gzip":
            name = "gzip"
        q = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            quality[name] = q
    best, best_q = None, 0.0
    for coding in CODINGS:
        q = quality.get(coding, quality.get("*", 0.0))
        if q > best_q:
            best, best_q = coding, q
    return best


def _valid_host(host: str) -> bool:
    """A Host header that is a host name or address with an optional port (0-65535)."""
    match = _HOST.fullmatch(host)
    return match is not None and int(match["port"] or 0) <= 65535


def _arguments(request: server.Request) -> dict[bytes, list[bytes]]:
    """The request's arguments, from the query string and a form body together.

    twisted.web lets a form body's value replace the query string's; OAI-PMH answers an
    argument given twice with badArgument, so both places are read and both kept.
    """
    given: dict[bytes, list[bytes]] = request.args or {}
    arguments = {name: list(values) for name, values in given.items()}
    content_type = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if request.method != b"POST" or content_type != _FORM or request.content is None:
        return arguments
    merged: dict[bytes, list[bytes]] = http.parse_qs((request.uri or b"").partition(b"?")[2], 1)
    body = request.content.read()
    request.content.seek(0)
    for name, values in http.parse_qs(body, 1).items():
        merged.setdefault(name, []).extend(values)
    return merged


def _compress(body: bytes, coding: str) -> bytes:
    if coding == "gzip":
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip wrapper
    else:
        packer = zlib.compressobj(6, zlib.DEFLATED, 15)  # zlib wrapper (HTTP "deflate")
    return packer.compress(body) + packer.flush()


class OAIResource(resource.Resource):
    """The OAI-PMH base URL."""

    isLeaf = False

    def __init__(self, context: GatewayContext, service: OAIService, base_url: str | None):
        super().__init__()
        self.context = context
        self.service = service
        #: The configured public base URL; None: the address each request came to.
        self.base_url = base_url
        self.putChild(b"oai.xsl", _Stylesheet())  # type: ignore[arg-type]

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        if not path:
            return self
        return pages.notFound("Không tìm thấy / Not found", "")  # type: ignore[return-value]

    def _base_url(self, request: server.Request) -> str:
        if self.base_url:
            return self.base_url
        scheme = "https" if request.isSecure() else "http"
        host = (request.getHeader(b"host") or b"").decode("latin-1")
        if not _valid_host(host):  # a forged Host must not make the responses invalid
            address = request.getHost()
            name = f"[{address.host}]" if ":" in address.host else address.host
            host = f"{name}:{address.port}"
        path = b"/".join(request.prepath or []).decode("utf-8", "replace").rstrip("/")
        return f"{scheme}://{host}/{path}"

    def render_GET(self, request: server.Request) -> Any:
        """Any verb; the response document is HTTP 200 whatever it says."""
        arguments = _arguments(request)
        coding = choose_encoding(request.getHeader(b"accept-encoding"))
        deferred = self.context.in_thread(_answer, self.service, arguments,
                                          self._base_url(request), coding)  # fmt: skip
        gone: list[bool] = []  # set when the client disconnects before the answer is ready
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        deferred.addCallbacks(lambda body: _finish(request, body, coding, gone),
                              lambda failure: _fail(request, failure, gone))  # fmt: skip
        return server.NOT_DONE_YET

    render_POST = render_GET


class _Stylesheet(resource.Resource):
    """``/oai/oai.xsl``: turns any response into a readable page in a browser."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.body = resources.files(__package__).joinpath("oai.xsl").read_bytes()

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"text/xsl; charset=utf-8")
        request.setHeader(b"cache-control", b"max-age=3600")
        return self.body


def _answer(
    service: OAIService, arguments: dict[bytes, list[bytes]], base_url: str, coding: str | None
) -> bytes:
    """The response body, compressed as negotiated; in the thread pool, because compressing
    a page takes milliseconds the reactor owes to other clients."""
    body = service.respond(arguments, base_url)
    return body if coding is None else _compress(body, coding)


def _finish(request: server.Request, body: bytes, coding: str | None, gone: list[bool]) -> None:
    if gone or request.finished:  # the client went away meanwhile
        return
    request.setHeader(b"content-type", _CONTENT_TYPE)
    request.setHeader(b"vary", b"Accept-Encoding")
    if coding is not None:
        request.setHeader(b"content-encoding", coding.encode("ascii"))
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    request.write(body)
    request.finish()


def _fail(request: server.Request, failure: Failure, gone: list[bool]) -> None:
    # Protocol errors are answered by the service; this is a fault of ours (a store that
    # cannot be read), and a harvester retries a 5xx later.
    _LOG.failure("OAI-PMH request failed", failure)
    if gone or request.finished:
        return
    request.setResponseCode(503)
    request.setHeader(b"retry-after", b"60")
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.write("Tạm thời không phục vụ được / temporarily unavailable\n".encode())
    request.finish()


def build(context: GatewayContext) -> resource.Resource:
    """The ``/oai`` resource for the server host (see gateway.endpoints)."""
    config = context.config
    settings = config.values["oai"]
    gateway = config.values["gateway"]
    libraries = {
        library.id: LibraryInfo(library.name, library.kind, library.url)
        for library in config.libraries
    }
    repository = Repository(gateway["name"], gateway["admin_email"], gateway["oai_namespace"],
                            libraries)  # fmt: skip
    stylesheet = settings["stylesheet"]
    limits = Limits(
        page_size=settings["page_size"],
        token_lifetime=settings["token_lifetime_hours"] * 3600,
        stylesheet=None if stylesheet.lower() == "none" else stylesheet,
        compression=CODINGS,
    )
    service = OAIService(context.store, repository, limits)
    return OAIResource(context, service, settings["base_url"])
