"""SRU diagnostics (``info:srw/diagnostic/1/N``) and the one exception that carries them.

Every problem with a request ends as one of these codes in a well-formed SRU response
(HTTP 200), never as a traceback: parsing, mapping and the operations raise
:class:`SRUError`, and the response writer turns it into the version's diagnostic element.
"""

from __future__ import annotations

from gateway.diagnostics import NumberedDiagnostic

__all__ = ["Diagnostic", "SRUError", "DIAGNOSTIC_SET"]

#: The URI prefix of the SRU diagnostic set; a diagnostic's ``uri`` is this plus its code.
DIAGNOSTIC_SET = "info:srw/diagnostic/1/"


class Diagnostic(NumberedDiagnostic):
    """The SRU diagnostics this server reports, with the standard's message for each."""

    GENERAL_SYSTEM_ERROR = 1, "General system error"
    UNSUPPORTED_OPERATION = 4, "Unsupported operation"
    UNSUPPORTED_VERSION = 5, "Unsupported version"
    UNSUPPORTED_PARAMETER_VALUE = 6, "Unsupported parameter value"
    MANDATORY_PARAMETER_MISSING = 7, "Mandatory parameter not supplied"
    UNSUPPORTED_PARAMETER = 8, "Unsupported parameter"
    QUERY_SYNTAX_ERROR = 10, "Query syntax error"
    UNSUPPORTED_CONTEXT_SET = 15, "Unsupported context set"
    UNSUPPORTED_INDEX = 16, "Unsupported index"
    UNSUPPORTED_COMBINATION_OF_INDEXES = 18, "Unsupported combination of indexes"
    UNSUPPORTED_RELATION = 19, "Unsupported relation"
    UNSUPPORTED_RELATION_MODIFIER = 20, "Unsupported relation modifier"
    UNSUPPORTED_BOOLEAN_OPERATOR = 37, "Unsupported boolean operator"
    TOO_MANY_BOOLEAN_OPERATORS = 38, "Too many boolean operators in query"
    PROXIMITY_NOT_SUPPORTED = 39, "Proximity not supported"
    EMPTY_TERM_UNSUPPORTED = 27, "Empty term unsupported"
    MASKING_NOT_SUPPORTED = 28, "Masking character not supported"
    MASKED_WORDS_TOO_SHORT = 29, "Masked words too short"
    ANCHORING_NOT_SUPPORTED = 32, "Anchoring character not supported"
    UNSUPPORTED_BOOLEAN_MODIFIER = 46, "Unsupported boolean modifier"
    RESULT_SET_DOES_NOT_EXIST = 51, "Result set does not exist"
    FIRST_RECORD_OUT_OF_RANGE = 61, "First record position out of range"
    RECORD_TEMPORARILY_UNAVAILABLE = 64, "Record temporarily unavailable"
    UNKNOWN_SCHEMA = 66, "Unknown schema for retrieval"
    UNSUPPORTED_RECORD_PACKING = 71, "Unsupported record packing"
    SORT_NOT_SUPPORTED = 80, "Sort not supported"
    UNSUPPORTED_SORT_SCHEMA = 82, "Unsupported schema for sort"
    STYLESHEETS_NOT_SUPPORTED = 110, "Stylesheets not supported"
    RESPONSE_POSITION_OUT_OF_RANGE = 120, "Response position out of range"
    TOO_MANY_TERMS_REQUESTED = 121, "Too many terms requested"
    DATABASE_DOES_NOT_EXIST = 235, "Database does not exist"

    @property
    def uri(self) -> str:
        """The diagnostic's URI, as responses carry it."""
        return f"{DIAGNOSTIC_SET}{int(self)}"


class SRUError(Exception):
    """A request the server cannot answer as asked: the diagnostic and its details.

    ``details`` is what the standard calls the diagnostic's details (the offending
    parameter, index name or, for syntax errors, the position); it never holds anything
    secret.
    """

    def __init__(self, diagnostic: Diagnostic, details: str = "", message: str = "") -> None:
        self.diagnostic = diagnostic
        self.details = details
        self.message = message or diagnostic.message
        super().__init__(f"{int(diagnostic)} {self.message}: {details}" if details else
                         f"{int(diagnostic)} {self.message}")  # fmt: skip
