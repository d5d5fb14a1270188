"""Z39.50 session semantics on the demo catalogue: every reply encodes and says the right
thing, and every bad request gets its Bib-1 diagnostic or a Close that says why."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymarc import MARCReader

from gateway.demo import DEMO_LIBRARIES, build_demo
from gateway.passwords import hash_password
from gateway.store import RecordStore, open_store
from protocols.z3950.codec import Apdu, bits_of, decode_apdu, decode_value, encode_apdu, text_of
from protocols.z3950.service import Reply, Session, SessionState, TargetSettings, database_key
from tests.z3950_apdus import (
    GRS1,
    OPAC,
    SUTRS,
    USMARC,
    XML,
    delete,
    init,
    present,
    rpn,
    scan,
    search,
    sort,
    term,
)

KIEU = term(4, "truyện kiều")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordStore]:
    """The demo catalogue (three libraries) in a SQLite store."""
    path = tmp_path_factory.mktemp("z3950") / "store.db"
    with open_store(path) as store:
        store.upsert(build_demo("demo.lienthong.vn").records)
        yield store


SETTINGS = TargetSettings(
    databases={
        "default": None,
        **{database_key(lib.id): lib.id for lib in DEMO_LIBRARIES},
        **{database_key(lib.name): lib.id for lib in DEMO_LIBRARIES},
    },  # fmt: skip
    library_names={lib.id: lib.name for lib in DEMO_LIBRARIES},
)


def answer(session: Session, apdu: Apdu) -> tuple[str, dict[str, Any], bool]:
    """The session's single reply to ``apdu``, through BER and back."""
    reply: Reply = session.handle(apdu)
    assert len(reply.apdus) == 1
    name, value = decode_apdu(encode_apdu(*reply.apdus[0]))
    return name, value, reply.close


def opened(store: RecordStore, settings: TargetSettings = SETTINGS, **init_args: Any) -> Session:
    """A session past Init."""
    session = Session(store, settings, peer="test")
    name, value, _ = answer(session, init(**init_args))
    assert name == "initResponse" and value["result"], value
    return session


def diagnostic(records: tuple[str, Any]) -> tuple[int, str]:
    """(condition, addinfo) of a non-surrogate diagnostic."""
    kind, diag = records
    assert kind == "nonSurrogateDiagnostic", records
    return diag["condition"], text_of(diag["addinfo"][1])


def marc_records(value: dict[str, Any]) -> list[Any]:
    """The MARC records of a response's responseRecords, read with pymarc."""
    out = []
    for entry in value["records"][1]:
        kind, record = entry["record"]
        assert kind == "retrievalRecord", entry
        data = bytes(record["encoding"][1])
        out.append(next(iter(MARCReader(io.BytesIO(data), to_unicode=True))))
    return out


# -- state machine ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "apdu, message",
    [
        (search(KIEU), "searchRequest before initRequest"),
        (present(1, 1), "presentRequest before initRequest"),
        (("initResponse", {}), "initResponse before initRequest"),
    ],
)
def test_requests_before_init_are_closed_with_the_reason(
    demo_store: RecordStore, apdu: Apdu, message: str
) -> None:
    """Anything but Init (or Close) first is a protocol error: Close, reason protocolError."""
    name, value, close = answer(Session(demo_store, SETTINGS), apdu)
    assert (name, value["closeReason"], close) == ("close", 6, True)
    assert text_of(value["diagnosticInformation"]) == message


def test_a_second_init_and_response_apdus_close_the_session(demo_store: RecordStore) -> None:
    """The table admits one Init per session and no response APDUs from the client."""
    session = opened(demo_store)
    name, value, close = answer(session, init())
    assert (
        name == "close"
        and close
        and "second initRequest" in text_of(value["diagnosticInformation"])
    )
    assert session.state is SessionState.CLOSED
    other = opened(demo_store)
    assert answer(other, ("searchResponse", {}))[0] == "close"


def test_close_is_answered_with_close_finished(demo_store: RecordStore) -> None:
    """A client's Close gets a Close (finished) with its referenceId, then the end."""
    session = opened(demo_store)
    name, value, close = answer(session, ("close", {"referenceId": b"bye", "closeReason": 0}))
    assert (name, value["closeReason"], value["referenceId"], close) == ("close", 0, b"bye", True)


# -- Init -----------------------------------------------------------------------------------


def test_init_negotiates_versions_options_and_sizes(demo_store: RecordStore) -> None:
    """Versions and options are the common ones; message sizes are capped by the config."""
    session = Session(demo_store, TargetSettings(max_message_size=100_000))
    _, value, _ = answer(session, init(versions={1}, preferred=1 << 24, exceptional=1 << 25))
    assert value["result"] is True and value["referenceId"] == b"ref-1"
    assert bits_of(value["protocolVersion"]) == {1}
    assert bits_of(value["options"]) == {0, 1, 2, 7, 8, 14, 16}  # no negotiation: none asked
    assert value["preferredMessageSize"] == value["exceptionalRecordSize"] == 100_000
    assert text_of(value["implementationName"]) == "lienthong Z39.50 target"


def test_init_without_a_common_version_is_refused(demo_store: RecordStore) -> None:
    """A client offering no version this target speaks gets result false and the end."""
    session = Session(demo_store, SETTINGS)
    _, value, close = answer(session, init(versions=set()))
    assert value["result"] is False and close


@pytest.mark.parametrize("asked, chosen", [("UTF-8", "utf-8"), ("MARC-8", "marc-8")])
def test_character_set_negotiation_is_answered(
    demo_store: RecordStore, asked: str, chosen: str
) -> None:
    """UTF-8 is answered as ISO 10646 UTF-8; MARC-8 (asked alone) as YAZ's private name."""
    session = Session(demo_store, SETTINGS)
    _, value, _ = answer(session, init(charset=asked))
    assert 17 in bits_of(value["options"])
    information = value["otherInfo"][0]["information"][1]
    assert information["direct-reference"] == "1.2.840.10003.15.3"
    kind, response = decode_value("CharSetandLanguageNegotiation", information["encoding"][1])
    assert kind == "response" and response["recordsInSelectedCharSets"] is True
    assert session.charset.value == chosen


def test_marc8_sessions_get_marc8_records(demo_store: RecordStore) -> None:
    """After MARC-8 negotiation, MARC records have LDR/09 blank and read back the same."""
    utf8, marc8 = opened(demo_store, charset="UTF-8"), opened(demo_store, charset="MARC-8")
    texts = []
    for session in (utf8, marc8):
        answer(session, search(term(4, "truyen kieu")))  # ASCII: the same in both
        _, value, _ = answer(session, present(1, 1))
        record = marc_records(value)[0]
        texts.append((record.leader[9], record["245"]["a"], record["100"]["a"]))
    assert texts[0][0] == "a" and texts[1][0] == " "
    assert texts[0][1:] == texts[1][1:] == ("Truyện Kiều /", "Nguyễn Du,")


def test_idpass_logins_are_checked_and_passwords_never_logged(
    demo_store: RecordStore, caplog: pytest.LogCaptureFixture
) -> None:
    """With accounts configured, only a matching id and password open a session."""
    settings = TargetSettings(accounts={"kiosk": hash_password("secret-demo")})
    caplog.set_level(logging.DEBUG)
    attempts = [("kiosk", "secret-demo", True), ("kiosk", "wrong-pw", False),
                ("nobody", "secret-demo", False), (None, None, False)]  # fmt: skip
    for user, password, accepted in attempts:
        session = Session(demo_store, settings)
        _, value, close = answer(session, init(user=user, password=password))
        assert value["result"] is accepted and close is not accepted
    assert "secret-demo" not in caplog.text and "wrong-pw" not in caplog.text
    assert "login refused" in caplog.text


# -- Search ---------------------------------------------------------------------------------


def test_search_counts_and_piggybacks_by_the_set_bounds(demo_store: RecordStore) -> None:
    """Small sets come whole, medium sets with mediumSetPresentNumber records, large none."""
    session = opened(demo_store)
    _, value, _ = answer(session, search(KIEU))
    total = value["resultCount"]
    assert total >= 10 and value["numberOfRecordsReturned"] == 0
    _, small, _ = answer(session, search(KIEU, small=total, large=total + 1))
    assert small["numberOfRecordsReturned"] == total and small["presentStatus"] == 0
    _, medium, _ = answer(session, search(KIEU, small=1, large=total + 1, medium=3))
    assert medium["numberOfRecordsReturned"] == 3 and medium["nextResultSetPosition"] == 4
    _, large, _ = answer(session, search(KIEU, small=1, large=2, medium=3))
    assert large["numberOfRecordsReturned"] == 0 and "records" not in large
    titles = {record["245"]["a"] for record in marc_records(small)}
    assert titles == {"Truyện Kiều /"}


def test_member_library_databases_scope_the_search(demo_store: RecordStore) -> None:
    """Each member library is a database, named by id or by name (marks optional);
    several are their union; unknown ones are 235."""
    session = opened(demo_store)
    counts = {}
    for database in ("Default", "dlk-tinh", "DLK-KRONGPAC", "thpt-ntmk"):
        _, value, _ = answer(session, search(term(1016, "kieu"), databases=(database,)))
        counts[database] = value["resultCount"]
    assert counts["Default"] == counts["dlk-tinh"] + counts["DLK-KRONGPAC"] + counts["thpt-ntmk"]
    _, both, _ = answer(session, search(term(1016, "kieu"), databases=("dlk-tinh", "thpt-ntmk")))
    assert both["resultCount"] == counts["dlk-tinh"] + counts["thpt-ntmk"]
    for name in ("Thư viện tỉnh Đắk Lắk", "thu vien  tinh dak lak"):
        _, value, _ = answer(session, search(term(1016, "kieu"), databases=(name,)))
        assert value["resultCount"] == counts["dlk-tinh"]
    _, value, _ = answer(session, search(KIEU, databases=("nowhere",)))
    assert value["searchStatus"] is False and diagnostic(value["records"]) == (235, "nowhere")


def test_named_result_sets_and_their_use_as_operands(demo_store: RecordStore) -> None:
    """Sets keep their names; a set used as an operand restricts the next search."""
    session = opened(demo_store)
    _, kieu, _ = answer(session, search(KIEU, name="kieu"))
    _, tinh, _ = answer(session, search(term(1016, "kieu"), name="any", databases=("dlk-tinh",)))
    _, both, _ = answer(session, search(("and", "kieu", "any"), name="both"))
    assert 0 < both["resultCount"] <= min(kieu["resultCount"], tinh["resultCount"])
    _, value, _ = answer(session, search(("and", "kieu", "missing")))
    assert diagnostic(value["records"]) == (30, "missing")
    _, value, _ = answer(session, search(KIEU, name="kieu", replace=False))
    assert diagnostic(value["records"]) == (21, "kieu")


def test_result_sets_per_session_are_capped(demo_store: RecordStore) -> None:
    """Beyond max_result_sets the least recently used set is dropped (yaz-client names
    every search's set anew, so its 21st search must still work); using a dropped set
    is diagnostic 27, a never-made one 30."""
    session = opened(demo_store, TargetSettings(max_result_sets=2))
    for name in ("a", "b"):
        assert answer(session, search(KIEU, name=name))[1]["searchStatus"]
    answer(session, present(1, 1, name="a"))  # "a" is now the most recently used
    assert answer(session, search(KIEU, name="c"))[1]["searchStatus"]
    assert list(session.result_sets) == ["a", "c"]
    assert diagnostic(answer(session, present(1, 1, name="b"))[1]["records"])[0] == 27
    assert diagnostic(answer(session, present(1, 1, name="z"))[1]["records"])[0] == 30
    for n in range(30):
        assert answer(session, search(KIEU, name=str(n)))[1]["searchStatus"]
    assert len(session.result_sets) == 2


@pytest.mark.parametrize(
    "query, code",
    [
        (("type-0", b"\x04\x00"), 107),
        (("type-2", b"ccl"), 107),
    ],
)
def test_other_query_types_are_diagnostic_107(
    demo_store: RecordStore, query: tuple[str, Any], code: int
) -> None:
    """Only Type-1 (and 101) queries are searched; the session goes on after."""
    session = opened(demo_store)
    apdu = search(KIEU)
    apdu[1]["query"] = query
    _, value, _ = answer(session, apdu)
    assert diagnostic(value["records"])[0] == code
    assert answer(session, search(KIEU))[1]["resultCount"] > 0


def test_deep_queries_are_a_diagnostic_not_a_crash(demo_store: RecordStore) -> None:
    """A query nested beyond the mapping's bound is diagnostic 108; the session lives."""
    node: Any = KIEU
    for _ in range(200):
        node = ("and", node, KIEU)
    apdu = search(KIEU)
    apdu[1]["query"] = ("type-1", rpn(node))  # decoded form: deeper than BER tests go
    session = opened(demo_store)
    _, value, close = answer(session, apdu)
    assert not close and diagnostic(value["records"])[0] == 108
    assert answer(session, search(KIEU))[1]["resultCount"] > 0


# -- Present --------------------------------------------------------------------------------


def test_present_serves_every_syntax(demo_store: RecordStore) -> None:
    """USMARC, MARCXML, SUTRS and OPAC (holdings with availability) for the same record."""
    session = opened(demo_store, charset="UTF-8")
    answer(session, search(KIEU))
    _, value, _ = answer(session, present(1, 1, syntax=USMARC))
    marc = marc_records(value)[0]
    assert marc["245"]["a"] == "Truyện Kiều /" and marc.get_fields("852")
    _, value, _ = answer(session, present(1, 1, syntax=XML))
    xml = bytes(value["records"][1][0]["record"][1]["encoding"][1]).decode()
    assert xml.startswith("<record") and "Truyện Kiều" in xml
    _, value, _ = answer(session, present(1, 1, syntax=SUTRS))
    sutrs = decode_value("SUTRS", value["records"][1][0]["record"][1]["encoding"][1])
    assert "Truyện Kiều" in text_of(sutrs)
    _, value, _ = answer(session, present(1, 1, syntax=OPAC))
    opac = decode_value("OPACRecord", value["records"][1][0]["record"][1]["encoding"][1])
    bib = next(iter(MARCReader(io.BytesIO(bytes(opac["bibliographicRecord"]["encoding"][1])),
                               to_unicode=True)))  # fmt: skip
    assert bib["245"]["a"] == "Truyện Kiều /" and not bib.get_fields("852")
    holdings = [holding for kind, holding in opac["holdingsData"] if kind == "holdingsAndCirc"]
    assert len(holdings) == len(marc.get_fields("852"))
    first = holdings[0]
    assert text_of(first["nucCode"]) in SETTINGS.library_names
    assert text_of(first["localLocation"]) == SETTINGS.library_names[text_of(first["nucCode"])]
    assert isinstance(first["circulationData"][0]["availableNow"], bool)


def test_brief_records_have_fewer_fields(demo_store: RecordStore) -> None:
    """Element set B gives the brief record; an unknown element set name is 25."""
    session = opened(demo_store)
    answer(session, search(KIEU))
    full = marc_records(answer(session, present(1, 1, elements="F"))[1])[0]
    brief = marc_records(answer(session, present(1, 1, elements="b"))[1])[0]
    assert len(brief.fields) < len(full.fields) and brief["245"]["a"] == full["245"]["a"]
    _, value, _ = answer(session, present(1, 1, elements="Z"))
    assert diagnostic(value["records"]) == (25, "Z")


def test_unsupported_syntax_is_a_per_record_diagnostic(demo_store: RecordStore) -> None:
    """GRS-1 is a surrogate diagnostic 239 for each record, not a failed response."""
    session = opened(demo_store)
    answer(session, search(KIEU))
    _, value, _ = answer(session, present(1, 2, syntax=GRS1))
    assert value["numberOfRecordsReturned"] == 2
    for entry in value["records"][1]:
        kind, (form, diag) = entry["record"]
        assert kind == "surrogateDiagnostic" and form == "defaultFormat"
        assert (diag["condition"], text_of(diag["addinfo"][1])) == (239, "GRS-1")


@pytest.mark.parametrize("start, count", [(0, 1), (1000, 1), (2, -1)])
def test_present_out_of_range_is_13(demo_store: RecordStore, start: int, count: int) -> None:
    """Start before 1 or past the end, or a negative count: diagnostic 13, status failure."""
    session = opened(demo_store)
    answer(session, search(KIEU))
    _, value, _ = answer(session, present(start, count))
    assert value["presentStatus"] == 5 and diagnostic(value["records"])[0] == 13


def test_present_of_an_unknown_set_is_30(demo_store: RecordStore) -> None:
    """A result set name never made (or deleted) is diagnostic 30 with its name."""
    session = opened(demo_store)
    _, value, _ = answer(session, present(1, 1, name="nope"))
    assert diagnostic(value["records"]) == (30, "nope")


def test_huge_present_ranges_stop_at_max_present(demo_store: RecordStore) -> None:
    """Asking for a million records returns at most max_present, status partial-4."""
    session = opened(demo_store, TargetSettings(max_present=5))
    total = answer(session, search(term(1016, "a")))[1]["resultCount"]
    assert total > 5
    _, value, _ = answer(session, present(1, 1_000_000))
    assert value["numberOfRecordsReturned"] == 5 and value["presentStatus"] == 4
    assert value["nextResultSetPosition"] == 6


def test_message_size_limits_the_records_per_response(demo_store: RecordStore) -> None:
    """A small preferredMessageSize ends the response early (partial-2); the client goes
    on from nextResultSetPosition; a record over the exceptional size is diagnostic 17."""
    session = opened(demo_store, preferred=4096, exceptional=8192)
    answer(session, search(KIEU))
    _, value, _ = answer(session, present(1, 10))
    returned = value["numberOfRecordsReturned"]
    assert 0 < returned < 10 and value["presentStatus"] == 2
    assert value["nextResultSetPosition"] == returned + 1
    session.exceptional_record_size = session.preferred_message_size = 300
    _, value, _ = answer(session, present(1, 2))
    first = value["records"][1][0]["record"]
    assert first[0] == "surrogateDiagnostic" and first[1][1]["condition"] == 17


def test_one_record_may_exceed_the_preferred_size(demo_store: RecordStore) -> None:
    """As YAZ's server does: a record over the preferred size (not the exceptional) is
    sent when it is the only one asked for, and is diagnostic 16 among several."""
    session = opened(demo_store, preferred=4096, exceptional=1 << 20)
    answer(session, search(KIEU))
    session.preferred_message_size = 600
    _, alone, _ = answer(session, present(1, 1, syntax=XML))
    assert alone["records"][1][0]["record"][0] == "retrievalRecord"
    _, several, _ = answer(session, present(1, 3, syntax=XML))
    first = several["records"][1][0]["record"]
    assert first[0] == "surrogateDiagnostic" and first[1][1]["condition"] == 16


# -- Scan, Sort, Delete ---------------------------------------------------------------------


def test_scan_lists_headings_with_counts_around_the_term(demo_store: RecordStore) -> None:
    """Titles from "truyen" (diacritics ignored) with counts; the position is reported."""
    session = opened(demo_store)
    _, value, _ = answer(session, scan(4, "truyen", count=5, position=1))
    entries = value["entries"]["entries"]
    assert value["scanStatus"] == 0 and value["numberOfEntriesReturned"] == len(entries) == 5
    first = entries[0][1]
    assert first["term"] == ("general", "Truyện Kiều".encode()) and first["globalOccurrences"] >= 10
    assert value["positionOfTerm"] == 1
    _, value, _ = answer(session, scan(4, "truyen", count=5, position=3))
    assert value["positionOfTerm"] == 3
    assert value["entries"]["entries"][2][1]["term"][1] == "Truyện Kiều".encode()
    _, value, _ = answer(session, scan(4, "zzzzzz", count=5))
    assert value["scanStatus"] == 5 and value["numberOfEntriesReturned"] == 0  # list's end
    _, value, _ = answer(session, scan(4, "truyen", count=1000, position=500))
    assert value["numberOfEntriesReturned"] <= 200 and value["scanStatus"] in (0, 5)


def test_marc8_sessions_get_marc8_scan_terms_and_holdings(demo_store: RecordStore) -> None:
    """Text outside the records is in the session's set too: MARC-8, not "?" for "ệ"."""
    from crosswalks.marc8 import encode_marc8

    session = opened(demo_store, charset="MARC-8")
    _, value, _ = answer(session, scan(4, "truyen", count=1))
    assert value["entries"]["entries"][0][1]["term"][1] == encode_marc8("Truyện Kiều")
    answer(session, search(term(4, "truyen kieu")))
    _, value, _ = answer(session, present(1, 1, syntax=OPAC))
    opac = decode_value("OPACRecord", value["records"][1][0]["record"][1]["encoding"][1])
    location = opac["holdingsData"][0][1]["localLocation"].encode("latin-1")
    assert location == encode_marc8("Thư viện tỉnh Đắk Lắk")
    _, value, _ = answer(session, search(term(1003, "Lê Bùi Ngô")))  # UTF-8 typed: read so
    assert value["searchStatus"] is True


@pytest.mark.parametrize(
    "apdu, code", [(scan(4, "a", step=2), 205), (scan(4, "a", position=9, count=5), 233),
                   (scan(9999, "a"), 114), (scan(4, "a", databases=("x",)), 235)],
)  # fmt: skip
def test_scan_diagnostics(demo_store: RecordStore, apdu: Apdu, code: int) -> None:
    """Step sizes, impossible positions, unknown indexes and databases: diagnostics."""
    _, value, _ = answer(opened(demo_store), apdu)
    assert value["scanStatus"] == 6
    assert value["entries"]["nonsurrogateDiagnostics"][0][1]["condition"] == code


def test_sort_by_date_descending_into_a_new_set(demo_store: RecordStore) -> None:
    """Sorting keeps the input set and makes a new one in the asked order."""
    session = opened(demo_store)
    answer(session, search(KIEU, name="kieu"))
    _, value, _ = answer(session, sort("kieu", "newest", (31, 1)))
    assert value["sortStatus"] == 0 and value["resultCount"] > 1
    newest = marc_records(answer(session, present(1, 10, name="newest"))[1])
    years = [record["264"]["c"] for record in newest]
    assert years == sorted(years, reverse=True) and len(years) == 10
    _, value, _ = answer(session, sort("kieu", "oldest", (31, 0)))
    oldest = marc_records(answer(session, present(1, 10, name="oldest"))[1])
    assert [record["264"]["c"] for record in oldest] == sorted(r["264"]["c"] for r in oldest)
    _, value, _ = answer(session, sort("none", "x", (4, 0)))
    assert value["sortStatus"] == 2 and value["diagnostics"][0][1]["condition"] == 30


def test_delete_result_sets(demo_store: RecordStore) -> None:
    """Deleting listed sets reports each; deleting all empties the session's sets."""
    session = opened(demo_store)
    answer(session, search(KIEU, name="a"))
    answer(session, search(KIEU, name="b"))
    _, value, _ = answer(session, delete("a", "zz"))
    assert value["deleteOperationStatus"] == 9
    assert [entry["status"] for entry in value["deleteListStatuses"]] == [0, 1]
    assert list(session.result_sets) == ["b"]
    _, value, _ = answer(session, delete())
    assert value["deleteOperationStatus"] == 0 and not session.result_sets


def test_store_failures_are_temporary_errors(
    demo_store: RecordStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected store error fails that operation with diagnostic 2 (logged, never an
    exception); the session and its result sets stay usable once the store is back."""
    session = opened(demo_store)
    answer(session, search(KIEU, name="kept"))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    session.store = type("Broken", (), {"search": broken, "scan": broken})()  # type: ignore[assignment]
    for apdu, response in [(search(KIEU), "searchResponse"), (present(11, 1, name="kept"),
                           "presentResponse"), (scan(4, "a"), "scanResponse")]:  # fmt: skip
        name, value, close = answer(session, apdu)
        assert name == response and not close
    assert diagnostic(answer(session, search(KIEU))[1]["records"]) == (2, "try again")
    assert "disk on fire" in caplog.text
    session.store = demo_store
    assert answer(session, present(1, 1, name="kept"))[1]["numberOfRecordsReturned"] == 1


def test_replace_off_keeps_the_existing_set(demo_store: RecordStore) -> None:
    """A search refused with 21 (set exists, replace off) leaves that set as it was."""
    session = opened(demo_store)
    total = answer(session, search(KIEU, name="keep"))[1]["resultCount"]
    _, value, _ = answer(session, search(term(4, "zzz"), name="keep", replace=False))
    assert diagnostic(value["records"])[0] == 21
    _, value, _ = answer(session, present(total, 1, name="keep"))
    assert value["numberOfRecordsReturned"] == 1


def test_positions_and_statuses_follow_yaz(demo_store: RecordStore) -> None:
    """nextResultSetPosition is 0 past the end and for no hits; a small set bigger than
    max_present comes partially (partial-4); additionalRanges is 243; a failed sort into
    a new name reports resultSetStatus none."""
    session = opened(demo_store, TargetSettings(max_present=3))
    _, none, _ = answer(session, search(term(4, "zzzzqqq")))
    assert none["resultCount"] == 0 and none["nextResultSetPosition"] == 0
    _, small, _ = answer(session, search(KIEU, small=100, large=101))
    assert small["numberOfRecordsReturned"] == 3 and small["presentStatus"] == 4
    total = small["resultCount"]
    _, last, _ = answer(session, present(total, 1))
    assert last["nextResultSetPosition"] == 0
    apdu = present(1, 1)
    apdu[1]["additionalRanges"] = [{"startingPosition": 2, "numberOfRecords": 1}]
    assert diagnostic(answer(session, apdu)[1]["records"])[0] == 243
    _, value, _ = answer(session, sort("default", "new", (4, 5)))
    assert value["sortStatus"] == 2 and value["resultSetStatus"] == 4


def test_a_proposal_of_other_sets_is_answered_none(demo_store: RecordStore) -> None:
    """A client proposing only sets the target cannot serve is told "none" (and gets
    UTF-8 records, as without negotiation), never a set it did not offer."""
    session = Session(demo_store, SETTINGS)
    _, value, _ = answer(session, init(charset="ISO-8859-1"))
    information = value["otherInfo"][0]["information"][1]
    kind, response = decode_value("CharSetandLanguageNegotiation", information["encoding"][1])
    assert response["selectedCharSets"] == ("none", None)
    assert response["recordsInSelectedCharSets"] is False


def test_result_set_names_in_any_charset_stay_distinct(demo_store: RecordStore) -> None:
    """Names are kept as sent: two Latin-1 names that UTF-8 cannot read do not collide."""
    session = opened(demo_store)
    for name in ("\xe1a", "\xe2a"):
        apdu = search(KIEU)
        apdu[1]["resultSetName"] = name
        answer(session, apdu)
    assert {"\xe1a", "\xe2a"} <= set(session.result_sets)


def test_cached_records_follow_every_change(sqlite_store: RecordStore) -> None:
    """A copy lent within the same second as the last change still shows as lent: cached
    renderings are keyed by the record's version, not its (one-second) datestamp."""
    import dataclasses

    from gateway.record import Item
    from tests.records import make_record

    record = make_record("k1", "Truyện Kiều")
    shelf = dataclasses.replace(record, items=(Item("lib-a", "B1", status="available"),))
    lent = dataclasses.replace(record, items=(Item("lib-a", "B1", status="on loan"),))
    session = opened(sqlite_store, TargetSettings(databases={"default": None}))
    availability = []
    for version in (shelf, lent):
        sqlite_store.upsert([version])
        answer(session, search(term(4, "truyen kieu")))
        _, value, _ = answer(session, present(1, 1, syntax=OPAC))
        opac = decode_value("OPACRecord", value["records"][1][0]["record"][1]["encoding"][1])
        availability.append(opac["holdingsData"][0][1]["circulationData"][0]["availableNow"])
    assert availability == [True, False]
