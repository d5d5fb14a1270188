"""OAI-PMH 2.0 data provider semantics over the record store (sans-IO, blocking).

One call per HTTP request: :meth:`OAIService.respond` takes the raw arguments and the base
URL the harvester used and returns the response document. A request the protocol calls
wrong is answered with its error code, never with an exception; the store blocks, so the
Twisted layer calls this in its thread pool.

Lists page through the store's change feed, ordered by (datestamp, sequence), with
stateless signed tokens (:mod:`.tokens`): records changed or deleted while a harvester
pages are served again at their new place, so a harvest never skips one, and records that
did not change are served exactly once. Deletions are tombstones, served as deleted
headers forever; a record that left a set is served as deleted in that set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crosswalks.formats import FORMATS, RecordFormat, render_xml
from crosswalks.marcxml import MARCXML_NS
from crosswalks.xmlchars import XmlText
from gateway.record import StoredRecord, oai_identifier
from gateway.store import Change, RecordStore

from .arguments import OAIRequest, Verb, echoable_identifier, parse_request
from .errors import ErrorCode, OAIError
from .response import (
    Identity,
    MetadataFormatInfo,
    SetInfo,
    datestamp,
    document,
    dublin_core,
    error_body,
    header,
    identify_body,
    metadata_formats_body,
    resumption_token,
    sets_body,
)
from .tokens import ResumptionToken, TokenSigner

__all__ = ["OAIService", "Repository", "LibraryInfo", "Limits", "METADATA_FORMATS", "SET_NAMES"]

_LOG = logging.getLogger(__name__)
_PROVENANCE_NS = "http://www.openarchives.org/OAI/2.0/provenance"
_PROVENANCE_LOCATION = f"{_PROVENANCE_NS} http://www.openarchives.org/OAI/2.0/provenance.xsd"
#: Name of the store key that signs resumption tokens.
TOKEN_KEY = "oaipmh-resumption-token"


def _format(prefix: str, fmt: RecordFormat) -> tuple[str, RecordFormat, MetadataFormatInfo]:
    info = FORMATS[fmt]
    assert info.namespace and info.schema_location
    return prefix, fmt, MetadataFormatInfo(prefix, info.schema_location, info.namespace)


#: metadataPrefix -> (crosswalk format, what ListMetadataFormats says). ``marcxml`` is an
#: alias of ``marc21``: harvesters ask for either.
METADATA_FORMATS: dict[str, tuple[RecordFormat, MetadataFormatInfo]] = {
    prefix: (fmt, info)
    for prefix, fmt, info in (
        _format("oai_dc", RecordFormat.OAI_DC),
        _format("marc21", RecordFormat.MARCXML),
        _format("marcxml", RecordFormat.MARCXML),
        _format("mods", RecordFormat.MODS),
    )
}

#: Names of the sets that are not libraries: the two parents and the types of material
#: (gateway.record.type_of_record), in Vietnamese and English.
SET_NAMES: dict[str, str] = {
    "library": "Thư viện thành viên / Member libraries",
    "type": "Loại tài liệu / Type of material",
    "type:book": "Sách / Books",
    "type:serial": "Ấn phẩm định kỳ / Serials",
    "type:map": "Bản đồ / Maps",
    "type:music": "Âm nhạc / Music",
    "type:visual": "Tài liệu nghe nhìn / Visual materials",
    "type:audio": "Tài liệu âm thanh / Sound recordings",
    "type:electronic": "Tài liệu điện tử / Electronic resources",
    "type:kit": "Bộ tài liệu / Kits",
    "type:mixed": "Tài liệu hỗn hợp / Mixed materials",
    "type:object": "Hiện vật / Objects",
    "type:other": "Tài liệu khác / Other materials",
}
_NO_SETS = "the repository has no member libraries and no records yet"
_KIND_NAMES = {
    "national": "thư viện quốc gia / national library",
    "provincial": "thư viện tỉnh / provincial library",
    "district": "thư viện huyện / district library",
    "school": "thư viện trường học / school library",
    "university": "thư viện đại học / university library",
    "special": "thư viện chuyên ngành / special library",
    "other": "thư viện / library",
}


@dataclass(frozen=True, slots=True)
class LibraryInfo:
    """A member library as harvesters see it: in ListSets and in record provenance."""

    name: str
    kind: str = "other"
    #: The library's own system (OPAC or OAI-PMH base URL), named as the records' origin.
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Repository:
    """Who the repository is (Identify) and which libraries it aggregates."""

    name: str
    admin_email: str
    namespace: str
    libraries: Mapping[str, LibraryInfo] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Limits:
    """Paging and token settings (from the ``oai`` configuration section)."""

    page_size: int = 200
    token_lifetime: int = 48 * 3600  #: seconds a resumption token stays valid
    stylesheet: str | None = None
    #: Content codings the HTTP layer applies when asked (Identify announces them).
    compression: tuple[str, ...] = ()


class OAIService:
    """Answers OAI-PMH requests from one store."""

    def __init__(
        self,
        store: RecordStore,
        repository: Repository,
        limits: Limits | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.repository = repository
        self.limits = limits or Limits()
        self.clock = clock
        self._signer: TokenSigner | None = None
        self._verbs: dict[Verb, Callable[[OAIRequest, str, float], str]] = {
            Verb.IDENTIFY: self._identify,
            Verb.LIST_METADATA_FORMATS: self._list_metadata_formats,
            Verb.LIST_SETS: self._list_sets,
            Verb.GET_RECORD: self._get_record,
            Verb.LIST_IDENTIFIERS: self._list,
            Verb.LIST_RECORDS: self._list,
        }

    @property
    def signer(self) -> TokenSigner:
        """The token signer, with the key the store keeps (fetched once)."""
        if self._signer is None:
            self._signer = TokenSigner(self.store.secret(TOKEN_KEY))
        return self._signer

    def respond(self, arguments: Mapping[bytes, Sequence[bytes]], base_url: str) -> bytes:
        """The response document for one request.

        ``base_url`` is the address harvesters use (configured, or the one this request
        came to); it is echoed in every response and named in Identify.
        """
        now = self.clock()
        verb: Verb | None = None
        echoed: dict[str, str] = {}
        try:
            request = parse_request(arguments)
            verb, echoed = request.verb, dict(request.arguments)
            body = self._verbs[request.verb](request, base_url, now)
        except OAIError as error:
            body = error_body(error)
            if not error.echoes_request:  # badVerb, badArgument: a bare request element
                verb, echoed = None, {}
        if "identifier" in echoed and not echoable_identifier(echoed["identifier"]):
            del echoed["identifier"]
        return document(body, response_date=datetime.fromtimestamp(int(now), tz=UTC),
                        base_url=base_url, verb=verb, arguments=echoed,
                        stylesheet=self.limits.stylesheet)  # fmt: skip

    # -- verbs ------------------------------------------------------------------------
    def _identify(self, request: OAIRequest, base_url: str, now: float) -> str:
        oldest = self.store.changes(limit=1, metadata=False)  # the feed's first entry
        if oldest:  # a real identifier, so the sample can be tried with GetRecord
            earliest = oldest[0].position.datestamp
            sample = oldest[0].record.oai_identifier
        else:  # empty: every change to come is after now
            earliest = datetime.fromtimestamp(int(now), tz=UTC)
            first = next(iter(self.repository.libraries), "library")
            sample = oai_identifier(self.repository.namespace, first, "000123")
        identity = Identity(
            repository_name=self.repository.name,
            base_url=base_url,
            admin_emails=[self.repository.admin_email],
            earliest=earliest,
            repository_identifier=self.repository.namespace,
            sample_identifier=sample,
            compression=self.limits.compression,
        )
        return identify_body(identity)

    def _list_metadata_formats(self, request: OAIRequest, base_url: str, now: float) -> str:
        if request.identifier is not None:
            record = self._record(request.identifier)
            if record.deleted:
                raise OAIError(ErrorCode.NO_METADATA_FORMATS,
                               "the item is deleted; only its header is kept")  # fmt: skip
        return metadata_formats_body([info for _, info in METADATA_FORMATS.values()])

    def _list_sets(self, request: OAIRequest, base_url: str, now: float) -> str:
        if request.resumption_token is not None:
            raise OAIError(ErrorCode.BAD_RESUMPTION_TOKEN,
                           "ListSets is answered in one response; this repository issues "
                           "no ListSets resumption tokens")  # fmt: skip
        sets = self._sets()
        if not sets:
            raise OAIError(ErrorCode.NO_SET_HIERARCHY, _NO_SETS)
        return sets_body(sets)

    def _get_record(self, request: OAIRequest, base_url: str, now: float) -> str:
        assert request.identifier is not None and request.metadata_prefix is not None
        problems: list[OAIError] = []
        fmt = None
        try:
            fmt = self._metadata_format(request.metadata_prefix)
        except OAIError as error:
            problems.append(error)
        record = None
        try:
            record = self._record(request.identifier)
        except OAIError as error:
            problems.append(error)
        if problems:
            raise OAIError.combine(problems)
        assert fmt is not None and record is not None
        page = XmlText()
        body = self._record_xml(record, record.deleted, fmt, base_url, page, sorted(record.sets))
        self._log_repairs(page, 1)
        return f"<GetRecord>{body}</GetRecord>"

    def _list(self, request: OAIRequest, base_url: str, now: float) -> str:
        verb = request.verb
        with_metadata = verb is Verb.LIST_RECORDS
        if request.resumption_token is not None:
            token = self.signer.decode(request.resumption_token, verb, now)
            prefix, set_spec = token.metadata_prefix, token.set_spec
            since, until = _moment(token.since), _moment(token.until)
            after, cursor, size = token.position, token.cursor, token.complete_list_size
            if prefix not in METADATA_FORMATS:
                message = f"the format {prefix} of this token is no longer served"
                raise OAIError(ErrorCode.BAD_RESUMPTION_TOKEN, message)
        else:
            assert request.metadata_prefix is not None
            prefix, set_spec = request.metadata_prefix, request.set_spec
            since, until = request.since, request.until
            after, cursor, size = None, 0, 0
            if set_spec is not None and not self.repository.libraries and not self.store.sets():
                raise OAIError(ErrorCode.NO_SET_HIERARCHY, _NO_SETS)
        fmt = self._metadata_format(prefix)
        page_size = self.limits.page_size
        changes = self.store.changes(since=since, until=until, set_spec=set_spec, after=after,
                                     limit=page_size + 1, metadata=with_metadata)  # fmt: skip
        more = len(changes) > page_size
        del changes[page_size:]
        if not changes:
            raise OAIError(ErrorCode.NO_RECORDS_MATCH, _no_match(since, until, set_spec, after))
        if after is None:
            size = (self.store.count_changes(since=since, until=until, set_spec=set_spec)
                    if more else len(changes))  # fmt: skip
        # Records changed during the harvest are served again later in it: the list grew.
        size = max(size, cursor + len(changes) + (1 if more else 0))
        page = XmlText()
        parts = []
        for change in changes:
            sets = _header_sets(change, set_spec)
            if with_metadata:
                parts.append(self._record_xml(change.record, change.deleted, fmt, base_url, page,
                                              sets))  # fmt: skip
            else:
                parts.append(_header(change.record, change.deleted, page, sets))
        items = "".join(parts)
        self._log_repairs(page, len(changes))
        if more:
            following = ResumptionToken(
                verb, prefix, set_spec, _epoch(since), _epoch(until), changes[-1].position,
                cursor + len(changes), size, int(now) + self.limits.token_lifetime,
            )  # fmt: skip
            tail = resumption_token(self.signer.encode(following), size, cursor,
                                    following.expiration)  # fmt: skip
        elif after is not None:
            tail = resumption_token(None, size, cursor, None)
        else:
            tail = ""
        return f"<{verb}>{items}{tail}</{verb}>"

    # -- pieces -----------------------------------------------------------------------
    def _metadata_format(self, prefix: str) -> RecordFormat:
        found = METADATA_FORMATS.get(prefix)
        if found is None:
            known = ", ".join(METADATA_FORMATS)
            message = f"the format {prefix[:60]} is not served here; formats: {known}"
            raise OAIError(ErrorCode.CANNOT_DISSEMINATE_FORMAT, message)
        return found[0]

    def _record(self, identifier: str) -> StoredRecord:
        record = self.store.get_by_oai_identifier(identifier)
        if record is None:
            raise OAIError(ErrorCode.ID_DOES_NOT_EXIST,
                           "no item has this identifier; identifiers here look like "
                           f"oai:{self.repository.namespace}:<library>/<local id>")  # fmt: skip
        return record

    def _sets(self) -> list[SetInfo]:
        """The member libraries (configured, or found in the store) and the types in use,
        each under its parent set."""
        in_use = set(self.store.sets())
        libraries = dict(self.repository.libraries)
        for spec in sorted(in_use):
            if spec.startswith("library:") and spec[8:] not in libraries:
                libraries[spec[8:]] = LibraryInfo(spec[8:])
        sets = []
        if libraries:
            sets.append(
                SetInfo(
                    "library",
                    SET_NAMES["library"],
                    "Biểu ghi theo thư viện thành viên / Records by member library",
                )
            )
        for library_id, info in libraries.items():
            kind = _KIND_NAMES.get(info.kind, _KIND_NAMES["other"])
            sets.append(SetInfo(f"library:{library_id}", info.name,
                                f"Biểu ghi của {info.name} ({kind})"))  # fmt: skip
        types = sorted(spec for spec in in_use if spec.startswith("type:"))
        if types:
            sets.append(
                SetInfo(
                    "type",
                    SET_NAMES["type"],
                    "Biểu ghi theo loại tài liệu / Records by type of material",
                )
            )
        for spec in types:
            sets.append(SetInfo(spec, SET_NAMES.get(spec, spec)))
        return sets

    def _record_xml(
        self,
        record: StoredRecord,
        deleted: bool,
        fmt: RecordFormat,
        base_url: str,
        page: XmlText,
        sets: Sequence[str],
    ) -> str:
        """One ``record`` element; ``deleted`` also when the record left the set asked for."""
        head = _header(record, deleted, page, sets)
        if deleted or record.marc is None:
            return f"<record>{head}</record>"
        metadata = render_xml(record.marc, fmt, holdings=record.items, text=page,
                              schema_location=True)  # fmt: skip
        about = self._about(record, base_url, page)
        return f"<record>{head}<metadata>{metadata}</metadata>{about}</record>"

    def _about(self, record: StoredRecord, base_url: str, page: XmlText) -> str:
        """Provenance: the gateway aggregates its member libraries, so each record says
        which library it came from (its system's address when configured, else this
        gateway, where the record was first exposed by OAI-PMH), its id there, when it
        arrived, and in which format the library kept it; then the library's name."""
        library = self.repository.libraries.get(record.source) or LibraryInfo(record.source)
        stamp = record.datestamp_text
        marc = record.marc
        from_dc = marc is not None and any(
            "dc" in f.get_subfields("a") for f in marc.get_fields("042")
        )
        origin_namespace = METADATA_FORMATS["oai_dc"][1].namespace if from_dc else MARCXML_NS
        provenance = (
            f'<about><provenance xmlns="{_PROVENANCE_NS}" '
            f'xsi:schemaLocation="{_PROVENANCE_LOCATION}">'
            f'<originDescription harvestDate="{stamp}" altered="true">'
            f"<baseURL>{page.escape(library.url or base_url)}</baseURL>"
            f"<identifier>{page.escape(_origin_id(record, library))}</identifier>"
            f"<datestamp>{stamp}</datestamp>"
            f"<metadataNamespace>{origin_namespace}</metadataNamespace>"
            "</originDescription></provenance></about>"
        )
        source = dublin_core([("source", library.name), ("relation", f"library:{record.source}")],
                             page)  # fmt: skip
        return f"{provenance}<about>{source}</about>"

    @staticmethod
    def _log_repairs(page: XmlText, records: int) -> None:
        if page.removed or page.repaired:
            _LOG.info("OAI-PMH page of %d records: %d characters removed, %d values repaired "
                      "for XML", records, page.removed, page.repaired)  # fmt: skip


def _header(record: StoredRecord, deleted: bool, page: XmlText, sets: Sequence[str]) -> str:
    return header(record.oai_identifier, record.datestamp_text, sets, deleted, page)


def _header_sets(change: Change, set_spec: str | None) -> Sequence[str]:
    """The setSpecs a list header carries: the record's sets, except for a record that
    has left the set harvested, which is deleted *there* and is said to be so (its new
    sets would file the deletion under the wrong set)."""
    if not change.in_set and set_spec is not None:
        return (set_spec,)
    return sorted(change.record.sets)


def _origin_id(record: StoredRecord, library: LibraryInfo) -> str:
    """The record's id at the origin named in its provenance: in its library's own system
    (the local part of its OAI identifier, already a URI) when that system's address is
    configured, else here, where its id is the OAI identifier."""
    if library.url:
        return record.oai_identifier.split(":", 2)[2].split("/", 1)[1]
    return record.oai_identifier


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _moment(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


def _no_match(
    since: datetime | None, until: datetime | None, set_spec: str | None, after: object
) -> str:
    if after is not None:
        return "the rest of this list has changed since the last page and is now empty"
    parts = []
    if set_spec:
        parts.append(f"in set {set_spec}")
    if since:
        parts.append(f"from {datestamp(since)}")
    if until:
        parts.append(f"until {datestamp(until)}")
    return "no records " + " ".join(parts) if parts else "the repository holds no records yet"
