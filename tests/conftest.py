"""Shared fixtures: where ../shared lives, stores, and a store loaded with real records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.importer import import_files
from gateway.store import RecordStore, open_store

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
VIE_121 = DATA / "loc-vie-121.mrc"
LOC_5000 = DATA / "loc-5000.mrc"
JAZZ_MARC8 = DATA / "marc8-jazz-1000.mrc"
BROKEN = DATA / "broken"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[RecordStore]:
    """An empty SQLite store in a fresh folder."""
    with open_store(tmp_path / "store.db") as store:
        yield store


@pytest.fixture(scope="session")
def vie_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordStore]:
    """A store holding the 121 Vietnamese LoC records (read-only for tests)."""
    path = tmp_path_factory.mktemp("vie") / "store.db"
    with open_store(path) as store:
        import_files(store, [VIE_121], source="loc", namespace="test.lienthong.vn")
        yield store


#: Store implementations the shared store tests run against (PostgreSQL joins in its issue).
STORE_KINDS = ["sqlite"]


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    """An empty store of each implementation: the store tests are written against this."""
    if request.param == "sqlite":
        with open_store(tmp_path / "store.db") as opened:
            yield opened
