"""Configurations with sources, and a scripted source, for the sync engine's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adapters.interface import Event, Sample
from gateway.config import Config, load_config, render_config

__all__ = ["LIBRARIES", "write_config", "ScriptedSource"]

LIBRARIES = [
    {"id": "dlk-tinh", "name": "Thư viện tỉnh Đắk Lắk", "kind": "provincial"},
    {"id": "buon-ho", "name": "Thư viện thị xã Buôn Hồ", "kind": "district"},
    {"id": "thpt-nguyen-du", "name": "Trường THPT Nguyễn Du", "kind": "school"},
]


def write_config(folder: Path, sources: list[dict[str, Any]], **overrides: Any) -> Config:
    """A valid configuration in ``folder`` with ``sources`` and the three libraries above;
    ``overrides`` are dotted keys (``{"server.http_port": 0}``) as render_config takes."""
    values: dict[str, Any] = {"libraries": LIBRARIES, "store.path": "store.db",
                              "sources": sources}  # fmt: skip
    values.update({key.replace("__", "."): value for key, value in overrides.items()})
    path = folder / "lienthong.yaml"
    path.write_text(render_config(values), encoding="utf-8")
    return load_config(path)


class ScriptedSource:
    """A source whose events are given by the test, run after run.

    The engine's own rules (batching, checkpoints after marks, listings and the safety
    threshold, failures) are tested with it; every real adapter is tested against its real
    system in its own test module. ``runs`` holds one list of events per call of
    :meth:`changes`; an exception in the list is raised at that point of the stream.
    """

    def __init__(self, runs: list[list[Event | Exception]], ids: list[str] | None = None):
        self.runs = list(runs)
        self.ids = ids
        self.checkpoints: list[str | None] = []
        self.closed = False

    def changes(self, checkpoint: str | None, *, overlap_seconds: int) -> Iterator[Event]:
        self.checkpoints.append(checkpoint)
        for event in self.runs.pop(0):
            if isinstance(event, Exception):
                raise event
            yield event

    def current_ids(self) -> Iterator[str] | None:
        return iter(self.ids) if self.ids is not None else None

    def sample(self, limit: int = 5) -> Sample:
        return Sample(summary="scripted")

    def close(self) -> None:
        self.closed = True
