"""The thin Twisted layer of the SIP2 ACS: framing, ordering, timeouts, thread pools.

Each kiosk holds one long-lived connection and sends one message at a time. Bytes go
through the :class:`~.codec.LineFramer`; each line is answered by the connection's
:class:`~.service.Session` in a thread pool, one line at a time, so replies keep the
order of requests. Every circulation back end has a pool of its own: a slow or hung ILS
holds its own kiosks' threads, never the other libraries' kiosks nor the store's pool
that SRU, OAI-PMH and Z39.50 use. Logins and anything before login use the gateway pool.

A connection ends when the kiosk is idle for ``sip2.idle_timeout`` (99 status messages
count as activity, as kiosks send them as keep-alives), when it sends more than the
framer's limit without a terminator, after too many failed logins or too much garbage
before login, or when the endpoint already has ``sip2.max_sessions`` connections.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from gateway.circulation import CirculationBackend

from .codec import Charset, LineFramer
from .errors import SIP2Error
from .service import Account, PinGuard, Reply, Session, SIP2Settings

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.endpoints import GatewayContext

__all__ = ["SIP2Factory", "SIP2Protocol", "build", "settings_from", "TERMINATORS"]

_LOG = logging.getLogger("protocols.sip2")
#: Lines one connection may have waiting behind the one being answered (kiosks send one).
MAX_QUEUED = 32
#: Seconds a closed connection may take to read its last reply before it is cut.
ABORT_AFTER = 10
#: Threads per circulation back end.
BACKEND_THREADS = 4
TERMINATORS = {"cr": b"\r", "crlf": b"\r\n", "lf": b"\n"}


class SIP2Protocol(Protocol):
    """One kiosk connection."""

    def __init__(self, factory: SIP2Factory) -> None:
        self.factory = factory
        self.session: Session | None = None
        self.framer = LineFramer()
        self.queue: deque[tuple[bytes, bytes]] = deque()
        self.busy = False
        self.closing = False
        self.idle: Any = None
        self.abort: Any = None
        self.peer = ""

    @property
    def _wire(self) -> Any:
        """The transport (typed loosely: zope interfaces confuse mypy)."""
        return self.transport

    def connectionMade(self) -> None:
        peer = self._wire.getPeer()
        self.peer = str(getattr(peer, "host", ""))
        if self.factory.sessions >= self.factory.max_sessions:
            _LOG.warning("sip2 connection from %s refused: %d sessions open", self.peer,
                         self.factory.sessions)  # fmt: skip
            self._drop()
            return
        self.factory.sessions += 1
        self.session = self.factory.new_session(self.peer)
        set_keepalive = getattr(self.transport, "setTcpKeepAlive", None)
        if set_keepalive is not None:
            set_keepalive(1)
        self._arm()

    def _arm(self) -> None:
        """(Re)start the idle timer."""
        if self.idle is not None and self.idle.active():
            self.idle.reset(self.factory.idle_timeout)
        else:
            self.idle = self.factory.reactor.callLater(self.factory.idle_timeout, self._timeout)

    def _timeout(self) -> None:
        if self.busy:  # a back end is still answering: wait for it
            self._arm()
            return
        _LOG.info("sip2 connection from %s idle for %ss: closed", self.peer,
                  self.factory.idle_timeout)  # fmt: skip
        self._drop()

    def dataReceived(self, data: bytes) -> None:
        if self.closing or self.session is None:
            return
        self._arm()
        try:
            lines = self.framer.feed(data)
        except SIP2Error as error:
            _LOG.warning("sip2 connection from %s: %s; closed", self.peer, error)
            self._drop()
            return
        self.queue.extend((line, self.framer.terminator) for line in lines)
        if len(self.queue) > MAX_QUEUED:
            _LOG.warning("sip2 connection from %s: %d messages waiting; closed", self.peer,
                         len(self.queue))  # fmt: skip
            self._drop()
            return
        self._next()

    def _next(self) -> None:
        if self.busy or self.closing or not self.queue or self.session is None:
            return
        self.busy = True
        line, terminator = self.queue.popleft()
        session = self.session
        started = time.perf_counter()
        deferred = self.factory.in_pool(session, session.receive, line, terminator)
        deferred.addCallback(self._send, session, started)
        deferred.addErrback(self._failed)

    def _send(self, reply: Reply, session: Session, started: float) -> None:
        self.busy = False
        user = session.account.user if session.account else "-"
        if reply.command:
            _LOG.info("sip2 %s %s %s %.1f ms", user or "-", reply.command, reply.result or "ok",
                      (time.perf_counter() - started) * 1000)  # fmt: skip
        if self.closing:
            return
        if reply.data:
            self._wire.write(reply.data)
        if reply.close:
            self._drop()
            return
        self._next()

    def _failed(self, failure: Failure) -> None:
        self.busy = False
        # The type only: an exception's words may hold a card number or a PIN.
        _LOG.error("sip2 connection from %s failed: %s", self.peer, failure.type.__name__)
        self._drop()

    def _drop(self) -> None:
        """Close once what was written is sent; abort if the peer does not read it soon."""
        if self.closing:
            return
        self.closing = True
        self._wire.loseConnection()
        self.abort = self.factory.reactor.callLater(ABORT_AFTER, self._abort)

    def _abort(self) -> None:
        if self.transport is not None and self.transport.connected:  # type: ignore[attr-defined]
            self._wire.abortConnection()

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        self.closing = True
        for timer in (self.idle, self.abort):
            if timer is not None and timer.active():
                timer.cancel()
        self.queue.clear()
        if self.session is not None:
            self.factory.sessions -= 1
            self.session = None


class SIP2Factory(Factory):
    """Shared state of every kiosk connection: settings, back ends, pools, PIN limits."""

    def __init__(
        self,
        settings: SIP2Settings,
        backends: Callable[[str], CirculationBackend],
        *,
        reactor: Any,
        in_thread: Callable[..., Deferred[Any]],
        guard: PinGuard,
        max_sessions: int = 2000,
        idle_timeout: float = 600,
        pools: bool = True,
    ) -> None:
        self.settings = settings
        self.backends = backends
        self.reactor = reactor
        self.in_thread = in_thread
        self.guard = guard
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.sessions = 0
        self.use_pools = pools
        self.pools: dict[str, ThreadPool] = {}
        #: Set by the server host when it listens for TLS (a CertificateOptions).
        self.tls_options: Any = None

    def new_session(self, peer: str) -> Session:
        """A session for a kiosk connecting from ``peer``."""
        return Session(self.settings, self.backends, self.guard, peer=peer)

    def in_pool(self, session: Session, function: Any, *args: Any) -> Deferred[Any]:
        """Run ``function`` in the pool of the session's back end (the gateway pool when
        the session has no account yet, or when pools are off, as in memory tests)."""
        if not self.use_pools or session.account is None:
            return self.in_thread(function, *args)
        name = session.account.backend
        pool = self.pools.get(name)
        if pool is None:
            pool = self.pools[name] = ThreadPool(1, BACKEND_THREADS, name=f"sip2-{name}")
            pool.start()
            self.reactor.addSystemEventTrigger("during", "shutdown", pool.stop)
        return deferToThreadPool(self.reactor, pool, function, *args)

    def buildProtocol(self, addr: Any) -> SIP2Protocol:
        return SIP2Protocol(self)


def accounts_from(config: Config) -> dict[str, Account]:
    """SIP2 accounts by login user, from ``sip2.accounts``."""
    accounts = {}
    for entry in config.values["sip2"]["accounts"]:
        allowed = tuple(ipaddress.ip_network(text.strip(), strict=False)
                        for text in entry.get("allowed_addresses") or ())  # fmt: skip
        accounts[entry["user"]] = Account(
            user=entry["user"],
            password_hash=entry["password_hash"],
            library=entry["library"],
            location=entry.get("location") or "",
            allowed=allowed,
            charset=Charset(entry.get("charset") or "utf-8"),
            terminator=TERMINATORS[entry.get("terminator") or "cr"],
            error_detection=bool(entry.get("error_detection", True)),
            backend=entry.get("backend") or "embedded",
        )
    return accounts


def settings_from(config: Config) -> SIP2Settings:
    """Endpoint settings from the gateway's configuration."""
    section = config.values["sip2"]
    return SIP2Settings(
        accounts=accounts_from(config),
        libraries={library.id: library.name for library in config.libraries},
        require_login=section["require_login"],
        default_charset=Charset(section["default_charset"]),
        failed_login_limit=section["failed_login_limit"],
        timeout=section["timeout"],
        retries=section["retries"],
    )


class BackendRegistry:
    """The circulation back ends accounts name, opened on first use and kept open."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._open: dict[str, CirculationBackend] = {}
        self._lock = threading.Lock()

    def __call__(self, name: str) -> CirculationBackend:
        backend = self._open.get(name)
        if backend is not None:
            return backend
        # Sessions call this from several pool threads; only one may open a back end
        # (two would mean two connection pools, or two writers on an embedded file).
        with self._lock:
            backend = self._open.get(name)
            if backend is None:
                from gateway.circulation.backends import open_backend

                backend = self._open[name] = open_backend(self.config, name)
            return backend


def build(context: GatewayContext) -> SIP2Factory:
    """The SIP2 endpoint's factory (the host binds it to ``server.sip2_port``, and to
    ``sip2.tls_port`` with TLS when a certificate is configured)."""
    section = context.config.values["sip2"]
    return SIP2Factory(
        settings_from(context.config),
        BackendRegistry(context.config),
        reactor=context.reactor,
        in_thread=context.in_thread,
        guard=PinGuard(section["failed_pin_limit"], section["failed_pin_lockout"]),
        max_sessions=section["max_sessions"],
        idle_timeout=section["idle_timeout"],
    )
