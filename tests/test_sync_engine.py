"""The sync engine's rules: checkpoints after commits, listings and the safety threshold,
failures and back-off, one sync per source at a time, passwords kept out of errors."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymarc import Subfield

from adapters.interface import Complete, Deletion, Encoded, Mark, Problem, SourceError, Upsert
from gateway.config import Config
from gateway.importer import import_files
from gateway.marcfile import frame_iso2709
from gateway.record import Item
from gateway.store import RecordStore, open_store
from gateway.sync import SourceStatus, SyncBusy, sync_source
from gateway.sync.engine import BATCH_SIZE
from gateway.sync.overview import source_overview
from gateway.sync.status import FIRST_RETRY_SECONDS, retry_delay

from .conftest import VIE_121
from .records import make_marc
from .sync_helpers import ScriptedSource, write_config

LIBRARY = "dlk-tinh"


def _config(tmp_path: Path, **entry: object) -> Config:
    source = {"name": "s", "library": LIBRARY, "kind": "marc-folder", "path": "x",
              "reconcile_hours": 0, **entry}  # fmt: skip
    return write_config(tmp_path, [source])


def _up(local_id: str, title: str = "Truyện Kiều") -> Upsert:
    return Upsert(local_id, make_marc(local_id, title))


def _live(store: RecordStore) -> dict[str, str]:
    """local id -> title of every live record of the library."""
    found = {}
    for local_id in store.local_ids(LIBRARY):
        record = store.get(LIBRARY, local_id)
        assert record is not None and record.marc is not None
        found[local_id] = record.marc["245"]["a"]
    return found


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A configuration with one source, s, feeding dlk-tinh (never reconciling by itself)."""
    return _config(tmp_path)


@pytest.fixture
def store(config: Config) -> RecordStore:
    """The configuration's own store."""
    return open_store(config.store_location)


def test_changes_are_stored_and_the_checkpoint_comes_back(config: Config, store: RecordStore):
    """Upserts land in the store under the library; the mark's checkpoint is saved and is
    what the adapter gets next time; an unchanged re-read leaves everything as it was."""
    source = ScriptedSource([
        [_up("1", "Truyện Kiều"), _up("2", "Đất rừng phương Nam"), Mark("cp-1")],
        [_up("2", "Đất rừng phương Nam"), _up("3", "Số đỏ"), Mark("cp-2")],
    ])  # fmt: skip
    first = sync_source(store, config, "s", adapter=source)
    before = store.get(LIBRARY, "2")
    second = sync_source(store, config, "s", adapter=source)
    assert source.checkpoints == [None, "cp-1"]
    assert (first.written.new, second.written.new, second.written.unchanged) == (2, 1, 1)
    assert _live(store) == {"1": "Truyện Kiều", "2": "Đất rừng phương Nam", "3": "Số đỏ"}
    after = store.get(LIBRARY, "2")
    assert before is not None and after is not None
    # Same datestamp and version: harvesters see no change.
    assert (after.datestamp, after.version) == (before.datestamp, before.version)
    status = SourceStatus.from_state(store.sync_state("s"))
    assert (status.checkpoint, status.failures, status.last_error) == ("cp-2", 0, None)
    assert status.counts == {"read": 2, "new": 1, "updated": 0, "unchanged": 1, "deleted": 0,
                             "problems": 0}  # fmt: skip
    namespace = config.values["gateway"]["oai_namespace"]
    assert store.get(LIBRARY, "1").oai_identifier == f"oai:{namespace}:dlk-tinh/1"


def test_a_failure_keeps_what_was_committed_and_resumes_at_the_last_mark(
    config: Config, store: RecordStore
):
    """A source failing half-way keeps the records committed at the mark before, keeps
    that checkpoint, counts the failure and schedules a retry; the next success clears it."""
    source = ScriptedSource([
        [_up("1"), _up("2"), Mark("after-2"), _up("3"), SourceError("provider went away")],
        [_up("3"), _up("4"), Mark("after-4")],
    ])  # fmt: skip
    failed = sync_source(store, config, "s", adapter=source)
    assert not failed.ok and failed.error == "provider went away"
    assert sorted(_live(store)) == ["1", "2", "3"]  # what was read is kept, not lost
    status = SourceStatus.from_state(store.sync_state("s"))
    assert (status.checkpoint, status.failures) == ("after-2", 1)
    assert status.last_error == "provider went away"
    assert status.retry_at is not None and status.last_success is None
    done = sync_source(store, config, "s", adapter=source)
    assert done.ok and source.checkpoints == [None, "after-2"]
    status = SourceStatus.from_state(store.sync_state("s"))
    assert (status.checkpoint, status.failures, status.retry_at, status.last_error) == (
        "after-4", 0, None, None)  # fmt: skip
    assert sorted(_live(store)) == ["1", "2", "3", "4"]


def test_an_unexpected_exception_is_this_sources_error_only(config: Config, store: RecordStore):
    """A bug in an adapter is recorded as the source's error (its type named); the call
    returns normally so the other sources are synced."""
    source = ScriptedSource([[_up("1"), ZeroDivisionError("division by zero")]])
    report = sync_source(store, config, "s", adapter=source)
    assert report.error == "unexpected error (ZeroDivisionError: division by zero)"
    assert SourceStatus.from_state(store.sync_state("s")).failures == 1
    assert sorted(_live(store)) == ["1"]


def test_deletions_become_tombstones_in_order(config: Config, store: RecordStore):
    """A deletion after an upsert of the same id in one batch wins, and an upsert after a
    deletion revives the record: order is kept within a batch."""
    sync_source(store, config, "s", adapter=ScriptedSource([[_up("1"), _up("2"), Mark("a")]]))
    source = ScriptedSource([[_up("3"), Deletion("3"), Deletion("1"), _up("1", "Mới"),
                              Deletion("2"), Mark("b")]])  # fmt: skip
    report = sync_source(store, config, "s", adapter=source)
    assert _live(store) == {"1": "Mới"}
    assert store.get(LIBRARY, "2").deleted and store.get(LIBRARY, "3").deleted
    assert report.read == 5


def test_a_listing_tombstones_exactly_the_missing_records(config: Config, store: RecordStore):
    """A complete listing deletes the library's live records it does not name, and only
    those (the listing's own new records are kept)."""
    first = [*(_up(str(n)) for n in range(1, 11)), Mark("a")]
    sync_source(store, config, "s", adapter=ScriptedSource([first]))
    listing = [_up("11"), Complete(frozenset({str(n) for n in range(1, 9)} | {"11"})), Mark("b")]
    report = sync_source(store, config, "s", adapter=ScriptedSource([listing]))
    assert sorted(_live(store), key=int) == ["1", "2", "3", "4", "5", "6", "7", "8", "11"]
    assert report.written.deleted == 2 and report.withheld == 0
    assert store.get(LIBRARY, "9").deleted and store.get(LIBRARY, "10").deleted


@pytest.mark.parametrize("kept", [0, 4], ids=["empty listing", "less than half"])
def test_an_implausible_listing_deletes_nothing_without_force(
    config: Config, store: RecordStore, kept: int
):
    """An empty listing, or one that would delete more than half of what is stored, is
    held back (reported, state 'needs attention'); with force it is applied."""
    sync_source(store, config, "s", adapter=ScriptedSource([[*(_up(str(n)) for n in range(10)),
                                                             Mark("a")]]))  # fmt: skip
    listing = Complete(frozenset(str(n) for n in range(kept)), "full export kho.mrc")
    report = sync_source(store, config, "s", adapter=ScriptedSource([[listing, Mark("b")]]))
    assert len(_live(store)) == 10 and report.withheld == 10 - kept and report.ok
    assert report.withheld_reason is not None
    assert report.withheld_reason.startswith(f"full export kho.mrc has {kept} records but "
                                             "the store has 10 of library dlk-tinh")  # fmt: skip
    assert "lienthong sources sync s --full --force" in report.withheld_reason
    status = SourceStatus.from_state(store.sync_state("s"))
    assert status.withheld == 10 - kept and status.last_error == report.withheld_reason
    assert status.checkpoint == "b"
    forced = sync_source(store, config, "s", force=True,
                         adapter=ScriptedSource([[listing, Mark("c")]]))  # fmt: skip
    assert forced.withheld == 0 and len(_live(store)) == kept
    assert SourceStatus.from_state(store.sync_state("s")).withheld == 0


def test_full_ignores_the_checkpoint_and_reconciles_with_current_ids(
    config: Config, store: RecordStore
):
    """--full starts from nothing and compares every id with the source's own list."""
    sync_source(store, config, "s", adapter=ScriptedSource([[*(_up(str(n)) for n in range(6)),
                                                             Mark("a")]]))  # fmt: skip
    source = ScriptedSource([[_up("0"), Mark("z")]], ids=["0", "1", "2", "3", "4"])
    report = sync_source(store, config, "s", full=True, adapter=source)
    assert source.checkpoints == [None] and report.reconciled
    assert sorted(_live(store)) == ["0", "1", "2", "3", "4"]
    assert SourceStatus.from_state(store.sync_state("s")).last_reconcile is not None


def test_reconciliation_runs_when_due(tmp_path: Path):
    """With reconcile_hours set, the first sync and then one a day compare ids; the ones
    in between do not ask for the list."""
    config = _config(tmp_path, reconcile_hours=24)
    store = open_store(config.store_location)
    asked: list[int] = []

    class Counting(ScriptedSource):
        def current_ids(self):  # type: ignore[no-untyped-def]
            asked.append(1)
            return super().current_ids()

    clock = [datetime(2026, 12, 1, 8, tzinfo=UTC)]
    runs = [[_up("1"), _up("2"), Mark("a")], [Mark("b")], [Mark("c")]]
    source = Counting(runs, ids=["1"])
    sync_source(store, config, "s", adapter=source, now=lambda: clock[0])
    assert len(asked) == 1 and sorted(_live(store)) == ["1"]
    clock[0] += timedelta(hours=2)
    sync_source(store, config, "s", adapter=source, now=lambda: clock[0])
    assert len(asked) == 1
    clock[0] += timedelta(hours=23)
    sync_source(store, config, "s", adapter=source, now=lambda: clock[0])
    assert len(asked) == 2


def test_a_source_that_cannot_list_says_so(config: Config, store: RecordStore):
    """--full with a source that cannot list its ids notes that deletions are not seen."""
    report = sync_source(store, config, "s", full=True,
                         adapter=ScriptedSource([[_up("1"), Mark("a")]], ids=None))  # fmt: skip
    assert not report.reconciled and report.notes and "cannot list" in report.notes[0]


def test_items_from_the_source_replace_852(config: Config, store: RecordStore):
    """Copies the source gives are stored as the record's items; without them, 852."""
    copies = (Item(library=LIBRARY, barcode="DLK-0001", location="Kho mở"),)
    source = ScriptedSource([[Upsert("1", make_marc("1", "Truyện Kiều"), items=copies),
                              Mark("a")]])  # fmt: skip
    sync_source(store, config, "s", adapter=source)
    assert store.get(LIBRARY, "1").items == copies


def test_problems_are_counted_and_kept(config: Config, store: RecordStore):
    """Record-level problems do not stop the sync; they are counted and quoted."""
    source = ScriptedSource([[Problem("kho.mrc: record 3", "no 001"), _up("1"), Mark("a")]])
    report = sync_source(store, config, "s", adapter=source)
    assert report.ok and report.problems == 1
    assert report.problem_texts == ["kho.mrc: record 3: no 001"]
    assert SourceStatus.from_state(store.sync_state("s")).counts["problems"] == 1


def test_large_runs_are_committed_in_batches(config: Config, store: RecordStore):
    """More records than one batch all arrive, each exactly once."""
    count = BATCH_SIZE * 2 + 7
    source = ScriptedSource([[*(_up(f"n{n}") for n in range(count)), Mark("a")]])
    report = sync_source(store, config, "s", adapter=source)
    assert report.written.new == count and len(list(store.local_ids(LIBRARY))) == count


def test_one_sync_per_source_at_a_time(config: Config, store: RecordStore):
    """While one sync of a source runs, a second one (another thread or process) is
    refused with SyncBusy and changes nothing."""
    started, release = threading.Event(), threading.Event()

    class Slow(ScriptedSource):
        def changes(self, checkpoint, *, overlap_seconds):  # type: ignore[no-untyped-def]
            started.set()
            release.wait(10)
            yield from super().changes(checkpoint, overlap_seconds=overlap_seconds)

    worker = threading.Thread(target=sync_source, args=(store, config, "s"),
                              kwargs={"adapter": Slow([[_up("1"), Mark("a")]])})  # fmt: skip
    worker.start()
    assert started.wait(10)
    with pytest.raises(SyncBusy):
        sync_source(store, config, "s", adapter=ScriptedSource([[_up("2"), Mark("b")]]))
    release.set()
    worker.join(10)
    assert sorted(_live(store)) == ["1"]


def test_cancel_stops_at_the_next_record(config: Config, store: RecordStore):
    """A shutdown stops a sync between records; committed records stay."""
    cancel = threading.Event()

    class Cancelling(ScriptedSource):
        def changes(self, checkpoint, *, overlap_seconds):  # type: ignore[no-untyped-def]
            yield _up("1")
            yield Mark("a")
            cancel.set()
            yield _up("2")

    report = sync_source(store, config, "s", adapter=Cancelling([]), cancel=cancel)
    assert not report.ok and "shutting down" in (report.error or "")
    assert sorted(_live(store)) == ["1"]
    assert SourceStatus.from_state(store.sync_state("s")).checkpoint == "a"


def test_the_password_never_reaches_the_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An error quoting the database password (some drivers do) is stored without it."""
    monkeypatch.setenv("TEST_DB_PASSWORD", "Bí-mật-123")
    entry = {
        "name": "s",
        "library": LIBRARY,
        "kind": "sql",
        "mapping": "koha",
        "url": "mysql+pymysql://u@127.0.0.1/x",
        "password_env": "TEST_DB_PASSWORD",
    }
    config = write_config(tmp_path, [entry])
    store = open_store(config.store_location)
    failing = ScriptedSource([[SourceError("login u:Bí-mật-123 refused", retryable=False)]])
    report = sync_source(store, config, "s", adapter=failing)
    assert report.error == "login u:*** refused" and not report.retryable
    state = store.sync_state("s")
    assert "Bí-mật-123" not in repr(state)
    assert SourceStatus.from_state(state).retry_at is None  # only a config change helps
    assert os.environ["TEST_DB_PASSWORD"] == "Bí-mật-123"


def test_back_off_doubles_up_to_the_interval():
    """Retries wait 1, 2, 4 ... minutes, never longer than the source's interval."""
    delays = [retry_delay(n, 60).total_seconds() for n in range(1, 9)]
    assert delays == [FIRST_RETRY_SECONDS * f for f in (1, 2, 4, 8, 16, 32)] + [3600, 3600]


def test_due_follows_interval_and_retry():
    """A never-synced source is due; then after its interval; a failed one at retry_at;
    interval 0 means only by hand."""
    now = datetime(2026, 12, 2, 8, tzinfo=UTC)
    assert SourceStatus().due(now, 60) and not SourceStatus().due(now, 0)
    synced = SourceStatus(last_attempt="2026-12-02T07:30:00Z")
    assert not synced.due(now, 60) and synced.due(now, 30)
    failed = SourceStatus(last_attempt="2026-12-02T07:59:00Z", retry_at="2026-12-02T08:01:00Z")
    assert not failed.due(now, 60) and failed.due(now + timedelta(minutes=1), 60)


def _encoded_vie(count: int) -> list[Encoded]:
    frames = list(frame_iso2709(VIE_121))[:count]
    return [Encoded(f.data, "iso2709", f"vie.mrc: record {f.number}") for f in frames]


def test_encoded_records_are_parsed_the_same_in_workers(tmp_path: Path):
    """ISO 2709 records given encoded are parsed, identified by 001 and stored exactly as
    the importer stores them, in this process or in two workers."""
    stored = []
    for workers in (1, 2):
        folder = tmp_path / f"w{workers}"
        folder.mkdir()
        config = _config(folder)
        store = open_store(config.store_location)
        source = ScriptedSource([[*_encoded_vie(121), Mark("a")]])
        report = sync_source(store, config, "s", adapter=source, workers=workers)
        assert report.ok and report.written.new == 121 and report.read == 121
        stored.append({i: store.get(LIBRARY, i).marc.as_json() for i in store.local_ids(LIBRARY)})
    reference = open_store(tmp_path / "ref.db")
    import_files(reference, [VIE_121], source=LIBRARY, namespace="x.y")
    expected = {i: reference.get(LIBRARY, i).marc.as_json() for i in reference.local_ids(LIBRARY)}
    assert stored[0] == stored[1] == expected


def test_unreadable_and_unidentified_encoded_records_are_problems(config: Config,
                                                                   store: RecordStore):  # fmt: skip
    """Garbage bytes, broken MARCXML and a record without 001 are reported where they are
    and skipped; the good records around them are stored."""
    no_001 = make_marc("x", "Không có số")
    no_001.remove_fields("001")
    events = [
        Encoded(b"garbage\x1d", "iso2709", "a.mrc: record 1"),
        *_encoded_vie(2),
        Encoded(b"<record><leader>broken", "marcxml", "b.xml: record 1"),
        Encoded(no_001.as_marc(), "iso2709", "a.mrc: record 4"),
        Mark("a"),
    ]
    report = sync_source(store, config, "s", adapter=ScriptedSource([events]))
    assert report.written.new == 2 and report.problems == 3
    assert [t.split(":")[0] for t in report.problem_texts] == ["a.mrc", "b.xml", "a.mrc"]
    assert report.problem_texts[2] == ("a.mrc: record 4: record has no 001; "
                                       "not stored")  # fmt: skip


def test_a_listing_of_everything_given(config: Config, store: RecordStore):
    """Complete(None) after a full export means: exactly the records of this run; older
    ones the export no longer has become tombstones."""
    sync_source(store, config, "s", adapter=ScriptedSource([[_up("old-1"), *_encoded_vie(3),
                                                             Mark("a")]]))  # fmt: skip
    again = ScriptedSource([[*_encoded_vie(3), Complete(None, "full export kho.mrc"), Mark("b")]])
    report = sync_source(store, config, "s", adapter=again)
    assert report.written.deleted == 1 and store.get(LIBRARY, "old-1").deleted
    assert len(list(store.local_ids(LIBRARY))) == 3


def test_a_full_export_with_an_unreadable_record_deletes_nothing(config: Config,
                                                                  store: RecordStore):  # fmt: skip
    """A record of a full export that cannot be read may still be at the source: its
    stored copy is kept, the listing is held back (and stays reported through a quiet
    sync after it) until the export is fixed or the sync is forced."""
    good = _encoded_vie(6)
    sync_source(store, config, "s", adapter=ScriptedSource([[*good, Mark("a")]]))
    damaged = [*good[:2], Encoded(b"00042garbage\x1d", "iso2709", "kho.mrc: record 3"),
               *good[3:], Complete(None, "full export kho.mrc"), Mark("b")]  # fmt: skip
    report = sync_source(store, config, "s", adapter=ScriptedSource([damaged]))
    assert report.written.deleted == 0 and len(list(store.local_ids(LIBRARY))) == 6
    assert report.withheld_reason is not None
    assert report.withheld_reason.startswith("full export kho.mrc: 1 records could not be read")
    sync_source(store, config, "s", adapter=ScriptedSource([[Mark("c")]]))
    rows = source_overview(config, store)
    assert rows[0]["state"] == "needs attention"
    assert rows[0]["last_error"] == report.withheld_reason
    forced = sync_source(store, config, "s", force=True,
                         adapter=ScriptedSource([damaged]))  # fmt: skip
    assert forced.written.deleted == 1 and source_overview(config, store)[0]["state"] == "ok"


def test_a_record_that_cannot_be_prepared_is_a_problem(config: Config, store: RecordStore):
    """One record a source got wrong in a way no check caught (here a subfield without a
    value) is reported and skipped; the records after it are stored and the sync is ok."""
    bad = make_marc("2", "Hỏng")
    bad["245"].subfields[0] = Subfield("a", None)  # type: ignore[arg-type]
    source = ScriptedSource([[_up("1"), Upsert("2", bad), _up("3"), Mark("a")]])
    report = sync_source(store, config, "s", adapter=source)
    assert report.ok and sorted(_live(store)) == ["1", "3"]
    assert report.problem_texts == ["id 2: record could not be prepared (AttributeError); "
                                    "not stored"]  # fmt: skip


def test_a_shutdown_is_not_a_failure(config: Config, store: RecordStore):
    """A sync stopped by the gateway's shutdown keeps its last mark and is not counted
    as the source failing (no back-off after a restart)."""
    cancel = threading.Event()
    cancel.set()
    sync_source(store, config, "s", adapter=ScriptedSource([[_up("1"), Mark("a")]]),
                cancel=cancel)  # fmt: skip
    status = SourceStatus.from_state(store.sync_state("s"))
    assert (status.failures, status.retry_at, status.last_error) == (0, None, None)


def test_an_unusable_lock_file_is_named(config: Config, store: RecordStore):
    """A lock file the gateway cannot open (made by another user) is named in SyncBusy."""
    Path(f"{config.store_location}.sync-s.lock").mkdir()
    with pytest.raises(SyncBusy, match=r"cannot take the sync lock .*\.sync-s\.lock"):
        sync_source(store, config, "s", adapter=ScriptedSource([[Mark("a")]]))


def test_the_same_id_in_two_delta_files_is_no_problem(config: Config, store: RecordStore):
    """An id given again after a mark (a later delta file) is a normal edit; within one
    export it is reported."""
    first, second = _encoded_vie(1)[0], _encoded_vie(2)[1]
    runs = [[first, Mark("file 1"), first, Mark("file 2")], [second, second, Mark("x")]]
    source = ScriptedSource(runs)
    assert sync_source(store, config, "s", adapter=source).problems == 0
    again = sync_source(store, config, "s", adapter=source)
    assert again.problems == 1 and "given twice in one export" in again.problem_texts[0]
