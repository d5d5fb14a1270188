"""What one run of the check finds out, and how a terminal shows it.

The findings, the figures measured and the options asked for are plain data, kept apart
from the harvesting that fills them in, so the command line (and anyone comparing runs)
can read a :class:`CheckReport` without knowing how it was made.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

#: Aggregators ask that a resumption token stay valid at least this long.
TOKEN_LIFETIME_HOURS = 23


class Level(StrEnum):
    """How a check came out."""

    PASS = "PASS"
    WARN = "WARN"  #: works, but harvesters will be slowed, confused or unable to check
    FAIL = "FAIL"  #: against the standard, or harvesters lose or duplicate records


#: The checks, in the order the report lists them, with what each one looks at.
CHECKS: dict[str, str] = {
    "Identify": "protocol version, granularity, earliestDatestamp, deletedRecord, baseURL",
    "ListMetadataFormats": "oai_dc and the harvested metadataPrefix are offered",
    "ListSets": "every set, following resumption tokens; no setSpec twice",
    "ListIdentifiers": "the whole list, following resumption tokens",
    "duplicates": "no identifier served twice",
    "deleted": "deleted headers, and whether Identify's deletedRecord allows them",
    "datestamps": "Identify's granularity; within earliestDatestamp, responseDate, from, until",
    "setSpecs": "the sets in headers are listed by ListSets (and include --set)",
    "last page": "the list ends with an empty resumptionToken, and only there",
    "completeListSize": "the announced size equals the number harvested",
    "cursor": "each token's cursor counts the identifiers before its page",
    "expirationDate": f"resumption tokens stay valid at least {TOKEN_LIFETIME_HOURS} hours",
    "speed": "seconds per page, identifiers per second, deep pages as fast as the first",
    "GetRecord": "one harvested identifier in the harvested format",
    "HTTP": "status 200 and an XML content type on every response",
    "responseDate": "UTC at seconds granularity, close to this machine's clock",
    "compression": "gzip offered in Identify and used",
    "schema": "every response valid against the official XML Schemas",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """The outcome of one check, in plain words."""

    check: str
    level: Level
    message: str


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """What to harvest and how patiently (the command's options)."""

    prefix: str = "oai_dc"
    set_spec: str | None = None
    since: str | None = None  #: ``from``, as the repository's granularity writes it
    until: str | None = None
    max_pages: int | None = None  #: stop ListIdentifiers after this many pages
    timeout: float = 60.0  #: seconds to wait for each response
    schema_folders: tuple[Path, ...] = ()


@dataclass(slots=True)
class HarvestFigures:
    """What was measured, for the report and for anyone comparing runs."""

    identifiers: int = 0  #: distinct identifiers in ListIdentifiers
    headers: int = 0  #: headers served, duplicates included
    pages: int = 0
    page_seconds: list[float] = field(default_factory=list)
    duplicates: int = 0  #: identifiers served again with the same datestamp
    served_again_changed: int = 0  #: served again with a later datestamp (changed meanwhile)
    deleted: int = 0
    complete_list_size: int | None = None
    last_token_empty: bool | None = None  #: None: the list did not reach its end
    reached_end: bool = False
    sets: int = 0
    formats: list[str] = field(default_factory=list)
    responses: int = 0
    compressed: dict[str, int] = field(default_factory=dict)
    invalid_responses: int = 0
    retries: int = 0
    seconds: float = 0.0  #: the whole check, wall clock

    @property
    def seconds_min(self) -> float | None:
        """The fastest ListIdentifiers page."""
        return min(self.page_seconds) if self.page_seconds else None

    @property
    def seconds_median(self) -> float | None:
        """The median ListIdentifiers page."""
        return statistics.median(self.page_seconds) if self.page_seconds else None

    @property
    def seconds_max(self) -> float | None:
        """The slowest ListIdentifiers page."""
        return max(self.page_seconds) if self.page_seconds else None

    @property
    def per_second(self) -> float | None:
        """Headers harvested per second of ListIdentifiers requests."""
        total = sum(self.page_seconds)
        return self.headers / total if total > 0 else None


@dataclass(slots=True)
class CheckReport:
    """Everything one run found out about a base URL."""

    base_url: str
    options: CheckOptions
    findings: list[Finding] = field(default_factory=list)
    figures: HarvestFigures = field(default_factory=HarvestFigures)

    @property
    def failed(self) -> bool:
        """Whether any check FAILed."""
        return any(f.level is Level.FAIL for f in self.findings)

    def finding(self, check: str) -> Finding | None:
        """The finding of ``check`` (a key of :data:`CHECKS`), if it was made."""
        return next((f for f in self.findings if f.check == check), None)

    def count(self, level: Level) -> int:
        """How many checks came out at ``level``."""
        return sum(1 for f in self.findings if f.level is level)


#: Records a finding: ``add(check, level, message)``.
_Add = Callable[[str, Level, str], None]


@dataclass(slots=True)
class _Problems:
    """Problems of one kind: how many, and the first few to show."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < 2:
            self.examples.append(example)

    def __bool__(self) -> bool:
        return self.count > 0

    def describe(self, what: str) -> str:
        return f"{self.count} {what} (e.g. {'; '.join(self.examples)})"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_MESSAGE_LIMIT = 400


def report_lines(report: CheckReport) -> list[str]:
    """The report for a terminal: a heading, one line per check, a summary.

    Text from the server (names, error messages) is shown with control characters
    escaped, so a hostile answer cannot drive the administrator's terminal.
    """
    width = max(len(name) for name in CHECKS)
    options = report.options
    lines = [f"OAI-PMH harvest check of {_CONTROL.sub('?', report.base_url)} "
             f"(metadataPrefix {options.prefix})"]  # fmt: skip
    for finding in report.findings:
        message = _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", finding.message)
        if len(message) > _MESSAGE_LIMIT:
            message = message[: _MESSAGE_LIMIT - 3] + "..."
        lines.append(f"{finding.level.value}  {finding.check:<{width}}  {message}")
    figures = report.figures
    counts = ", ".join(f"{report.count(level)} {level.value}" for level in Level)
    lines.append(f"{figures.identifiers} identifiers in {_plural(figures.pages, 'page')}, "
                 f"{_plural(figures.responses, 'request')} in {figures.seconds:.2f} s; "
                 f"{len(report.findings)} checks: {counts}")  # fmt: skip
    return lines
