"""An OAI-PMH provider as a source: Koha, DSpace, or another lienthong, harvested with sickle.

Each sync is one ``ListRecords`` (``marc21`` read as MARCXML, or ``oai_dc`` crosswalked to
MARC 21), followed through its resumption tokens to the end of the list. The HTTP requests
and sickle's wait on ``503 Retry-After`` are sickle's; the pages are parsed here, strictly,
because sickle's own parser recovers from broken XML and a page cut off half-way would
then end the harvest quietly with records missing.

Incremental harvests use the provider's clock, never ours: the checkpoint is the
``responseDate`` of the first page of the last harvest that was read to its end, as the
provider wrote it (always to the second: the protocol says so), or the latest datestamp
of the harvest's records when that is earlier. Datestamps should be UTC too, but Koha
writes its local time with a ``Z``: on a server behind UTC they are hours behind its
responseDate, and a ``from`` taken from the responseDate would skip the changes of those
hours; one taken from the latest datestamp does not. (On a server ahead of UTC the
responseDate is the earlier, and some records are read twice, harmlessly.) A harvest
that finds nothing keeps the checkpoint it started from (a first one takes the
responseDate). The next harvest asks for ``from`` = checkpoint − ``overlap_seconds``,
written in the provider's granularity from ``Identify`` (``YYYY-MM-DD`` providers get the
day that moment falls on, which is the day before when the checkpoint is close after
midnight). ``from`` is inclusive, so a record changed in the checkpoint's own second is
read again, harmlessly. The final :class:`~adapters.interface.Mark` comes only after the
last page: a harvest broken off at any point starts again from the same ``from``.

Record ids (``id_rule``): the default ``identifier`` takes the OAI identifier without a
leading ``oai:<repository-id>:`` and keeps the rest exactly as the provider wrote it; an
identifier of another shape is kept whole. So another lienthong's
``oai:demo.lienthong.vn:dlk-tinh/DLK000001`` is stored as ``dlk-tinh/DLK000001`` (the
provider's library stays in the id: a provider serving several libraries may repeat local
ids between them) and Koha's ``KOHA-OAI-TEST:52`` as ``KOHA-OAI-TEST:52``. Deleted headers
(``status="deleted"``) become deletions of that id. With ``marc21`` the id may instead come
from the record (``001``, ``001+003``, ``035$a``, ...): deleted headers carry no record,
so the provider's deletions are then only learnt by a full harvest (``--full``), which
ends with a listing of every record it read.

A harvest without ``from`` (the first, or ``--full``) ends with a
:class:`~adapters.interface.Complete` listing of every live record, so it also reconciles;
a record whose metadata cannot be read is a problem but stays listed (its stored copy is
kept). Records are read straight from the page's parsed elements (no re-serialisation),
and the next page is fetched while this one is read.

Faults: timeouts and refused connections are retried with a growing pause, 503 (429, 502,
504) as sickle does with the provider's ``Retry-After`` (capped at a minute), then the sync
fails with a :class:`~adapters.interface.SourceError` naming the URL. A resumption token
the provider no longer accepts restarts the list once from the same ``from`` (re-read
records change nothing). A format the provider does not offer is reported, not retryable,
with the formats it does offer.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from lxml import etree
from pymarc import Record
from sickle import Sickle

from crosswalks.dc_to_marc import dc_to_marc
from crosswalks.legacy import LegacyMode, repair_record
from crosswalks.marcxml import record_from_marcxml
from crosswalks.vietnamese import normalize
from gateway import __version__
from gateway.record import normalize_record

from .interface import (
    Complete,
    Deletion,
    Event,
    Mark,
    Problem,
    Sample,
    SourceError,
    SourceSettings,
    Upsert,
)
from .records import id_rule as read_id_rule

__all__ = ["OaiSource", "open_source", "local_id_from_identifier", "harvest_from"]

log = logging.getLogger("lienthong.sync.oai")

OAI = "{http://www.openarchives.org/OAI/2.0/}"
MARCXML_NS = "http://www.loc.gov/MARC21/slim"
DC_NS = "http://purl.org/dc/elements/1.1/"
PREFIXES = ("marc21", "oai_dc")
DAY_GRANULARITY = "YYYY-MM-DD"
#: Longest wait on a provider's Retry-After: some ask for an hour, the next sync comes sooner.
MAX_RETRY_AFTER = 60.0
#: HTTP answers that mean "busy, try again shortly".
_BUSY = (429, 502, 503, 504)
#: Strict: a page that is not well-formed is an error, never silently "recovered".
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_USER_AGENT = f"lienthong/{__version__} (OAI-PMH harvester)"
#: OAI errors that no retry can mend: the configuration must change.
_CONFIG_ERRORS = {
    "badArgument": "did not accept the request's arguments",
    "cannotDisseminateFormat": "does not offer metadata format {prefix!r}",
    "noSetHierarchy": "has no sets, so set {set!r} cannot be harvested",
    "badVerb": "does not understand OAI-PMH verbs (is the URL its OAI-PMH base URL?)",
}


# -- ids and dates ------------------------------------------------------------------------


def local_id_from_identifier(identifier: str) -> str | None:
    """The local id of an OAI identifier: without ``oai:<repository-id>:`` when it starts
    so, else the whole identifier; trimmed, Vietnamese NFC; None when empty."""
    text = identifier.strip()
    parts = text.split(":", 2)
    if len(parts) == 3 and parts[0].lower() == "oai" and parts[1] and parts[2]:
        text = parts[2]
    if not text:
        return None
    return text if text.isascii() else normalize(text)


def _parse_utc(text: str | None) -> datetime | None:
    """A UTCdatetime (``YYYY-MM-DD``, ``...Thh:mm:ssZ``, with fractions or an offset)."""
    if not text:
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def harvest_from(checkpoint: str, overlap_seconds: int, granularity: str) -> str | None:
    """The ``from`` argument for a harvest after ``checkpoint``: ``overlap_seconds``
    earlier, in the provider's granularity; None for a checkpoint that is not a date."""
    moment = _parse_utc(checkpoint)
    if moment is None:
        return None
    moment -= timedelta(seconds=overlap_seconds)
    if granularity == DAY_GRANULARITY:
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _checkpoint_of(response_date: str | None, http_date: str | None) -> str | None:
    """The provider's time of a response: its responseDate, else its HTTP Date header."""
    moment = _parse_utc(response_date)
    if moment is None and http_date:
        try:
            moment = email.utils.parsedate_to_datetime(http_date).astimezone(UTC)
        except (TypeError, ValueError):
            moment = None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _next_checkpoint(
    response_date: str | None, latest: datetime | None, previous: str | None
) -> str:
    """The checkpoint after a harvest: the earlier of the first page's responseDate and
    the latest datestamp read (a provider writing local time as UTC, behind UTC, has its
    datestamps behind its responseDate); with no datestamp read, the checkpoint the
    harvest started from, else the responseDate."""
    if latest is None:
        return previous or response_date or ""
    response = _parse_utc(response_date)
    moment = latest if response is None else min(latest, response)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _masked(url: str) -> str:
    """``url`` without a password in it (user:password@host becomes user:***@host)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


# -- HTTP and pages -----------------------------------------------------------------------


class _Sickle(Sickle):
    """sickle, with Retry-After read as seconds or an HTTP date and capped."""

    max_wait = MAX_RETRY_AFTER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One connection kept open for the whole list (no TCP or TLS set-up per page).
        # One request at a time: the next page is asked for once this one has come.
        self.session = requests.Session()

    def _request(self, kwargs: dict[str, str]) -> requests.Response:
        if self.http_method == "GET":
            return self.session.get(self.endpoint, params=kwargs, **self.request_args)
        return self.session.post(self.endpoint, data=kwargs, **self.request_args)

    def get_retry_after(self, http_response: requests.Response) -> float:
        header = http_response.headers.get("retry-after")
        wait: float = float(self.default_retry_after)
        if header:
            try:
                wait = float(header.strip())
            except ValueError:
                try:
                    when = email.utils.parsedate_to_datetime(header)
                    wait = (when - datetime.now(UTC)).total_seconds()
                except (TypeError, ValueError):
                    pass
        return max(0.0, min(wait, self.max_wait))


@dataclass(frozen=True, slots=True)
class _Page:
    """One OAI-PMH response: its root, the verb's element (None: noRecordsMatch), the
    request's URL for messages, and whether it starts a restarted list."""

    root: etree._Element
    body: etree._Element | None
    url: str
    http_date: str | None
    restarted: bool = False

    @property
    def checkpoint(self) -> str | None:
        return _checkpoint_of(self.root.findtext(f"{OAI}responseDate"), self.http_date)


class _BadToken(Exception):
    """The provider refused a resumption token it gave (expired, or its data changed)."""


class _Client:
    """Requests to one provider: retried as the module says, parsed strictly, OAI errors
    turned into :class:`SourceError` with plain words."""

    def __init__(self, url: str, *, timeout: float, attempts: int, backoff: float,
                 max_wait: float, prefix: str, set_spec: str | None) -> None:  # fmt: skip
        self.url, self.shown = url, _masked(url)
        self.attempts, self.backoff = max(1, attempts), backoff
        self.prefix, self.set_spec = prefix, set_spec
        self.sickle = _Sickle(url, max_retries=max(0, attempts - 1), retry_status_codes=_BUSY,
                              default_retry_after=min(10.0, max_wait), timeout=timeout,
                              headers={"User-Agent": _USER_AGENT})  # fmt: skip
        self.sickle.max_wait = max_wait
        self.sleep: Callable[[float], None] = time.sleep

    def shown_url(self, params: dict[str, str]) -> str:
        """The request's URL for messages (password masked, a long token shortened)."""
        shown = {k: (v if len(v) <= 80 else v[:77] + "...") for k, v in params.items()}
        return f"{self.shown}?{urlencode(shown)}"

    def request(self, params: dict[str, str]) -> tuple[etree._Element, str | None]:
        """The parsed OAI-PMH root of the answer to ``params``, and its HTTP Date."""
        where = self.shown_url(params)
        failure = ""
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.sickle.harvest(**params)
            except requests.HTTPError as exc:
                answered = _oai_error_page(exc.response)
                if answered is not None and exc.response is not None:  # OAI error, HTTP 4xx
                    return answered, exc.response.headers.get("Date")
                raise self._http_error(exc.response, where) from None
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema) as exc:  # fmt: skip
                raise SourceError(f"OAI-PMH url {self.shown} is not a usable http(s) URL "
                                  f"({type(exc).__name__})", retryable=False) from None  # fmt: skip
            except requests.Timeout:
                failure = "did not answer in time"
            except requests.ConnectionError as exc:
                failure = _connection_failure(exc)
            except requests.RequestException as exc:  # a cut-off transfer and its kin
                failure = f"broke off the answer ({type(exc).__name__})"
            else:
                http = response.http_response
                return _parse_page(http.content, where), http.headers.get("Date")
            log.warning("OAI-PMH %s %s (attempt %d of %d)", where, failure, attempt + 1,
                        self.attempts)  # fmt: skip
        raise SourceError(f"OAI-PMH provider {where} {failure}; tried {self.attempts} times")

    @staticmethod
    def _http_error(response: requests.Response | None, where: str) -> SourceError:
        status = response.status_code if response is not None else 0
        reason = response.reason if response is not None else ""
        busy = status in _BUSY or status >= 500 or status == 408
        what = "is busy or failing" if busy else "refused the request"
        hint = "" if busy else " (check the url setting)"
        return SourceError(f"OAI-PMH provider {where} {what}: HTTP {status} {reason}{hint}",
                           retryable=busy)  # fmt: skip

    def pages(self, verb: str, arguments: dict[str, str]) -> Generator[_Page, None, None]:
        """The pages of one list, through its resumption tokens; restarted once from the
        first page when the provider refuses a token it gave."""
        restarted = False
        while True:
            try:
                yield from self._pages(verb, arguments, restarted)
                return
            except _BadToken as exc:
                if restarted:
                    raise SourceError(f"OAI-PMH provider {exc} again after the list was "
                                      "started over; try again later") from None  # fmt: skip
                log.warning("OAI-PMH provider %s; starting the list over", exc)
                restarted = True

    def _pages(self, verb: str, arguments: dict[str, str], restarted: bool) -> Iterator[_Page]:
        # The next page is asked for (in a thread) as soon as its token is known, so the
        # provider renders it and the network carries it while this page's records are
        # read: a harvest takes the longer of the two, not their sum.
        params = {"verb": verb, **arguments}
        tokens: set[str] = set()
        first = True
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oai-next-page")
        try:
            coming = pool.submit(self.request, params)
            while True:
                root, http_date = coming.result()
                where = self.shown_url(params)
                error = root.find(f"{OAI}error")
                if error is not None:
                    code = error.get("code") or "unknown"
                    text = " ".join((error.text or "").split())
                    if code == "noRecordsMatch" and first:
                        yield _Page(root, None, where, http_date, restarted)
                        return
                    if code == "badResumptionToken" and not first:
                        raise _BadToken(f"{where} refused its own resumption token ({text})")
                    raise self.oai_error(code, text, where)
                body = root.find(f"{OAI}{verb}")
                if body is None:
                    raise SourceError(f"OAI-PMH provider {where} answered without a <{verb}> "
                                      "element or an error: not an OAI-PMH answer")  # fmt: skip
                element = body.find(f"{OAI}resumptionToken")
                token = (element.text or "").strip() if element is not None else ""
                if token in tokens:
                    raise SourceError(f"OAI-PMH provider {where} gave resumption token "
                                      f"{token!r} twice: the list would never end")  # fmt: skip
                if token:
                    tokens.add(token)
                    params = {"verb": verb, "resumptionToken": token}
                    coming = pool.submit(self.request, params)
                yield _Page(root, body, where, http_date, restarted and first)
                if not token:
                    return
                first = False
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def oai_error(self, code: str, text: str, where: str) -> SourceError:
        """An OAI error answer in words; configuration errors name what the provider
        offers and are not retryable."""
        said = f" (it said: {text})" if text else ""
        if code in _CONFIG_ERRORS:
            what = _CONFIG_ERRORS[code].format(prefix=self.prefix, set=self.set_spec)
            message = f"OAI-PMH provider {where} {what}{said}"
            if code in ("badArgument", "cannotDisseminateFormat"):
                message += f"; {self.offered_formats()}"
            return SourceError(message, retryable=False)
        return SourceError(f"OAI-PMH provider {where} answered with error {code}{said}")

    def formats(self) -> list[str]:
        """The metadata prefixes the provider offers (ListMetadataFormats)."""
        root, _ = self.request({"verb": "ListMetadataFormats"})
        error = root.find(f"{OAI}error")
        if error is not None:
            raise SourceError(f"OAI-PMH provider {self.shown} cannot list its formats "
                              f"({error.get('code')})")  # fmt: skip
        return [
            (element.text or "").strip()
            for element in root.iter(f"{OAI}metadataPrefix")
            if (element.text or "").strip()
        ]

    def offered_formats(self) -> str:
        """What the provider offers, in words (for an error that is about formats)."""
        try:
            return _offered(self.formats())
        except SourceError:
            return "its list of formats could not be read"


def _offered(formats: list[str]) -> str:
    usable = [p for p in formats if p in PREFIXES]
    hint = f" (set metadata_prefix to {' or '.join(usable)})" if usable else ""
    return f"it offers {', '.join(formats) or 'no formats'}{hint}"


def _oai_error_page(response: requests.Response | None) -> etree._Element | None:
    """The OAI-PMH error answer in an HTTP error's body, if that is what it is (some
    providers send badArgument and the like with status 400)."""
    if response is None or response.status_code in _BUSY or not response.content:
        return None
    try:
        root = etree.fromstring(response.content, _PARSER)
    except etree.XMLSyntaxError:
        return None
    return root if root.tag == f"{OAI}OAI-PMH" and root.find(f"{OAI}error") is not None else None


def _connection_failure(exc: requests.ConnectionError) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "refused the connection (is it running?)"
    if "Name or service not known" in text or "getaddrinfo" in text or "resolve" in text:
        return "could not be found (the host name does not resolve)"
    return "could not be reached (connection failed)"


def _parse_page(content: bytes, where: str) -> etree._Element:
    """The OAI-PMH root of a page; SourceError for anything else, in plain words."""
    if not content.strip():
        raise SourceError(f"OAI-PMH provider {where} answered with an empty page")
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        last = content.rstrip().rsplit(b"\n", 1)[-1]
        cut = "premature end of data" in str(exc.msg).lower() or (
            line == content.rstrip().count(b"\n") + 1 and column > len(last)
        )
        how = "the page ends before its XML does (cut off half-way?)" if cut else (
            f"it begins {_beginning(content)!r}")  # fmt: skip
        raise SourceError(f"OAI-PMH provider {where} answered with a page that is not "
                          f"well-formed XML ({len(content):,} bytes; line {line}, column "
                          f"{column}: {exc.msg}): {how}") from None  # fmt: skip
    if root.tag != f"{OAI}OAI-PMH":
        name = etree.QName(root).localname
        raise SourceError(f"OAI-PMH provider {where} answered with XML that is not an OAI-PMH "
                          f"response (its root element is <{name}>)")  # fmt: skip
    return root


def _beginning(content: bytes) -> str:
    text = content[:60].decode("utf-8", "replace")
    return " ".join(text.split())


# -- the source ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Identity:
    """What Identify says (the granularity decides how ``from`` is written)."""

    name: str
    granularity: str
    earliest: str
    deleted_records: str


class OaiSource:
    """One OAI-PMH provider, one metadata format (and set), as a bibliographic source."""

    def __init__(self, url: str, *, prefix: str = "marc21", set_spec: str | None = None,
                 id_rule: str = "identifier", timeout: float = 60, legacy: LegacyMode =
                 LegacyMode.AUTO, attempts: int = 3, backoff: float = 2.0,
                 max_wait: float = MAX_RETRY_AFTER) -> None:  # fmt: skip
        if prefix not in PREFIXES:
            raise ValueError(f"metadata_prefix {prefix!r} is not one lienthong can read: "
                             "use marc21 or oai_dc")  # fmt: skip
        if prefix == "oai_dc" and id_rule != "identifier":
            raise ValueError("id_rule for an oai_dc source must be identifier: Dublin Core "
                             "records have no MARC fields to take an id from")  # fmt: skip
        # An unusable rule fails here (ValueError), not half-way through a harvest.
        self.rule = None if id_rule == "identifier" else read_id_rule(id_rule)
        self.url, self.prefix, self.set_spec = url, prefix, set_spec
        self.id_rule, self.legacy = id_rule, legacy
        self.client = _Client(url, timeout=timeout, attempts=attempts, backoff=backoff,
                              max_wait=max_wait, prefix=prefix, set_spec=set_spec)  # fmt: skip
        self._identity: _Identity | None = None

    # -- the interface

    def changes(self, checkpoint: str | None, *, overlap_seconds: int) -> Iterator[Event]:
        """Every record changed since ``checkpoint`` (all of them for None), then a mark
        at the provider's time of the first page; a full harvest also lists every id."""
        arguments = self._arguments()
        since = None
        if checkpoint:
            since = harvest_from(checkpoint, overlap_seconds, self.identify().granularity)
            if since is None:
                log.warning("OAI checkpoint %r is not a date; harvesting everything", checkpoint)
        if since is not None:
            arguments["from"] = since
        full = since is None
        mark: str | None = None
        latest: datetime | None = None  #: the latest header datestamp of the harvest
        live: set[str] = set()
        problems = 0
        for page in self.client.pages("ListRecords", arguments):
            if mark is None:
                mark = page.checkpoint
            if page.restarted:
                live.clear()
            if page.body is None:
                break
            for element in page.body.iterfind(f"{OAI}record"):
                stamp = _parse_utc(element.findtext(f"{OAI}header/{OAI}datestamp"))
                if stamp is not None and (latest is None or stamp > latest):
                    latest = stamp
                event = self._event(element, page.url)
                if isinstance(event, Upsert):
                    live.add(event.local_id)
                elif isinstance(event, Deletion):
                    live.discard(event.local_id)
                elif isinstance(event, _Gone):
                    if full:  # the listing at the end leaves it out: that deletes it
                        continue
                    event = Problem(event.where, event.reason)
                else:
                    problems += 1
                    if isinstance(event, _Unread):  # still at the provider: keep it listed
                        live.add(event.local_id)
                        event = Problem(event.where, event.reason)
                yield event
        if full:
            what = f"full harvest of {self.client.shown} ({self.prefix})"
            if self.id_rule == "identifier":
                yield Complete(frozenset(live), what)
            elif not problems:
                yield Complete(None, what)
        yield Mark(_next_checkpoint(mark, latest, None if full else checkpoint))

    def current_ids(self) -> Iterator[str] | None:
        """The local ids of every record the provider has now (ListIdentifiers, deleted
        ones left out); None under an id rule that needs the records themselves."""
        if self.id_rule != "identifier":
            return None
        ids: set[str] = set()
        for page in self.client.pages("ListIdentifiers", self._arguments()):
            if page.restarted:
                ids.clear()
            if page.body is None:
                break
            for header in page.body.iterfind(f"{OAI}header"):
                local_id = local_id_from_identifier(header.findtext(f"{OAI}identifier") or "")
                if local_id is None:
                    continue
                if header.get("status") == "deleted":
                    ids.discard(local_id)
                else:
                    ids.add(local_id)
        return iter(sorted(ids))

    def sample(self, limit: int = 5) -> Sample:
        """Identify, the formats offered, and the first records of the list."""
        identity = self.identify()
        formats = self.client.formats()
        grain = "days" if identity.granularity == DAY_GRANULARITY else "seconds"
        summary = (
            f"OAI-PMH provider {identity.name!r} at {self.client.shown}: datestamps in "
            f"{grain}, records since {identity.earliest or '?'}, deleted records "
            f"{identity.deleted_records or '?'}, formats {', '.join(formats) or 'none'}"
        )
        problems: list[str] = []
        if self.prefix not in formats:
            problems.append(f"the provider does not offer {self.prefix}; "
                            f"{_offered(formats)}")  # fmt: skip
            return Sample(summary, (), tuple(problems))
        records: list[Upsert] = []
        pages = self.client.pages("ListRecords", self._arguments())
        try:
            page = next(pages)
        finally:
            pages.close()
        if page.body is None:
            problems.append(f"the provider has no {self.prefix} records"
                            + (f" in set {self.set_spec!r}" if self.set_spec else ""))  # fmt: skip
            return Sample(summary, (), tuple(problems))
        token = page.body.find(f"{OAI}resumptionToken")
        size = token.get("completeListSize") if token is not None else None
        elements = page.body.findall(f"{OAI}record")
        summary += f"; {size or len(elements)} {self.prefix} records"
        if self.set_spec:
            summary += f" in set {self.set_spec!r}"
        for element in elements:
            if len(records) >= limit:
                break
            event = self._event(element, page.url)
            if isinstance(event, Upsert):
                normalize_record(event.record)  # as the store would hold it
                records.append(event)
            elif isinstance(event, Problem | _Unread):
                problems.append(f"{event.where}: {event.reason}")
        return Sample(summary, tuple(records), tuple(problems))

    def close(self) -> None:
        """Close the provider's HTTP connection."""
        self.client.sickle.session.close()

    # -- helpers

    def identify(self) -> _Identity:
        """The provider's Identify answer (asked once per source object)."""
        if self._identity is None:
            root, _ = self.client.request({"verb": "Identify"})
            body = root.find(f"{OAI}Identify")
            if body is None:
                error = root.find(f"{OAI}error")
                code = error.get("code") if error is not None else "no Identify element"
                raise SourceError(f"OAI-PMH provider {self.client.shown} did not identify "
                                  f"itself ({code}): is the url its OAI-PMH base URL?")  # fmt: skip

            def text(name: str) -> str:
                return " ".join((body.findtext(f"{OAI}{name}") or "").split())

            self._identity = _Identity(
                text("repositoryName"), text("granularity"), text("earliestDatestamp"),
                text("deletedRecord"))  # fmt: skip
        return self._identity

    def _arguments(self) -> dict[str, str]:
        arguments = {"metadataPrefix": self.prefix}
        if self.set_spec:
            arguments["set"] = self.set_spec
        return arguments

    def _event(self, element: etree._Element, page_url: str) -> Event | _Unread | _Gone:
        """The change one ``<record>`` stands for (a problem when it cannot be read)."""
        header = element.find(f"{OAI}header")
        if header is None:
            return Problem(page_url, "a record without a header; not read")
        identifier = (header.findtext(f"{OAI}identifier") or "").strip()
        where = identifier or page_url
        changed = _parse_utc(header.findtext(f"{OAI}datestamp"))
        by_identifier = local_id_from_identifier(identifier)
        if self.id_rule == "identifier" and by_identifier is None:
            return Problem(where, "a record without an identifier; not read")
        if header.get("status") == "deleted":
            if self.id_rule == "identifier":
                assert by_identifier is not None
                return Deletion(by_identifier, changed)
            return _Gone(where, f"deleted at the provider, but with id_rule {self.id_rule} "
                         "its id is in the record, which a deleted header does not carry: "
                         "a full sync (--full) removes it")  # fmt: skip
        metadata = element.find(f"{OAI}metadata")
        root = _first_element(metadata) if metadata is not None else None
        try:
            if root is None:
                raise ValueError("the record has no metadata")
            record = self._marc(root, by_identifier, changed)
        except Exception as exc:  # noqa: BLE001 - any unreadable record is one problem
            reason = f"its {self.prefix} metadata cannot be read ({exc}); not stored"
            if by_identifier is not None and self.id_rule == "identifier":
                return _Unread(where, reason, by_identifier)
            return Problem(where, reason)
        if self.id_rule == "identifier":
            assert by_identifier is not None
            local_id = by_identifier
        else:
            assert self.rule is not None
            found = self.rule.id_of(record)
            if found is None:
                return Problem(where, f"record has no {self.rule.missing}; not stored")
            local_id = found
        if str(record.leader)[5:6] == "d":  # MARC's own "deleted" (leader/05)
            return Deletion(local_id, changed)
        repair_record(record, self.legacy)
        return Upsert(local_id, record, changed)

    def _marc(self, root: etree._Element, local_id: str | None, changed: datetime | None) -> Record:
        name = etree.QName(root)
        if self.prefix == "marc21":
            if name.localname == "collection":
                found = root.find(f"{{{name.namespace}}}record" if name.namespace else "record")
                if found is None:
                    raise ValueError("an empty MARCXML collection")
                root, name = found, etree.QName(found)
            if name.localname != "record" or name.namespace not in (MARCXML_NS, None):
                raise ValueError(f"<{name.localname}> in {name.namespace or 'no namespace'} is "
                                 "not a MARCXML record")  # fmt: skip
            return record_from_marcxml(root)
        if name.localname != "dc":
            raise ValueError(f"<{name.localname}> is not an oai_dc record")
        pairs = [
            (etree.QName(child).localname, "".join(child.itertext()))
            for child in root
            if isinstance(child.tag, str) and etree.QName(child).namespace == DC_NS
        ]
        entered = changed.date() if changed else date(1970, 1, 1)
        return dc_to_marc(pairs, entered=entered, control_number=local_id)


@dataclass(frozen=True, slots=True)
class _Unread:
    """A live record whose metadata could not be read: a problem, but still listed."""

    where: str
    reason: str
    local_id: str


@dataclass(frozen=True, slots=True)
class _Gone:
    """A deleted header whose local id cannot be known (an id rule reading the record)."""

    where: str
    reason: str


def _first_element(parent: etree._Element) -> etree._Element | None:
    return next((child for child in parent if isinstance(child.tag, str)), None)


def open_source(settings: SourceSettings) -> OaiSource:
    """The source for a ``kind: oai`` entry (``url``, ``metadata_prefix``, ``set``,
    ``id_rule``, ``timeout_seconds``)."""
    options: dict[str, Any] = dict(settings.options)
    url = str(options.get("url") or "").strip()
    if not url:
        raise SourceError(f"source {settings.name}: url (the OAI-PMH base URL) is not set",
                          retryable=False)  # fmt: skip
    legacy = settings.legacy_mode()
    try:
        return OaiSource(
            url,
            prefix=str(options.get("metadata_prefix") or "marc21"),
            set_spec=options.get("set") or None,
            id_rule=str(options.get("id_rule") or "identifier").strip(),
            timeout=float(options.get("timeout_seconds") or 60),
            legacy=legacy,
        )
    except ValueError as exc:
        raise SourceError(f"source {settings.name}: {exc}", retryable=False) from None
