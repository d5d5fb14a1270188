"""The SQL circulation back end against real MariaDB and PostgreSQL databases.

Each test creates a school's tables (borrowers, copies, loans, fines) under its own prefix,
fills them, and drives the back end through the statements of
``conf/circulation-sql.example.yaml`` (only the table names changed), so the shipped
example is what is tested. Table contents are read back with plain SQL afterwards: a loan
is what the database holds, not what the back end says it did.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from adapters.sqlcirculation import (
    MisconfiguredStatement,
    SqlCirculation,
    StatementsError,
    load_statements,
    open_sql_circulation,
)
from gateway.circulation.embedded import hash_pin
from gateway.circulation.interface import (
    BackendUnavailable,
    Capability,
    CirculationBackend,
    ItemState,
    PatronFlag,
    Refusal,
)
from gateway.circulation.policy import LoanPolicy, Policies
from tests.conftest import REPO
from tests.servers import free_port

EXAMPLE = REPO / "conf" / "circulation-sql.example.yaml"
DATABASES = {
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
}
LIBRARY = "thpt-nguyen-du"
NOW = datetime(2026, 12, 2, 9, 30, 0)
POLICY = LoanPolicy(loan_days=14, max_loans=3, max_renewals=2, fine_per_day=1000,
                    max_fines=50000)  # fmt: skip
TABLES = ("doc_gia", "sach", "muon_tra", "tien_phat")


def _nfd(value: str) -> str:
    return unicodedata.normalize("NFD", value)


def _ddl(dialect: str, prefix: str) -> list[str]:
    serial = "INT AUTO_INCREMENT PRIMARY KEY" if dialect == "mariadb" else "SERIAL PRIMARY KEY"
    ts = "DATETIME" if dialect == "mariadb" else "TIMESTAMP"
    tail = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if dialect == "mariadb" else ""
    return [
        f"CREATE TABLE {prefix}_doc_gia (ma_the VARCHAR(20) PRIMARY KEY, ho_ten VARCHAR(200) "
        "NOT NULL, ma_pin VARCHAR(200), ngay_het_han DATE, bi_khoa SMALLINT NOT NULL DEFAULT 0, "
        "ly_do_khoa VARCHAR(255) NOT NULL DEFAULT '', email VARCHAR(200) NOT NULL DEFAULT '')"
        + tail,
        f"CREATE TABLE {prefix}_sach (ma_vach VARCHAR(20) PRIMARY KEY, nhan_de VARCHAR(500) NOT "
        "NULL, tinh_trang VARCHAR(50) NOT NULL, cho_muon SMALLINT NOT NULL DEFAULT 1, kho "
        f"VARCHAR(100) NOT NULL DEFAULT '', ky_hieu VARCHAR(50) NOT NULL DEFAULT ''){tail}",
        f"CREATE TABLE {prefix}_muon_tra (id {serial}, ma_vach VARCHAR(20) NOT NULL, ma_the "
        f"VARCHAR(20) NOT NULL, ngay_muon {ts} NOT NULL, han_tra {ts} NOT NULL, so_lan_gia_han "
        f"INT NOT NULL DEFAULT 0, ngay_tra {ts} NULL, noi_tra VARCHAR(100) NOT NULL DEFAULT '')"
        + tail,
        f"CREATE TABLE {prefix}_tien_phat (id {serial}, ma_the VARCHAR(20) NOT NULL, ma_vach "
        "VARCHAR(20), so_tien INT NOT NULL, da_tra INT NOT NULL DEFAULT 0, loai VARCHAR(20) NOT "
        f"NULL, ghi_chu VARCHAR(500) NOT NULL DEFAULT '', ngay {ts} NOT NULL){tail}",
    ]


PATRONS = [  # ma_the, ho_ten (stored decomposed: NFD), ma_pin, ngay_het_han, bi_khoa, ly_do_khoa
    ("HS001", _nfd("Nguyễn Văn Đức"), "1234", date(2027, 6, 30), 0, ""),
    ("HS002", "Trần Thị Hồng Nhung", "2222", date(2026, 1, 1), 0, ""),
    ("HS003", "Lê Minh Khôi", "3333", date(2027, 6, 30), 1, "Mất thẻ"),
    ("HS004", "Phạm Thu Hà", None, None, 0, ""),
]
ITEMS = [  # ma_vach, nhan_de, tinh_trang, cho_muon
    ("S001", _nfd("Truyện Kiều"), "Trên giá", 1),
    ("S002", "Số đỏ", "Trên giá", 1),
    ("S003", "Tắt đèn (sách tham khảo)", "Trên giá", 0),
    ("S004", "Dế Mèn phiêu lưu ký", "Mất", 1),
    ("S005", "Lão Hạc", "Thanh lý", 1),
    ("S009", "Chí Phèo", "Trên giá", 1),
    ("S010", "Vợ nhặt", "Trên giá", 1),
]
LOANS = [  # ma_vach, ma_the, ngay_muon, han_tra
    ("S009", "HS001", datetime(2026, 11, 25, 10, 0), datetime(2026, 12, 9, 23, 59, 59)),
    ("S010", "HS004", datetime(2026, 11, 1, 8, 0), datetime(2026, 11, 15, 23, 59, 59)),
]


@dataclass
class School:
    """One test's school database: its tables (under ``prefix``) and statements file."""

    dialect: str
    url: str
    engine: Engine
    prefix: str
    folder: Path
    statements: Path
    opened: list[SqlCirculation]

    def backend(self, policy: LoanPolicy = POLICY, statements: Path | None = None,
                url: str | None = None) -> SqlCirculation:  # fmt: skip
        """A back end on this database (closed at the end of the test)."""
        backend = SqlCirculation(url or self.url, load_statements(statements or self.statements),
                                 Policies(policy), name="truong-db", clock=lambda: NOW)  # fmt: skip
        self.opened.append(backend)
        return backend

    def write_statements(self, name: str, replace: dict[str, str]) -> Path:
        """A copy of this school's statements file with ``replace`` applied (old -> new)."""
        body = self.statements.read_text(encoding="utf-8")
        for old, new in replace.items():
            assert old in body, old
            body = body.replace(old, new)
        path = self.folder / name
        path.write_text(body, encoding="utf-8")
        return path

    def table(self, name: str) -> list[tuple[Any, ...]]:
        """Every row of table ``name`` in key order."""
        key = "ma_the" if name == "doc_gia" else "ma_vach" if name == "sach" else "id"
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                text(f"SELECT * FROM {self.prefix}_{name} ORDER BY {key}"))]  # fmt: skip

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table's rows."""
        return {name: self.table(name) for name in TABLES}

    def open_loans(self, item: str) -> list[tuple[Any, ...]]:
        """(ma_the, han_tra, so_lan_gia_han) of the open loans of copy ``item``."""
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                f"SELECT ma_the, han_tra, so_lan_gia_han FROM {self.prefix}_muon_tra "
                "WHERE ma_vach = :i AND ngay_tra IS NULL"), {"i": item})]  # fmt: skip

    def execute(self, sql: str, **params: Any) -> None:
        """Run one statement (``{p}`` is the table prefix) and commit."""
        with self.engine.begin() as conn:
            conn.execute(text(sql.replace("{p}", self.prefix)), params)


def _example_for(prefix: str) -> str:
    body = EXAMPLE.read_text(encoding="utf-8")
    return re.sub(r"\b(doc_gia|sach|muon_tra|tien_phat)\b", rf"{prefix}_\1", body)


@pytest.fixture(params=sorted(DATABASES))
def school(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[School]:
    """A school database on MariaDB and on PostgreSQL, with the example's statements."""
    dialect = request.param
    url = DATABASES[dialect]
    prefix = f"lt_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    statements = tmp_path / "circulation-sql.yaml"
    statements.write_text(_example_for(prefix), encoding="utf-8")
    school = School(dialect, url, engine, prefix, tmp_path, statements, [])
    with engine.begin() as conn:
        for ddl in _ddl(dialect, prefix):
            conn.execute(text(ddl))
        conn.execute(text(f"INSERT INTO {prefix}_doc_gia (ma_the, ho_ten, ma_pin, ngay_het_han, "
                          "bi_khoa, ly_do_khoa) VALUES (:a, :b, :c, :d, :e, :f)"),
                     [dict(zip("abcdef", p, strict=True)) for p in PATRONS])  # fmt: skip
        conn.execute(text(f"INSERT INTO {prefix}_sach (ma_vach, nhan_de, tinh_trang, cho_muon, "
                          "kho, ky_hieu) VALUES (:a, :b, :c, :d, 'Kho mở', '895.922')"),
                     [dict(zip("abcd", i, strict=True)) for i in ITEMS])  # fmt: skip
        conn.execute(text(f"INSERT INTO {prefix}_muon_tra (ma_vach, ma_the, ngay_muon, han_tra) "
                          "VALUES (:a, :b, :c, :d)"),
                     [dict(zip("abcd", loan, strict=True)) for loan in LOANS])  # fmt: skip
    try:
        yield school
    finally:
        for backend in school.opened:
            backend.close()
        with engine.begin() as conn:
            for table in TABLES:
                conn.execute(text(f"DROP TABLE IF EXISTS {prefix}_{table}"))
        engine.dispose()


# -- the statements file, without a database ----------------------------------------------


def test_example_file_is_valid_and_offers_what_it_configures() -> None:
    """The shipped example loads, and every statement it has is one lienthong knows."""
    loaded = load_statements(EXAMPLE)
    assert {"patron", "patron_loans", "item", "current_loan", "insert_loan", "close_loan",
            "renew_loan", "block_patron", "enable_patron", "fees", "pay_fee"} <= set(
        loaded.statements)  # fmt: skip
    assert loaded.item_states["mất"] is ItemState.LOST
    assert loaded.statements["patron"].line is not None


def _problems(tmp_path: Path, body: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(StatementsError) as caught:
        load_statements(path)
    message = str(caught.value)
    assert all(line.startswith(f"statements {path}") for line in caught.value.problems), message
    return message


MINIMAL = """\
statements:
  patron: SELECT id AS barcode, ten AS name FROM p WHERE id = :barcode
  patron_loans: SELECT item AS item_barcode, due FROM l WHERE who = :barcode
  item: SELECT id AS barcode FROM i WHERE id = :barcode
  current_loan: SELECT who AS patron, due FROM l WHERE item = :item
"""


def test_file_problems_name_file_line_and_key(tmp_path: Path) -> None:
    """Every problem of a file is reported at once, each with the file, line and key."""
    message = _problems(
        tmp_path,
        """\
statements:
  patron: SELECT id AS barcode, ten AS name FROM p WHERE id = :barcod
  patron_loan: SELECT 1
  item: UPDATE i SET x = 1 WHERE id = :barcode
  insert_loan: INSERT INTO l VALUES (:patron, :item, :now)
item_states:
  "Mất": vanished
""",
    )
    assert (
        ":2: statements.patron: unknown parameter ':barcod' (did you mean ':barcode'?)" in message
    )
    assert ":2: statements.patron: does not use the parameter ':barcode'" in message
    assert ":3: statements.patron_loan: unknown key (did you mean 'patron_loans'?)" in message
    assert ":4: statements.item: expected a SELECT statement" in message
    assert ":5: statements.insert_loan: does not use the parameter ':due'" in message
    assert "statements.current_loan: required statement is missing" in message
    assert ":7: item_states.Mất: expected a copy state" in message


def test_file_syntax_error_and_missing_file(tmp_path: Path) -> None:
    """A YAML syntax error gives its line; a missing file says so."""
    body = "statements:\n  patron: SELECT 1\n    item: [x\n"
    assert ":3: YAML syntax error" in _problems(tmp_path, body)
    with pytest.raises(StatementsError, match="file not found"):
        load_statements(tmp_path / "absent.yaml")


def test_capabilities_follow_the_statements(school: School) -> None:
    """Only reads configured: status and info, no checkout (which is refused as not
    supported); the example: loans, blocks and fee payment, never holds."""
    minimal = school.folder / "minimal.yaml"
    minimal.write_text(_example_for(school.prefix).split("  # Optional: without it")[0],
                       encoding="utf-8")  # fmt: skip
    reads = school.backend(statements=minimal)
    assert reads.capabilities == {Capability.PATRON_STATUS, Capability.PATRON_INFO,
                                  Capability.END_SESSION, Capability.ITEM_INFO}  # fmt: skip
    outcome = reads.checkout(LIBRARY, "HS001", "S001", NOW)
    assert (outcome.ok, outcome.refusal) == (False, Refusal.NOT_SUPPORTED)
    full = school.backend()
    assert isinstance(full, CirculationBackend)
    assert {Capability.CHECKOUT, Capability.CHECKIN, Capability.RENEW, Capability.RENEW_ALL,
            Capability.BLOCK_PATRON, Capability.PATRON_ENABLE, Capability.FEE_PAID} <= (
        full.capabilities)  # fmt: skip
    assert Capability.HOLD not in full.capabilities
    assert Capability.ITEM_STATUS_UPDATE not in full.capabilities


# -- reads --------------------------------------------------------------------------------


def test_patron_view_with_loans_in_nfc(school: School) -> None:
    """The patron's name (stored decomposed) comes back NFC; loans with their titles and
    due dates; the overdue one is marked and counted."""
    backend = school.backend()
    view = backend.patron(LIBRARY, "HS001")
    assert view is not None
    assert view.name == "Nguyễn Văn Đức" and unicodedata.is_normalized("NFC", view.name)
    assert view.library == LIBRARY and view.has_pin and view.loan_limit == 3
    assert view.expires == datetime(2027, 6, 30, 23, 59, 59)
    assert [(loan.item_barcode, loan.title, loan.checked_out, loan.due, loan.overdue)
            for loan in view.loans] == [
        ("S009", "Chí Phèo", datetime(2026, 11, 25, 10, 0), datetime(2026, 12, 9, 23, 59, 59),
         False)]  # fmt: skip
    assert view.may_borrow and view.flags == frozenset()
    late = backend.patron(LIBRARY, "HS004")
    assert late is not None and not late.has_pin
    assert [loan.overdue for loan in late.loans] == [True] and len(late.overdue) == 1
    blocked = backend.patron(LIBRARY, "HS003")
    assert blocked is not None and blocked.blocked_message == "Mất thẻ"
    assert {PatronFlag.CARD_LOST, PatronFlag.CHARGE_DENIED} <= blocked.flags
    assert backend.patron(LIBRARY, "HS999") is None


def test_item_view_states(school: School) -> None:
    """A copy's state: on loan from the loans table (with due date and borrower), lost from
    the school's own status word, title in NFC."""
    backend = school.backend()
    lent = backend.item(LIBRARY, "S010")
    assert lent is not None and lent.state is ItemState.CHARGED
    assert (lent.due, lent.borrower) == (datetime(2026, 11, 15, 23, 59, 59), "HS004")
    shelf = backend.item(LIBRARY, "S001")
    assert shelf is not None and shelf.state is ItemState.AVAILABLE and shelf.loanable
    assert shelf.title == "Truyện Kiều" and unicodedata.is_normalized("NFC", shelf.title)
    assert (shelf.location, shelf.call_number) == ("Kho mở", "895.922")
    lost = backend.item(LIBRARY, "S004")
    assert lost is not None and lost.state is ItemState.LOST
    assert backend.item(LIBRARY, "S999") is None


def test_holds_and_no_fees(school: School) -> None:
    """A holds statement is shown on the patron (in NFC); without a fees statement the
    patron owes nothing and fee payment is not offered."""
    body = _example_for(school.prefix)
    body = re.sub(r"(?ms)^  fees: >-.*?(?=^  # -- writes)", "", body)
    body = re.sub(r"(?ms)^  pay_fee: >-.*?(?=^# The words)", "", body)
    holds = (f"  holds: SELECT 'S002' AS item_barcode, '{_nfd('Số đỏ')}' AS title, 2 AS "
             f"queue_position, 0 AS available FROM {school.prefix}_doc_gia WHERE ma_the = "
             ":barcode\n")  # fmt: skip
    path = school.folder / "holds.yaml"
    path.write_text(body.replace("  # -- writes", holds + "  # -- writes", 1), encoding="utf-8")
    backend = school.backend(statements=path)
    view = backend.patron(LIBRARY, "HS001")
    assert view is not None and view.fees == () and view.fines_total == 0
    assert [(h.item_barcode, h.title, h.queue_position, h.available) for h in view.holds] == [
        ("S002", "Số đỏ", 2, False)]  # fmt: skip
    assert Capability.FEE_PAID not in backend.capabilities
    assert Capability.HOLD not in backend.capabilities


def test_pin_right_and_wrong(school: School) -> None:
    """A plain PIN column: right, wrong, empty; a patron without a PIN takes only the empty
    PIN; an unknown patron never matches."""
    backend = school.backend()
    assert backend.check_pin(LIBRARY, "HS001", "1234")
    assert not backend.check_pin(LIBRARY, "HS001", "1235")
    assert not backend.check_pin(LIBRARY, "HS001", "")
    assert backend.check_pin(LIBRARY, "HS004", "") and not backend.check_pin(LIBRARY, "HS004", "1")
    assert not backend.check_pin(LIBRARY, "HS999", "1234")


def test_pin_hash_column(school: School) -> None:
    """A pin_hash column with the embedded back end's PBKDF2 hashes is verified, not
    compared as text."""
    school.execute("UPDATE {p}_doc_gia SET ma_pin = :h WHERE ma_the = 'HS001'",
                   h=hash_pin("4321"))  # fmt: skip
    hashed = school.write_statements("hashed.yaml", {"ma_pin AS pin,": "ma_pin AS pin_hash,"})
    backend = school.backend(statements=hashed)
    assert backend.check_pin(LIBRARY, "HS001", "4321")
    assert not backend.check_pin(LIBRARY, "HS001", "1234")
    stored = school.table("doc_gia")[0][2]
    assert not backend.check_pin(LIBRARY, "HS001", stored)


# -- changes ------------------------------------------------------------------------------


def test_checkout_renew_checkin_rows(school: School) -> None:
    """A checkout, a renewal three days later and a checkin two days after that leave
    exactly these rows in the loans table; nothing else changes."""
    backend = school.backend()
    before = school.snapshot()
    out = backend.checkout(LIBRARY, "HS001", "S001", NOW)
    assert out.ok and out.due == datetime(2026, 12, 16, 23, 59, 59) and not out.renewal
    assert out.item is not None and out.item.state is ItemState.CHARGED
    assert school.table("muon_tra")[2][1:] == (
        "S001",
        "HS001",
        NOW,
        datetime(2026, 12, 16, 23, 59, 59),
        0,
        None,
        "",
    )
    renewed = backend.renew(LIBRARY, "HS001", "S001", datetime(2026, 12, 5, 14, 0))
    assert renewed.ok and renewed.renewal and renewed.due == datetime(2026, 12, 19, 23, 59, 59)
    assert school.table("muon_tra")[2][1:] == (
        "S001",
        "HS001",
        NOW,
        datetime(2026, 12, 19, 23, 59, 59),
        1,
        None,
        "",
    )
    # The kiosk's clock is ahead of the back end's: the return is recorded at "now".
    back = backend.checkin(LIBRARY, "S001", datetime(2026, 12, 7, 8, 0), "Quầy 1")
    assert back.ok and back.borrower == "HS001" and back.overdue_fine is None
    assert back.item is not None and back.item.state is ItemState.AVAILABLE
    assert school.table("muon_tra") == [
        *before["muon_tra"],
        (3, "S001", "HS001", NOW, datetime(2026, 12, 19, 23, 59, 59), 1, NOW, "Quầy 1"),
    ]
    assert {t: school.table(t) for t in ("doc_gia", "sach", "tien_phat")} == {
        t: before[t] for t in ("doc_gia", "sach", "tien_phat")}  # fmt: skip


def test_late_checkin_charges_the_fine(school: School) -> None:
    """The copy due 15 November returned on 2 December: 17 days at 1,000 đồng, written to
    the fines table and shown on the patron, who may then pay it at the kiosk."""
    backend = school.backend()
    back = backend.checkin(LIBRARY, "S010", NOW)
    assert back.ok and back.overdue_fine == 17000
    fines = school.table("tien_phat")
    assert [row[1:] for row in fines] == [("HS004", "S010", 17000, 0, "overdue", "Vợ nhặt", NOW)]
    view = backend.patron(LIBRARY, "HS004")
    assert view is not None and view.fines_total == 17000 and view.loans == ()
    assert [(f.fee_id, f.amount, f.kind) for f in view.fees] == [(str(fines[0][0]), 17000,
                                                                  "overdue")]  # fmt: skip
    bad = backend.pay_fee(LIBRARY, "HS004", Decimal(20000), NOW)
    assert (bad.ok, bad.refusal) == (False, Refusal.BAD_AMOUNT)
    paid = backend.pay_fee(LIBRARY, "HS004", Decimal(7000), NOW, transaction_id="TX1")
    assert paid.ok and paid.remaining == 10000
    assert school.table("tien_phat")[0][3:5] == (17000, 7000)


REFUSALS = [  # patron, item, policy changes, refusal
    ("HS001", "S003", {}, Refusal.ITEM_NOT_FOR_LOAN),  # reference copy (cho_muon = 0)
    ("HS001", "S004", {}, Refusal.ITEM_NOT_FOR_LOAN),  # lost
    ("HS001", "S005", {}, Refusal.ITEM_NOT_FOR_LOAN),  # a status word nobody mapped
    ("HS001", "S010", {}, Refusal.ON_LOAN_TO_ANOTHER),
    ("HS001", "S001", {"max_loans": 1}, Refusal.TOO_MANY_LOANS),
    ("HS004", "S001", {"max_overdue": 1}, Refusal.TOO_MANY_OVERDUE),
    ("HS002", "S001", {}, Refusal.PATRON_EXPIRED),
    ("HS003", "S001", {}, Refusal.PATRON_BLOCKED),
    ("HS999", "S001", {}, Refusal.UNKNOWN_PATRON),
    ("HS001", "S999", {}, Refusal.UNKNOWN_ITEM),
]


@pytest.mark.parametrize(("patron", "item", "changes", "refusal"), REFUSALS,
                         ids=[r[3].value for r in REFUSALS])  # fmt: skip
def test_refused_checkout_changes_nothing(
    school: School, patron: str, item: str, changes: dict[str, int], refusal: Refusal
) -> None:
    """Each refusal is answered with its reason and every table is as it was."""
    backend = school.backend(POLICY.with_values(changes))
    before = school.snapshot()
    outcome = backend.checkout(LIBRARY, patron, item, NOW)
    assert (outcome.ok, outcome.refusal) == (False, refusal)
    assert school.snapshot() == before


def test_already_on_loan_and_renewal_limit(school: School) -> None:
    """The patron's own copy again: ALREADY_ON_LOAN when renewal is not asked for, else a
    renewal, until the renewal limit; no renewal is written past it."""
    backend = school.backend(POLICY.with_values({"max_renewals": 1}))
    same = backend.checkout(LIBRARY, "HS001", "S009", NOW, renew_if_held=False)
    assert (same.ok, same.refusal) == (False, Refusal.ALREADY_ON_LOAN)
    again = backend.checkout(LIBRARY, "HS001", "S009", NOW)
    assert again.ok and again.renewal and again.due == datetime(2026, 12, 16, 23, 59, 59)
    before = school.snapshot()
    limit = backend.renew(LIBRARY, "HS001", "S009", datetime(2026, 12, 10, 9, 0))
    assert (limit.ok, limit.refusal) == (False, Refusal.RENEWAL_LIMIT)
    other = backend.renew(LIBRARY, "HS001", "S010", NOW)
    assert (other.ok, other.refusal) == (False, Refusal.NOT_LOANED_TO_PATRON)
    assert school.snapshot() == before
    assert school.open_loans("S009") == [("HS001", datetime(2026, 12, 16, 23, 59, 59), 1)]


def test_checkin_of_a_copy_on_the_shelf(school: School) -> None:
    """Returning a copy that is not on loan changes nothing."""
    backend = school.backend()
    before = school.snapshot()
    outcome = backend.checkin(LIBRARY, "S001", NOW)
    assert (outcome.ok, outcome.refusal) == (False, Refusal.NOT_ON_LOAN)
    assert backend.checkin(LIBRARY, "S999", NOW).refusal is Refusal.UNKNOWN_ITEM
    assert school.snapshot() == before


def test_block_and_enable_patron(school: School) -> None:
    """A kiosk retaining a card blocks it with staff's message; enabling lifts it."""
    backend = school.backend()
    assert backend.block_patron(LIBRARY, "HS001", "Thẻ bị giữ tại máy", NOW)
    assert school.table("doc_gia")[0][4:6] == (1, "Thẻ bị giữ tại máy")
    refused = backend.checkout(LIBRARY, "HS001", "S001", NOW)
    assert refused.refusal is Refusal.PATRON_BLOCKED
    assert backend.enable_patron(LIBRARY, "HS001", NOW)
    assert school.table("doc_gia")[0][4:6] == (0, "")
    assert not backend.block_patron(LIBRARY, "HS999", "x", NOW)


def test_renew_all(school: School) -> None:
    """Renew-all renews each of the patron's loans."""
    backend = school.backend()
    assert backend.checkout(LIBRARY, "HS001", "S001", datetime(2026, 11, 30, 9, 0)).ok
    outcome = backend.renew_all(LIBRARY, "HS001", NOW)
    assert outcome.ok and sorted(outcome.renewed) == ["S001", "S009"] and not outcome.unrenewed
    assert school.open_loans("S001") == [("HS001", datetime(2026, 12, 16, 23, 59, 59), 1)]


def test_ten_kiosks_one_copy(school: School) -> None:
    """Ten kiosks lend the same copy to ten patrons at the same moment: exactly one loan is
    made, the other nine are told it is on loan to another patron."""
    with school.engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {school.prefix}_doc_gia (ma_the, ho_ten) VALUES (:b, :n)"),
                     [{"b": f"K{n:02d}", "n": f"Học sinh {n}"} for n in range(10)])  # fmt: skip
    backend = school.backend()
    start = threading.Barrier(10)
    outcomes: dict[str, Any] = {}

    def kiosk(n: int) -> None:
        start.wait()
        outcomes[f"K{n:02d}"] = backend.checkout(LIBRARY, f"K{n:02d}", "S002", NOW)

    threads = [threading.Thread(target=kiosk, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    winners = [p for p, o in outcomes.items() if o.ok]
    assert len(outcomes) == 10 and len(winners) == 1
    assert {o.refusal for o in outcomes.values() if not o.ok} == {Refusal.ON_LOAN_TO_ANOTHER}
    assert school.open_loans("S002") == [(winners[0], datetime(2026, 12, 16, 23, 59, 59), 0)]


# -- faults -------------------------------------------------------------------------------


def test_database_down_is_unavailable(school: School) -> None:
    """Nothing listening: the back end opens (it checks its columns later), and every
    call is BackendUnavailable, whose message hides the password."""
    url = f"{school.url.split('://')[0]}://thuvien:mat-khau-bi-mat@127.0.0.1:{free_port()}/test"
    backend = school.backend(url=url)
    with pytest.raises(BackendUnavailable) as caught:
        backend.patron(LIBRARY, "HS001")
    assert "mat-khau-bi-mat" not in str(caught.value) and "***" in str(caught.value)
    with pytest.raises(BackendUnavailable):
        backend.checkout(LIBRARY, "HS001", "S001", NOW)


def test_wrong_login_is_unavailable(school: School) -> None:
    """A login the database refuses is BackendUnavailable without the password."""
    host = "127.0.0.1:3306" if school.dialect == "mariadb" else "127.0.0.1:5432"
    scheme = school.url.split("://")[0]
    backend = school.backend(url=f"{scheme}://khong_co_ai:sai-mat-khau-9@{host}/test")
    with pytest.raises(BackendUnavailable) as caught:
        backend.item(LIBRARY, "S001")
    assert "sai-mat-khau-9" not in str(caught.value)


def test_missing_column_is_reported_at_open(school: School) -> None:
    """A patron statement without a 'name' column: opening says which file, line and
    statement, and lists the columns the statement did return."""
    wrong = school.write_statements("wrong.yaml", {"ho_ten AS name": "ho_ten AS ten"})
    with pytest.raises(StatementsError) as caught:
        school.backend(statements=wrong)
    message = str(caught.value)
    line = load_statements(school.statements).statements["patron"].line
    assert f"statements {wrong}:{line}: statements.patron" in message
    assert "does not return the column(s) name" in message
    assert "returns 'ten', which is not one lienthong reads" in message
    assert "it returned: barcode, ten, pin, expires, blocked, block_message, email" in message


def test_columns_changed_after_open_are_reported_at_use(school: School) -> None:
    """The database changes under a running back end (the patron view loses 'name'): the
    next lookup fails with an error naming the statement and the columns it returned."""
    view = f"{school.prefix}_v_doc_gia"
    school.execute(f"CREATE VIEW {view} AS SELECT ma_the AS barcode, ho_ten AS name "
                   "FROM {p}_doc_gia")  # fmt: skip
    try:
        path = school.folder / "view.yaml"
        body = re.sub(r"(?ms)^  patron: >-.*?(?=^  patron_loans:)",
                      f"  patron: SELECT * FROM {view} WHERE barcode = :barcode\n\n",
                      school.statements.read_text(encoding="utf-8"))  # fmt: skip
        path.write_text(body, encoding="utf-8")
        backend = school.backend(statements=path)
        assert backend.patron(LIBRARY, "HS001") is not None
        school.execute(f"DROP VIEW {view}")
        school.execute(f"CREATE VIEW {view} AS SELECT ma_the AS barcode, ho_ten AS ho_ten "
                       "FROM {p}_doc_gia")  # fmt: skip
        with pytest.raises(MisconfiguredStatement) as caught:
            backend.patron(LIBRARY, "HS001")
        message = str(caught.value)
        assert f"statements {path}:" in message and "statements.patron:" in message
        assert "does not return the column(s) name" in message
        assert "it returned: barcode, ho_ten" in message
    finally:
        school.execute(f"DROP VIEW IF EXISTS {view}")


def test_unknown_table_is_reported_at_open(school: School) -> None:
    """A statement naming a table the database does not have is reported at open."""
    table = f"FROM {school.prefix}_sach WHERE"
    wrong = school.write_statements("table.yaml", {table: table.replace("_sach ", "_sachs ")})
    with pytest.raises(StatementsError, match=r"statements\.item: the database refused it"):
        school.backend(statements=wrong)


def test_broken_write_statement_rolls_back(school: School) -> None:
    """An insert_loan naming a missing column fails when first used: the error names the
    statement, and the tables are unchanged."""
    wrong = school.write_statements("write.yaml", {"so_lan_gia_han)\n": "so_lan_gia_han, x)\n",
                                                   ":due, 0)": ":due, 0, 1)"})  # fmt: skip
    backend = school.backend(statements=wrong)
    before = school.snapshot()
    with pytest.raises(MisconfiguredStatement, match=r"statements\.insert_loan: the database "):
        backend.checkout(LIBRARY, "HS001", "S001", NOW)
    assert school.snapshot() == before


def test_write_that_reads_do_not_show_rolls_back(school: School) -> None:
    """An insert_loan writing somewhere current_loan does not look: the checkout is
    rolled back whole and the error says why."""
    elsewhere = "VALUES (CASE WHEN :item = '' THEN '' ELSE 'S003' END, :patron, :now, :due, 0)"
    wrong = school.write_statements(
        "elsewhere.yaml", {"VALUES (:item, :patron, :now, :due, 0)": elsewhere}
    )
    backend = school.backend(statements=wrong)
    before = school.snapshot()
    with pytest.raises(MisconfiguredStatement, match="current_loan shows no loan"):
        backend.checkout(LIBRARY, "HS001", "S001", NOW)
    assert school.snapshot() == before


def test_open_from_config_entry(school: School, tmp_path: Path) -> None:
    """open_sql_circulation takes a circulation.backends entry: the password from its
    environment variable, the policy from the configuration; a missing variable is named."""
    from tests.sync_helpers import write_config

    config = write_config(tmp_path, [], **{"circulation.policy.loan_days": 7})
    entry = {"name": "truong-db", "kind": "sql", "url": school.url, "password_env": None,
             "mapping": str(school.statements), "timeout_seconds": 5}  # fmt: skip
    backend = open_sql_circulation(entry, config)
    school.opened.append(backend)
    outcome = backend.checkout(LIBRARY, "HS001", "S001", NOW)
    assert outcome.ok and outcome.due == datetime(2026, 12, 9, 23, 59, 59)
    os.environ.pop("LT_TEST_NO_SUCH_PASSWORD", None)
    with pytest.raises(StatementsError, match="LT_TEST_NO_SUCH_PASSWORD"):
        open_sql_circulation({**entry, "password_env": "LT_TEST_NO_SUCH_PASSWORD"}, config)


# -- end to end: the real gateway, a kiosk, the school's database ---------------------------


def test_kiosk_checkout_and_checkin_through_the_gateway(
    school: School, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway is started with a kiosk account on a sql back end; a kiosk logs in,
    sees only what the statements allow, checks a copy out with the patron's PIN and in
    again: the loan row appears in the school's database and is closed, the replies carry
    the title and due date, and the log holds neither the PIN nor the database password."""
    from gateway.config import render_config
    from gateway.passwords import hash_password
    from gateway.store import open_store
    from protocols.sip2.codec import Message, sip_date
    from tests.servers import running_gateway_process
    from tests.sip2_client import RawKiosk

    folder = tmp_path / "gateway"
    folder.mkdir()
    (folder / "circulation-sql.yaml").write_text(
        school.statements.read_text(encoding="utf-8"), encoding="utf-8"
    )
    entry = {"name": "truong-db", "kind": "sql", "url": school.url,
             "mapping": "circulation-sql.yaml", "timeout_seconds": 5}  # fmt: skip
    account = {"user": "kiosk-truong", "password_hash": hash_password("mat-khau-kiosk"),
               "library": LIBRARY, "location": "", "allowed_addresses": [], "charset": "utf-8",
               "terminator": "cr", "error_detection": True, "backend": "truong-db"}  # fmt: skip
    rendered = yaml.safe_load(render_config({
        "gateway.name": "Liên thông", "gateway.admin_email": "a@example.vn",
        "gateway.oai_namespace": "a.example.vn", "store.path": "store.db",
        "libraries": [{"id": LIBRARY, "name": "Trường THPT Nguyễn Du", "kind": "school"}],
        "sip2.accounts": [account], "endpoints.sip2": True,
        "endpoints.sru": False, "endpoints.oaipmh": False, "endpoints.z3950": False,
    }))  # fmt: skip
    # Written as an administrator would: render_config fills in the sip2-only keys'
    # defaults for every back end entry, which the check then refuses for kind sql.
    rendered["circulation"]["backends"] = [entry]
    (folder / "lienthong.yaml").write_text(yaml.safe_dump(rendered, allow_unicode=True),
                                           encoding="utf-8")  # fmt: skip
    with open_store(folder / "store.db"):
        pass  # no catalogue: this gateway only lends
    port = free_port()
    stamp = sip_date(datetime.now())
    args = ["-c", str(folder / "lienthong.yaml"), "serve", "--sip2-port", str(port)]
    with running_gateway_process(args, folder, "sip2") as (_, process):
        kiosk = RawKiosk(port)
        try:
            login = Message("93", {"uid_algorithm": "0", "pwd_algorithm": "0"},
                            [("CN", "kiosk-truong"), ("CO", "mat-khau-kiosk")])  # fmt: skip
            assert kiosk.exchange(login, "0").fixed["ok"] == "1"
            status = kiosk.exchange(Message("99", {"status_code": "0", "max_print_width": "080",
                                        "protocol_version": "2.00"}), "1")  # fmt: skip
            assert status.fixed["online_status"] == "Y" and status.fixed["checkout_ok"] == "Y"
            # 15 (hold) and 19 (item status update) are not offered by the statements.
            assert status.get("BX") == "YYYYYYYYYYYNYNYY"
            checkout = Message("11", {"sc_renewal_policy": "Y", "no_block": "N",
                                      "transaction_date": stamp, "nb_due_date": " " * 18},
                               [("AO", LIBRARY), ("AA", "HS001"), ("AB", "S001"), ("AC", ""),
                                ("AD", "1234")])  # fmt: skip
            lent = kiosk.exchange(checkout, "2")
            assert lent.fixed["ok"] == "1", lent.all("AF")
            assert lent.get("AJ") == "Truyện Kiều"
            loans = school.open_loans("S001")
            assert [row[0] for row in loans] == ["HS001"]
            assert loans[0][1].strftime("%Y%m%d") == (lent.get("AH") or "")[:8]
            returned = {"no_block": "N", "transaction_date": stamp, "return_date": stamp}
            where = [("AP", ""), ("AO", LIBRARY), ("AB", "S001"), ("AC", "")]
            checkin = Message("09", returned, where)
            assert kiosk.exchange(checkin, "3").fixed["ok"] == "1"
            assert school.open_loans("S001") == []
        finally:
            kiosk.close()
        log = process.output_so_far()
    assert "1234" not in log and "mat-khau-kiosk" not in log
