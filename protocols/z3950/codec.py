"""Z39.50 APDUs from and to BER bytes (sans-IO), on the module in ``z3950.asn``.

Decoded APDUs are ``(name, value)`` pairs exactly as asn1tools gives them: the APDU's
alternative name in ``PDU`` (``"searchRequest"``) and a dict keyed by the standard's field
names. Three conventions of asn1tools show through, and the helpers here hide them:

* InternationalString (GeneralString) values travel as ``str`` holding one character per
  byte (Latin-1); :func:`wire_text` and :func:`text_of` convert to and from real text in
  the session's encoding.
* BIT STRINGs are ``(bytes, bit count)``; :func:`bits_of` and :func:`bit_string` convert.
* EXTERNALs are dicts whose ``encoding`` is a CHOICE; :func:`external` builds one.

Anything that is not a well-formed APDU of a service this target offers raises
:class:`~.errors.ProtocolViolation` naming what was wrong, never an asn1tools exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import asn1tools

from .ber import definite_lengths, length_octets, split_header
from .errors import ProtocolViolation

__all__ = [
    "Apdu",
    "EncodedRecords",
    "SPEC",
    "APDU_TAGS",
    "UNSUPPORTED_APDUS",
    "decode_apdu",
    "encode_apdu",
    "decode_value",
    "encode_value",
    "wire_text",
    "text_of",
    "bits_of",
    "bit_string",
    "external",
]

Apdu = tuple[str, dict[str, Any]]

SPEC = asn1tools.compile_string(
    files(__package__).joinpath("z3950.asn").read_text(encoding="utf-8"), "ber"
)

#: Outer tag octets of the APDUs this target decodes, by APDU name.
APDU_TAGS: dict[int, str] = {
    20: "initRequest", 21: "initResponse", 22: "searchRequest", 23: "searchResponse",
    24: "presentRequest", 25: "presentResponse", 26: "deleteResultSetRequest",
    27: "deleteResultSetResponse", 35: "scanRequest", 36: "scanResponse",
    43: "sortRequest", 44: "sortResponse", 48: "close",
}  # fmt: skip
#: APDUs of the standard this target does not offer, by context tag (answered with Close).
UNSUPPORTED_APDUS: dict[int, str] = {
    28: "accessControlRequest", 29: "accessControlResponse", 30: "resourceControlRequest",
    31: "resourceControlResponse", 32: "triggerResourceControlRequest",
    33: "resourceReportRequest", 34: "resourceReportResponse", 45: "segmentRequest",
    46: "extendedServicesRequest", 47: "extendedServicesResponse",
    49: "duplicateDetectionRequest", 50: "duplicateDetectionResponse",
}  # fmt: skip


def _tag_number(data: bytes) -> int | None:
    """The context tag number of the APDU's outer tag (None when not context class)."""
    if not data or data[0] & 0xC0 != 0x80:
        return None
    if data[0] & 0x1F != 0x1F:
        return data[0] & 0x1F
    number = 0
    for octet in data[1:5]:
        number = (number << 7) | (octet & 0x7F)
        if not octet & 0x80:
            return number
    return None


def decode_apdu(data: bytes) -> Apdu:
    """One framed APDU's bytes to ``(name, value)``.

    Raises ProtocolViolation for an APDU of a service not offered, an unknown tag, or
    contents that do not follow the ASN.1 (the message says which APDU and why).
    """
    number = _tag_number(data)
    if number in UNSUPPORTED_APDUS:
        raise ProtocolViolation(f"{UNSUPPORTED_APDUS[number]} is not supported by this target")
    if number not in APDU_TAGS:
        raise ProtocolViolation(f"unknown APDU (tag {number if number is not None else '?'})")
    what = APDU_TAGS[number]
    try:
        try:
            name, value = SPEC.decode("PDU", data)
        except (asn1tools.Error, ValueError, IndexError, TypeError) as exc:
            if b"\x80" not in data:
                raise ProtocolViolation(f"malformed {what}: {_reason(exc)}") from None
            # asn1tools reads indefinite lengths except inside an ANY: rewrite and retry.
            try:
                name, value = SPEC.decode("PDU", definite_lengths(data))
            except (asn1tools.Error, ValueError, IndexError, TypeError):
                raise ProtocolViolation(f"malformed {what}: {_reason(exc)}") from None
    except RecursionError:
        raise ProtocolViolation(f"{what} is nested too deeply") from None
    _check_integers(value, what)
    return name, value


#: INTEGER values beyond this are lies (no count, position or size is that large), and
#: Python refuses to print integers of over 4,300 digits, which diagnostics would need.
_INTEGER_LIMIT = 2**63


def _check_integers(value: Any, what: str) -> None:
    """Refuse an APDU carrying an INTEGER outside 64 bits (walked without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, int):
            if not -_INTEGER_LIMIT <= item < _INTEGER_LIMIT:
                raise ProtocolViolation(f"an INTEGER out of range in {what}")
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _reason(exc: Exception) -> str:
    """asn1tools' message, shortened (it can quote a lot of the input)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


@dataclass(frozen=True, slots=True)
class EncodedRecords:
    """A responseRecords list whose NamePlusRecords are already BER (``items``).

    Records are most of a Present's bytes and most of its encoding time; encoded once and
    cached (see ``records.RenderCache``), they are spliced into the response as they are.
    """

    items: list[bytes]


_RESPONSE_RECORDS_TAG = b"\xbc"  # [28] IMPLICIT SEQUENCE OF NamePlusRecord (constructed)


def encode_apdu(name: str, value: dict[str, Any]) -> bytes:
    """``(name, value)`` to BER bytes (definite lengths).

    A ``records`` value of ``("responseRecords", EncodedRecords)`` is spliced in after the
    other fields, which is its place when neither additionalSearchInfo nor otherInfo
    follows it (the target sends neither).
    """
    records = value.get("records")
    if records is None or not isinstance(records[1], EncodedRecords):
        return bytes(SPEC.encode("PDU", (name, value)))
    assert "otherInfo" not in value and "additionalSearchInfo" not in value
    rest = {key: item for key, item in value.items() if key != "records"}
    head = bytes(SPEC.encode("PDU", (name, rest)))
    tag, start = split_header(head)
    inner = b"".join(records[1].items)
    body = head[start:] + _RESPONSE_RECORDS_TAG + length_octets(len(inner)) + inner
    return tag + length_octets(len(body)) + body


def decode_value(type_name: str, data: bytes) -> Any:
    """A value of another type of the module (the contents of an EXTERNAL's ANY)."""
    try:
        return SPEC.decode(type_name, bytes(data))
    except (asn1tools.Error, ValueError, IndexError, TypeError) as exc:
        raise ProtocolViolation(f"malformed {type_name}: {_reason(exc)}") from None
    except RecursionError:
        raise ProtocolViolation(f"{type_name} is nested too deeply") from None


def encode_value(type_name: str, value: Any) -> bytes:
    """Encode a value of another type of the module (to carry in an EXTERNAL)."""
    return bytes(SPEC.encode(type_name, value))


def wire_text(text: str, encoding: str = "utf-8") -> str:
    """Text as asn1tools wants an InternationalString: its bytes, one char per byte."""
    return text.encode(encoding, "replace").decode("latin-1")


def text_of(value: str | bytes, encoding: str = "utf-8") -> str:
    """An InternationalString (or OCTET STRING) as text, undecodable bytes replaced."""
    raw = value.encode("latin-1") if isinstance(value, str) else bytes(value)
    return raw.decode(encoding, "replace")


def bits_of(value: tuple[bytes, int] | None) -> set[int]:
    """The numbers of the bits set in a BIT STRING (bit 0 is the first, most significant)."""
    if not value:
        return set()
    data, count = value
    return {i for i in range(min(count, len(data) * 8)) if data[i // 8] & (0x80 >> (i % 8))}


def bit_string(bits: set[int], length: int) -> tuple[bytes, int]:
    """A BIT STRING of ``length`` bits with ``bits`` set."""
    data = bytearray((length + 7) // 8)
    for bit in bits:
        if bit < length:
            data[bit // 8] |= 0x80 >> (bit % 8)
    return bytes(data), length


def external(oid: str, *, octets: bytes | None = None, asn1: bytes | None = None) -> dict[str, Any]:
    """An EXTERNAL naming ``oid``: octet-aligned ``octets`` or an encoded ASN.1 value."""
    if octets is not None:
        return {"direct-reference": oid, "encoding": ("octet-aligned", octets)}
    assert asn1 is not None
    return {"direct-reference": oid, "encoding": ("single-ASN1-type", asn1)}
