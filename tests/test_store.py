"""The record store contract: every store implementation must pass these (fixture ``store``)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.query import (
    AllRecords,
    And,
    AndNot,
    Index,
    Match,
    Or,
    QueryError,
    RecordNumbers,
    Relation,
    SortField,
    SortKey,
    Term,
)
from gateway.record import Item
from gateway.store import RecordStore, open_store

from .records import make_record

# -- writing -----------------------------------------------------------------------------


def test_upsert_stores_record_with_metadata(store: RecordStore) -> None:
    """A new record comes back with its ids, sets, items and a UTC seconds datestamp."""
    record = make_record("A1", "Truyện Kiều", author="Nguyễn Du", year=1995)
    record.items = (Item(library="lib-a", barcode="B001", location="Kho mượn"),)
    summary = store.upsert([record])
    assert (summary.new, summary.updated, summary.unchanged) == (1, 0, 0)
    stored = store.get("lib-a", "A1")
    assert stored is not None
    assert stored.oai_identifier == "oai:test.lienthong.vn:lib-a/A1"
    assert stored.sets == frozenset({"library:lib-a", "type:book"})
    assert stored.items == record.items
    assert stored.marc is not None and stored.marc.title == "Truyện Kiều"
    assert stored.datestamp.tzinfo is not None and stored.datestamp.microsecond == 0
    assert abs(stored.datestamp - datetime.now(UTC)) < timedelta(minutes=1)
    by_oai = store.get_by_oai_identifier(stored.oai_identifier)
    assert by_oai is not None and by_oai.number == stored.number


def test_reimport_is_idempotent_and_keeps_datestamp(store: RecordStore) -> None:
    """The same record twice is one record, unchanged, at the same feed position."""
    records = [make_record(f"R{i}", f"Sách {i}") for i in range(5)]
    store.upsert(records)
    before = [c.position for c in store.changes(limit=100)]
    again = store.upsert([make_record(f"R{i}", f"Sách {i}") for i in range(5)])
    assert (again.new, again.updated, again.unchanged) == (0, 0, 5)
    assert [c.position for c in store.changes(limit=100)] == before
    assert store.count() == 5


def test_duplicate_ids_in_one_batch_make_one_record(store: RecordStore) -> None:
    """Two versions of one id in a batch: one record, the later version wins."""
    summary = store.upsert([make_record("D", "Bản cũ"), make_record("D", "Bản mới")])
    assert summary.new == 1 and summary.updated == 1
    stored = store.get("lib-a", "D")
    assert stored is not None and stored.marc is not None
    assert stored.marc.title == "Bản mới"
    assert store.count() == 1


def test_changed_record_moves_in_the_feed(store: RecordStore) -> None:
    """An update is a new change: it moves after every earlier change."""
    store.upsert([make_record("A", "Một"), make_record("B", "Hai")])
    summary = store.upsert([make_record("A", "Một (sửa)")])
    assert summary.updated == 1
    feed = store.changes(limit=10)
    assert [c.record.local_id for c in feed] == ["B", "A"]
    assert feed[0].position < feed[1].position


def test_delete_makes_a_tombstone(store: RecordStore) -> None:
    """Deleted records stay as tombstones: not searchable, in the feed, counted."""
    store.upsert([make_record("A", "Đắk Lắk"), make_record("B", "Hà Nội")])
    summary = store.delete("lib-a", ["A", "missing"])
    assert summary.deleted == 1
    tomb = store.get("lib-a", "A")
    assert tomb is not None and tomb.deleted and tomb.marc is None
    assert store.search(Term(Index.TITLE, "dak lak")).total == 0
    assert store.count() == 1
    assert [c.deleted for c in store.changes(limit=10)] == [False, True]
    assert store.source_stats()[0].tombstones == 1
    assert store.delete("lib-a", ["A"]).deleted == 0, "deleting a tombstone again changes nothing"


def test_tombstone_revives_on_reimport(store: RecordStore) -> None:
    """A deleted record that comes back is live again, with the same identifier."""
    store.upsert([make_record("A", "Đắk Lắk")])
    store.delete("lib-a", ["A"])
    summary = store.upsert([make_record("A", "Đắk Lắk")])
    assert summary.updated == 1
    revived = store.get("lib-a", "A")
    assert revived is not None and not revived.deleted
    assert store.search(Term(Index.TITLE, "dak lak")).total == 1


def test_same_local_id_in_two_sources_are_two_records(store: RecordStore) -> None:
    """Records are keyed by (source, local id)."""
    store.upsert([make_record("1", "Một", source="lib-a"), make_record("1", "Một", source="lib-b")])
    assert store.count() == 2
    assert sorted(s.source for s in store.source_stats()) == ["lib-a", "lib-b"]
    assert list(store.local_ids("lib-b")) == ["1"]


def test_fetch_keeps_the_order_asked(store: RecordStore) -> None:
    """fetch returns records in the order of the numbers given, skipping unknown ones."""
    store.upsert([make_record(str(i), f"T{i}") for i in range(3)])
    numbers = [c.record.number for c in store.changes(limit=10)]
    asked = [numbers[2], 999999, numbers[0]]
    assert [r.number for r in store.fetch(asked)] == [numbers[2], numbers[0]]


# -- searching ---------------------------------------------------------------------------


@pytest.fixture
def catalogue(store: RecordStore) -> RecordStore:
    """A small catalogue whose every field value is known."""
    store.upsert(
        [
            make_record("1", "Lịch sử Việt Nam", author="Trần Trọng Kim", year=1999,
                        isbn="0-19-852663-6 (pbk.)", subjects=("Lịch sử",), publisher="Văn học"),
            make_record("2", "Lịch sử Việt Nam hiện đại", author="Đặng Thai Mai", year=2005,
                        isbn="978-604-1-00000-3", subjects=("Lịch sử", "Hiện đại"),
                        publisher="Giáo dục"),
            make_record("3", "Đắk Lắk quê hương tôi", author="Nguyễn Du", year=2010,
                        subjects=("Địa chí",), publisher="Văn học"),
            make_record("4", "Ăn uống ba miền", author="Dương Thu Hương", year=2015,
                        subjects=("Ẩm thực",)),
            make_record("5", "The history of Vietnam", author="Karnow, Stanley", year=1983,
                        language="eng", nonfiling=4, subjects=("Vietnam -- History",),
                        publisher="Penguin"),
            make_record("6", "Zorro", author="Allende, Isabel", year=2005, language="eng",
                        source="lib-b"),
            make_record("7", "Tạp chí Thư viện Việt Nam", year=2020, issn="1859-1434",
                        serial=True, source="lib-b", note="Ra hai tháng một kỳ"),
        ]
    )  # fmt: skip
    return store


def _ids(store: RecordStore, query, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    result = store.search(query, limit=100, **kwargs)
    return [r.local_id for r in result.records]


def _set(store: RecordStore, query) -> set[str]:  # type: ignore[no-untyped-def]
    result = store.search(query, limit=100)
    assert result.total == len(result.records)
    return {r.local_id for r in result.records}


def test_folded_terms_find_vietnamese(catalogue: RecordStore) -> None:
    """'dak lak' finds 'Đắk Lắk', 'nguyen du' finds 'Nguyễn Du'; marked terms work too."""
    assert _set(catalogue, Term(Index.TITLE, "dak lak")) == {"3"}
    assert _set(catalogue, Term(Index.TITLE, "ĐẮK LẮK")) == {"3"}
    assert _set(catalogue, Term(Index.AUTHOR, "nguyen du")) == {"3"}
    assert _set(catalogue, Term(Index.AUTHOR, "Nguyễn Du")) == {"3"}
    assert _set(catalogue, Term(Index.AUTHOR, "dang thai mai")) == {"2"}


def test_word_phrase_and_exact_matching(catalogue: RecordStore) -> None:
    """Words in any order; phrase in order; exact = the whole field."""
    assert _set(catalogue, Term(Index.TITLE, "viet nam lich su")) == {"1", "2"}
    assert _set(catalogue, Term(Index.TITLE, "lich su viet nam", Match.PHRASE)) == {"1", "2"}
    assert _set(catalogue, Term(Index.TITLE, "viet nam lich su", Match.PHRASE)) == set()
    assert _set(catalogue, Term(Index.TITLE, "Lịch sử Việt Nam", Match.EXACT)) == {"1"}
    assert _set(catalogue, Term(Index.TITLE, "lich su viet nam", Match.EXACT)) == {"1"}
    assert _set(catalogue, Term(Index.TITLE, "zorro dak", Match.ANY_WORD)) == {"3", "6"}


def test_right_truncation(catalogue: RecordStore) -> None:
    """Truncated words and fields match their prefix."""
    assert _set(catalogue, Term(Index.TITLE, "hien d", truncated=True)) == {"2"}
    assert _set(catalogue, Term(Index.TITLE, "lic", truncated=True)) == {"1", "2"}
    assert _set(catalogue, Term(Index.TITLE, "lich su viet nam hi", Match.EXACT, True)) == {"2"}
    assert _set(catalogue, Term(Index.ISBN, "978604", truncated=True)) == {"2"}


def test_booleans(catalogue: RecordStore) -> None:
    """AND, OR and AND-NOT, also mixing word terms with keys and dates."""
    lich_su = Term(Index.SUBJECT, "lich su")
    assert _set(catalogue, And(lich_su, Term(Index.DATE, "2005"))) == {"2"}
    assert _set(catalogue, Or(Term(Index.TITLE, "zorro"), Term(Index.AUTHOR, "karnow"))) == {
        "5",
        "6",
    }
    assert _set(catalogue, AndNot(lich_su, Term(Index.TITLE, "hien dai"))) == {"1"}
    assert _set(catalogue, AndNot(AllRecords(), Term(Index.SOURCE, "lib-a"))) == {"6", "7"}
    nested = Or(And(lich_su, Term(Index.PUBLISHER, "giao duc")), Term(Index.ISSN, "1859-1434"))
    assert _set(catalogue, nested) == {"2", "7"}


def test_isbn_10_and_13_find_each_other(catalogue: RecordStore) -> None:
    """An ISBN-10 query finds the record catalogued with it as ISBN-13 and back."""
    assert _set(catalogue, Term(Index.ISBN, "0198526636")) == {"1"}
    assert _set(catalogue, Term(Index.ISBN, "978-0-19-852663-6")) == {"1"}
    assert _set(catalogue, Term(Index.ISBN, "9786041000003")) == {"2"}
    assert _set(catalogue, Term(Index.ISBN, "no digits")) == set()
    assert _set(catalogue, Term(Index.ISSN, "18591434")) == {"7"}


def test_date_relations(catalogue: RecordStore) -> None:
    """=, <, <=, >, >= on publication years; a truncated year is a range."""
    assert _set(catalogue, Term(Index.DATE, "2005")) == {"2", "6"}
    assert _set(catalogue, Term(Index.DATE, "2005", relation=Relation.LT)) == {"1", "5"}
    assert _set(catalogue, Term(Index.DATE, "2005", relation=Relation.LE)) == {"1", "2", "5", "6"}
    assert _set(catalogue, Term(Index.DATE, "2010", relation=Relation.GT)) == {"4", "7"}
    assert _set(catalogue, Term(Index.DATE, "2010-06-01", relation=Relation.GE)) == {"3", "4", "7"}
    assert _set(catalogue, Term(Index.DATE, "19", truncated=True)) == {"1", "5"}
    with pytest.raises(QueryError):
        catalogue.search(Term(Index.DATE, "last year"))


def test_key_indexes(catalogue: RecordStore) -> None:
    """Language, source, control number and publisher indexes."""
    assert _set(catalogue, Term(Index.LANGUAGE, "eng")) == {"5", "6"}
    assert _set(catalogue, Term(Index.SOURCE, "lib-b")) == {"6", "7"}
    assert _set(catalogue, Term(Index.CONTROL_NUMBER, "3")) == {"3"}
    assert _set(catalogue, Term(Index.PUBLISHER, "van hoc")) == {"1", "3"}
    assert _set(catalogue, Term(Index.ANY, "hai thang")) == {"7"}, "notes are in 'any'"
    assert _set(catalogue, RecordNumbers(frozenset())) == set()


def test_sort_orders(catalogue: RecordStore) -> None:
    """Vietnamese alphabetical order (Ă after A, Đ after D), non-filing articles skipped."""
    everything = AllRecords()
    by_title = _ids(catalogue, everything, sort=[SortKey(SortField.TITLE)])
    assert by_title == ["4", "3", "5", "1", "2", "7", "6"]
    descending = _ids(catalogue, everything, sort=[SortKey(SortField.TITLE, descending=True)])
    assert descending == by_title[::-1]
    by_author = _ids(catalogue, everything, sort=[SortKey(SortField.AUTHOR)])
    # Allende, Dương, Đặng, Karnow, Nguyễn, Trần; no author last.
    assert by_author == ["6", "4", "2", "5", "3", "1", "7"]
    by_date = _ids(catalogue, everything, sort=[SortKey(SortField.DATE, descending=True)])
    assert by_date == ["7", "4", "3", "2", "6", "1", "5"]


def test_relevance_and_paging(catalogue: RecordStore) -> None:
    """Relevance puts the closer match first; pages concatenate to the whole result."""
    query = Or(Term(Index.TITLE, "viet nam"), Term(Index.ANY, "lich su"))
    whole = _ids(catalogue, query)
    pages = []
    for offset in range(0, len(whole), 2):
        result = catalogue.search(query, offset=offset, limit=2)
        assert result.total == len(whole)
        pages.extend(r.local_id for r in result.records)
    assert pages == whole
    assert catalogue.search_numbers(query) == [
        r.number for r in catalogue.search(query, limit=99).records
    ]
    assert catalogue.search(query, limit=0).records == []


def test_hostile_terms_are_just_text(catalogue: RecordStore) -> None:
    """Quotes, FTS operators and SQL in a term are searched as words, never executed."""
    for value in ['"', "NEAR(a b)", "lich* OR zorro", "'; DROP TABLE records; --", "a\x00b",
                  "title : zorro", "{title}", "^zorro$"]:  # fmt: skip
        try:
            catalogue.search(Term(Index.TITLE, value))
            catalogue.search(Term(Index.TITLE, value, Match.EXACT))
        except QueryError:
            pass
    assert catalogue.count() == 7
    with pytest.raises(QueryError):
        catalogue.search(Term(Index.TITLE, "!!! ..."))


# -- scan --------------------------------------------------------------------------------


def test_scan_in_vietnamese_order_with_counts(catalogue: RecordStore) -> None:
    """Browsing subjects from a start term, folded, with record counts, before and after."""
    terms = catalogue.scan(Index.SUBJECT, "dia", after=3)
    assert [(t.term, t.count) for t in terms] == [("Địa chí", 1), ("Hiện đại", 1), ("Lịch sử", 2)]
    around = catalogue.scan(Index.SUBJECT, "Lịch sử", before=2, after=1)
    assert [t.term for t in around] == ["Địa chí", "Hiện đại", "Lịch sử"]
    first = catalogue.scan(Index.SUBJECT, "", after=2)
    assert [t.term for t in first] == ["Ẩm thực", "Địa chí"]
    assert catalogue.scan(Index.TITLE, "zz", after=5) == []


# -- change feed -------------------------------------------------------------------------


def test_feed_order_bounds_and_sets(catalogue: RecordStore) -> None:
    """Ordered by position; since/until inclusive; set and parent set selection."""
    feed = catalogue.changes(limit=100)
    assert len(feed) == 7
    assert [c.position for c in feed] == sorted(c.position for c in feed)
    stamp = feed[0].position.datestamp
    assert len(catalogue.changes(since=stamp, until=stamp, limit=100)) == 7
    assert catalogue.changes(until=stamp - timedelta(seconds=1)) == []
    assert catalogue.count_changes(set_spec="library:lib-b") == 2
    assert catalogue.count_changes(set_spec="library") == 7
    assert catalogue.count_changes(set_spec="type:serial") == 1
    assert catalogue.count_changes(set_spec="nope") == 0
    assert {"library:lib-a", "library:lib-b", "type:serial"} <= set(catalogue.sets())
    assert catalogue.earliest_datestamp() == stamp


def test_record_leaving_a_set_shows_as_deleted_in_it(store: RecordStore) -> None:
    """A record moved to another set is reported as not in the old set's feed."""
    record = make_record("S", "Tạp chí", serial=True)
    store.upsert([record])
    store.upsert([make_record("S", "Tạp chí")])  # now a book
    serial_feed = store.changes(set_spec="type:serial")
    assert [(c.record.local_id, c.in_set, c.deleted) for c in serial_feed] == [("S", False, True)]
    book_feed = store.changes(set_spec="type:book")
    assert [(c.record.local_id, c.deleted) for c in book_feed] == [("S", False)]


def test_keyset_paging_under_concurrent_updates(store: RecordStore) -> None:
    """Paging the feed while records change: nothing skipped, no change read twice,
    and every record's last state is what the harvester ends with."""
    store.upsert([make_record(f"{i:03d}", f"Sách số {i}") for i in range(60)])
    seen: list[tuple[str, object]] = []
    final: dict[str, str] = {}
    after = None
    round_number = 0
    while True:
        page = store.changes(after=after, limit=7)
        if not page:
            break
        for change in page:
            seen.append((change.record.local_id, change.position))
            assert change.record.marc is not None
            final[change.record.local_id] = change.record.marc.title
        after = page[-1].position
        round_number += 1
        # Meanwhile a sync updates one record already read and one not read yet.
        if round_number <= 4:
            store.upsert(
                [
                    make_record(f"{round_number:03d}", f"Sửa {round_number}"),
                    make_record(f"{59 - round_number:03d}", f"Sửa {59 - round_number}"),
                ]
            )
    assert len(seen) == len(set(seen)), "a change was read twice"
    assert {local_id for local_id, _ in seen} == {f"{i:03d}" for i in range(60)}
    for n in range(1, 5):
        assert final[f"{n:03d}"] == f"Sửa {n}"
        assert final[f"{59 - n:03d}"] == f"Sửa {59 - n}"


def test_concurrent_writers_and_readers(store: RecordStore) -> None:
    """Several threads writing and searching at once: no error, nothing lost."""
    errors: list[BaseException] = []

    def writer(prefix: str) -> None:
        try:
            for batch in range(5):
                store.upsert(
                    [make_record(f"{prefix}{batch}-{i}", f"Sách {prefix}") for i in range(20)]
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(20):
                store.search(Term(Index.TITLE, "sach"), limit=5)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in "xyz"]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count() == 300
    positions = [c.position for c in store.changes(limit=1000)]
    assert len(set(positions)) == 300 and positions == sorted(positions)


def test_stats(catalogue: RecordStore) -> None:
    """Counts per source and the last change."""
    stats = {s.source: s for s in catalogue.source_stats()}
    assert (stats["lib-a"].records, stats["lib-b"].records) == (5, 2)
    assert stats["lib-a"].last_change is not None
    assert catalogue.count() == 7


def test_scan_codes_years_and_sources(catalogue: RecordStore) -> None:
    """Browsing indexes of codes, years and member libraries."""
    years = catalogue.scan(Index.DATE, "2005", before=1, after=2)
    assert [(t.term, t.count) for t in years] == [("1999", 1), ("2005", 2), ("2010", 1)]
    sources = catalogue.scan(Index.SOURCE, "", after=5)
    assert [(t.term, t.count) for t in sources] == [("lib-a", 5), ("lib-b", 2)]
    isbns = catalogue.scan(Index.ISBN, "0", after=5)
    assert [t.term for t in isbns] == ["9780198526636", "9786041000003"]
    languages = catalogue.scan(Index.LANGUAGE, "e", after=5)
    assert [(t.term, t.count) for t in languages] == [("eng", 2), ("vie", 5)]


def test_updates_replace_index_entries(store: RecordStore) -> None:
    """After an update or a deletion, the old headings, codes and words find nothing."""
    store.upsert([make_record("U", "Sông Hương", isbn="9786041000003", subjects=("Huế",))])
    store.upsert([make_record("U", "Núi Ngự", isbn="0198526636", subjects=("Bình",))])
    assert store.search(Term(Index.TITLE, "song huong")).total == 0
    assert store.search(Term(Index.TITLE, "Sông Hương", Match.EXACT)).total == 0
    assert store.search(Term(Index.ISBN, "9786041000003")).total == 0
    assert [t.term for t in store.scan(Index.SUBJECT, "", after=9)] == ["Bình"]
    assert store.search(Term(Index.TITLE, "Núi Ngự", Match.EXACT)).total == 1
    store.delete("lib-a", ["U"])
    assert store.scan(Index.SUBJECT, "", after=9) == []
    assert store.search(Term(Index.ISBN, "0198526636")).total == 0


def test_facets_count_the_values_among_the_hits(catalogue: RecordStore) -> None:
    """Facets: the most common values of an index among a query's hits, most first, for
    text headings, years, languages and libraries; deleted records never count."""
    vietnam = Term(Index.TITLE, "viet nam")
    subjects = catalogue.facets(vietnam, Index.SUBJECT)
    assert [(t.term, t.count) for t in subjects] == [("Lịch sử", 2), ("Hiện đại", 1)]
    years = catalogue.facets(AllRecords(), Index.DATE, limit=2)
    assert [(t.term, t.count) for t in years] == [("2005", 2), ("2020", 1)]
    languages = catalogue.facets(AllRecords(), Index.LANGUAGE)
    assert [(t.term, t.count) for t in languages] == [("vie", 5), ("eng", 2)]
    libraries = catalogue.facets(AllRecords(), Index.SOURCE)
    assert [(t.term, t.count) for t in libraries] == [("lib-a", 5), ("lib-b", 2)]
    catalogue.delete("lib-b", "6")
    after = catalogue.facets(AllRecords(), Index.SOURCE)
    assert [(t.term, t.count) for t in after] == [("lib-a", 5), ("lib-b", 1)]


def test_scan_within_one_library(catalogue: RecordStore) -> None:
    """A library's own database browses with that library's counts only."""
    everywhere = catalogue.scan(Index.DATE, "2005", after=1)
    assert [(t.term, t.count) for t in everywhere] == [("2005", 2)]
    lib_a = catalogue.scan(Index.DATE, "2005", after=1, source="lib-a")
    assert [(t.term, t.count) for t in lib_a] == [("2005", 1)]
    titles = catalogue.scan(Index.TITLE, "", after=10, source="lib-b")
    assert sorted(t.term for t in titles) == ["Tạp chí Thư viện Việt Nam", "Zorro"]
    assert catalogue.scan(Index.LANGUAGE, "", after=5, source="lib-b")[0].count == 1


def test_headers_only_feed_leaves_the_marc_out(store: RecordStore) -> None:
    """``changes(metadata=False)`` gives the same entries without MARC (ListIdentifiers
    does not pay for decoding records it will not show)."""
    store.upsert([make_record(f"H{i}", f"Sách {i}") for i in range(5)])
    full = store.changes(limit=10)
    bare = store.changes(limit=10, metadata=False)
    assert [c.position for c in bare] == [c.position for c in full]
    assert all(c.record.marc is None for c in bare) and all(c.record.marc for c in full)
    assert [c.record.oai_identifier for c in bare] == [c.record.oai_identifier for c in full]


def test_secrets_are_made_once_and_shared(store: RecordStore) -> None:
    """A named secret is random, 32 bytes, the same on every call, distinct per name."""
    first = store.secret("tokens")
    assert len(first) == 32 and store.secret("tokens") == first
    assert store.secret("other") != first


def test_secrets_survive_reopening_and_are_seen_by_other_connections(tmp_path: Path) -> None:
    """Another process (here: another store object on the same file) gets the same key,
    so any gateway node can check the tokens any other node signed."""
    with open_store(tmp_path / "s.db") as one, open_store(tmp_path / "s.db") as two:
        key = one.secret("tokens")
        assert two.secret("tokens") == key
    with open_store(tmp_path / "s.db") as again:
        assert again.secret("tokens") == key


class _Ticks:
    """A clock that reads the given times in turn, then stays at the last one."""

    def __init__(self, *times: float) -> None:
        self.times = list(times)

    def __call__(self) -> float:
        return self.times.pop(0) if len(self.times) > 1 else self.times[0]


def test_datestamp_is_the_second_of_commit(
    sqlite_store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that begins at second T and commits at T+2 is datestamped T+2: a harvest
    made at T+1 that could not see it must find it with ``from`` = T+1."""
    monkeypatch.setattr("gateway.store.sqlite.time.time", _Ticks(1_800_000_000, 1_800_000_002))
    sqlite_store.upsert([make_record("S1", "Sách một"), make_record("S2", "Sách hai")])
    stamps = {c.record.datestamp for c in sqlite_store.changes(limit=10)}
    assert stamps == {datetime.fromtimestamp(1_800_000_002, tz=UTC)}
    monkeypatch.setattr("gateway.store.sqlite.time.time", _Ticks(1_800_000_005, 1_800_000_009))
    sqlite_store.delete("lib-a", ["S1"])
    deleted = sqlite_store.get("lib-a", "S1")
    assert deleted is not None and deleted.datestamp.timestamp() == 1_800_000_009
    survivor = sqlite_store.get("lib-a", "S2")
    assert survivor is not None and survivor.datestamp.timestamp() == 1_800_000_002


def test_a_commit_that_ends_in_a_later_second_moves_to_the_end_of_the_feed(
    sqlite_store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch stamped at second T whose COMMIT finishes at T+1: a harvest begun at T+1
    could not see it but will ask next with from=T+1, so the batch is stamped again, after
    everything else in the feed, at T+1 or later; records written before keep theirs."""
    monkeypatch.setattr("gateway.store.sqlite.time.time", _Ticks(1_800_000_000.2))
    sqlite_store.upsert([make_record("E1", "Sách cũ")])
    # begin, settle just before COMMIT, then the clock read after COMMIT: a second later
    clock = _Ticks(1_800_000_010.1, 1_800_000_010.9, 1_800_000_011.05)
    monkeypatch.setattr("gateway.store.sqlite.time.time", clock)
    sqlite_store.upsert([make_record("L1", "Sách một"), make_record("L2", "Sách hai")])
    feed = sqlite_store.changes(limit=10)
    assert [c.record.local_id for c in feed] == ["E1", "L1", "L2"]
    assert [int(c.position.datestamp.timestamp()) for c in feed] == [
        1_800_000_000, 1_800_000_011, 1_800_000_011,
    ]  # fmt: skip
    assert [c.position for c in feed] == sorted(c.position for c in feed)
    assert len({c.position.sequence for c in feed}) == 3
    harvested_at = datetime.fromtimestamp(1_800_000_011, tz=UTC)
    assert {c.record.local_id for c in sqlite_store.changes(since=harvested_at)} == {"L1", "L2"}


def test_digits_that_are_not_ascii_are_not_numbers(store: RecordStore) -> None:
    """A damaged 008 with superscript or Arabic-Indic digits where the year goes, or such a
    nonfiling indicator, is indexed without a year (Python's isdigit accepts them, int does
    not); a year scan from such a term starts at the beginning."""
    record = make_record("D1", "Sách hỏng", year=2001)
    record.marc["008"].data = record.marc["008"].data[:7] + "²٠٠١" + record.marc["008"].data[11:]
    record.marc["245"].indicator2 = "²"
    store.upsert([record])
    stored = store.get("lib-a", "D1")
    assert stored is not None and stored.marc is not None
    assert store.search(Term(Index.TITLE, "hong")).total == 1
    assert store.scan(Index.DATE, "²", after=5) == store.scan(Index.DATE, "0", after=5)


def test_reindex_rebuilds_indexes_and_keeps_the_feed(store: RecordStore) -> None:
    """Reindexing restores lost or outdated index entries from the stored MARC, without
    moving any datestamp (harvesters see nothing) or reviving tombstones."""
    from gateway.query import Term as T

    store.upsert([make_record("a1", "Truyện Kiều", isbn="9786045886762"),
                  make_record("a2", "Đất rừng phương Nam")])  # fmt: skip
    store.delete("lib-a", ["a2"])
    before = [(c.record.local_id, c.position) for c in store.changes(limit=10)]
    db = store._connection()  # type: ignore[attr-defined]
    for table in ("codes", "headings", "record_text"):  # as if indexed by an older release
        db.execute(f"DELETE FROM {table}")
    assert store.search(T(Index.TITLE, "truyen kieu")).total == 0
    assert store.reindex() == 1
    assert store.search(T(Index.TITLE, "truyen kieu")).total == 1
    assert store.search(T(Index.ISBN, "604-58-8676-6")).total == 1
    assert store.search(T(Index.TITLE, "dat rung")).total == 0
    assert [(c.record.local_id, c.position) for c in store.changes(limit=10)] == before
    assert store.reindex() == 1  # again: the same entries, no duplicates
    assert store.search(T(Index.TITLE, "truyen kieu")).total == 1
