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
from ..importer import canonical_from_marc
from ..indexing import PreparedRecord, prepare_record
from ..store import RecordStore, WriteSummary
from .prepare import Context, EncodedPipeline, Prepared
from .sources import open_adapter, settings_for, source_entry
from .status import SourceStatus, retry_delay, stamp

__all__ = ["SyncReport", "SyncBusy", "sync_source", "BATCH_SIZE"]

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
            report.error, report.retryable = _scrub(str(exc), entry), exc.retryable
        except Exception as exc:  # a bug or an unforeseen fault: this source only
            log.exception("sync %s: unexpected %s", name, type(exc).__name__)
            report.error = _scrub(f"unexpected error ({type(exc).__name__}: {exc})", entry)
        _finish(status, report, entry, now())
        store.save_sync_state(name, status.as_state())
    if report.ok:
        log.info("sync %s", report.summary())
    else:
        log.warning("sync %s failed: %s (%s)", name, report.error, report.summary())
    return report


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
    library, name = entry["library"], entry["name"]
    namespace = config.values["gateway"]["oai_namespace"]
    batch = _Batch(store, library, report)
    seen: set[str] = set()  # ids given this run, for a listing of "everything given"

    def take(result: PreparedRecord) -> None:
        seen.add(result.local_id)
        batch.upsert(result)

    def take_decoded(result: Prepared) -> None:
        if isinstance(result, Problem):
            _note_problem(report, result)
        elif isinstance(result, Deletion):
            seen.discard(result.local_id)
            batch.delete(result.local_id)
        else:
            if result.local_id in seen:  # an export listing one id twice: say so
                _note_problem(report, Problem(f"id {result.local_id}", "given twice; the "
                                              "later record is kept"))  # fmt: skip
            take(result)

    legacy = settings_for(config, entry).legacy
    pipeline = EncodedPipeline(Context(library, namespace, legacy), workers, take_decoded)
    checkpoint = None if full else status.checkpoint
    listed = False
    try:
        for event in source.changes(checkpoint, overlap_seconds=entry["overlap_seconds"]):
            if cancel is not None and cancel.is_set():
                raise SourceError("stopped before the end: the gateway was shutting down")
            if isinstance(event, Encoded):
                report.read += 1
                pipeline.add(event)
                if progress and report.read % 500 == 0:
                    progress(report)
                continue
            pipeline.drain()  # everything before this event is in the batch, in order
            if isinstance(event, Upsert):
                report.read += 1
                canonical = canonical_from_marc(
                    event.record, source=library, namespace=namespace, local_id=event.local_id
                )
                if event.items is not None:
                    canonical.items = event.items
                take(prepare_record(canonical))
                if progress and report.read % 500 == 0:
                    progress(report)
            elif isinstance(event, Deletion):
                report.read += 1
                seen.discard(event.local_id)
                batch.delete(event.local_id)
            elif isinstance(event, Mark):
                batch.commit()
                status.checkpoint = event.checkpoint
                store.save_sync_state(name, status.as_state())
            elif isinstance(event, Complete):
                batch.commit()
                ids = event.ids if event.ids is not None else frozenset(seen)
                _apply_listing(store, library, Complete(ids, event.what), report, force=force)
                listed = True
            elif isinstance(event, Problem):
                _note_problem(report, event)
        pipeline.drain()
    except Exception:
        # What was read before the failure is good: keep it (the checkpoint stays at the
        # last mark, so it is read again next time, harmlessly).
        with contextlib.suppress(Exception):
            pipeline.drain()
        with contextlib.suppress(Exception):
            batch.commit()
        raise
    finally:
        pipeline.close()
    batch.commit()
    if reconcile and not listed:
        current = source.current_ids()
        if current is None:
            report.notes.append("this source cannot list its records, so records deleted at "
                                "the source are only seen when it reports them")  # fmt: skip
        else:
            _apply_listing(store, library, Complete(frozenset(current), "the source's list of "
                                                    "records"), report, force=force)  # fmt: skip
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
    """Fold the run's outcome into the status: counts, success or error, the back-off."""
    status.counts = report.counts()
    status.withheld = report.withheld
    if report.ok:
        status.last_success = stamp(ended)
        status.failures = 0
        status.retry_at = None
        status.last_error = report.withheld_reason
        status.last_error_at = stamp(ended) if report.withheld_reason else None
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


def _scrub(message: str, entry: dict[str, Any]) -> str:
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
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusy(f"source {name} is being synced by another process") from None
        yield
    finally:
        os.close(descriptor)
