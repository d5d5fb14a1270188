"""Turning encoded records into what the store writes, here or in worker processes.

Parsing and preparing (indexing, serialising, hashing) is most of a full sync's work and
needs no database, so a sync run from the command line hands runs of
:class:`~adapters.interface.Encoded` records to one worker process per CPU while it writes;
results come back in order. Inside the server (a threaded process, where forking is not
safe) the same function runs in the sync thread.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import threading
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from adapters.interface import Deletion, Encoded, Problem, Upsert
from adapters.records import decode
from crosswalks.legacy import LegacyMode

from ..importer import canonical_from_marc
from ..indexing import PreparedRecord, prepare_record

__all__ = ["Context", "Prepared", "prepare_upsert", "prepare_encoded", "EncodedPipeline", "RUN"]

#: Encoded records per worker task (large enough that task overhead does not show).
RUN = 250


class Context(NamedTuple):
    """What preparing needs besides the record (pickled once per task)."""

    library: str
    namespace: str
    legacy: str


#: What preparing one encoded record can give.
Prepared = PreparedRecord | Deletion | Problem


def prepare_upsert(upsert: Upsert, context: Context, where: str | None = None) -> Prepared:
    """The store's form of one upsert; a record that cannot be prepared (a value a source
    got wrong in a way nothing caught earlier) is a problem, not the end of the sync, so
    one bad record never holds a whole source back at the same place."""
    try:
        canonical = canonical_from_marc(upsert.record, source=context.library,
                                        namespace=context.namespace,
                                        local_id=upsert.local_id)  # fmt: skip
        if upsert.items is not None:
            canonical.items = upsert.items
        return prepare_record(canonical)
    except Exception as exc:  # noqa: BLE001 - reported per record, the sync goes on
        reason = f"record could not be prepared ({type(exc).__name__}); not stored"
        return Problem(where or f"id {upsert.local_id}", reason)


def prepare_encoded(items: list[Encoded], context: Context) -> list[Prepared]:
    """Decode and prepare each record (a worker-process entry point)."""
    legacy = LegacyMode(context.legacy)
    out: list[Prepared] = []
    for item in items:
        for event in decode(item, legacy):
            if isinstance(event, Upsert):
                out.append(prepare_upsert(event, context, item.where))
            elif isinstance(event, Deletion | Problem):
                out.append(event)
    return out


class EncodedPipeline:
    """Encoded records in, prepared records (or problems) out, in the order they came.

    With ``workers`` > 1, runs of :data:`RUN` go to a process pool with a bounded number
    in flight (memory stays flat however large the source); otherwise, and in a process
    that runs other threads (forking one is unsafe), each run is prepared in this thread
    when it fills.
    """

    def __init__(self, context: Context, workers: int,
                 sink: Callable[[Prepared], None]) -> None:  # fmt: skip
        self.context, self.sink = context, sink
        self.workers = workers
        self.pool: multiprocessing.pool.Pool | None = None
        self.run: list[Encoded] = []
        self.pending: deque[multiprocessing.pool.AsyncResult[list[Prepared]]]
        self.pending = deque()

    def add(self, item: Encoded) -> None:
        """Queue ``item``; full runs are started (and finished ones delivered)."""
        self.run.append(item)
        if len(self.run) >= RUN:
            self._submit()

    def drain(self) -> None:
        """Deliver everything queued, waiting for the workers."""
        if self.run:
            self._submit()
        while self.pending:
            self._deliver(self.pending.popleft().get())

    def close(self) -> None:
        """Stop the workers (after :meth:`drain`, or to abandon what is queued)."""
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None

    def _submit(self) -> None:
        run, self.run = self.run, []
        if self.workers <= 1:
            self._deliver(prepare_encoded(run, self.context))
            return
        if self.pool is None:
            if threading.active_count() > 1:  # forking a threaded process is not safe
                self.workers = 1
                self._deliver(prepare_encoded(run, self.context))
                return
            self.pool = multiprocessing.get_context("fork").Pool(self.workers)
        self.pending.append(self.pool.apply_async(prepare_encoded, (run, self.context)))
        while len(self.pending) >= 4 * self.workers:
            self._deliver(self.pending.popleft().get())
        while self.pending and self.pending[0].ready():
            self._deliver(self.pending.popleft().get())

    def _deliver(self, results: list[Prepared]) -> None:
        for result in results:
            self.sink(result)
