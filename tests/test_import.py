"""Reading MARC files of every kind and importing them, broken ones included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pymarc import MARCReader, record_to_xml

from crosswalks.marcjson import marc_to_json
from gateway.importer import import_files
from gateway.marcfile import MarcFileError, read_marc_file
from gateway.query import Index, Match, Term
from gateway.store import RecordStore

from .conftest import BROKEN, DATA, JAZZ_MARC8, LOC_5000, VIE_121

NS = "test.lienthong.vn"

# (file, records read, kept, skipped, kept with repairs, distinct ids)
EXPECTED = [
    ("loc-vie-121.mrc", 121, 121, 0, 0, 121),
    ("loc-5000.mrc", 5000, 5000, 0, 0, 5000),
    ("marc8-jazz-1000.mrc", 1000, 1000, 0, 1, 1000),  # record 987 has no 001
    ("broken/bad-characters-in-various-fields.mrc", 1, 1, 0, 0, 1),
    ("broken/bad_hathi_records.mrc", 5, 4, 1, 0, 4),
    ("broken/bad_leaders_10_11.mrc", 1, 1, 0, 0, 1),
    ("broken/bad_oversize_field_bad_directory.mrc", 5, 4, 1, 0, 4),
    ("broken/bad_too_long_plus_2.mrc", 3, 3, 0, 1, 3),
    ("broken/chinese_mangled_multibyte.mrc", 4, 4, 0, 1, 1),
    ("broken/incomplete_esc_seq.mrc", 1, 1, 0, 1, 1),
    ("broken/unordered-directory-entries.mrc", 1, 1, 0, 0, 1),
]


def test_every_shared_file_is_covered() -> None:
    """The table above names every file in ../shared/data."""
    on_disk = {str(p.relative_to(DATA)) for p in DATA.rglob("*.mrc")}
    assert on_disk == {name for name, *_ in EXPECTED}


@pytest.mark.parametrize(("name", "read", "kept", "skipped", "repaired", "distinct"), EXPECTED)
def test_import_counts(
    sqlite_store: RecordStore, name: str, read: int, kept: int, skipped: int, repaired: int,
    distinct: int,
) -> None:  # fmt: skip
    """Exact counts for every shared file; broken records are reported, never raised."""
    report = import_files(sqlite_store, [DATA / name], source="src", namespace=NS)
    assert (report.read, report.skipped, report.repaired) == (read, skipped, repaired)
    assert report.written.new == distinct
    assert report.written.new + report.written.updated + report.written.unchanged == kept
    assert sqlite_store.count() == distinct
    for problem in report.problems:
        assert problem.file.endswith(name) and problem.reason


def test_broken_records_are_named_with_offsets() -> None:
    """A skipped record is named with its number and byte offset, and the reason."""
    results = list(read_marc_file(BROKEN / "bad_hathi_records.mrc"))
    bad = [r for r in results if r.record is None]
    assert [(r.number, r.position, r.position_unit) for r in bad] == [(4, 6343, "byte")]
    assert "directory" in (bad[0].error or "").lower()
    assert bad[0].where() == "record 4 at byte 6343"
    # The records after the broken one are still read.
    assert results[-1].record is not None and results[-1].number == 5


def test_reimport_changes_nothing(sqlite_store: RecordStore) -> None:
    """Importing the same file twice: all unchanged the second time, datestamps kept."""
    import_files(sqlite_store, [VIE_121], source="loc", namespace=NS)
    before = [c.position for c in sqlite_store.changes(limit=500)]
    report = import_files(sqlite_store, [VIE_121], source="loc", namespace=NS)
    assert (report.written.new, report.written.updated, report.written.unchanged) == (0, 0, 121)
    assert [c.position for c in sqlite_store.changes(limit=500)] == before


def test_marc8_is_converted_to_unicode(sqlite_store: RecordStore) -> None:
    """MARC-8 records arrive as Unicode NFC and are findable."""
    import_files(sqlite_store, [JAZZ_MARC8], source="jazz", namespace=NS)
    first = next(iter(read_marc_file(JAZZ_MARC8))).record
    assert first is not None
    assert sqlite_store.search(Term(Index.TITLE, first.title or "")).total >= 1
    texts = [r.marc.title for r in sqlite_store.search(Term(Index.ANY, "jazz"), limit=50).records]
    assert texts and all("\x1b" not in (t or "") for t in texts)


def test_vietnamese_records_found_folded_and_unfolded(vie_store: RecordStore) -> None:
    """Every one of the 121 Vietnamese records is found by its own title words, with and
    without diacritics, and its author likewise."""
    with VIE_121.open("rb") as handle:
        records = list(MARCReader(handle, to_unicode=True))
    from crosswalks.vietnamese import fold, normalize

    for record in records:
        local_id = record["001"].data.strip()
        title = normalize(record["245"]["a"])
        for variant in (title, fold(title)):
            hits = vie_store.search(Term(Index.TITLE, variant), limit=200).records
            assert local_id in {h.local_id for h in hits}, (local_id, variant)
        author_field = record.get("100") or record.get("110")
        if author_field is not None and author_field["a"]:
            name = normalize(author_field["a"])
            hits = vie_store.search(Term(Index.AUTHOR, fold(name)), limit=200).records
            assert local_id in {h.local_id for h in hits}


def test_known_vietnamese_searches(vie_store: RecordStore) -> None:
    """Hand-picked searches on the LoC Vietnamese records."""
    nguyen = vie_store.search(Term(Index.AUTHOR, "nguyen"), limit=200)
    assert nguyen.total == vie_store.search(Term(Index.AUTHOR, "Nguyễn"), limit=200).total > 10
    assert vie_store.search(Term(Index.LANGUAGE, "vie")).total == 121
    phrase = vie_store.search(Term(Index.TITLE, "viet nam", Match.PHRASE)).total
    assert phrase == vie_store.search(Term(Index.TITLE, "Việt Nam", Match.PHRASE)).total > 0


def test_marcxml_and_json_read_like_iso2709(tmp_path: Path) -> None:
    """The same records written as MARCXML and MARC-in-JSON read back field for field."""
    with VIE_121.open("rb") as handle:
        records = [r for _, r in zip(range(10), MARCReader(handle, to_unicode=True), strict=False)]
    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n<collection xmlns="http://www.loc.gov/MARC21/slim">'
    xml += b"".join(record_to_xml(r) for r in records) + b"</collection>"
    (tmp_path / "a.xml").write_bytes(xml)
    (tmp_path / "a.json").write_text(json.dumps([marc_to_json(r) for r in records]), "utf-8")
    (tmp_path / "a.jsonl").write_text(
        "\n".join(json.dumps(marc_to_json(r)) for r in records), "utf-8"
    )
    expected = [marc_to_json(r) for r in records]
    for name in ("a.xml", "a.json", "a.jsonl"):
        got = [marc_to_json(r.record) for r in read_marc_file(tmp_path / name) if r.record]
        assert got == expected, name


def test_garbage_and_truncation(tmp_path: Path, sqlite_store: RecordStore) -> None:
    """Truncated files, garbage bytes and broken XML are reported, good records kept."""
    good = VIE_121.read_bytes()
    first_len = int(good[:5])
    truncated = tmp_path / "truncated.mrc"
    truncated.write_bytes(good[: first_len * 2 + 100])
    report = import_files(sqlite_store, [truncated], source="t", namespace=NS)
    assert report.written.new == 2 and report.skipped == 1
    assert "terminator" in report.problems[0].reason

    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\xff\xfe garbage \x1d\x1e")
    with pytest.raises(MarcFileError):
        list(read_marc_file(garbage))
    report = import_files(sqlite_store, [garbage, VIE_121], source="t", namespace=NS)
    assert report.unreadable_files == [str(garbage)] and report.written.new == 119

    broken_xml = tmp_path / "broken.xml"
    broken_xml.write_text('<collection xmlns="http://www.loc.gov/MARC21/slim"><record>'
                          '<leader>00000nam a2200000 a 4500</leader>'
                          '<controlfield tag="001">x1</controlfield></record><record><oops',
                          "utf-8")  # fmt: skip
    results = list(read_marc_file(broken_xml))
    assert results[0].record is not None and results[1].error and results[1].position_unit == "line"


def test_missing_file_is_reported(sqlite_store: RecordStore, tmp_path: Path) -> None:
    """A file that does not exist is named in the report; other files still import."""
    report = import_files(sqlite_store, [tmp_path / "nope.mrc", VIE_121], source="t", namespace=NS)
    assert report.unreadable_files == [str(tmp_path / "nope.mrc")]
    assert report.written.new == 121


def test_record_without_001_gets_a_stable_id(tmp_path: Path, sqlite_store: RecordStore) -> None:
    """No 001: the id is derived from content, so re-import stays idempotent."""
    with VIE_121.open("rb") as handle:
        record = next(MARCReader(handle, to_unicode=True))
    record.remove_fields("001")
    path = tmp_path / "no001.mrc"
    path.write_bytes(record.as_marc())
    first = import_files(sqlite_store, [path], source="t", namespace=NS)
    second = import_files(sqlite_store, [path], source="t", namespace=NS)
    assert first.written.new == 1 and second.written.unchanged == 1
    assert "no 001" in first.problems[0].reason


def test_large_file_spot_check(sqlite_store: RecordStore) -> None:
    """5,000 LoC records: a known ISBN-10 and ISBN-13 pair resolve to the same record."""
    import_files(sqlite_store, [LOC_5000], source="loc", namespace=NS)
    with LOC_5000.open("rb") as handle:
        for record in MARCReader(handle, to_unicode=True):
            isbns = [v for f in record.get_fields("020") for v in f.get_subfields("a")]
            ten = [i for i in isbns if len(i.split()[0].replace("-", "")) == 10]
            if ten:
                break
    from crosswalks.identifiers import isbn_key

    thirteen = isbn_key(ten[0])
    assert thirteen is not None
    by_ten = {r.local_id for r in sqlite_store.search(Term(Index.ISBN, ten[0])).records}
    by_13 = {r.local_id for r in sqlite_store.search(Term(Index.ISBN, thirteen)).records}
    assert by_ten == by_13 and record["001"].data.strip() in by_ten


def test_worker_processes_give_the_same_import(tmp_path: Path) -> None:
    """Parsing in worker processes changes nothing: same counts, problems and records."""
    from gateway.store import open_store

    files = [LOC_5000, BROKEN / "bad_too_long_plus_2.mrc", BROKEN / "bad_hathi_records.mrc"]
    reports = []
    digests = []
    for workers in (1, 2):
        with open_store(tmp_path / f"w{workers}.db") as store:
            reports.append(import_files(store, files, source="s", namespace=NS, workers=workers))
            records = store.fetch(list(range(1, store.count() + 10)))
            digests.append([(r.local_id, marc_to_json(r.marc)) for r in records if r.marc])
    serial, parallel = reports
    assert parallel.summary() == serial.summary()
    assert [str(p) for p in parallel.problems] == [str(p) for p in serial.problems]
    assert digests[0] == digests[1] and len(digests[0]) == 5007


def test_any_index_leaves_out_codes_and_physical_description(vie_store: RecordStore) -> None:
    """'dlc' (040 cataloguing source) and 'cm' (300 size) would match every LoC record;
    the any index searches text, not codes."""
    assert vie_store.search(Term(Index.ANY, "dlc")).total == 0
    assert vie_store.search(Term(Index.ANY, "cm")).total == 0
    assert vie_store.search(Term(Index.ANY, "Hà Nội")).total > 10


def test_malformed_marc_in_json_is_reported_not_crashed(tmp_path: Path) -> None:
    """Wrong shapes and nulls in MARC-in-JSON give a per-record error or empty values."""
    cases = [
        ({"leader": "00000nam a2200000 i 4500", "fields": "oops"}, '"fields" must be an array'),
        ({"leader": "x", "fields": [{"245": {"subfields": "x"}}]}, "field 245"),
        ({"leader": 5, "fields": [{"001": None},
                                  {"245": {"ind1": None, "subfields": [{"a": None}]}}]}, None),
    ]  # fmt: skip
    for number, (document, error) in enumerate(cases):
        path = tmp_path / f"{number}.json"
        path.write_text(json.dumps(document), "utf-8")
        (result,) = list(read_marc_file(path))
        if error:
            assert result.record is None and error in (result.error or "")
        else:
            assert result.record is not None
            assert result.record["001"].data == ""
            assert tuple(result.record["245"].indicators) == (" ", " ")
            assert result.record["245"]["a"] == ""
