"""The demo catalogue: deterministic, realistic, and searchable like real data."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from gateway.demo import DEMO_LIBRARIES, build_demo, write_circulation_files
from gateway.query import Index, Term
from gateway.store import RecordStore


def test_demo_is_deterministic() -> None:
    """Two builds give the same records, items and patrons (loan dates follow 'today')."""
    first, second = build_demo("demo.test"), build_demo("demo.test")
    assert [r.content_hash() for r in first.records] == [r.content_hash() for r in second.records]
    assert first.patrons == second.patrons


def test_demo_shape() -> None:
    """Three libraries, a few hundred records, Vietnamese and English, copies and loans."""
    catalogue = build_demo("demo.test", today=date(2026, 11, 22))
    per_library = Counter(r.source for r in catalogue.records)
    assert per_library == {"dlk-tinh": 160, "dlk-krongpac": 90, "thpt-ntmk": 80}
    languages = Counter(r.marc["008"].data[35:38] for r in catalogue.records)
    assert languages["vie"] > languages["eng"] > 20
    barcodes = [i.barcode for _, i in catalogue.items]
    assert len(barcodes) == len(set(barcodes)) >= 330
    assert {loan.item_barcode for loan in catalogue.loans} <= set(barcodes)
    assert {p.library for p in catalogue.patrons} == {lib.id for lib in DEMO_LIBRARIES}
    assert all(loan.due_date > loan.checkout_date for loan in catalogue.loans)


def test_demo_loads_and_is_searchable(sqlite_store: RecordStore, tmp_path: Path) -> None:
    """Loaded into a store, the demo answers Vietnamese searches; CSV files are UTF-8."""
    catalogue = build_demo("demo.test")
    assert sqlite_store.upsert(catalogue.records).new == 330
    assert sqlite_store.search(Term(Index.AUTHOR, "nguyen nhat anh")).total > 0
    assert sqlite_store.search(Term(Index.SUBJECT, "dak lak")).total > 0
    assert sqlite_store.search(Term(Index.SOURCE, "thpt-ntmk")).total == 80
    paths = write_circulation_files(catalogue, tmp_path)
    patrons = paths[0].read_text(encoding="utf-8").splitlines()
    assert patrons[0] == "library,barcode,pin,name,category,email" and len(patrons) == 37
