"""The thin Twisted layer: ``/sru`` (union catalogue) and ``/sru/<library id>``.

GET and POST (form-encoded) both arrive as ``request.args``; the service runs in the
gateway's thread pool (the store blocks) and its bytes are the response, always HTTP 200
with an SRU document, as the standard wants even for diagnostics. A library id that is
not configured is answered with diagnostic 235.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import resource, server

from gateway.endpoints import GatewayContext

from .errors import Diagnostic, SRUError
from .request import Limits, requested_version
from .response import Operation, Version, diagnostic_response
from .service import ResultSets, SRUService

__all__ = ["build", "SRUResource"]

_CONTENT_TYPE = b"application/xml; charset=utf-8"
_LOG = Logger()


class SRUResource(resource.Resource):
    """One SRU database: the union catalogue (``database`` None) or one library."""

    isLeaf = False

    def __init__(self, context: GatewayContext, service: SRUService, database: str | None):
        super().__init__()
        self.context = context
        self.service = service
        self.database = database

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        """``/sru/<library id>``: a configured library's database; anything else 235."""
        if self.database is None and path:
            name = path.decode("utf-8", "replace")
            if self.context.config.library(name) is not None:
                return SRUResource(self.context, self.service, name)
            if path == b"sru.xsl":
                return _STYLESHEET
            return _UnknownDatabase(self.service.limits, name)
        if not path:
            return self
        return _UnknownDatabase(self.service.limits, path.decode("utf-8", "replace"))

    def render_GET(self, request: server.Request) -> Any:
        """searchRetrieve, scan or explain, by the parameters."""
        arguments: dict[bytes, list[bytes]] = dict(request.args or {})
        host = request.getRequestHostname().decode("ascii", "replace")
        endpoint = (host, request.getHost().port)
        deferred = self.context.in_thread(self.service.respond, arguments, self.database,
                                          endpoint=endpoint)  # fmt: skip
        limits = self.service.limits
        gone: list[bool] = []  # set when the client disconnects before the answer is ready
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        deferred.addCallbacks(lambda body: _finish(request, body, gone),
                              lambda failure: _fail(request, failure, limits, gone))  # fmt: skip
        return server.NOT_DONE_YET

    render_POST = render_GET


class _UnknownDatabase(resource.Resource):
    """Any path under /sru that is not a configured library."""

    isLeaf = True

    def __init__(self, limits: Limits, name: str) -> None:
        super().__init__()
        self.limits = limits
        self.name = name

    def render_GET(self, request: server.Request) -> bytes:
        arguments: dict[bytes, list[bytes]] = dict(request.args or {})
        try:
            version = requested_version(arguments, self.limits)
        except SRUError:
            version = self.limits.default_version
        error = SRUError(Diagnostic.DATABASE_DOES_NOT_EXIST, self.name[:80])
        request.setHeader(b"content-type", _CONTENT_TYPE)
        operation = Operation.SEARCH_RETRIEVE if b"query" in arguments else Operation.EXPLAIN
        return diagnostic_response(version, operation, error)

    render_POST = render_GET


class _Stylesheet(resource.Resource):
    """``/sru/sru.xsl``: the stylesheet that turns responses into a search page."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.body = resources.files(__package__).joinpath("sru.xsl").read_bytes()

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"text/xsl; charset=utf-8")
        request.setHeader(b"cache-control", b"max-age=3600")
        return self.body


_STYLESHEET = _Stylesheet()


def _finish(request: server.Request, body: bytes, gone: list[bool]) -> None:
    if gone or request.finished:  # the client went away meanwhile
        return
    request.setHeader(b"content-type", _CONTENT_TYPE)
    request.write(body)
    request.finish()


def _fail(request: server.Request, failure: Failure, limits: Limits, gone: list[bool]) -> None:
    # The service answers every error itself; this is only reached if the pool fails.
    _LOG.failure("SRU request failed outside the service", failure)
    error = SRUError(Diagnostic.GENERAL_SYSTEM_ERROR)
    _finish(request, diagnostic_response(limits.default_version, Operation.EXPLAIN, error), gone)


def build(context: GatewayContext) -> resource.Resource:
    """The ``/sru`` resource for the server host (see gateway.endpoints)."""
    settings = context.config.values["sru"]
    limits = Limits(
        default_version=Version(settings["default_version"]),
        default_records=settings["default_records"],
        max_records=settings["max_records"],
        stylesheet=None if settings["stylesheet"].lower() == "none" else settings["stylesheet"],
    )
    libraries = {library.id: library.name for library in context.config.libraries}

    def titles(database: str | None) -> tuple[str, str]:
        if database is None:
            name = context.config.values["gateway"]["name"]
            return name, f"{name} (union catalogue)"
        return libraries.get(database, database), libraries.get(database, database)

    service = SRUService(context.store, limits, ResultSets(), titles)
    return SRUResource(context, service, None)
