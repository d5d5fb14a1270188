"""The embedded circulation back end: exact loan data after every operation, on real files."""

from __future__ import annotations

import sqlite3
import threading
import time as clock
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.circulation.embedded import (
    EmbeddedCirculation,
    ItemRecord,
    LoanRecord,
    PatronRecord,
    open_embedded,
)
from gateway.circulation.interface import (
    BackendUnavailable,
    Capability,
    CirculationBackend,
    ItemState,
    PatronFlag,
    Refusal,
)
from gateway.circulation.policy import LoanPolicy, Policies, policies_from_config
from gateway.config import Config

T0 = datetime(2026, 11, 2, 10, 0, 0)
POLICY = LoanPolicy(loan_days=14, max_loans=3, max_renewals=2, fine_per_day=1000,
                    max_fines=5000, max_overdue=2, hold_shelf_days=7)  # fmt: skip
LIB, OTHER = "thpt-ntmk", "dlk-tinh"


def _patrons() -> list[PatronRecord]:
    people = [
        PatronRecord(LIB, f"HS{n:03d}", f"Học sinh {n}", pin=f"{n:04d}") for n in range(1, 11)
    ]
    return [
        PatronRecord(LIB, "HS900", "Nguyễn Văn Đức", pin="1234", category="10A1",
                     email="duc@example.vn"),
        PatronRecord(LIB, "HS901", "Trần Thị Mai", pin="5678", expires=date(2026, 10, 31)),
        PatronRecord(LIB, "HS902", "Lê Văn Nam"),  # no PIN
        PatronRecord(OTHER, "BD001", "Phạm Thu Hà", pin="0000"),
        *people,
    ]  # fmt: skip


def _items() -> list[ItemRecord]:
    return [
        *(ItemRecord(LIB, f"NTMK{n:04d}", f"Sách {n}", location="Kho mượn") for n in range(1, 9)),
        ItemRecord(LIB, "NTMK0100", "Từ điển (đọc tại chỗ)", loanable=False),
        ItemRecord(OTHER, "DLK0001", "Truyện Kiều"),
    ]


@pytest.fixture
def now() -> list[datetime]:
    """A settable clock (one-element list) for reads that have no transaction time."""
    return [T0]


@pytest.fixture
def backend(tmp_path: Path, now: list[datetime]) -> Iterator[EmbeddedCirculation]:
    """A back end on a fresh file with a few borrowers and copies of two libraries."""
    with EmbeddedCirculation(tmp_path / "circulation.db", Policies(POLICY),
                             clock=lambda: now[0]) as opened:  # fmt: skip
        opened.load(_patrons(), _items())
        yield opened


def _loans(db: EmbeddedCirculation) -> list[tuple[Any, ...]]:
    """Every loan row (current and returned) as (item, patron, out, due, renewals, back)."""
    with sqlite3.connect(db.path) as conn:
        return conn.execute(
            "SELECT i.barcode, p.barcode, l.checked_out, l.due, l.renewals, l.returned_at "
            "FROM loans l JOIN items i ON i.id = l.item_id JOIN patrons p ON p.id = l.patron_id "
            "ORDER BY l.id"
        ).fetchall()


def test_backend_implements_the_interface(backend: EmbeddedCirculation) -> None:
    """The embedded back end is a CirculationBackend and can do every operation."""
    assert isinstance(backend, CirculationBackend)
    assert backend.capabilities == frozenset(Capability)


def test_checkout_due_at_end_of_day(backend: EmbeddedCirculation) -> None:
    """A checkout is due loan_days later at 23:59:59; the loan row and item view say so."""
    outcome = backend.checkout(LIB, "HS900", "NTMK0001", T0)
    due = datetime(2026, 11, 16, 23, 59, 59)
    assert outcome.ok and outcome.refusal is None and outcome.due == due
    assert not outcome.renewal
    assert _loans(backend) == [("NTMK0001", "HS900", "2026-11-02 10:00:00",
                                "2026-11-16 23:59:59", 0, None)]  # fmt: skip
    item = backend.item(LIB, "NTMK0001")
    assert item is not None and item.state is ItemState.CHARGED
    assert item.borrower == "HS900" and item.due == due
    patron = backend.patron(LIB, "HS900")
    assert patron is not None and [loan.item_barcode for loan in patron.loans] == ["NTMK0001"]


def _setup_on_loan(db: EmbeddedCirculation) -> None:
    assert db.checkout(LIB, "HS001", "NTMK0002", T0).ok


def _setup_full(db: EmbeddedCirculation) -> None:
    for n in (3, 4, 5):
        assert db.checkout(LIB, "HS900", f"NTMK{n:04d}", T0).ok


def _setup_blocked(db: EmbeddedCirculation) -> None:
    assert db.block_patron(LIB, "HS900", "Thẻ bị giữ lại", T0)


def _setup_own(db: EmbeddedCirculation) -> None:
    assert db.checkout(LIB, "HS900", "NTMK0001", T0).ok


@pytest.mark.parametrize(
    ("setup", "patron", "item", "refusal", "renew_if_held"),
    [
        (None, "NOPE", "NTMK0001", Refusal.UNKNOWN_PATRON, True),
        (None, "HS900", "NOPE", Refusal.UNKNOWN_ITEM, True),
        (None, "BD001", "NTMK0001", Refusal.OTHER_LIBRARY, True),
        (None, "HS900", "DLK0001", Refusal.OTHER_LIBRARY, True),
        (None, "HS901", "NTMK0001", Refusal.PATRON_EXPIRED, True),
        (None, "HS900", "NTMK0100", Refusal.ITEM_NOT_FOR_LOAN, True),
        (_setup_blocked, "HS900", "NTMK0001", Refusal.PATRON_BLOCKED, True),
        (_setup_on_loan, "HS900", "NTMK0002", Refusal.ON_LOAN_TO_ANOTHER, True),
        (_setup_full, "HS900", "NTMK0001", Refusal.TOO_MANY_LOANS, True),
        (_setup_own, "HS900", "NTMK0001", Refusal.ALREADY_ON_LOAN, False),
    ],
)
def test_refused_checkout_changes_nothing(
    backend: EmbeddedCirculation, setup: Any, patron: str, item: str, refusal: Refusal,
    renew_if_held: bool,
) -> None:  # fmt: skip
    """Each refusal names its reason, and every table is exactly as it was before."""
    if setup is not None:
        setup(backend)
    before = backend.dump()
    outcome = backend.checkout(LIB, patron, item, T0 + timedelta(hours=1),
                               renew_if_held=renew_if_held)  # fmt: skip
    assert not outcome.ok and outcome.refusal is refusal and outcome.due is None
    assert backend.dump() == before


def test_checkout_of_own_loan_renews_up_to_the_limit(backend: EmbeddedCirculation) -> None:
    """Checking out a copy already lent to the patron renews it (due from the renewal
    day); after max_renewals it is refused with RENEWAL_LIMIT and nothing changes."""
    assert backend.checkout(LIB, "HS900", "NTMK0001", T0).ok
    first = backend.checkout(LIB, "HS900", "NTMK0001", datetime(2026, 11, 10, 8, 0))
    assert first.ok and first.renewal and first.due == datetime(2026, 11, 24, 23, 59, 59)
    second = backend.renew(LIB, "HS900", "NTMK0001", datetime(2026, 11, 20, 8, 0))
    assert second.ok and second.renewal and second.due == datetime(2026, 12, 4, 23, 59, 59)
    before = backend.dump()
    third = backend.checkout(LIB, "HS900", "NTMK0001", datetime(2026, 11, 30, 8, 0))
    assert not third.ok and third.refusal is Refusal.RENEWAL_LIMIT
    assert backend.renew(LIB, "HS900", "NTMK0001", T0).refusal is Refusal.RENEWAL_LIMIT
    assert backend.dump() == before
    assert _loans(backend) == [("NTMK0001", "HS900", "2026-11-02 10:00:00",
                                "2026-12-04 23:59:59", 2, None)]  # fmt: skip


def test_renew_refusals(backend: EmbeddedCirculation) -> None:
    """Renewing a copy not on loan, lent to someone else, or while blocked is refused."""
    assert backend.renew(LIB, "HS900", "NTMK0001", T0).refusal is Refusal.NOT_ON_LOAN
    assert backend.checkout(LIB, "HS001", "NTMK0001", T0).ok
    assert backend.renew(LIB, "HS900", "NTMK0001", T0).refusal is Refusal.NOT_LOANED_TO_PATRON
    assert backend.block_patron(LIB, "HS001", "", T0)
    before = backend.dump()
    assert backend.renew(LIB, "HS001", "NTMK0001", T0).refusal is Refusal.PATRON_BLOCKED
    assert backend.dump() == before


def test_concurrent_checkouts_of_one_copy_have_one_winner(backend: EmbeddedCirculation) -> None:
    """Ten threads lending the same copy to ten patrons at once: exactly one loan is made,
    the others are told it is on loan to another patron."""
    barrier = threading.Barrier(10)
    outcomes: list[Any] = []

    def lend(n: int) -> None:
        barrier.wait()
        outcomes.append(backend.checkout(LIB, f"HS{n:03d}", "NTMK0007", T0))

    threads = [threading.Thread(target=lend, args=(n,)) for n in range(1, 11)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o.ok]
    assert len(outcomes) == 10 and len(winners) == 1
    assert {o.refusal for o in outcomes if not o.ok} == {Refusal.ON_LOAN_TO_ANOTHER}
    rows = _loans(backend)
    assert len(rows) == 1 and rows[0][1] == winners[0].item.borrower


def test_checkin_charges_whole_days_late(backend: EmbeddedCirculation, now: list[datetime]) -> None:
    """Returned three days after the due day: 3 x fine_per_day as an overdue fee; returned
    late on the due day itself: no fine."""
    now[0] = datetime(2026, 11, 19, 12, 0)
    assert backend.checkout(LIB, "HS900", "NTMK0001", T0).ok
    assert backend.checkout(LIB, "HS900", "NTMK0002", T0).ok
    late = backend.checkin(LIB, "NTMK0001", datetime(2026, 11, 19, 9, 0), "Quầy 1")
    assert late.ok and late.borrower == "HS900" and late.overdue_fine == Decimal(3000)
    assert late.item is not None and late.item.state is ItemState.AVAILABLE
    on_time = backend.checkin(LIB, "NTMK0002", datetime(2026, 11, 16, 23, 0))
    assert on_time.ok and on_time.overdue_fine is None
    assert _loans(backend) == [
        ("NTMK0001", "HS900", "2026-11-02 10:00:00", "2026-11-16 23:59:59", 0,
         "2026-11-19 09:00:00"),
        ("NTMK0002", "HS900", "2026-11-02 10:00:00", "2026-11-16 23:59:59", 0,
         "2026-11-16 23:00:00"),
    ]  # fmt: skip
    patron = backend.patron(LIB, "HS900")
    assert patron is not None and patron.fines_total == Decimal(3000)
    assert [(f.amount, f.kind, f.item_barcode) for f in patron.fees] == [
        (Decimal(3000), "overdue", "NTMK0001")
    ]


def test_checkin_of_item_not_on_loan_changes_nothing(backend: EmbeddedCirculation) -> None:
    """NOT_ON_LOAN (with the copy), unknown copies UNKNOWN_ITEM, another library's copy
    OTHER_LIBRARY; the database is unchanged each time."""
    before = backend.dump()
    outcome = backend.checkin(LIB, "NTMK0001", T0)
    assert not outcome.ok and outcome.refusal is Refusal.NOT_ON_LOAN
    assert outcome.item is not None and outcome.item.barcode == "NTMK0001"
    assert backend.checkin(LIB, "NOPE", T0).refusal is Refusal.UNKNOWN_ITEM
    assert backend.checkin(LIB, "DLK0001", T0).refusal is Refusal.OTHER_LIBRARY
    assert backend.dump() == before


def test_hold_queue_and_hold_shelf(backend: EmbeddedCirculation, now: list[datetime]) -> None:
    """Holds queue in the order placed; the return goes to the hold shelf for the first
    patron, whose checkout fulfils the hold; others are refused meanwhile."""
    assert backend.checkout(LIB, "HS900", "NTMK0001", T0).ok
    first = backend.place_hold(LIB, "HS001", "NTMK0001", T0 + timedelta(hours=1), "Thư viện")
    second = backend.place_hold(LIB, "HS002", "NTMK0001", T0 + timedelta(hours=2))
    assert first.ok and first.queue_position == 1 and first.pickup_location == "Thư viện"
    assert second.ok and second.queue_position == 2
    again = backend.place_hold(LIB, "HS001", "NTMK0001", T0)
    assert again.refusal is Refusal.HOLD_EXISTS
    assert backend.renew(LIB, "HS900", "NTMK0001", T0).refusal is Refusal.ON_HOLD_FOR_ANOTHER
    now[0] = datetime(2026, 11, 5, 15, 0)
    back = backend.checkin(LIB, "NTMK0001", now[0])
    assert back.ok and back.hold_for == "HS001"
    assert back.item is not None and back.item.state is ItemState.ON_HOLD_SHELF
    assert back.item.hold_queue == 2
    waiting = backend.patron(LIB, "HS001")
    assert waiting is not None and len(waiting.holds) == 1
    hold = waiting.holds[0]
    assert hold.available and hold.queue_position == 1
    assert hold.expires == datetime(2026, 11, 12, 23, 59, 59)
    refused = backend.checkout(LIB, "HS002", "NTMK0001", datetime(2026, 11, 6, 9, 0))
    assert refused.refusal is Refusal.ON_HOLD_FOR_ANOTHER
    fulfilled = backend.checkout(LIB, "HS001", "NTMK0001", datetime(2026, 11, 6, 9, 0))
    assert fulfilled.ok and fulfilled.item is not None and fulfilled.item.hold_queue == 1
    remaining = backend.patron(LIB, "HS002")
    assert remaining is not None and remaining.holds[0].queue_position == 1
    assert not remaining.holds[0].available


def test_hold_shelf_expiry_passes_copy_on(backend: EmbeddedCirculation) -> None:
    """A copy not collected within hold_shelf_days goes to the next patron in the queue."""
    assert backend.checkout(LIB, "HS900", "NTMK0001", T0).ok
    assert backend.place_hold(LIB, "HS001", "NTMK0001", T0).ok
    assert backend.place_hold(LIB, "HS002", "NTMK0001", T0 + timedelta(minutes=1)).ok
    assert backend.checkin(LIB, "NTMK0001", datetime(2026, 11, 5, 15, 0)).hold_for == "HS001"
    later = datetime(2026, 11, 13, 9, 0)  # the shelf time ended on the 12th
    assert backend.checkout(LIB, "HS001", "NTMK0001", later).refusal is (
        Refusal.ON_HOLD_FOR_ANOTHER
    )
    assert backend.checkout(LIB, "HS002", "NTMK0001", later).ok


def test_cancel_hold(backend: EmbeddedCirculation) -> None:
    """Cancelling a hold on the shelf gives the copy to the next patron; cancelling a
    hold that does not exist is NO_SUCH_HOLD and changes nothing."""
    assert backend.checkout(LIB, "HS900", "NTMK0001", T0).ok
    assert backend.place_hold(LIB, "HS001", "NTMK0001", T0).ok
    assert backend.place_hold(LIB, "HS002", "NTMK0001", T0 + timedelta(minutes=1)).ok
    assert backend.checkin(LIB, "NTMK0001", T0 + timedelta(days=1)).hold_for == "HS001"
    assert backend.cancel_hold(LIB, "HS001", "NTMK0001", T0 + timedelta(days=2)).ok
    nxt = backend.patron(LIB, "HS002")
    assert nxt is not None and nxt.holds[0].available
    before = backend.dump()
    assert backend.cancel_hold(LIB, "HS003", "NTMK0001", T0).refusal is Refusal.NO_SUCH_HOLD
    assert backend.dump() == before


def test_fines_block_borrowing_until_paid(backend: EmbeddedCirculation) -> None:
    """Fees at max_fines set EXCESSIVE_FINES and CHARGE_DENIED and refuse checkouts;
    a payment below the limit lifts it."""
    assert backend.add_fee(LIB, "HS900", 2000, T0, kind="lost", description="Mất sách")
    assert backend.add_fee(LIB, "HS900", 3000, T0 + timedelta(minutes=1))
    patron = backend.patron(LIB, "HS900")
    assert patron is not None and patron.fines_total == Decimal(5000)
    assert {PatronFlag.EXCESSIVE_FINES, PatronFlag.CHARGE_DENIED} <= patron.flags
    assert not patron.may_borrow and patron.fee_limit == Decimal(5000)
    assert backend.checkout(LIB, "HS900", "NTMK0001", T0).refusal is Refusal.EXCESSIVE_FINES
    paid = backend.pay_fee(LIB, "HS900", Decimal(2500), T0)
    assert paid.ok and paid.remaining == Decimal(2500) and paid.transaction_id
    patron = backend.patron(LIB, "HS900")
    assert patron is not None and patron.may_borrow
    assert [(f.amount, f.kind) for f in patron.fees] == [(Decimal(2500), "other")]
    assert backend.checkout(LIB, "HS900", "NTMK0001", T0).ok


def test_overdue_loans_block_borrowing(backend: EmbeddedCirculation, now: list[datetime]) -> None:
    """max_overdue overdue loans set TOO_MANY_OVERDUE and refuse a new checkout."""
    old = datetime(2026, 10, 1, 9, 0)
    backend.load(loans=[
        LoanRecord(LIB, "NTMK0001", "HS900", old, datetime(2026, 10, 15, 23, 59, 59)),
        LoanRecord(LIB, "NTMK0002", "HS900", old, datetime(2026, 10, 20, 23, 59, 59)),
    ])  # fmt: skip
    patron = backend.patron(LIB, "HS900")
    assert patron is not None and len(patron.overdue) == 2
    assert {PatronFlag.TOO_MANY_OVERDUE, PatronFlag.CHARGE_DENIED} <= patron.flags
    assert backend.checkout(LIB, "HS900", "NTMK0003", T0).refusal is Refusal.TOO_MANY_OVERDUE
    now[0] = datetime(2026, 10, 16, 12, 0)  # only one was overdue then
    earlier = backend.patron(LIB, "HS900")
    assert earlier is not None and PatronFlag.TOO_MANY_OVERDUE not in earlier.flags


def test_pay_fee_amounts(backend: EmbeddedCirculation) -> None:
    """Non-positive, fractional or excessive amounts are BAD_AMOUNT; a fee id pays that
    fee; without one the oldest is paid first; a repeated transaction id pays once."""
    first = backend.add_fee(LIB, "HS900", 1000, T0)
    second = backend.add_fee(LIB, "HS900", 4000, T0 + timedelta(minutes=1))
    assert first and second
    before = backend.dump()
    for amount in (Decimal(0), Decimal(-5), Decimal("10.5"), Decimal(5001)):
        outcome = backend.pay_fee(LIB, "HS900", amount, T0)
        assert not outcome.ok and outcome.refusal is Refusal.BAD_AMOUNT, amount
    assert backend.pay_fee(LIB, "HS900", Decimal(1001), T0, fee_id=first).refusal is (
        Refusal.BAD_AMOUNT
    )
    assert backend.pay_fee(LIB, "HS900", Decimal(1), T0, fee_id="999").refusal is (
        Refusal.NO_SUCH_FEE
    )
    assert backend.pay_fee(LIB, "NOPE", Decimal(1), T0).refusal is Refusal.UNKNOWN_PATRON
    assert backend.dump() == before
    by_id = backend.pay_fee(LIB, "HS900", Decimal(4000), T0, fee_id=second, transaction_id="K1")
    assert by_id.ok and by_id.transaction_id == "K1" and by_id.remaining == Decimal(1000)
    repeat = backend.pay_fee(LIB, "HS900", Decimal(4000), T0, fee_id=second, transaction_id="K1")
    assert repeat.ok and repeat.remaining == Decimal(1000)
    rest = backend.pay_fee(LIB, "HS900", Decimal(1000), T0)
    assert rest.ok and rest.remaining == Decimal(0) and rest.transaction_id.startswith("LT")
    patron = backend.patron(LIB, "HS900")
    assert patron is not None and patron.fees == () and patron.fines_total == 0
    assert len(backend.dump()["payments"]) == 2


def test_block_and_enable_patron(backend: EmbeddedCirculation) -> None:
    """A blocked card has CARD_LOST, CHARGE_DENIED and RENEWAL_DENIED and staff's message;
    enabling it clears them. Unknown patrons: False."""
    assert backend.block_patron(LIB, "HS900", "Thẻ bị giữ tại máy", T0)
    patron = backend.patron(LIB, "HS900")
    assert patron is not None and patron.blocked_message == "Thẻ bị giữ tại máy"
    assert {PatronFlag.CARD_LOST, PatronFlag.CHARGE_DENIED, PatronFlag.RENEWAL_DENIED} <= (
        patron.flags
    )
    assert backend.enable_patron(LIB, "HS900", T0)
    patron = backend.patron(LIB, "HS900")
    assert patron is not None and patron.flags == frozenset() and patron.blocked_message == ""
    assert not backend.block_patron(LIB, "NOPE", "", T0)
    assert not backend.enable_patron(LIB, "BD001", T0)  # another library's patron


def test_renew_all(backend: EmbeddedCirculation) -> None:
    """renew_all renews what may be renewed and lists the rest (held by another)."""
    assert backend.checkout(LIB, "HS900", "NTMK0001", T0).ok
    assert backend.checkout(LIB, "HS900", "NTMK0002", T0).ok
    assert backend.place_hold(LIB, "HS001", "NTMK0002", T0).ok
    outcome = backend.renew_all(LIB, "HS900", datetime(2026, 11, 10, 9, 0))
    assert outcome.ok and outcome.renewed == ("NTMK0001",) and outcome.unrenewed == ("NTMK0002",)
    assert [row[4] for row in _loans(backend)] == [1, 0]
    assert backend.renew_all(LIB, "NOPE", T0).refusal is Refusal.UNKNOWN_PATRON


def test_pins_are_hashed_and_checked_quickly(backend: EmbeddedCirculation) -> None:
    """PINs are stored salted and hashed; the check is right and takes well under 5 ms;
    a patron without a PIN matches only the empty PIN."""
    dump = backend.dump()
    assert not any("1234" in str(cell) for row in dump["patrons"] for cell in row[3:4])
    assert backend.check_pin(LIB, "HS900", "1234")
    assert not backend.check_pin(LIB, "HS900", "1235")
    assert not backend.check_pin(LIB, "NOPE", "1234")
    assert not backend.check_pin(OTHER, "HS900", "1234")
    assert backend.check_pin(LIB, "HS902", "") and not backend.check_pin(LIB, "HS902", "0")
    no_pin = backend.patron(LIB, "HS902")
    assert no_pin is not None and not no_pin.has_pin
    started = clock.perf_counter()
    for _ in range(20):
        backend.check_pin(LIB, "HS900", "1234")
        backend.patron(LIB, "HS900")
    assert (clock.perf_counter() - started) / 20 < 0.005


def test_vietnamese_names_are_nfc_and_searchable(backend: EmbeddedCirculation) -> None:
    """A name loaded in decomposed form is stored in NFC; "nguyen van duc" finds it."""
    decomposed = unicodedata.normalize("NFD", "Đỗ Thị Hồng Nhung")
    backend.load([PatronRecord(LIB, "HS950", decomposed)])
    patron = backend.patron(LIB, "HS950")
    assert patron is not None and patron.name == "Đỗ Thị Hồng Nhung"
    assert unicodedata.is_normalized("NFC", patron.name)
    found = backend.patrons(LIB, "nguyen van duc")
    assert [p.name for p in found] == ["Nguyễn Văn Đức"]
    assert [p.barcode for p in backend.patrons(None, "do thi hong")] == ["HS950"]
    assert [p.barcode for p in backend.patrons(None, "hs95")] == ["HS950"]
    assert backend.patrons(OTHER, "nguyen") == []


def test_reloading_updates_and_never_duplicates(backend: EmbeddedCirculation) -> None:
    """Loading the same rows again changes nothing; a changed row is updated in place."""
    before = backend.dump()
    again = backend.load(_patrons(), _items())
    assert again.patrons.new == 0 and again.patrons.updated == 0
    assert again.items.unchanged == len(_items())
    assert backend.dump() == before
    changed = backend.load([PatronRecord(LIB, "HS900", "Nguyễn Văn Đức", pin="9999")])
    assert changed.patrons.updated == 1
    assert len(backend.dump()["patrons"]) == len(before["patrons"])
    assert backend.check_pin(LIB, "HS900", "9999") and not backend.check_pin(LIB, "HS900", "1234")


def test_locked_database_is_unavailable(backend: EmbeddedCirculation, tmp_path: Path) -> None:
    """While another process holds the write lock, a checkout raises BackendUnavailable
    (after the busy timeout) and leaves nothing behind."""
    quick = EmbeddedCirculation(backend.path, Policies(POLICY), busy_timeout=0.1)
    other = sqlite3.connect(backend.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(BackendUnavailable):
            quick.checkout(LIB, "HS900", "NTMK0001", T0)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _loans(backend) == []
    assert quick.checkout(LIB, "HS900", "NTMK0001", T0).ok
    quick.close()
    with pytest.raises(BackendUnavailable):
        EmbeddedCirculation(tmp_path / "missing-folder" / "c.db")


def test_patron_view_limits_and_lists(backend: EmbeddedCirculation) -> None:
    """The patron view carries the policy's limits, the currency and the loan list."""
    assert backend.checkout(LIB, "HS900", "NTMK0001", T0).ok
    patron = backend.patron(LIB, "HS900")
    assert patron is not None
    assert (patron.loan_limit, patron.overdue_limit, patron.currency) == (3, 2, "VND")
    assert patron.email == "duc@example.vn" and patron.language == "vi"
    assert [(loan.item_barcode, loan.title, loan.overdue) for loan in patron.loans] == [
        ("NTMK0001", "Sách 1", False)
    ]
    expired = backend.patron(LIB, "HS901")
    assert expired is not None and PatronFlag.CHARGE_DENIED in expired.flags
    assert expired.expires == datetime(2026, 10, 31, 23, 59, 59)
    assert backend.patron(LIB, "NOPE") is None and backend.patron(OTHER, "HS900") is None


def test_item_properties_and_state(backend: EmbeddedCirculation) -> None:
    """Item properties are stored; a copy marked lost is not lent."""
    view = backend.update_item_properties(LIB, "NTMK0003", "RFID:E200341201", T0)
    assert view is not None and view.properties == "RFID:E200341201"
    assert backend.update_item_properties(LIB, "NOPE", "x", T0) is None
    assert backend.set_item_state(LIB, "NTMK0004", ItemState.LOST)
    lost = backend.item(LIB, "NTMK0004")
    assert lost is not None and lost.state is ItemState.LOST
    assert backend.checkout(LIB, "HS900", "NTMK0004", T0).refusal is Refusal.ITEM_NOT_FOR_LOAN


def test_loans_listing(backend: EmbeddedCirculation, now: list[datetime]) -> None:
    """The staff listing gives patron and title, filters by library, patron and overdue."""
    assert backend.checkout(LIB, "HS900", "NTMK0001", T0).ok
    assert backend.checkout(LIB, "HS001", "NTMK0002", T0 + timedelta(days=3)).ok
    now[0] = datetime(2026, 11, 18, 9, 0)
    rows = backend.loans(LIB)
    assert [(r.item_barcode, r.patron_name, r.overdue) for r in rows] == [
        ("NTMK0001", "Nguyễn Văn Đức", True), ("NTMK0002", "Học sinh 1", False)
    ]  # fmt: skip
    assert [r.item_barcode for r in backend.loans(patron="HS001")] == ["NTMK0002"]
    assert [r.item_barcode for r in backend.loans(overdue_only=True)] == ["NTMK0001"]
    assert backend.loans(OTHER) == []
    counts = backend.counts(LIB)
    assert counts["loans"] == 2 and counts["overdue"] == 1 and counts["items"] == 9


def test_policies_from_config(tmp_path: Path) -> None:
    """A library's own policy inherits the keys it leaves out; no circulation section
    means the documented defaults; open_embedded puts the file next to the config."""
    values = {"circulation": {"path": str(tmp_path / "c.db"),
                              "policy": {"loan_days": 21, "max_loans": 4, "currency": "VND"},
                              "policies": [{"library": LIB, "loan_days": 7, "max_loans": None}]},
              "libraries": []}  # fmt: skip
    config = Config(file=tmp_path / "lienthong.yaml", values=values)
    policies = policies_from_config(config)
    assert policies.for_library(LIB) == LoanPolicy(loan_days=7, max_loans=4)
    assert policies.for_library(OTHER) == LoanPolicy(loan_days=21, max_loans=4)
    bare = Config(file=tmp_path / "lienthong.yaml", values={"libraries": []})
    assert policies_from_config(bare).for_library(LIB) == LoanPolicy()
    with open_embedded(bare) as opened:
        assert opened.path == tmp_path / "circulation.db" and opened.path.exists()


def test_hold_on_copy_in_the_stacks(backend: EmbeddedCirculation) -> None:
    """A hold on a copy that is not on loan reserves it at once, on the hold shelf with an
    expiry (so it cannot block the copy forever): others are refused, and the holder's
    checkout fulfils the hold."""
    placed = backend.place_hold(LIB, "HS001", "NTMK0005", T0)
    assert placed.ok and placed.queue_position == 1 and placed.available
    assert placed.expires == datetime(2026, 11, 9, 23, 59, 59)
    before = backend.dump()
    refused = backend.checkout(LIB, "HS002", "NTMK0005", T0)
    assert refused.refusal is Refusal.ON_HOLD_FOR_ANOTHER and backend.dump() == before
    lent = backend.checkout(LIB, "HS001", "NTMK0005", T0)
    assert lent.ok and lent.item is not None and lent.item.hold_queue == 0
    assert backend.dump()["holds"] == []


def test_renewing_a_late_loan_charges_the_days_late(
    backend: EmbeddedCirculation, now: list[datetime]
) -> None:
    """A renewal of an overdue loan charges the lateness so far (it is not erased by the
    new due date), and the checkin later charges only what comes after."""
    assert backend.checkout(LIB, "HS001", "NTMK0001", T0).ok
    now[0] = datetime(2026, 11, 20, 9, 0)
    renewed = backend.renew(LIB, "HS001", "NTMK0001", now[0])
    assert renewed.ok and renewed.due == datetime(2026, 12, 4, 23, 59, 59)
    assert [f.amount for f in backend.patron(LIB, "HS001").fees] == [Decimal(4000)]
    back = backend.checkin(LIB, "NTMK0001", now[0])
    assert back.ok and back.overdue_fine is None


def test_double_scan_does_not_use_a_renewal(backend: EmbeddedCirculation) -> None:
    """The same checkout scanned twice answers ok with the same due date and leaves the
    renewal count alone."""
    first = backend.checkout(LIB, "HS001", "NTMK0001", T0)
    again = backend.checkout(LIB, "HS001", "NTMK0001", T0 + timedelta(seconds=3))
    assert again.ok and again.due == first.due
    assert _loans(backend)[0][4] == 0


def test_return_date_is_clamped_to_the_loan_and_now(
    backend: EmbeddedCirculation, now: list[datetime]
) -> None:
    """A kiosk clock in the future does not fine days that have not passed, and one in the
    past does not end a loan before it began."""
    assert backend.checkout(LIB, "HS001", "NTMK0001", T0).ok
    assert backend.checkout(LIB, "HS001", "NTMK0002", T0).ok
    future = backend.checkin(LIB, "NTMK0001", datetime(2036, 1, 1))
    assert future.ok and future.overdue_fine is None
    past = backend.checkin(LIB, "NTMK0002", datetime(2020, 1, 1))
    assert past.ok
    assert [row[5] for row in _loans(backend)] == ["2026-11-02 10:00:00"] * 2
