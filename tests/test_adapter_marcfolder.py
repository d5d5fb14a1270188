"""The MARC export folder source (``kind: marc-folder``), read directly as a stream of events.

The files are the real ones in ../shared/data, or derived from them here with pymarc and the
project's own writers (changed and deleted subsets, MARCXML, MARC-8, TCVN3, 001+003 ids),
written into each test's own folder with explicit modification times, so the order and
the "still being written" rule are under the test's control.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from pymarc import Field, Indicators, Leader, Record, Subfield

from adapters.interface import (
    BibliographicSource,
    Complete,
    Deletion,
    Event,
    Mark,
    Problem,
    SourceError,
    SourceSettings,
    Upsert,
)
from adapters.marcfolder import IdRule, MarcFolderSource, open_source
from adapters.records import resolve
from crosswalks.iso2709 import encode_iso2709
from crosswalks.legacy import LegacyEncoding, LegacyMode
from crosswalks.marcjson import marc_json_text
from crosswalks.marcxml import marcxml_collection
from gateway.record import normalize_record
from gateway.store import open_store
from gateway.sync import sync_source
from tests.conftest import BROKEN, JAZZ_MARC8, LOC_5000, VIE_121
from tests.records import legacy_iso2709, make_marc, vie_records
from tests.sync_helpers import write_config

HOUR_NS = 3600 * 10**9
SECOND_NS = 10**9


# -- helpers ------------------------------------------------------------------------------


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def _age(path: Path, order: int) -> None:
    """Give ``path`` a modification time an hour ago plus ``order`` seconds (bigger: newer)."""
    stamp = time.time_ns() - HOUR_NS + order * SECOND_NS
    os.utime(path, ns=(stamp, stamp))


def _write(path: Path, records: Iterable[Record], order: int, *, marc8: bool = False) -> Path:
    path.write_bytes(b"".join(encode_iso2709(r, marc8=marc8) for r in records))
    _age(path, order)
    return path


def _copy(source: Path, target: Path, order: int) -> Path:
    shutil.copyfile(source, target)
    _age(target, order)
    return target


def _events(source: MarcFolderSource, checkpoint: str | None = None) -> list[Event]:
    """The source's events as the engine reads them (encoded records decoded)."""
    return list(resolve(source.changes(checkpoint, overlap_seconds=300), source.legacy))


def _upserts(events: list[Event]) -> list[str]:
    return [e.local_id for e in events if isinstance(e, Upsert)]


def _problems(events: list[Event]) -> list[Problem]:
    return [e for e in events if isinstance(e, Problem)]


def _checkpoint(events: list[Event]) -> str:
    marks = [e for e in events if isinstance(e, Mark)]
    assert marks and events[-1] == marks[-1], "the stream must end with a Mark"
    return marks[-1].checkpoint


def _ids(records: Iterable[Record]) -> list[str]:
    return [(r["001"].data or "").strip() for r in records]


def _source(folder: Path, **options: object) -> MarcFolderSource:
    return MarcFolderSource(folder, settle_seconds=0, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def vie() -> list[Record]:
    """The 121 Vietnamese LoC records (normalised), read once per module."""
    return vie_records(121)


# -- delta exports, incremental runs ----------------------------------------------------------


def test_first_run_reads_every_file_oldest_first_with_a_mark_after_each(
    tmp_path: Path, vie: list[Record]
) -> None:
    """With no checkpoint every file is read, oldest modification time first (not by
    name), and each file's records are followed by a Mark naming it in the checkpoint."""
    folder = _folder(tmp_path)
    _write(folder / "b-older.mrc", vie[:60], order=1)
    _write(folder / "a-newer.mrc", vie[60:], order=2)
    events = _events(_source(folder))
    assert _upserts(events) == _ids(vie[:60]) + _ids(vie[60:])
    first_mark = next(i for i, e in enumerate(events) if isinstance(e, Mark))
    assert first_mark == 60
    files = json.loads(events[first_mark].checkpoint)["files"]  # type: ignore[union-attr]
    assert set(files) == {"b-older.mrc"}
    assert set(json.loads(_checkpoint(events))["files"]) == {"b-older.mrc", "a-newer.mrc"}
    assert not _problems(events)


def test_unchanged_folder_yields_no_upserts(tmp_path: Path, vie: list[Record]) -> None:
    """A second run with the checkpoint reads nothing and ends with a Mark only."""
    folder = _folder(tmp_path)
    _write(folder / "one.mrc", vie[:10], order=1)
    _copy(VIE_121, folder / "two.mrc", order=2)
    source = _source(folder)
    checkpoint = _checkpoint(_events(source))
    again = _events(source, checkpoint)
    assert len(again) == 1 and isinstance(again[0], Mark)
    assert json.loads(again[0].checkpoint) == json.loads(checkpoint)


def test_only_a_new_file_is_read(tmp_path: Path, vie: list[Record]) -> None:
    """A file added after the last sync is the only one read by the next."""
    folder = _folder(tmp_path)
    _write(folder / "monday.mrc", vie[:50], order=1)
    source = _source(folder)
    checkpoint = _checkpoint(_events(source))
    _write(folder / "tuesday.mrc", vie[50:55], order=2)
    events = _events(source, checkpoint)
    assert _upserts(events) == _ids(vie[50:55])


def test_a_modified_file_is_read_again_with_its_new_content(
    tmp_path: Path, vie: list[Record]
) -> None:
    """A file rewritten in place (new content, new time) is read again; the changed
    record comes with its new title, and the untouched file stays unread."""
    folder = _folder(tmp_path)
    _write(folder / "stable.mrc", vie[:20], order=1)
    _write(folder / "daily.mrc", vie[20:30], order=2)
    source = _source(folder)
    checkpoint = _checkpoint(_events(source))
    changed = vie_records(30)[20:30]
    changed[3]["245"]["a"] = "Truyện Kiều (bản sửa)"
    _write(folder / "daily.mrc", changed, order=3)
    events = _events(source, checkpoint)
    assert _upserts(events) == _ids(vie[20:30])
    upsert = [e for e in events if isinstance(e, Upsert)][3]
    assert upsert.record["245"]["a"] == "Truyện Kiều (bản sửa)"


def test_an_edit_that_keeps_the_size_is_still_seen(tmp_path: Path, vie: list[Record]) -> None:
    """One letter changed in place (same size, new time): the digest differs, so the
    file is read again and the edit comes through."""
    folder = _folder(tmp_path)
    path = _write(folder / "export.mrc", vie[:5], order=1)
    source = _source(folder)
    checkpoint = _checkpoint(_events(source))
    data = path.read_bytes()
    title = vie[2]["245"]["a"].encode()
    edited = title[:-2] + (b"X" if title[-2:-1] != b"X" else b"Y") + title[-1:]
    path.write_bytes(data.replace(title, edited, 1))
    _age(path, 2)
    assert path.stat().st_size == len(data)
    events = _events(source, checkpoint)
    upserts = [e for e in events if isinstance(e, Upsert)]
    assert [u.local_id for u in upserts] == _ids(vie[:5])
    assert upserts[2].record["245"]["a"].encode() == edited


def test_a_file_touched_without_changing_is_not_read_again(
    tmp_path: Path, vie: list[Record]
) -> None:
    """Same bytes, new modification time (copied again by the ILS): the content digest
    shows nothing changed, so no records, and the new time is remembered."""
    folder = _folder(tmp_path)
    path = _write(folder / "export.mrc", vie[:5], order=1)
    source = _source(folder)
    checkpoint = _checkpoint(_events(source))
    _age(path, 100)
    events = _events(source, checkpoint)
    assert _upserts(events) == []
    remembered = json.loads(_checkpoint(events))["files"]["export.mrc"]
    assert remembered["mtime_ns"] == path.stat().st_mtime_ns


def test_a_sync_broken_off_resumes_after_the_last_mark(tmp_path: Path, vie: list[Record]) -> None:
    """Stopping after the first file's Mark and resuming from it reads only the rest."""
    folder = _folder(tmp_path)
    _write(folder / "1.mrc", vie[:40], order=1)
    _write(folder / "2.mrc", vie[40:80], order=2)
    _write(folder / "3.mrc", vie[80:], order=3)
    source = _source(folder)
    stream = source.changes(None, overlap_seconds=0)
    first_mark = next(e for e in stream if isinstance(e, Mark))
    events = _events(source, first_mark.checkpoint)
    assert _upserts(events) == _ids(vie[40:])


def test_leader_05_d_records_are_deletions(tmp_path: Path, vie: list[Record]) -> None:
    """Records with record status 'd' (MARC's "deleted") become Deletion events, in file
    order among the upserts; the rest are upserts."""
    folder = _folder(tmp_path)
    records = vie_records(10)
    for record in records[2], records[7]:
        record.leader = Leader(str(record.leader)[:5] + "d" + str(record.leader)[6:])
    _write(folder / "delta.mrc", records, order=1)
    events = [e for e in _events(_source(folder)) if isinstance(e, Upsert | Deletion)]
    ids = _ids(vie[:10])
    assert [(type(e).__name__, e.local_id) for e in events] == [
        ("Deletion" if i in (2, 7) else "Upsert", ids[i]) for i in range(10)
    ]


def test_a_file_that_cannot_be_read_holds_back_the_newer_ones(
    tmp_path: Path, vie: list[Record]
) -> None:
    """A delta file that cannot be read now (here: gone between the listing and its
    turn) stops the pass: the newer file after it is not applied or remembered, so when
    the older one can be read it is applied first, and the newer one after it."""
    folder = _folder(tmp_path)
    _write(folder / "1.mrc", vie[:3], order=1)
    second = _write(folder / "2.mrc", vie[3:6], order=2)
    _write(folder / "3.mrc", vie[6:9], order=3)
    saved = second.read_bytes()
    stamp = second.stat().st_mtime_ns
    source = _source(folder)
    events: list[Event] = []
    for event in resolve(source.changes(None, overlap_seconds=0), source.legacy):
        events.append(event)
        if isinstance(event, Mark) and second.exists():
            second.unlink()  # after 1.mrc's Mark, before 2.mrc is read
    assert _upserts(events) == _ids(vie[:3])
    reasons = " | ".join(p.reason for p in _problems(events))
    assert "file not read" in reasons and "3.mrc" in reasons and "until 2.mrc" in reasons
    assert set(json.loads(_checkpoint(events))["files"]) == {"1.mrc"}
    second.write_bytes(saved)
    os.utime(second, ns=(stamp, stamp))
    later = _events(source, _checkpoint(events))
    assert _upserts(later) == _ids(vie[3:9])
    assert not _problems(later)


def test_a_delta_file_older_than_one_applied_is_reported_not_applied(
    tmp_path: Path, vie: list[Record]
) -> None:
    """A delta file arriving with an older time than one already applied (restored from
    a backup) would bring back old versions: it is a Problem and not read, even after the
    newer file has left the folder; touched (a new time), it is applied."""
    folder = _folder(tmp_path)
    newer = _write(folder / "new.mrc", vie[:3], order=10)
    source = _source(folder)
    checkpoint = _checkpoint(_events(source))
    assert json.loads(checkpoint)["newest"] == newer.stat().st_mtime_ns
    newer.unlink()
    old = _write(folder / "old.mrc", vie[:5], order=1)
    events = _events(source, checkpoint)
    assert _upserts(events) == []
    (problem,) = _problems(events)
    assert problem.where == "old.mrc" and "before a file already applied" in problem.reason
    assert "touch" in problem.reason
    assert _events(source, _checkpoint(events)) == [Mark(_checkpoint(events))]
    _age(old, 20)
    touched = _events(source, _checkpoint(events))
    assert _upserts(touched) == _ids(vie[:5]) and not _problems(touched)


def test_a_checkpoint_without_the_newest_time_takes_it_from_its_files(
    tmp_path: Path, vie: list[Record]
) -> None:
    """A checkpoint written before the newest applied time was kept still stops an older
    delta file: the time comes from the files it remembers as read."""
    folder = _folder(tmp_path)
    _write(folder / "new.mrc", vie[:3], order=10)
    source = _source(folder)
    data = json.loads(_checkpoint(_events(source)))
    del data["newest"]
    _write(folder / "old.mrc", vie[:5], order=1)
    events = _events(source, json.dumps(data))
    assert _upserts(events) == []
    assert [p.where for p in _problems(events)] == ["old.mrc"]


def test_delta_exports_cannot_list_ids(tmp_path: Path, vie: list[Record]) -> None:
    """A delta folder is not the whole catalogue: current_ids is None."""
    folder = _folder(tmp_path)
    _write(folder / "a.mrc", vie[:3], order=1)
    assert _source(folder).current_ids() is None


# -- full exports ---------------------------------------------------------------------------


def test_full_export_gives_complete_with_exactly_its_ids(tmp_path: Path, vie: list[Record]) -> None:
    """Only the newest of several waiting full exports is read; the older ones are named
    as superseded; its upserts are followed by Complete(its ids) and a Mark."""
    folder = _folder(tmp_path)
    _copy(VIE_121, folder / "2026-11-30.mrc", order=1)
    _write(folder / "2026-12-01.mrc", vie[:100], order=2)
    source = _source(folder, export="full")
    events = _events(source)
    assert _upserts(events) == _ids(vie[:100])
    complete = [e for e in events if isinstance(e, Complete)]
    assert complete == [Complete(frozenset(_ids(vie[:100])), "full export 2026-12-01.mrc")]
    assert events.index(complete[0]) == len(events) - 2
    (superseded,) = _problems(events)
    assert "2026-11-30.mrc" in superseded.reason and "superseded" in superseded.reason
    assert set(json.loads(_checkpoint(events))["files"]) == {"2026-11-30.mrc", "2026-12-01.mrc"}
    ids = source.current_ids()
    assert ids is not None and set(ids) == set(_ids(vie[:100]))


def test_full_export_unchanged_lists_ids_without_the_stream(
    tmp_path: Path, vie: list[Record]
) -> None:
    """After a sync, a fresh source (no cache) lists the newest file's ids for
    reconciliation, and the stream itself is just the Mark."""
    folder = _folder(tmp_path)
    _write(folder / "full.mrc", vie[:30], order=1)
    checkpoint = _checkpoint(_events(_source(folder, export="full")))
    fresh = _source(folder, export="full")
    assert _events(fresh, checkpoint) == [Mark(checkpoint)]
    ids = fresh.current_ids()
    assert ids is not None and sorted(ids) == sorted(_ids(vie[:30]))


def test_an_old_file_arriving_late_does_not_replace_the_newest_export(
    tmp_path: Path, vie: list[Record]
) -> None:
    """A full export with an older time than the one already read (copied back from a
    backup) is superseded, not read: the catalogue does not go back in time."""
    folder = _folder(tmp_path)
    _write(folder / "new.mrc", vie[:50], order=10)
    source = _source(folder, export="full")
    checkpoint = _checkpoint(_events(source))
    _write(folder / "old.mrc", vie[:5], order=1)
    events = _events(source, checkpoint)
    assert _upserts(events) == [] and not any(isinstance(e, Complete) for e in events)
    assert "old.mrc" in _problems(events)[0].reason
    assert "old.mrc" in json.loads(_checkpoint(events))["files"]


def test_a_stray_newer_file_is_not_taken_for_the_full_export(
    tmp_path: Path, vie: list[Record]
) -> None:
    """A log file written after the export is named as not MARC, and the newest MARC
    file is still the catalogue (for the stream and for current_ids)."""
    folder = _folder(tmp_path)
    _write(folder / "full.mrc", vie[:8], order=1)
    (folder / "export.log").write_text("exported 8 records\n", "utf-8")
    _age(folder / "export.log", 2)
    source = _source(folder, export="full")
    events = _events(source)
    (complete,) = [e for e in events if isinstance(e, Complete)]
    assert complete.ids == frozenset(_ids(vie[:8]))
    assert [p.where for p in _problems(events)] == ["export.log"]
    ids = _source(folder, export="full").current_ids()
    assert ids is not None and set(ids) == set(_ids(vie[:8]))


def test_full_export_leaves_deleted_records_out_of_its_listing(
    tmp_path: Path, vie: list[Record]
) -> None:
    """In a full export, a leader/05 'd' record is a Deletion and not in the Complete."""
    folder = _folder(tmp_path)
    records = vie_records(5)
    records[1].leader = Leader(str(records[1].leader)[:5] + "d" + str(records[1].leader)[6:])
    _write(folder / "full.mrc", records, order=1)
    events = _events(_source(folder, export="full"))
    ids = _ids(vie[:5])
    assert [e.local_id for e in events if isinstance(e, Deletion)] == [ids[1]]
    (complete,) = [e for e in events if isinstance(e, Complete)]
    assert complete.ids == frozenset(ids) - {ids[1]}


def test_a_full_export_cut_short_gives_no_listing(tmp_path: Path) -> None:
    """A full export whose last record is truncated may be missing records, so its good
    records come but no Complete (nothing is deleted), and current_ids refuses too."""
    folder = _folder(tmp_path)
    data = VIE_121.read_bytes()
    (folder / "cut.mrc").write_bytes(data[: len(data) // 2])
    _age(folder / "cut.mrc", 1)
    source = _source(folder, export="full")
    events = _events(source)
    assert len(_upserts(events)) > 50
    assert not any(isinstance(e, Complete) for e in events)
    assert any("cut short" in p.reason for p in _problems(events))
    assert _source(folder, export="full").current_ids() is None


def test_a_full_marcxml_export_with_a_record_without_id_deletes_nothing(
    tmp_path: Path, vie: list[Record]
) -> None:
    """A MARCXML full export whose middle record has no 001 cannot list the catalogue
    (that record may be one the store holds): no Complete, a Problem saying why, no
    current_ids; synced by the engine, nothing stored before is deleted."""
    folder = _folder(tmp_path)
    config = write_config(tmp_path, [{"name": "s", "library": "buon-ho", "kind": "marc-folder",
                                      "path": str(folder), "export": "full"}])  # fmt: skip
    store = open_store(config.store_location)
    first = folder / "2026-12-01.xml"
    first.write_text(marcxml_collection(vie[:6]), "utf-8")
    _age(first, 1)
    sync_source(store, config, "s", adapter=_source(folder, export="full"))
    assert sorted(store.local_ids("buon-ho")) == sorted(_ids(vie[:6]))
    records = vie_records(6)
    records[2].remove_fields("001")
    second = folder / "2026-12-02.xml"
    second.write_text(marcxml_collection(records), "utf-8")
    _age(second, 2)
    events = _events(_source(folder, export="full"))
    assert not any(isinstance(e, Complete) for e in events)
    assert any(
        p.where == "2026-12-02.xml" and "were not deleted, because 1 record" in p.reason
        for p in _problems(events)
    )
    assert _source(folder, export="full").current_ids() is None
    report = sync_source(store, config, "s", adapter=_source(folder, export="full"))
    assert report.written.deleted == 0
    assert sorted(store.local_ids("buon-ho")) == sorted(_ids(vie[:6]))


def test_a_full_json_export_with_an_unreadable_record_gives_no_listing(
    tmp_path: Path, vie: list[Record]
) -> None:
    """A MARC-in-JSON lines export with a broken line in the middle (not at its end, so
    it does not look cut short) gives its good records but no Complete."""
    folder = _folder(tmp_path)
    lines = [marc_json_text(r) for r in vie[:5]]
    lines[2] = lines[2][: len(lines[2]) // 2]
    (folder / "full.json").write_text("\n".join(lines) + "\n", "utf-8")
    _age(folder / "full.json", 1)
    events = _events(_source(folder, export="full"))
    assert _upserts(events) == [i for n, i in enumerate(_ids(vie[:5])) if n != 2]
    assert not any(isinstance(e, Complete) for e in events)
    assert any("not deleted" in p.reason for p in _problems(events))
    assert _source(folder, export="full").current_ids() is None


def test_an_empty_full_export_is_passed_on_as_empty(tmp_path: Path, vie: list[Record]) -> None:
    """An empty newest export is an empty Complete: the engine's safety rule, not the
    adapter, decides that it must not wipe the catalogue without --force."""
    folder = _folder(tmp_path)
    _write(folder / "good.mrc", vie[:5], order=1)
    (folder / "empty.mrc").write_bytes(b"")
    _age(folder / "empty.mrc", 2)
    events = _events(_source(folder, export="full"))
    assert [e for e in events if isinstance(e, Complete)] == [
        Complete(frozenset(), "full export empty.mrc")
    ]
    assert _upserts(events) == []


# -- formats and character sets ---------------------------------------------------------------


def test_marc8_vietnamese_comes_back_as_the_original_text(
    tmp_path: Path, vie: list[Record]
) -> None:
    """Vietnamese records written in MARC-8 (marks before letters, no precomposed
    characters) read back as the exact NFC text of the original."""
    folder = _folder(tmp_path)
    path = _write(folder / "marc8.mrc", vie[:20], order=1, marc8=True)
    assert path.read_bytes()[9:10] == b" "  # LDR/09 blank: MARC-8
    upserts = [e for e in _events(_source(folder)) if isinstance(e, Upsert)]
    assert [u.local_id for u in upserts] == _ids(vie[:20])
    title = upserts[0].record["245"].value()
    assert title == (
        "Ngôi chùa, một vùng tâm thức, một vùng thi ca = Thiền lâm chư gia đề vịnh thi / "
        "Nguyên Hiệp-Nguyễn Khắc Mai biên soạn."
    )
    for upsert, original in zip(upserts, vie[:20], strict=True):
        assert [f.value() for f in upsert.record.fields] == [f.value() for f in original.fields]


def test_real_marc8_file_reads_with_its_diacritics(tmp_path: Path) -> None:
    """The MARC-8 jazz file: 999 records with a 001 come through with their accented
    letters decoded; the one without a 001 is a Problem naming its place."""
    folder = _folder(tmp_path)
    _copy(JAZZ_MARC8, folder / "jazz.mrc", order=1)
    events = _events(_source(folder))
    upserts = {e.local_id: e for e in events if isinstance(e, Upsert)}
    assert len(upserts) == 999
    assert upserts["03-0017438"].record["245"]["a"] == "The Köln concert"
    assert upserts["03-0016340"].record["100"]["a"] == "Durán, Hilario"
    (problem,) = _problems(events)
    assert problem.where.startswith("jazz.mrc, record 987 at byte ")
    assert problem.reason == "record has no 001; not stored"


@pytest.mark.parametrize("declared", ["a", " "], ids=["claims-utf8", "claims-marc8"])
def test_tcvn3_exports_are_converted(tmp_path: Path, vie: list[Record], declared: str) -> None:
    """An old ILS's TCVN3 bytes, whatever the leader claims, come out as the Unicode
    originals (the library's legacy setting is auto) and give no problems."""
    folder = _folder(tmp_path)
    (folder / "abc.mrc").write_bytes(legacy_iso2709(vie[:25], LegacyEncoding.TCVN3, declared))
    _age(folder / "abc.mrc", 1)
    events = _events(_source(folder))
    upserts = [e for e in events if isinstance(e, Upsert)]
    assert not _problems(events)
    titles = [normalize_record(u.record)["245"]["a"] for u in upserts]
    assert titles == [r["245"]["a"] for r in vie[:25]]


def test_legacy_off_leaves_tcvn3_unconverted(tmp_path: Path, vie: list[Record]) -> None:
    """With legacy_vietnamese off the bytes are not guessed at: the damage is reported
    as a repair and the titles are not the originals."""
    folder = _folder(tmp_path)
    (folder / "abc.mrc").write_bytes(legacy_iso2709(vie[:5], LegacyEncoding.TCVN3, "a"))
    _age(folder / "abc.mrc", 1)
    source = _source(folder, legacy=LegacyMode.OFF)
    events = _events(source)
    assert all("U+FFFD" in p.reason for p in _problems(events)) and _problems(events)
    titles = [e.record["245"]["a"] for e in events if isinstance(e, Upsert)]
    assert all("\ufffd" in title for title in titles)


def test_marcxml_and_iso2709_files_mix_in_one_folder(tmp_path: Path, vie: list[Record]) -> None:
    """MARCXML files are read like ISO 2709 ones, whatever their names."""
    folder = _folder(tmp_path)
    (folder / "export.dat").write_text(marcxml_collection(vie[:30]), "utf-8")
    _age(folder / "export.dat", 1)
    _write(folder / "more", vie[30:40], order=2)
    events = _events(_source(folder))
    assert _upserts(events) == _ids(vie[:40])
    first = next(e for e in events if isinstance(e, Upsert))
    assert first.record["245"]["a"] == vie[0]["245"]["a"]


def test_marcxml_deletions_and_vietnamese_ids(tmp_path: Path) -> None:
    """A MARCXML export marks deletions in its leader too; an id in decomposed Unicode
    (as some systems write Vietnamese) is given in NFC, so it always matches itself."""
    folder = _folder(tmp_path)
    gone = make_marc("B-2", "Đã xoá")
    gone.leader = Leader("00000dam a2200000 i 4500")
    records = [make_marc("B-1", "Còn"), gone, make_marc("placeholder", "Mã lạ")]
    records[2]["001"].data = "Sách-3"  # decomposed "Sách-3"
    (folder / "delta.xml").write_text(marcxml_collection(records), "utf-8")
    _age(folder / "delta.xml", 1)
    events = [e for e in _events(_source(folder)) if isinstance(e, Upsert | Deletion)]
    assert [(type(e).__name__, e.local_id) for e in events] == [
        ("Upsert", "B-1"), ("Deletion", "B-2"), ("Upsert", "Sách-3")
    ]  # fmt: skip
    assert events[2].local_id == "Sách-3"


# -- bad files and bad records ------------------------------------------------------------------


def test_broken_files_give_problems_while_good_records_still_come(tmp_path: Path) -> None:
    """The damaged marc4j files: no exception, every problem names its file and record,
    and each file still gives its readable records."""
    folder = _folder(tmp_path)
    broken = sorted(BROKEN.glob("*.mrc"))
    for order, path in enumerate(broken):
        _copy(path, folder / path.name, order)
    events = _events(_source(folder))
    problems = _problems(events)
    assert problems
    names = {p.name for p in broken}
    for problem in problems:
        file, _, place = problem.where.partition(", ")
        assert file in names and place.startswith("record "), problem
    unreadable = [p for p in problems if p.reason.endswith("record not read")]
    assert {p.where.split(",")[0] for p in unreadable} == {
        "bad_hathi_records.mrc",
        "bad_oversize_field_bad_directory.mrc",
    }
    # 21 records in all, 2 unreadable: 19 upserts, and every file gives some (one Mark each).
    assert len(_upserts(events)) == 19
    per_file: list[int] = [0]
    for event in events:
        if isinstance(event, Mark):
            per_file.append(0)
        elif isinstance(event, Upsert):
            per_file[-1] += 1
    assert len(per_file) == len(broken) + 1 and all(per_file[: len(broken)])
    assert set(json.loads(_checkpoint(events))["files"]) == names


def test_a_file_that_is_not_marc_is_named_once(tmp_path: Path, vie: list[Record]) -> None:
    """A stray text file is a Problem naming it (not a SourceError); the good file is
    read; the next sync does not complain about the same file again."""
    folder = _folder(tmp_path)
    (folder / "README.txt").write_text("Thư mục xuất dữ liệu\n", "utf-8")
    _age(folder / "README.txt", 1)
    _write(folder / "data.mrc", vie[:3], order=2)
    source = _source(folder)
    events = _events(source)
    assert _upserts(events) == _ids(vie[:3])
    (problem,) = _problems(events)
    assert problem.where == "README.txt" and "not a MARC file" in problem.reason
    assert _events(source, _checkpoint(events)) == [Mark(_checkpoint(events))]


def test_records_without_the_id_field_are_problems_not_records(tmp_path: Path) -> None:
    """A record lacking 001 is not stored: a Problem gives file and record number."""
    folder = _folder(tmp_path)
    records = [make_marc("A1", "Một"), make_marc("A2", "Hai"), make_marc("A3", "Ba")]
    records[1].remove_fields("001")
    _write(folder / "x.mrc", records, order=1)
    events = _events(_source(folder))
    assert _upserts(events) == ["A1", "A3"]
    (problem,) = _problems(events)
    assert problem.where.startswith("x.mrc, record 2 at byte ")
    assert problem.reason == "record has no 001; not stored"


def test_duplicate_ids_in_one_file_last_wins(tmp_path: Path) -> None:
    """The same id twice in a file, synced by the engine: a problem names the id, the
    later record is the one stored, and the full listing deletes nothing else."""
    folder = _folder(tmp_path)
    records = [make_marc("B1", "Cũ"), make_marc("B2", "Khác"), make_marc("B1", "Mới")]
    _write(folder / "dup.mrc", records, order=1)
    config = write_config(tmp_path, [{"name": "s", "library": "buon-ho", "kind": "marc-folder",
                                      "path": str(folder), "export": "full"}])  # fmt: skip
    store = open_store(config.store_location)
    report = sync_source(store, config, "s", adapter=_source(folder, export="full"))
    (problem,) = report.problem_texts  # the engine's wording: "id B1: given twice ..."
    assert problem.startswith("id B1: given twice") and "later record is kept" in problem
    assert sorted(store.local_ids("buon-ho")) == ["B1", "B2"]
    assert store.get("buon-ho", "B1").marc["245"]["a"] == "Mới"
    assert report.written.new == 2 and report.written.deleted == 0


# -- id rules ----------------------------------------------------------------------------------


def _with(record: Record, *fields: Field) -> Record:
    for fld in fields:
        record.add_ordered_field(fld)
    return record


def test_id_rule_001_plus_003(tmp_path: Path) -> None:
    """001+003 gives "<003>:<001>", or the 001 alone when the record has no 003."""
    folder = _folder(tmp_path)
    records = [
        _with(make_marc("100", "Một"), Field(tag="003", data="VN-TVQG")),
        make_marc("100", "Hai"),
        _with(make_marc("7", "Ba"), Field(tag="003", data=" DLK ")),
    ]
    _write(folder / "ids.mrc", records, order=1)
    events = _events(_source(folder, id_rule="001+003"))
    assert _upserts(events) == ["VN-TVQG:100", "100", "DLK:7"]
    assert not _problems(events)


@pytest.mark.parametrize("rule", ["035$a", "999$c"])
def test_id_rule_from_a_subfield(tmp_path: Path, rule: str) -> None:
    """TAG$code takes the first non-empty value of that subfield; a record without it
    is a Problem saying which field is missing."""
    tag, code = rule.split("$")
    folder = _folder(tmp_path)

    def field(*values: str) -> Field:
        return Field(
            tag=tag, indicators=Indicators(" ", " "), subfields=[Subfield(code, v) for v in values]
        )

    records = [
        _with(make_marc("1", "Một"), field("  ", "ID-1")),
        _with(make_marc("2", "Hai"), field(" ID-2 ")),
        make_marc("3", "Ba"),
    ]
    _write(folder / "ids.mrc", records, order=1)
    events = _events(_source(folder, id_rule=rule))
    assert _upserts(events) == ["ID-1", "ID-2"]
    (problem,) = _problems(events)
    assert problem.reason == f"record has no {tag} ${code}; not stored"


def test_unknown_id_rule_is_a_configuration_error(tmp_path: Path) -> None:
    """An id rule the folder source cannot apply is refused when the source is opened,
    as a SourceError that retrying cannot fix."""
    with pytest.raises(ValueError, match="id_rule"):
        IdRule("245")
    settings = SourceSettings("ilib", "lib", "marc-folder",
                              {"path": str(tmp_path), "id_rule": "identifier"})  # fmt: skip
    with pytest.raises(SourceError, match="id_rule 'identifier'") as caught:
        open_source(settings)
    assert caught.value.retryable is False


# -- unfinished files and the folder -------------------------------------------------------------


def test_files_still_being_written_wait_for_the_next_sync(
    tmp_path: Path, vie: list[Record]
) -> None:
    """A file modified within the settle time is not read or remembered; once it has
    settled it is read."""
    folder = _folder(tmp_path)
    _write(folder / "old.mrc", vie[:2], order=1)
    (folder / "fresh.mrc").write_bytes(b"".join(encode_iso2709(r) for r in vie[2:4]))
    patient = MarcFolderSource(folder, settle_seconds=60)
    events = _events(patient)
    assert _upserts(events) == _ids(vie[:2])
    assert set(json.loads(_checkpoint(events))["files"]) == {"old.mrc"}
    later = _events(_source(folder), _checkpoint(events))
    assert _upserts(later) == _ids(vie[2:4])


def test_hidden_and_temporary_files_are_ignored(tmp_path: Path, vie: list[Record]) -> None:
    """Dotfiles and the names of unfinished copies (.part, .tmp, ~) are never read."""
    folder = _folder(tmp_path)
    for order, name in enumerate([".hidden.mrc", "x.mrc.part", "y.TMP", "z.mrc~", "~lock.mrc"]):
        _write(folder / name, vie[order : order + 1], order)
    _write(folder / "real.mrc", vie[10:11], order=10)
    events = _events(_source(folder))
    assert _upserts(events) == _ids(vie[10:11])
    assert set(json.loads(_checkpoint(events))["files"]) == {"real.mrc"}


def test_a_missing_folder_is_a_retryable_source_error(tmp_path: Path) -> None:
    """A folder that does not exist (an unmounted share) stops the sync with a plain
    message; trying again later may help."""
    options = {"path": str(tmp_path / "gone"), "export": "full"}
    source = open_source(SourceSettings("ilib", "lib", "marc-folder", options))
    for call in (lambda: _events(source), source.current_ids, source.sample):
        with pytest.raises(SourceError, match="does not exist") as caught:
            call()
        assert caught.value.retryable is True
        assert str(tmp_path / "gone") in str(caught.value)


def test_a_checkpoint_that_is_not_ours_reads_everything_again(
    tmp_path: Path, vie: list[Record]
) -> None:
    """A checkpoint the source cannot understand is reported and ignored (re-reading is
    harmless)."""
    folder = _folder(tmp_path)
    _write(folder / "a.mrc", vie[:4], order=1)
    events = _events(_source(folder), "2026-12-01T00:00:00Z")
    assert _upserts(events) == _ids(vie[:4])
    assert _problems(events)[0].where == "checkpoint"


# -- open_source and sample -----------------------------------------------------------------------


def test_open_source_uses_the_config_entry(tmp_path: Path) -> None:
    """The factory reads path, export, id_rule and the library's legacy setting."""
    settings = SourceSettings("ilib", "lib", "marc-folder",
                              {"path": str(tmp_path), "export": "full", "id_rule": "001+003"},
                              legacy="tcvn3")  # fmt: skip
    source = open_source(settings)
    assert isinstance(source, BibliographicSource)
    assert (source.folder, source.full, source.id_rule.rule) == (tmp_path, True, "001+003")
    assert source.legacy is LegacyMode.TCVN3
    source.close()
    with pytest.raises(SourceError, match="path"):
        open_source(SourceSettings("ilib", "lib", "marc-folder", {"path": None}))


def test_sample_describes_the_folder_and_the_newest_file(tmp_path: Path) -> None:
    """sources test: files counted by format, the newest file's record count, its first
    records, and what is wrong in it counted in plain words."""
    folder = _folder(tmp_path)
    _copy(LOC_5000, folder / "big.mrc", order=1)
    (folder / "mid.xml").write_text(marcxml_collection(vie_records(3)), "utf-8")
    _age(folder / "mid.xml", 2)
    _copy(JAZZ_MARC8, folder / "newest.iso", order=3)
    sample = _source(folder).sample(limit=3)
    assert sample.summary.startswith(
        f"folder {folder}: 3 MARC files (2 ISO 2709, 1 MARCXML), 999 records in the newest "
        "(newest.iso)"
    )
    assert [r.local_id for r in sample.records] == ["03-0018137", "03-0018070", "03-0018058"]
    assert "1 record has no 001" in sample.problems
