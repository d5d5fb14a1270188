"""OAI-PMH error codes and the one exception that carries them.

The protocol answers every problem with an ``<error code="...">`` element in an ordinary
response (HTTP 200), never with an HTTP error: argument checking, tokens and the verbs
raise :class:`OAIError` and the response writer turns it into those elements. One
exception may carry several errors, because the standard lets a response list every
problem with a request at once (an administrator fixing a harvester's URL sees them all).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ErrorCode", "OAIError", "MAX_REPORTED"]

#: Most error elements one response carries.
MAX_REPORTED = 10


class ErrorCode(StrEnum):
    """The eight OAI-PMH 2.0 error codes, with the standard's meaning of each."""

    meaning: str

    def __new__(cls, code: str, meaning: str) -> ErrorCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        return member

    BAD_ARGUMENT = (
        "badArgument",
        "The request includes illegal arguments, is missing required arguments, includes "
        "a repeated argument, or values for arguments have an illegal syntax.",
    )
    BAD_RESUMPTION_TOKEN = (
        "badResumptionToken",
        "The value of the resumptionToken argument is invalid or expired.",
    )
    BAD_VERB = (
        "badVerb",
        "Value of the verb argument is not a legal OAI-PMH verb, the verb argument is "
        "missing, or the verb argument is repeated.",
    )
    CANNOT_DISSEMINATE_FORMAT = (
        "cannotDisseminateFormat",
        "The metadata format identified by the value given for the metadataPrefix argument "
        "is not supported by the item or by the repository.",
    )
    ID_DOES_NOT_EXIST = (
        "idDoesNotExist",
        "The value of the identifier argument is unknown or illegal in this repository.",
    )
    NO_RECORDS_MATCH = (
        "noRecordsMatch",
        "The combination of the values of the from, until, set and metadataPrefix "
        "arguments results in an empty list.",
    )
    NO_METADATA_FORMATS = (
        "noMetadataFormats",
        "There are no metadata formats available for the specified item.",
    )
    NO_SET_HIERARCHY = ("noSetHierarchy", "The repository does not support sets.")

    @property
    def echoes_request(self) -> bool:
        """False for badVerb and badArgument: the standard wants the request element of
        those responses without attributes (the arguments were not understood)."""
        return self not in (ErrorCode.BAD_VERB, ErrorCode.BAD_ARGUMENT)


class OAIError(Exception):
    """A request the repository cannot answer as asked.

    ``message`` is what the harvester's operator reads; it names the offending argument
    but never repeats more than a short excerpt of what the client sent.
    ``others`` are further errors found in the same request.
    """

    def __init__(self, code: ErrorCode, message: str = "", *others: OAIError) -> None:
        self.code = code
        self.message = message or code.meaning
        self.errors: tuple[tuple[ErrorCode, str], ...] = ((code, self.message),) + tuple(
            pair for other in others for pair in other.errors
        )
        super().__init__("; ".join(f"{c}: {m}" for c, m in self.errors))

    @property
    def echoes_request(self) -> bool:
        """True when every error allows echoing the arguments in the request element."""
        return all(code.echoes_request for code, _ in self.errors)

    @classmethod
    def combine(cls, problems: list[OAIError]) -> OAIError:
        """One exception reporting every problem found (at most :data:`MAX_REPORTED`, so
        a request with thousands of bad arguments does not get a response larger than
        itself)."""
        shown = problems[:MAX_REPORTED]
        if len(problems) > MAX_REPORTED:
            more = len(problems) - MAX_REPORTED
            shown.append(OAIError(problems[MAX_REPORTED].code, f"… and {more} more problems"))
        return cls(shown[0].code, shown[0].message, *shown[1:])
