"""The SQL source against real databases: Koha's tables in MariaDB, a school's in PostgreSQL.

Every test makes its own database (MariaDB) or schema (PostgreSQL) with a random name and
drops it afterwards, so these tests run beside other helpers' tests on the same servers.
"""

from __future__ import annotations

import secrets
import socket
import textwrap
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from pymarc import MARCReader, Record
from sqlalchemy import text

from adapters import sql
from adapters.interface import (
    Complete,
    Deletion,
    Event,
    Mark,
    Problem,
    SourceError,
    SourceSettings,
    Upsert,
)
from adapters.records import resolve
from adapters.sql import SqlSource
from adapters.sqlmapping import MappingError, load_mapping
from crosswalks import legacy
from gateway.config import Config
from gateway.store import RecordStore
from gateway.sync.engine import sync_source

from .conftest import VIE_121
from .koha_schema import MARIADB, KohaDatabase, koha_database
from .sync_helpers import write_config

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LIBRARY = "dlk-tinh"
#: Initial Koha rows are saved ten minutes apart, long ago, so an overlap of 300 s re-reads
#: only the newest of them.
START = datetime(2025, 3, 1, 8, 0, 0)


def _changes(source: SqlSource, checkpoint: str | None, *, overlap_seconds: int) -> list[Event]:
    """The source's events as the engine reads them (MARCXML columns decoded)."""
    return list(resolve(source.changes(checkpoint, overlap_seconds=overlap_seconds),
                        source.legacy))  # fmt: skip


def _records(count: int | None = None) -> list[Record]:
    with VIE_121.open("rb") as handle:
        records = [r for r in MARCReader(handle, to_unicode=True, force_utf8=True) if r]
    return records[:count] if count else records


def _source(url: str, mapping: str | Path, **options: Any) -> sql.SqlSource:
    mode = options.pop("legacy", "auto")
    settings = SourceSettings(name="test", library=LIBRARY, kind="sql",
                              options={"url": url, "mapping": str(mapping), **options},
                              legacy=mode)  # fmt: skip
    return sql.open_source(settings)


def _split(events: list[Event]) -> tuple[dict[str, Upsert], list[str], list[Problem], list[Mark]]:
    upserts = {e.local_id: e for e in events if isinstance(e, Upsert)}
    deletions = [e.local_id for e in events if isinstance(e, Deletion)]
    problems = [e for e in events if isinstance(e, Problem)]
    marks = [e for e in events if isinstance(e, Mark)]
    return upserts, deletions, problems, marks


def _title(record: Record) -> str:
    return " ".join(record["245"].get_subfields("a"))


@pytest.fixture
def koha() -> Iterator[KohaDatabase]:
    """A fresh Koha database holding the 121 Vietnamese LoC records, ten minutes apart,
    the first ten with one copy each."""
    with koha_database() as db:
        for i, record in enumerate(_records()):
            number = db.add_biblio(record, when=START + timedelta(minutes=10 * i))
            if i < 10:
                db.add_item(number, f"DLK{number:05d}", when=START + timedelta(minutes=10 * i),
                            callnumber=f"895.92 {number}")  # fmt: skip
        yield db


# -- Koha ------------------------------------------------------------------------------


def test_koha_full_read_gives_every_record_with_its_items(koha: KohaDatabase) -> None:
    """A first sync reads every biblio_metadata record as it is (title, 999$c), with the
    copies from items, then lists every id (Complete) and ends with a Mark."""
    source = _source(koha.url, "koha")
    events = _changes(source, None, overlap_seconds=300)
    upserts, deletions, problems, marks = _split(events)
    originals = _records()
    assert len(upserts) == 121 and not deletions and not problems
    assert isinstance(events[-1], Mark) and isinstance(events[-2], Complete)
    assert events[-2].ids == frozenset(str(n) for n in range(1, 122))
    first = upserts["1"]
    assert _title(first.record) == unicodedata.normalize("NFC", _title(originals[0]))
    assert first.record["999"]["c"] == "1"
    assert first.items is not None and len(first.items) == 1
    item = first.items[0]
    assert (item.library, item.barcode, item.location, item.call_number, item.status) == (
        LIBRARY, "DLK00001", "CPL", "895.92 1", "available")  # fmt: skip
    assert upserts["50"].items == ()
    assert first.changed == START
    source.close()


def test_koha_incremental_read_gives_exactly_what_changed(koha: KohaDatabase) -> None:
    """After edits, deletions, a loan, a removed copy and a new record, the next sync
    yields exactly those records and the deletions, plus the records of the newest old
    biblio_metadata row (121) and the newest old copy (10), which are inside the overlap; a
    third sync with nothing changed yields nothing new."""
    source = _source(koha.url, "koha")
    checkpoint = _changes(source, None, overlap_seconds=300)[-1].checkpoint
    originals = _records()
    for number in (3, 40, 77):
        record = originals[number - 1]
        record["245"]["a"] = f"Sửa lần {number}"
        koha.save_biblio(number, record)
    koha.delete_biblio(5)  # had a copy: the copy goes to deleteditems too
    koha.delete_biblio(90)
    koha.check_out("DLK00007", "2026-12-31")
    koha.delete_item("DLK00008")
    added = koha.add_biblio(originals[0], when=datetime.now())
    events = _changes(source, checkpoint, overlap_seconds=300)
    upserts, deletions, problems, marks = _split(events)
    assert set(upserts) == {"3", "40", "77", "7", "8", str(added), "121", "10"}
    assert sorted(deletions) == ["5", "90"]
    assert not problems and len(marks) == 1 and isinstance(events[-1], Mark)
    assert not any(isinstance(e, Complete) for e in events)
    assert _title(upserts["40"].record) == "Sửa lần 40"
    assert [i.status for i in upserts["7"].items or ()] == ["on loan"]
    assert upserts["8"].items == ()
    # Nothing changed since: only what shares the newest change second comes again.
    again = _changes(source, events[-1].checkpoint, overlap_seconds=0)
    repeated, gone, _, _ = _split(again)
    assert set(repeated) <= set(upserts) and set(gone) <= {"5", "90"}
    source.close()


def test_koha_marks_let_a_broken_sync_resume(koha: KohaDatabase, monkeypatch) -> None:
    """Rows come in timestamp order, so Marks appear along the way; resuming from one of
    them reads only what comes after it (and the overlap)."""
    monkeypatch.setattr(sql, "MARK_EVERY", 30)
    monkeypatch.setattr(sql, "BATCH_ROWS", 10)
    source = _source(koha.url, "koha")
    events = _changes(source, None, overlap_seconds=0)
    marks = [i for i, e in enumerate(events) if isinstance(e, Mark)]
    assert len(marks) == 5  # after 30, 60, 90, 120 rows, and the last
    seen_before = {e.local_id for e in events[: marks[1]] if isinstance(e, Upsert)}
    assert len(seen_before) == 60
    resumed, _, _, _ = _split(_changes(source, events[marks[1]].checkpoint, overlap_seconds=0))
    # 60 again (">=" its time), and 10, whose copy is the newest one (">=" its time too).
    assert set(resumed) == {str(n) for n in range(60, 122)} | {"10"}
    source.close()


def test_koha_garbage_marcxml_is_a_problem_and_the_sync_goes_on(koha: KohaDatabase) -> None:
    """A biblio_metadata row that is not MARCXML becomes a Problem naming the
    biblionumber; every other record still comes, and the id is still listed (so a
    reconciliation does not delete what is stored for it)."""
    koha.set_metadata(42, "<record><datafield tag='245'>broken", when=START)
    koha.set_metadata(43, "<html><body>not a record</body></html>", when=START)
    source = _source(koha.url, "koha")
    events = _changes(source, None, overlap_seconds=300)
    upserts, _, problems, _ = _split(events)
    assert len(upserts) == 119
    assert [p.where for p in problems] == ["biblionumber 42", "biblionumber 43"]
    assert "not well-formed" in problems[0].reason and "not a MARCXML record" in problems[1].reason
    listing = next(e for e in events if isinstance(e, Complete))
    assert {"42", "43"} <= listing.ids
    source.close()


def test_koha_sample_and_current_ids(koha: KohaDatabase) -> None:
    """sources test shows the server, the counts and the first records; current_ids lists
    every biblionumber."""
    koha.delete_biblio(121)
    source = _source(koha.url, "koha")
    sample = source.sample(3)
    assert sample.summary.startswith("MariaDB 10.")
    assert "120 records, 1 deleted records, 10 items" in sample.summary
    assert "koha_test_" in sample.summary and not sample.problems
    assert [u.local_id for u in sample.records] == ["1", "2", "3"]
    assert sorted(source.current_ids() or [], key=int) == [str(n) for n in range(1, 121)]
    source.close()


def test_koha_sync_into_the_store(koha: KohaDatabase, tmp_path: Path, sqlite_store: RecordStore):
    """Through the sync engine: the store mirrors the Koha database after a full and an
    incremental sync, with tombstones for the deleted records and the changed copies."""
    config: Config = write_config(tmp_path, [{"name": "koha", "library": LIBRARY, "kind": "sql",
                                              "url": koha.url, "mapping": "koha"}])  # fmt: skip
    first = sync_source(sqlite_store, config, "koha")
    assert first.ok, first.error
    assert len(list(sqlite_store.local_ids(LIBRARY))) == 121
    koha.delete_biblio(2)
    koha.check_out("DLK00004", "2026-12-31")
    record = _records()[9]
    record["245"]["a"] = "Truyện Kiều"
    koha.save_biblio(10, record)
    second = sync_source(sqlite_store, config, "koha")
    assert second.ok, second.error
    assert second.written.deleted == 1 and second.written.updated == 2
    stored = sqlite_store.get(LIBRARY, "2")
    assert stored is not None and stored.deleted
    loaned = sqlite_store.get(LIBRARY, "4")
    assert loaned is not None and [i.status for i in loaned.items] == ["on loan"]
    edited = sqlite_store.get(LIBRARY, "10")
    assert edited is not None and edited.marc is not None and _title(edited.marc) == "Truyện Kiều"
    assert len(list(sqlite_store.local_ids(LIBRARY))) == 120


# -- faults ----------------------------------------------------------------------------


@pytest.fixture
def mariadb_user(koha: KohaDatabase) -> Iterator[tuple[str, str]]:
    """A MariaDB user with a password that may read the Koha database (dropped after)."""
    user, password = f"lt_{secrets.token_hex(4)}", f"Pw-{secrets.token_hex(8)}"
    server = sqlalchemy.create_engine(MARIADB, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
        conn.execute(text(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}'"))
        conn.execute(text(f"GRANT SELECT ON `{koha.name}`.* TO '{user}'@'%'"))
        conn.execute(text(f"GRANT SELECT ON `{koha.name}`.* TO '{user}'@'localhost'"))
    try:
        yield user, password
    finally:
        with server.connect() as conn:
            conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
            conn.execute(text(f"DROP USER IF EXISTS '{user}'@'localhost'"))
        server.dispose()


def test_the_password_comes_from_the_environment_and_never_into_messages(
    koha: KohaDatabase, mariadb_user: tuple[str, str], monkeypatch
) -> None:
    """With the right password (from password_env) the database is read; a wrong one is
    a non-retryable SourceError that says so and shows neither password; a missing
    variable is named."""
    user, password = mariadb_user
    url = f"mysql+pymysql://{user}@127.0.0.1:3306/{koha.name}"
    monkeypatch.setenv("LT_TEST_DB_PASSWORD", password)
    good = _source(url, "koha", password_env="LT_TEST_DB_PASSWORD")
    assert len(list(good.current_ids() or [])) == 121
    assert password not in good.sample(1).summary and "***" in good.sample(1).summary
    good.close()
    monkeypatch.setenv("LT_TEST_DB_PASSWORD", "wrong-" + password)
    bad = _source(url, "koha", password_env="LT_TEST_DB_PASSWORD")
    with pytest.raises(SourceError) as refused:
        _changes(bad, None, overlap_seconds=300)
    message = str(refused.value)
    assert not refused.value.retryable
    assert f"refused user '{user}'" in message and "wrong user name or password" in message
    assert password not in message and "wrong-" not in message
    monkeypatch.delenv("LT_TEST_DB_PASSWORD")
    with pytest.raises(SourceError, match="LT_TEST_DB_PASSWORD .* is not set") as unset:
        _source(url, "koha", password_env="LT_TEST_DB_PASSWORD")
    assert not unset.value.retryable


def test_an_unknown_user_or_database_is_not_retryable() -> None:
    """A user the server does not know, and a database it does not have, are
    configuration problems: retrying cannot help."""
    nobody = _source(f"mysql+pymysql://nobody_{secrets.token_hex(3)}@127.0.0.1:3306/test", "koha")
    with pytest.raises(SourceError, match="refused user") as refused:
        nobody.sample()
    assert not refused.value.retryable
    missing = f"koha_missing_{secrets.token_hex(3)}"
    for url in (f"mysql+pymysql://root@127.0.0.1:3306/{missing}",
                f"postgresql+psycopg://postgres@127.0.0.1:5432/{missing}"):  # fmt: skip
        with pytest.raises(SourceError, match=f"has no database '{missing}'") as absent:
            _changes(_source(url, "koha"), None, overlap_seconds=0)
        assert not absent.value.retryable


def test_a_database_that_is_down_is_retryable() -> None:
    """Nothing listening on the port: a retryable SourceError naming host and port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for url in (f"mysql+pymysql://root@127.0.0.1:{port}/koha",
                f"postgresql+psycopg://postgres@127.0.0.1:{port}/koha"):  # fmt: skip
        source = _source(url, "koha", timeout_seconds=5)
        reach = f"cannot reach the database server at 127.0.0.1:{port}"
        with pytest.raises(SourceError, match=reach) as down:
            _changes(source, None, overlap_seconds=0)
        assert down.value.retryable


def test_a_query_slower_than_timeout_seconds_is_retryable(tmp_path: Path) -> None:
    """A statement running past timeout_seconds is stopped (PostgreSQL statement_timeout,
    the MariaDB driver's read timeout) and reported as a retryable timeout."""
    cases = [
        (POSTGRES, "SELECT 1 AS id, 'x' AS title FROM pg_sleep(4)"),
        ("mysql+pymysql://root@127.0.0.1:3306/test", "SELECT 1 AS id, 'x' AS title, SLEEP(4) AS s"),
    ]
    for url, query in cases:
        mapping = _write(
            tmp_path,
            f"""
            records:
              query: {query}
              id: id
              fields: {{"245$a": title}}
        """,
        )
        source = _source(url, mapping, timeout_seconds=1)
        with pytest.raises(SourceError, match=r"took longer than timeout_seconds \(1 s\)") as slow:
            _changes(source, None, overlap_seconds=0)
        assert slow.value.retryable
        source.close()


def _write(folder: Path, body: str) -> Path:
    path = folder / f"mapping-{secrets.token_hex(3)}.yaml"
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


def test_a_mapping_naming_a_missing_column_says_which_and_what_exists(
    koha: KohaDatabase, tmp_path: Path
) -> None:
    """A misspelt column is a non-retryable SourceError naming the file, line and key, and
    listing the columns the query returns; sample() lists it as a problem instead."""
    mapping = _write(
        tmp_path,
        """
        records:
          query: SELECT biblionumber, metadata, timestamp FROM biblio_metadata
          id: biblionumber
          changed: timestamp
          marcxml: metadta
    """,
    )
    source = _source(koha.url, mapping)
    with pytest.raises(SourceError) as missing:
        _changes(source, None, overlap_seconds=0)
    assert not missing.value.retryable
    assert str(missing.value) == (
        f"mapping {mapping} line 5: records.marcxml names column 'metadta', which "
        "records.query does not return; it returns: biblionumber, metadata, timestamp"
    )
    sample = source.sample()
    assert sample.problems == (str(missing.value),) and sample.records == ()


def test_a_query_the_database_rejects_names_the_mapping_key(
    koha: KohaDatabase, tmp_path: Path
) -> None:
    """A query with an SQL error, or a table that does not exist, is reported with the
    mapping file, the line of the query and the database's own words."""
    mapping = _write(
        tmp_path,
        """
        records:
          id: biblionumber
          query: SELECT biblionumber, FROM biblio_metadata
          marcxml: metadata
        items:
          query: SELECT biblionumber, barcode FROM itemz
          record: biblionumber
    """,
    )
    source = _source(koha.url, mapping)
    with pytest.raises(SourceError) as rejected:
        _changes(source, None, overlap_seconds=0)
    message = str(rejected.value)
    assert message.startswith(f"mapping {mapping} line 3: records.query fails in the database")
    assert "SQL syntax" in message and not rejected.value.retryable
    problems = source.sample().problems
    assert len(problems) == 2 and "line 6: items.query fails" in problems[1]
    assert "itemz" in problems[1]


def test_mapping_files_are_checked_with_lines_and_keys(tmp_path: Path) -> None:
    """Every problem of a mapping file is reported at once, with line and key."""
    mapping = _write(
        tmp_path,
        """
        records:
          query: DELETE FROM books
          id: id
          marcxml: xml
          fields:
            "24$a": title
          extra: 1
        deletions:
          query: SELECT id FROM gone WHERE at >= :since
          id: id
        items:
          record: book
    """,
    )
    with pytest.raises(MappingError) as bad:
        load_mapping(mapping)
    assert bad.value.problems == [
        f"mapping {mapping}:7: records.extra: unknown key; known: query, id, changed, ordered, "
        "marcxml, fields, dc, indicators, leader, entered, country",
        f"mapping {mapping}:2: records.query: expected a SELECT statement (read-only)",
        f"mapping {mapping}:2: records: give exactly one of 'marcxml' (a column holding MARCXML), "
        "'fields' (columns to MARC fields) or 'dc' (columns to Dublin Core elements); found: "
        "marcxml, fields",
        f"mapping {mapping}:6: records.fields.24$a: expected a MARC field and subfield such as "
        '"245$a" (or a control field such as "008")',
        f"mapping {mapping}:9: deletions.changed: required key is missing",
        f"mapping {mapping}:9: deletions.query: leave out ':since': lienthong adds the "
        "condition on the 'changed' column itself",
        f"mapping {mapping}:12: items.query: required key is missing",
    ]
    with pytest.raises(SourceError, match="file not found") as absent:
        _source(POSTGRES, tmp_path / "nope.yaml")
    assert not absent.value.retryable


# -- a school database on PostgreSQL -------------------------------------------------


@pytest.fixture
def school() -> Iterator[tuple[sqlalchemy.Engine, str]]:
    """A schema school_<random> with a books table (Vietnamese titles, one decomposed, one
    in TCVN3 bytes, one as TCVN3 mojibake) and a copies table; dropped afterwards."""
    schema = f"school_{secrets.token_hex(4)}"
    engine = sqlalchemy.create_engine(POSTGRES)
    old = legacy.encode("Những nguyên tắc cơ bản", legacy.LegacyEncoding.TCVN3)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        conn.execute(
            text(f"""CREATE TABLE {schema}.books (
            ma_sach serial PRIMARY KEY, ten_sach text, ten_cu bytea, tac_gia text,
            nha_xuat_ban text, nam_xuat_ban integer, isbn text, chu_de text,
            ngay_nhap date NOT NULL DEFAULT DATE '2024-09-05', phien_ban bigint NOT NULL,
            cap_nhat timestamptz NOT NULL)""")
        )
        conn.execute(
            text(f"""CREATE TABLE {schema}.copies (
            ma_sach integer, so_dang_ky text, ke text, tinh_trang text)""")
        )
        rows = [
            ("Truyện Kiều", None, "Nguyễn Du", "Văn học", 2015, "9786049690525",
             "Thơ ca; Văn học cổ điển"),
            (unicodedata.normalize("NFD", "Dế mèn phiêu lưu ký"), None, "Tô Hoài", "Kim Đồng",
             2020, None, "Truyện thiếu nhi"),
            (None, old, "Lê Văn Thịnh", "Giáo dục", 1995, None, None),
            (old.decode("cp1252"), None, None, None, None, None, None),
            ("Số đỏ", None, "Vũ Trọng Phụng", "Văn học", 2016, None, None),
        ]  # fmt: skip
        for i, (title, title_old, author, publisher, year, isbn, subjects) in enumerate(rows):
            conn.execute(
                text(f"INSERT INTO {schema}.books (ten_sach, ten_cu, tac_gia, nha_xuat_ban, "
                     "nam_xuat_ban, isbn, chu_de, phien_ban, cap_nhat) VALUES (:t, :o, :a, :p, "
                     ":y, :i, :s, :v, :c)"),
                {"t": title, "o": title_old, "a": author, "p": publisher, "y": year, "i": isbn,
                 "s": subjects, "v": 100 + i,
                 "c": datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=i)},
            )  # fmt: skip
        conn.execute(
            text(
                f"INSERT INTO {schema}.copies VALUES (1, 'HS-0001', 'Kệ A', NULL), "
                "(1, 'HS-0002', 'Kệ A', 'đang mượn'), (5, 'HS-0003', NULL, NULL)"
            )
        )
    try:
        yield engine, schema
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def _fields_mapping(folder: Path, schema: str, changed: str = "cap_nhat") -> Path:
    return _write(
        folder,
        f"""
        description: Thư viện trường THPT Nguyễn Du
        records:
          query: SELECT ma_sach, COALESCE(ten_sach, '') AS ten_sach, ten_cu, tac_gia,
            nha_xuat_ban, nam_xuat_ban, isbn, chu_de, phien_ban, cap_nhat FROM {schema}.books
          id: ma_sach
          changed: {changed}
          fields:
            "245$a": [ten_sach, ten_cu]
            "100$a": tac_gia
            "260$b": nha_xuat_ban
            "260$c": nam_xuat_ban
            "020$a": isbn
            "650$a": {{column: chu_de, split: ";"}}
          indicators: {{"650": " 4"}}
        items:
          query: SELECT ma_sach, so_dang_ky, ke, COALESCE(tinh_trang, 'available') AS tinh_trang
            FROM {schema}.copies
          record: ma_sach
          barcode: so_dang_ky
          location: ke
          status: tinh_trang
    """,
    )


def test_school_columns_become_marc_fields_in_nfc(school, tmp_path: Path) -> None:
    """Columns mapped to MARC fields build records in NFC: a decomposed title is
    composed, TCVN3 bytes and TCVN3 mojibake become Vietnamese, split subjects become
    one 650 each, copies come from the second query."""
    engine, schema = school
    source = _source(POSTGRES, _fields_mapping(tmp_path, schema))
    upserts, _, problems, _ = _split(_changes(source, None, overlap_seconds=300))
    assert sorted(upserts) == ["1", "2", "3", "4", "5"] and not problems
    kieu = upserts["1"].record
    assert kieu["001"].data == "1"
    assert str(kieu["245"]) == "=245  10$aTruyện Kiều"
    assert kieu["260"].get_subfields("b", "c") == ["Văn học", "2015"]
    assert [f["a"] for f in kieu.get_fields("650")] == ["Thơ ca", "Văn học cổ điển"]
    assert tuple(kieu["650"].indicators) == (" ", "4") and kieu["020"]["a"] == "9786049690525"
    assert [(i.barcode, i.location, i.status) for i in upserts["1"].items or ()] == [
        ("HS-0001", "Kệ A", "available"), ("HS-0002", "Kệ A", "đang mượn")]  # fmt: skip
    assert upserts["2"].items == () and upserts["5"].items[0].location == ""  # type: ignore[index]
    assert _title(upserts["2"].record) == unicodedata.normalize("NFC", "Dế mèn phiêu lưu ký")
    assert _title(upserts["3"].record) == "Những nguyên tắc cơ bản"
    assert _title(upserts["4"].record) == "Những nguyên tắc cơ bản"
    untitled = upserts["4"].record  # no author: 245 is the main entry (first indicator 0)
    assert untitled.get("100") is None and untitled["245"].indicators[0] == "0"
    sample = source.sample(2)
    assert sample.summary.startswith("PostgreSQL 15.")
    assert "Thư viện trường THPT Nguyễn Du" in sample.summary and "5 records" in sample.summary
    source.close()


def test_school_incremental_by_timestamp_and_by_rowversion(school, tmp_path: Path) -> None:
    """A timestamptz column and an integer rowversion both give incremental reads (the
    newest row, 5, comes again: ">=" the checkpoint); a deleted row is missing from
    current_ids (reconciliation turns it into a tombstone)."""
    engine, schema = school
    by_time = _source(POSTGRES, _fields_mapping(tmp_path, schema))
    by_version = _source(POSTGRES, _fields_mapping(tmp_path, schema, changed="phien_ban"))
    time_mark = _changes(by_time, None, overlap_seconds=300)[-1].checkpoint
    version_mark = _changes(by_version, None, overlap_seconds=300)[-1].checkpoint
    assert '"type":"int","value":104' in version_mark
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {schema}.books SET ten_sach = 'Truyện Kiều (tái bản)', "
                          "phien_ban = 105, cap_nhat = now() WHERE ma_sach = 1"))  # fmt: skip
        conn.execute(text(f"DELETE FROM {schema}.books WHERE ma_sach = 2"))
    changed, _, _, _ = _split(_changes(by_time, time_mark, overlap_seconds=300))
    assert sorted(changed) == ["1", "5"]
    assert _title(changed["1"].record) == "Truyện Kiều (tái bản)"
    changed, _, _, _ = _split(_changes(by_version, version_mark, overlap_seconds=300))
    assert sorted(changed) == ["1", "5"]
    assert sorted(by_time.current_ids() or []) == ["1", "3", "4", "5"]
    for source in (by_time, by_version):
        source.close()


def test_school_without_a_change_column_reads_everything_each_time(school, tmp_path) -> None:
    """No 'changed': every sync is a full read ending with the complete list of ids.
    (The query's PostgreSQL cast and a literal with a colon are left alone.)"""
    engine, schema = school
    mapping = _write(
        tmp_path,
        f"""
        records:
          query: SELECT ma_sach, ten_sach::text AS ten_sach, '10:30' AS gio FROM {schema}.books
            WHERE ten_sach IS NOT NULL
          id: ma_sach
          fields: {{"245$a": ten_sach}}
    """,
    )
    source = _source(POSTGRES, mapping)
    first = _changes(source, None, overlap_seconds=300)
    second = _changes(source, first[-1].checkpoint, overlap_seconds=300)
    for events in (first, second):
        listing = next(e for e in events if isinstance(e, Complete))
        assert listing.ids == frozenset({"1", "2", "4", "5"})
        assert len(_split(events)[0]) == 4
    source.close()


def test_school_dublin_core_columns_are_crosswalked(school, tmp_path: Path) -> None:
    """DC-mapped columns go through dc_to_marc: title, creator, publisher, date,
    identifier; 008 carries the 'entered' date; a row without a title is a Problem."""
    engine, schema = school
    mapping = _write(
        tmp_path,
        f"""
        records:
          query: SELECT ma_sach, ten_sach, tac_gia, nha_xuat_ban, nam_xuat_ban, isbn,
            chu_de, ngay_nhap, cap_nhat FROM {schema}.books
          id: ma_sach
          changed: cap_nhat
          dc:
            title: ten_sach
            creator: tac_gia
            publisher: nha_xuat_ban
            date: nam_xuat_ban
            identifier: isbn
            subject: {{column: chu_de, split: ";"}}
          entered: ngay_nhap
          country: vm
    """,
    )
    source = _source(POSTGRES, mapping)
    upserts, _, problems, _ = _split(_changes(source, None, overlap_seconds=300))
    assert [p.where for p in problems] == ["ma_sach 3"] and "title" in problems[0].reason
    kieu = upserts["1"].record
    assert kieu["001"].data == "1" and kieu["008"].data.startswith("240905s2015    vm ")
    assert _title(kieu) == "Truyện Kiều" and kieu["100"]["a"] == "Nguyễn Du"
    assert kieu["020"]["a"] == "9786049690525"
    subjects = sorted(f["a"] for f in kieu.get_fields("650", "653"))
    assert subjects == ["Thơ ca", "Văn học cổ điển"]
    assert _title(upserts["4"].record) == "Những nguyên tắc cơ bản"
    source.close()


def test_legacy_off_leaves_legacy_text_as_it_is(school, tmp_path: Path) -> None:
    """With the library's legacy_vietnamese set to off, neither TCVN3 bytes nor TCVN3
    mojibake are converted (bytes that are not UTF-8 are read as Windows-1252)."""
    engine, schema = school
    source = _source(POSTGRES, _fields_mapping(tmp_path, schema), legacy="off")
    upserts, _, _, _ = _split(_changes(source, None, overlap_seconds=300))
    mojibake = legacy.encode("Những nguyên tắc cơ bản", legacy.LegacyEncoding.TCVN3).decode(
        "cp1252"
    )
    assert _title(upserts["3"].record) == _title(upserts["4"].record) == mojibake
    assert _title(upserts["1"].record) == "Truyện Kiều"
    source.close()


# -- change columns that cannot order changes ---------------------------------------------

_USE = "use a timestamp, date or integer column"


def test_a_text_change_column_is_refused_on_mariadb(koha: KohaDatabase, tmp_path: Path) -> None:
    """A dd/mm/yyyy VARCHAR as records.changed would compare as text and skip changes: the
    column check refuses it (not retryable, naming the file, line and key) before any
    record is read, and sample() lists the same words as a problem."""
    mapping = _write(
        tmp_path,
        """
        records:
          query: SELECT biblionumber, metadata,
            DATE_FORMAT(timestamp, '%d/%m/%Y') AS ngay_sua FROM biblio_metadata
          id: biblionumber
          changed: ngay_sua
          marcxml: metadata
    """,
    )
    source = _source(koha.url, mapping)
    with pytest.raises(SourceError) as refused:
        _changes(source, None, overlap_seconds=300)
    message = str(refused.value)
    assert not refused.value.retryable
    assert message.startswith(
        f"mapping {mapping} line 5: records.changed names column 'ngay_sua', which holds text"
    )
    assert _USE in message
    sample = source.sample()
    assert sample.problems == (message,) and sample.records == ()
    source.close()


def test_a_binary_change_column_is_not_taken_for_text_on_mariadb(
    koha: KohaDatabase, tmp_path: Path
) -> None:
    """MariaDB reports BINARY with the same type code as CHAR: a binary change value (a
    rowversion kept as bytes) is not refused, and the checkpoint keeps it as bytes."""
    mapping = _write(
        tmp_path,
        """
        records:
          query: SELECT biblionumber, metadata,
            CAST(LPAD(HEX(biblionumber), 16, '0') AS BINARY(16)) AS phien_ban
            FROM biblio_metadata
          id: biblionumber
          changed: phien_ban
          marcxml: metadata
    """,
    )
    source = _source(koha.url, mapping)
    events = _changes(source, None, overlap_seconds=300)
    assert len(_split(events)[0]) == 121
    assert '"type":"bytes"' in events[-1].checkpoint  # type: ignore[union-attr]
    source.close()


def test_a_text_deletions_change_column_is_refused_on_postgresql(school, tmp_path: Path) -> None:
    """PostgreSQL: a to_char() date as deletions.changed is refused the same way, naming
    the deletions key."""
    _, schema = school
    mapping = _write(
        tmp_path,
        f"""
        records:
          query: SELECT ma_sach, ten_sach, cap_nhat FROM {schema}.books
          id: ma_sach
          changed: cap_nhat
          fields:
            "245$a": ten_sach
        deletions:
          query: SELECT ma_sach, to_char(cap_nhat, 'DD/MM/YYYY') AS ngay_xoa FROM {schema}.books
          id: ma_sach
          changed: ngay_xoa
    """,
    )
    source = _source(POSTGRES, mapping)
    with pytest.raises(SourceError) as refused:
        _changes(source, None, overlap_seconds=300)
    assert not refused.value.retryable
    assert str(refused.value).startswith(
        f"mapping {mapping} line 10: deletions.changed names column 'ngay_xoa', which holds text"
    )
    assert _USE in str(refused.value)
    assert any("deletions.changed" in p for p in source.sample().problems)
    source.close()


def test_a_text_change_column_is_refused_by_its_values(tmp_path: Path) -> None:
    """SQLite's driver says nothing of column types, so the values tell: the first text
    change value stops the read before any record is given, and sample() lists it."""
    database = tmp_path / "truong.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE sach (ma integer, ten text, ngay_sua text)"))
        conn.execute(text("INSERT INTO sach VALUES (1, 'Truyện Kiều', '31/01/2026'), "
                          "(2, 'Số đỏ', '02/12/2026')"))  # fmt: skip
    engine.dispose()
    mapping = _write(
        tmp_path,
        """
        records:
          query: SELECT ma, ten, ngay_sua FROM sach
          id: ma
          changed: ngay_sua
          fields:
            "245$a": ten
    """,
    )
    source = _source(f"sqlite:///{database}", mapping)
    stream = source.changes(None, overlap_seconds=300)
    with pytest.raises(SourceError) as refused:
        next(stream)
    assert not refused.value.retryable
    assert "records.changed names column 'ngay_sua', which holds text" in str(refused.value)
    assert _USE in str(refused.value)
    sample = source.sample()
    assert sample.records == () and sample.problems == (str(refused.value),)
    source.close()
