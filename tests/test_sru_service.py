"""SRU searchRetrieve and scan over the real store (the Vietnamese LoC records)."""

from __future__ import annotations

from lxml import etree

from gateway.store import RecordStore
from protocols.sru.request import Limits
from protocols.sru.response import Version
from protocols.sru.service import ResultSets, SRUService
from tests.xsd import assert_valid

DC = "{http://purl.org/dc/elements/1.1/}"


def _years(root: etree._Element) -> list[str]:
    return ["".join(c for c in text if c.isdigit())[:4] for text in _text(root, f".//{DC}date")]


def _ask(service: SRUService, database: str | None = None, **values: str) -> etree._Element:
    """Send one request; validate the answer against the schema of the version it is in
    (the 1.x schema covers searchRetrieve only)."""
    document = service.respond({k.encode(): [v.encode()] for k, v in values.items()}, database)
    root = etree.fromstring(document)
    name = etree.QName(root)
    if name.namespace == "http://docs.oasis-open.org/ns/search-ws/scan":
        assert_valid("sru/scan.xsd", document)
    elif name.namespace == "http://docs.oasis-open.org/ns/search-ws/sruResponse":
        assert_valid("sru/sruResponse.xsd", document)
    elif name.localname == "searchRetrieveResponse":
        assert_valid("sru/v12_srw-types1.2.xsd", document)
    return root


def _text(root: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in root.iterfind(path)]


def test_search_pages_through_the_records_in_every_version(vie_store: RecordStore) -> None:
    """Hit count, page size, positions and next position; Vietnamese with and without marks."""
    service = SRUService(vie_store, Limits())
    for version in ("1.1", "1.2", "2.0"):
        for query in ('dc.title = "thời trẻ"', 'dc.title = "thoi tre"'):
            root = _ask(service, version=version, query=query, operation="searchRetrieve")
            assert _text(root, "{*}numberOfRecords") == ["1"]
        root = _ask(service, version=version, operation="searchRetrieve",
                    query="dc.date >= 1990", startRecord="3", maximumRecords="4")  # fmt: skip
        total = int(_text(root, "{*}numberOfRecords")[0])
        assert total > 10
        assert _text(root, ".//{*}recordPosition") == ["3", "4", "5", "6"]
        assert _text(root, "{*}nextRecordPosition") == ["7"]


def test_count_only_then_beyond_the_end(vie_store: RecordStore) -> None:
    """maximumRecords=0 counts (as ZOOM clients do first); a start past the end is 61."""
    service = SRUService(vie_store, Limits())
    counted = _ask(service, query="cql.allRecords = 1", maximumRecords="0")
    assert _text(counted, "{*}numberOfRecords") == ["121"]
    assert counted.find("{*}records") is None
    beyond = _ask(service, query="cql.allRecords = 1", startRecord="500")
    assert _text(beyond, ".//{*}uri") == ["info:srw/diagnostic/1/61"]
    assert _text(beyond, "{*}numberOfRecords") == ["121"]


def test_schemas_and_holdings(vie_store: RecordStore) -> None:
    """MARCXML, DC and MODS by short name or URI; string packing escapes the record."""
    service = SRUService(vie_store, Limits())
    for schema, root_name in (("marcxml", "record"), ("dc", "dc"),
                              ("info:srw/schema/1/mods-v3.7", "mods")):  # fmt: skip
        root = _ask(service, query='dc.title = "thời trẻ"', recordSchema=schema)
        data = root.find(".//{*}recordData")
        assert data is not None and etree.QName(data[0]).localname == root_name
    escaped = _ask(service, query='dc.title = "thời trẻ"', recordXMLEscaping="string")
    assert (escaped.findtext(".//{*}recordData") or "").startswith("<record")


def test_sort_result_sets_and_databases(vie_store: RecordStore) -> None:
    """sortBy and 1.1 sortKeys order the page; a kept result set is reusable; a library
    database sees only that library's records."""
    service = SRUService(vie_store, Limits(), ResultSets())
    newest = _ask(service, query="dc.date >= 1990 sortBy dc.date/sort.descending",
                  maximumRecords="3", recordSchema="dc")  # fmt: skip
    years = _years(newest)
    assert len(years) == 3 and years == sorted(years, reverse=True)
    oldest = _ask(service, version="1.1", operation="searchRetrieve", query="dc.date >= 1990",
                  sortKeys="dc.date,,1", maximumRecords="3", recordSchema="dc")  # fmt: skip
    assert len(_years(oldest)) == 3 and _years(oldest) == sorted(_years(oldest))
    kept = _ask(service, query="dc.date >= 2000", resultSetTTL="60", maximumRecords="0")
    (name,) = _text(kept, "{*}resultSetId")
    reused = _ask(service, query=f"cql.resultSetId = {name} and dc.date >= 2000",
                  maximumRecords="0")  # fmt: skip
    assert _text(reused, "{*}numberOfRecords") == _text(kept, "{*}numberOfRecords")
    assert _text(_ask(service, "loc", query="cql.allRecords = 1"), "{*}numberOfRecords") == ["121"]
    assert _text(_ask(service, "other", query="cql.allRecords = 1"), "{*}numberOfRecords") == ["0"]


def test_result_sets_expire() -> None:
    """A result set is gone after its time to live."""
    now = [0.0]
    sets = ResultSets(clock=lambda: now[0])
    name = sets.keep([3, 1], ttl=10)
    assert sets.get(name) == frozenset({1, 3})
    now[0] = 11
    assert sets.get(name) is None


def test_scan_lists_terms_with_counts(vie_store: RecordStore) -> None:
    """Scan browses an index in Vietnamese order with counts, in 1.2 and 2.0."""
    service = SRUService(vie_store, Limits())
    root = _ask(service, scanClause="dc.title = thoi", maximumTerms="5")
    values = _text(root, ".//{*}value")
    assert len(values) == 5 and all(int(c) >= 1 for c in _text(root, ".//{*}numberOfRecords"))
    assert _text(root, ".//{*}whereInList")[0] == "first"
    legacy = _ask(service, version="1.2", scanClause="dc.title = thoi", maximumTerms="5")
    assert _text(legacy, ".//{*}value") == values


def test_every_failure_is_an_sru_diagnostic(vie_store: RecordStore) -> None:
    """Bad requests and an unexpected store failure are SRU diagnostics in valid XML."""
    service = SRUService(vie_store, Limits(default_version=Version.V1_2))
    cases = [
        ({"query": "dc.title="}, "10"),
        ({"version": "9.9", "query": "x"}, "5"),
        ({"query": "dc.type = x"}, "16"),
        ({"query": "x", "recordSchema": "nope"}, "66"),
    ]
    for values, code in cases:
        root = _ask(service, **values)
        assert _text(root, ".//{*}uri") == [f"info:srw/diagnostic/1/{code}"], values

    class BrokenStore(type(vie_store)):  # type: ignore[misc]
        def search(self, *args: object, **kwargs: object) -> object:
            raise RuntimeError("disk on fire")

    broken = BrokenStore.__new__(BrokenStore)
    broken.__dict__.update(vie_store.__dict__)
    failed = _ask(SRUService(broken, Limits()), query="x")
    assert _text(failed, ".//{*}uri") == ["info:srw/diagnostic/1/1"]
    assert b"disk on fire" not in etree.tostring(failed)


def test_explain_describes_what_the_server_does(vie_store: RecordStore) -> None:
    """Explain (no parameters, or operation=explain) carries a valid ZeeRex record: the
    database with its record count, every index by the names the server accepts (each one
    searchable as written), titles in Vietnamese and English, schemas and limits."""
    service = SRUService(vie_store, Limits(max_records=50))
    for values in ({}, {"version": "1.2", "operation": "explain"}):
        root = _ask(service, **values)
        zeerex = root.find(".//{http://explain.z3950.org/dtd/2.0/}explain")
        assert zeerex is not None
        assert_valid("sru/explain.xsd", etree.tostring(zeerex))
    z = "{http://explain.z3950.org/dtd/2.0/}"
    database = zeerex.find(f"{z}serverInfo/{z}database")
    assert database is not None and database.get("numRecs") == "121"
    assert zeerex.findtext(f"{z}configInfo/{z}setting[@type='maximumRecords']") == "50"
    titles = {
        t.get("lang"): t.text
        for t in zeerex.iterfind(f"{z}indexInfo/{z}index[@id='title']/{z}title")
    }
    assert titles == {"vi": "Nhan đề", "en": "Title"}
    names = [(n.get("set"), n.text) for n in zeerex.iterfind(f".//{z}map/{z}name")]
    assert ("dc", "title") in names and ("bath", "isbn") in names
    for context_set, name in names:
        found = _ask(service, query=f"{context_set}.{name} = 1999", maximumRecords="0")
        assert found.find(".//{*}diagnostic") is None, (context_set, name)
    library = _ask(service, "loc")
    assert library.find(f".//{z}database").get("numRecs") == "121"  # type: ignore[union-attr]
    assert _ask(service, "other").find(f".//{z}database").get("numRecs") == "0"  # type: ignore[union-attr]


def test_facets_count_authors_subjects_dates_languages_and_libraries(
    vie_store: RecordStore,
) -> None:
    """SRU 2.0 facetLimit: counts among the hits, most first, each with a query that finds
    exactly those records; 1.x responses stay valid (no facets there); bad facets refused."""
    service = SRUService(vie_store, Limits())
    base = "dc.date >= 1990"
    root = _ask(service, query=base, maximumRecords="0",
                facetLimit="3:dc.creator,dc.subject,2:dc.date,dc.language,lt.library")  # fmt: skip
    facets = root.findall(".//{*}facet")
    assert [f.findtext("{*}index") for f in facets] == [
        "dc.creator", "dc.subject", "dc.date", "dc.language", "lt.library"
    ]  # fmt: skip
    assert facets[0].findtext("{*}facetDisplayLabel") == "Tác giả / Author"
    for facet in facets[:3]:
        counts = [int(c) for c in _text(facet, ".//{*}count")]
        assert counts and counts == sorted(counts, reverse=True)
        for term in facet.iterfind(".//{*}term"):
            narrowed = _ask(service, query=f"{base} and {term.findtext('{*}query')}",
                            maximumRecords="0")  # fmt: skip
            assert _text(narrowed, "{*}numberOfRecords") == [term.findtext("{*}count")]
    assert _text(facets[3], ".//{*}actualTerm")[0] == "vie"  # then 041 languages
    legacy = _ask(service, version="1.2", query=base, facetLimit="dc.creator")
    assert legacy.find(".//{*}facet") is None
    refused = _ask(service, query=base, facetLimit="dc.title")
    assert _text(refused, ".//{*}uri") == ["info:srw/diagnostic/1/16"]
