"""The administrator's harvest self-test behind ``lienthong oai check URL`` (sans Click).

It does to any OAI-PMH 2.0 base URL (ours, or a member library's Koha or DSpace) what a
national harvester does: Identify, ListMetadataFormats, ListSets and a whole
ListIdentifiers, following resumption tokens, then GetRecord of one identifier it found;
and it checks what harvesters depend on and complain about: duplicates, a list that does
not end with an empty token (or ends with a token too many), completeListSize and cursor,
token lifetimes, datestamps against Identify's granularity and the dates asked for,
responseDate, compression, speed per page. With folders of the official XML Schemas (not
shipped; see :mod:`gateway.xmlschemas`) every response is validated as well.

:func:`check_endpoint` returns a :class:`CheckReport`: one :class:`Finding` per check
(PASS, WARN or FAIL, in plain words) and the measured :class:`HarvestFigures`;
:func:`report_lines` writes it for a terminal. An address that is not an OAI-PMH endpoint
at all (unreachable, an HTML page) raises :class:`EndpointError` instead.
"""

from __future__ import annotations

import copy
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from lxml import etree

from gateway import __version__
from gateway.xmlschemas import CombinedSchema, SchemaFolderError, combined_schema

from .arguments import Granularity
from .arguments import parse_datestamp as read_datestamp

__all__ = [
    "CHECKS",
    "CheckOptions",
    "CheckReport",
    "Datestamp",
    "EndpointError",
    "Finding",
    "HarvestFigures",
    "Level",
    "SchemaFolderError",
    "check_endpoint",
    "load_schemas",
    "parse_datestamp",
    "report_lines",
]

# The namespace is spelled out here rather than taken from our provider: the check judges
# any provider, ours included, by the standard alone.
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_O = f"{{{OAI_NS}}}"
#: Elements whose single child the schema validates strictly, whatever its namespace.
_OPEN_CONTAINERS = frozenset(
    f"{_O}{name}" for name in ("metadata", "about", "description", "setDescription")
)
#: Stands in for content in a namespace no given schema covers (reported, not failed).
_UNCHECKED_NS = "urn:x-lienthong:oai-check:unchecked"
_UNCHECKED = f"{{{_UNCHECKED_NS}}}unchecked"
#: The schema files a --schemas folder must provide between them.
REQUIRED_SCHEMAS = ("OAI-PMH.xsd",)

DAY, SECONDS = Granularity.DAY.value, Granularity.SECONDS.value
DELETED_RECORD_POLICIES = ("no", "persistent", "transient")

#: Aggregators ask that a resumption token stay valid at least this long.
TOKEN_LIFETIME_HOURS = 23
#: responseDate further than this from our clock means one of the two clocks is wrong.
CLOCK_SKEW_SECONDS = 120
#: ... and this far is no drifting clock: local time written as UTC, or a clock set wrong.
LOCAL_TIME_SECONDS = 15 * 60
#: A page slower than this risks harvesters' timeouts (30-120 s).
SLOW_PAGE_SECONDS = 10.0
#: Deep pages this many times slower than the first ones: offset paging.
DEEP_PAGE_RATIO = 5.0
#: 503 answers with a Retry-After up to this many seconds are waited for, this many times.
RETRY_AFTER_LIMIT = 60
RETRIES = 3
#: ListSets is a few pages at most; a list of sets that goes on and on is not followed.
SET_PAGE_LIMIT = 1000


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


class EndpointError(Exception):
    """The address cannot be checked at all: unreachable, or not an OAI-PMH endpoint."""


@dataclass(frozen=True, slots=True)
class Datestamp:
    """An OAI-PMH UTC datestamp, as the span of time it stands for (a day, or a second)."""

    text: str
    granularity: str
    start: datetime
    end: datetime


def parse_datestamp(text: str) -> Datestamp | None:
    """The datestamp ``text`` (``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm:ssZ``), or None."""
    try:
        start, granularity = read_datestamp(text)
        end, _ = read_datestamp(text, end_of_day=True)
    except ValueError:
        return None
    return Datestamp(text, granularity.value, start, end)


def load_schemas(folders: Sequence[Path]) -> CombinedSchema:
    """One schema from every XSD in ``folders``, for validating whole responses.

    Raises :class:`SchemaFolderError` when they lack ``OAI-PMH.xsd`` or do not compile.
    """
    return combined_schema(
        folders,
        required=REQUIRED_SCHEMAS,
        target_namespace=_UNCHECKED_NS,
        declarations='<xs:element name="unchecked"/>',
    )


def check_endpoint(
    base_url: str,
    options: CheckOptions | None = None,
    *,
    session: requests.Session | None = None,
    progress: Callable[[int, int, int | None], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CheckReport:
    """Harvest ``base_url`` as :class:`CheckOptions` say and report on every check.

    ``progress(pages, identifiers, completeListSize)`` is called after each
    ListIdentifiers page. Raises :class:`EndpointError` when the address does not answer
    Identify with OAI-PMH at all, :class:`SchemaFolderError` when the schema folders are
    unusable (before anything is requested).
    """
    options = options or CheckOptions()
    if "verb" in parse_qs(urlsplit(base_url).query):
        raise EndpointError(f"give the base URL without ?verb=...: {base_url}")
    schemas = load_schemas(options.schema_folders) if options.schema_folders else None
    own_session = session is None
    session = session or requests.Session()
    session.headers.setdefault("User-Agent", f"lienthong-oai-check/{__version__}")
    session.headers["Accept-Encoding"] = "gzip, deflate"
    try:
        return _HarvestCheck(base_url, options, session, schemas, progress, sleep).run()
    finally:
        if own_session:
            session.close()


# -- the run ---------------------------------------------------------------------------


class _FetchError(Exception):
    """A request got no HTTP answer (refused, timed out, cut off)."""


@dataclass(slots=True)
class _Answer:
    """One response, parsed."""

    label: str
    status: int
    content_type: str
    seconds: float
    root: Any  #: the OAI-PMH element, or None (see ``problem``)
    problem: str | None
    looks_like_oai: bool
    errors: list[tuple[str, str]]
    response_date: datetime | None


class _End(Enum):
    """How a list walk stopped."""

    EMPTY_TOKEN = "an empty resumptionToken"
    NO_TOKEN = "no resumptionToken"
    NOTHING_AFTER_TOKEN = "noRecordsMatch after a token"
    FIRST_ERROR = "an error on the first page"
    MAX_PAGES = "--max-pages"
    BROKEN = "a page that could not be used"


@dataclass(frozen=True, slots=True)
class _Token:
    """A resumptionToken element as one page carried it."""

    page: int
    text: str
    expiration: str | None
    size: str | None
    cursor: str | None
    response_date: datetime | None
    items_before: int


@dataclass(slots=True)
class _Walk:
    """One list (ListSets or ListIdentifiers) followed from token to token."""

    verb: str
    pages: int = 0
    items: int = 0
    last_page_items: int = 0
    end: _End | None = None
    problem: str = ""
    first_error: tuple[str, str] | None = None
    tokens: list[_Token] = field(default_factory=list)

    @property
    def reached_end(self) -> bool:
        """Whether the list was followed to its end."""
        return self.end in (_End.EMPTY_TOKEN, _End.NO_TOKEN, _End.NOTHING_AFTER_TOKEN)


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


@dataclass(slots=True)
class _Identity:
    """What Identify said, as far as it could be read."""

    granularity: str | None = None
    earliest: Datestamp | None = None
    deleted_record: str | None = None
    compression: list[str] = field(default_factory=list)
    sample: str | None = None


class _HarvestCheck:
    """One run of the self-test; findings accumulate in ``self.report``."""

    def __init__(
        self,
        base_url: str,
        options: CheckOptions,
        session: requests.Session,
        schemas: CombinedSchema | None,
        progress: Callable[[int, int, int | None], None] | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.base_url = base_url
        self.options = options
        self.session = session
        self.schemas = schemas
        self.progress = progress
        self.sleep = sleep
        self.report = CheckReport(base_url, options)
        self.figures = self.report.figures
        self.identity = _Identity()
        self.formats: dict[str, str] = {}  # metadataPrefix -> metadataNamespace
        self.sets: set[str] | None = None  # None: ListSets could not be read
        self.sample: str | None = None  # the first identifier harvested, not deleted if any
        self.sample_deleted = True
        # Tallies over every response, turned into findings at the end.
        self.http_fail = _Problems()
        self.http_warn = _Problems()
        self.content_types: Counter[str] = Counter()
        self.date_fail = _Problems()
        self.max_skew = 0.0
        self.skew_example = ""
        self.invalid = _Problems()
        self.unchecked: Counter[str] = Counter()

    def add(self, check: str, level: Level, message: str) -> None:
        self.report.findings.append(Finding(check, level, message))

    def run(self) -> CheckReport:
        started = time.perf_counter()
        self._identify()
        self._list_metadata_formats()
        self._list_sets()
        self._list_identifiers()
        self._get_record()
        self._response_checks()
        self.figures.seconds = time.perf_counter() - started
        order = list(CHECKS)
        self.report.findings.sort(key=lambda f: order.index(f.check))
        return self.report

    # -- fetching ---------------------------------------------------------------------
    def _fetch(self, params: Mapping[str, str], label: str) -> _Answer:
        attempts = 0
        while True:
            started = time.perf_counter()
            try:
                response = self.session.get(self.base_url, params=dict(params),
                                            timeout=self.options.timeout)  # fmt: skip
                content = response.content
            except requests.RequestException as exc:
                raise _FetchError(_reason(exc, self.options.timeout)) from None
            seconds = time.perf_counter() - started
            if response.status_code == 503 and attempts < RETRIES:
                delay = _retry_after(response.headers.get("Retry-After"))
                if delay is not None:
                    attempts += 1
                    self.figures.retries += 1
                    self.sleep(delay)
                    continue
            break
        received = datetime.now(UTC)
        self.figures.responses += 1
        content_type = response.headers.get("Content-Type", "")
        root, problem = _parse(content, content_type)
        answer = _Answer(
            label=label,
            status=response.status_code,
            content_type=content_type,
            seconds=seconds,
            root=root,
            problem=problem,
            looks_like_oai=OAI_NS.encode("ascii") in content,
            errors=[],
            response_date=None,
        )
        self._tally_http(answer, response)
        if root is not None:
            answer.errors = [(e.get("code") or "", " ".join((e.text or "").split()))
                             for e in root.findall(f"{_O}error")]  # fmt: skip
            answer.response_date = self._tally_response_date(answer, received)
            self._validate(answer)
        return answer

    def _tally_http(self, answer: _Answer, response: requests.Response) -> None:
        if answer.status != 200:
            self.http_fail.add(f"{answer.label}: HTTP {answer.status} {response.reason or ''}"
                               .rstrip())  # fmt: skip
        media_type = answer.content_type.split(";", 1)[0].strip().lower()
        self.content_types[media_type or "no content type"] += 1
        if "xml" not in media_type:
            self.http_warn.add(f"{answer.label}: {media_type or 'no content type'}")
        coding = response.headers.get("Content-Encoding", "").strip().lower()
        if coding and coding != "identity":
            self.figures.compressed[coding] = self.figures.compressed.get(coding, 0) + 1

    def _tally_response_date(self, answer: _Answer, received: datetime) -> datetime | None:
        text = (answer.root.findtext(f"{_O}responseDate") or "").strip()
        stamp = parse_datestamp(text)
        if stamp is None or stamp.granularity != SECONDS:
            self.date_fail.add(f"{answer.label}: {text!r}")
            return None
        skew = (stamp.start - received).total_seconds()
        # The server writes whole seconds, when it started answering: up to a second
        # plus the time the answer took behind our clock is not skew.
        if -answer.seconds - 1 <= skew <= 0:
            skew = 0.0
        if abs(skew) > abs(self.max_skew):
            self.max_skew = skew
            self.skew_example = answer.label
        return stamp.start

    def _validate(self, answer: _Answer) -> None:
        if self.schemas is None:
            return
        document = answer.root
        covered = self.schemas.namespaces
        strays = [
            child
            for container in document.iter(*_OPEN_CONTAINERS)
            for child in container
            if isinstance(child.tag, str)
            and (namespace := etree.QName(child).namespace)
            and namespace not in covered
        ]
        if strays:
            # A format nobody gave a schema for: check the rest, and say what was not.
            for child in strays:
                self.unchecked[etree.QName(child).namespace or ""] += 1
            document = copy.deepcopy(document)
            for container in list(document.iter(*_OPEN_CONTAINERS)):
                for child in list(container):
                    namespace = etree.QName(child).namespace if isinstance(child.tag, str) else ""
                    if namespace and namespace not in covered:
                        stand_in = etree.Element(_UNCHECKED)
                        stand_in.tail = child.tail
                        container.replace(child, stand_in)
        if not self.schemas.schema.validate(document):
            self.figures.invalid_responses += 1
            entry = self.schemas.schema.error_log[0]
            self.invalid.add(f"{answer.label}, line {entry.line}: {entry.message}")

    # -- verbs ------------------------------------------------------------------------
    def _identify(self) -> None:
        try:
            answer = self._fetch({"verb": "Identify"}, "Identify")
        except _FetchError as exc:
            raise EndpointError(f"cannot reach {self.base_url}: {exc}") from None
        if answer.root is None and not answer.looks_like_oai:
            raise EndpointError(f"{self.base_url} is not an OAI-PMH base URL: verb=Identify "
                                f"answered HTTP {answer.status} with {answer.problem}")  # fmt: skip
        if answer.root is None:
            self.add("Identify", Level.FAIL, f"the answer is unusable: {answer.problem}")
            return
        if answer.errors:
            code, text = answer.errors[0]
            self.add("Identify", Level.FAIL, f"answered with the error {code}: {text}")
            return
        element = answer.root.find(f"{_O}Identify")
        if element is None:
            self.add("Identify", Level.FAIL, "the answer has neither Identify nor an error")
            return
        values = {name: (element.findtext(f"{_O}{name}") or "").strip()
                  for name in ("repositoryName", "baseURL", "protocolVersion", "adminEmail",
                               "earliestDatestamp", "deletedRecord", "granularity")}  # fmt: skip
        fails = [f"no {name}" for name, value in values.items() if not value]
        warns = []
        if values["protocolVersion"] and values["protocolVersion"] != "2.0":
            fails.append(f"protocolVersion is {values['protocolVersion']}, not 2.0")
        granularity = values["granularity"]
        if granularity in (DAY, SECONDS):
            self.identity.granularity = granularity
        elif granularity:
            fails.append(f"granularity {granularity!r} is neither {DAY} nor {SECONDS}")
        deleted = values["deletedRecord"]
        if deleted in DELETED_RECORD_POLICIES:
            self.identity.deleted_record = deleted
        elif deleted:
            fails.append(f"deletedRecord {deleted!r} is not one of "
                         f"{', '.join(DELETED_RECORD_POLICIES)}")  # fmt: skip
        earliest = parse_datestamp(values["earliestDatestamp"])
        if values["earliestDatestamp"] and earliest is None:
            fails.append(f"earliestDatestamp {values['earliestDatestamp']!r} is not a datestamp")
        elif earliest is not None:
            self.identity.earliest = earliest
            if self.identity.granularity and earliest.granularity != self.identity.granularity:
                fails.append(f"earliestDatestamp {earliest.text} is not at the granularity "
                             f"{self.identity.granularity}")  # fmt: skip
        if values["baseURL"] and _same_url(values["baseURL"], self.base_url) is False:
            warns.append(f"baseURL is {values['baseURL']}, not the address checked "
                         "(right only behind a proxy that rewrites it)")  # fmt: skip
        self.identity.compression = [
            (c.text or "").strip().lower() for c in element.findall(f"{_O}compression")
        ]
        self.identity.sample = element.findtext(".//{*}sampleIdentifier")
        summary = (
            f"{values['repositoryName']!r}, protocol {values['protocolVersion']}, granularity "
            f"{granularity}, earliestDatestamp {values['earliestDatestamp']}, deletedRecord "
            f"{deleted}"
        )
        if fails:
            self.add("Identify", Level.FAIL, "; ".join(fails) + f" ({summary})")
        elif warns:
            self.add("Identify", Level.WARN, "; ".join(warns) + f" ({summary})")
        else:
            self.add("Identify", Level.PASS, summary)

    def _list_metadata_formats(self) -> None:
        check = "ListMetadataFormats"
        try:
            answer = self._fetch({"verb": check}, check)
        except _FetchError as exc:
            self.add(check, Level.FAIL, f"no answer: {exc}")
            return
        if answer.root is None:
            self.add(check, Level.FAIL, f"the answer is unusable: {answer.problem}")
            return
        if answer.errors:
            code, text = answer.errors[0]
            self.add(check, Level.FAIL, f"answered with the error {code}: {text}")
            return
        for item in answer.root.iterfind(f"{_O}ListMetadataFormats/{_O}metadataFormat"):
            prefix = (item.findtext(f"{_O}metadataPrefix") or "").strip()
            self.formats[prefix] = (item.findtext(f"{_O}metadataNamespace") or "").strip()
        self.figures.formats = list(self.formats)
        listed = ", ".join(self.formats) or "none"
        problems = []
        if "oai_dc" not in self.formats:
            problems.append("oai_dc, which OAI-PMH requires, is not offered")
        if self.options.prefix != "oai_dc" and self.options.prefix not in self.formats:
            problems.append(f"the metadataPrefix {self.options.prefix} asked for is not offered")
        if problems:
            self.add(check, Level.FAIL, f"{'; '.join(problems)}; formats: {listed}")
        else:
            self.add(check, Level.PASS, f"{len(self.formats)} formats: {listed}")

    def _list_sets(self) -> None:
        check = "ListSets"
        specs: Counter[str] = Counter()

        def take(page: int, items: list[Any], answer: _Answer) -> None:
            specs.update((item.findtext(f"{_O}setSpec") or "").strip() for item in items)

        walk = self._walk(check, {"verb": check}, "set", take, max_pages=SET_PAGE_LIMIT)
        if walk.end is _End.FIRST_ERROR and walk.first_error is not None:
            code, text = walk.first_error
            if code == "noSetHierarchy":
                self.sets = set()
                level = Level.FAIL if self.options.set_spec else Level.PASS
                self.add(check, level, "the repository has no sets (noSetHierarchy)")
            else:
                self.add(check, Level.FAIL, f"answered with the error {code}: {text}")
            return
        if walk.end is _End.BROKEN:
            self.add(check, Level.FAIL, f"stopped after {len(specs)} sets: {walk.problem}")
            return
        if walk.end is _End.MAX_PAGES:
            self.add(check, Level.WARN, f"stopped after {len(specs)} sets in "
                     f"{SET_PAGE_LIMIT} pages, and the list went on")  # fmt: skip
            return
        self.sets = set(specs)
        self.figures.sets = len(self.sets)
        twice = sorted(spec for spec, n in specs.items() if n > 1)
        pages = _plural(walk.pages, "page")
        problems = []
        if twice:
            problems.append(f"{len(twice)} setSpecs listed twice (e.g. {twice[0]})")
        if walk.end is _End.NO_TOKEN and walk.pages > 1:
            problems.append(f"the last page ({walk.pages}) has no empty resumptionToken")
        if walk.end is _End.NOTHING_AFTER_TOKEN:
            problems.append(f"page {walk.pages - 1} carried a token although the list was "
                            "complete")  # fmt: skip
        if self.options.set_spec and self.options.set_spec not in self.sets:
            problems.append(f"the set {self.options.set_spec} asked for is not listed")
        if problems:
            self.add(check, Level.FAIL, f"{'; '.join(problems)} ({len(self.sets)} sets)")
        else:
            self.add(check, Level.PASS, f"{len(self.sets)} sets in {pages}")

    def _list_identifiers(self) -> None:
        check = "ListIdentifiers"
        options = self.options
        params = {"verb": check, "metadataPrefix": options.prefix}
        for name, value in (("set", options.set_spec), ("from", options.since),
                            ("until", options.until)):  # fmt: skip
            if value:
                params[name] = value
        headers = _HeaderChecks(self, options)
        walk = self._walk(check, params, "header", headers.take, max_pages=options.max_pages,
                          page_seconds=self.figures.page_seconds)  # fmt: skip
        figures = self.figures
        figures.pages = walk.pages
        figures.reached_end = walk.reached_end
        asked = f"metadataPrefix {options.prefix}" + "".join(
            f", {name} {value}"
            for name, value in params.items()
            if name not in ("verb", "metadataPrefix")
        )
        harvested = f"{figures.identifiers} identifiers in {_plural(walk.pages, 'page')}"
        if walk.end is _End.FIRST_ERROR and walk.first_error is not None:
            code, text = walk.first_error
            if code == "noRecordsMatch":
                self.add(check, Level.WARN, f"the list is empty ({asked}): noRecordsMatch: {text}")
            else:
                self.add(check, Level.FAIL, f"answered with the error {code} ({asked}): {text}")
            return
        if walk.end is _End.BROKEN:
            self.add(check, Level.FAIL, f"stopped after {harvested}: {walk.problem}")
        elif walk.end is _End.MAX_PAGES:
            self.add(check, Level.WARN, f"{harvested} ({asked}); stopped there as --max-pages "
                     "asks, so the end of the list was not checked")  # fmt: skip
        else:
            self.add(check, Level.PASS, f"{harvested} ({asked})")
        headers.findings()
        self._end_of_list(walk)
        self._tokens(walk)
        self._speed()

    def _walk(
        self,
        verb: str,
        params: dict[str, str],
        item: str,
        take: Callable[[int, list[Any], _Answer], None],
        *,
        max_pages: int | None,
        page_seconds: list[float] | None = None,
    ) -> _Walk:
        """Follow a list from token to token, handing each page's items to ``take``."""
        walk = _Walk(verb)
        seen: dict[str, int] = {}
        while True:
            page = walk.pages + 1
            try:
                answer = self._fetch(params, f"{verb} page {page}")
            except _FetchError as exc:
                walk.end, walk.problem = _End.BROKEN, f"page {page} got no answer: {exc}"
                return walk
            walk.pages = page
            if page_seconds is not None:
                page_seconds.append(answer.seconds)
            if answer.root is None:
                walk.end, walk.problem = _End.BROKEN, f"page {page} is unusable: {answer.problem}"
                return walk
            if answer.errors:
                code, text = answer.errors[0]
                if page == 1:
                    walk.end, walk.first_error = _End.FIRST_ERROR, (code, text)
                elif code == "noRecordsMatch":
                    walk.end = _End.NOTHING_AFTER_TOKEN
                    walk.problem = f"{code}: {text}"
                else:
                    walk.end = _End.BROKEN
                    walk.problem = (f"the token of page {page - 1} was answered with the "
                                    f"error {code}: {text}")  # fmt: skip
                return walk
            element = answer.root.find(f"{_O}{verb}")
            if element is None:
                walk.end = _End.BROKEN
                walk.problem = f"page {page} has neither {verb} nor an error"
                return walk
            items = element.findall(f"{_O}{item}")
            take(page, items, answer)
            token = element.find(f"{_O}resumptionToken")
            text = "" if token is None else (token.text or "").strip()
            if token is not None:
                walk.tokens.append(_Token(page, text, token.get("expirationDate"),
                                          token.get("completeListSize"), token.get("cursor"),
                                          answer.response_date, walk.items))  # fmt: skip
            walk.items += len(items)
            walk.last_page_items = len(items)
            if self.progress is not None and page_seconds is not None:
                self.progress(page, walk.items, _size(walk))
            if token is None:
                walk.end = _End.NO_TOKEN
                return walk
            if not text:
                walk.end = _End.EMPTY_TOKEN
                return walk
            if text in seen:
                walk.end = _End.BROKEN
                walk.problem = (f"page {page} carries the same resumption token as page "
                                f"{seen[text]}: the list would never end")  # fmt: skip
                return walk
            seen[text] = page
            if max_pages is not None and page >= max_pages:
                walk.end = _End.MAX_PAGES
                return walk
            params = {"verb": verb, "resumptionToken": text}

    def _end_of_list(self, walk: _Walk) -> None:
        figures = self.figures
        last = walk.pages
        if not walk.reached_end:
            why = "--max-pages stopped the harvest" if walk.end is _End.MAX_PAGES else (
                "the harvest broke off")  # fmt: skip
            for check in ("last page", "completeListSize"):
                self.add(check, Level.WARN, f"not checked: {why} before the end of the list")
            return
        figures.last_token_empty = walk.end is _End.EMPTY_TOKEN
        if walk.end is _End.NOTHING_AFTER_TOKEN:
            self.add("last page", Level.FAIL, f"page {last - 1} carried a resumption token "
                     "although the list was complete: following it gave "
                     f"{walk.problem}")  # fmt: skip
        elif walk.end is _End.NO_TOKEN and last > 1:
            self.add("last page", Level.FAIL, f"the last page ({last}) has no resumptionToken: "
                     "a list sent in pages must end with an empty <resumptionToken/>, or "
                     "harvesters cannot tell that it is complete")  # fmt: skip
        elif walk.end is _End.NO_TOKEN:
            self.add("last page", Level.PASS, "the whole list came in one page, without a token")
        elif last > 1 and walk.last_page_items == 0:
            self.add("last page", Level.WARN, f"the last page ({last}) is empty: the token on "
                     f"page {last - 1} should have been the empty one")  # fmt: skip
        else:
            self.add("last page", Level.PASS, f"the last page ({last}) has an empty "
                     "resumptionToken")  # fmt: skip
        sizes = [(t.page, t.size) for t in walk.tokens if t.size is not None]
        if not walk.tokens:
            self.add("completeListSize", Level.PASS, "not needed: the list came in one page")
            return
        if not sizes:
            self.add("completeListSize", Level.WARN, "not given: harvesters cannot tell how "
                     "long the harvest will take")  # fmt: skip
            return
        page, text = sizes[-1]
        if not text.isdigit():
            self.add("completeListSize", Level.FAIL, f"{text!r} on page {page} is not a number")
            return
        size = figures.complete_list_size = int(text)
        changed = {t for _, t in sizes}
        note = f" (it changed during the harvest: {', '.join(sorted(changed))})" if len(
            changed) > 1 else ""  # fmt: skip
        if size == figures.headers:
            self.add("completeListSize", Level.PASS, f"{size}, the number of identifiers "
                     f"harvested{note}")  # fmt: skip
        else:
            self.add("completeListSize", Level.FAIL, f"says {size}, but {figures.headers} "
                     f"identifiers came{note}")  # fmt: skip

    def _tokens(self, walk: _Walk) -> None:
        wrong_cursor = _Problems()
        with_cursor = 0
        for token in walk.tokens:
            if token.cursor is None:
                continue
            with_cursor += 1
            if token.cursor.strip() != str(token.items_before):
                wrong_cursor.add(f"cursor {token.cursor} on page {token.page}, after "
                                 f"{token.items_before} identifiers")  # fmt: skip
        if wrong_cursor:
            self.add("cursor", Level.WARN, wrong_cursor.describe("wrong cursors"))
        elif with_cursor:
            self.add("cursor", Level.PASS, f"right on every token ({with_cursor})")
        else:
            self.add("cursor", Level.PASS, "not given (it is optional)")
        issued = [t for t in walk.tokens if t.text]
        if not issued:
            self.add("expirationDate", Level.PASS, "no resumption token was issued")
            return
        missing = [t.page for t in issued if not t.expiration]
        unreadable = _Problems()
        shortest: tuple[float, int] | None = None
        for token in issued:
            if not token.expiration:
                continue
            stamp = parse_datestamp(token.expiration.strip())
            if stamp is None:
                unreadable.add(f"{token.expiration!r} on page {token.page}")
                continue
            if token.response_date is None:
                continue
            hours = (stamp.start - token.response_date).total_seconds() / 3600
            if shortest is None or hours < shortest[0]:
                shortest = (hours, token.page)
        if unreadable:
            self.add("expirationDate", Level.FAIL, unreadable.describe("unreadable dates"))
        elif shortest is not None and shortest[0] <= 0:
            self.add("expirationDate", Level.FAIL, f"the token on page {shortest[1]} had "
                     "expired when it was issued")  # fmt: skip
        elif shortest is not None and shortest[0] < TOKEN_LIFETIME_HOURS:
            self.add("expirationDate", Level.WARN, f"the token on page {shortest[1]} expires "
                     f"{shortest[0]:.1f} h after its page; aggregators ask for at least "
                     f"{TOKEN_LIFETIME_HOURS} h (a national harvest pauses overnight)")  # fmt: skip
        elif missing:
            self.add("expirationDate", Level.WARN, f"not given on {len(missing)} of "
                     f"{len(issued)} tokens (first on page {missing[0]}): harvesters cannot "
                     "tell how long they may pause")  # fmt: skip
        elif shortest is not None:
            self.add("expirationDate", Level.PASS, f"every token stays valid at least "
                     f"{shortest[0]:.1f} h after its page (aggregators ask for "
                     f"{TOKEN_LIFETIME_HOURS} h)")  # fmt: skip
        else:
            self.add("expirationDate", Level.WARN, "not compared: no responseDate to compare "
                     "the tokens' dates with")  # fmt: skip

    def _speed(self) -> None:
        figures = self.figures
        seconds = figures.page_seconds
        if not seconds:
            return
        rate = figures.per_second
        message = (f"{figures.seconds_min:.3f} s / {figures.seconds_median:.3f} s / "
                   f"{figures.seconds_max:.3f} s per page (min / median / max), "
                   f"{rate or 0:.0f} identifiers/s")  # fmt: skip
        quarter = len(seconds) // 4
        if max(seconds) > SLOW_PAGE_SECONDS:
            slowest = seconds.index(max(seconds)) + 1
            self.add("speed", Level.WARN, f"page {slowest} took {max(seconds):.1f} s; "
                     f"harvesters give up after 30-120 s; {message}")  # fmt: skip
            return
        if quarter >= 2:
            first = statistics.median(seconds[:quarter])
            deep = statistics.median(seconds[-quarter:])
            if deep > 1.0 and deep > DEEP_PAGE_RATIO * first:
                self.add("speed", Level.WARN, f"the last pages take {deep / first:.0f} times "
                         f"as long as the first ones (offset paging?); {message}")  # fmt: skip
                return
        self.add("speed", Level.PASS, message)

    def _get_record(self) -> None:
        check = "GetRecord"
        identifier = self.sample or self.identity.sample
        if not identifier:
            self.add(check, Level.WARN, "not made: no identifier was harvested")
            return
        source = "" if self.sample else " (Identify's sampleIdentifier)"
        params = {"verb": check, "identifier": identifier, "metadataPrefix": self.options.prefix}
        try:
            answer = self._fetch(params, check)
        except _FetchError as exc:
            self.add(check, Level.FAIL, f"{identifier}: no answer: {exc}")
            return
        if answer.root is None:
            self.add(check, Level.FAIL, f"{identifier}: the answer is unusable: {answer.problem}")
            return
        if answer.errors:
            code, text = answer.errors[0]
            level = Level.WARN if source and code == "idDoesNotExist" else Level.FAIL
            self.add(check, level, f"{identifier}{source}: the error {code}: {text}")
            return
        record = answer.root.find(f"{_O}GetRecord/{_O}record")
        if record is None:
            self.add(check, Level.FAIL, f"{identifier}: the answer has neither a record nor "
                     "an error")  # fmt: skip
            return
        got = (record.findtext(f"{_O}header/{_O}identifier") or "").strip()
        timing = f"{answer.seconds:.3f} s"
        if got != identifier:
            self.add(check, Level.FAIL, f"asked for {identifier}, got the record {got!r}")
            return
        header = record.find(f"{_O}header")
        if header is not None and header.get("status") == "deleted":
            self.add(check, Level.PASS, f"{identifier}{source}: deleted, header only, {timing}")
            return
        metadata = next(
            (c for c in record.iterfind(f"{_O}metadata/*") if isinstance(c.tag, str)), None
        )
        if metadata is None:
            self.add(check, Level.FAIL, f"{identifier}: the record has no metadata and is not "
                     "deleted")  # fmt: skip
            return
        name = etree.QName(metadata)
        expected = self.formats.get(self.options.prefix)
        if expected and name.namespace != expected:
            self.add(check, Level.FAIL, f"{identifier}: the metadata is <{name.localname}> in "
                     f"{name.namespace}, not in {expected} as ListMetadataFormats says for "
                     f"{self.options.prefix}")  # fmt: skip
            return
        self.add(check, Level.PASS, f"{identifier}{source} in {self.options.prefix}: "
                 f"<{name.localname}> in {name.namespace}, {timing}")  # fmt: skip

    # -- checks over every response ---------------------------------------------------
    def _response_checks(self) -> None:
        figures = self.figures
        count = _plural(figures.responses, "response")
        retries = (f"; the server asked to retry later {figures.retries} times (503)"
                   if figures.retries else "")  # fmt: skip
        types = ", ".join(self.content_types)
        if self.http_fail:
            self.add("HTTP", Level.FAIL, self.http_fail.describe(f"of {count} not HTTP 200 "
                     "(OAI-PMH answers even its errors with 200)") + retries)  # fmt: skip
        elif self.http_warn:
            self.add("HTTP", Level.WARN, self.http_warn.describe(f"of {count} without an XML "
                     "content type (OAI-PMH uses text/xml)") + retries)  # fmt: skip
        elif retries:
            self.add("HTTP", Level.WARN, f"{count}, all HTTP 200 {types}{retries}")
        else:
            self.add("HTTP", Level.PASS, f"{count}, all HTTP 200 {types}")

        if self.date_fail:
            self.add("responseDate", Level.FAIL, self.date_fail.describe(
                "not a UTC time like 2026-01-31T08:00:00Z"))  # fmt: skip
        elif abs(self.max_skew) > CLOCK_SKEW_SECONDS:
            side = "ahead of" if self.max_skew > 0 else "behind"
            hours = abs(self.max_skew) / 3600
            local_time = (" (whole hours: local time written as UTC?)"
                          if hours >= 0.5 and abs(hours - round(hours)) < 0.02 else "")  # fmt: skip
            level = Level.FAIL if abs(self.max_skew) >= LOCAL_TIME_SECONDS else Level.WARN
            self.add("responseDate", level, f"{abs(self.max_skew):.0f} s {side} this "
                     f"machine's clock ({self.skew_example}){local_time}: incremental "
                     "harvests by date will miss or repeat records")  # fmt: skip
        else:
            self.add("responseDate", Level.PASS, f"UTC at seconds granularity in all {count}, "
                     f"within {abs(self.max_skew):.0f} s of this machine's clock")  # fmt: skip

        offered = self.identity.compression
        used = figures.compressed
        used_text = ", ".join(f"{c} on {n} of {figures.responses}" for c, n in used.items())
        if "gzip" in offered and used.get("gzip") == figures.responses:
            self.add("compression", Level.PASS, f"gzip offered in Identify and used on all "
                     f"{count}")  # fmt: skip
        elif used and not set(used) <= set(offered):
            self.add("compression", Level.WARN, f"responses are compressed ({used_text}) but "
                     f"Identify lists {', '.join(offered) or 'no compression'}")  # fmt: skip
        elif "gzip" in offered:
            self.add("compression", Level.WARN, f"gzip offered in Identify but used on "
                     f"{used.get('gzip', 0)} of {count} although we asked for it")  # fmt: skip
        elif used:
            self.add("compression", Level.WARN, f"{used_text}, but not gzip, the coding "
                     "every harvester understands")  # fmt: skip
        else:
            self.add("compression", Level.WARN, "no compression offered or used: a harvest "
                     "moves about ten times the bytes it needs")  # fmt: skip

        if self.schemas is None:
            self.add("schema", Level.WARN, "not validated: give --schemas DIR, a folder with "
                     "the official OAI-PMH.xsd, oai_dc.xsd, MARC21slim.xsd, ... (repeat "
                     "--schemas for more folders)")  # fmt: skip
            return
        names = ", ".join(self.schemas.file_names())
        unchecked = ""
        if self.unchecked:
            unchecked = ("; not validated, no schema given for " + ", ".join(
                f"{namespace} ({n}x)" for namespace, n in self.unchecked.items()))  # fmt: skip
        valid = figures.responses - figures.invalid_responses
        if self.invalid:
            self.add("schema", Level.FAIL, self.invalid.describe(f"of {count} invalid") +
                     unchecked)  # fmt: skip
        elif unchecked:
            self.add("schema", Level.WARN, f"{valid} of {count} valid against {names}{unchecked}")
        else:
            self.add("schema", Level.PASS, f"all {count} valid against {names}")


class _HeaderChecks:
    """The checks made on every ListIdentifiers header, and their findings."""

    def __init__(self, run: _HarvestCheck, options: CheckOptions) -> None:
        self.run = run
        self.options = options
        self.seen: dict[str, tuple[str, int]] = {}  # identifier -> (datestamp, page)
        self.duplicates = _Problems()
        self.bad_stamp = _Problems()
        self.wrong_granularity = _Problems()
        self.too_early = _Problems()
        self.future = _Problems()
        self.outside = _Problems()
        self.unlisted_sets = _Problems()
        self.not_in_set = _Problems()
        self.first: Datestamp | None = None
        self.last: Datestamp | None = None
        self.since = parse_datestamp(options.since) if options.since else None
        self.until = parse_datestamp(options.until) if options.until else None

    def take(self, page: int, headers: list[Any], answer: _Answer) -> None:
        figures = self.run.figures
        granularity = self.run.identity.granularity
        earliest = self.run.identity.earliest
        known_sets = self.run.sets
        wanted = self.options.set_spec
        for header in headers:
            identifier = (header.findtext(f"{_O}identifier") or "").strip()
            text = (header.findtext(f"{_O}datestamp") or "").strip()
            deleted = header.get("status") == "deleted"
            figures.headers += 1
            figures.deleted += deleted
            where = f"{identifier} on page {page}"
            previous = self.seen.get(identifier)
            if previous is None:
                self.seen[identifier] = (text, page)
                figures.identifiers += 1
                if self.run.sample is None or (self.run.sample_deleted and not deleted):
                    self.run.sample, self.run.sample_deleted = identifier, deleted
            elif previous[0] == text:
                figures.duplicates += 1
                self.duplicates.add(f"{identifier} on pages {previous[1]} and {page}")
            else:
                figures.served_again_changed += 1
                self.seen[identifier] = (text, page)
            stamp = parse_datestamp(text)
            if stamp is None:
                self.bad_stamp.add(f"{text!r} for {where}")
            else:
                if granularity and stamp.granularity != granularity:
                    self.wrong_granularity.add(f"{text} for {where}")
                if earliest and stamp.end < earliest.start:
                    self.too_early.add(f"{text} for {where}")
                if answer.response_date and stamp.start > answer.response_date:
                    self.future.add(f"{text} for {where}")
                if (self.since and stamp.end < self.since.start) or (
                    self.until and stamp.start > self.until.end
                ):
                    self.outside.add(f"{text} for {where}")
                if self.first is None or stamp.start < self.first.start:
                    self.first = stamp
                if self.last is None or stamp.start > self.last.start:
                    self.last = stamp
            specs = [(s.text or "").strip() for s in header.findall(f"{_O}setSpec")]
            if known_sets is not None:
                for spec in specs:
                    if spec not in known_sets:
                        self.unlisted_sets.add(f"{spec} for {where}")
            if (
                wanted
                and not deleted
                and not any(s == wanted or s.startswith(wanted + ":") for s in specs)
            ):
                self.not_in_set.add(f"{where} has sets {', '.join(specs) or 'none'}")

    def findings(self) -> None:
        run, figures = self.run, self.run.figures
        if self.duplicates:
            run.add("duplicates", Level.FAIL, self.duplicates.describe(
                "identifiers served twice with the same datestamp"))  # fmt: skip
        else:
            again = ""
            if figures.served_again_changed:
                again = (f"; {figures.served_again_changed} served again after they changed "
                         "during the harvest, as they should be")  # fmt: skip
            run.add("duplicates", Level.PASS, f"none among {figures.headers} headers{again}")

        policy = run.identity.deleted_record
        if figures.deleted and policy == "no":
            run.add("deleted", Level.FAIL, f"{figures.deleted} deleted headers, but Identify "
                    "says deletedRecord no")  # fmt: skip
        else:
            run.add("deleted", Level.PASS, f"{figures.deleted} deleted headers (Identify: "
                    f"deletedRecord {policy or 'unknown'})")  # fmt: skip

        granularity = run.identity.granularity
        problems = [
            (self.bad_stamp, "datestamps that are not UTC datestamps"),
            (self.wrong_granularity, f"datestamps not at Identify's granularity {granularity}"),
            (self.too_early, "datestamps before Identify's earliestDatestamp"),
            (self.future, "datestamps after the responseDate of their page"),
            (self.outside, "datestamps outside the --from/--until asked for"),
        ]
        found = [problems.describe(what) for problems, what in problems if problems]
        if found:
            run.add("datestamps", Level.FAIL, "; ".join(found))
        elif not figures.headers:
            run.add("datestamps", Level.PASS, "no headers to check")
        else:
            span = f"from {self.first.text} to {self.last.text}" if self.first and self.last \
                else ""  # fmt: skip
            within = ", within --from/--until" if self.since or self.until else ""
            if granularity:
                run.add("datestamps", Level.PASS, f"all {figures.headers} at {granularity} as "
                        f"Identify says, {span}; none before earliestDatestamp or after "
                        f"responseDate{within}")  # fmt: skip
            else:
                run.add("datestamps", Level.WARN, f"all {figures.headers} well formed, {span}, "
                        "but Identify gave no granularity to compare with")  # fmt: skip

        if self.not_in_set:
            run.add("setSpecs", Level.FAIL, self.not_in_set.describe(
                f"records outside the set {self.options.set_spec} asked for"))  # fmt: skip
        elif self.unlisted_sets:
            run.add("setSpecs", Level.WARN, self.unlisted_sets.describe(
                "setSpecs that ListSets does not list"))  # fmt: skip
        elif run.sets is None:
            run.add("setSpecs", Level.WARN, "not compared: ListSets could not be read")
        else:
            asked = f"; every record is in {self.options.set_spec}" if self.options.set_spec \
                else ""  # fmt: skip
            run.add("setSpecs", Level.PASS, f"every setSpec in the headers is listed by "
                    f"ListSets{asked}")  # fmt: skip


# -- helpers ---------------------------------------------------------------------------

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def _parse(content: bytes, content_type: str) -> tuple[Any, str | None]:
    """The OAI-PMH root element, or None and what the content is instead."""
    head = content[:512].lstrip().lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        kind = content_type.split(";", 1)[0].strip() or "no content type"
        if OAI_NS.encode("ascii") not in content:
            return None, f"an HTML page ({kind}), not OAI-PMH XML"
    if not content.strip():
        return None, "an empty body"
    if not content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        kind = content_type.split(";", 1)[0].strip() or "no content type"
        return None, f"a body that is not XML ({kind})"
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as exc:
        return None, f"XML that is not well-formed ({exc})"
    if root.tag != f"{_O}OAI-PMH":
        return None, f"XML whose root is <{etree.QName(root).localname}>, not <OAI-PMH>"
    return root, None


def _reason(exc: requests.RequestException, timeout: float) -> str:
    """Why a request failed, in a few words rather than urllib3's chain of exceptions."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s (--timeout)"
    if isinstance(exc, requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema):
        return "not an http:// or https:// URL"
    if isinstance(exc, requests.exceptions.InvalidURL):
        return "not a valid URL"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "the body is not in the compression its Content-Encoding names"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS failed (certificate or protocol)"
    match = _ERRNO.search(str(exc))
    if match:
        return match.group(1).strip().lower()
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke off in the middle of the answer"
    if isinstance(exc, requests.ConnectionError):
        return "the connection failed or was closed without an answer"
    return type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait for a 503's Retry-After, when it asks for a short enough wait."""
    if value is None or not value.strip().isdigit():
        return None
    seconds = int(value.strip())
    return float(seconds) if seconds <= RETRY_AFTER_LIMIT else None


def _same_url(a: str, b: str) -> bool | None:
    """Whether two base URLs name the same place (scheme and host case ignored)."""
    try:
        first, second = urlsplit(a.strip()), urlsplit(b.strip())
    except ValueError:
        return None

    def key(url: Any) -> tuple[str, str, str, str]:
        return (url.scheme.lower(), url.netloc.lower(), url.path.rstrip("/"), url.query)

    return key(first) == key(second)


def _size(walk: _Walk) -> int | None:
    size = walk.tokens[-1].size if walk.tokens else None
    return int(size) if size and size.isdigit() else None


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
