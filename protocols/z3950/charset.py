"""Character set negotiation (Z39.50 Character Set and Language Negotiation, version 3).

A client proposes character sets inside the InitRequest's otherInfo; the target picks one
and says so in the InitResponse, after which terms and records are in that set. Without
it, a Bath level-0 client assumes Latin-1 terms, and copy cataloguers get mojibake, so
this target always answers a proposal: UTF-8 when proposed (the only set that carries
Vietnamese whole), else MARC-8 for older MARC clients that proposed it.

Proposals name a set in one of two ways, both handled: ISO 10646 with an encoding level
OID (UTF-8 is ``1.0.10646.1.0.8``), or YAZ's private form, an EXTERNAL
``1.2.840.10003.15.1000.81.1`` holding the set's name ("UTF-8", "MARC-8").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .codec import decode_value, encode_value, external, text_of
from .errors import ProtocolViolation
from .records import RecordCharset

__all__ = ["NEGOTIATION_OID", "Negotiation", "read_proposal", "negotiation_response"]

NEGOTIATION_OID = "1.2.840.10003.15.3"
UTF8_ENCODING_LEVEL = "1.0.10646.1.0.8"
#: Index Data's private character set naming (the set's name in an octet string).
YAZ_PRIVATE_CHARSET = "1.2.840.10003.15.1000.81.1"
_UTF8_NAMES = frozenset({"utf-8", "utf8"})
_MARC8_NAMES = frozenset({"marc-8", "marc8", "marc8s"})


@dataclass(frozen=True, slots=True)
class Negotiation:
    """What the client proposed: the set names (lower case) and languages."""

    charsets: tuple[str, ...]
    languages: tuple[str, ...]

    @property
    def chosen(self) -> RecordCharset | None:
        """The target's choice among the proposed sets: UTF-8, else MARC-8; None when the
        client proposed neither (it is then told "none", and gets UTF-8 as without
        negotiation: the target will not claim a set the client did not offer)."""
        if any(name in _UTF8_NAMES for name in self.charsets):
            return RecordCharset.UTF8
        if any(name in _MARC8_NAMES for name in self.charsets):
            return RecordCharset.MARC8
        return None


def read_proposal(other_info: list[dict[str, Any]] | None) -> Negotiation | None:
    """The negotiation proposal in an InitRequest's otherInfo, if there is one."""
    for entry in other_info or ():
        kind, value = entry.get("information", (None, None))
        if kind != "externallyDefinedInfo" or value.get("direct-reference") != NEGOTIATION_OID:
            continue
        encoding, contents = value.get("encoding", (None, None))
        if encoding != "single-ASN1-type":
            raise ProtocolViolation("character set negotiation is not an ASN.1 value")
        choice, proposal = decode_value("CharSetandLanguageNegotiation", contents)
        if choice != "proposal":
            raise ProtocolViolation("character set negotiation from a client is not a proposal")
        names = tuple(_charset_name(item) for item in proposal.get("proposedCharSets", ()))
        languages = tuple(text_of(code, "latin-1").strip().lower()
                          for code in proposal.get("proposedlanguages", ()))  # fmt: skip
        return Negotiation(tuple(name for name in names if name), languages)
    return None


def _charset_name(proposed: tuple[str, Any]) -> str:
    """One proposed set as a lower-case name ("" for one this target cannot read)."""
    kind, value = proposed
    if kind == "iso10646":
        return "utf-8" if value.get("encodingLevel") == UTF8_ENCODING_LEVEL else ""
    if kind == "private" and value[0] == "externallySpecified":
        inner = value[1]
        encoding, octets = inner.get("encoding", (None, b""))
        if encoding == "octet-aligned":
            return bytes(octets).decode("latin-1").strip().lower()
    return ""


def negotiation_response(negotiation: Negotiation) -> dict[str, Any]:
    """The otherInfo entry that answers ``negotiation``: the chosen set, records in it."""
    chosen = negotiation.chosen
    selected: tuple[str, Any]
    if chosen is RecordCharset.UTF8:
        selected = ("iso10646", {"encodingLevel": UTF8_ENCODING_LEVEL})
    elif chosen is RecordCharset.MARC8:
        selected = ("private", ("externallySpecified",
                                external(YAZ_PRIVATE_CHARSET, octets=b"MARC-8")))  # fmt: skip
    else:
        selected = ("none", None)
    response: dict[str, Any] = {"selectedCharSets": selected,
                                "recordsInSelectedCharSets": chosen is not None}  # fmt: skip
    if negotiation.languages:
        language = "vie" if "vie" in negotiation.languages else negotiation.languages[0]
        response["selectedLanguage"] = language
    body = encode_value("CharSetandLanguageNegotiation", ("response", response))
    return {"information": ("externallyDefinedInfo", external(NEGOTIATION_OID, asn1=body))}
