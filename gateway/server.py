"""The server host: one Twisted process running every enabled endpoint, plus /health.

The reactor is passed in (tests give a MemoryReactor or a real one on free ports); only
the CLI entry point uses the global reactor. Store calls go through the context's thread
pool. Shutdown (SIGINT/SIGTERM, handled by the reactor) stops listening, drains the pool
and closes the store.
"""

from __future__ import annotations

import html
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.interfaces import IListeningPort
from twisted.logger import (
    FilteringLogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)
from twisted.python.threadpool import ThreadPool
from twisted.web import pages, resource, server
from twisted.web.server import Request

from . import __version__
from .config import Config
from .endpoints import ENDPOINT_SPECS, GatewayContext, load_builder
from .store import RecordStore
from .sync.overview import source_health
from .sync.scheduler import SyncScheduler
from .workers import WorkerProcesses, listen_shared

__all__ = [
    "ServerAddresses",
    "GatewayServer",
    "BoundedRequest",
    "start_logging",
    "HealthResource",
    "RootResource",
]

log = Logger(namespace="lienthong.server")


@dataclass(frozen=True, slots=True)
class ServerAddresses:
    """Where to listen; each field overrides the configuration when not None."""

    host: str | None = None
    http_port: int | None = None
    z3950_port: int | None = None
    sip2_port: int | None = None


def start_logging(level: str = "info", stream: Any = None) -> None:
    """Send Twisted's and the gateway's log events to standard output.

    Protocol services log through the standard ``logging`` module (they know nothing of
    Twisted); its records go to the same stream, at the same level, in the same shape.
    """
    out = stream or sys.stdout
    twisted_level = "warn" if level == "warning" else level  # Twisted's name for it
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(twisted_level))
    observer = FilteringLogObserver(
        textFileLogObserver(out),  # type: ignore[arg-type]
        [predicate],  # type: ignore[list-item]
    )
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)  # type: ignore[list-item]
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s#%(levelname)s] %(message)s",
                                           "%Y-%m-%dT%H:%M:%S%z"))  # fmt: skip
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class HealthResource(resource.Resource):
    """``GET /health``: JSON with store reachability, record count, uptime, endpoints."""

    isLeaf = True

    def __init__(
        self, context: GatewayContext, sources: Callable[[], Config] | None = None
    ) -> None:
        super().__init__()
        self.context = context
        #: The configuration whose sources are shown: the scheduler's, which follows
        #: 'sources add|remove' without a restart.
        self.sources = sources or (lambda: context.config)

    def render_GET(self, request: Request) -> Any:
        request.setHeader(b"Content-Type", b"application/json; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        deferred = self.context.in_thread(self._read)

        def answer(found: tuple[int, dict[str, Any]] | None, error: str | None = None) -> None:
            records, sources = found if found is not None else (None, {})
            store: dict[str, Any] = {"reachable": error is None, "records": records}
            body = {
                "status": "ok" if error is None else "degraded",
                "version": __version__,
                "store": store,
                "uptime_seconds": round(time.monotonic() - self.context.started, 1),
                "endpoints": self.context.config.enabled_endpoints,
                "addresses": self.context.addresses,
                "sources": sources,
            }
            if error is not None:
                store["error"] = error
                request.setResponseCode(503)
            if not gone:
                request.write(json.dumps(body, ensure_ascii=False).encode("utf-8"))
                request.finish()

        deferred.addCallbacks(
            answer, lambda failure: answer(None, failure.getErrorMessage() or "store error")
        )
        return server.NOT_DONE_YET

    def _read(self) -> tuple[int, dict[str, Any]]:
        """Record count and every source's sync status (blocking: runs in the pool)."""
        return self.context.store.count(), source_health(self.sources(), self.context.store)


class RootResource(resource.Resource):
    """``GET /``: a short page naming the gateway and linking its endpoints."""

    def __init__(self, context: GatewayContext) -> None:
        super().__init__()
        self.context = context

    def getChild(self, path: bytes, request: Request) -> resource.Resource:
        if path == b"":
            return self
        return pages.notFound("Không tìm thấy / Not found", "")  # type: ignore[return-value]

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        name = html.escape(self.context.config.values["gateway"]["name"])
        links = "".join(
            f'<li><a href="/{ENDPOINT_SPECS[n].path.decode()}">{ENDPOINT_SPECS[n].title}</a></li>'
            for n in self.context.config.enabled_endpoints
            if ENDPOINT_SPECS[n].transport == "http"
        )
        tcp = "".join(
            f"<li>{ENDPOINT_SPECS[n].title}: {html.escape(self.context.addresses.get(n, ''))}</li>"
            for n in self.context.config.enabled_endpoints
            if ENDPOINT_SPECS[n].transport == "tcp"
        )
        page = (
            '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
            f"<title>{name}</title></head><body><h1>{name}</h1>"
            "<p>Cổng liên thông thư viện / Library interoperability gateway</p>"
            f'<ul>{links}{tcp}<li><a href="/health">health</a></li></ul></body></html>'
        )
        return page.encode("utf-8")


class BoundedRequest(server.Request):
    """An HTTP request whose body is capped (``MAX_BODY``), answered 413 past the cap.

    twisted.web would otherwise keep any body a client sends and parse a form body into
    memory whole, so one 100 MB POST could take the memory every other client needs.
    Bytes past the cap are dropped as they arrive; protocol requests are a few KB.
    """

    MAX_BODY = 1 << 20
    _received = 0
    too_large = False

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self.MAX_BODY:
            self.too_large = True
            length = 0
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.too_large:
            return
        self._received += len(data)
        if self._received > self.MAX_BODY:
            self.too_large = True
            if self.content is not None:
                self.content.seek(0)
                self.content.truncate()
            return
        super().handleContentChunk(data)

    def process(self) -> None:
        if not self.too_large:
            super().process()
            return
        self.site = self.channel.site  # type: ignore[attr-defined]
        self.setResponseCode(413)
        self.setHeader(b"content-type", b"text/plain; charset=utf-8")
        limit = self.MAX_BODY // 1024
        self.write(f"Yêu cầu quá lớn / request body over {limit} KiB\n".encode())
        self.finish()


class GatewayServer:
    """Binds the enabled endpoints on one reactor and tears them down again."""

    def __init__(
        self,
        config: Config,
        store: RecordStore,
        reactor: Any,
        addresses: ServerAddresses | None = None,
    ) -> None:
        settings = config.values["server"]
        addresses = addresses or ServerAddresses()
        self.host: str = addresses.host or settings["host"]
        self.ports = {
            "http_port": _pick(addresses.http_port, settings["http_port"]),
            "z3950_port": _pick(addresses.z3950_port, settings["z3950_port"]),
            "sip2_port": _pick(addresses.sip2_port, settings["sip2_port"]),
        }
        self.reactor = reactor
        self.pool = ThreadPool(minthreads=1, maxthreads=settings["threads"], name="store")
        self.context = GatewayContext(config=config, store=store, pool=self.pool, reactor=reactor)
        self.listening: dict[str, IListeningPort] = {}
        self.workers = WorkerProcesses()
        self.scheduler = SyncScheduler(config, store, reactor, self.pool)

    def start(self) -> None:
        """Start the thread pool and listen on every port; raises if a port is taken."""
        self.pool.start()
        try:
            self._listen()
        except Exception:
            self.stop()
            raise
        self.scheduler.start()
        self.reactor.addSystemEventTrigger("before", "shutdown", self.stop)

    def _listen(self) -> None:
        root = RootResource(self.context)
        health = HealthResource(self.context, lambda: self.scheduler.config)
        root.putChild(b"health", health)  # type: ignore[arg-type]
        tcp_factories = {}
        for name in self.context.config.enabled_endpoints:
            spec = ENDPOINT_SPECS[name]
            built = load_builder(name)(self.context)
            if spec.transport == "http":
                root.putChild(spec.path, built)
            else:
                tcp_factories[name] = built
        site = server.Site(root)
        site.requestFactory = BoundedRequest
        site.displayTracebacks = False
        port = self.reactor.listenTCP(self.ports["http_port"], site, interface=self.host)
        self.listening["http"] = port
        self.context.addresses["http"] = f"http://{self.host}:{port.getHost().port}/"
        for name, factory in tcp_factories.items():
            spec = ENDPOINT_SPECS[name]
            processes = int((self.context.config.values.get(name) or {}).get("processes", 1))
            bound: Any
            if processes > 1:
                bound = listen_shared(self.reactor, self.host, self.ports[spec.port_key],
                                      factory, first=True)  # fmt: skip
            else:
                bound = self.reactor.listenTCP(self.ports[spec.port_key], factory,
                                               interface=self.host)  # fmt: skip
            self.listening[name] = bound
            port = bound.getHost().port
            host = f"[{self.host}]" if ":" in self.host else self.host
            self.context.addresses[name] = f"{host}:{port}"
            if processes > 1:
                self.workers.start(str(self.context.config.file), name, self.host, port,
                                   processes - 1, self.reactor)  # fmt: skip
            self._listen_tls(name, factory, host)
        for name, address in self.context.addresses.items():
            log.info("{name} listening on {address}", name=name, address=address)

    def _listen_tls(self, name: str, factory: Any, host: str) -> None:
        """Listen with native TLS too, on ``<endpoint>.tls_port`` when it is configured
        (SIP2 is clear text: PINs cross the network unless it is wrapped)."""
        section = self.context.config.values.get(name) or {}
        if not section.get("tls_port"):
            return
        from twisted.internet import ssl

        folder = self.context.config.directory
        pem = b"".join((folder / section[key]).read_bytes()
                       for key in ("tls_certificate", "tls_key"))  # fmt: skip
        options = ssl.PrivateCertificate.loadPEM(pem).options()
        bound = self.reactor.listenSSL(section["tls_port"], factory, options, interface=self.host)
        self.listening[f"{name}-tls"] = bound
        self.context.addresses[f"{name}-tls"] = f"{host}:{bound.getHost().port}"

    def stop(self) -> None:
        """Stop listening and drain the thread pool (idempotent)."""
        for port in self.listening.values():
            port.stopListening()  # type: ignore[misc]
        self.listening.clear()
        self.workers.stop()
        self.scheduler.stop()
        if self.pool.started:
            self.pool.stop()
            log.info("lienthong stopped")


def _pick(override: int | None, configured: int) -> int:
    return configured if override is None else override
