"""SIP2 sessions against the real embedded back end (a SQLite file per test): every
message's answer and its effect on the loan data, per-account character sets and error
detection, routing by account, address limits, and a locked database answered as
"try again" without losing anything."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.circulation.embedded import EmbeddedCirculation, ItemRecord, PatronRecord
from gateway.circulation.policy import LoanPolicy, Policies
from gateway.passwords import hash_password
from protocols.sip2.codec import Charset, Message, decode_message, encode_message, sip_date
from protocols.sip2.service import Account, PinGuard, Session, SIP2Settings

T0 = datetime(2026, 11, 2, 10, 0, 0)
LIB = "thpt-ntmk"
POLICY = LoanPolicy(loan_days=14, max_loans=3, max_renewals=1, fine_per_day=1000,
                    max_fines=5000, max_overdue=0, hold_shelf_days=7)  # fmt: skip
PASSWORD = "quay-thu-vien"
HASH = hash_password(PASSWORD)


@pytest.fixture
def clock() -> list[datetime]:
    """The session's and back end's time, settable."""
    return [T0]


@pytest.fixture
def backend(tmp_path: Path, clock: list[datetime]) -> Iterator[EmbeddedCirculation]:
    """Borrowers (one English-speaking) and copies of one school library."""
    with EmbeddedCirculation(tmp_path / "circulation.db", Policies(POLICY),
                             clock=lambda: clock[0], busy_timeout=0.2) as opened:  # fmt: skip
        opened.load(
            [PatronRecord(LIB, "HS001", "Nguyễn Văn Đức", pin="1234"),
             PatronRecord(LIB, "HS002", "Trần Thị Mai", pin="5678"),
             PatronRecord(LIB, "HS003", "Anna Smith", pin="4321", language="en")],
            [ItemRecord(LIB, f"NTMK{n:04d}", f"Sách {n}", location="Kho mượn")
             for n in range(1, 7)],
        )  # fmt: skip
        yield opened


def _account(**changes: object) -> Account:
    values: dict[str, object] = {"user": "kiosk", "password_hash": HASH, "library": LIB}
    values.update(changes)
    return Account(**values)  # type: ignore[arg-type]


def _session(
    backend: EmbeddedCirculation,
    clock: list[datetime],
    account: Account | None = None,
    *,
    require_login: bool = True,
    peer: str = "127.0.0.1",
) -> Session:
    account = account or _account()
    settings = SIP2Settings(accounts={account.user: account},
                            libraries={LIB: "Thư viện Trường THPT Nguyễn Thị Minh Khai"},
                            require_login=require_login)  # fmt: skip
    return Session(settings, lambda name: backend, PinGuard(5, 300), peer=peer,
                   now=lambda: clock[0])  # fmt: skip


class Kiosk:
    """Drives a session with messages, decoding replies in the account's character set."""

    def __init__(self, session: Session, charset: Charset = Charset.UTF8) -> None:
        self.session = session
        self.charset = charset
        self.sequence = 0
        self.raw = b""

    def ask(self, code: str, fixed: dict[str, str], *fields: tuple[str, str]) -> Message:
        """Send one message (with AY/AZ) and decode the reply."""
        self.sequence = (self.sequence + 1) % 10
        message = Message(code, fixed, list(fields), sequence=str(self.sequence))
        line = encode_message(message, self.charset)[:-1]
        reply = self.session.receive(line)
        assert reply.data is not None
        self.raw = reply.data
        return decode_message(reply.data.rstrip(b"\r\n"), self.charset)

    def login(self, user: str = "kiosk", password: str = PASSWORD) -> Message:
        """93."""
        return self.ask("93", {"uid_algorithm": "0", "pwd_algorithm": "0"}, ("CN", user),
                        ("CO", password))  # fmt: skip


def _now() -> str:
    return sip_date(T0)


def _checkout(kiosk: Kiosk, patron: str, item: str, renew: str = "N") -> Message:
    return kiosk.ask("11", {"sc_renewal_policy": renew, "no_block": "N",
                            "transaction_date": _now(), "nb_due_date": " " * 18},
                     ("AO", LIB), ("AA", patron), ("AB", item), ("AC", ""))  # fmt: skip


def _checkin(kiosk: Kiosk, item: str, when: datetime = T0) -> Message:
    return kiosk.ask("09", {"no_block": "N", "transaction_date": sip_date(when),
                            "return_date": sip_date(when)},
                     ("AP", "quầy"), ("AO", LIB), ("AB", item), ("AC", ""))  # fmt: skip


def _loans(backend: EmbeddedCirculation) -> list[tuple[str, str, int]]:
    return [(row.item_barcode, row.patron_barcode, row.renewals) for row in backend.loans()]


@pytest.fixture
def kiosk(backend: EmbeddedCirculation, clock: list[datetime]) -> Kiosk:
    """A logged-in kiosk on the school library's account."""
    kiosk = Kiosk(_session(backend, clock))
    assert kiosk.login().fixed["ok"] == "1"
    return kiosk


def test_checkout_gives_due_date_and_vietnamese_screen(kiosk: Kiosk, backend) -> None:  # type: ignore[no-untyped-def]
    """A checkout answers ok, desensitise, the title and the due date 14 days on."""
    reply = _checkout(kiosk, "HS001", "NTMK0001")
    assert reply.fixed["ok"] == "1" and reply.fixed["desensitize"] == "Y"
    assert reply.get("AJ") == "Sách 1"
    assert reply.get("AH") == "20261116    235959"
    assert reply.get("AF") == "Mượn thành công. Hạn trả: 16/11/2026."
    assert _loans(backend) == [("NTMK0001", "HS001", 0)]


def test_checkout_refusals_leave_loans_unchanged(kiosk: Kiosk, backend) -> None:  # type: ignore[no-untyped-def]
    """On loan to another patron, over the loan limit: ok 0, words, nothing changed."""
    _checkout(kiosk, "HS001", "NTMK0001")
    taken = _checkout(kiosk, "HS002", "NTMK0001")
    assert taken.fixed["ok"] == "0" and taken.fixed["desensitize"] == "N"
    assert taken.get("AF") == "Tài liệu này đang được bạn đọc khác mượn."
    for n in (2, 3):
        assert _checkout(kiosk, "HS001", f"NTMK{n:04d}").fixed["ok"] == "1"
    over = _checkout(kiosk, "HS001", "NTMK0004")
    assert over.fixed["ok"] == "0"
    assert over.get("AF") == "Bạn đã mượn tối đa số tài liệu cho phép."
    assert sorted(_loans(backend)) == [("NTMK0001", "HS001", 0), ("NTMK0002", "HS001", 0),
                                       ("NTMK0003", "HS001", 0)]  # fmt: skip


def test_english_patron_gets_english(kiosk: Kiosk) -> None:
    """A patron whose record says English reads English on the kiosk."""
    reply = _checkout(kiosk, "HS003", "NTMK0001")
    assert reply.get("AF") == "Checked out. Due 16/11/2026."


def test_renewal_limit_and_renew_all(kiosk: Kiosk, backend, clock) -> None:  # type: ignore[no-untyped-def]
    """29 renews once (the policy's limit) and then refuses; 65 reports renewed and
    unrenewed copies by barcode."""
    _checkout(kiosk, "HS002", "NTMK0001")
    _checkout(kiosk, "HS002", "NTMK0002")
    clock[0] = T0 + timedelta(days=10)
    renew = {"third_party_allowed": "N", "no_block": "N", "transaction_date": _now(),
             "nb_due_date": " " * 18}  # fmt: skip
    first = kiosk.ask("29", renew, ("AO", LIB), ("AA", "HS002"), ("AB", "NTMK0001"))
    assert first.code == "30" and first.fixed["ok"] == "1" and first.fixed["renewal_ok"] == "Y"
    second = kiosk.ask("29", renew, ("AO", LIB), ("AA", "HS002"), ("AB", "NTMK0001"))
    assert second.fixed["ok"] == "0"
    assert second.get("AF") == "Tài liệu đã được gia hạn tối đa số lần cho phép."
    everything = kiosk.ask("65", {"transaction_date": _now()}, ("AO", LIB), ("AA", "HS002"))
    assert everything.code == "66"
    assert everything.all("BM") == ["NTMK0002"] and everything.all("BN") == ["NTMK0001"]
    assert everything.fixed["renewed_count"] == "0001"
    assert everything.fixed["unrenewed_count"] == "0001"
    assert sorted(_loans(backend)) == [("NTMK0001", "HS002", 1), ("NTMK0002", "HS002", 1)]


def test_late_return_charges_a_fine_that_blocks_and_is_paid(kiosk: Kiosk, backend, clock) -> None:  # type: ignore[no-untyped-def]
    """A copy returned 6 days late costs 6,000 đồng, which is over the 5,000 limit: the
    patron's status shows excessive fines and checkouts are refused until 37 pays it."""
    _checkout(kiosk, "HS001", "NTMK0001")
    clock[0] = T0 + timedelta(days=20)
    back = _checkin(kiosk, "NTMK0001", clock[0])
    assert back.fixed["ok"] == "1"
    assert back.all("AF") == ["Trả tài liệu thành công.", "Trả quá hạn, phí phạt: 6000."]
    status = kiosk.ask("23", {"language": "000", "transaction_date": _now()},
                       ("AO", LIB), ("AA", "HS001"), ("AC", ""), ("AD", "1234"))  # fmt: skip
    assert status.fixed["patron_status"][10] == "Y" and status.get("BV") == "6000"
    refused = _checkout(kiosk, "HS001", "NTMK0002")
    assert refused.get("AF") == "Bạn còn nợ phí quá mức cho phép. Vui lòng liên hệ thủ thư."
    fee = {"transaction_date": _now(), "fee_type": "01", "payment_type": "00",
           "currency_type": "VND"}  # fmt: skip
    bad = kiosk.ask("37", fee, ("BV", "abc"), ("AO", LIB), ("AA", "HS001"))
    assert bad.code == "38" and bad.fixed["payment_accepted"] == "N"
    paid = kiosk.ask("37", fee, ("BV", "6000"), ("AO", LIB), ("AA", "HS001"), ("BK", "T-1"))
    assert paid.fixed["payment_accepted"] == "Y"
    assert paid.get("AF") == "Đã nhận thanh toán. Còn nợ: 0."
    assert _checkout(kiosk, "HS001", "NTMK0002").fixed["ok"] == "1"


def test_patron_information_summary_and_range(kiosk: Kiosk, clock) -> None:  # type: ignore[no-untyped-def]
    """63 counts every category and lists only the one the summary asks for, from BP to
    BQ; overdue loans are counted as overdue."""
    for n in (1, 2, 3):
        _checkout(kiosk, "HS002", f"NTMK{n:04d}")
    clock[0] = T0 + timedelta(days=15)
    info = kiosk.ask("63", {"language": "000", "transaction_date": _now(),
                            "summary": "  Y       "},
                     ("AO", LIB), ("AA", "HS002"), ("AD", "5678"), ("BP", "2"),
                     ("BQ", "3"))  # fmt: skip
    assert info.code == "64"
    assert info.fixed["charged_items_count"] == "0003"
    assert info.fixed["overdue_items_count"] == "0003"
    assert len(info.all("AU")) == 2 and not info.all("AT")
    assert info.get("CQ") == "Y" and info.get("AE") == "Trần Thị Mai"
    assert info.get("CB") == "0003"  # the loan limit


def test_holds_queue_and_hold_shelf(kiosk: Kiosk, backend) -> None:  # type: ignore[no-untyped-def]
    """15 queues a patron for a lent copy; its checkin alerts the kiosk to the hold shelf;
    another patron cannot borrow it; the holder can; 15 '-' cancels a hold."""
    _checkout(kiosk, "HS001", "NTMK0001")
    hold = {"hold_mode": "+", "transaction_date": _now()}
    placed = kiosk.ask("15", hold, ("AO", LIB), ("AA", "HS002"), ("AB", "NTMK0001"))
    assert placed.code == "16" and placed.fixed["ok"] == "1" and placed.get("BR") == "1"
    back = _checkin(kiosk, "NTMK0001")
    assert back.fixed["alert"] == "Y"
    assert "Tài liệu có người đặt trước: để vào giá giữ sách." in back.all("AF")
    assert _checkout(kiosk, "HS003", "NTMK0001").fixed["ok"] == "0"
    assert _checkout(kiosk, "HS002", "NTMK0001").fixed["ok"] == "1"
    kiosk.ask("15", hold, ("AO", LIB), ("AA", "HS003"), ("AB", "NTMK0001"))
    cancel = {"hold_mode": "-", "transaction_date": _now()}
    cancelled = kiosk.ask("15", cancel, ("AO", LIB), ("AA", "HS003"), ("AB", "NTMK0001"))
    assert (
        cancelled.fixed["ok"] == "1" and cancelled.get("AF") == "Hold cancelled."
    )  # HS003 reads English


def test_item_information_status_update_and_end_session(kiosk: Kiosk) -> None:
    """17 tells a lent copy's status (04) and due date, 19 stores item properties, 35
    ends the patron's session."""
    _checkout(kiosk, "HS001", "NTMK0005")
    info = kiosk.ask("17", {"transaction_date": _now()}, ("AO", LIB), ("AB", "NTMK0005"))
    assert info.code == "18" and info.fixed["circulation_status"] == "04"
    assert info.get("AH") == "20261116    235959" and info.get("AQ") == "Kho mượn"
    shelf = kiosk.ask("17", {"transaction_date": _now()}, ("AO", LIB), ("AB", "NTMK0006"))
    assert shelf.fixed["circulation_status"] == "03"
    update = kiosk.ask("19", {"transaction_date": _now()}, ("AO", LIB), ("AB", "NTMK0006"),
                       ("CH", "RFID tag 42"))  # fmt: skip
    assert update.code == "20" and update.fixed["item_properties_ok"] == "1"
    again = kiosk.ask("17", {"transaction_date": _now()}, ("AO", LIB), ("AB", "NTMK0006"))
    assert again.get("CH") == "RFID tag 42"
    end = kiosk.ask("35", {"transaction_date": _now()}, ("AO", LIB), ("AA", "HS001"))
    assert end.code == "36" and end.fixed["end_session"] == "Y"


def test_ascii_account_folds_vietnamese(backend, clock) -> None:  # type: ignore[no-untyped-def]
    """A kiosk on the ASCII character set reads names and screens without marks, đ as d."""
    kiosk = Kiosk(_session(backend, clock, _account(charset=Charset.ASCII)), Charset.ASCII)
    kiosk.login()
    status = kiosk.ask("23", {"language": "000", "transaction_date": _now()},
                       ("AO", LIB), ("AA", "HS001"), ("AC", ""), ("AD", "1234"))  # fmt: skip
    assert status.get("AE") == "Nguyen Van Duc"
    assert all(byte < 128 for byte in kiosk.raw)


def test_cp850_account_and_no_error_detection(backend, clock) -> None:  # type: ignore[no-untyped-def]
    """A cp850 kiosk without error detection gets cp850 bytes and no AY/AZ trailer;
    what cp850 cannot carry becomes "?"."""
    account = _account(charset=Charset.CP850, error_detection=False, terminator=b"\r\n")
    kiosk = Kiosk(_session(backend, clock, account), Charset.CP850)
    kiosk.login()
    reply = _checkout(kiosk, "HS003", "NTMK0001")
    assert reply.fixed["ok"] == "1"
    assert b"AZ" not in kiosk.raw and kiosk.raw.endswith(b"|\r\n")


def test_routing_by_institution_without_login(backend, clock) -> None:  # type: ignore[no-untyped-def]
    """With login not required, a kiosk is served by the library its AO names; an AO no
    library has gets "not logged in"."""
    kiosk = Kiosk(_session(backend, clock, require_login=False))
    assert _checkout(kiosk, "HS001", "NTMK0001").fixed["ok"] == "1"
    stray = kiosk.ask("11", {"sc_renewal_policy": "N", "no_block": "N",
                             "transaction_date": _now(), "nb_due_date": " " * 18},
                      ("AO", "khong-co"), ("AA", "HS001"), ("AB", "NTMK0002"),
                      ("AC", ""))  # fmt: skip
    assert stray.fixed["ok"] == "0"
    assert stray.get("AF") == "Máy chưa đăng nhập vào hệ thống."


def test_allowed_addresses(backend, clock) -> None:  # type: ignore[no-untyped-def]
    """An account limited to a network refuses a login from outside it."""
    import ipaddress

    account = _account(allowed=(ipaddress.ip_network("10.1.2.0/24"),))
    inside = Kiosk(_session(backend, clock, account, peer="10.1.2.7"))
    assert inside.login().fixed["ok"] == "1"
    outside = Kiosk(_session(backend, clock, account, peer="192.168.1.9"))
    assert outside.login().fixed["ok"] == "0"


def test_locked_database_answers_try_again(kiosk: Kiosk, backend) -> None:  # type: ignore[no-untyped-def]
    """While another process holds the database's write lock, a checkout is answered
    with ok 0 and "try again"; afterwards the same checkout goes through, once."""
    holder = sqlite3.connect(backend.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        busy = _checkout(kiosk, "HS001", "NTMK0001")
        assert busy.fixed["ok"] == "0"
        assert busy.get("AF") == "Hệ thống tạm thời không phản hồi. Vui lòng thử lại."
    finally:
        holder.rollback()
        holder.close()
    assert _checkout(kiosk, "HS001", "NTMK0001").fixed["ok"] == "1"
    assert _loans(backend) == [("NTMK0001", "HS001", 0)]


# -- review findings of issue 7 ----------------------------------------------------------


def _status23(kiosk: Kiosk, patron: str, pin: str | None = None) -> Message:
    fields = [("AO", LIB), ("AA", patron), ("AC", "")] + ([("AD", pin)] if pin else [])
    return kiosk.ask("23", {"language": "000", "transaction_date": _now()}, *fields)


def _fee(kiosk: Kiosk, amount: str, *fields: tuple[str, str], currency: str = "VND") -> Message:
    fixed = {"transaction_date": _now(), "fee_type": "01", "payment_type": "00",
             "currency_type": currency}  # fmt: skip
    return kiosk.ask("37", fixed, ("BV", amount), ("AO", LIB), ("AA", "HS001"), *fields)


def test_unknown_login_name_costs_a_real_key_derivation(backend, clock) -> None:  # type: ignore[no-untyped-def]
    """The hash an unknown login name is checked against is a real one, so refusing an
    unknown name takes about as long as refusing a wrong password (no enumeration of
    account names by timing)."""
    import time

    from gateway.passwords import is_password_hash, verify_password
    from protocols.sip2 import service

    assert is_password_hash(service._DUMMY_HASH)
    assert not verify_password(PASSWORD, service._DUMMY_HASH)

    def slowest_refusal(user: str) -> float:
        times = []
        for _ in range(3):
            kiosk = Kiosk(_session(backend, clock))
            started = time.perf_counter()
            assert kiosk.login(user, "sai-mat-khau").fixed["ok"] == "0"
            times.append(time.perf_counter() - started)
        return min(times)

    wrong_password = slowest_refusal("kiosk")
    unknown_user = slowest_refusal("khong-ai-ca")
    assert unknown_user > wrong_password / 4, (unknown_user, wrong_password)


def test_kiosk_sending_a_response_code_is_ignored(kiosk: Kiosk) -> None:
    """94, 96, 98 and 24 from a kiosk are not requests: no reply, no error, and the next
    request is answered."""
    for code in ("94", "96", "98", "24", "10"):
        line = encode_message(Message(code, {}, [], sequence="1"))[:-1]
        reply = kiosk.session.receive(line)
        assert reply.data is None and not reply.close, code
    assert _status23(kiosk, "HS001", "1234").code == "24"


def test_checkin_date_is_now_unless_offline(kiosk: Kiosk, clock) -> None:  # type: ignore[no-untyped-def]
    """A checkin's return date is only honoured for an offline transaction (no block Y):
    an online kiosk claiming an early return still pays the fine for the late one."""
    _checkout(kiosk, "HS001", "NTMK0001")
    _checkout(kiosk, "HS002", "NTMK0002")
    clock[0] = T0 + timedelta(days=20)
    early = sip_date(T0 + timedelta(days=1))
    online = kiosk.ask("09", {"no_block": "N", "transaction_date": _now(), "return_date": early},
                       ("AO", LIB), ("AB", "NTMK0001"))  # fmt: skip
    assert online.fixed["ok"] == "1"
    assert "Trả quá hạn, phí phạt: 6000." in online.all("AF")
    offline = kiosk.ask("09", {"no_block": "Y", "transaction_date": _now(), "return_date": early},
                        ("AO", LIB), ("AB", "NTMK0002"))  # fmt: skip
    assert offline.fixed["ok"] == "1" and offline.all("AF") == ["Trả tài liệu thành công."]


def test_checkin_with_year_one_in_utc_under_a_western_zone(kiosk: Kiosk, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A return date of 0001-01-01 UTC cannot be shown in a zone behind UTC; the checkin
    is answered (as returned now) instead of failing."""
    import time

    _checkout(kiosk, "HS001", "NTMK0003")
    monkeypatch.setenv("TZ", "America/Sao_Paulo")
    time.tzset()
    try:
        reply = kiosk.ask("09", {"no_block": "Y", "transaction_date": _now(),
                                 "return_date": "00010101   Z000000"},
                          ("AO", LIB), ("AB", "NTMK0003"))  # fmt: skip
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert reply.code == "10" and reply.fixed["ok"] == "1"
    assert reply.all("AF") == ["Trả tài liệu thành công."]


def test_item_status_update_without_properties_is_refused(kiosk: Kiosk) -> None:
    """A 19 without CH is refused as missing a field and leaves the stored properties."""
    kiosk.ask("19", {"transaction_date": _now()}, ("AO", LIB), ("AB", "NTMK0006"),
              ("CH", "RFID tag 42"))  # fmt: skip
    bare = kiosk.ask("19", {"transaction_date": _now()}, ("AO", LIB), ("AB", "NTMK0006"))
    assert bare.code == "20" and bare.fixed["item_properties_ok"] == "0"
    assert bare.get("AF") == "Yêu cầu thiếu thông tin: CH."
    info = kiosk.ask("17", {"transaction_date": _now()}, ("AO", LIB), ("AB", "NTMK0006"))
    assert info.get("CH") == "RFID tag 42"


def test_fee_paid_checks_pin_currency_and_amount(kiosk: Kiosk, clock) -> None:  # type: ignore[no-untyped-def]
    """37 with a wrong PIN, another currency, or an amount with thousands separators is
    refused and the fine stays; a plain amount in đồng with the right PIN pays it."""
    _checkout(kiosk, "HS001", "NTMK0001")
    clock[0] = T0 + timedelta(days=20)
    _checkin(kiosk, "NTMK0001", clock[0])
    wrong_pin = _fee(kiosk, "6000", ("AD", "0000"))
    assert wrong_pin.fixed["payment_accepted"] == "N"
    assert wrong_pin.get("AF") == "Mã PIN không đúng."
    dollars = _fee(kiosk, "6000", currency="USD")
    assert dollars.fixed["payment_accepted"] == "N"
    for ambiguous in ("6.000", "6,000", "6000.5", "-6000", "1e3"):
        refused = _fee(kiosk, ambiguous)
        assert refused.fixed["payment_accepted"] == "N", ambiguous
        assert refused.get("AF") == "Số tiền không hợp lệ.", ambiguous
    assert _status23(kiosk, "HS001", "1234").get("BV") == "6000"
    paid = _fee(kiosk, "6000.00", ("AD", "1234"))
    assert paid.fixed["payment_accepted"] == "Y"
    assert _status23(kiosk, "HS001", "1234").get("BV") == "0"


def test_wrong_pin_reveals_nothing_about_the_patron(kiosk: Kiosk, clock) -> None:  # type: ignore[no-untyped-def]
    """With a wrong PIN, 23 and 63 say only that the card exists and the PIN is wrong: no
    name, fines, counts, limits, item lists or contact details; every privilege denied."""
    _checkout(kiosk, "HS002", "NTMK0001")
    status = _status23(kiosk, "HS002", "0000")
    assert status.get("BL") == "Y" and status.get("CQ") == "N"
    assert status.get("AE") == "" and status.get("BV") is None and status.get("BH") is None
    assert status.fixed["patron_status"] == "YYYY" + " " * 10
    info = kiosk.ask("63", {"language": "000", "transaction_date": _now(),
                            "summary": "  Y       "},
                     ("AO", LIB), ("AA", "HS002"), ("AD", "0000"))  # fmt: skip
    assert info.get("BL") == "Y" and info.get("CQ") == "N" and info.get("AE") == ""
    assert info.fixed["charged_items_count"] == "    "
    for field_id in ("AU", "CB", "BV", "BD", "BE", "BF", "CC"):
        assert info.get(field_id) is None, field_id
    right = kiosk.ask("63", {"language": "000", "transaction_date": _now(),
                             "summary": "  Y       "},
                      ("AO", LIB), ("AA", "HS002"), ("AD", "5678"))  # fmt: skip
    assert right.get("AE") == "Trần Thị Mai" and right.all("AU") == ["NTMK0001"]


def test_probing_unknown_cards_locks_the_terminal(kiosk: Kiosk) -> None:
    """Card numbers nobody has are counted per terminal: past the probe limit (ten times
    the PIN limit), the terminal looks no one up, so it cannot tell a real card from a
    made-up one; a few mistyped cards do not lock it."""
    assert kiosk.session.guard.probe_limit == 50
    for n in range(50):
        probe = _status23(kiosk, f"BD{n:05d}")
        assert probe.get("BL") == "N" and probe.get("AF") == "Không tìm thấy thẻ bạn đọc."
    real = _status23(kiosk, "HS001", "1234")
    assert real.get("BL") == "N" and real.get("AE") == ""
    assert real.get("AF") == "Nhập sai mã PIN quá nhiều lần. Vui lòng thử lại sau ít phút."
    assert _checkout(kiosk, "HS001", "NTMK0001").fixed["ok"] == "0"


def test_unknown_hold_mode_is_refused(kiosk: Kiosk, backend) -> None:  # type: ignore[no-untyped-def]
    """15 with hold mode "*" (change) or an unknown mode places no hold."""
    _checkout(kiosk, "HS001", "NTMK0001")
    for mode in ("*", "x"):
        reply = kiosk.ask("15", {"hold_mode": mode, "transaction_date": _now()},
                          ("AO", LIB), ("AA", "HS002"), ("AB", "NTMK0001"))  # fmt: skip
        assert reply.code == "16" and reply.fixed["ok"] == "0", mode
        assert reply.get("AF") == "Chức năng này không được hỗ trợ."
    info = kiosk.ask("17", {"transaction_date": _now()}, ("AO", LIB), ("AB", "NTMK0001"))
    assert info.get("CF") is None  # no one queued


def test_checkin_of_an_unknown_copy_alerts(kiosk: Kiosk) -> None:
    """A copy the library does not know is refused with the alert on, so the sorter sends
    it to a librarian instead of the shelf."""
    reply = _checkin(kiosk, "KHONG-CO")
    assert reply.fixed["ok"] == "0" and reply.fixed["alert"] == "Y"
    assert reply.get("AF") == "Không tìm thấy tài liệu này."


def test_resend_request_before_login_uses_the_kiosks_terminator(backend, clock) -> None:  # type: ignore[no-untyped-def]
    """A bad checksum before login is answered by a 96 ended the way the kiosk ends its
    messages."""
    session = _session(backend, clock)
    line = b"9900802.00AY1AZ0000"
    reply = session.receive(line, b"\r\n")
    assert reply.data == encode_message(Message("96"), terminator=b"\r\n")
