"""Syncing configured sources while the gateway serves: each at its interval, in threads.

The reactor only decides what is due; every sync runs in the scheduler's own thread pool
(never the store pool the endpoints use) with a thread for each source, at most one sync
per source at a time, so a slow or hanging source holds its own thread and nothing else:
the endpoints keep answering and the other sources keep their schedule. A failed source is
retried with the back-off its status records (``status.retry_delay``).

The configuration file is read again at every tick (in a thread), so a source added or
removed with ``lienthong sources add|remove`` is synced, or no longer synced, without a
restart; a file that has become invalid is reported and the last good one kept.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from ..config import Config, ConfigError, load_config
from ..store import RecordStore
from .engine import SyncBusy, SyncReport, sync_source
from .sources import source_entries
from .status import SourceStatus

__all__ = ["SyncScheduler", "TICK_SECONDS", "MAX_SYNC_THREADS"]

log = logging.getLogger("lienthong.sync")

#: How often the scheduler looks at what is due.
TICK_SECONDS = 5.0
#: Most sources synced at the same time (each source has at most one sync running).
MAX_SYNC_THREADS = 32


def _daemon_thread(*args: Any, **kwargs: Any) -> threading.Thread:
    """Sync threads do not keep a stopping gateway alive: a sync blocked in a network read
    is abandoned at exit (its open transaction rolls back; its last mark stays)."""
    return threading.Thread(*args, daemon=True, **kwargs)


class SyncScheduler:
    """Runs due syncs of ``config``'s enabled sources against ``store`` on ``reactor``;
    ``reads`` is the pool for the status and configuration reads (the store pool)."""

    def __init__(self, config: Config, store: RecordStore, reactor: Any, reads: ThreadPool,
                 *, tick: float = TICK_SECONDS) -> None:  # fmt: skip
        self.config, self.store, self.reactor, self.reads = config, store, reactor, reads
        self.tick_seconds = tick
        self.pool = ThreadPool(minthreads=0, maxthreads=MAX_SYNC_THREADS, name="sync")
        self.pool.threadFactory = _daemon_thread  # type: ignore[assignment]
        self.running: set[str] = set()
        self.cancel = threading.Event()
        self._loop = LoopingCall(self.tick)
        self._loop.clock = reactor

    def start(self) -> None:
        """Begin ticking (the first look is right away)."""
        self.pool.start()
        self._loop.start(self.tick_seconds, now=True)

    def stop(self) -> None:
        """Stop ticking and ask running syncs to stop at their next record, without
        waiting for them on the reactor thread."""
        self.cancel.set()
        if self._loop.running:
            self._loop.stop()
        if self.pool.started:
            threading.Thread(target=self.pool.stop, name="sync-stop", daemon=True).start()

    def tick(self) -> None:
        """Read the configuration and the statuses, then start what is due."""
        deferred = deferToThreadPool(self.reactor, self.reads, self._read)
        deferred.addCallback(self._start_due)
        deferred.addErrback(self._unreadable)

    def _read(self) -> tuple[Config, dict[str, dict[str, Any]]]:
        try:
            self.config = load_config(self.config.file, check_paths=False)
        except ConfigError as exc:
            log.warning("sync: %s has %d problem(s), keeping the sources read before: %s",
                        self.config.file, len(exc.problems), exc.problems[0])  # fmt: skip
        return self.config, self.store.sync_states()

    @staticmethod
    def _unreadable(failure: Any) -> None:
        log.warning("sync scheduler cannot read the sources' status: %s",
                    type(failure.value).__name__)  # fmt: skip

    def _start_due(self, found: tuple[Config, dict[str, dict[str, Any]]]) -> None:
        config, states = found
        now = datetime.now(UTC)
        for entry in source_entries(config):
            name = entry["name"]
            if not entry["enabled"] or name in self.running or self.cancel.is_set():
                continue
            if not SourceStatus.from_state(states.get(name)).due(now, entry["interval_minutes"]):
                continue
            self.running.add(name)
            deferred = deferToThreadPool(self.reactor, self.pool, sync_source, self.store,
                                         config, name, cancel=self.cancel)  # fmt: skip
            deferred.addBoth(self._finished, name)

    def _finished(self, outcome: SyncReport | Any, name: str) -> None:
        self.running.discard(name)
        if isinstance(outcome, SyncReport):
            return
        error = getattr(outcome, "value", outcome)
        if isinstance(error, SyncBusy):
            log.info("sync %s skipped: %s", name, error)
        else:
            log.error("sync %s could not run: %s", name, type(error).__name__)
