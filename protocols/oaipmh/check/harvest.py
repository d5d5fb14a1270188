"""One run of the self-test: the verbs in the order a harvester sends them.

Identify, ListMetadataFormats, ListSets, a whole ListIdentifiers followed from token to
token, then GetRecord; each answer is judged as it comes, and the per-header and
per-response checks are fed along the way. :func:`check_endpoint` is the entry point.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from lxml import etree

from gateway import __version__
from gateway.xmlschemas import CombinedSchema

from .fetch import _Answer, _FetchError, _request
from .headers import _HeaderChecks
from .report import (
    CHECKS,
    TOKEN_LIFETIME_HOURS,
    CheckOptions,
    CheckReport,
    Finding,
    Level,
    _plural,
    _Problems,
)
from .responses import _ResponseChecks, load_schemas
from .standard import (
    _O,
    DAY,
    DELETED_RECORD_POLICIES,
    SECONDS,
    Datestamp,
    parse_datestamp,
    whole_number,
)

#: A page slower than this risks harvesters' timeouts (30-120 s).
SLOW_PAGE_SECONDS = 10.0
#: Deep pages this many times slower than the first ones: offset paging.
DEEP_PAGE_RATIO = 5.0
#: ListSets is a few pages at most; a list of sets that goes on and on is not followed.
SET_PAGE_LIMIT = 1000


class EndpointError(Exception):
    """The address cannot be checked at all: unreachable, or not an OAI-PMH endpoint."""


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
        self.progress = progress
        self.sleep = sleep
        self.report = CheckReport(base_url, options)
        self.figures = self.report.figures
        self.identity = _Identity()
        self.formats: dict[str, str] = {}  # metadataPrefix -> metadataNamespace
        self.sets: set[str] | None = None  # None: ListSets could not be read
        self.sample: str | None = None  # the first identifier harvested, not deleted if any
        self.responses = _ResponseChecks(self.figures, schemas)

    def add(self, check: str, level: Level, message: str) -> None:
        self.report.findings.append(Finding(check, level, message))

    def run(self) -> CheckReport:
        started = time.perf_counter()
        self._identify()
        self._list_metadata_formats()
        self._list_sets()
        self._list_identifiers()
        self._get_record()
        self.responses.findings(self.add, self.identity.compression)
        self.figures.seconds = time.perf_counter() - started
        order = list(CHECKS)
        self.report.findings.sort(key=lambda f: order.index(f.check))
        return self.report

    # -- fetching ---------------------------------------------------------------------
    def _fetch(self, params: Mapping[str, str], label: str) -> _Answer:
        answer, response, received = _request(
            self.session,
            self.base_url,
            params,
            label,
            timeout=self.options.timeout,
            sleep=self.sleep,
            figures=self.figures,
        )
        self.responses.take(answer, response, received)
        return answer

    def _usable(self, check: str, params: Mapping[str, str], about: str = "") -> _Answer | None:
        """The answer to ``params``, or None after a FAIL saying why it cannot be used
        (``about`` names what was asked, as the start of the message)."""
        try:
            answer = self._fetch(params, check)
        except _FetchError as exc:
            self.add(check, Level.FAIL, f"{about}no answer: {exc}")
            return None
        if answer.root is None:
            self.add(check, Level.FAIL, f"{about}the answer is unusable: {answer.problem}")
            return None
        return answer

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
        answer = self._usable(check, {"verb": check})
        if answer is None or answer.root is None:
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
        headers = _HeaderChecks(
            options,
            self.figures,
            granularity=self.identity.granularity,
            earliest=self.identity.earliest,
            deleted_record=self.identity.deleted_record,
            sets=self.sets,
        )
        walk = self._walk(check, params, "header", headers.take, max_pages=options.max_pages,
                          page_seconds=self.figures.page_seconds)  # fmt: skip
        self.sample = headers.sample
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
        headers.findings(self.add)
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
        number = whole_number(text)
        if number is None:
            self.add("completeListSize", Level.FAIL, f"{text!r} on page {page} is not a number")
            return
        size = figures.complete_list_size = number
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
        answer = self._usable(check, params, f"{identifier}: ")
        if answer is None or answer.root is None:
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


# -- helpers ---------------------------------------------------------------------------


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
    return whole_number(size)
