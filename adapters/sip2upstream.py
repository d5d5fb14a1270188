"""Circulation through a member library's own SIP2 server (Koha's, another lienthong's).

Kiosks talk SIP2 to the gateway; the gateway's SIP2 service calls this back end through
:class:`~gateway.circulation.CirculationBackend`; this back end talks SIP2 again, as a
client, to the library system. It keeps a small pool of logged-in connections (a login
and a status check each time one opens), since an ILS login costs far more than a
message, and gives each call a connection of its own.

A dead connection (reset, closed, timed out) is dropped. Reads are asked again on a fresh
connection. Writes (checkout, checkin, renew, renew all, hold, fee) are never sent twice:
once any byte of one has been taken by the socket, its fate is the server's, and SIP2
servers (Koha's, lienthong's own) remember the last exchange of a *connection* only, so
the same bytes on a new connection would be a second checkout, a second payment. With
error detection on, a write whose reply does not come is asked for with one 97 on the
*same* connection (the server resends its stored reply); if that fails too, or the
connection dies, the call is :class:`BackendUnavailable` saying the operation may or may
not have been done and what to check at the library system. Only a connection found dead
*before* anything was sent (the ILS's idle timeout) is replaced quietly.

A connection goes back to the pool only when nothing more can arrive on it: a reply
waiting unread, half a line, or a late answer still on its way (01 Block Patron without
sequence numbers) would otherwise be read by the next call as its own reply.

The password comes from the environment variable the configuration names and goes only
into the 93 login; no message, log line or exception carries it.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gateway.circulation import (
    BackendUnavailable,
    Capability,
    HoldOutcome,
    ItemState,
    ItemView,
    LoanOutcome,
    LoanView,
    PatronView,
    PaymentOutcome,
    Refusal,
    RenewAllOutcome,
    ReturnOutcome,
)
from protocols.sip2.codec import Charset, Message

from .sip2client import (
    BLANK_DATE,
    ClientChannel,
    Garbled,
    Reply,
    ResendAsked,
    capabilities_of,
    item_of,
    money,
    patron_of,
    refusal_of,
    request,
    when_of,
)

if TYPE_CHECKING:
    from gateway.config import Config

__all__ = ["UpstreamSettings", "UpstreamConnection", "ConnectionPool", "UpstreamSip2",
           "open_upstream"]  # fmt: skip

_LOG = logging.getLogger("adapters.sip2upstream")
_TERMINATORS = {"cr": b"\r", "crlf": b"\r\n", "lf": b"\n"}
#: Every operation this back end can pass upstream (the 98's BX narrows it).
IMPLEMENTED = frozenset(Capability)
#: Most items one 63 list request asks for (lienthong and Koha cap lists near this).
_MAX_LISTED = 100
#: 63 summary positions and the field each list comes back in.
_SUMMARY = (("AS", 0), ("AT", 1), ("AU", 2), ("AV", 3), ("CD", 5))
_COUNT_OF = {"AS": "hold_items_count", "AT": "overdue_items_count",
             "AU": "charged_items_count", "AV": "fine_items_count",
             "CD": "unavailable_holds_count"}  # fmt: skip
#: How long to wait for a reply to 01 Block Patron (the standard says there is none, but
#: Koha and lienthong send a 24) before asking with a 23, when sequence numbers are off.
_BLOCK_REPLY_WAIT = 1.0


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    """One ``circulation.backends`` entry of kind sip2, read once."""

    name: str
    host: str
    port: int
    user: str = ""
    password_env: str | None = None
    charset: Charset = Charset.UTF8
    terminator: bytes = b"\r"
    error_detection: bool = True
    institution: str = ""
    location: str = ""
    pool_size: int = 4
    timeout: float = 10
    tls: bool = False

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> UpstreamSettings:
        """Settings from a configuration entry (defaults as in the configuration schema)."""
        return cls(
            name=str(entry.get("name") or "sip2"),
            host=str(entry["host"]),
            port=int(entry["port"]),
            user=str(entry.get("user") or ""),
            password_env=entry.get("password_env") or None,
            charset=Charset(entry.get("charset") or "utf-8"),
            terminator=_TERMINATORS[entry.get("terminator") or "cr"],
            error_detection=bool(entry.get("error_detection", True)),
            institution=str(entry.get("institution") or ""),
            location=str(entry.get("location") or ""),
            pool_size=int(entry.get("pool_size") or 4),
            timeout=float(entry.get("timeout_seconds") or 10),
            tls=bool(entry.get("tls", False)),
        )

    @property
    def where(self) -> str:
        """The server as messages name it: back end name, host and port."""
        return f"upstream SIP2 server {self.name!r} ({self.host}:{self.port})"

    def password(self) -> str | None:
        """The login password from the environment, None when no login is configured."""
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise BackendUnavailable(f"{self.where}: environment variable "
                                     f"{self.password_env} (its password) is not set")  # fmt: skip
        return value


class _Dead(Exception):
    """The connection can no longer be used (the reason is plain words, no secrets).

    ``sent`` is False only when not one byte of the request reached the socket, so the
    server cannot have seen it and it may go out again on another connection.
    """

    def __init__(self, reason: str, *, sent: bool = True) -> None:
        super().__init__(reason)
        self.sent = sent


class UpstreamConnection:
    """One logged-in connection to the upstream server, used by one call at a time."""

    def __init__(self, settings: UpstreamSettings, sock: socket.socket) -> None:
        self.settings = settings
        self.sock = sock
        self.channel = ClientChannel(settings.charset, settings.terminator,
                                     error_detection=settings.error_detection)  # fmt: skip
        self.pending: deque[Reply | Garbled | ResendAsked] = deque()
        self.capabilities: frozenset[Capability] = frozenset()
        self.library_name = ""
        #: A reply may still arrive for a request nobody waits for any more.
        self.unsure = False

    @classmethod
    def open(cls, settings: UpstreamSettings) -> UpstreamConnection:
        """Connect, log in with 93 when a password is configured, and check with 99.

        Raises BackendUnavailable when the server cannot be reached, refuses the login
        or says it is offline.
        """
        password = settings.password()
        try:
            sock = socket.create_connection((settings.host, settings.port), settings.timeout)
        except OSError as error:
            raise BackendUnavailable(f"{settings.where} is not answering: "
                                     f"{error.strerror or error}") from None  # fmt: skip
        try:
            if settings.tls:
                context = ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=settings.host)
            sock.settimeout(settings.timeout)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            connection = cls(settings, sock)
            connection._start(password)
        except BackendUnavailable:
            sock.close()
            raise
        except (_Dead, OSError) as error:
            sock.close()
            raise BackendUnavailable(f"{settings.where} failed while logging in: "
                                     f"{error}") from None  # fmt: skip
        return connection

    def _start(self, password: str | None) -> None:
        if password is not None:
            login = request("93", uid_algorithm="0", pwd_algorithm="0")
            login.fields += [("CN", self.settings.user), ("CO", password)]
            if self.settings.location:
                login.fields.append(("CP", self.settings.location))
            reply = self.exchange(login, "94")
            if reply.fixed.get("ok") != "1":
                raise BackendUnavailable(f"{self.settings.where} refused the login of user "
                                         f"{self.settings.user!r} (check the user and the "
                                         f"password in {self.settings.password_env})")  # fmt: skip
        status = self.exchange(request("99", status_code="0", max_print_width="080",
                                       protocol_version="2.00"), "98")  # fmt: skip
        if status.fixed.get("online_status") == "N":
            raise BackendUnavailable(f"{self.settings.where} says it is offline")
        self.capabilities = capabilities_of(status.get("BX"))
        self.library_name = status.get("AM", "") or ""

    # -- the wire ----------------------------------------------------------------------

    @property
    def clean(self) -> bool:
        """True when nothing more belongs to an earlier exchange: no reply read but not
        taken, no half line, no late reply expected."""
        return not self.pending and not self.channel.partial and not self.unsure

    def alive(self) -> bool:
        """False when the server has closed the connection while it sat in the pool (or
        sent bytes nobody asked for), or when it is not :attr:`clean`. A TLS 1.3 session
        ticket makes the socket readable without any SIP2 data: that connection is still
        good."""
        if not self.clean:
            return False
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return True
            self.sock.setblocking(False)
            try:
                self.sock.recv(1)
            except (ssl.SSLWantReadError, BlockingIOError):
                return True
            finally:
                self.sock.settimeout(self.settings.timeout)
            return False  # EOF, or a stray message: not safe to reuse
        except (OSError, ValueError):
            return False

    def _send(self, data: bytes) -> None:
        """Send all of ``data``; a failure says whether any of it got out (``sendall``
        cannot tell, and that decides whether a write may go to another connection)."""
        view = memoryview(data)
        total = 0
        while total < len(data):
            try:
                total += self.sock.send(view[total:])
            except OSError as error:
                raise _Dead(f"sending failed: {error.strerror or error}",
                            sent=total > 0) from None  # fmt: skip

    def _send_more(self, data: bytes) -> None:
        """Send a 97 or a resend after the request itself went out: a failure here leaves
        the request's fate unknown."""
        try:
            self._send(data)
        except _Dead as error:
            raise _Dead(str(error)) from None

    def _next_event(self, timeout: float) -> Reply | Garbled | ResendAsked:
        while not self.pending:
            self.sock.settimeout(timeout)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise
            except OSError as error:
                raise _Dead(f"reading failed: {error.strerror or error}") from None
            if not data:
                raise _Dead("the server closed the connection")
            try:
                self.pending.extend(self.channel.feed(data))
            except Exception as error:  # a line too long: the stream cannot be resynchronised
                raise _Dead(f"unreadable reply: {error}") from None
        return self.pending.popleft()

    def exchange(self, message: Message, expect: str, *, ask_again: bool = False) -> Message:
        """Send ``message`` and return its reply (a message ``expect``).

        A 96 from the server gets the request again, a garbled reply gets a 97, a reply
        with another request's sequence number is skipped. On a timeout, ``ask_again``
        (for writes with error detection on) sends one 97 before giving up.
        """
        return self._await(self.channel.encode(message), expect, ask_again=ask_again)

    def _await(self, data: bytes, expect: str, *, ask_again: bool) -> Message:
        self._send(data)
        resends = asked = 0
        while True:
            try:
                event = self._next_event(self.settings.timeout)
            except TimeoutError:
                if ask_again and self.settings.error_detection and asked == 0:
                    asked += 1
                    self._send_more(self.channel.resend_request())
                    continue
                raise _Dead(f"no reply within {self.settings.timeout:g} s") from None
            if isinstance(event, ResendAsked):
                resends += 1
                if resends > 2:
                    raise _Dead("the server cannot read our requests (96 three times)")
                self._send_more(self.channel.last_request)
            elif isinstance(event, Garbled):
                asked += 1
                if asked > 2 or not self.settings.error_detection:
                    raise _Dead(f"unreadable reply ({event.problem.value})")
                self._send_more(self.channel.resend_request())
            elif event.message.code == expect and self.channel.answers(event.message):
                return event.message
            else:
                _LOG.debug("%s: skipped a %s reply", self.settings.where, event.message.code)

    def send_only(self, message: Message) -> None:
        """Send a request that has no reply (01 Block Patron)."""
        self._send(self.channel.encode(message))

    def poll(self, expect: str, wait: float) -> Message | None:
        """A reply ``expect`` arriving within ``wait`` seconds, or None."""
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self._next_event(left)
            except TimeoutError:
                return None
            if isinstance(event, Reply) and event.message.code == expect:
                return event.message
        return None

    def close(self) -> None:
        """Close the socket (nothing is sent: SIP2 has no logout)."""
        try:
            self.sock.close()
        except OSError:
            pass


@dataclass(slots=True)
class PoolStats:
    """What the pool has done: connections opened, reused, dropped as dead."""

    opened: int = 0
    reused: int = 0
    dropped: int = 0


class ConnectionPool:
    """Up to ``pool_size`` open connections; a call takes one and gives it back.

    A call that finds every connection busy waits for one up to the timeout, then the
    back end is unavailable (the ILS is too slow for the kiosks using it).
    """

    def __init__(
        self,
        settings: UpstreamSettings,
        opener: Callable[[UpstreamSettings], UpstreamConnection] = UpstreamConnection.open,
    ) -> None:
        self.settings = settings
        self.opener = opener
        self.stats = PoolStats()
        self._idle: list[UpstreamConnection] = []
        self._open = 0
        self._condition = threading.Condition()
        self.capabilities: frozenset[Capability] | None = None

    @property
    def open_count(self) -> int:
        """Connections open now (idle or in use)."""
        with self._condition:
            return self._open

    def acquire(self) -> UpstreamConnection:
        """A live connection: an idle one, or a new one while under ``pool_size``."""
        deadline = time.monotonic() + self.settings.timeout
        with self._condition:
            while True:
                while self._idle:
                    connection = self._idle.pop()
                    if connection.alive():
                        self.stats.reused += 1
                        return connection
                    self._forget(connection, "closed by the server while idle")
                if self._open < self.settings.pool_size:
                    self._open += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    busy = f"all {self.settings.pool_size} connections busy"
                    raise BackendUnavailable(f"{self.settings.where}: {busy}")
                self._condition.wait(left)
        try:
            connection = self.opener(self.settings)
        except BaseException:
            with self._condition:
                self._open -= 1
                self._condition.notify()
            raise
        with self._condition:
            self.stats.opened += 1
            self.capabilities = connection.capabilities
        _LOG.info("%s: connected (%d open)", self.settings.where, self._open)
        return connection

    def release(self, connection: UpstreamConnection) -> None:
        """Give a healthy connection back for the next call; one that is not
        :attr:`~UpstreamConnection.clean` is dropped instead, since the next call would
        read what is left on it as its own reply."""
        if not connection.clean:
            self.discard(connection, "a reply to an earlier request is left on it")
            return
        with self._condition:
            self._idle.append(connection)
            self._condition.notify()

    def discard(self, connection: UpstreamConnection, reason: str) -> None:
        """Drop a dead connection."""
        with self._condition:
            self._forget(connection, reason)
            self._condition.notify()

    def _forget(self, connection: UpstreamConnection, reason: str) -> None:
        connection.close()
        self._open -= 1
        self.stats.dropped += 1
        _LOG.warning("%s: connection dropped: %s", self.settings.where, reason)

    def close(self) -> None:
        """Close every idle connection (busy ones close when their call gives them back)."""
        with self._condition:
            for connection in self._idle:
                connection.close()
                self._open -= 1
            self._idle.clear()


class UpstreamSip2:
    """A :class:`~gateway.circulation.CirculationBackend` answered by an ILS's SIP2 server.

    ``library`` arguments become the AO sent upstream unless the configuration names the
    upstream's own institution id. Replies are decoded in the upstream's character set,
    so a cp850 Koha and a UTF-8 kiosk meet as text.
    """

    def __init__(self, settings: UpstreamSettings, pool: ConnectionPool | None = None) -> None:
        self.settings = settings
        self.pool = pool or ConnectionPool(settings)
        self._local = threading.local()

    # -- plumbing ----------------------------------------------------------------------

    @property
    def last_screen_messages(self) -> list[str]:
        """The upstream's own screen messages (AF) of this thread's last reply: the
        interface's outcomes carry refusals, not text, so this is where they can be read."""
        return list(getattr(self._local, "screens", []))

    def _institution(self, library: str) -> str:
        return self.settings.institution or library

    def _call(self, message: Message, expect: str, *, idempotent: bool, check: str = "") -> Message:
        """Send ``message`` and return its reply. A read whose connection dies is asked
        again once on a fresh connection; a write only when none of it was sent (else
        BackendUnavailable naming ``check``, what to look at in the library system)."""
        write = not idempotent
        try:
            reply = self._attempt(message, expect, write, check)
        except _Dead as error:
            # Nothing of a write got out, or a read: a fresh connection may be asked.
            try:
                reply = self._attempt(message, expect, write, check)
            except _Dead as again:
                raise BackendUnavailable(f"{self.settings.where}: {again} (and before that: "
                                         f"{error})") from None  # fmt: skip
        self._local.screens = reply.all("AF")
        return reply

    def _attempt(self, message: Message, expect: str, write: bool, check: str) -> Message:
        """One try on one connection; _Dead when another try may follow."""
        connection = self.pool.acquire()
        try:
            reply = connection.exchange(message, expect, ask_again=write)
        except _Dead as error:
            self.pool.discard(connection, str(error))
            if write and error.sent:
                raise BackendUnavailable(self._fate_unknown(message, str(error), check)) from None
            raise
        self.pool.release(connection)
        return reply

    def _fate_unknown(self, message: Message, reason: str, check: str) -> str:
        """Words for a write that went out and got no reply: it must not be sent again
        (that could lend or charge twice), so a person has to look."""
        look = check or "the library system"
        return (f"{self.settings.where}: {reason}; the {message.spec.name} may or may not "
                f"have been done; check {look} before trying again")  # fmt: skip

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the upstream's 98 supports, of what this back end passes on. Known after
        the first connection; before it, asking connects (and may raise
        BackendUnavailable, which the SIP2 service reports as offline)."""
        if self.pool.capabilities is None:
            self.pool.release(self.pool.acquire())
        return (self.pool.capabilities or frozenset()) & IMPLEMENTED

    def close(self) -> None:
        """Close the pooled connections."""
        self.pool.close()

    def __enter__(self) -> UpstreamSip2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _supports(self, capability: Capability) -> bool:
        return self.pool.capabilities is None or capability in self.pool.capabilities

    # -- patrons -----------------------------------------------------------------------

    def _patron_request(
        self, code: str, library: str, barcode: str, pin: str | None,
        summary: str = " " * 10, start: int = 0, end: int = 0,
    ) -> Message:  # fmt: skip
        now = datetime.now()
        if code == "63":
            message = request("63", now, language="000", summary=summary)
            message.fields += [("AO", self._institution(library)), ("AA", barcode)]
            if pin is not None:
                message.fields.append(("AD", pin))
            if start:
                message.fields += [("BP", str(start)), ("BQ", str(end))]
        else:
            message = request("23", now, language="000")
            message.fields += [("AO", self._institution(library)), ("AA", barcode), ("AC", ""),
                               ("AD", pin or "")]  # fmt: skip
        return message

    def patron(self, library: str, barcode: str) -> PatronView | None:
        """63 Patron Information (then one 63 per non-empty list, and a 17 per loan for
        its title and due date); 23 when the upstream has no 63."""
        if not self._supports(Capability.PATRON_INFO):
            reply = self._call(self._patron_request("23", library, barcode, None), "24",
                               idempotent=True)  # fmt: skip
            return patron_of(reply, library)
        reply = self._call(self._patron_request("63", library, barcode, None), "64",
                           idempotent=True)  # fmt: skip
        if patron_of(reply, library) is None:
            return None
        lists: dict[str, list[str]] = {}
        for field_id, position in _SUMMARY:
            count = reply.fixed.get(_COUNT_OF[field_id], "").strip()
            if count.isdigit() and int(count) == 0:
                continue
            wanted = min(int(count), _MAX_LISTED) if count.isdigit() else _MAX_LISTED
            summary = " " * position + "Y" + " " * (9 - position)
            listed = self._call(self._patron_request("63", library, barcode, None, summary, 1,
                                                     wanted), "64", idempotent=True)  # fmt: skip
            lists[field_id] = [value for value in listed.all(field_id) if value.strip()]
        view = patron_of(reply, library, lists)
        if view is None:
            return None
        view = _with_loans(view, self._loans(library, lists))
        self._local.screens = reply.all("AF")  # the patron's messages, not the lists'
        return view

    def _loans(self, library: str, lists: dict[str, list[str]]) -> tuple[LoanView, ...]:
        """Loans from the charged and overdue lists, with titles and due dates from 17
        (SIP2 does not say when a loan began: ``checked_out`` is ``datetime.min``)."""
        overdue = set(lists.get("AT", []))
        barcodes = list(dict.fromkeys([*lists.get("AU", []), *lists.get("AT", [])]))
        loans = []
        for barcode in barcodes:
            item = self.item(library, barcode) if self._supports(Capability.ITEM_INFO) else None
            due = item.due if item and item.due else datetime.min
            loans.append(LoanView(barcode, item.title if item else "", datetime.min, due, 0,
                                  overdue=barcode in overdue))  # fmt: skip
        return tuple(loans)

    def check_pin(self, library: str, barcode: str, pin: str) -> bool:
        """23 Patron Status (or 63) with the PIN in AD; the upstream's CQ says."""
        code, expect = ("23", "24") if self._supports(Capability.PATRON_STATUS) else ("63", "64")
        reply = self._call(self._patron_request(code, library, barcode, pin), expect,
                           idempotent=True)  # fmt: skip
        return reply.get("BL") != "N" and reply.get("CQ") == "Y"

    def block_patron(self, library: str, patron: str, message: str, when: datetime) -> bool:
        """01 Block Patron, then a 23 to learn whether the patron exists. The standard
        gives 01 no reply, yet Koha and lienthong send a 24: with sequence numbers the
        two replies are told apart by AY; without them, a 24 is awaited briefly first."""
        block = request("01", when, card_retained="N")
        block.fields += [("AO", self._institution(library)), ("AL", message), ("AA", patron),
                         ("AC", "")]  # fmt: skip
        connection = self.pool.acquire()
        try:
            connection.send_only(block)
            if not self.settings.error_detection:
                answered = connection.poll("24", min(_BLOCK_REPLY_WAIT, self.settings.timeout))
                # No 24 yet: one may still come after the 23's, so the connection goes.
                connection.unsure = answered is None
            status = self._patron_request("23", library, patron, None)
            reply = connection.exchange(status, "24")
        except _Dead as error:
            self.pool.discard(connection, str(error))
            raise BackendUnavailable(self._fate_unknown(block, str(error),
                                                        f"patron {patron}")) from None  # fmt: skip
        self.pool.release(connection)
        self._local.screens = reply.all("AF")
        return reply.get("BL") != "N" and bool(reply.get("AE") or reply.get("BL"))

    def enable_patron(self, library: str, patron: str, when: datetime) -> bool:
        """25 Patron Enable; False when the upstream does not know the patron."""
        message = request("25", when)
        message.fields += [("AO", self._institution(library)), ("AA", patron)]
        reply = self._call(message, "26", idempotent=True)
        return reply.get("BL") != "N"

    # -- items -------------------------------------------------------------------------

    def item(self, library: str, barcode: str) -> ItemView | None:
        """17 Item Information."""
        message = request("17", datetime.now())
        message.fields += [("AO", self._institution(library)), ("AB", barcode)]
        reply = self._call(message, "18", idempotent=True)
        return item_of(reply, library)

    def update_item_properties(
        self, library: str, item: str, properties: str, when: datetime
    ) -> ItemView | None:
        """19 Item Status Update; the copy as it is afterwards (17), None when unknown."""
        message = request("19", when)
        message.fields += [("AO", self._institution(library)), ("AB", item), ("CH", properties)]
        reply = self._call(message, "20", idempotent=True)
        if reply.fixed.get("item_properties_ok") != "1" and not reply.get("AJ"):
            return None
        return self.item(library, item)

    # -- loans -------------------------------------------------------------------------

    def _loan(self, reply: Message, library: str, default: Refusal, renewing: bool) -> LoanOutcome:
        item = item_of(reply, library) if reply.get("AJ") or reply.get("AB") else None
        if reply.fixed.get("ok") == "1":
            if item is not None:
                item = _replace_item(item, state=ItemState.CHARGED, due=when_of(reply.get("AH")))
            return LoanOutcome(True, item, due=when_of(reply.get("AH")),
                               renewal=renewing or reply.fixed.get("renewal_ok") == "Y",
                               fee=money(reply.get("BV")) or None)  # fmt: skip
        refusal, known = refusal_of(reply.all("AF"), default)
        if not known:
            refusal = self._diagnose(library, reply.get("AB", "") or "", default)
            self._local.screens = reply.all("AF")  # the refusal's words, not the 17's
        return LoanOutcome(False, item, refusal)

    def _diagnose(self, library: str, barcode: str, default: Refusal) -> Refusal:
        """A refusal the upstream did not word in a way we know: the copy's state says."""
        if not barcode or not self._supports(Capability.ITEM_INFO):
            return default
        item = self.item(library, barcode)
        if item is None:
            return Refusal.UNKNOWN_ITEM
        if default is Refusal.ON_LOAN_TO_ANOTHER or default is Refusal.NOT_SUPPORTED:
            if item.state in (ItemState.CHARGED, ItemState.CHARGED_RECALLED):
                return Refusal.ON_LOAN_TO_ANOTHER
            if item.state is ItemState.ON_HOLD_SHELF:
                return Refusal.ON_HOLD_FOR_ANOTHER
            if item.state in (ItemState.LOST, ItemState.MISSING, ItemState.IN_PROCESS):
                return Refusal.ITEM_NOT_FOR_LOAN
        return default

    def checkout(
        self, library: str, patron: str, item: str, when: datetime, *, renew_if_held: bool = True
    ) -> LoanOutcome:
        """11 Checkout (renewal policy Y when a copy the patron has may be renewed)."""
        message = request("11", when, sc_renewal_policy="Y" if renew_if_held else "N",
                          no_block="N", nb_due_date=BLANK_DATE)  # fmt: skip
        message.fields += [("AO", self._institution(library)), ("AA", patron), ("AB", item),
                           ("AC", "")]  # fmt: skip
        reply = self._call(message, "12", idempotent=False,
                           check=f"whether copy {item} is on loan to patron {patron}")  # fmt: skip
        return self._loan(reply, library, Refusal.NOT_SUPPORTED, renewing=False)

    def renew(self, library: str, patron: str, item: str, when: datetime) -> LoanOutcome:
        """29 Renew."""
        message = request("29", when, third_party_allowed="N", no_block="N",
                          nb_due_date=BLANK_DATE)  # fmt: skip
        message.fields += [("AO", self._institution(library)), ("AA", patron), ("AB", item)]
        reply = self._call(message, "30", idempotent=False,
                           check=f"the due date of copy {item}")  # fmt: skip
        return self._loan(reply, library, Refusal.RENEWAL_LIMIT, renewing=True)

    def renew_all(self, library: str, patron: str, when: datetime) -> RenewAllOutcome:
        """65 Renew All."""
        message = request("65", when)
        message.fields += [("AO", self._institution(library)), ("AA", patron)]
        reply = self._call(message, "66", idempotent=False,
                           check=f"the due dates of patron {patron}'s loans")  # fmt: skip
        renewed = tuple(v for v in reply.all("BM") if v.strip())
        unrenewed = tuple(v for v in reply.all("BN") if v.strip())
        if reply.fixed.get("ok") == "1":
            return RenewAllOutcome(True, renewed, unrenewed)
        refusal, _ = refusal_of(reply.all("AF"), Refusal.RENEWAL_LIMIT)
        return RenewAllOutcome(False, renewed, unrenewed, refusal)

    def checkin(self, library: str, item: str, when: datetime, location: str = "") -> ReturnOutcome:
        """09 Checkin (AP: the kiosk's location, else the configured one)."""
        message = request("09", when, no_block="N")
        message.fields += [("AP", location or self.settings.location), ("AC", ""),
                           ("AO", self._institution(library)), ("AB", item)]  # fmt: skip
        reply = self._call(message, "10", idempotent=False,
                           check=f"whether copy {item} is still on loan")  # fmt: skip
        view = item_of(reply, library) if reply.get("AJ") else None
        if reply.fixed.get("ok") != "1":
            refusal, known = refusal_of(reply.all("AF"), Refusal.NOT_ON_LOAN)
            if not known and view is None:
                refusal = self._diagnose(library, item, Refusal.NOT_ON_LOAN)
                self._local.screens = reply.all("AF")
            return ReturnOutcome(False, view, refusal)
        if view is not None:
            view = _replace_item(view, state=ItemState.AVAILABLE, due=None)
        hold_for = ""
        if reply.fixed.get("alert") == "Y":
            hold_for = reply.get("CY") or ("?" if _hold_alert(reply) else "")
        return ReturnOutcome(True, view, borrower=reply.get("AA", "") or "", hold_for=hold_for,
                             sort_bin=reply.get("CL", "") or "")  # fmt: skip

    # -- holds and fees ----------------------------------------------------------------

    def _hold(self, mode: str, library: str, patron: str, item: str, when: datetime,
              pickup: str, default: Refusal) -> HoldOutcome:  # fmt: skip
        message = request("15", when, hold_mode=mode)
        message.fields += [("AO", self._institution(library)), ("AA", patron), ("AB", item)]
        if pickup:
            message.fields.append(("BS", pickup))
        reply = self._call(message, "16", idempotent=False,
                           check=f"the holds of patron {patron} on copy {item}")  # fmt: skip
        title = reply.get("AJ", "") or ""
        view = ItemView(library, item, title, ItemState.OTHER) if title else None
        if reply.fixed.get("ok") != "1":
            refusal, _ = refusal_of(reply.all("AF"), default)
            return HoldOutcome(False, refusal, view)
        position = (reply.get("BR") or "").strip()
        return HoldOutcome(True, None, view,
                           queue_position=int(position) if position.isdigit() else None,
                           available=reply.fixed.get("available") == "Y",
                           expires=when_of(reply.get("BW")),
                           pickup_location=reply.get("BS", "") or "")  # fmt: skip

    def place_hold(
        self, library: str, patron: str, item: str, when: datetime, pickup_location: str = ""
    ) -> HoldOutcome:
        """15 Hold, mode +."""
        return self._hold("+", library, patron, item, when, pickup_location,
                          Refusal.HOLD_EXISTS)  # fmt: skip

    def cancel_hold(self, library: str, patron: str, item: str, when: datetime) -> HoldOutcome:
        """15 Hold, mode -."""
        return self._hold("-", library, patron, item, when, "", Refusal.NO_SUCH_HOLD)

    def pay_fee(
        self,
        library: str,
        patron: str,
        amount: Decimal,
        when: datetime,
        *,
        fee_id: str = "",
        transaction_id: str = "",
    ) -> PaymentOutcome:
        """37 Fee Paid (cash), then a 63 for what is still owed."""
        if not amount.is_finite() or amount <= 0:
            return PaymentOutcome(False, Refusal.BAD_AMOUNT)
        message = request("37", when, fee_type="01", payment_type="00", currency_type="VND")
        message.fields += [("BV", f"{amount:f}"), ("AO", self._institution(library)),
                           ("AA", patron)]  # fmt: skip
        if fee_id:
            message.fields.append(("CG", fee_id))
        if transaction_id:
            message.fields.append(("BK", transaction_id))
        reply = self._call(message, "38", idempotent=False,
                           check=f"the payments of patron {patron}")  # fmt: skip
        screens = reply.all("AF")
        if reply.fixed.get("payment_accepted") != "Y":
            refusal, _ = refusal_of(screens, Refusal.NO_SUCH_FEE if fee_id else Refusal.BAD_AMOUNT)
            return PaymentOutcome(False, refusal)
        remaining = Decimal(0)
        if self._supports(Capability.PATRON_INFO):
            status = self._call(self._patron_request("63", library, patron, None), "64",
                                idempotent=True)  # fmt: skip
            remaining = money(status.get("BV")) or Decimal(0)
        self._local.screens = screens
        return PaymentOutcome(True, None, reply.get("BK", "") or transaction_id, remaining)


def _hold_alert(reply: Message) -> bool:
    """True when a checkin's alert is for a hold (3M's CV 01/02, or the screen says so)."""
    if (reply.get("CV") or "").strip() in ("01", "02"):
        return True
    refusal, known = refusal_of(reply.all("AF"), Refusal.NOT_SUPPORTED)
    return known and refusal is Refusal.ON_HOLD_FOR_ANOTHER


def _replace_item(item: ItemView, **changes: Any) -> ItemView:
    return replace(item, **changes)


def _with_loans(view: PatronView, loans: tuple[LoanView, ...]) -> PatronView:
    return replace(view, loans=loans)


def open_upstream(entry: Mapping[str, Any], config: Config) -> UpstreamSip2:
    """The back end for a ``circulation.backends`` entry of kind sip2. Nothing connects
    until the first call, so a gateway starts even while the ILS is down."""
    del config  # the entry has everything; the signature matches the other back ends
    return UpstreamSip2(UpstreamSettings.from_entry(entry))
