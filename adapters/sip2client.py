"""The client side of SIP2, sans-IO: requests to bytes, reply bytes to typed views.

The gateway's own SIP2 codec (:mod:`protocols.sip2.codec`) reads and writes the messages;
this module adds what a *client* needs on top of it: a sequence number (AY) per request,
the 96/97 resend rules seen from the kiosk's side, and the reading of an upstream ILS's
replies into the circulation interface's views. No sockets here, so every rule is tested
with bytes alone; :mod:`adapters.sip2upstream` does the talking.

Upstream servers differ in what they put in a reply (Koha, Evergreen, another lienthong),
so reading is tolerant: blank counts mean "unknown", dates may be SIP2 dates or ISO text,
amounts may use a comma, and a refusal is recognised from the screen message (AF) by the
wording of the servers we know, falling back to the operation's most likely reason.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from gateway.circulation import (
    Capability,
    FeeView,
    HoldView,
    ItemState,
    ItemView,
    PatronFlag,
    PatronView,
    Refusal,
)
from protocols.sip2.codec import (
    MESSAGES,
    Charset,
    LineFramer,
    Message,
    decode_message,
    encode_message,
    parse_date,
    sip_date,
)
from protocols.sip2.errors import Problem, SIP2Error
from protocols.sip2.screens import screen_text

__all__ = [
    "BLANK_DATE",
    "BX_CAPABILITIES",
    "ClientChannel",
    "Garbled",
    "Reply",
    "ResendAsked",
    "capabilities_of",
    "fee_of",
    "flags_of",
    "item_of",
    "money",
    "patron_of",
    "refusal_of",
    "request",
    "when_of",
]

BLANK_DATE = " " * 18
#: BX positions in the specification's order and the capability each one grants.
BX_CAPABILITIES: tuple[tuple[str, Capability | None], ...] = (
    ("23", Capability.PATRON_STATUS), ("11", Capability.CHECKOUT), ("09", Capability.CHECKIN),
    ("01", Capability.BLOCK_PATRON), ("99", None), ("97", None), ("93", None),
    ("63", Capability.PATRON_INFO), ("35", Capability.END_SESSION),
    ("37", Capability.FEE_PAID), ("17", Capability.ITEM_INFO),
    ("19", Capability.ITEM_STATUS_UPDATE), ("25", Capability.PATRON_ENABLE),
    ("15", Capability.HOLD), ("29", Capability.RENEW), ("65", Capability.RENEW_ALL),
)  # fmt: skip
#: SIP2 language codes read as English; everything else is Vietnamese first.
_ENGLISH = frozenset({"001", "024"})


# -- requests -----------------------------------------------------------------------------


def request(code: str, when: datetime | None = None, **fixed: str) -> Message:
    """A request ``code`` with its fixed fields: dates default to ``when`` (or blank),
    every other fixed field to ``fixed`` or blanks. Variable fields are appended by the
    caller, in order."""
    values: dict[str, str] = {}
    for spec in MESSAGES[code].fixed:
        if spec.name in fixed:
            values[spec.name] = fixed[spec.name]
        elif spec.name in ("transaction_date", "return_date"):
            values[spec.name] = sip_date(when) if when else BLANK_DATE
        else:
            values[spec.name] = " " * spec.width
    return Message(code, values)


# -- the channel --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """A readable message from the upstream server."""

    message: Message


@dataclass(frozen=True, slots=True)
class Garbled:
    """A line that could not be read (a wrong checksum, a cut fixed field): ask again (97)."""

    problem: Problem


@dataclass(frozen=True, slots=True)
class ResendAsked:
    """The server sent 96: it could not read our last request, so send it again."""


Event = Reply | Garbled | ResendAsked


class ClientChannel:
    """One upstream connection's SIP2 state, without the socket.

    :meth:`encode` numbers each request (AY 0-9, wrapping, when error detection is on) and
    keeps its bytes so that :meth:`last_request` can be sent again unchanged when the
    server answers 96 on the same connection. It is never sent on another connection: a
    server remembers its last exchange per connection only, so there a copy would be a
    second request. :meth:`feed` turns received bytes into events.
    """

    def __init__(
        self, charset: Charset, terminator: bytes = b"\r", *, error_detection: bool = True
    ) -> None:
        self.charset = charset
        self.terminator = terminator
        self.error_detection = error_detection
        self.framer = LineFramer()
        self.sequence = -1
        self.last_request = b""
        self.last_sequence: str | None = None
        #: Bytes of an unfinished line are waiting in the framer (a reply cut mid-way).
        self.partial = False

    def encode(self, message: Message) -> bytes:
        """``message`` as bytes with the next sequence number; remembered for resending."""
        if self.error_detection:
            self.sequence = (self.sequence + 1) % 10
            message.sequence = str(self.sequence)
        else:
            message.sequence = None
        self.last_sequence = message.sequence
        self.last_request = encode_message(message, self.charset,
                                           error_detection=self.error_detection,
                                           terminator=self.terminator)  # fmt: skip
        return self.last_request

    def resend_request(self) -> bytes:
        """A 97: ask the server to send its last reply again (no AY, per the standard)."""
        return encode_message(Message("97"), self.charset, error_detection=self.error_detection,
                              terminator=self.terminator)  # fmt: skip

    def feed(self, data: bytes) -> list[Event]:
        """Events for the complete lines in ``data`` (unknown commands are skipped)."""
        events: list[Event] = []
        lines = self.framer.feed(data)
        if data:  # the framer keeps whatever follows the last terminator
            self.partial = data[-1:] not in (b"\r", b"\n")
        for line in lines:
            if line[:2] == b"96":
                events.append(ResendAsked())
                continue
            try:
                events.append(Reply(decode_message(line, self.charset)))
            except SIP2Error as error:
                if error.problem is not Problem.UNKNOWN_MESSAGE:
                    events.append(Garbled(error.problem))
        return events

    def answers(self, reply: Message) -> bool:
        """False for a reply that carries another request's sequence number (a late
        answer to something earlier); True when it may answer the last request."""
        if not self.error_detection or reply.sequence is None or self.last_sequence is None:
            return True
        return reply.sequence == self.last_sequence


# -- reading replies ----------------------------------------------------------------------


def flags_of(status: str) -> frozenset[PatronFlag]:
    """The patron flags of a 14-character status (``Y`` at a position: that flag)."""
    return frozenset(flag for flag in PatronFlag
                     if len(status) > flag.value and status[flag.value] == "Y")  # fmt: skip


def money(text: str | None) -> Decimal | None:
    """An amount as servers write it (``12000``, ``12.50``, ``12,50``, ``-3``), or None."""
    cleaned = (text or "").strip().replace(" ", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    cleaned = cleaned.replace(",", "")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _count(text: str | None) -> int | None:
    digits = (text or "").strip()
    return int(digits) if digits.isdigit() else None


_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?")
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{2}):(\d{2}))?")


def when_of(text: str | None) -> datetime | None:
    """A due or expiry date in any form servers use in AH/BW (SIP2's 18 characters,
    ``YYYY-MM-DD[ HH:MM[:SS]]`` as Koha writes it, ``DD/MM/YYYY``), as local time."""
    value = (text or "").strip()
    if not value:
        return None
    parsed = parse_date((text or "")[:18]) if len(text or "") >= 18 else None
    if parsed is not None:
        return parsed.astimezone().replace(tzinfo=None) if parsed.tzinfo else parsed
    try:
        if match := _ISO.match(value):
            y, m, d, hh, mm, ss = match.groups()
            return datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
        if match := _DMY.match(value):
            d, m, y, hh, mm = match.groups()
            return datetime(int(y), int(m), int(d), int(hh or 23), int(mm or 59))
    except ValueError:
        return None
    return None


def capabilities_of(supported: str | None) -> frozenset[Capability]:
    """The capabilities a 98's BX field grants (a missing BX: the core messages only)."""
    if not supported:
        return frozenset({Capability.PATRON_STATUS, Capability.CHECKOUT, Capability.CHECKIN})
    pairs = zip(BX_CAPABILITIES, supported, strict=False)
    return frozenset(capability for (_, capability), flag in pairs
                     if capability is not None and flag == "Y")  # fmt: skip


def _language(code: str | None) -> str:
    return "en" if (code or "").strip() in _ENGLISH else "vi"


def patron_of(
    reply: Message, library: str, lists: dict[str, list[str]] | None = None
) -> PatronView | None:
    """A 24 or 64 as a patron, or None when the server says the patron is unknown.

    ``lists`` holds the item lists read with further 63s (AU, AT, AS, CD, AV); SIP2 has no
    loan dates in them, so loans come from ``loans_of``, not from here.
    """
    valid = reply.get("BL")
    name = reply.get("AE", "") or ""
    if valid == "N" or (valid is None and not name):
        return None
    flags = flags_of(reply.fixed.get("patron_status", ""))
    screens = [text for text in reply.all("AF") if text.strip()]
    lists = lists or {}
    holds = tuple(HoldView(barcode, "", datetime.min, 0, available=True)
                  for barcode in lists.get("AS", []))  # fmt: skip
    holds += tuple(HoldView(barcode, "", datetime.min, 1, available=False)
                   for barcode in lists.get("CD", []))  # fmt: skip
    fees = tuple(fee_of(line, n) for n, line in enumerate(lists.get("AV", []), 1))
    return PatronView(
        library=library,
        barcode=reply.get("AA", "") or "",
        name=name,
        flags=flags,
        language=_language(reply.fixed.get("language")),
        email=reply.get("BE", "") or "",
        phone=reply.get("BF", "") or "",
        address=reply.get("BD", "") or "",
        # The upstream's own words for a blocked card (its language, its reason).
        blocked_message=screens[0] if flags and screens else "",
        currency=(reply.get("BH") or "VND").strip() or "VND",
        fines_total=money(reply.get("BV")) or Decimal(0),
        fee_limit=money(reply.get("CC")),
        loan_limit=_count(reply.get("CB")),
        overdue_limit=_count(reply.get("CA")),
        hold_limit=_count(reply.get("BZ")),
        holds=holds,
        fees=fees,
    )


_AMOUNT = re.compile(r"-?\d+(?:[.,]\d+)?")


def fee_of(line: str, position: int) -> FeeView:
    """One AV line as a fee. lienthong writes ``<fee id> <amount> <description>``; other
    servers write a description with an amount somewhere in it (the fee id is then the
    line's position, which 37's CG cannot use, so such payments go to the oldest fees)."""
    words = line.split(maxsplit=2)
    if len(words) >= 2 and money(words[1]) is not None:
        amount = money(words[1]) or Decimal(0)
        description = words[2] if len(words) > 2 else ""
        return FeeView(words[0], amount, _fee_kind(description), description)
    found = _AMOUNT.findall(line)
    amount = (money(found[-1]) if found else None) or Decimal(0)
    return FeeView(str(position), amount, _fee_kind(line), line.strip())


def _fee_kind(text: str) -> str:
    folded = _fold(text)
    if "overdue" in folded or "qua han" in folded or "late" in folded:
        return "overdue"
    if "lost" in folded or "mat" in folded.split():
        return "lost"
    return "other"


def item_of(reply: Message, library: str) -> ItemView | None:
    """An 18 (or the item fields of 12, 10, 30, 16, 20) as a copy; None for an 18 that
    says the copy is unknown (no title and circulation status 01 "other")."""
    title = reply.get("AJ", "") or ""
    status = reply.fixed.get("circulation_status", "")
    if reply.code == "18" and not title and status.strip() in ("01", "1", "", "00"):
        return None
    try:
        state = ItemState(int(status)) if status.strip().isdigit() else ItemState.OTHER
    except ValueError:
        state = ItemState.OTHER
    return ItemView(
        library=library,
        barcode=reply.get("AB", "") or "",
        title=title,
        state=state,
        location=reply.get("AQ", "") or reply.get("AP", "") or "",
        due=when_of(reply.get("AH")),
        hold_queue=_count(reply.get("CF")) or 0,
        properties=reply.get("CH", "") or "",
        media_type=(reply.get("CK") or "001").strip() or "001",
    )


# -- refusals -----------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower case without marks (đ -> d), so that wording is matched, not spelling."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


#: lienthong's own wording (an upstream that is another lienthong), in both languages.
_LIENTHONG: dict[str, Refusal] = {
    _fold(screen_text(refusal, language)): refusal
    for refusal in Refusal
    for language in ("vi", "en")
}
#: Wording of other servers (Koha, Evergreen, SirsiDynix, ...), tried in order.
_WORDING: tuple[tuple[re.Pattern[str], Refusal], ...] = tuple(
    (re.compile(pattern), refusal) for pattern, refusal in (
        (r"\b(pin|password)\b.*\b(wrong|invalid|incorrect|bad)\b|"
         r"\b(wrong|invalid|incorrect|bad)\b.*\b(pin|password)\b|ma pin", Refusal.WRONG_PIN),
        (r"(invalid|unknown|no such|not found).*(patron|borrower|user|card)|"
         r"(patron|borrower|user|card).*(invalid|unknown|not found)|khong tim thay the",
         Refusal.UNKNOWN_PATRON),
        (r"(invalid|unknown|no such).*(item|barcode|copy)|(item|barcode|copy).*(unknown|"
         r"not found|invalid)|khong tim thay tai lieu", Refusal.UNKNOWN_ITEM),
        (r"already (checked out|issued|on loan|borrowed)|dang muon tai lieu nay",
         Refusal.ALREADY_ON_LOAN),
        (r"(checked out|on loan|issued|charged) to (another|someone)|another (patron|borrower)"
         r".*(loan|checked)|ban doc khac muon", Refusal.ON_LOAN_TO_ANOTHER),
        (r"(hold|reserv|trap).*(another|other|someone)|(on hold|reserved)|dat truoc",
         Refusal.ON_HOLD_FOR_ANOTHER),
        (r"renew.*(limit|too many|no more|maximum|not allowed|denied)|(cannot|can't|not) be "
         r"renewed|gia han toi da", Refusal.RENEWAL_LIMIT),
        (r"not (checked out|loaned|on loan) to (you|this patron)|khong muon tai lieu",
         Refusal.NOT_LOANED_TO_PATRON),
        (r"not (checked out|on loan|issued|charged)|khong duoc ghi muon", Refusal.NOT_ON_LOAN),
        (r"not for loan|reference|not loanable|cannot be (checked out|borrowed)|doc tai cho|"
         r"not circulat", Refusal.ITEM_NOT_FOR_LOAN),
        (r"expired|het han", Refusal.PATRON_EXPIRED),
        (r"overdue|qua han", Refusal.TOO_MANY_OVERDUE),
        (r"fine|fee|debt|owe|\bno phi|balance", Refusal.EXCESSIVE_FINES),
        (r"too many|limit|maximum|toi da", Refusal.TOO_MANY_LOANS),
        (r"block|debar|restrict|suspend|barred|bi khoa|lost card|card lost",
         Refusal.PATRON_BLOCKED),
        (r"not supported|not allowed|disabled|khong duoc ho tro", Refusal.NOT_SUPPORTED),
    )
)  # fmt: skip


def refusal_of(texts: list[str], default: Refusal) -> tuple[Refusal, bool]:
    """The refusal the screen messages ``texts`` say, and whether it was recognised (else
    ``default`` and False, so that the caller may look closer)."""
    for text in texts:
        folded = _fold(text).strip()
        if folded in _LIENTHONG:
            return _LIENTHONG[folded], True
    for text in texts:
        folded = _fold(text)
        for pattern, refusal in _WORDING:
            if pattern.search(folded):
                return refusal, True
    return default, False
