"""Every configured source with its sync status and record counts, in one plain form.

``lienthong sources list`` prints it and ``/health`` returns it, so both always agree.
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..store import RecordStore
from .sources import source_entries
from .status import SourceStatus

__all__ = ["source_overview", "source_health"]


def _state(status: SourceStatus, enabled: bool) -> str:
    if not enabled:
        return "disabled"
    if status.failures:
        return "failing"
    if status.withheld or status.withheld_reason:
        return "needs attention"
    if status.last_success is None:
        return "never synced"
    return "ok"


def source_overview(config: Config, store: RecordStore) -> list[dict[str, Any]]:
    """One dict per configured source, in file order (blocking: reads the store)."""
    if not source_entries(config):
        return []  # /health is probed often: no store reads for a gateway without sources
    states = store.sync_states()
    stats = {s.source: s for s in store.source_stats()}
    rows = []
    for entry in source_entries(config):
        status = SourceStatus.from_state(states.get(entry["name"]))
        library = stats.get(entry["library"])
        rows.append({
            "name": entry["name"], "library": entry["library"], "kind": entry["kind"],
            "state": _state(status, entry["enabled"]),
            "records": library.records if library else 0,
            "tombstones": library.tombstones if library else 0,
            "last_success": status.last_success, "last_attempt": status.last_attempt,
            "last_error": status.last_error, "last_error_at": status.last_error_at,
            "failures": status.failures, "retry_at": status.retry_at,
            "last_reconcile": status.last_reconcile, "withheld": status.withheld,
            "last_run": status.counts,
        })  # fmt: skip
    return rows


def source_health(config: Config, store: RecordStore) -> dict[str, Any]:
    """The overview keyed by source name, as ``/health`` shows it."""
    return {row.pop("name"): row for row in source_overview(config, store)}
