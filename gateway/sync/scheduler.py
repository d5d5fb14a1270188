"""Syncing configured sources while the gateway serves: each at its interval, in threads.

The reactor only decides what is due; every sync runs in the scheduler's own thread pool
(never the store pool the endpoints use), at most one per source, so a slow or hanging
source holds one sync thread and nothing else: the endpoints keep answering and the other
sources keep their schedule. A failed source is retried with the back-off its status
records (``status.retry_delay``); the sync of a source that is down fails fast and often
only at first.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from ..config import Config
from ..store import RecordStore
from .engine import SyncBusy, SyncReport, sync_source
from .sources import source_entries
from .status import SourceStatus

__all__ = ["SyncScheduler", "TICK_SECONDS", "MAX_SYNC_THREADS"]

log = logging.getLogger("lienthong.sync")

#: How often the scheduler looks at what is due.
TICK_SECONDS = 15.0
#: Most sources synced at the same time.
MAX_SYNC_THREADS = 4


class SyncScheduler:
    """Runs due syncs of ``config``'s enabled sources against ``store`` on ``reactor``."""

    def __init__(
        self, config: Config, store: RecordStore, reactor: Any, *, tick: float = TICK_SECONDS
    ) -> None:
        self.config, self.store, self.reactor, self.tick_seconds = config, store, reactor, tick
        self.entries = [e for e in source_entries(config) if e["enabled"]]
        threads = max(1, min(MAX_SYNC_THREADS, len(self.entries)))
        self.pool = ThreadPool(minthreads=0, maxthreads=threads, name="sync")
        self.running: set[str] = set()
        self.cancel = threading.Event()
        self._loop = LoopingCall(self.tick)
        self._loop.clock = reactor

    @property
    def scheduled(self) -> bool:
        """Whether any source syncs by itself (interval above 0)."""
        return any(entry["interval_minutes"] > 0 for entry in self.entries)

    def start(self) -> None:
        """Begin ticking (the first look is right away); nothing to do without sources."""
        if not self.scheduled:
            return
        self.pool.start()
        self._loop.start(self.tick_seconds, now=True)

    def stop(self) -> None:
        """Stop ticking and ask running syncs to stop at their next record."""
        self.cancel.set()
        if self._loop.running:
            self._loop.stop()
        if self.pool.started:
            self.pool.stop()

    def tick(self) -> None:
        """Start every due source not already running."""
        waiting = [e for e in self.entries if e["name"] not in self.running]
        if not waiting:
            return
        deferred = deferToThreadPool(self.reactor, self.pool, self.store.sync_states)
        deferred.addCallback(self._start_due, waiting)
        deferred.addErrback(self._unreadable)

    @staticmethod
    def _unreadable(failure: Any) -> None:
        log.warning("sync scheduler cannot read the sources' status: %s",
                    type(failure.value).__name__)  # fmt: skip

    def _start_due(self, states: dict[str, dict[str, Any]], waiting: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        for entry in waiting:
            name = entry["name"]
            if name in self.running or self.cancel.is_set():
                continue
            if not SourceStatus.from_state(states.get(name)).due(now, entry["interval_minutes"]):
                continue
            self.running.add(name)
            deferred = deferToThreadPool(self.reactor, self.pool, sync_source, self.store,
                                         self.config, name, cancel=self.cancel)  # fmt: skip
            deferred.addBoth(self._finished, name)

    def _finished(self, outcome: SyncReport | Any, name: str) -> None:
        self.running.discard(name)
        if isinstance(outcome, SyncReport):
            return
        error = getattr(outcome, "value", outcome)
        if isinstance(error, SyncBusy):
            log.info("sync %s skipped: it is being synced by another process", name)
        else:
            log.error("sync %s could not run: %s", name, type(error).__name__)
