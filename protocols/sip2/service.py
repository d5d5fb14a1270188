"""SIP2 sessions: what each message means against a circulation back end.

A :class:`Session` is one kiosk's connection. It takes one message line at a time and
returns a :class:`Reply` (bytes to send, or nothing, and whether to close); it is blocking
(back ends are databases or other servers), so the Twisted layer runs it in the thread
pool, one line at a time per connection. Which commands a session may use depends on its
state, and :data:`TRANSITIONS` is that table: before login only login, status and resend
are served when the configuration requires login; everything else gets its own response
with ok 0 and a screen message, so a kiosk is never left waiting.

Routing is by account: the account a kiosk logs in with names the institution and the
back end. A kiosk that sends another AO is answered with the account's institution and
logged, never served from another library. PINs, passwords and patron barcodes never
reach the log; each transaction logs the account, the message, the result and the time.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from gateway.circulation import (
    BackendUnavailable,
    Capability,
    CirculationBackend,
    ItemView,
    LoanOutcome,
    PatronView,
    Refusal,
)
from gateway.passwords import hash_password, verify_password

from .codec import Charset, Message, decode_message, encode_message, parse_date, sip_date
from .errors import Problem, SIP2Error
from .replies import RESPONSE_OF, UNKNOWN_PATRON_STATUS, refusal_reply, response
from .screens import Screen, language_of, screen_text

__all__ = [
    "Account",
    "SIP2Settings",
    "PinGuard",
    "SessionState",
    "TRANSITIONS",
    "Reply",
    "Session",
    "supported_messages",
]

_LOG = logging.getLogger("protocols.sip2")

#: A real hash (of text nobody knows) to verify unknown users' passwords against, so an
#: unknown login name costs the same key derivation as a wrong password: no enumeration
#: of account names by timing.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(24))
#: Fields kiosks often leave out; their absence is never a reason to refuse. (CH is not
#: one: a 19 without it would erase the item's stored properties.)
_TOLERATED_MISSING = frozenset({"AC", "AD", "AO", "AP"})
#: Amounts a kiosk may pay: digits, with a decimal point and two decimals at most. No
#: thousands separators: "50.000" and "50,000" mean fifty thousand đồng to a Vietnamese
#: reader and fifty to a parser, so they are refused rather than guessed.
_AMOUNT = re.compile(r"^[0-9]{1,12}(\.[0-9]{2})?$")
#: 15 hold modes: place, cancel. "*" (change a hold) and anything else are refused.
_HOLD_MODES = frozenset({"+", "-"})
#: Unreadable lines an unauthenticated connection may send before it is closed.
_MAX_GARBAGE_BEFORE_LOGIN = 10
#: Items one patron-information reply lists at most (BP/BQ narrow it further).
_MAX_LISTED = 100
#: BX positions, in the specification's order, and the capability each needs.
_BX: tuple[tuple[str, Capability | None], ...] = (
    ("23", Capability.PATRON_STATUS), ("11", Capability.CHECKOUT), ("09", Capability.CHECKIN),
    ("01", Capability.BLOCK_PATRON), ("99", None), ("97", None), ("93", None),
    ("63", Capability.PATRON_INFO), ("35", Capability.END_SESSION),
    ("37", Capability.FEE_PAID), ("17", Capability.ITEM_INFO),
    ("19", Capability.ITEM_STATUS_UPDATE), ("25", Capability.PATRON_ENABLE),
    ("15", Capability.HOLD), ("29", Capability.RENEW), ("65", Capability.RENEW_ALL),
)  # fmt: skip
_CAPABILITY_OF = {code: capability for code, capability in _BX if capability is not None}


@dataclass(frozen=True, slots=True)
class Account:
    """A SIP2 login: which institution and back end serve the kiosks using it."""

    user: str
    password_hash: str
    library: str
    location: str = ""
    allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    charset: Charset = Charset.UTF8
    terminator: bytes = b"\r"
    error_detection: bool = True
    backend: str = "embedded"

    def admits(self, address: str) -> bool:
        """True when a kiosk at ``address`` may use this account."""
        if not self.allowed:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.allowed)


@dataclass(frozen=True, slots=True)
class SIP2Settings:
    """The endpoint's configuration, read once."""

    accounts: Mapping[str, Account]
    libraries: Mapping[str, str]  #: library id -> name (98's AM)
    require_login: bool = True
    default_charset: Charset = Charset.UTF8
    failed_login_limit: int = 3
    timeout: int = 100  #: tenths of a second, advertised in 98
    retries: int = 3


class PinGuard:
    """Failed PIN checks per terminal, shared by every session of the endpoint.

    After ``limit`` wrong PINs within ``lockout`` seconds, the terminal's PIN checks are
    refused without asking the back end until the lockout passes: a kiosk used to guess
    PINs cannot lock patrons out of their accounts in the ILS, nor find a PIN.

    Card numbers nobody has are counted the same way against ``probe_limit`` (ten times
    ``limit`` unless given): past it the terminal looks nobody up until the lockout
    passes, so it cannot be used to walk through card numbers. The limit is higher than
    the PIN limit because every kiosk of a library may share one account (and a gateway
    in front of this one is one terminal): a few mistyped cards must not stop them all.
    """

    def __init__(
        self,
        limit: int,
        lockout: float,
        clock: Callable[[], float] = time.monotonic,
        probe_limit: int | None = None,
    ) -> None:
        self.limit = limit
        self.lockout = lockout
        self.clock = clock
        self.probe_limit = probe_limit if probe_limit is not None else 10 * limit
        self._failures: dict[str, deque[float]] = {}
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()

    def locked(self, terminal: str) -> bool:
        """True while ``terminal`` may not check PINs."""
        with self._lock:
            failures = self._recent(terminal)
            return len(failures) + self._pending.get(terminal, 0) >= self.limit

    def failed(self, terminal: str) -> None:
        """Count one wrong PIN."""
        with self._lock:
            self._recent(terminal).append(self.clock())

    def probed(self, terminal: str) -> None:
        """Count one look-up of a card number nobody has."""
        with self._lock:
            self._recent("probe " + terminal).append(self.clock())

    def lookups_locked(self, terminal: str) -> bool:
        """True while ``terminal`` may not look patrons up (too many unknown cards)."""
        with self._lock:
            return len(self._recent("probe " + terminal)) >= self.probe_limit

    def begin(self, terminal: str) -> bool:
        """Reserve one PIN check for ``terminal``; False when it is locked.

        Checking and reserving happen under one lock, and checks still running count as
        failures until :meth:`end`, so kiosks sharing an account that send PINs at the
        same moment cannot get more than ``limit`` guesses past the lockout.
        """
        with self._lock:
            pending = self._pending.get(terminal, 0)
            if len(self._recent(terminal)) + pending >= self.limit:
                return False
            self._pending[terminal] = pending + 1
            return True

    def end(self, terminal: str, good: bool) -> None:
        """Finish a check :meth:`begin` reserved: a wrong PIN counts as a failure."""
        with self._lock:
            pending = self._pending.get(terminal, 0) - 1
            if pending > 0:
                self._pending[terminal] = pending
            else:
                self._pending.pop(terminal, None)
            if not good:
                self._recent(terminal).append(self.clock())

    def _recent(self, terminal: str) -> deque[float]:
        failures = self._failures.setdefault(terminal, deque())
        cutoff = self.clock() - self.lockout
        while failures and failures[0] < cutoff:
            failures.popleft()
        if not failures:
            self._failures.pop(terminal, None)
            failures = self._failures.setdefault(terminal, deque())
        return failures


class SessionState(Enum):
    """Where a kiosk's connection is."""

    CONNECTED = "connected"  #: not logged in
    LOGGED_IN = "logged in"
    CLOSED = "closed"


_CIRCULATION = ("23", "63", "11", "09", "29", "65", "17", "19", "25", "15", "35", "37", "01")
#: (state, command) -> the session method that answers it. Missing pairs are refused.
TRANSITIONS: dict[tuple[SessionState, str], str] = {
    **{(state, "93"): "login" for state in (SessionState.CONNECTED, SessionState.LOGGED_IN)},
    **{(state, "99"): "status" for state in (SessionState.CONNECTED, SessionState.LOGGED_IN)},
    **{(SessionState.LOGGED_IN, code): "circulate" for code in _CIRCULATION},
}


@dataclass(slots=True)
class Reply:
    """What the connection does with one line: send ``data`` (when any), then maybe close."""

    data: bytes | None
    close: bool = False
    command: str = ""  #: the request's command, for the transaction log
    result: str = ""  #: "ok", a refusal, a problem: for the log, never personal data


def supported_messages(capabilities: frozenset[Capability]) -> str:
    """The 16-character BX field for a back end's capabilities."""
    return "".join(
        "Y" if capability is None or capability in capabilities else "N" for _, capability in _BX
    )


def _money(amount: Decimal, currency: str) -> str:
    """An amount as kiosks show it: whole đồng for VND (it has no minor unit), else cents."""
    if currency.upper() == "VND":
        return f"{amount.quantize(Decimal(1)):f}"
    return f"{amount.quantize(Decimal('0.01')):f}"


def _count(value: int) -> str:
    return f"{min(value, 9999):04d}"


def _flag(value: bool) -> str:
    return "Y" if value else "N"


@dataclass(slots=True)
class _Context:
    """One request being answered: its message, time, language and the account's view."""

    message: Message
    now: datetime
    account: Account
    language: str = "vi"
    result: str = "ok"


class Session:
    """One kiosk connection's state and its answers.

    ``backends`` gives the back end an account names; ``peer`` is the kiosk's address,
    used for the allowed-address check and as the terminal for PIN limits before login.
    """

    def __init__(
        self,
        settings: SIP2Settings,
        backends: Callable[[str], CirculationBackend],
        guard: PinGuard,
        peer: str = "",
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.settings = settings
        self.backends = backends
        self.guard = guard
        self.peer = peer
        self.now = now
        self.state = SessionState.CONNECTED
        self.account: Account | None = None
        self.failed_logins = 0
        self.garbage = 0
        self.last_reply: bytes | None = None
        self._last_key: tuple[str, str, str] | None = None
        self._wrong_ao_logged = False

    # -- wire --------------------------------------------------------------------------

    @property
    def charset(self) -> Charset:
        """The character set the kiosk reads and writes."""
        return self.account.charset if self.account else self.settings.default_charset

    def receive(self, line: bytes, terminator: bytes = b"\r") -> Reply:
        """Answer one message line (without its terminator)."""
        if self.state is SessionState.CLOSED:
            return Reply(None, close=True)
        code = line[:2].decode("ascii", "replace")
        if code == "97":
            return Reply(self.last_reply or self._resend_request(terminator), command="97",
                         result="resent")  # fmt: skip
        if code not in RESPONSE_OF:
            # A response (94, 96, 98, 24...) or a code SIP2 lacks: nothing to answer.
            return self._unreadable(SIP2Error(Problem.UNKNOWN_MESSAGE, repr(code)), code)
        error_detection = self.account.error_detection if self.account else True
        try:
            message = decode_message(line, self.charset, error_detection=error_detection)
        except SIP2Error as error:
            return self._unreadable(error, code, terminator)
        key = (message.code, message.sequence or "", message.checksum or "")
        if message.checksum is not None and key == self._last_key and self.last_reply:
            return Reply(self.last_reply, command=message.code, result="repeated")
        self._last_key = key
        reply, result, close = self._answer(message)
        data = self._encode(reply, message, terminator)
        self.last_reply = data
        if close:
            self.state = SessionState.CLOSED
        return Reply(data, close=close, command=message.code, result=result)

    def _unreadable(self, error: SIP2Error, code: str, terminator: bytes = b"\r") -> Reply:
        if error.problem is Problem.UNKNOWN_MESSAGE:
            # Ignored, per the specification; an unauthenticated stream of garbage ends.
            if self.state is SessionState.CONNECTED:
                self.garbage += 1
                if self.garbage > _MAX_GARBAGE_BEFORE_LOGIN:
                    self.state = SessionState.CLOSED
                    return Reply(None, close=True, command="??", result="garbage, closed")
            return Reply(None, command="??", result="ignored")
        data = self._resend_request(terminator)
        self.last_reply = data
        return Reply(data, command=code if code.isdigit() else "??", result=error.problem.value)

    def _resend_request(self, terminator: bytes = b"\r") -> bytes:
        """A 96: ask the kiosk to send its last message again (before login, ended the
        way the kiosk ends its own messages)."""
        error_detection = self.account.error_detection if self.account else True
        terminator = self.account.terminator if self.account else terminator
        return encode_message(Message("96"), self.charset, error_detection=error_detection,
                              terminator=terminator)  # fmt: skip

    def _encode(self, reply: Message, request: Message, terminator: bytes) -> bytes:
        if self.account is not None:
            error_detection = self.account.error_detection
            terminator = self.account.terminator
        else:
            error_detection = request.checksum is not None
        reply.sequence = request.sequence if error_detection else None
        return encode_message(reply, self.charset, error_detection=error_detection,
                              terminator=terminator)  # fmt: skip

    # -- dispatch ----------------------------------------------------------------------

    def _answer(self, message: Message) -> tuple[Message, str, bool]:
        """:meth:`_dispatch`, with any failure answered as "try again" and logged by its
        type only: an exception's words may hold a card number or a PIN."""
        now = self.now()
        try:
            return self._dispatch(message, now)
        except BackendUnavailable:
            result = "back end down"
        except Exception as error:  # noqa: BLE001 - a kiosk must get an answer
            result = "internal error"
            _LOG.error("sip2 account %s: %s answering %s", self._user, type(error).__name__,
                       message.code)  # fmt: skip
            if _LOG.isEnabledFor(logging.DEBUG):
                # Where it happened, without the exception's text.
                _LOG.debug("sip2 %s at:\n%s", type(error).__name__,
                           "".join(traceback.format_tb(error.__traceback__)))  # fmt: skip
        language = language_of(None, message.fixed.get("language"))
        text = screen_text(Screen.UNAVAILABLE, language)
        institution = self.account.library if self.account else message.get("AO", "") or ""
        return refusal_reply(message, now, text, institution), result, False

    @property
    def _user(self) -> str:
        return (self.account.user if self.account else "") or "-"

    def _dispatch(self, message: Message, now: datetime) -> tuple[Message, str, bool]:
        action = TRANSITIONS.get((self.state, message.code))
        if action is None and not self.settings.require_login and message.code in _CIRCULATION:
            action = "circulate"
        if action == "login":
            return self._login(message, now)
        if action == "status":
            return self._status(message, now), "ok", False
        account = self._account_for(message)
        if action != "circulate" or account is None:
            reply = refusal_reply(message, now, screen_text(Screen.LOGIN_REQUIRED, "vi"),
                                  message.get("AO", "") or "")  # fmt: skip
            return reply, "not logged in", False
        ctx = _Context(message, now, account, language_of(None, message.fixed.get("language")))
        self._check_institution(message, account)
        missing = [f for f in message.missing if f not in _TOLERATED_MISSING]
        if missing:
            text = screen_text(Screen.MISSING_FIELD, ctx.language, ", ".join(missing))
            return refusal_reply(message, now, text, account.library), "missing field", False
        backend = self.backends(account.backend)
        capability = _CAPABILITY_OF.get(message.code)
        if capability is not None and capability not in backend.capabilities:
            text = screen_text(Refusal.NOT_SUPPORTED, ctx.language)
            return refusal_reply(message, now, text, account.library), "not supported", False
        reply = _HANDLERS[message.code](self, ctx, backend)
        return reply, ctx.result, False

    def _account_for(self, message: Message) -> Account | None:
        if self.account is not None:
            return self.account
        if self.settings.require_login:
            return None
        institution = message.get("AO", "") or ""
        if institution not in self.settings.libraries:
            return None
        return Account(user="", password_hash="", library=institution,
                       charset=self.settings.default_charset)  # fmt: skip

    def _check_institution(self, message: Message, account: Account) -> None:
        sent = message.get("AO")
        if sent and sent != account.library and not self._wrong_ao_logged:
            self._wrong_ao_logged = True
            _LOG.warning("sip2 account %s sent institution %r; answering as %s",
                         account.user or "-", sent[:40], account.library)  # fmt: skip

    @property
    def terminal(self) -> str:
        """Who failed PIN checks are counted against: the account, else the address."""
        return f"account:{self.account.user}" if self.account else f"peer:{self.peer}"

    # -- login and status --------------------------------------------------------------

    def _login(self, message: Message, now: datetime) -> tuple[Message, str, bool]:
        user = message.get("CN", "") or ""
        password = message.get("CO", "") or ""
        account = self.settings.accounts.get(user)
        stored = account.password_hash if account else _DUMMY_HASH
        good = verify_password(password, stored) and account is not None
        if good and account is not None and not account.admits(self.peer):
            good = False
            _LOG.warning("sip2 account %s refused from address %s", user[:40], self.peer)
        if good and account is not None:
            self.account = account
            self.state = SessionState.LOGGED_IN
            self.failed_logins = 0
            return Message("94", {"ok": "1"}), "ok", False
        self.failed_logins += 1
        close = self.failed_logins >= self.settings.failed_login_limit
        return Message("94", {"ok": "0"}), "login refused" + (", closed" if close else ""), close

    def _status(self, message: Message, now: datetime) -> Message:
        account = self.account
        if account is None and not self.settings.require_login:
            account = self._account_for(message)
        capabilities: frozenset[Capability] = frozenset()
        online = True
        if account is not None:
            try:
                capabilities = self.backends(account.backend).capabilities
            except BackendUnavailable:
                online = False
        institution = account.library if account else (message.get("AO", "") or "")
        fixed = {
            "online_status": _flag(online),
            "checkin_ok": _flag(Capability.CHECKIN in capabilities),
            "checkout_ok": _flag(Capability.CHECKOUT in capabilities),
            "acs_renewal_policy": _flag(Capability.RENEW in capabilities),
            "status_update_ok": _flag(Capability.ITEM_STATUS_UPDATE in capabilities),
            "offline_ok": "N",
            "timeout_period": f"{self.settings.timeout:03d}",
            "retries_allowed": f"{self.settings.retries:03d}",
            "protocol_version": "2.00",
        }
        reply = response("98", now, **fixed)
        reply.fields.append(("AO", institution))
        name = self.settings.libraries.get(institution, "")
        if name:
            reply.fields.append(("AM", name))
        reply.fields.append(("BX", supported_messages(capabilities)))
        if account is not None and account.location:
            reply.fields.append(("AN", account.location))
        return reply

    # -- patrons -----------------------------------------------------------------------

    def _pin_state(
        self, ctx: _Context, backend: CirculationBackend, patron: PatronView | None
    ) -> bool | None:
        """None when no PIN was sent, else whether it is right (a locked terminal: wrong)."""
        pin = ctx.message.get("AD")
        if not pin or patron is None:
            return None if not pin else False
        if not self.guard.begin(self.terminal):
            ctx.result = "pin locked"
            return False
        good = False
        try:
            good = backend.check_pin(ctx.account.library, patron.barcode, pin)
        finally:
            self.guard.end(self.terminal, good)
        if not good:
            ctx.result = "wrong pin"
        return good

    def _pin_refusal(self, ctx: _Context, pin_ok: bool | None) -> str | None:
        """Screen text when a sent PIN is wrong (or the terminal is locked), else None."""
        if pin_ok is not False:
            return None
        if ctx.result == "pin locked":
            return screen_text(Screen.PIN_LOCKED, ctx.language)
        return screen_text(Refusal.WRONG_PIN, ctx.language)

    def _patron_fields(
        self, reply: Message, ctx: _Context, patron: PatronView | None, pin_ok: bool | None
    ) -> None:
        """AO, AA, AE, BL, CQ, BH, BV; with a wrong PIN only that the card exists and the
        PIN is wrong: no name, no fines, nothing about the patron."""
        reply.fields.append(("AO", ctx.account.library))
        reply.fields.append(("AA", ctx.message.get("AA", "") or ""))
        reply.fields.append(("AE", patron.name if patron and pin_ok is not False else ""))
        reply.fields.append(("BL", _flag(patron is not None)))
        if pin_ok is not None:
            reply.fields.append(("CQ", _flag(pin_ok)))
        if patron is not None and pin_ok is not False:
            reply.fields.append(("BH", patron.currency))
            reply.fields.append(("BV", _money(patron.fines_total, patron.currency)))

    def _lookup(self, ctx: _Context, backend: CirculationBackend) -> PatronView | None:
        """The request's patron, or None. A card number nobody has counts against the
        terminal (:meth:`PinGuard.probed`), and a terminal past the limit looks nobody up:
        a kiosk cannot be used to walk through card numbers finding which exist."""
        if self.guard.lookups_locked(self.terminal):
            ctx.result = "lookups locked"
            return None
        patron = backend.patron(ctx.account.library, ctx.message.get("AA", "") or "")
        if patron is None:
            self.guard.probed(self.terminal)
            ctx.result = Refusal.UNKNOWN_PATRON.value
        else:
            ctx.language = language_of(patron.language, ctx.message.fixed.get("language"))
        return patron

    @staticmethod
    def _status_string(patron: PatronView | None) -> str:
        if patron is None:
            return UNKNOWN_PATRON_STATUS
        positions = [" "] * 14
        for flag in patron.flags:
            positions[flag.value] = "Y"
        return "".join(positions)

    def _no_patron(self, ctx: _Context) -> str:
        """Screen text when :meth:`_lookup` found nobody (or would not look)."""
        if ctx.result == "lookups locked":
            return screen_text(Screen.PIN_LOCKED, ctx.language)
        return screen_text(Refusal.UNKNOWN_PATRON, ctx.language)

    def _status_for(self, patron: PatronView | None, pin_ok: bool | None) -> str:
        """Patron status; with a wrong PIN every privilege denied, as for nobody."""
        return self._status_string(patron if pin_ok is not False else None)

    def _patron_status(self, ctx: _Context, backend: CirculationBackend) -> Message:
        patron = self._lookup(ctx, backend)
        pin_ok = self._pin_state(ctx, backend, patron)
        reply = response("24", ctx.now, patron_status=self._status_for(patron, pin_ok),
                         language="000")  # fmt: skip
        self._patron_fields(reply, ctx, patron, pin_ok)
        self._patron_screen(reply, ctx, patron, pin_ok)
        return reply

    def _patron_screen(
        self, reply: Message, ctx: _Context, patron: PatronView | None, pin_ok: bool | None
    ) -> None:
        text = self._pin_refusal(ctx, pin_ok)
        if patron is None:
            text = self._no_patron(ctx)
        elif text is None and patron.blocked_message:
            text = patron.blocked_message
        elif text is None and not patron.may_borrow:
            text = screen_text(Refusal.PATRON_BLOCKED, ctx.language)
        if text:
            reply.fields.append(("AF", text))

    def _patron_info(self, ctx: _Context, backend: CirculationBackend) -> Message:
        patron = self._lookup(ctx, backend)
        pin_ok = self._pin_state(ctx, backend, patron)
        counts: dict[str, str] = {}
        lists: dict[str, list[str]] = {}
        if patron is not None and pin_ok is not False:
            holds = [h for h in patron.holds if h.available]
            waiting = [h for h in patron.holds if not h.available]
            groups: list[tuple[str, str, list[str]]] = [
                ("hold_items_count", "AS", [h.item_barcode for h in holds]),
                ("overdue_items_count", "AT", [loan.item_barcode for loan in patron.overdue]),
                ("charged_items_count", "AU", [loan.item_barcode for loan in patron.loans]),
                ("fine_items_count", "AV", [self._fee_line(f, patron) for f in patron.fees]),
                ("recall_items_count", "BU", []),
                ("unavailable_holds_count", "CD", [h.item_barcode for h in waiting]),
            ]
            summary = ctx.message.fixed.get("summary", "")
            wanted = summary.find("Y")
            for position, (count_name, field_id, values) in enumerate(groups):
                counts[count_name] = _count(len(values))
                if position == wanted:
                    lists[field_id] = self._range(ctx.message, values)
        reply = response("64", ctx.now, patron_status=self._status_for(patron, pin_ok),
                         language="000", **counts)  # fmt: skip
        self._patron_fields(reply, ctx, patron, pin_ok)
        if patron is not None and pin_ok is not False:
            for field_id, limit in (("BZ", patron.hold_limit), ("CA", patron.overdue_limit),
                                    ("CB", patron.loan_limit)):  # fmt: skip
                if limit is not None:
                    reply.fields.append((field_id, _count(limit)))
            if patron.fee_limit is not None:
                reply.fields.append(("CC", _money(patron.fee_limit, patron.currency)))
            for field_id, values in lists.items():
                reply.fields.extend((field_id, value) for value in values)
            for field_id, text in (("BD", patron.address), ("BE", patron.email),
                                   ("BF", patron.phone)):  # fmt: skip
                if text:
                    reply.fields.append((field_id, text))
        self._patron_screen(reply, ctx, patron, pin_ok)
        return reply

    @staticmethod
    def _fee_line(fee: Any, patron: PatronView) -> str:
        return f"{fee.fee_id} {_money(fee.amount, patron.currency)} {fee.description}".strip()

    @staticmethod
    def _range(message: Message, values: list[str]) -> list[str]:
        """``values`` from BP to BQ (1-based, inclusive), at most :data:`_MAX_LISTED`."""

        def number(field_id: str, default: int) -> int:
            text = (message.get(field_id) or "").strip()
            return int(text) if text.isdigit() else default

        start = max(number("BP", 1), 1)
        end = number("BQ", start + _MAX_LISTED - 1)
        end = min(end, start + _MAX_LISTED - 1)
        return values[start - 1 : end]

    def _patron_enable(self, ctx: _Context, backend: CirculationBackend) -> Message:
        barcode = ctx.message.get("AA", "") or ""
        pin_ok = None
        patron = self._lookup(ctx, backend)
        if patron is not None:
            pin_ok = self._pin_state(ctx, backend, patron)
            if pin_ok is not False:
                backend.enable_patron(ctx.account.library, barcode, ctx.now)
                patron = backend.patron(ctx.account.library, barcode)
        reply = response("26", ctx.now, patron_status=self._status_for(patron, pin_ok),
                         language="000")  # fmt: skip
        self._patron_fields(reply, ctx, patron, pin_ok)
        text = self._pin_refusal(ctx, pin_ok)
        if patron is None:
            text = self._no_patron(ctx)
        reply.fields = [f for f in reply.fields if f[0] not in ("BH", "BV")]
        reply.fields.append(("AF", text or screen_text(Screen.ENABLED, ctx.language)))
        return reply

    def _block_patron(self, ctx: _Context, backend: CirculationBackend) -> Message:
        barcode = ctx.message.get("AA", "") or ""
        message = ctx.message.get("AL", "") or ""
        known = backend.block_patron(ctx.account.library, barcode, message, ctx.now)
        patron = backend.patron(ctx.account.library, barcode) if known else None
        if patron is None:
            ctx.result = Refusal.UNKNOWN_PATRON.value
        reply = response("24", ctx.now, patron_status=self._status_string(patron), language="000")
        self._patron_fields(reply, ctx, patron, None)
        key = Screen.BLOCKED if patron else Refusal.UNKNOWN_PATRON
        reply.fields.append(("AF", screen_text(key, ctx.language)))
        return reply

    def _end_session(self, ctx: _Context, backend: CirculationBackend) -> Message:
        reply = response("36", ctx.now, end_session="Y")
        reply.fields += [("AO", ctx.account.library), ("AA", ctx.message.get("AA", "") or ""),
                         ("AF", screen_text(Screen.GOODBYE, ctx.language))]  # fmt: skip
        return reply

    def _fee_paid(self, ctx: _Context, backend: CirculationBackend) -> Message:
        barcode = ctx.message.get("AA", "") or ""
        patron, refused = self._guarded_patron(ctx, backend)
        reply = response("38", ctx.now, payment_accepted="N")
        reply.fields += [("AO", ctx.account.library), ("AA", barcode)]
        text: str
        amount = self._amount(ctx.message.get("BV") or "")
        currency = (ctx.message.fixed.get("currency_type") or "").strip().upper()
        if patron is None or refused:
            text = refused or self._no_patron(ctx)
        elif currency and currency != patron.currency.upper():
            ctx.result = "wrong currency"
            text = screen_text(Refusal.BAD_AMOUNT, ctx.language)
        elif amount is None:
            ctx.result = Refusal.BAD_AMOUNT.value
            text = screen_text(Refusal.BAD_AMOUNT, ctx.language)
        else:
            outcome = backend.pay_fee(ctx.account.library, barcode, amount, ctx.now,
                                      fee_id=ctx.message.get("CG", "") or "",
                                      transaction_id=ctx.message.get("BK", "") or "")  # fmt: skip
            if outcome.ok:
                reply.fixed["payment_accepted"] = "Y"
                if outcome.transaction_id:
                    reply.fields.append(("BK", outcome.transaction_id))
                text = screen_text(Screen.PAYMENT_ACCEPTED, ctx.language,
                                   _money(outcome.remaining, patron.currency))  # fmt: skip
            else:
                refusal = outcome.refusal or Refusal.BAD_AMOUNT
                ctx.result = refusal.value
                text = screen_text(refusal, ctx.language)
        reply.fields.append(("AF", text))
        return reply

    @staticmethod
    def _amount(text: str) -> Decimal | None:
        """A paid amount, or None when it is not plainly digits (see :data:`_AMOUNT`)."""
        text = text.strip()
        if not _AMOUNT.match(text):
            return None
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            return None

    # -- items -------------------------------------------------------------------------

    def _item_fields(self, reply: Message, item: ItemView | None, barcode: str) -> None:
        reply.fields.append(("AB", barcode))
        reply.fields.append(("AJ", item.title if item else ""))

    def _loan_reply(self, ctx: _Context, outcome: LoanOutcome, renewing: bool) -> Message:
        code = "30" if renewing else "12"
        ok = outcome.ok
        reply = response(code, ctx.now, ok="1" if ok else "0",
                         renewal_ok=_flag(ok and (renewing or outcome.renewal)),
                         magnetic_media="N", desensitize=_flag(ok))  # fmt: skip
        barcode = ctx.message.get("AB", "") or ""
        reply.fields += [("AO", ctx.account.library), ("AA", ctx.message.get("AA", "") or "")]
        self._item_fields(reply, outcome.item, barcode)
        reply.fields.append(("AH", sip_date(outcome.due) if ok and outcome.due else ""))
        if outcome.item is not None:
            reply.fields.append(("CK", outcome.item.media_type))
        if outcome.fee:
            reply.fields += [("BT", "01"), ("BH", "VND"), ("BV", _money(outcome.fee, "VND"))]
        if ok and outcome.due is not None:
            key = Screen.RENEWED if renewing or outcome.renewal else Screen.CHECKED_OUT
            text = screen_text(key, ctx.language, outcome.due.strftime("%d/%m/%Y"))
        else:
            refusal = outcome.refusal or Refusal.NOT_SUPPORTED
            ctx.result = refusal.value
            text = screen_text(refusal, ctx.language)
        reply.fields.append(("AF", text))
        return reply

    def _guarded_patron(
        self, ctx: _Context, backend: CirculationBackend
    ) -> tuple[PatronView | None, str | None]:
        """The patron of a loan request and, when the request must be refused, why."""
        patron = self._lookup(ctx, backend)
        if patron is None:
            return None, self._no_patron(ctx)
        pin_ok = self._pin_state(ctx, backend, patron)
        return patron, self._pin_refusal(ctx, pin_ok)

    def _refused_loan(self, ctx: _Context, text: str, renewing: bool) -> Message:
        outcome = LoanOutcome(ok=False, item=None)
        reply = self._loan_reply(ctx, outcome, renewing)
        reply.fields[-1] = ("AF", text)
        return reply

    def _checkout(self, ctx: _Context, backend: CirculationBackend) -> Message:
        patron, refused = self._guarded_patron(ctx, backend)
        if patron is None or refused:
            return self._refused_loan(ctx, refused or "", renewing=False)
        renew = ctx.message.fixed.get("sc_renewal_policy", "Y") != "N"
        outcome = backend.checkout(ctx.account.library, patron.barcode,
                                   ctx.message.get("AB", "") or "", ctx.now,
                                   renew_if_held=renew)  # fmt: skip
        return self._loan_reply(ctx, outcome, renewing=False)

    def _renew(self, ctx: _Context, backend: CirculationBackend) -> Message:
        patron, refused = self._guarded_patron(ctx, backend)
        if patron is None or refused:
            return self._refused_loan(ctx, refused or "", renewing=True)
        barcode = ctx.message.get("AB", "") or ""
        if not barcode:
            text = screen_text(Screen.MISSING_FIELD, ctx.language, "AB")
            ctx.result = "missing field"
            return self._refused_loan(ctx, text, renewing=True)
        outcome = backend.renew(ctx.account.library, patron.barcode, barcode, ctx.now)
        return self._loan_reply(ctx, outcome, renewing=True)

    def _renew_all(self, ctx: _Context, backend: CirculationBackend) -> Message:
        patron, refused = self._guarded_patron(ctx, backend)
        reply = response("66", ctx.now, ok="0")
        reply.fields.append(("AO", ctx.account.library))
        if patron is None or refused:
            reply.fields.append(("AF", refused or ""))
            return reply
        outcome = backend.renew_all(ctx.account.library, patron.barcode, ctx.now)
        reply.fixed.update(ok="1" if outcome.ok else "0", renewed_count=_count(
            len(outcome.renewed)), unrenewed_count=_count(len(outcome.unrenewed)))  # fmt: skip
        reply.fields += [("BM", barcode) for barcode in outcome.renewed]
        reply.fields += [("BN", barcode) for barcode in outcome.unrenewed]
        if not outcome.ok:
            refusal = outcome.refusal or Refusal.RENEWAL_LIMIT
            ctx.result = refusal.value
            reply.fields.append(("AF", screen_text(refusal, ctx.language)))
        return reply

    def _checkin(self, ctx: _Context, backend: CirculationBackend) -> Message:
        barcode = ctx.message.get("AB", "") or ""
        when = self._return_date(ctx)
        outcome = backend.checkin(ctx.account.library, barcode, when,
                                  ctx.message.get("AP", "") or "")  # fmt: skip
        item = outcome.item
        # A copy of another library or one nobody knows must go to a librarian, not back
        # on the shelf: the sorter's alert says so.
        alert = bool(outcome.hold_for) or outcome.refusal in (Refusal.OTHER_LIBRARY,
                                                               Refusal.UNKNOWN_ITEM)  # fmt: skip
        reply = response("10", ctx.now, ok="1" if outcome.ok else "0",
                         resensitize=_flag(item is not None), magnetic_media="N",
                         alert=_flag(alert))  # fmt: skip
        reply.fields += [("AO", ctx.account.library), ("AB", barcode),
                         ("AQ", item.location if item else "")]  # fmt: skip
        if item is not None:
            reply.fields += [("AJ", item.title), ("CK", item.media_type)]
        if outcome.sort_bin:
            reply.fields.append(("CL", outcome.sort_bin))
        if outcome.ok:
            texts = [screen_text(Screen.CHECKED_IN, ctx.language)]
            if outcome.overdue_fine:
                texts.append(screen_text(Screen.OVERDUE_FINE, ctx.language,
                                         _money(outcome.overdue_fine, "VND")))  # fmt: skip
            if alert:
                texts.append(screen_text(Screen.HOLD_SHELF, ctx.language))
        else:
            refusal = outcome.refusal or Refusal.NOT_ON_LOAN
            ctx.result = refusal.value
            texts = [screen_text(refusal, ctx.language)]
        reply.fields += [("AF", text) for text in texts]
        return reply

    @staticmethod
    def _return_date(ctx: _Context) -> datetime:
        """When a copy came back: now, unless the kiosk says it is sending a transaction
        it stored while offline (no block Y) with an earlier return date. A kiosk's clock
        is not trusted otherwise (a wrong one would waive fines), nor a date that cannot
        be shown in local time."""
        if ctx.message.fixed.get("no_block", "N") != "Y":
            return ctx.now
        when = parse_date(ctx.message.fixed.get("return_date", ""))
        if when is None:
            return ctx.now
        if when.tzinfo is not None:
            try:
                when = when.astimezone().replace(tzinfo=None)
            except (OverflowError, ValueError, OSError):
                return ctx.now
        return when if when < ctx.now else ctx.now

    def _item_info(self, ctx: _Context, backend: CirculationBackend) -> Message:
        barcode = ctx.message.get("AB", "") or ""
        item = backend.item(ctx.account.library, barcode)
        state = f"{item.state.value:02d}" if item else "01"
        reply = response("18", ctx.now, circulation_status=state, security_marker="02",
                         fee_type="01")  # fmt: skip
        self._item_fields(reply, item, barcode)
        if item is None:
            ctx.result = Refusal.UNKNOWN_ITEM.value
            reply.fields.append(("AF", screen_text(Refusal.UNKNOWN_ITEM, ctx.language)))
            return reply
        if item.hold_queue:
            reply.fields.append(("CF", _count(item.hold_queue)))
        if item.due is not None:
            reply.fields.append(("AH", sip_date(item.due)))
        reply.fields += [("CK", item.media_type), ("AQ", item.location)]
        if item.properties:
            reply.fields.append(("CH", item.properties))
        return reply

    def _item_status_update(self, ctx: _Context, backend: CirculationBackend) -> Message:
        barcode = ctx.message.get("AB", "") or ""
        item = backend.update_item_properties(ctx.account.library, barcode,
                                              ctx.message.get("CH", "") or "", ctx.now)  # fmt: skip
        reply = response("20", ctx.now, item_properties_ok="1" if item else "0")
        self._item_fields(reply, item, barcode)
        if item is None:
            ctx.result = Refusal.UNKNOWN_ITEM.value
        key = Screen.PROPERTIES_SAVED if item else Refusal.UNKNOWN_ITEM
        reply.fields.append(("AF", screen_text(key, ctx.language)))
        return reply

    def _hold(self, ctx: _Context, backend: CirculationBackend) -> Message:
        patron, refused = self._guarded_patron(ctx, backend)
        barcode = ctx.message.get("AB", "") or ""
        reply = response("16", ctx.now, ok="0", available="N")
        reply.fields += [("AO", ctx.account.library), ("AA", ctx.message.get("AA", "") or "")]
        if patron is None or refused:
            reply.fields.append(("AF", refused or ""))
            return reply
        mode = ctx.message.fixed.get("hold_mode", "+")
        if mode not in _HOLD_MODES:
            ctx.result = Refusal.NOT_SUPPORTED.value
            reply.fields += [("AB", barcode),
                             ("AF", screen_text(Refusal.NOT_SUPPORTED, ctx.language))]  # fmt: skip
            return reply
        pickup = ctx.message.get("BS", "") or ""
        if mode == "-":
            outcome = backend.cancel_hold(ctx.account.library, patron.barcode, barcode, ctx.now)
            done = Screen.HOLD_CANCELLED
        else:
            outcome = backend.place_hold(ctx.account.library, patron.barcode, barcode, ctx.now,
                                         pickup)  # fmt: skip
            done = Screen.HOLD_PLACED
        reply.fixed.update(ok="1" if outcome.ok else "0", available=_flag(outcome.available))
        if outcome.expires is not None:
            reply.fields.append(("BW", sip_date(outcome.expires)))
        if outcome.queue_position is not None:
            reply.fields.append(("BR", str(outcome.queue_position)))
        if outcome.pickup_location:
            reply.fields.append(("BS", outcome.pickup_location))
        reply.fields.append(("AB", barcode))
        if outcome.item is not None:
            reply.fields.append(("AJ", outcome.item.title))
        if outcome.ok:
            reply.fields.append(("AF", screen_text(done, ctx.language)))
        else:
            refusal = outcome.refusal or Refusal.NOT_SUPPORTED
            ctx.result = refusal.value
            reply.fields.append(("AF", screen_text(refusal, ctx.language)))
        return reply


#: Request command -> the Session method answering it once the session may circulate.
_HANDLERS: dict[str, Callable[[Session, _Context, CirculationBackend], Message]] = {
    "23": Session._patron_status,
    "63": Session._patron_info,
    "11": Session._checkout,
    "09": Session._checkin,
    "29": Session._renew,
    "65": Session._renew_all,
    "17": Session._item_info,
    "19": Session._item_status_update,
    "25": Session._patron_enable,
    "15": Session._hold,
    "35": Session._end_session,
    "37": Session._fee_paid,
    "01": Session._block_patron,
}
assert set(_HANDLERS) == set(_CIRCULATION) and set(RESPONSE_OF) >= set(_HANDLERS)
