"""OAI-PMH request arguments (GET query or POST form) into a typed request (sans-IO).

The verbs and their arguments are a table (grammar as data): which arguments each verb
requires, allows, or takes exclusively (``resumptionToken``). Everything a harvester can
get wrong is found here and answered with the standard's code: badVerb for a missing,
unknown or repeated verb; badArgument for a missing, unknown, repeated, empty, overlong
or non-UTF-8 argument, an illegal date, mixed date granularities or ``until`` before
``from``. Every problem in a request is reported, not just the first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from .errors import ErrorCode, OAIError

__all__ = [
    "Verb",
    "VerbArguments",
    "VERBS",
    "Granularity",
    "OAIRequest",
    "parse_request",
    "parse_datestamp",
    "SET_SPEC",
    "METADATA_PREFIX",
    "echoable_identifier",
    "MAX_ARGUMENT_LENGTH",
]

#: Longest value accepted for any argument (a resumption token of ours is about 200
#: characters, an identifier rarely over 300).
MAX_ARGUMENT_LENGTH = 2048

#: The schema's patterns for a setSpec and a metadataPrefix (OAI-PMH.xsd).
SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")
METADATA_PREFIX = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
# What libxml2 accepts as xs:anyURI in the request element's identifier attribute, kept
# conservative: a scheme, then URI characters with well-formed %XX escapes.
_ECHOABLE_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9\-_.!~*'();/?:@&=+$,]|%[0-9A-Fa-f]{2})+"
)
# ASCII digits only: Python's \d also matches Arabic-Indic and full-width digits, which
# int() reads but the schema's xs:dateTime (echoed in the request element) does not.
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_SECONDS = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")


class Verb(StrEnum):
    """The six OAI-PMH verbs."""

    IDENTIFY = "Identify"
    LIST_METADATA_FORMATS = "ListMetadataFormats"
    LIST_SETS = "ListSets"
    GET_RECORD = "GetRecord"
    LIST_IDENTIFIERS = "ListIdentifiers"
    LIST_RECORDS = "ListRecords"


@dataclass(frozen=True, slots=True)
class VerbArguments:
    """The arguments one verb takes, as the standard lists them."""

    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    #: An argument that must come alone (``resumptionToken``), or None.
    exclusive: str | None = None

    @property
    def known(self) -> frozenset[str]:
        """Every argument name the verb accepts."""
        extra = {self.exclusive} if self.exclusive else set()
        return self.required | self.optional | extra


_LIST = VerbArguments(frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}),
                      "resumptionToken")  # fmt: skip

VERBS: dict[Verb, VerbArguments] = {
    Verb.IDENTIFY: VerbArguments(),
    Verb.LIST_METADATA_FORMATS: VerbArguments(optional=frozenset({"identifier"})),
    Verb.LIST_SETS: VerbArguments(exclusive="resumptionToken"),
    Verb.GET_RECORD: VerbArguments(required=frozenset({"identifier", "metadataPrefix"})),
    Verb.LIST_IDENTIFIERS: _LIST,
    Verb.LIST_RECORDS: _LIST,
}


class Granularity(StrEnum):
    """The two datestamp granularities of OAI-PMH (this repository supports both)."""

    DAY = "YYYY-MM-DD"
    SECONDS = "YYYY-MM-DDThh:mm:ssZ"


@dataclass(slots=True)
class OAIRequest:
    """One request, read and checked. Dates are UTC; ``until`` of a day is its last second."""

    verb: Verb
    #: The arguments as given (verb excluded), echoed in the response's request element.
    arguments: dict[str, str] = field(default_factory=dict)
    identifier: str | None = None
    metadata_prefix: str | None = None
    set_spec: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    resumption_token: str | None = None


def parse_datestamp(value: str, *, end_of_day: bool = False) -> tuple[datetime, Granularity]:
    """A ``from``/``until`` value as a UTC datetime and the granularity it was given in.

    A day stands for its first second, or with ``end_of_day`` for its last one, so that
    ``from=D&until=D`` selects the whole day D. Raises ValueError for anything else,
    including impossible dates (2026-13-45) and times (25:00:00).
    """
    if match := _SECONDS.fullmatch(value):
        year, month, day, hour, minute, second = (int(g) for g in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC), Granularity.SECONDS
    if match := _DAY.fullmatch(value):
        year, month, day = (int(g) for g in match.groups())
        if end_of_day:
            return datetime(year, month, day, 23, 59, 59, tzinfo=UTC), Granularity.DAY
        return datetime(year, month, day, tzinfo=UTC), Granularity.DAY
    raise ValueError(value)


def echoable_identifier(value: str) -> bool:
    """True when ``value`` can be echoed as the request element's ``identifier``
    attribute (an ``xs:anyURI`` the validators accept)."""
    return _ECHOABLE_URI.fullmatch(value) is not None


def _excerpt(text: str, limit: int = 60) -> str:
    """A short, printable excerpt of client input for an error message."""
    shown = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return shown + ("…" if len(text) > limit else "")


def _decode(
    arguments: Mapping[bytes, Sequence[bytes]],
) -> tuple[dict[str, list[str]], set[str], list[OAIError]]:
    """Names to values as text, the names whose values could not be read, and the errors
    for names or values that are not UTF-8."""
    values: dict[str, list[str]] = {}
    unreadable: set[str] = set()
    problems: list[OAIError] = []
    for raw_name, raw_values in arguments.items():
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(OAIError(ErrorCode.BAD_ARGUMENT, "an argument name is not UTF-8"))
            continue
        try:
            values[name] = [raw.decode("utf-8") for raw in raw_values]
        except UnicodeDecodeError:
            code = ErrorCode.BAD_VERB if name == "verb" else ErrorCode.BAD_ARGUMENT
            problems.append(OAIError(code, f"the value of {_excerpt(name)} is not UTF-8"))
            unreadable.add(name)
    return values, unreadable, problems


def _verb(values: dict[str, list[str]]) -> Verb:
    given = values.pop("verb", None)
    if not given:
        raise OAIError(ErrorCode.BAD_VERB, "the verb argument is missing")
    if len(given) > 1:
        raise OAIError(ErrorCode.BAD_VERB, "the verb argument is repeated")
    try:
        return Verb(given[0])
    except ValueError:
        raise OAIError(ErrorCode.BAD_VERB,
                       f"'{_excerpt(given[0])}' is not an OAI-PMH verb") from None  # fmt: skip


def parse_request(arguments: Mapping[bytes, Sequence[bytes]]) -> OAIRequest:
    """The typed request, or :class:`OAIError` listing everything wrong with it.

    ``arguments`` is what twisted.web gives for GET and form POST alike: raw names to
    lists of raw values, percent-decoding already done.
    """
    values, unreadable, problems = _decode(arguments)
    if any(p.code is ErrorCode.BAD_VERB for p in problems):
        raise OAIError.combine(problems)
    verb = _verb(values)
    spec = VERBS[verb]
    request = OAIRequest(verb)
    for name, given in values.items():
        if name not in spec.known:
            problems.append(OAIError(ErrorCode.BAD_ARGUMENT,
                                     f"{verb} does not take the argument "
                                     f"'{_excerpt(name, 40)}'"))  # fmt: skip
        elif len(given) > 1:
            problems.append(OAIError(ErrorCode.BAD_ARGUMENT, f"the argument {name} is repeated"))
        elif not given or not given[0]:
            problems.append(OAIError(ErrorCode.BAD_ARGUMENT, f"the argument {name} is empty"))
        elif len(given[0]) > MAX_ARGUMENT_LENGTH:
            code = (ErrorCode.BAD_RESUMPTION_TOKEN if name == "resumptionToken"
                    else ErrorCode.BAD_ARGUMENT)  # fmt: skip
            problems.append(OAIError(code, f"the argument {name} is longer than "
                                           f"{MAX_ARGUMENT_LENGTH} characters"))  # fmt: skip
        else:
            request.arguments[name] = given[0]
    given_names = set(values) | unreadable
    if spec.exclusive and spec.exclusive in given_names:
        if given_names - {spec.exclusive}:
            others = ", ".join(sorted(given_names - {spec.exclusive}))
            problems.append(OAIError(ErrorCode.BAD_ARGUMENT,
                                     f"{spec.exclusive} is an exclusive argument; "
                                     f"it cannot come with {_excerpt(others)}"))  # fmt: skip
    else:
        for name in sorted(spec.required - given_names):
            problems.append(OAIError(ErrorCode.BAD_ARGUMENT,
                                     f"{verb} requires the argument {name}"))  # fmt: skip
    problems.extend(_read_values(request))
    if problems:
        raise OAIError.combine(problems)
    return request


#: Arguments whose values follow a schema pattern: (pattern, OAIRequest field, complaint).
_PATTERNED: dict[str, tuple[re.Pattern[str], str, str]] = {
    "metadataPrefix": (METADATA_PREFIX, "metadata_prefix",
                       "has characters a metadata prefix cannot have"),
    "set": (SET_SPEC, "set_spec", "is not a setSpec (letters, digits, -_.!~*'() separated by ':')"),
}  # fmt: skip


def _read_values(request: OAIRequest) -> list[OAIError]:
    """Fill the typed fields from ``request.arguments``, returning what is illegal."""
    problems: list[OAIError] = []
    given = request.arguments
    request.identifier = given.get("identifier")
    request.resumption_token = given.get("resumptionToken")
    for name, (pattern, attribute, what) in _PATTERNED.items():
        value = given.get(name)
        if value is None:
            continue
        if pattern.fullmatch(value):
            setattr(request, attribute, value)
        else:
            problems.append(OAIError(ErrorCode.BAD_ARGUMENT, f"{name} '{_excerpt(value)}' {what}"))
    granularities = []
    for name in ("from", "until"):
        value = given.get(name)
        if value is None:
            continue
        try:
            moment, granularity = parse_datestamp(value, end_of_day=name == "until")
        except ValueError:
            problems.append(OAIError(ErrorCode.BAD_ARGUMENT,
                                     f"{name}='{_excerpt(value)}' is not a date (YYYY-MM-DD) "
                                     "or a UTC time (YYYY-MM-DDThh:mm:ssZ)"))  # fmt: skip
            continue
        granularities.append(granularity)
        if name == "from":
            request.since = moment
        else:
            request.until = moment
    if len(set(granularities)) > 1:
        problems.append(OAIError(ErrorCode.BAD_ARGUMENT,
                                 "from and until must have the same granularity"))  # fmt: skip
    elif request.since and request.until and request.until < request.since:
        problems.append(OAIError(ErrorCode.BAD_ARGUMENT, "until is earlier than from"))
    return problems
