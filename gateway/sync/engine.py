"""One sync of one source: the adapter's events applied to the store, checkpoint and status
kept, nothing stored ever lost to a source's fault.

The rules live here, once, for every kind of source:

- Changes are committed in batches; a :class:`~adapters.interface.Mark`'s checkpoint is
  saved only after every change before it is committed, so a sync broken off at any point
  resumes from the last mark and never skips a change (re-reading is harmless: the store
  keeps the datestamp of a record whose content did not change).
- A :class:`~adapters.interface.Complete` listing turns the library's records missing from
  it into tombstones, unless the listing is implausible (empty, or it would delete more
  than half of what is stored: a broken export, or ids that changed): those deletions are
  held back and reported until an administrator runs the sync with ``force``.
- A source that fails (:class:`~adapters.interface.SourceError` or anything unexpected)
  keeps what was already committed, records the error and a back-off in its status, and
  the caller goes on with the other sources.
- Two syncs of one source never run at once, even from two processes (a file lock).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.interface import (
    BibliographicSource,
    Complete,
    Deletion,
    Encoded,
    Mark,
    Problem,
    SourceError,
    Upsert,
)

from ..config import Config
from ..indexing import PreparedRecord
from ..store import RecordStore, WriteSummary
from .prepare import Context, EncodedPipeline, Prepared, prepare_upsert
from .sources import open_adapter, settings_for, source_entry
from .status import SourceStatus, retry_delay, stamp

__all__ = ["SyncReport", "SyncBusy", "sync_source", "scrub", "BATCH_SIZE"]

log = logging.getLogger("lienthong.sync")

#: Records per store transaction during a sync (a reader never waits on more than one).
BATCH_SIZE = 2000
#: Problems kept word for word in a report (all are counted).
_KEPT_PROBLEMS = 50


class SyncBusy(Exception):
    """Another sync of the same source is running (in this or another process)."""


@dataclass(slots=True)
class SyncReport:
    """What one sync did, for the command line, the log and the status."""

    source: str
    library: str
    full: bool = False
    read: int = 0
    written: WriteSummary = field(default_factory=WriteSummary)
    problems: int = 0
    problem_texts: list[str] = field(default_factory=list)
    reconciled: bool = False
    #: Deletions held back because the listing looked wrong, and why.
    withheld: int = 0
    withheld_reason: str | None = None
    #: Set when the sync failed; what was committed before the failure stays.
    error: str | None = None
    retryable: bool = True
    #: Stopped by the gateway's shutdown (or Ctrl-C): not the source's failure.
    cancelled: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the source was read to the end."""
        return self.error is None

    def counts(self) -> dict[str, int]:
        """The counts kept in the status."""
        w = self.written
        return {"read": self.read, "new": w.new, "updated": w.updated,
                "unchanged": w.unchanged, "deleted": w.deleted,
                "problems": self.problems}  # fmt: skip

    def summary(self) -> str:
        """One line: what was read and what it did to the store."""
        w = self.written
        line = (
            f"{self.source}: read {self.read}, new {w.new}, updated {w.updated}, "
            f"unchanged {w.unchanged}, deleted {w.deleted}"
        )
        if self.problems:
            line += f", problems {self.problems}"
        if self.withheld:
            line += f", deletions held back {self.withheld}"
        return line


class _Batch:
    """Upserts and deletions waiting for one transaction, in the order they came.

    An id seen twice keeps its last change; an upsert and a deletion of the same id are
    never reordered (the batch is committed before the second one is added).
    """

    def __init__(self, store: RecordStore, library: str, report: SyncReport) -> None:
        self.store, self.library, self.report = store, library, report
        self.upserts: dict[str, PreparedRecord] = {}
        self.deletions: set[str] = set()

    def upsert(self, prepared: PreparedRecord) -> None:
        if prepared.local_id in self.deletions:
            self.commit()
        self.upserts[prepared.local_id] = prepared
        if len(self.upserts) >= BATCH_SIZE:
            self.commit()

    def delete(self, local_id: str) -> None:
        if local_id in self.upserts:
            self.commit()
        self.deletions.add(local_id)
        if len(self.deletions) >= BATCH_SIZE:
            self.commit()

    def commit(self) -> None:
        if self.upserts:
            self.report.written.add(self.store.upsert(list(self.upserts.values())))
            self.upserts = {}
        if self.deletions:
            self.report.written.add(self.store.delete(self.library, sorted(self.deletions)))
            self.deletions = set()


def sync_source(
    store: RecordStore,
    config: Config,
    name: str,
    *,
    full: bool = False,
    force: bool = False,
    progress: Callable[[SyncReport], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    adapter: BibliographicSource | None = None,
    cancel: threading.Event | None = None,
    workers: int = 1,
) -> SyncReport:
    """Sync source ``name`` into ``store`` and save its status; never raises for a
    source's fault (the report and the status carry the error).

    ``full`` reads everything from the start (ignoring the checkpoint) and compares every
    id with the source; ``force`` applies deletions an implausible listing would make.
    ``progress`` is called with the report as records are read; setting ``cancel`` stops
    the sync at the next record, keeping what was committed (the server's shutdown).
    ``workers`` > 1 parses encoded records in that many processes (command line only:
    never fork the threaded server).
    Raises :class:`SyncBusy` when the source is being synced elsewhere, and ``KeyError``
    for an unknown name.
    """
    entry = source_entry(config, name)
    if entry is None:
        raise KeyError(name)
    with _exclusive(store, name):
        status = SourceStatus.from_state(store.sync_state(name))
        started = now()
        status.last_attempt = stamp(started)
        report = SyncReport(source=name, library=entry["library"], full=full)
        reconcile = full or status.reconcile_due(started, entry["reconcile_hours"])
        try:
            source = adapter if adapter is not None else open_adapter(config, entry)
            try:
                _run(store, config, entry, source, status, report, full=full, force=force,
                     reconcile=reconcile, workers=workers, progress=progress,
                     cancel=cancel)  # fmt: skip
            finally:
                if adapter is None:
                    source.close()
        except SourceError as exc:
            report.error, report.retryable = scrub(str(exc), entry), exc.retryable
        except KeyboardInterrupt:  # Ctrl-C on the command line: keep the status, then stop
            report.error, report.cancelled = "interrupted", True
            _finish(status, report, entry, now())
            store.save_sync_state(name, status.as_state())
            raise
        except Exception as exc:  # a bug or an unforeseen fault: this source only
            report.error = scrub(f"unexpected error ({type(exc).__name__}: {exc})", entry)
            log.error("sync %s: %s", name, report.error)  # type and scrubbed words only
            log.debug("sync %s: at\n%s", name, "".join(traceback.format_tb(exc.__traceback__)))
        _finish(status, report, entry, now())
        store.save_sync_state(name, status.as_state())
    if report.ok:
        log.info("sync %s", report.summary())
    else:
        log.warning("sync %s failed: %s (%s)", name, report.error, report.summary())
    return report


class _Run:
    """One pass over an adapter's stream: the batch, the ids given so far, and the
    records lost on the way (a listing of "everything given" is only trusted when none
    was lost: a record that could not be read is still at the source)."""

    def __init__(self, store: RecordStore, config: Config, entry: dict[str, Any],
                 status: SourceStatus, report: SyncReport, workers: int) -> None:  # fmt: skip
        self.store, self.status, self.report = store, status, report
        self.name, self.library = entry["name"], entry["library"]
        self.batch = _Batch(store, self.library, report)
        self.given: set[str] = set()  # ids given this run, for Complete(None)
        self.since_mark: set[str] = set()  # ids given since the last mark (duplicates)
        self.lost = 0  # records the engine could not read or prepare this run
        context = Context(self.library, config.values["gateway"]["oai_namespace"],
                          settings_for(config, entry).legacy)  # fmt: skip
        self.context = context
        self.pipeline = EncodedPipeline(context, workers, self.take)

    def take(self, result: Prepared) -> None:
        """One prepared record, deletion or problem, in stream order."""
        if isinstance(result, Problem):
            if not result.kept:
                self.lost += 1
            _note_problem(self.report, result)
        elif isinstance(result, Deletion):
            self.given.discard(result.local_id)
            self.batch.delete(result.local_id)
        else:
            if result.local_id in self.since_mark:  # one export giving an id twice
                _note_problem(self.report, Problem(f"id {result.local_id}", "given twice in "
                                                   "one export; the later record is kept",
                                                   kept=True))  # fmt: skip
            self.since_mark.add(result.local_id)
            self.given.add(result.local_id)
            self.batch.upsert(result)

    def mark(self, checkpoint: str) -> None:
        """Everything before is committed; then the checkpoint is saved."""
        self.batch.commit()
        self.since_mark.clear()
        self.status.checkpoint = checkpoint
        self.store.save_sync_state(self.name, self.status.as_state())

    def listing(self, event: Complete, force: bool) -> None:
        """Apply a complete listing; "everything given" only when nothing was lost."""
        self.batch.commit()
        if event.ids is None and self.lost and not force:
            self.report.withheld_reason = (
                f"{event.what}: {self.lost} records could not be read, so records missing "
                "from it were not deleted (they may only be unreadable). Fix the export, or "
                f"run 'lienthong sources sync {self.name} --full --force'"
            )
            return
        ids = event.ids if event.ids is not None else frozenset(self.given)
        _apply_listing(self.store, self.library, Complete(ids, event.what), self.report,
                       force=force)  # fmt: skip


def _run(
    store: RecordStore,
    config: Config,
    entry: dict[str, Any],
    source: BibliographicSource,
    status: SourceStatus,
    report: SyncReport,
    *,
    full: bool,
    force: bool,
    reconcile: bool,
    workers: int,
    progress: Callable[[SyncReport], None] | None,
    cancel: threading.Event | None,
) -> None:
    run = _Run(store, config, entry, status, report, workers)
    checkpoint = None if full else status.checkpoint
    listed = False
    try:
        for event in source.changes(checkpoint, overlap_seconds=entry["overlap_seconds"]):
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                raise SourceError("stopped before the end: the gateway was shutting down")
            if isinstance(event, Encoded | Upsert):
                report.read += 1
                if isinstance(event, Encoded):
                    run.pipeline.add(event)
                else:
                    run.pipeline.drain()  # everything before this event first, in order
                    run.take(prepare_upsert(event, run.context))
                if progress and report.read % 500 == 0:
                    progress(report)
                continue
            run.pipeline.drain()
            if isinstance(event, Deletion):
                report.read += 1
                run.take(event)
            elif isinstance(event, Mark):
                run.mark(event.checkpoint)
            elif isinstance(event, Complete):
                run.listing(event, force)
                listed = True
            elif isinstance(event, Problem):
                _note_problem(report, event)
        run.pipeline.drain()
    except BaseException:
        # What was read before the failure is good: keep it (the checkpoint stays at the
        # last mark, so it is read again next time, harmlessly).
        with contextlib.suppress(Exception):
            run.pipeline.drain()
        with contextlib.suppress(Exception):
            run.batch.commit()
        raise
    finally:
        run.pipeline.close()
    run.batch.commit()
    if reconcile and not listed:
        current = source.current_ids()
        if current is None:
            report.notes.append("this source cannot list its records, so records deleted at "
                                "the source are only seen when it reports them")  # fmt: skip
        else:
            _apply_listing(store, entry["library"], Complete(frozenset(current), "the "
                           "source's list of records"), report, force=force)  # fmt: skip
            listed = True
    report.reconciled = listed
    if progress:
        progress(report)


def _note_problem(report: SyncReport, problem: Problem) -> None:
    report.problems += 1
    if len(report.problem_texts) < _KEPT_PROBLEMS:
        report.problem_texts.append(f"{problem.where}: {problem.reason}")


def _apply_listing(
    store: RecordStore, library: str, listing: Complete, report: SyncReport, *, force: bool
) -> None:
    """Tombstone the library's live records missing from ``listing``, when plausible."""
    assert listing.ids is not None
    stored = set(store.local_ids(library))
    missing = sorted(stored - listing.ids)
    if not missing:
        return
    plausible = bool(listing.ids) and 2 * len(missing) <= len(stored)
    if not plausible and not force:
        report.withheld += len(missing)
        report.withheld_reason = (
            f"{listing.what} has {len(listing.ids)} records but the store has {len(stored)} "
            f"of library {library}: {len(missing)} would be deleted, so none were. If that "
            f"is right, run 'lienthong sources sync {report.source} --full --force'"
        )
        return
    for start in range(0, len(missing), BATCH_SIZE):
        report.written.add(store.delete(library, missing[start : start + BATCH_SIZE]))


def _finish(
    status: SourceStatus, report: SyncReport, entry: dict[str, Any], ended: datetime
) -> None:
    """Fold the run's outcome into the status: counts, success or error, the back-off.

    Deletions held back stay reported until a later listing is applied (or forced): a
    quiet sync after them must not make them look dealt with.
    """
    status.counts = report.counts()
    if report.reconciled or report.withheld_reason:
        status.withheld = report.withheld
        status.withheld_reason = report.withheld_reason
    if report.cancelled:  # the gateway stopping is not the source failing
        return
    if report.ok:
        status.last_success = stamp(ended)
        status.failures = 0
        status.retry_at = None
        status.last_error = status.withheld_reason
        status.last_error_at = stamp(ended) if status.withheld_reason else None
        if report.reconciled:
            status.last_reconcile = stamp(ended)
        return
    status.failures += 1
    status.last_error = report.error
    status.last_error_at = stamp(ended)
    interval = entry["interval_minutes"]
    if report.retryable:
        status.retry_at = stamp(ended + retry_delay(status.failures, interval))
    else:  # only a configuration change helps: try again at the normal interval
        status.retry_at = None


def scrub(message: str, entry: dict[str, Any]) -> str:
    """``message`` without the source's password, should a driver have quoted it."""
    variable = entry.get("password_env")
    secret = os.environ.get(variable) if variable else None
    if secret:
        message = message.replace(secret, "***")
    return message


@contextlib.contextmanager
def _exclusive(store: RecordStore, name: str) -> Iterator[None]:
    """Hold source ``name``'s sync lock: a lock file beside a file store (POSIX flock, so
    a sync from the command line and the server's scheduler never overlap)."""
    location = getattr(store, "path", None)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    if not location or location == ":memory:":
        yield
        return
    lock_path = Path(f"{location}.sync-{name}.lock")
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise SyncBusy(f"cannot take the sync lock {lock_path}: {exc.strerror} (is it owned "
                       "by another user?)") from None  # fmt: skip
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusy(f"source {name} is being synced by another process") from None
        yield
    finally:
        os.close(descriptor)
