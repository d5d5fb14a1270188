"""A source's sync status as it is kept in the store, and when it is next due.

One JSON object per source (``RecordStore.sync_state``): the adapter's checkpoint, the
last success and the last error, the counts of the last run, and the failure streak that
sets the back-off. ``sources list``, ``/health`` and the scheduler all read this one place,
so what an administrator sees is what the scheduler acts on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["SourceStatus", "retry_delay", "FIRST_RETRY_SECONDS"]

#: The first retry after a failure waits this long; each further failure doubles it, up
#: to the source's own interval (a source that is down is not hammered, and one back up is
#: synced again within minutes).
FIRST_RETRY_SECONDS = 60


@dataclass(slots=True)
class SourceStatus:
    """What is known about one source's syncing. Times are ISO 8601 UTC text."""

    checkpoint: str | None = None
    last_attempt: str | None = None
    last_success: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    last_reconcile: str | None = None
    #: Consecutive failed runs (0 after a success).
    failures: int = 0
    #: When the scheduler may try again after a failure (None: at the normal interval).
    retry_at: str | None = None
    #: Counts of the last finished run: read, new, updated, unchanged, deleted, problems.
    counts: dict[str, int] = field(default_factory=dict)
    #: Deletions held back (an implausible listing, or one with unreadable records) and
    #: why, until a later listing is applied or the sync is forced.
    withheld: int = 0
    withheld_reason: str | None = None

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> SourceStatus:
        """The status saved in the store (unknown keys from a newer version are ignored)."""
        if not state:
            return cls()
        known = {name: state[name] for name in cls.__dataclass_fields__ if name in state}
        return cls(**known)

    def as_state(self) -> dict[str, Any]:
        """The JSON-serialisable form saved in the store."""
        return asdict(self)

    def due(self, now: datetime, interval_minutes: int) -> bool:
        """Whether the scheduler should run the source at ``now``."""
        if interval_minutes <= 0:
            return False
        if self.retry_at is not None:
            return now >= _parse(self.retry_at)
        if self.last_attempt is None:
            return True
        return now >= _parse(self.last_attempt) + timedelta(minutes=interval_minutes)

    def reconcile_due(self, now: datetime, reconcile_hours: int) -> bool:
        """Whether this run should also compare every id with the source."""
        if reconcile_hours <= 0:
            return False
        if self.last_reconcile is None:
            return True
        return now >= _parse(self.last_reconcile) + timedelta(hours=reconcile_hours)


def retry_delay(failures: int, interval_minutes: int) -> timedelta:
    """How long to wait after the ``failures``-th failure in a row."""
    ceiling = max(interval_minutes * 60, FIRST_RETRY_SECONDS)
    seconds = FIRST_RETRY_SECONDS * 2 ** min(max(failures - 1, 0), 20)
    return timedelta(seconds=min(seconds, ceiling))


def stamp(moment: datetime) -> str:
    """``moment`` as the ISO text kept in the status (UTC, seconds)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
