"""OAI-PMH end to end: the real gateway serving the 5,000 LoC records (and the 121
Vietnamese ones as a second library), harvested by sickle and oaipmh (4.x) over HTTP,
every page validated against the official schemas."""

from __future__ import annotations

import dataclasses
import gzip
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oaipmh.error
import pytest
import requests
from lxml import etree
from oaipmh.client import Client
from oaipmh.metadata import MetadataReader, MetadataRegistry, oai_dc_reader
from pymarc import Field, Subfield
from sickle import Sickle, oaiexceptions

from gateway.config import render_config
from gateway.importer import canonical_from_marc, local_id_of
from gateway.marcfile import read_marc_file
from gateway.record import oai_identifier
from gateway.store import open_store
from protocols.oaipmh.arguments import Verb
from protocols.oaipmh.service import TOKEN_KEY
from protocols.oaipmh.tokens import TokenSigner
from tests.conftest import LOC_5000, REPO, VIE_121
from tests.oai import OAI, assert_oai_valid, error_codes
from tests.servers import running_gateway

NAMESPACE = "e2e.lienthong.vn"


@dataclass
class Gateway:
    """The running gateway: its OAI base URL and its store file."""

    base: str
    store: Path
    config: Path


def _cli(config: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "gateway", "-c", str(config), *args],
                            capture_output=True, text=True, timeout=300, cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway whose store was loaded by ``lienthong import`` (loc-5000 as library
    ``loc``, the Vietnamese records as ``vie``), serving OAI-PMH on a free port."""
    folder = tmp_path_factory.mktemp("oai")
    config = folder / "lienthong.yaml"
    libraries = [
        {"id": "loc", "name": "Thư viện Quốc hội Hoa Kỳ (mẫu)", "kind": "national"},
        {"id": "vie", "name": "Thư viện tỉnh Đắk Lắk", "kind": "provincial",
         "url": "https://opac.dlk.example.vn/"},
    ]  # fmt: skip
    config.write_text(render_config({"libraries": libraries, "store.path": "store.db",
                                     "gateway.oai_namespace": NAMESPACE,
                                     "endpoints.oaipmh": True}), "utf-8")  # fmt: skip
    _cli(config, "import", str(LOC_5000), "--source", "loc")
    _cli(config, "import", str(VIE_121), "--source", "vie")
    time.sleep(1.1)  # harvests start in a later second than the import's datestamps
    with running_gateway(["-c", str(config), "serve"], folder, "oaipmh") as base:
        yield Gateway(f"{base}/oai", folder / "store.db", config)


def _expected(path: Path, source: str) -> set[str]:
    """The OAI identifiers the records of a file must be served under."""
    records = [r.record for r in read_marc_file(path) if r.record is not None]
    return {oai_identifier(NAMESPACE, source, local_id_of(r)[0]) for r in records}


class ValidatingSickle(Sickle):
    """sickle, unchanged, except that every page it receives is schema-validated."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages: list[etree._Element] = []

    def harvest(self, **kwargs: Any) -> Any:
        response = super().harvest(**kwargs)
        self.pages.append(assert_oai_valid(response.raw.encode("utf-8")))
        return response


@pytest.mark.parametrize("prefix", ["oai_dc", "marc21", "mods"])
def test_sickle_harvests_everything_in_every_format(gateway: Gateway, prefix: str) -> None:
    """A full ListRecords with sickle: exactly the 5,121 records, each once, under the
    identifiers their files give them, in 26 valid pages of 200 (the last one ending with
    an empty token), each record with metadata in the asked namespace."""
    sickle = ValidatingSickle(gateway.base, max_retries=3, timeout=120)
    records = list(sickle.ListRecords(metadataPrefix=prefix, ignore_deleted=False))
    served = [r.header.identifier for r in records]
    assert len(served) == 5121 and len(set(served)) == 5121
    assert set(served) == _expected(LOC_5000, "loc") | _expected(VIE_121, "vie")
    assert not any(r.deleted for r in records)
    namespace = {"oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
                 "marc21": "http://www.loc.gov/MARC21/slim",
                 "mods": "http://www.loc.gov/mods/v3"}[prefix]  # fmt: skip
    roots = [r.xml.find(f"{OAI}metadata")[0] for r in records]
    assert all(etree.QName(root).namespace == namespace for root in roots)
    assert len(sickle.pages) == 26
    last = sickle.pages[-1].find(f".//{OAI}resumptionToken")
    assert last is not None and not last.text and last.get("completeListSize") == "5121"


def test_oaipmh_client_harvests_identifies_and_reads_errors(gateway: Gateway) -> None:
    """The oaipmh 4.x client (POST, its own parsing): Identify, sets, formats, full
    ListRecords in oai_dc and ListIdentifiers in marc21 with exact counts, GetRecord with a
    MARC reader, and our error codes raised as its own exception types."""
    registry = MetadataRegistry()
    registry.registerReader("oai_dc", oai_dc_reader)
    registry.registerReader("marc21", MetadataReader(
        fields={"title": ("textList", "marc:record/marc:datafield[@tag='245']/marc:subfield"
                                      "[@code='a']/text()")},
        namespaces={"marc": "http://www.loc.gov/MARC21/slim"},
    ))  # fmt: skip
    client = Client(gateway.base, registry)
    identify = client.identify()
    assert identify.granularity() == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.deletedRecord() == "persistent"
    client.updateGranularity()
    sets = {spec: name for spec, name, _ in client.listSets()}
    assert sets["library:vie"] == "Thư viện tỉnh Đắk Lắk" and "type:book" in sets
    prefixes = {prefix for prefix, _, _ in client.listMetadataFormats()}
    assert prefixes == {"oai_dc", "marc21", "marcxml", "mods"}
    records = list(client.listRecords(metadataPrefix="oai_dc"))
    assert len(records) == 5121 and len({h.identifier() for h, _, _ in records}) == 5121
    vie = [m for h, m, _ in records if h.identifier().startswith(f"oai:{NAMESPACE}:vie/")]
    assert len(vie) == 121 and all(m.getField("title") for m in vie)
    headers = list(client.listIdentifiers(metadataPrefix="marc21", set="library:vie"))
    assert {h.identifier() for h in headers} == _expected(VIE_121, "vie")
    header, metadata, _ = client.getRecord(identifier=headers[0].identifier(),
                                           metadataPrefix="marc21")  # fmt: skip
    assert header.identifier() == headers[0].identifier() and metadata.getField("title")
    with pytest.raises(oaipmh.error.IdDoesNotExistError):
        client.getRecord(identifier=f"oai:{NAMESPACE}:vie/none", metadataPrefix="oai_dc")
    with pytest.raises(oaipmh.error.CannotDisseminateFormatError):
        list(client.listRecords(metadataPrefix="ead"))
    with pytest.raises(oaipmh.error.BadArgumentError):
        list(client.listRecords(metadataPrefix="oai_dc", set="library: với dấu cách"))
    with pytest.raises(oaipmh.error.NoRecordsMatchError):
        list(client.listRecords(metadataPrefix="oai_dc", set="library:nowhere"))


def test_per_set_harvests(gateway: Gateway) -> None:
    """Set-based ListIdentifiers: each library's set holds exactly its file's records;
    type sets hold exactly the records of that type in the store; the parent sets hold
    their children."""
    sickle = ValidatingSickle(gateway.base, max_retries=3, timeout=120)

    def harvest(spec: str) -> set[str]:
        headers = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set=spec))
        return {h.identifier for h in headers}

    assert harvest("library:vie") == _expected(VIE_121, "vie")
    assert harvest("library:loc") == _expected(LOC_5000, "loc")
    with open_store(gateway.store) as store:
        by_type: dict[str, set[str]] = {}
        for change in store.changes(limit=100_000, metadata=False):
            for spec in change.record.sets:
                by_type.setdefault(spec, set()).add(change.record.oai_identifier)
    types = [spec for spec in by_type if spec.startswith("type:")]
    assert types
    for spec in types:
        assert harvest(spec) == by_type[spec]
    assert harvest("type") == harvest("library")


def _touch(store: Any, identifier: str) -> None:
    record = store.get_by_oai_identifier(identifier)
    note = Subfield("a", "Đã sửa giữa đợt thu hoạch")
    record.marc.add_field(Field(tag="500", indicators=[" ", " "], subfields=[note]))
    store.upsert([canonical_from_marc(record.marc, source=record.source, namespace=NAMESPACE,
                                      local_id=record.local_id)])  # fmt: skip


def test_incremental_harvest_after_changes_made_mid_harvest(gateway: Gateway) -> None:
    """While sickle pages through ListIdentifiers, another process updates, deletes and adds
    records. The harvest skips nothing (every record ends in its final state), serves each
    record that did not change exactly once, and the incremental harvest from the first
    response's date brings exactly the changes, deletions as deleted headers."""
    sickle = ValidatingSickle(gateway.base, max_retries=3, timeout=120)
    iterator = sickle.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False)
    served = [next(iterator) for _ in range(1000)]
    started = str(sickle.pages[0].findtext(f"{OAI}responseDate"))
    seen = [h.identifier for h in served]
    unseen = sorted((_expected(LOC_5000, "loc") | _expected(VIE_121, "vie")) - set(seen))
    time.sleep(1.1)  # the changes are datestamped after the harvest's first response
    updated, deleted = seen[100:110] + unseen[:10], seen[200:205] + unseen[500:505]
    added = [f"oai:{NAMESPACE}:vie/moi-{i}" for i in range(5)]
    with open_store(gateway.store) as store:
        for identifier in updated:
            _touch(store, identifier)
        for identifier in deleted:
            source, local_id = identifier.split(":", 2)[2].split("/", 1)
            store.delete(source, [local_id])
        template = store.get_by_oai_identifier(seen[0])
        assert template is not None and template.marc is not None
        store.upsert([canonical_from_marc(template.marc, source="vie", namespace=NAMESPACE,
                                          local_id=f"moi-{i}") for i in range(5)])  # fmt: skip
    served += list(iterator)
    final = {h.identifier: h.deleted for h in served}
    assert set(final) == set(seen) | set(unseen) | set(added)
    assert all(final[i] for i in deleted) and not any(final[i] for i in updated + added)
    unchanged = set(final) - set(updated) - set(deleted) - set(added)
    repeats = [h.identifier for h in served if h.identifier in unchanged]
    assert len(repeats) == len(set(repeats)) == len(unchanged)
    incremental = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False,
                                              **{"from": started}))  # fmt: skip
    changes = {h.identifier: h.deleted for h in incremental}
    assert changes == {**dict.fromkeys(updated + added, False), **dict.fromkeys(deleted, True)}
    day = started[:10]
    same_day = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False,
                                           **{"from": day, "until": day}))  # fmt: skip
    assert {h.identifier for h in same_day} >= set(changes)


def _oai(gateway: Gateway, method: str = "GET", **kwargs: Any) -> etree._Element:
    response = requests.request(method, gateway.base, timeout=30, **kwargs)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    return assert_oai_valid(response.content)


BAD_REQUESTS = [
    ("verb=Identify&verb=Identify", "badVerb"),
    ("verb=Explode", "badVerb"),
    ("", "badVerb"),
    ("verb=%FF%FE", "badVerb"),
    ("verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=marc21", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&bogus=1", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2026-13-45", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01T25:00:00Z", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2026-02-01&until=2026-01-01", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01&until=2026-02-01T00:00:00Z",
     "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&set=%C3%28", "badArgument"),
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=" + "x" * 10_000, "badArgument"),
    ("verb=ListRecords&resumptionToken=garbage", "badResumptionToken"),
    ("verb=ListRecords&resumptionToken=" + "A" * 5000, "badResumptionToken"),
    ("verb=ListRecords&resumptionToken=a.b&metadataPrefix=oai_dc", "badArgument"),
    ("verb=ListRecords&metadataPrefix=ead", "cannotDisseminateFormat"),
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:e2e.lienthong.vn:loc/none",
     "idDoesNotExist"),
    ("verb=ListRecords&metadataPrefix=oai_dc&until=1999-01-01", "noRecordsMatch"),
    ("verb=ListSets&resumptionToken=x", "badResumptionToken"),
    ("verb=Identify&%27%3B%20DROP%20TABLE%20records%3B--=1", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&set=library%3Aloc%27%20OR%20%271%27%3D%271",
     "badArgument"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "code"), BAD_REQUESTS)
def test_bad_requests_get_their_oai_error_over_get_and_post(
    gateway: Gateway, query: str, code: str
) -> None:
    """Repeated, unknown, illegal, non-UTF-8, overlong and injected arguments, garbage
    tokens: HTTP 200 and the right OAI error, valid against the schema, by GET and by
    form POST alike, and the server keeps serving."""
    by_get = assert_oai_valid(requests.get(f"{gateway.base}?{query}", timeout=30).content)
    assert error_codes(by_get)[0] == code
    form = {"content-type": "application/x-www-form-urlencoded"}
    by_post = requests.post(gateway.base, data=query.encode("latin-1"), timeout=30, headers=form)
    assert by_post.status_code == 200
    assert error_codes(assert_oai_valid(by_post.content))[0] == code
    assert not error_codes(_oai(gateway, params={"verb": "Identify"}))


def test_tampered_and_cross_verb_tokens(gateway: Gateway) -> None:
    """A real token with one character changed, cut short, or used for the other list
    verb is badResumptionToken; the untouched token still works afterwards."""
    first = _oai(gateway, params={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
    token = first.findtext(f".//{OAI}resumptionToken")
    assert token
    middle = len(token) // 3
    swapped = "B" if token[middle] != "B" else "C"
    for bad in (token[:middle] + swapped + token[middle + 1 :], token[:-2], token + "x"):
        root = _oai(gateway, params={"verb": "ListIdentifiers", "resumptionToken": bad})
        assert error_codes(root) == ["badResumptionToken"]
    root = _oai(gateway, params={"verb": "ListRecords", "resumptionToken": token})
    assert error_codes(root) == ["badResumptionToken"]
    again = _oai(gateway, params={"verb": "ListIdentifiers", "resumptionToken": token})
    assert not error_codes(again) and len(again.findall(f".//{OAI}header")) == 200


@pytest.mark.parametrize(
    ("accept", "coding"),
    [("gzip", "gzip"), ("deflate", "deflate"), ("gzip;q=0, deflate", "deflate"),
     ("br, *;q=0.5", "gzip"), ("identity", None), ("gzip;q=0", None)],
)  # fmt: skip
def test_responses_are_compressed_when_asked(
    gateway: Gateway, accept: str, coding: str | None
) -> None:
    """Accept-Encoding is honoured (gzip preferred, deflate, q-values, *): the body
    decompresses to the same valid document, several times smaller."""
    params = {"verb": "ListRecords", "metadataPrefix": "marc21", "set": "library:vie"}
    plain = requests.get(gateway.base, params=params, timeout=30,
                         headers={"accept-encoding": "identity"})  # fmt: skip
    raw = requests.get(gateway.base, params=params, timeout=30, stream=True,
                       headers={"accept-encoding": accept})  # fmt: skip
    body = raw.raw.read()
    assert raw.headers.get("content-encoding") == coding
    assert "Accept-Encoding" in raw.headers["vary"]
    if coding == "gzip":
        body = gzip.decompress(body)
    elif coding == "deflate":
        body = zlib.decompress(body)
    else:
        assert len(body) == len(plain.content)
    if coding:
        assert int(raw.headers["content-length"]) * 4 < len(body)
    assert body.split(b"<responseDate>")[1][20:] == plain.content.split(b"<responseDate>")[1][20:]
    assert_oai_valid(body)


def test_every_response_links_the_stylesheet_the_gateway_serves(gateway: Gateway) -> None:
    """Responses carry an xml-stylesheet instruction for /oai/oai.xsl, and the gateway
    serves that file as XSLT."""
    body = requests.get(gateway.base, params={"verb": "Identify"}, timeout=30).content
    assert b'<?xml-stylesheet type="text/xsl" href="/oai/oai.xsl"?>' in body
    sheet = requests.get(gateway.base + "/oai.xsl", timeout=30)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/xsl")
    etree.XSLT(etree.fromstring(sheet.content))


def test_sickle_raises_the_protocol_errors_it_reads(gateway: Gateway) -> None:
    """sickle maps our error responses to its own exceptions (it reads the codes)."""
    sickle = Sickle(gateway.base)
    with pytest.raises(oaiexceptions.NoRecordsMatch):
        list(sickle.ListRecords(metadataPrefix="oai_dc", **{"until": "1990-01-01"}))
    with pytest.raises(oaiexceptions.BadArgument):
        list(sickle.ListRecords(metadataPrefix="oai_dc", **{"from": "2026-13-45"}))


def test_an_expired_token_is_refused_by_the_running_server(gateway: Gateway) -> None:
    """A token signed with the repository's own key but past its expirationDate (as a
    harvester that paused too long would send) is badResumptionToken, saying when it
    expired; the same token with a future expiry is accepted."""
    first = _oai(gateway, params={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
    with open_store(gateway.store) as store:
        signer = TokenSigner(store.secret(TOKEN_KEY))
    token = signer.decode(str(first.findtext(f".//{OAI}resumptionToken")),
                          Verb.LIST_IDENTIFIERS, time.time())  # fmt: skip
    expired = signer.encode(dataclasses.replace(token, expires=int(time.time()) - 60))
    root = _oai(gateway, params={"verb": "ListIdentifiers", "resumptionToken": expired})
    assert error_codes(root) == ["badResumptionToken"]
    assert "expired at" in str(root.findtext(f"{OAI}error"))
    fresh = signer.encode(dataclasses.replace(token, expires=int(time.time()) + 3600))
    assert not error_codes(
        _oai(gateway, params={"verb": "ListIdentifiers", "resumptionToken": fresh})
    )


def test_concurrent_harvesters_are_not_disturbed_by_a_hostile_client(gateway: Gateway) -> None:
    """Four harvesters page through the whole repository at once while another client
    sends garbage, overlong and non-UTF-8 requests: every harvester gets every record once
    and the hostile client gets OAI errors, never a failure of the server."""
    with open_store(gateway.store) as store:  # earlier tests changed some records
        expected = {c.record.oai_identifier for c in store.changes(limit=10**6, metadata=False)}

    def harvest(prefix: str) -> list[str]:
        sickle = Sickle(gateway.base, max_retries=3, timeout=120)
        return [h.identifier for h in sickle.ListIdentifiers(metadataPrefix=prefix)]

    def hostile() -> list[str]:
        codes = []
        for query, _ in BAD_REQUESTS * 3:
            body = requests.get(f"{gateway.base}?{query}", timeout=60).content
            codes.append(error_codes(etree.fromstring(body))[0])
        return codes

    with ThreadPoolExecutor(max_workers=5) as pool:
        harvests = [pool.submit(harvest, p) for p in ("oai_dc", "marc21", "mods", "marcxml")]
        garbage = pool.submit(hostile)
        for future in harvests:
            served = future.result(timeout=300)
            assert len(served) == len(expected) and set(served) == expected
        assert garbage.result(timeout=300) == [code for _, code in BAD_REQUESTS] * 3
