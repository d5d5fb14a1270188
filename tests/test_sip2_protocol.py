"""The SIP2 Twisted layer in memory: framing across reads, replies in request order, the
idle timeout and 99 keep-alives on a fake clock, the session cap, oversized input, the
transaction log line, and one back end's pool stalling without stalling another's."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import task
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.testing import StringTransport

from gateway.circulation import PatronView
from gateway.circulation.embedded import EmbeddedCirculation, ItemRecord, PatronRecord
from gateway.passwords import hash_password
from protocols.sip2.codec import Message, encode_message, sip_date
from protocols.sip2.protocol import SIP2Factory, SIP2Protocol
from protocols.sip2.service import Account, PinGuard, SIP2Settings

LIB = "thpt-ntmk"
PASSWORD = "quay-1"
HASH = hash_password(PASSWORD)
NOW = sip_date(datetime.now())


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[EmbeddedCirculation]:
    """A small embedded back end on a real file."""
    with EmbeddedCirculation(tmp_path / "circulation.db") as opened:
        opened.load([PatronRecord(LIB, "HS001", "Nguyễn Văn Đức", pin="1234")],
                    [ItemRecord(LIB, "NTMK0001", "Sách 1")])  # fmt: skip
        yield opened


def _settings(*backends: str) -> SIP2Settings:
    accounts = {f"kiosk-{name}": Account(f"kiosk-{name}", HASH, LIB, backend=name)
                for name in backends}  # fmt: skip
    return SIP2Settings(accounts=accounts, libraries={LIB: "Trường"})


def _synchronous(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
    """Run in place, as the thread pool would: an exception becomes the errback."""
    return maybeDeferred(function, *args)


def _factory(backend: EmbeddedCirculation, clock: task.Clock, **kwargs: Any) -> SIP2Factory:
    return SIP2Factory(_settings("embedded"), lambda name: backend, reactor=clock,
                       in_thread=_synchronous, guard=PinGuard(5, 300), pools=False,
                       **kwargs)  # fmt: skip


def _connect(factory: SIP2Factory) -> tuple[SIP2Protocol, StringTransport]:
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def _login(user: str = "kiosk-embedded", sequence: str = "0") -> bytes:
    return encode_message(
        Message(
            "93",
            {"uid_algorithm": "0", "pwd_algorithm": "0"},
            [("CN", user), ("CO", PASSWORD)],
            sequence=sequence,
        )
    )


def _status(sequence: str = "1") -> bytes:
    return encode_message(
        Message(
            "99",
            {"status_code": "0", "max_print_width": "080", "protocol_version": "2.00"},
            sequence=sequence,
        )
    )


def _patron_status(sequence: str = "2") -> bytes:
    return encode_message(Message("23", {"language": "000", "transaction_date": NOW},
                                  [("AO", LIB), ("AA", "HS001"), ("AC", ""), ("AD", "1234")],
                                  sequence=sequence))  # fmt: skip


def test_messages_split_and_joined_are_answered_in_order(backend: EmbeddedCirculation) -> None:
    """A login split over three reads, then a status and a patron status in one read:
    three replies, in order."""
    clock = task.Clock()
    protocol, transport = _connect(_factory(backend, clock))
    login = _login()
    for part in (login[:5], login[5:17], login[17:]):
        protocol.dataReceived(part)
    protocol.dataReceived(_status() + _patron_status())
    replies = transport.value().split(b"\r")
    assert [r[:2] for r in replies if r] == [b"94", b"98", b"24"]
    assert replies[0].startswith(b"941")


def test_idle_timeout_and_keepalive(backend: EmbeddedCirculation) -> None:
    """A connection idle for the timeout is closed; a 99 before it keeps it open."""
    clock = task.Clock()
    protocol, transport = _connect(_factory(backend, clock, idle_timeout=600))
    protocol.dataReceived(_login())
    clock.advance(590)
    protocol.dataReceived(_status())
    clock.advance(590)
    assert not transport.disconnecting
    clock.advance(11)
    assert transport.disconnecting


def test_session_cap(backend: EmbeddedCirculation) -> None:
    """Beyond max_sessions a new connection is closed at once; a freed slot is reused."""
    clock = task.Clock()
    factory = _factory(backend, clock, max_sessions=1)
    first, _ = _connect(factory)
    _, refused = _connect(factory)
    assert refused.disconnecting
    first.connectionLost()
    _, third = _connect(factory)
    assert not third.disconnecting


def test_oversized_input_closes(backend: EmbeddedCirculation) -> None:
    """More than the framer's limit without a terminator closes the connection."""
    clock = task.Clock()
    protocol, transport = _connect(_factory(backend, clock))
    protocol.dataReceived(b"11" + b"x" * 20_000)
    assert transport.disconnecting and transport.value() == b""


def test_transaction_log_line_has_no_personal_data(
    backend: EmbeddedCirculation, caplog: pytest.LogCaptureFixture
) -> None:
    """Each transaction logs account, command, result and time; never the PIN, the
    password or the patron's barcode or name."""
    clock = task.Clock()
    protocol, _ = _connect(_factory(backend, clock))
    with caplog.at_level(logging.INFO, logger="protocols.sip2"):
        protocol.dataReceived(_login() + _patron_status())
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("sip2 kiosk-embedded 23 ok ") for line in lines), lines
    text = "\n".join(lines)
    for secret in ("1234", PASSWORD, "HS001", "Nguyễn"):
        assert secret not in text


class _ThreadedReactor:
    """Just enough reactor for deferToThreadPool: results come back through a queue that
    the test pumps, as the reactor thread would."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[Any, tuple[Any, ...], dict[str, Any]]] = queue.Queue()
        self.triggers: list[Any] = []

    def callFromThread(self, function: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N802
        self.calls.put((function, args, kwargs))

    def addSystemEventTrigger(self, *args: Any) -> None:  # noqa: N802
        self.triggers.append(args)

    def callLater(self, delay: float, function: Any, *args: Any) -> Any:  # noqa: N802
        return task.Clock().callLater(delay, function, *args)

    def pump(self, until: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            try:
                function, args, kwargs = self.calls.get(
                    timeout=max(0.01, deadline - time.monotonic())
                )
            except queue.Empty:
                raise AssertionError("nothing came back in time") from None
            function(*args, **kwargs)


class _SlowBackend(EmbeddedCirculation):
    """The embedded back end, except that patron lookups wait for a gate (a hung ILS)."""

    gate = threading.Event()

    def patron(self, library: str, barcode: str) -> PatronView | None:
        self.gate.wait(10)
        return super().patron(library, barcode)


def test_slow_back_end_does_not_stall_another(tmp_path: Path, backend: EmbeddedCirculation) -> None:
    """A kiosk whose back end hangs holds only that back end's pool: a kiosk served by
    another back end is answered meanwhile, and the first is answered once it recovers."""
    slow = _SlowBackend(tmp_path / "slow.db")
    slow.load([PatronRecord(LIB, "HS001", "Nguyễn Văn Đức", pin="1234")], [])
    reactor = _ThreadedReactor()
    backends = {"slow": slow, "embedded": backend}
    factory = SIP2Factory(_settings("slow", "embedded"), backends.__getitem__, reactor=reactor,
                          in_thread=_synchronous, guard=PinGuard(5, 300))  # fmt: skip
    stuck, stuck_wire = _connect(factory)
    quick, quick_wire = _connect(factory)
    try:
        stuck.dataReceived(_login("kiosk-slow") + _patron_status())
        quick.dataReceived(_login("kiosk-embedded") + _patron_status())
        reactor.pump(lambda: quick_wire.value().count(b"\r") == 2)
        assert b"\r24" in quick_wire.value()
        assert stuck_wire.value().count(b"\r") == 1  # only its login reply so far
        _SlowBackend.gate.set()
        reactor.pump(lambda: stuck_wire.value().count(b"\r") == 2)
        assert b"\r24" in stuck_wire.value()
    finally:
        _SlowBackend.gate.set()
        for pool in factory.pools.values():
            pool.stop()
        slow.close()
    assert set(factory.pools) == {"slow", "embedded"}


class _BrokenBackend(EmbeddedCirculation):
    """The embedded back end with a programming error in patron lookups whose message
    names the card, as a database driver's error might."""

    def patron(self, library: str, barcode: str) -> PatronView | None:
        raise KeyError(f"no row for {barcode} (PIN 1234)")


def test_unexpected_error_is_answered_try_again_and_logged_by_type(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A back end failing in an unexpected way gets the kiosk its command's refusal with
    "try again", the connection stays open for the next message, and the log names the
    exception's type but not its words (which hold the card number and the PIN)."""
    broken = _BrokenBackend(tmp_path / "broken.db")
    try:
        broken.load([PatronRecord(LIB, "HS001", "Nguyễn Văn Đức", pin="1234")], [])
        clock = task.Clock()
        protocol, transport = _connect(_factory(broken, clock))
        with caplog.at_level(logging.INFO, logger="protocols.sip2"):
            protocol.dataReceived(_login() + _patron_status() + _status("3"))
        replies = [r for r in transport.value().split(b"\r") if r]
        assert [r[:2] for r in replies] == [b"94", b"24", b"98"]
        assert "Hệ thống tạm thời không phản hồi".encode() in replies[1]
        assert not transport.disconnecting
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert "KeyError" in text and "internal error" in text
        for secret in ("HS001", "1234", "no row"):
            assert secret not in text, secret
    finally:
        broken.close()


def test_failing_session_is_logged_by_type_only(
    backend: EmbeddedCirculation, caplog: pytest.LogCaptureFixture
) -> None:
    """Should answering a line fail outright, the connection is closed and the log line
    names the exception's type, never its message."""
    clock = task.Clock()
    factory = _factory(backend, clock)

    def explode(line: bytes, terminator: bytes = b"\r") -> Any:
        raise ValueError(f"line was {line!r}")

    protocol, transport = _connect(factory)
    assert protocol.session is not None
    protocol.session.receive = explode  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="protocols.sip2"):
        protocol.dataReceived(_patron_status())
    assert transport.disconnecting
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "ValueError" in text
    assert "HS001" not in text and "line was" not in text


def test_kiosk_sending_responses_gets_no_error(backend: EmbeddedCirculation) -> None:
    """Response codes from a kiosk (94, 96, 98, 24) are unknown requests: ignored, the
    connection stays up and the next request is answered."""
    clock = task.Clock()
    protocol, transport = _connect(_factory(backend, clock))
    protocol.dataReceived(_login())
    before = transport.value()
    for code in (b"94", b"96", b"98", b"24"):
        protocol.dataReceived(code + b"1AY1AZ0000\r")
    assert transport.value() == before and not transport.disconnecting
    protocol.dataReceived(_status())
    assert transport.value()[len(before) :].startswith(b"98")


def test_long_line_in_one_read_closes(backend: EmbeddedCirculation) -> None:
    """A line over the framer's limit that arrives whole, terminator included, in one read
    closes the connection like one arriving without a terminator."""
    clock = task.Clock()
    protocol, transport = _connect(_factory(backend, clock))
    protocol.dataReceived(b"99" + b"x" * 20_000 + b"\r")
    assert transport.disconnecting and transport.value() == b""


def test_back_end_registry_opens_each_back_end_once(tmp_path: Path) -> None:
    """Sessions in several pool threads asking for the same back end at once all get the
    one instance: two would mean two writers on the embedded file."""
    from protocols.sip2.protocol import BackendRegistry
    from tests.sync_helpers import write_config

    registry = BackendRegistry(write_config(tmp_path, []))
    start = threading.Barrier(8)
    opened: list[Any] = []

    def ask() -> None:
        start.wait()
        opened.append(registry("embedded"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    try:
        assert len(opened) == 8
        assert len({id(backend) for backend in opened}) == 1
    finally:
        for backend in {id(b): b for b in opened}.values():
            backend.close()
