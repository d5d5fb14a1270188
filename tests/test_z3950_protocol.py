"""The Twisted layer of the Z39.50 target, in memory: framing, order, limits, timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet import defer, task
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from gateway.demo import DEMO_LIBRARIES, build_demo
from gateway.store import RecordStore, open_store
from protocols.z3950.ber import Framer
from protocols.z3950.codec import decode_apdu, encode_apdu, text_of
from protocols.z3950.protocol import Z3950Factory, Z3950Protocol
from protocols.z3950.service import TargetSettings
from tests.z3950_apdus import init, present, search, term


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordStore]:
    """The demo catalogue in a SQLite store."""
    with open_store(tmp_path_factory.mktemp("z3950p") / "store.db") as store:
        store.upsert(build_demo("demo.lienthong.vn").records)
        yield store


def now(function: Any, *args: Any, **kwargs: Any) -> defer.Deferred[Any]:
    """A "thread pool" that runs the call at once (the tests need no threads)."""
    return defer.maybeDeferred(function, *args, **kwargs)


class HeldPool:
    """A "thread pool" whose calls wait until the test runs them (to see what happens
    meanwhile)."""

    def __init__(self) -> None:
        self.pending: list[tuple[Any, tuple[Any, ...], defer.Deferred[Any]]] = []

    def __call__(self, function: Any, *args: Any) -> defer.Deferred[Any]:
        deferred: defer.Deferred[Any] = defer.Deferred()
        self.pending.append((function, args, deferred))
        return deferred

    def run_next(self) -> None:
        """Run the oldest waiting call and hand its result on."""
        function, args, deferred = self.pending.pop(0)
        deferred.callback(function(*args))


def factory_for(store: RecordStore, clock: task.Clock, **limits: Any) -> Z3950Factory:
    """A factory on ``clock`` with the demo databases and ``limits``."""
    settings = TargetSettings(
        databases={"default": None, **{lib.id: lib.id for lib in DEMO_LIBRARIES}}
    )
    return Z3950Factory(store, settings, reactor=clock, in_thread=now, **limits)


def connect(factory: Z3950Factory) -> tuple[Z3950Protocol, StringTransport]:
    """A protocol on a fresh in-memory transport, connected."""
    protocol = factory.buildProtocol(None)
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
    protocol.makeConnection(transport)
    return protocol, transport


def replies(transport: StringTransport) -> list[tuple[str, dict[str, Any]]]:
    """Every APDU written so far, decoded (and the transport's buffer emptied)."""
    data = transport.value()
    transport.clear()
    return [decode_apdu(pdu) for pdu in Framer(1 << 24).feed(data)]


INIT = encode_apdu(*init(charset="UTF-8"))
SEARCH = encode_apdu(*search(term(4, "truyện kiều")))
PRESENT = encode_apdu(*present(1, 2))


def test_a_session_fed_byte_by_byte_answers_in_order(demo_store: RecordStore) -> None:
    """Init, Search and Present sent one byte at a time get their replies, in order."""
    protocol, transport = connect(factory_for(demo_store, task.Clock()))
    for byte in INIT + SEARCH + PRESENT:
        protocol.dataReceived(bytes([byte]))
    names = [name for name, _ in replies(transport)]
    assert names == ["initResponse", "searchResponse", "presentResponse"]
    assert not transport.disconnecting


def test_pipelined_requests_wait_for_the_slow_one(demo_store: RecordStore) -> None:
    """Requests in one read are answered one after the other, never interleaved."""
    later = HeldPool()
    factory = factory_for(demo_store, task.Clock())
    factory.in_thread = later
    protocol, transport = connect(factory)
    protocol.dataReceived(INIT + SEARCH + PRESENT)
    assert len(later.pending) == 1  # only the first is being answered
    while later.pending:
        later.run_next()
    assert [name for name, _ in replies(transport)] == [
        "initResponse", "searchResponse", "presentResponse"]  # fmt: skip


@pytest.mark.parametrize(
    "data, reason, message",
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 6, "not a Z39.50 APDU"),  # TLS hello
        (b"\xb6\x84\x06\x00\x00\x00", 6, "exceeds the limit"),  # 100 MB declared
        (encode_apdu(*search(term(4, "x"))), 6, "searchRequest before initRequest"),
        (b"\xbf\x2e\x02\x80\x00", 6, "extendedServicesRequest is not supported"),
        (b"\xb4\x03\x02\x01\x00", 6, "malformed initRequest"),
    ],
)
def test_garbage_gets_a_close_with_the_reason(
    demo_store: RecordStore, data: bytes, reason: int, message: str
) -> None:
    """Garbage, oversized or out-of-order APDUs: a Close naming why, then the drop."""
    protocol, transport = connect(factory_for(demo_store, task.Clock()))
    protocol.dataReceived(data)
    [(name, value)] = replies(transport)
    assert name == "close" and value["closeReason"] == reason
    assert message in text_of(value["diagnosticInformation"])
    assert transport.disconnecting
    protocol.dataReceived(INIT)  # nothing more is read after the Close
    assert transport.value() == b""


def test_other_sessions_are_unaffected_by_a_bad_one(demo_store: RecordStore) -> None:
    """One connection's garbage closes it alone; the next one searches as usual."""
    factory = factory_for(demo_store, task.Clock())
    bad, bad_transport = connect(factory)
    good, good_transport = connect(factory)
    good.dataReceived(INIT)
    bad.dataReceived(b"\x00" * 64)
    good.dataReceived(SEARCH)
    assert bad_transport.disconnecting and not good_transport.disconnecting
    names = [name for name, _ in replies(good_transport)]
    assert names == ["initResponse", "searchResponse"]


def test_idle_sessions_are_closed_for_lack_of_activity(demo_store: RecordStore) -> None:
    """No request for idle_timeout seconds: Close (lackOfActivity); activity resets it."""
    clock = task.Clock()
    protocol, transport = connect(factory_for(demo_store, clock, idle_timeout=30))
    protocol.dataReceived(INIT)
    replies(transport)
    clock.advance(20)
    protocol.dataReceived(SEARCH)
    clock.advance(20)
    assert not transport.disconnecting
    clock.advance(11)
    name, value = replies(transport)[-1]
    assert (name, value["closeReason"]) == ("close", 7)
    assert transport.disconnecting


def test_sessions_beyond_the_maximum_are_closed_at_connect(demo_store: RecordStore) -> None:
    """Once max_sessions are open, a new connection gets Close (resources); a slot freed
    by a closed session is reused."""
    factory = factory_for(demo_store, task.Clock(), max_sessions=2)
    first, _ = connect(factory)
    connect(factory)
    _, refused = connect(factory)
    [(name, value)] = replies(refused)
    assert (name, value["closeReason"]) == ("close", 4) and refused.disconnecting
    first.connectionLost()
    _, admitted = connect(factory)
    assert admitted.value() == b"" and factory.sessions == 2


def test_a_flood_of_pipelined_requests_is_cut_off(demo_store: RecordStore) -> None:
    """More requests waiting than the queue allows: Close (resources), memory bounded."""
    factory = factory_for(demo_store, task.Clock())
    factory.in_thread = lambda function, *args: defer.Deferred()  # never answers
    protocol, transport = connect(factory)
    protocol.dataReceived(INIT * 100)
    [(name, value)] = replies(transport)
    assert (name, value["closeReason"]) == ("close", 4) and transport.disconnecting


def test_a_client_that_does_not_read_is_not_answered_further(demo_store: RecordStore) -> None:
    """While the transport's buffer is full (producer paused), queued requests wait; they
    are answered when it drains, so a non-reading client cannot grow the server's memory."""
    protocol, transport = connect(factory_for(demo_store, task.Clock()))
    protocol.dataReceived(INIT)
    replies(transport)
    protocol.pauseProducing()
    protocol.dataReceived(SEARCH + PRESENT)
    assert transport.value() == b"" and len(protocol.queue) == 2
    protocol.resumeProducing()
    assert [name for name, _ in replies(transport)] == ["searchResponse", "presentResponse"]


def test_silence_before_init_is_cut_short(demo_store: RecordStore) -> None:
    """A connection that never sends Init holds its slot for INIT_TIMEOUT, not the full
    idle timeout; once open, the idle timeout applies."""
    from protocols.z3950.protocol import INIT_TIMEOUT

    clock = task.Clock()
    factory = factory_for(demo_store, clock, idle_timeout=600)
    silent, silent_transport = connect(factory)
    talker, talker_transport = connect(factory)
    talker.dataReceived(INIT)
    clock.advance(INIT_TIMEOUT + 1)
    assert silent_transport.disconnecting and not talker_transport.disconnecting


def test_a_connection_lost_mid_request_is_quiet(
    demo_store: RecordStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The answer to a request whose client has gone is dropped without an error."""
    later = HeldPool()
    factory = factory_for(demo_store, task.Clock())
    factory.in_thread = later
    protocol, transport = connect(factory)
    protocol.dataReceived(INIT)
    protocol.connectionLost()
    later.run_next()
    assert transport.value() == b"" and "failed" not in caplog.text and factory.sessions == 0


def test_version_2_sessions_end_without_a_close(demo_store: RecordStore) -> None:
    """Version 2 has no Close APDU: a v2 session that breaks the protocol is just dropped."""
    protocol, transport = connect(factory_for(demo_store, task.Clock()))
    protocol.dataReceived(encode_apdu(*init(versions={0, 1})))
    assert [name for name, _ in replies(transport)] == ["initResponse"]
    protocol.dataReceived(encode_apdu("initRequest", decode_apdu(INIT)[1]))  # a second Init
    assert transport.value() == b"" and transport.disconnecting


def test_closing_while_paused_unregisters_the_producer(demo_store: RecordStore) -> None:
    """A session ended while the transport has paused it lets go of the transport, so the
    close happens once the buffer drains instead of resuming the session."""
    protocol, transport = connect(factory_for(demo_store, task.Clock()))
    protocol.dataReceived(INIT)
    protocol.pauseProducing()
    protocol.dataReceived(b"\x00garbage")
    assert transport.disconnecting and transport.producer is None
