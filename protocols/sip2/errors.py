"""What can be wrong with a SIP2 message, and the one exception that says so.

SIP2 has no diagnostic codes: a message the ACS cannot read is answered with 96 (Request
SC Resend) when its error detection is on, a message of an unknown command is ignored
(the specification says so), and a stream that cannot be framed ends the connection.
:class:`Problem` says which of these applies; the session decides the answer.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Problem", "SIP2Error"]


class Problem(Enum):
    """Why a message could not be used (and what the ACS does about it)."""

    BAD_CHECKSUM = "bad checksum"  #: answered with 96
    MALFORMED = "malformed message"  #: answered with 96 (resend), or a minimal reply
    UNKNOWN_MESSAGE = "unknown message"  #: ignored, per the specification
    TOO_LONG = "message without terminator over the limit"  #: the connection ends


class SIP2Error(Exception):
    """A message that cannot be used as sent; ``problem`` says how to answer it.

    ``detail`` describes the fault (a field id, a width); it never holds field values,
    which may be PINs or passwords.
    """

    def __init__(self, problem: Problem, detail: str = "") -> None:
        self.problem = problem
        self.detail = detail
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
