"""The thin Twisted layer of the Z39.50 target: framing, ordering, timeouts, session caps.

Bytes go through the :class:`~.ber.Framer`; each whole APDU is decoded, answered by the
connection's :class:`~.service.Session` and encoded in the gateway's thread pool (the
store is blocking), one APDU at a time per connection so that replies keep the order of
requests. The reactor thread only frames and writes, so one slow search never stalls
other sessions. A connection ends with a Close that says why: garbage or an oversized
APDU (protocol error), too many sessions (resources), idleness (lack of activity).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from .ber import Framer
from .codec import decode_apdu, encode_apdu
from .errors import CloseReason, ProtocolViolation, close_apdu
from .records import RenderCache
from .service import Session, SessionState, TargetSettings, database_key

if TYPE_CHECKING:
    from gateway.endpoints import GatewayContext

__all__ = ["Z3950Factory", "Z3950Protocol", "build", "settings_from"]

_LOG = logging.getLogger(__name__)
#: APDUs one connection may have waiting behind the one being answered.
MAX_QUEUED = 64
MAX_QUEUED_BYTES = 4 * 1024 * 1024
#: Seconds a connection may stay silent before its Init (then idle_timeout applies).
INIT_TIMEOUT = 60
#: Seconds a closed connection may take to read its last bytes before it is cut.
ABORT_AFTER = 10


@implementer(IPushProducer)
class Z3950Protocol(Protocol):
    """One client connection.

    It is the transport's producer: while the client does not read what it was sent, the
    transport pauses it and no further request is answered, so a client that pipelines
    Presents and never reads costs a bounded buffer, not the server's memory.
    """

    def __init__(self, factory: Z3950Factory) -> None:
        self.factory = factory
        self.session: Session | None = None
        self.framer = Framer(factory.max_request_size)
        self.queue: deque[bytes] = deque()
        self.busy = False
        self.paused = False
        self.registered = False
        self.closing = False
        self.queued_bytes = 0
        self.abort: Any = None  #: the IDelayedCall that cuts a closed peer that does not read
        self.idle: Any = None  #: the IDelayedCall of the idle timeout
        self.peer = ""

    @property
    def _wire(self) -> Any:
        """The transport (typed loosely: zope interfaces confuse mypy)."""
        return self.transport

    def connectionMade(self) -> None:
        peer = self._wire.getPeer()
        self.peer = f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}"
        if self.factory.sessions >= self.factory.max_sessions:
            _LOG.warning("Z39.50 connection from %s refused: %d sessions open", self.peer,
                         self.factory.sessions)  # fmt: skip
            self._end(CloseReason.RESOURCES, "too many sessions; try again later")
            return
        self.factory.sessions += 1
        self.session = Session(self.factory.store, self.factory.settings, peer=self.peer,
                               renderings=self.factory.renderings)  # fmt: skip
        set_keepalive = getattr(self.transport, "setTcpKeepAlive", None)
        if set_keepalive is not None:
            set_keepalive(1)
        self._wire.registerProducer(self, True)
        self.registered = True
        self._arm()

    # -- IPushProducer: the transport's buffer is full / has drained ----------------------
    def pauseProducing(self) -> None:
        self.paused = True
        self._wire.pauseProducing()  # and read no more requests meanwhile

    def resumeProducing(self) -> None:
        self.paused = False
        if not self.closing:
            self._wire.resumeProducing()
        self._next()

    def stopProducing(self) -> None:
        self.closing = True

    # -- timers -----------------------------------------------------------------------
    def _arm(self) -> None:
        """(Re)start the idle timer: short until Init, idle_timeout once the session is
        open, so that connections that never say anything do not hold session slots."""
        opened = self.session is not None and self.session.state is SessionState.OPEN
        timeout = self.factory.idle_timeout if opened else min(self.factory.idle_timeout,
                                                               INIT_TIMEOUT)  # fmt: skip
        if self.idle is not None and self.idle.active():
            self.idle.reset(timeout)
        else:
            self.idle = self.factory.reactor.callLater(timeout, self._timeout)

    def _timeout(self) -> None:
        if self.busy:  # a request is still being answered: wait for it
            self._arm()
            return
        self._end(CloseReason.LACK_OF_ACTIVITY, "session idle for too long")

    # -- requests ---------------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        if self.closing or self.session is None:
            return
        self._arm()
        try:
            pdus = self.framer.feed(data)
        except ProtocolViolation as violation:
            _LOG.warning("Z39.50 session from %s: %s", self.peer, violation.message)
            self._end(violation.reason, violation.message)
            return
        self.queue.extend(pdus)
        self.queued_bytes += sum(len(pdu) for pdu in pdus)
        if len(self.queue) > MAX_QUEUED or self.queued_bytes > MAX_QUEUED_BYTES:
            self._end(CloseReason.RESOURCES, "too many requests waiting")
            return
        self._next()

    def _next(self) -> None:
        if self.busy or self.paused or self.closing or not self.queue or self.session is None:
            return
        self.busy = True
        pdu = self.queue.popleft()
        self.queued_bytes -= len(pdu)
        deferred = self.factory.in_thread(_answer, self.session, pdu)
        deferred.addCallbacks(self._send, self._failed)

    def _send(self, answer: tuple[bytes, bool]) -> None:
        self.busy = False
        data, close = answer
        if self.closing:
            return
        self._arm()
        self._wire.write(data)
        if close:
            self._drop()
            return
        self._next()

    def _failed(self, failure: Failure) -> None:
        self.busy = False
        _LOG.error("Z39.50 session from %s failed: %s", self.peer, failure.getErrorMessage())
        self._end(CloseReason.SYSTEM_PROBLEM, "internal error")

    # -- the end ----------------------------------------------------------------------
    def _end(self, reason: CloseReason, message: str) -> None:
        """Send a Close (version 3; a version-2 session just ends) and drop the line."""
        if self.closing:
            return
        if self.session is None or self.session.version >= 3:
            self._wire.write(encode_apdu(*close_apdu(reason, message)))
        self._drop()

    def _drop(self) -> None:
        """Close once what was written is sent; abort if the peer does not read it soon."""
        self.closing = True
        if self.registered:  # else a paused producer is resumed instead of closing
            self.registered = False
            self._wire.unregisterProducer()
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
        self.framer = Framer(0)
        if self.session is not None:
            self.factory.sessions -= 1
            self.session = None


def _answer(session: Session, pdu: bytes) -> tuple[bytes, bool]:
    """Decode, answer and encode one APDU (in the thread pool; the session is passed in,
    so a connection lost meanwhile changes nothing here)."""
    try:
        apdu = decode_apdu(pdu)
    except ProtocolViolation as violation:
        reply = session.close_reply(violation.reason, violation.message)
    else:
        reply = session.handle(apdu)
    return b"".join(encode_apdu(name, value) for name, value in reply.apdus), reply.close


class Z3950Factory(Factory):
    """Shared state of all connections: settings, store, session count, thread pool."""

    def __init__(
        self,
        store: Any,
        settings: TargetSettings,
        *,
        reactor: Any,
        in_thread: Any,
        max_sessions: int = 200,
        idle_timeout: float = 600,
        max_request_size: int = 1024 * 1024,
        renderings: RenderCache | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.reactor = reactor
        self.in_thread = in_thread
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.max_request_size = max_request_size
        self.renderings = renderings if renderings is not None else RenderCache()
        self.sessions = 0

    def buildProtocol(self, addr: Any) -> Z3950Protocol:
        return Z3950Protocol(self)


def settings_from(context: GatewayContext) -> TargetSettings:
    """Target settings from the gateway's configuration (databases from its libraries)."""
    section = context.config.values["z3950"]
    libraries = context.config.libraries
    databases: dict[str, str | None] = {"default": None}
    for library in libraries:  # by id, and by name with or without its marks
        databases[database_key(library.name)] = library.id
        databases[database_key(library.id)] = library.id
    return TargetSettings(
        max_result_sets=section["max_result_sets"],
        max_present=section["max_present"],
        max_message_size=section["max_message_size"],
        accounts={entry["user"]: entry["password_hash"] for entry in section["accounts"]},
        databases=databases,
        library_names={library.id: library.name for library in libraries},
    )


def build(context: GatewayContext) -> Z3950Factory:
    """The Z39.50 endpoint's factory (the host binds it to ``server.z3950_port``)."""
    section = context.config.values["z3950"]
    return Z3950Factory(
        context.store,
        settings_from(context),
        reactor=context.reactor,
        in_thread=context.in_thread,
        max_sessions=section["max_sessions"],
        idle_timeout=section["idle_timeout"],
        max_request_size=section["max_request_size"],
        renderings=RenderCache(section["render_cache_mb"] * 1024 * 1024),
    )
