"""OAI-PMH semantics over a real SQLite store: the six verbs, paging, changes during a
harvest, sets, dates, tokens, errors. Every response is validated against the schemas."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pymarc import Field, Subfield

from gateway.importer import canonical_from_marc, import_files
from gateway.store import RecordStore, open_store
from protocols.oaipmh.resource import CODINGS
from protocols.oaipmh.service import LibraryInfo, Limits, OAIService, Repository
from tests.conftest import BROKEN, VIE_121
from tests.oai import OAI, assert_oai_valid, error_codes, identifiers, token_of
from tests.records import NAMESPACE, make_record

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
BASE = "http://127.0.0.1:8080/oai"
LIBRARIES = {"loc": LibraryInfo("Thư viện Quốc hội Hoa Kỳ", "national", "https://catalog.loc.gov/"),
             "lib-a": LibraryInfo("Thư viện tỉnh Đắk Lắk", "provincial")}  # fmt: skip


class Clock:
    """A settable clock shared by the store (datestamps) and the service (tokens)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Time under the test's control: commits are datestamped with ``clock.now``."""
    moment = Clock(T0)
    monkeypatch.setattr("gateway.store.sqlite.time.time", moment)
    return moment


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[RecordStore]:
    """The 121 Vietnamese LoC records (library "loc"), committed at T0."""
    with open_store(tmp_path / "store.db") as opened:
        import_files(opened, [VIE_121], source="loc", namespace=NAMESPACE)
        yield opened


@dataclass
class Client:
    """Calls the service like a harvester and validates every response it gets."""

    service: OAIService

    def get(self, **arguments: str) -> etree._Element:
        raw = {name.rstrip("_").encode(): [value.encode()] for name, value in arguments.items()}
        return assert_oai_valid(self.service.respond(raw, BASE))

    def harvest(self, verb: str = "ListIdentifiers", **arguments: str) -> list[etree._Element]:
        """Every page of a list, following tokens, checking cursor and size on each."""
        pages = [self.get(verb=verb, **arguments)]
        served = 0
        while True:
            page = pages[-1]
            assert not error_codes(page), etree.tostring(page)
            served += len(list(page.iter(f"{OAI}header")))
            token = token_of(page)
            if token is None:
                assert len(pages) == 1, "a list that needed tokens ends with an empty one"
                return pages
            assert int(token.get("completeListSize", "0")) >= served
            assert int(token.get("cursor", "-1")) == served - len(list(page.iter(f"{OAI}header")))
            if not token.text:
                assert len(pages) > 1, "no empty token on a list that fits one page"
                return pages
            pages.append(self.get(verb=verb, resumptionToken=token.text))


def _service(store: RecordStore, clock: Clock, page_size: int = 10, **kwargs: Any) -> OAIService:
    repository = Repository("Liên thông thư viện Đắk Lắk", "thuvien@example.vn", NAMESPACE,
                            kwargs.pop("libraries", LIBRARIES))  # fmt: skip
    limits = Limits(page_size=page_size, compression=CODINGS, **kwargs)
    return OAIService(store, repository, limits, clock=clock)


@pytest.fixture
def client(store: RecordStore, clock: Clock) -> Client:
    """A harvester of the 121 records, ten per page."""
    return Client(_service(store, clock))


def _headers(pages: list[etree._Element]) -> list[tuple[str, str, bool]]:
    return [
        (str(h.findtext(f"{OAI}identifier")), str(h.findtext(f"{OAI}datestamp")),
         h.get("status") == "deleted")
        for page in pages for h in page.iter(f"{OAI}header")
    ]  # fmt: skip


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- Identify, formats, sets ------------------------------------------------------------


def test_identify_describes_the_repository(client: Client, clock: Clock) -> None:
    """Identify names the repository and its administrator, the earliest datestamp in the
    store, persistent deletions, seconds granularity, gzip and deflate, and the
    oai-identifier scheme with a sample of the identifiers actually used."""
    clock.now = T0 + 3600
    root = client.get(verb="Identify")
    identify = root.find(f"{OAI}Identify")
    assert identify is not None
    assert identify.findtext(f"{OAI}repositoryName") == "Liên thông thư viện Đắk Lắk"
    assert identify.findtext(f"{OAI}baseURL") == BASE
    assert identify.findtext(f"{OAI}adminEmail") == "thuvien@example.vn"
    assert identify.findtext(f"{OAI}earliestDatestamp") == _stamp(T0)
    assert identify.findtext(f"{OAI}deletedRecord") == "persistent"
    assert identify.findtext(f"{OAI}granularity") == "YYYY-MM-DDThh:mm:ssZ"
    assert [c.text for c in identify.iter(f"{OAI}compression")] == ["gzip", "deflate"]
    sample = identify.findtext(".//{*}sampleIdentifier")
    assert sample is not None and sample.startswith(f"oai:{NAMESPACE}:loc/")
    assert not error_codes(client.get(verb="GetRecord", identifier=sample, metadataPrefix="oai_dc"))
    assert root.findtext(f"{OAI}responseDate") == _stamp(T0 + 3600)


def test_identify_of_an_empty_repository(tmp_path: Path, clock: Clock) -> None:
    """With nothing stored yet, earliestDatestamp is now (every later change is after it)."""
    with open_store(tmp_path / "empty.db") as empty:
        root = Client(_service(empty, clock)).get(verb="Identify")
    assert root.findtext(f"{OAI}Identify/{OAI}earliestDatestamp") == _stamp(T0)


def test_metadata_formats_for_the_repository_and_for_items(
    client: Client, store: RecordStore
) -> None:
    """oai_dc, marc21 (and its alias marcxml) and mods, with their schemas; the same for a
    live item; noMetadataFormats for a deleted one; idDoesNotExist for an unknown one."""
    root = client.get(verb="ListMetadataFormats")
    prefixes = [e.text for e in root.iter(f"{OAI}metadataPrefix")]
    assert prefixes == ["oai_dc", "marc21", "marcxml", "mods"]
    schemas = dict(zip(prefixes, (e.text for e in root.iter(f"{OAI}schema")), strict=True))
    assert schemas["marc21"] == "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
    first = identifiers(client.get(verb="ListIdentifiers", metadataPrefix="oai_dc"))[0]
    assert len(list(client.get(verb="ListMetadataFormats", identifier=first)
                    .iter(f"{OAI}metadataFormat"))) == 4  # fmt: skip
    record = store.get_by_oai_identifier(first)
    assert record is not None
    store.delete(record.source, [record.local_id])
    assert error_codes(client.get(verb="ListMetadataFormats", identifier=first)) == [
        "noMetadataFormats"
    ]
    unknown = client.get(verb="ListMetadataFormats", identifier=f"oai:{NAMESPACE}:loc/nope")
    assert error_codes(unknown) == ["idDoesNotExist"]


def test_sets_are_the_libraries_and_the_types_in_use(client: Client, store: RecordStore) -> None:
    """ListSets lists the parent sets, every configured library (with its name, and a
    description) even before it has records, and the types of material in use."""
    store.upsert([make_record("s1", "Tạp chí Văn học", source="lib-a", serial=True)])
    root = client.get(verb="ListSets")
    specs = {s.findtext(f"{OAI}setSpec"): s for s in root.iter(f"{OAI}set")}
    assert {"library", "library:loc", "library:lib-a", "type", "type:book",
            "type:serial"} <= set(specs)  # fmt: skip
    assert specs["library:lib-a"].findtext(f"{OAI}setName") == "Thư viện tỉnh Đắk Lắk"
    assert specs["type:serial"].findtext(f"{OAI}setName") == "Ấn phẩm định kỳ / Serials"
    description = specs["library:lib-a"].findtext(
        ".//{http://purl.org/dc/elements/1.1/}description"
    )
    assert description is not None and "thư viện tỉnh" in description
    token = client.get(verb="ListSets", resumptionToken="anything")
    assert error_codes(token) == ["badResumptionToken"]


def test_a_repository_without_libraries_or_records_has_no_sets(
    tmp_path: Path, clock: Clock
) -> None:
    """noSetHierarchy for ListSets and for a set-based list, until there is a library."""
    with open_store(tmp_path / "empty.db") as empty:
        client = Client(_service(empty, clock, libraries={}))
        assert error_codes(client.get(verb="ListSets")) == ["noSetHierarchy"]
        listed = client.get(verb="ListRecords", metadataPrefix="oai_dc", set="library:x")
        assert error_codes(listed) == ["noSetHierarchy"]
        assert error_codes(client.get(verb="ListRecords", metadataPrefix="oai_dc")) == [
            "noRecordsMatch"
        ]


# -- GetRecord --------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["oai_dc", "marc21", "marcxml", "mods"])
def test_get_record_in_every_format_with_provenance(client: Client, prefix: str) -> None:
    """GetRecord returns the record in the asked format, valid against its schema, with
    holdings-free metadata under the right namespace and two about containers: the OAI
    provenance (origin URL of the library, datestamp, MARC namespace) and the library's
    name."""
    first = identifiers(client.get(verb="ListIdentifiers", metadataPrefix="oai_dc"))[0]
    root = client.get(verb="GetRecord", identifier=first, metadataPrefix=prefix)
    record = root.find(f"{OAI}GetRecord/{OAI}record")
    assert record is not None
    metadata = record.find(f"{OAI}metadata")
    assert metadata is not None and len(metadata) == 1
    namespace = etree.QName(metadata[0]).namespace
    assert namespace == {"oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
                         "marc21": "http://www.loc.gov/MARC21/slim",
                         "marcxml": "http://www.loc.gov/MARC21/slim",
                         "mods": "http://www.loc.gov/mods/v3"}[prefix]  # fmt: skip
    abouts = record.findall(f"{OAI}about")
    origin = abouts[0].find(".//{http://www.openarchives.org/OAI/2.0/provenance}originDescription")
    assert origin is not None and origin.get("altered") == "true"
    assert origin.findtext("{*}baseURL") == "https://catalog.loc.gov/"
    assert origin.findtext("{*}identifier") == first.rsplit("/", 1)[1]
    assert origin.findtext("{*}metadataNamespace") == "http://www.loc.gov/MARC21/slim"
    assert abouts[1].findtext(".//{*}source") == "Thư viện Quốc hội Hoa Kỳ"
    assert abouts[1].findtext(".//{*}relation") == "library:loc"


def test_get_record_of_a_deleted_record_is_its_header(client: Client, store: RecordStore) -> None:
    """A deleted record keeps its identifier and is served as a deleted header, forever."""
    store.upsert([make_record("gone", "Sách đã hủy", source="lib-a")])
    store.delete("lib-a", ["gone"])
    identifier = f"oai:{NAMESPACE}:lib-a/gone"
    root = client.get(verb="GetRecord", identifier=identifier, metadataPrefix="marc21")
    header = root.find(f"{OAI}GetRecord/{OAI}record/{OAI}header")
    assert header is not None and header.get("status") == "deleted"
    assert root.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata") is None


def test_get_record_reports_every_problem(client: Client) -> None:
    """An unknown format and an unknown identifier are both reported, and the request
    element echoes the arguments (they were legal, only unknown)."""
    root = client.get(verb="GetRecord", identifier="oai:other.vn:x/1", metadataPrefix="ead")
    assert sorted(error_codes(root)) == ["cannotDisseminateFormat", "idDoesNotExist"]
    request = root.find(f"{OAI}request")
    assert request is not None
    assert request.get("verb") == "GetRecord" and request.get("metadataPrefix") == "ead"
    assert request.get("identifier") == "oai:other.vn:x/1"


def test_an_identifier_that_is_no_uri_is_not_echoed(client: Client) -> None:
    """idDoesNotExist for an illegal identifier; the response stays schema-valid because
    the request element leaves out what is not an anyURI."""
    root = client.get(verb="GetRecord", identifier="a b [c] %zz", metadataPrefix="oai_dc")
    assert error_codes(root) == ["idDoesNotExist"]
    request = root.find(f"{OAI}request")
    assert request is not None and request.get("identifier") is None


def test_bad_verb_and_bad_argument_responses_carry_no_request_attributes(client: Client) -> None:
    """The standard: the request element of badVerb and badArgument responses has only
    the base URL."""
    for root in (client.get(verb="Harvest"), client.get(verb="ListRecords", set_="x")):
        request = root.find(f"{OAI}request")
        assert request is not None and dict(request.attrib) == {} and request.text == BASE
        assert error_codes(root) in (["badVerb"], ["badArgument"])


# -- lists ------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["ListIdentifiers", "ListRecords"])
def test_a_full_harvest_serves_every_record_once(client: Client, clock: Clock, verb: str) -> None:
    """121 records at ten per page: 13 pages, every identifier exactly once, in
    (datestamp, id) order; tokens carry cursor and completeListSize and expire at least
    24 hours ahead; the last page has an empty token."""
    clock.now = T0 + 100
    pages = client.harvest(verb, metadataPrefix="marc21")
    assert len(pages) == 13
    served = [identifier for page in pages for identifier in identifiers(page)]
    assert len(served) == 121 and len(set(served)) == 121
    for page in pages[:-1]:
        token = token_of(page)
        assert token is not None and token.get("completeListSize") == "121"
        expires = datetime.strptime(str(token.get("expirationDate")), "%Y-%m-%dT%H:%M:%SZ")
        assert expires.replace(tzinfo=UTC) >= datetime.fromtimestamp(clock.now, UTC) + timedelta(
            hours=24
        )
    last = token_of(pages[-1])
    assert last is not None and not last.text and last.get("cursor") == "120"
    if verb == "ListRecords":
        assert sum(len(p.findall(f".//{OAI}metadata")) for p in pages) == 121


def test_a_list_that_fits_one_page_has_no_token(store: RecordStore, clock: Clock) -> None:
    """No resumptionToken at all when the first response is the whole list."""
    root = Client(_service(store, clock, page_size=200)).get(
        verb="ListIdentifiers", metadataPrefix="oai_dc"
    )
    assert token_of(root) is None and len(identifiers(root)) == 121


def test_changes_during_a_harvest_skip_nothing_and_repeat_nothing_unchanged(
    client: Client, store: RecordStore, clock: Clock
) -> None:
    """Updates, deletions and new records committed between pages: every record is
    served in its final state, deletions appear as deleted headers, records that did not
    change are served exactly once, and an incremental harvest from the first response's
    date brings exactly the changes."""
    clock.now = T0 + 60
    first = client.get(verb="ListIdentifiers", metadataPrefix="oai_dc")
    started = str(first.findtext(f"{OAI}responseDate"))
    seen = identifiers(first)
    token = token_of(first)
    assert token is not None
    second = client.get(verb="ListIdentifiers", resumptionToken=str(token.text))
    seen += identifiers(second)
    everything = [r.oai_identifier for r in _all(store)]
    not_yet = [i for i in everything if i not in seen]
    clock.now = T0 + 61
    updated = seen[:3] + not_yet[:3]
    deleted = seen[5:7] + not_yet[5:7]
    _touch(store, updated)
    for identifier in deleted:
        record = store.get_by_oai_identifier(identifier)
        assert record is not None
        store.delete(record.source, [record.local_id])
    store.upsert([make_record("new-1", "Sách mới", source="loc")])
    token = token_of(second)
    assert token is not None
    pages = [first, second]
    while token is not None and token.text:
        pages.append(client.get(verb="ListIdentifiers", resumptionToken=token.text))
        token = token_of(pages[-1])
    headers = _headers(pages)
    final: dict[str, tuple[str, bool]] = {}
    for identifier, stamp, is_deleted in headers:
        final[identifier] = (stamp, is_deleted)
    assert set(final) == set(everything) | {f"oai:{NAMESPACE}:loc/new-1"}
    for identifier in deleted:
        assert final[identifier] == (_stamp(T0 + 61), True)
    for identifier in updated:
        assert final[identifier] == (_stamp(T0 + 61), False)
    unchanged = set(everything) - set(updated) - set(deleted)
    counts = [identifier for identifier, _, _ in headers if identifier in unchanged]
    assert len(counts) == len(unchanged) == len(set(counts))
    incremental = client.harvest("ListIdentifiers", metadataPrefix="oai_dc", from_=started)
    assert {i for i, _, _ in _headers(incremental)} == set(updated) | set(deleted) | {
        f"oai:{NAMESPACE}:loc/new-1"
    }


def _all(store: RecordStore) -> list[Any]:
    return [change.record for change in store.changes(limit=10_000, metadata=False)]


def _touch(store: RecordStore, identifiers_: list[str]) -> None:
    """Give each record a new note, so its content (and datestamp) changes."""
    changed = []
    for identifier in identifiers_:
        record = store.get_by_oai_identifier(identifier)
        assert record is not None and record.marc is not None
        record.marc.add_field(Field(tag="500", indicators=[" ", " "],
                                    subfields=[Subfield("a", "Đã sửa / revised")]))  # fmt: skip
        changed.append(canonical_from_marc(record.marc, source=record.source, namespace=NAMESPACE,
                                           local_id=record.local_id))  # fmt: skip
    store.upsert(changed)


def test_a_record_that_leaves_a_set_is_deleted_in_that_set(
    client: Client, store: RecordStore, clock: Clock
) -> None:
    """A book recatalogued as a serial leaves type:book: the next incremental harvest of
    type:book shows it as deleted, while type:serial and the library's set show it live."""
    store.upsert([make_record("m1", "Báo Đắk Lắk", source="lib-a")])
    book = client.harvest(metadataPrefix="oai_dc", set="type:book")
    assert (f"oai:{NAMESPACE}:lib-a/m1", _stamp(T0), False) in _headers(book)
    clock.now = T0 + 500
    store.upsert([make_record("m1", "Báo Đắk Lắk", source="lib-a", serial=True)])
    since = _stamp(T0 + 500)
    for spec, deleted in (("type:book", True), ("type:serial", False), ("library:lib-a", False),
                          ("library", False), ("type", False)):  # fmt: skip
        headers = _headers(client.harvest("ListRecords", metadataPrefix="oai_dc", set=spec,
                                          from_=since))  # fmt: skip
        assert headers == [(f"oai:{NAMESPACE}:lib-a/m1", since, deleted)], spec
    book = client.get(verb="ListIdentifiers", metadataPrefix="oai_dc", set="type:book", from_=since)
    specs = [e.text for e in book.iter(f"{OAI}setSpec")]
    assert specs == ["type:book"]  # deleted there, filed there; not under its new set


def test_set_harvests_select_by_library_and_type(client: Client, store: RecordStore) -> None:
    """Per-set harvests: each library's set holds its records only, and the parent set
    ``library`` holds them all."""
    store.upsert([make_record(f"a{i}", f"Sách {i}", source="lib-a") for i in range(15)])
    per_library = {
        spec: {i for i, _, _ in _headers(client.harvest(metadataPrefix="oai_dc", set=spec))}
        for spec in ("library:loc", "library:lib-a", "library")
    }
    assert len(per_library["library:loc"]) == 121 and len(per_library["library:lib-a"]) == 15
    assert per_library["library"] == per_library["library:loc"] | per_library["library:lib-a"]
    assert all(i.startswith(f"oai:{NAMESPACE}:lib-a/") for i in per_library["library:lib-a"])
    unknown = client.get(verb="ListIdentifiers", metadataPrefix="oai_dc", set="library:nowhere")
    assert error_codes(unknown) == ["noRecordsMatch"]


def test_from_and_until_include_their_boundary_seconds(
    client: Client, store: RecordStore, clock: Clock
) -> None:
    """Records changed at the exact from and until seconds are included; from = until =
    one day selects that day; until before the earliest datestamp, or from in the
    future, is noRecordsMatch."""
    for offset, name in ((86_400, "d1"), (86_401, "d2"), (86_402, "d3"), (2 * 86_400, "d4")):
        clock.now = T0 + offset
        store.upsert([make_record(name, f"Sách {name}", source="lib-a")])

    def listed(**dates: str) -> list[str]:
        pages = client.harvest(metadataPrefix="oai_dc", set="library:lib-a", **dates)
        return [i.rsplit("/", 1)[1] for i, _, _ in _headers(pages)]

    assert listed(from_=_stamp(T0 + 86_401), until=_stamp(T0 + 86_401)) == ["d2"]
    assert listed(from_=_stamp(T0 + 86_400), until=_stamp(T0 + 86_402)) == ["d1", "d2", "d3"]
    assert listed(from_="2026-01-02", until="2026-01-02") == ["d1", "d2", "d3"]
    assert listed(from_="2026-01-03") == ["d4"]
    assert listed(until="2026-01-02T00:00:00Z") == ["d1"]
    for dates in ({"until": "2025-12-31"}, {"from_": "2030-01-01"}):
        root = client.get(verb="ListRecords", metadataPrefix="marc21", **dates)
        assert error_codes(root) == ["noRecordsMatch"]


def test_tokens_expire_replay_and_resist_tampering(store: RecordStore, clock: Clock) -> None:
    """A token can be replayed (the same page comes back) until it expires; after the
    configured lifetime it is badResumptionToken, as are altered, cut and foreign
    tokens, and a ListIdentifiers token used for ListRecords."""
    client = Client(_service(store, clock, token_lifetime=24 * 3600))
    first = client.get(verb="ListRecords", metadataPrefix="oai_dc")
    token = token_of(first)
    assert token is not None and token.text
    again = [client.get(verb="ListRecords", resumptionToken=token.text) for _ in range(2)]
    assert identifiers(again[0]) == identifiers(again[1]) and len(identifiers(again[0])) == 10
    text = token.text
    for bad in (text[:-3], text[:20], text.replace(".", ".x", 1), "x" + text, "garbage"):
        assert error_codes(client.get(verb="ListRecords", resumptionToken=bad)) == [
            "badResumptionToken"
        ]
    assert error_codes(client.get(verb="ListIdentifiers", resumptionToken=text)) == [
        "badResumptionToken"
    ]
    clock.now = T0 + 24 * 3600 + 1
    expired = client.get(verb="ListRecords", resumptionToken=text)
    assert error_codes(expired) == ["badResumptionToken"]
    assert "expired" in str(expired.findtext(f"{OAI}error"))


def test_one_record_with_control_characters_never_breaks_a_page(
    client: Client, store: RecordStore
) -> None:
    """ESC, NUL, a form feed and U+FFFE in a record's MARC are dropped from every format,
    so the page stays well-formed and schema-valid; the record is still served."""
    store.upsert([make_record("ctl", "Sách\x1b lỗi\x00 mã\x0c\ufffe", source="lib-a",
                              note="Ghi chú\x1d\x1e\x1f")])  # fmt: skip
    for prefix in ("oai_dc", "marc21", "mods"):
        pages = client.harvest("ListRecords", metadataPrefix=prefix, set="library:lib-a")
        text = etree.tostring(pages[0], encoding="unicode")
        assert "Sách lỗi mã" in text


def test_list_arguments_are_checked_before_anything_is_read(client: Client) -> None:
    """An unknown format is cannotDisseminateFormat (with the request echoed); a request
    mixing day and seconds granularity, or until before from, is badArgument."""
    root = client.get(verb="ListRecords", metadataPrefix="ead")
    assert error_codes(root) == ["cannotDisseminateFormat"]
    request = root.find(f"{OAI}request")
    assert request is not None and request.get("metadataPrefix") == "ead"
    for dates in ({"from_": "2026-01-01", "until": "2026-01-02T00:00:00Z"},
                  {"from_": "2026-02-01", "until": "2026-01-01"}):  # fmt: skip
        assert error_codes(client.get(verb="ListRecords", metadataPrefix="oai_dc", **dates)) == [
            "badArgument"
        ]


def test_damaged_real_records_are_served_in_valid_pages(tmp_path: Path, clock: Clock) -> None:
    """The broken files in ../shared/data (control characters, bad leaders, mangled
    multibyte text, ESC left in text): whatever the import kept is harvested in every
    format in schema-valid pages, each record once."""
    with open_store(tmp_path / "broken.db") as broken:
        import_files(broken, sorted(BROKEN.glob("*.mrc")), source="lib-a", namespace=NAMESPACE)
        kept = {c.record.oai_identifier for c in broken.changes(limit=10_000, metadata=False)}
        assert len(kept) > 10
        client = Client(_service(broken, clock, page_size=25))
        for prefix in ("oai_dc", "marc21", "mods"):
            pages = client.harvest("ListRecords", metadataPrefix=prefix)
            served = [i for i, _, _ in _headers(pages)]
            assert sorted(served) == sorted(kept)
            assert sum(len(p.findall(f".//{OAI}metadata")) for p in pages) == len(kept)


def test_from_before_1970_pages_through_the_whole_list(client: Client) -> None:
    """``from=1900-01-01`` (harvesters' "everything") and the oldest possible date work
    on every page, not just the first: the tokens carry dates before the epoch."""
    for since in ("1900-01-01", "0001-01-01", "1969-12-31T23:59:59Z"):
        pages = client.harvest(metadataPrefix="oai_dc", from_=since)
        assert len(pages) == 13 and len(_headers(pages)) == 121


@pytest.mark.parametrize("since", ["٢٠٢٦-٠١-٠١", "２０２６-01-01", "2026-0١-01T00:00:00Z"])
def test_dates_in_other_digits_are_bad_arguments(client: Client, since: str) -> None:
    """Arabic-Indic or full-width digits are not the standard's dates (Python would read
    them): badArgument, and the response stays valid."""
    assert error_codes(client.get(verb="ListRecords", metadataPrefix="oai_dc", from_=since)) == [
        "badArgument"
    ]


def test_a_request_with_thousands_of_bad_arguments_gets_a_short_answer(
    store: RecordStore, clock: Clock
) -> None:
    """Every problem is listed up to ten, then a count of the rest: the answer never grows
    larger than the request."""
    service = _service(store, clock)
    arguments = {b"verb": [b"Identify"], **{f"x{i}".encode(): [b"1"] for i in range(5000)}}
    body = service.respond(arguments, BASE)
    root = assert_oai_valid(body)
    assert error_codes(root) == ["badArgument"] * 11
    assert "4990 more" in str(root.findall(f"{OAI}error")[-1].text)
    assert len(body) < 4000
