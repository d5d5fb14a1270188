"""Bib-1 diagnostics (``1.2.840.10003.4.1``) and the one exception that carries them.

Every problem with a request ends as one of these codes in a well-formed response (a
non-surrogate diagnostic in a Search, Present or Scan response, or a per-record surrogate
diagnostic), never as a dropped connection; only violations of the protocol itself end
with a Close carrying a :class:`CloseReason`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from gateway.diagnostics import NumberedDiagnostic

__all__ = ["Diagnostic", "Z3950Error", "CloseReason", "ProtocolViolation", "BIB1_DIAGNOSTICS",
           "diagnostic_record", "close_apdu"]  # fmt: skip

#: OID of the Bib-1 diagnostic set, named in every DefaultDiagFormat record.
BIB1_DIAGNOSTICS = "1.2.840.10003.4.1"


class Diagnostic(NumberedDiagnostic):
    """The Bib-1 diagnostics this target reports, with the standard's message for each."""

    PERMANENT_SYSTEM_ERROR = 1, "Permanent system error"
    TEMPORARY_SYSTEM_ERROR = 2, "Temporary system error"
    UNSUPPORTED_SEARCH = 3, "Unsupported search"
    TRUNCATED_WORDS_TOO_SHORT = 9, "Truncated words too short"
    TOO_MANY_RECORDS = 12, "Too many records retrieved"
    PRESENT_OUT_OF_RANGE = 13, "Present request out of range"
    PRESENT_SYSTEM_ERROR = 14, "System error in presenting records"
    EXCEEDS_PREFERRED_MESSAGE_SIZE = 16, "Record exceeds Preferred-message-size"
    EXCEEDS_EXCEPTIONAL_RECORD_SIZE = 17, "Record exceeds Exceptional-record-size"
    RESULT_SET_EXISTS = 21, "Result set exists and replace indicator off"
    RESULT_SET_DELETED_BY_TARGET = (
        27, "Result set no longer exists - unilaterally deleted by target")  # fmt: skip
    DATABASE_COMBINATION = 23, "Specified combination of databases not supported"
    ELEMENT_SET_NOT_VALID = 25, "Specified element set name not valid for specified database"
    RESULT_SET_DOES_NOT_EXIST = 30, "Specified result set does not exist"
    UNSPECIFIED = 100, "Unspecified error"
    ACCESS_CONTROL_FAILURE = 101, "Access-control failure"
    QUERY_TYPE_NOT_SUPPORTED = 107, "Query type not supported"
    MALFORMED_QUERY = 108, "Malformed query"
    DATABASE_UNAVAILABLE = 109, "Database unavailable"
    OPERATOR_UNSUPPORTED = 110, "Operator unsupported"
    TOO_MANY_DATABASES = 111, "Too many databases specified"
    TOO_MANY_RESULT_SETS = 112, "Too many result sets created"
    UNSUPPORTED_ATTRIBUTE_TYPE = 113, "Unsupported attribute type"
    UNSUPPORTED_USE_ATTRIBUTE = 114, "Unsupported Use attribute"
    UNSUPPORTED_RELATION = 117, "Unsupported Relation attribute"
    UNSUPPORTED_STRUCTURE = 118, "Unsupported Structure attribute"
    UNSUPPORTED_POSITION = 119, "Unsupported Position attribute"
    UNSUPPORTED_TRUNCATION = 120, "Unsupported Truncation attribute"
    UNSUPPORTED_ATTRIBUTE_SET = 121, "Unsupported Attribute Set"
    UNSUPPORTED_COMPLETENESS = 122, "Unsupported Completeness attribute"
    UNSUPPORTED_COMBINATION = 123, "Unsupported attribute combination"
    UNSUPPORTED_TERM_TYPE = 124, "Unsupported coded value for term"
    MALFORMED_TERM = 125, "Malformed search term"
    ILLEGAL_TERM_VALUE = 126, "Illegal term value for attribute"
    ILLEGAL_RESULT_SET_NAME = 128, "Illegal result set name"
    PROXIMITY_OF_SETS = 129, "Proximity search of sets not supported"
    STEP_SIZE_NOT_SUPPORTED = 205, "Only zero step size supported for Scan"
    CANNOT_SORT = 207, "Cannot sort according to sequence"
    NO_RESULT_SET_NAME_ON_SORT = 208, "No result set name supplied on Sort"
    DATABASE_SPECIFIC_SORT_UNSUPPORTED = 210, "Database specific sort not supported"
    TOO_MANY_SORT_KEYS = 211, "Too many sort keys"
    ILLEGAL_SORT_RELATION = 214, "Illegal sort relation"
    ILLEGAL_CASE_VALUE = 215, "Illegal case value"
    SORT_TOO_MANY_INPUT_RESULTS = 230, "Sort: too many input results"
    ADDITIONAL_RANGES_UNSUPPORTED = 243, "Present: additional-ranges parameter not supported"
    SCAN_POSITION_UNSUPPORTED = 233, "Scan: unsupported value of position-in-response"
    DATABASE_DOES_NOT_EXIST = 235, "Database does not exist"
    ILLEGAL_SORT = 237, "Sort: illegal sort"
    RECORD_SYNTAX_UNAVAILABLE = 238, "Record not available in requested syntax"
    RECORD_SYNTAX_UNSUPPORTED = 239, "Record syntax not supported"
    MALFORMED_APDU = 1001, "Malformed APDU"


class Z3950Error(Exception):
    """A request the target cannot answer as asked: the diagnostic and its additional info.

    ``addinfo`` is what the standard calls the diagnostic's additional information (the
    unsupported attribute value, the database name, the result set name); it never holds
    anything secret.
    """

    def __init__(self, diagnostic: Diagnostic, addinfo: str = "") -> None:
        self.diagnostic = diagnostic
        self.addinfo = addinfo
        text = f"{int(diagnostic)} {diagnostic.message}"
        super().__init__(f"{text}: {addinfo}" if addinfo else text)


class CloseReason(IntEnum):
    """Close PDU reasons (Z39.50-2003 section 3.2.11.1)."""

    FINISHED = 0
    SHUTDOWN = 1
    SYSTEM_PROBLEM = 2
    COST_LIMIT = 3
    RESOURCES = 4
    SECURITY_VIOLATION = 5
    PROTOCOL_ERROR = 6
    LACK_OF_ACTIVITY = 7
    PEER_ABORT = 8
    UNSPECIFIED = 9


class ProtocolViolation(Exception):
    """Bytes or a PDU that break the protocol itself: the session ends with a Close.

    ``reason`` goes into the Close PDU; ``message`` into its diagnosticInformation and the
    log (it describes the violation, never the data of the request).
    """

    def __init__(self, message: str, reason: CloseReason = CloseReason.PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _wire(text: str, limit: int) -> str:
    """Text as asn1tools carries an InternationalString: UTF-8 bytes, one char per byte."""
    return text[:limit].encode("utf-8", "replace").decode("latin-1")


def diagnostic_record(error: Z3950Error, *, version2: bool = False) -> dict[str, Any]:
    """The Bib-1 DefaultDiagFormat of ``error``: what every diagnostic looks like on the
    wire. Version 2 has only the VisibleString form of addinfo (ASCII)."""
    if version2:
        addinfo = ("v2Addinfo", error.addinfo[:500].encode("ascii", "replace").decode("ascii"))
    else:
        addinfo = ("v3Addinfo", _wire(error.addinfo, 500))
    return {"diagnosticSetId": BIB1_DIAGNOSTICS, "condition": int(error.diagnostic),
            "addinfo": addinfo}  # fmt: skip


def close_apdu(reason: CloseReason, message: str) -> tuple[str, dict[str, Any]]:
    """A Close APDU with ``reason`` and a message saying why (never request data)."""
    return "close", {"closeReason": int(reason), "diagnosticInformation": _wire(message, 300)}
