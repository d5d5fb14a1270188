"""Building Z39.50 request APDUs for tests, in the decoded form the session takes."""

from __future__ import annotations

from typing import Any

from protocols.z3950.charset import NEGOTIATION_OID, UTF8_ENCODING_LEVEL, YAZ_PRIVATE_CHARSET
from protocols.z3950.codec import (
    Apdu,
    bit_string,
    decode_apdu,
    encode_apdu,
    encode_value,
    external,
    wire_text,
)

BIB1 = "1.2.840.10003.3.1"
USMARC = "1.2.840.10003.5.10"
XML = "1.2.840.10003.5.109.10"
SUTRS = "1.2.840.10003.5.101"
OPAC = "1.2.840.10003.5.102"
GRS1 = "1.2.840.10003.5.105"


def round_trip(apdu: Apdu) -> Apdu:
    """``apdu`` encoded to BER and decoded again: what the session really receives."""
    return decode_apdu(encode_apdu(*apdu))


def init(
    *,
    versions: set[int] | None = None,
    charset: str | None = None,
    user: str | None = None,
    password: str | None = None,
    preferred: int = 1 << 20,
    exceptional: int = 1 << 22,
    options: set[int] | None = None,
) -> Apdu:
    """An InitRequest (v2+v3, all options, optional charset proposal and idPass)."""
    value: dict[str, Any] = {
        "referenceId": b"ref-1",
        "protocolVersion": bit_string(versions if versions is not None else {0, 1, 2}, 3),
        "options": bit_string(options if options is not None else set(range(18)), 18),
        "preferredMessageSize": preferred,
        "exceptionalRecordSize": exceptional,
        "implementationName": "tests",
    }
    if user is not None:
        value["idAuthentication"] = ("idPass", {"userId": user, "password": password or ""})
    if charset is not None:
        proposed: tuple[str, Any]
        if charset == "UTF-8":
            proposed = ("iso10646", {"encodingLevel": UTF8_ENCODING_LEVEL})
        else:
            named = external(YAZ_PRIVATE_CHARSET, octets=charset.encode())
            proposed = ("private", ("externallySpecified", named))
        body = encode_value("CharSetandLanguageNegotiation",
                            ("proposal", {"proposedCharSets": [proposed],
                                          "recordsInSelectedCharSets": True}))  # fmt: skip
        value["otherInfo"] = [{"information": ("externallyDefinedInfo",
                                               external(NEGOTIATION_OID, asn1=body))}]  # fmt: skip
    return round_trip(("initRequest", value))


def term(use: int, text: str, **attributes: int) -> dict[str, Any]:
    """An RPN operand: ``text`` with use attribute ``use`` and others by type number
    (``t2=3`` for relation 3, ``t5=1`` for right truncation...)."""
    attrs = [{"attributeType": 1, "attributeValue": ("numeric", use)}]
    for key, value in attributes.items():
        attrs.append({"attributeType": int(key[1:]), "attributeValue": ("numeric", value)})
    return {"attributes": attrs, "term": ("general", text.encode("utf-8"))}


def rpn(node: Any) -> dict[str, Any]:
    """A Type-1 query of ``node`` (an operand dict, or (op, left, right) tuples)."""

    def structure(item: Any) -> tuple[str, Any]:
        if isinstance(item, tuple):
            op, left, right = item
            return ("rpnRpnOp", {"rpn1": structure(left), "rpn2": structure(right),
                                 "op": (op, None)})  # fmt: skip
        if isinstance(item, str):
            return ("op", ("resultSet", item))
        return ("op", ("attrTerm", item))

    return {"attributeSet": BIB1, "rpn": structure(node)}


def search(
    node: Any,
    *,
    name: str = "default",
    databases: tuple[str, ...] = ("Default",),
    small: int = 0,
    large: int = 1,
    medium: int = 0,
    syntax: str | None = None,
    elements: str | None = None,
    replace: bool = True,
) -> Apdu:
    """A SearchRequest with the given piggy-back bounds."""
    value: dict[str, Any] = {
        "referenceId": b"s",
        "smallSetUpperBound": small,
        "largeSetLowerBound": large,
        "mediumSetPresentNumber": medium,
        "replaceIndicator": replace,
        "resultSetName": name,
        "databaseNames": [wire_text(db) for db in databases],
        "query": ("type-1", rpn(node)),
    }
    if syntax:
        value["preferredRecordSyntax"] = syntax
    if elements:
        value["smallSetElementSetNames"] = ("genericElementSetName", elements)
        value["mediumSetElementSetNames"] = ("genericElementSetName", elements)
    return round_trip(("searchRequest", value))


def present(
    start: int, count: int, *, name: str = "default", syntax: str = USMARC, elements: str = "F"
) -> Apdu:
    """A PresentRequest for records ``start``..``start+count-1``."""
    return round_trip(("presentRequest", {
        "referenceId": b"p", "resultSetId": name, "resultSetStartPoint": start,
        "numberOfRecordsRequested": count,
        "recordComposition": ("simple", ("genericElementSetName", elements)),
        "preferredRecordSyntax": syntax,
    }))  # fmt: skip


def scan(use: int, text: str, *, count: int = 5, position: int = 1, step: int | None = None,
         databases: tuple[str, ...] = ("Default",)) -> Apdu:  # fmt: skip
    """A ScanRequest on ``use`` from ``text``."""
    value: dict[str, Any] = {
        "databaseNames": [wire_text(db) for db in databases],
        "attributeSet": BIB1,
        "termListAndStartPoint": term(use, text),
        "numberOfTermsRequested": count,
        "preferredPositionInResponse": position,
    }
    if step is not None:
        value["stepSize"] = step
    return round_trip(("scanRequest", value))


def sort(source: str, target: str, *keys: tuple[int, int]) -> Apdu:
    """A SortRequest by (use attribute, relation 0 ascending / 1 descending) keys."""
    sequence = [{
        "sortElement": ("generic", ("sortAttributes", {"id": BIB1, "list": [
            {"attributeType": 1, "attributeValue": ("numeric", use)}]})),
        "sortRelation": relation, "caseSensitivity": 1,
    } for use, relation in keys]  # fmt: skip
    return round_trip(("sortRequest", {"inputResultSetNames": [source],
                                       "sortedResultSetName": target,
                                       "sortSequence": sequence}))  # fmt: skip


def delete(*names: str) -> Apdu:
    """A DeleteResultSetRequest for ``names`` (all sets when none are given)."""
    if not names:
        return round_trip(("deleteResultSetRequest", {"deleteFunction": 1}))
    return round_trip(("deleteResultSetRequest", {"deleteFunction": 0,
                                                  "resultSetList": list(names)}))  # fmt: skip
