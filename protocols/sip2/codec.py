"""SIP2 2.00 messages from and to bytes (sans-IO): the grammar as data, tolerant reading.

A message is a two-digit command, fixed-width fields in the specification's order,
variable fields (two-letter id, value, ``|``) in any order, and, with error detection on,
``AY`` (a sequence digit) and ``AZ`` (a checksum) before the terminator. :data:`MESSAGES`
holds every message's layout, so decoding and encoding are the same table read both ways.

Real kiosks bend the grammar, and a strict reader leaves them hanging until they time
out; this one accepts what the reference lists: CR, LF or CRLF terminators; no AY/AZ;
a stray ``|`` after the fixed fields and empty fields; an 18-space blank date; checksums
over characters instead of bytes. It still refuses what cannot be read safely: NUL bytes,
fixed fields cut short, a wrong checksum.

Text is decoded and encoded in the account's character set: UTF-8, cp850 (the
specification's default), Latin-1, or ASCII with Vietnamese marks folded away (đ -> d),
for kiosks whose screens show nothing else. Field values are capped at 255 bytes, cut at
a character boundary.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .errors import Problem, SIP2Error

__all__ = [
    "Charset",
    "Fixed",
    "MessageSpec",
    "MESSAGES",
    "FIELD_NAMES",
    "REPEATABLE",
    "Message",
    "LineFramer",
    "checksum",
    "decode_message",
    "encode_message",
    "sip_date",
    "parse_date",
]

MAX_FIELD_BYTES = 255
#: Longest message accepted before its terminator (a checkout is under 300 bytes).
MAX_MESSAGE_BYTES = 16 * 1024
DATE = 18  # YYYYMMDDZZZZHHMMSS


class Charset(StrEnum):
    """Character sets an account may use on the wire."""

    UTF8 = "utf-8"
    CP850 = "cp850"
    LATIN1 = "latin-1"
    ASCII = "ascii"  #: Vietnamese folded to plain letters (Nguyễn Văn Đức -> Nguyen Van Duc)


@dataclass(frozen=True, slots=True)
class Fixed:
    """One fixed-width field."""

    name: str
    width: int


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """The layout of one message: fixed fields in order, required and optional field ids."""

    code: str
    name: str
    fixed: tuple[Fixed, ...]
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()


def _spec(code: str, name: str, fixed: str, required: str = "", optional: str = "") -> MessageSpec:
    """A spec from compact text: fixed fields as ``name:width`` words, ids as words."""
    fields = tuple(Fixed(n, int(w)) for n, w in (item.split(":") for item in fixed.split()))
    return MessageSpec(code, name, fields, frozenset(required.split()),
                       frozenset(optional.split()))  # fmt: skip


_STATUS = "patron_status:14 language:3 transaction_date:18"
_CHECKOUT_RESPONSE = "ok:1 renewal_ok:1 magnetic_media:1 desensitize:1 transaction_date:18"
_CHECKOUT_RESPONSE_IDS = ("AO AA AB AJ AH", "BT CI BH BV CK CH BK AF AG")

#: Every message of SIP2 2.00 (requests from the SC, responses from the ACS), by command.
MESSAGES: dict[str, MessageSpec] = {spec.code: spec for spec in (
    _spec("93", "login", "uid_algorithm:1 pwd_algorithm:1", "CN CO", "CP"),
    _spec("94", "login response", "ok:1"),
    _spec("99", "sc status", "status_code:1 max_print_width:3 protocol_version:4"),
    _spec("98", "acs status", "online_status:1 checkin_ok:1 checkout_ok:1 "
          "acs_renewal_policy:1 status_update_ok:1 offline_ok:1 timeout_period:3 "
          "retries_allowed:3 date_time_sync:18 protocol_version:4", "AO BX", "AM AN AF AG"),
    _spec("23", "patron status", "language:3 transaction_date:18", "AO AA AC AD"),
    _spec("24", "patron status response", _STATUS, "AO AA AE", "BL CQ BH BV AF AG"),
    _spec("63", "patron information", "language:3 transaction_date:18 summary:10", "AO AA",
          "AC AD BP BQ"),
    _spec("64", "patron information response", _STATUS + " hold_items_count:4 "
          "overdue_items_count:4 charged_items_count:4 fine_items_count:4 "
          "recall_items_count:4 unavailable_holds_count:4", "AO AA AE",
          "BZ CA CB BL CQ BH BV CC AS AT AU AV BU CD BD BE BF AF AG"),
    _spec("11", "checkout", "sc_renewal_policy:1 no_block:1 transaction_date:18 "
          "nb_due_date:18", "AO AA AB AC", "CH AD BO BI"),
    _spec("12", "checkout response", _CHECKOUT_RESPONSE, *_CHECKOUT_RESPONSE_IDS),
    _spec("09", "checkin", "no_block:1 transaction_date:18 return_date:18", "AP AO AB AC",
          "CH BI"),
    _spec("10", "checkin response", "ok:1 resensitize:1 magnetic_media:1 alert:1 "
          "transaction_date:18", "AO AB AQ", "AJ CL AA CK CH AF AG"),
    _spec("29", "renew", "third_party_allowed:1 no_block:1 transaction_date:18 "
          "nb_due_date:18", "AO AA", "AD AB AJ AC CH BO"),
    _spec("30", "renew response", _CHECKOUT_RESPONSE, *_CHECKOUT_RESPONSE_IDS),
    _spec("65", "renew all", "transaction_date:18", "AO AA", "AD AC BO"),
    _spec("66", "renew all response", "ok:1 renewed_count:4 unrenewed_count:4 "
          "transaction_date:18", "AO", "BM BN AF AG"),
    _spec("17", "item information", "transaction_date:18", "AO AB", "AC"),
    _spec("18", "item information response", "circulation_status:2 security_marker:2 "
          "fee_type:2 transaction_date:18", "AB AJ",
          "CF AH CJ CM BG BH BV CK AQ AP CH AF AG"),
    _spec("19", "item status update", "transaction_date:18", "AO AB CH", "AC"),
    _spec("20", "item status update response", "item_properties_ok:1 transaction_date:18",
          "AB", "AJ CH AF AG"),
    _spec("25", "patron enable", "transaction_date:18", "AO AA", "AC AD"),
    _spec("26", "patron enable response", _STATUS, "AO AA AE", "BL CQ AF AG"),
    _spec("15", "hold", "hold_mode:1 transaction_date:18", "AO AA",
          "BW BS BY AD AB AJ AC BO"),
    _spec("16", "hold response", "ok:1 available:1 transaction_date:18", "AO AA",
          "BW BR BS AB AJ AF AG"),
    _spec("35", "end patron session", "transaction_date:18", "AO AA", "AC AD"),
    _spec("36", "end session response", "end_session:1 transaction_date:18", "AO AA",
          "AF AG"),
    _spec("37", "fee paid", "transaction_date:18 fee_type:2 payment_type:2 currency_type:3",
          "BV AO AA", "AC AD CG BK"),
    _spec("38", "fee paid response", "payment_accepted:1 transaction_date:18", "AO AA",
          "BK AF AG"),
    _spec("01", "block patron", "card_retained:1 transaction_date:18", "AO AL AA AC"),
    _spec("97", "request acs resend", ""),
    _spec("96", "request sc resend", ""),
)}  # fmt: skip

#: Variable field ids and what they hold, for logs and documentation.
FIELD_NAMES: dict[str, str] = dict(
    re.findall(
        r"([A-Z]{2})=(.+?)(?= [A-Z]{2}=|$)",
        (
            "AA=patron identifier AB=item identifier AC=terminal password AD=patron password "
            "AE=personal name AF=screen message AG=print line AH=due date AJ=title identifier "
            "AL=blocked card message AM=library name AN=terminal location AO=institution id "
            "AP=current location AQ=permanent location AS=hold items AT=overdue items "
            "AU=charged items AV=fine items BD=home address BE=e-mail address BF=home phone "
            "BG=owner BH=currency type BI=cancel BK=transaction id BL=valid patron "
            "BM=renewed items BN=unrenewed items BO=fee acknowledged BP=start item BQ=end item "
            "BR=queue position "
            "BS=pickup location BT=fee type BU=recall items BV=fee amount BW=expiration date "
            "BX=supported messages BY=hold type BZ=hold items limit CA=overdue items limit "
            "CB=charged items limit CC=fee limit CD=unavailable hold items CF=hold queue length "
            "CG=fee identifier CH=item properties CI=security inhibit CJ=recall date "
            "CK=media type CL=sort bin CM=hold pickup date CN=login user id CO=login password "
            "CP=location code CQ=valid patron password"
        ),
    )
)
#: Fields that may appear more than once in one message.
REPEATABLE = frozenset("AF AG AS AT AU AV BU CD BM BN".split())
#: Fields whose values are secrets: never logged, never in an error.
SECRET_FIELDS = frozenset({"AC", "AD", "CO"})

#: AY and AZ at the end. Some clients (PyPI ``sip2``) drop the checksum's leading zeros,
#: so one to four hex digits are read and compared as a number.
_TRAILER = re.compile(rb"(?:\|?AY([0-9])AZ([0-9A-Fa-f]{1,4})|\|?AZ([0-9A-Fa-f]{1,4}))$")


@dataclass(slots=True)
class Message:
    """One message: its command, fixed fields by name, and variable fields in order."""

    code: str
    fixed: dict[str, str] = field(default_factory=dict)
    fields: list[tuple[str, str]] = field(default_factory=list)
    sequence: str | None = None  #: AY, when error detection was used
    checksum: str | None = None  #: AZ as sent (four hex digits), when error detection was used

    @property
    def spec(self) -> MessageSpec:
        """The message's layout."""
        return MESSAGES[self.code]

    def get(self, field_id: str, default: str | None = None) -> str | None:
        """The first value of ``field_id`` (None or ``default`` when absent)."""
        return next((value for fid, value in self.fields if fid == field_id), default)

    def all(self, field_id: str) -> list[str]:
        """Every value of a repeatable field, in order."""
        return [value for fid, value in self.fields if fid == field_id]

    @property
    def missing(self) -> list[str]:
        """Required field ids the message does not carry (tolerated; the session decides)."""
        present = {fid for fid, _ in self.fields}
        return sorted(self.spec.required - present)


# -- checksums ----------------------------------------------------------------------------


def checksum(data: bytes) -> str:
    """The AZ value for ``data`` (everything from the command through "AZ"): the two's
    complement of the byte sum's low 16 bits, as four upper-case hex digits."""
    return f"{(-sum(data)) & 0xFFFF:04X}"


def _character_checksum(text: str) -> str:
    """The checksum some kiosks compute: over characters (code points), not bytes."""
    return f"{(-sum(ord(c) for c in text)) & 0xFFFF:04X}"


# -- text ---------------------------------------------------------------------------------

_FOLD = str.maketrans({"đ": "d", "Đ": "D"})


def _ascii_fold(text: str) -> str:
    """Vietnamese (and other marked) letters as plain ASCII letters: marks dropped, đ -> d."""
    decomposed = unicodedata.normalize("NFD", text.translate(_FOLD))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.encode("ascii", "replace").decode("ascii")


def _encode_text(text: str, charset: Charset, limit: int | None = None) -> bytes:
    """``text`` in ``charset`` ("?" for what it cannot carry), at most ``limit`` bytes,
    never cutting a character."""
    if charset is Charset.ASCII:
        text = _ascii_fold(text)
    data = unicodedata.normalize("NFC", text).encode(charset.value, "replace")
    if limit is None or len(data) <= limit:
        return data
    cut = data[:limit]
    if charset is Charset.UTF8:
        cut = cut.decode("utf-8", "ignore").encode("utf-8")
    return cut


def _decode_text(data: bytes, charset: Charset) -> str:
    """Bytes from the wire as NFC text (undecodable bytes replaced, never an exception)."""
    codec = "latin-1" if charset is Charset.ASCII else charset.value
    return unicodedata.normalize("NFC", data.decode(codec, "replace"))


# -- decoding -----------------------------------------------------------------------------


def decode_message(
    line: bytes, charset: Charset = Charset.UTF8, *, error_detection: bool = True
) -> Message:
    """One message (without its terminator) to a :class:`Message`.

    Without ``error_detection`` (an account whose kiosk sends no AY/AZ) the whole line is
    fields: a last field whose data ends in "AZ" and hex digits is data, not a checksum.
    With it, a bare AZ (no AY) counts only where a field can start: after a "|" or right
    after the fixed fields.

    Raises SIP2Error: UNKNOWN_MESSAGE for a command SIP2 does not define (to be ignored),
    BAD_CHECKSUM for an AZ that matches neither the byte nor the character sum, MALFORMED
    for NUL bytes or fixed fields cut short.
    """
    if b"\x00" in line:
        raise SIP2Error(Problem.MALFORMED, "NUL byte")
    code = line[:2].decode("ascii", "replace")
    spec = MESSAGES.get(code)
    if spec is None:
        raise SIP2Error(Problem.UNKNOWN_MESSAGE, repr(code))
    body = line
    sequence = None
    trailer = _TRAILER.search(line, 2) if error_detection else None
    fixed_end = 2 + sum(fixed.width for fixed in spec.fixed)
    if trailer is not None and trailer.group(3) is not None and trailer.start() != fixed_end:
        if line[trailer.start() : trailer.start() + 1] != b"|":
            trailer = None  # "AZ" and hex digits ending the last field's data
    if trailer is not None:
        sequence = trailer.group(1).decode() if trailer.group(1) else None
        digits = trailer.group(2) or trailer.group(3)
        given = f"{int(digits, 16):04X}"
        signed = line[: trailer.end() - len(digits)]  # through "AZ"
        if given not in (checksum(signed), _character_checksum(_decode_text(signed, charset))):
            raise SIP2Error(Problem.BAD_CHECKSUM, given)
        body = line[: trailer.start()]
    message = Message(code, sequence=sequence, checksum=given if trailer else None)
    pos = 2
    for fixed in spec.fixed:
        value = body[pos : pos + fixed.width]
        if len(value) < fixed.width:
            raise SIP2Error(Problem.MALFORMED, f"fixed field {fixed.name} cut short")
        message.fixed[fixed.name] = _decode_text(value, charset)
        pos += fixed.width
    for part in body[pos:].split(b"|"):
        if len(part) < 2:
            continue  # a stray "|" or an empty field
        field_id = part[:2].decode("ascii", "replace")
        message.fields.append((field_id, _decode_text(part[2:], charset)))
    return message


# -- encoding -----------------------------------------------------------------------------


def encode_message(
    message: Message,
    charset: Charset = Charset.UTF8,
    *,
    error_detection: bool = True,
    terminator: bytes = b"\r",
) -> bytes:
    """A message as bytes: fixed fields padded or cut to width, variable fields capped
    at 255 bytes, AY (when the message has a sequence) and AZ when error detection is on.

    The checksum is always over bytes.
    """
    spec = message.spec
    parts = [message.code.encode("ascii")]
    for fixed in spec.fixed:
        value = message.fixed.get(fixed.name, "")
        encoded = _encode_text(value, charset, fixed.width).ljust(fixed.width, b" ")
        parts.append(encoded[: fixed.width])
    for field_id, value in message.fields:
        clean = value.replace("|", "/").replace("\r", " ").replace("\n", " ")
        parts.append(field_id.encode("ascii") + _encode_text(clean, charset, MAX_FIELD_BYTES))
        parts.append(b"|")
    data = b"".join(parts)
    if error_detection:
        if message.sequence is not None:
            data += b"AY" + message.sequence.encode("ascii")
        data += b"AZ"
        data += checksum(data).encode("ascii")
    return data + terminator


# -- framing ------------------------------------------------------------------------------


class LineFramer:
    """Messages out of a byte stream: CR, LF or CRLF ends one; empty lines are skipped.

    ``feed`` raises SIP2Error(TOO_LONG) when more than ``limit`` bytes arrive without a
    terminator: the connection cannot be resynchronised then.
    """

    def __init__(self, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self.terminator = b"\r"  #: the last one seen (a reply uses the kiosk's own)
        self._after_cr = False  # the last read ended right after a CR terminator

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the complete messages it finished, in order."""
        self._buffer.extend(data)
        lines: list[bytes] = []
        if self._after_cr and self._buffer[:1] == b"\n":  # a CRLF split across reads
            self.terminator = b"\r\n"
            del self._buffer[:1]
        self._after_cr = False
        while True:
            ends = [i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0]
            if not ends:
                break
            end = min(ends)
            line = bytes(self._buffer[:end])
            size = 1
            if self._buffer[end : end + 2] == b"\r\n":
                size = 2
            if len(line) > self.limit:
                raise SIP2Error(Problem.TOO_LONG, f"over {self.limit} bytes")
            if line:
                self.terminator = bytes(self._buffer[end : end + size])
                lines.append(line)
            del self._buffer[: end + size]
            self._after_cr = size == 1 and not self._buffer and self.terminator == b"\r"
        if len(self._buffer) > self.limit:
            raise SIP2Error(Problem.TOO_LONG, f"over {self.limit} bytes")
        return lines


# -- dates --------------------------------------------------------------------------------


def sip_date(moment: datetime) -> str:
    """A SIP2 date, ``YYYYMMDDZZZZHHMMSS``: local time with a blank zone, as preferred."""
    return moment.strftime("%Y%m%d    %H%M%S")


_DATE = re.compile(r"^([0-9]{8})(.{4})([0-9]{6})$")


def parse_date(text: str) -> datetime | None:
    """A SIP2 date as a datetime (naive: local time; UTC when the zone says Z), or None
    for a blank, all-zero or impossible date."""
    match = _DATE.match(text)
    if not match or text.strip("0 ") == "":
        return None
    try:
        moment = datetime.strptime(match.group(1) + match.group(3), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    if match.group(2).strip() == "Z":
        from datetime import UTC

        return moment.replace(tzinfo=UTC)
    return moment
