"""The upstream SIP2 circulation back end against a real second lienthong acting as the
library's ILS: the demo gateway on free ports, its embedded circulation database read
back after every change. A fault at an exact moment (a link dying after the request was
sent, a lost reply) is made by a relay in front of that real upstream, so the upstream
really acts and its database shows how often; a scripted server stands in only for
replies lienthong never sends (a late or doubled one); the sans-IO client rules are
tested with bytes alone."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.sip2client import (
    ClientChannel,
    Garbled,
    Reply,
    ResendAsked,
    capabilities_of,
    fee_of,
    refusal_of,
    request,
    when_of,
)
from adapters.sip2upstream import UpstreamSettings, UpstreamSip2, open_upstream
from gateway.circulation import (
    BackendUnavailable,
    Capability,
    CirculationBackend,
    ItemState,
    PatronFlag,
    Refusal,
)
from gateway.demo import DEMO_KIOSK_PASSWORD, DEMO_KIOSK_USER, prepare_demo
from protocols.sip2.codec import Charset, LineFramer, Message, decode_message, encode_message
from tests.conftest import REPO
from tests.servers import GatewayProcess, free_port, running_gateway_process, start_gateway

LIBRARY = "dlk-tinh"
PASSWORD_ENV = "LIENTHONG_TEST_UPSTREAM_PW"
CP850_USER = "lienthong-cp850"
CP850_PASSWORD = "mat-khau-cp850"
CP850_ENV = "LIENTHONG_TEST_UPSTREAM_CP850_PW"


def _csv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass
class Upstream:
    """The demo gateway playing the library's ILS: its SIP2 port, folder and process."""

    port: int
    folder: Path
    process: GatewayProcess
    patrons: dict[str, dict[str, str]]
    shelf: list[str]
    titles: dict[str, str]

    def settings(self, **changes: Any) -> UpstreamSettings:
        """Settings for the demo kiosk login (password from :data:`PASSWORD_ENV`)."""
        values: dict[str, Any] = {"name": "demo-b", "host": "127.0.0.1", "port": self.port,
                                  "user": DEMO_KIOSK_USER, "password_env": PASSWORD_ENV,
                                  "pool_size": 2, "timeout": 5}  # fmt: skip
        values.update(changes)
        return UpstreamSettings(**values)

    def current_loan(self, item: str) -> tuple[str, str, int] | None:
        """(patron, due, renewals) of the copy's current loan, from the upstream's database."""
        with sqlite3.connect(f"file:{self.folder / 'circulation.db'}?mode=ro", uri=True) as db:
            row = db.execute(
                "SELECT p.barcode, l.due, l.renewals FROM loans l JOIN items i ON i.id = "
                "l.item_id JOIN patrons p ON p.id = l.patron_id WHERE i.barcode = ? AND "
                "l.returned_at IS NULL", (item,)).fetchone()  # fmt: skip
        return None if row is None else (row[0], row[1], row[2])

    def holds_of(self, patron: str) -> list[str]:
        """Barcodes of the copies ``patron`` holds, from the upstream's database."""
        with sqlite3.connect(f"file:{self.folder / 'circulation.db'}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT i.barcode FROM holds h JOIN items i ON i.id = h.item_id JOIN patrons p "
                "ON p.id = h.patron_id WHERE p.barcode = ?", (patron,)).fetchall()  # fmt: skip
        return sorted(row[0] for row in rows)

    def logins(self, user: str) -> int:
        """93 logins of ``user`` the upstream has logged so far (one per connection)."""
        return self.process.output_so_far().count(f"sip2 {user} 93 ok")


def _prepare(folder: Path) -> None:
    prepare_demo(folder, echo=lambda _: None)
    added = subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(folder / "lienthong.yaml"),
         "accounts", "add", CP850_USER, "--library", LIBRARY, "--charset", "cp850",
         "--password-env", "NEW_PW"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
        env={**os.environ, "NEW_PW": CP850_PASSWORD, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert added.returncode == 0, added.stderr


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """The demo gateway with its demo kiosk login and a cp850 login added by the CLI."""
    folder = tmp_path_factory.mktemp("upstream") / "demo"
    _prepare(folder)
    port = free_port()
    with running_gateway_process(["demo", "--dir", str(folder), "--sip2-port", str(port)],
                                 folder.parent, "sip2") as (_, process):  # fmt: skip
        patrons = {p["barcode"]: p for p in _csv(folder / "patrons.csv")
                   if p["library"] == LIBRARY}  # fmt: skip
        lent = {row["item_barcode"] for row in _csv(folder / "loans.csv")}
        items = [i for i in _csv(folder / "items.csv") if i["library"] == LIBRARY]
        shelf = [i["barcode"] for i in items if i["barcode"] not in lent]
        titles = {i["barcode"]: i.get("title", "") for i in items}
        yield Upstream(port, folder, process, patrons, shelf, titles)


@pytest.fixture
def backend(upstream: Upstream, monkeypatch: pytest.MonkeyPatch) -> Iterator[UpstreamSip2]:
    """An UpstreamSip2 logged in as the demo kiosk (UTF-8, error detection on)."""
    monkeypatch.setenv(PASSWORD_ENV, DEMO_KIOSK_PASSWORD)
    with UpstreamSip2(upstream.settings()) as opened:
        yield opened


NOW = datetime.now().replace(microsecond=0)


# -- reads ------------------------------------------------------------------------------------


def test_it_is_a_circulation_backend_with_the_upstreams_capabilities(
    backend: UpstreamSip2,
) -> None:
    """The class satisfies the interface, and capabilities come from the upstream's 98
    (a lienthong upstream supports every message)."""
    assert isinstance(backend, CirculationBackend)
    assert backend.capabilities >= {Capability.CHECKOUT, Capability.CHECKIN, Capability.RENEW,
                                    Capability.HOLD, Capability.PATRON_INFO}  # fmt: skip


def test_patron_view_lists_loans_with_titles_and_due_dates(
    backend: UpstreamSip2, upstream: Upstream
) -> None:
    """BDDLK0002 (Võ Thu Bình, two demo loans) comes back with the upstream's name in NFC,
    both loans with their titles and the due dates of the upstream's database; an unknown
    card is None."""
    patron = backend.patron(LIBRARY, "BDDLK0002")
    assert patron is not None
    assert patron.name == "Võ Thu Bình" == upstream.patrons["BDDLK0002"]["name"]
    assert patron.email == "bddlk0002@example.vn"
    loans = {loan.item_barcode: loan for loan in patron.loans}
    lent = {r["item_barcode"]: r for r in _csv(upstream.folder / "loans.csv")
            if r["patron_barcode"] == "BDDLK0002"}  # fmt: skip
    assert set(loans) == set(lent) and len(loans) == 2
    for barcode, loan in loans.items():
        assert loan.title
        assert loan.due.date().isoformat() == lent[barcode]["due_date"]
        assert loan.overdue == (loan.due < datetime.now())
    assert backend.patron(LIBRARY, "BDDLK9999") is None


def test_check_pin_right_and_wrong(backend: UpstreamSip2, upstream: Upstream) -> None:
    """The upstream's CQ decides: the demo PIN is right, another is wrong, an unknown card
    is wrong."""
    pin = upstream.patrons["BDDLK0005"]["pin"]
    assert backend.check_pin(LIBRARY, "BDDLK0005", pin) is True
    assert backend.check_pin(LIBRARY, "BDDLK0005", "x" + pin) is False
    assert backend.check_pin(LIBRARY, "BDDLK9999", pin) is False


def test_item_view_of_shelf_loaned_and_unknown_copies(backend: UpstreamSip2) -> None:
    """A shelf copy is available with its title and location; a lent copy is charged with
    its due date; an unknown barcode is None."""
    shelf = backend.item(LIBRARY, "DLK000003")
    assert shelf is not None and shelf.state is ItemState.AVAILABLE
    assert shelf.title == "Introduction to algorithms" and shelf.location
    lent = backend.item(LIBRARY, "DLK000214")
    assert lent is not None and lent.state is ItemState.CHARGED and lent.due is not None
    assert backend.item(LIBRARY, "KHONG-CO") is None


# -- writes -----------------------------------------------------------------------------------


def test_checkout_renew_checkin_change_the_upstreams_database(
    backend: UpstreamSip2, upstream: Upstream
) -> None:
    """A checkout through the proxy is a loan in the upstream's database with the due date
    the outcome gives; renewing it the same day is ok without using up a renewal (the
    upstream's rule for a double scan); a checkin ends it."""
    copy = "DLK000004"
    assert upstream.current_loan(copy) is None
    lent = backend.checkout(LIBRARY, "BDDLK0003", copy, NOW)
    assert lent.ok and lent.due is not None and lent.item is not None
    assert lent.item.title == "Introduction to algorithms"
    loan = upstream.current_loan(copy)
    assert loan is not None and loan[0] == "BDDLK0003" and loan[2] == 0
    assert loan[1].startswith(lent.due.date().isoformat())
    renewed = backend.renew(LIBRARY, "BDDLK0003", copy, NOW)
    assert renewed.ok and renewed.renewal and renewed.due == lent.due
    assert upstream.current_loan(copy) == loan
    returned = backend.checkin(LIBRARY, copy, NOW)
    assert returned.ok and returned.item is not None
    assert upstream.current_loan(copy) is None


def test_renewal_moves_the_due_date_upstream(backend: UpstreamSip2, upstream: Upstream) -> None:
    """Renewing a demo loan due sooner than a new loan would be moves its due date in the
    upstream's database to the one the outcome gives, and counts one renewal."""
    before = upstream.current_loan("DLK000214")
    assert before is not None and before[0] == "BDDLK0007"
    renewed = backend.renew(LIBRARY, "BDDLK0007", "DLK000214", NOW)
    assert renewed.ok and renewed.due is not None
    after = upstream.current_loan("DLK000214")
    assert after is not None and after[2] == before[2] + 1 and after[1] > before[1]
    assert after[1].startswith(renewed.due.date().isoformat())


def test_refusals_are_typed_and_keep_the_upstreams_words(
    backend: UpstreamSip2, upstream: Upstream
) -> None:
    """A copy lent to someone else, an unknown copy and a checkin of a copy on the shelf
    are refused with the matching Refusal; nothing changes upstream; the upstream's own
    screen message stays readable."""
    before = upstream.current_loan("DLK000214")
    taken = backend.checkout(LIBRARY, "BDDLK0004", "DLK000214", NOW)
    assert not taken.ok and taken.refusal is Refusal.ON_LOAN_TO_ANOTHER
    assert backend.last_screen_messages == ["Tài liệu này đang được bạn đọc khác mượn."]
    assert upstream.current_loan("DLK000214") == before
    unknown = backend.checkout(LIBRARY, "BDDLK0004", "KHONG-CO", NOW)
    assert not unknown.ok and unknown.refusal is Refusal.UNKNOWN_ITEM
    back = backend.checkin(LIBRARY, "DLK000005", NOW)
    assert not back.ok and back.refusal is Refusal.NOT_ON_LOAN
    renewal = backend.renew(LIBRARY, "BDDLK0004", "DLK000214", NOW)
    assert not renewal.ok and renewal.refusal is Refusal.NOT_LOANED_TO_PATRON


def test_hold_placed_and_cancelled(backend: UpstreamSip2, upstream: Upstream) -> None:
    """A hold on a lent copy is in the upstream's holds table and in the patron view;
    cancelling removes it; cancelling again is NO_SUCH_HOLD."""
    placed = backend.place_hold(LIBRARY, "BDDLK0006", "DLK000161", NOW)
    assert placed.ok and placed.queue_position == 1
    assert upstream.holds_of("BDDLK0006") == ["DLK000161"]
    patron = backend.patron(LIBRARY, "BDDLK0006")
    assert patron is not None
    assert [h.item_barcode for h in patron.holds] == ["DLK000161"]
    cancelled = backend.cancel_hold(LIBRARY, "BDDLK0006", "DLK000161", NOW)
    assert cancelled.ok and upstream.holds_of("BDDLK0006") == []
    again = backend.cancel_hold(LIBRARY, "BDDLK0006", "DLK000161", NOW)
    assert not again.ok and again.refusal is Refusal.NO_SUCH_HOLD


def test_block_and_enable_patron(backend: UpstreamSip2) -> None:
    """01 blocks the card upstream (charge denied in the next view), 25 lifts it; an
    unknown card is False both ways."""
    assert backend.block_patron(LIBRARY, "BDDLK0008", "Thẻ bị giữ tại máy", NOW) is True
    blocked = backend.patron(LIBRARY, "BDDLK0008")
    assert blocked is not None and PatronFlag.CHARGE_DENIED in blocked.flags
    assert backend.enable_patron(LIBRARY, "BDDLK0008", NOW) is True
    enabled = backend.patron(LIBRARY, "BDDLK0008")
    assert enabled is not None and enabled.may_borrow
    assert backend.block_patron(LIBRARY, "BDDLK9999", "x", NOW) is False
    assert backend.enable_patron(LIBRARY, "BDDLK9999", NOW) is False


def test_overdue_fine_then_payment(backend: UpstreamSip2, upstream: Upstream) -> None:
    """Returning BDDLK0001's overdue demo loan charges a fine upstream; the patron view
    lists it; paying part of it is accepted and the remainder is what the upstream says."""
    returned = backend.checkin(LIBRARY, "DLK000161", NOW)
    assert returned.ok
    patron = backend.patron(LIBRARY, "BDDLK0001")
    assert patron is not None and patron.fines_total > 0 and patron.fees
    owed = patron.fines_total
    paid = backend.pay_fee(LIBRARY, "BDDLK0001", Decimal(1000), NOW)
    assert paid.ok and paid.transaction_id
    assert paid.remaining == owed - 1000
    assert not backend.pay_fee(LIBRARY, "BDDLK0001", Decimal(-5), NOW).ok


def test_item_properties_are_stored_upstream(backend: UpstreamSip2) -> None:
    """19 stores the properties and the copy read back (17) carries them."""
    item = backend.update_item_properties(LIBRARY, "DLK000006", "RFID:E2801160", NOW)
    assert item is not None and item.properties == "RFID:E2801160"
    assert backend.update_item_properties(LIBRARY, "KHONG-CO", "x", NOW) is None


# -- the pool ---------------------------------------------------------------------------------


def test_pool_reuses_its_logged_in_connections(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty calls from eight threads through a pool of two open at most two upstream
    connections: the pool's own count and the upstream's log of 93 logins agree."""
    monkeypatch.setenv(PASSWORD_ENV, DEMO_KIOSK_PASSWORD)
    before = upstream.logins(DEMO_KIOSK_USER)
    errors: list[BaseException] = []
    with UpstreamSip2(upstream.settings(pool_size=2)) as backend:

        def work() -> None:
            try:
                for _ in range(5):
                    assert backend.item(LIBRARY, "DLK000002") is not None
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        stats = backend.pool.stats
        assert 1 <= stats.opened <= 2 and stats.reused >= 38 and stats.dropped == 0
    deadline = time.monotonic() + 5
    while upstream.logins(DEMO_KIOSK_USER) - before < stats.opened and time.monotonic() < deadline:
        time.sleep(0.1)
    assert upstream.logins(DEMO_KIOSK_USER) - before == stats.opened


def test_wrong_upstream_password_is_unavailable_without_the_password(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused 93 login is BackendUnavailable naming the server and the user, never the
    password; a missing environment variable is named plainly too."""
    secret = "sai-mat-khau-9431"
    monkeypatch.setenv(PASSWORD_ENV, secret)
    backend = UpstreamSip2(upstream.settings())
    with pytest.raises(BackendUnavailable) as refused:
        backend.patron(LIBRARY, "BDDLK0002")
    text = str(refused.value)
    assert "refused the login" in text and DEMO_KIOSK_USER in text and secret not in text
    with pytest.raises(BackendUnavailable):
        _ = backend.capabilities
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(BackendUnavailable, match=PASSWORD_ENV):
        backend.item(LIBRARY, "DLK000001")
    assert secret not in upstream.process.output_so_far()


def test_cp850_upstream_decodes_vietnamese_names(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a cp850 login the upstream sends cp850 bytes: "Võ Thu Bình" (every letter
    in cp850) arrives intact, and a name cp850 cannot carry arrives as the upstream wrote
    it (its "?" substitutions), never as mojibake."""
    monkeypatch.setenv(CP850_ENV, CP850_PASSWORD)
    settings = upstream.settings(user=CP850_USER, password_env=CP850_ENV, charset=Charset.CP850)
    with UpstreamSip2(settings) as backend:
        patron = backend.patron(LIBRARY, "BDDLK0002")
        assert patron is not None and patron.name == "Võ Thu Bình"
        other = backend.patron(LIBRARY, "BDDLK0001")
        assert other is not None
        name = upstream.patrons["BDDLK0001"]["name"]
        assert other.name == name.encode("cp850", "replace").decode("cp850") != name
    # The same bytes read as UTF-8 would not be the name: the charset is really used.
    assert "Võ Thu Bình".encode("cp850").decode("utf-8", "replace") != "Võ Thu Bình"


def test_upstream_killed_then_restarted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the upstream is down every call is BackendUnavailable (reads and writes,
    nothing half done); when it is back the next call works on a fresh connection."""
    folder = tmp_path / "demo"
    prepare_demo(folder, echo=lambda _: None)
    port = free_port()
    monkeypatch.setenv(PASSWORD_ENV, DEMO_KIOSK_PASSWORD)
    args = ["demo", "--dir", str(folder), "--sip2-port", str(port), "--z3950-port",
            str(free_port()), "--http-port"]  # fmt: skip
    settings = UpstreamSettings("demo-c", "127.0.0.1", port, DEMO_KIOSK_USER, PASSWORD_ENV,
                                timeout=5)  # fmt: skip
    with UpstreamSip2(settings) as backend:
        first = _start_and_wait(args + [str(free_port())], folder, port)
        try:
            assert backend.patron(LIBRARY, "BDDLK0002") is not None
        finally:
            first.terminate()
            first.communicate(timeout=30)
        with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{port}"):
            backend.patron(LIBRARY, "BDDLK0002")
        with pytest.raises(BackendUnavailable):
            backend.checkout(LIBRARY, "BDDLK0003", "DLK000001", NOW)
        assert backend.pool.stats.dropped >= 1 and backend.pool.open_count == 0
        second = _start_and_wait(args + [str(free_port())], folder, port)
        try:
            assert backend.checkout(LIBRARY, "BDDLK0003", "DLK000001", NOW).ok
            assert backend.item(LIBRARY, "DLK000001").state is ItemState.CHARGED  # type: ignore[union-attr]
        finally:
            second.terminate()
            output = second.communicate(timeout=30)[0]
        assert "Traceback" not in output


def _start_and_wait(args: list[str], folder: Path, port: int) -> GatewayProcess:
    process = start_gateway(args, folder.parent, unbuffered=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.communicate()[0])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise AssertionError("the upstream did not listen in time")


# -- a connection dying after the request was sent ---------------------------------------------


class FaultyLink:
    """A loopback relay between the back end and the real upstream demo that records every
    line the back end sends and, at the first request whose code is ``code``, fakes one
    fault after passing the request on (so the upstream really carries it out):

    - ``close``: the upstream's reply is held back and the back end's side is closed (the
      link died after the ILS acted);
    - ``lose``: that one reply is held back, later ones pass (a reply lost on the way);
    - ``silence``: no reply passes on that connection any more.
    """

    def __init__(self, upstream_port: int, code: bytes, fault: str) -> None:
        self.upstream_port = upstream_port
        self.code = code
        self.fault = fault
        self.sent: list[bytes] = []
        self.connections = 0
        self.fired = False
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def count(self, code: bytes) -> int:
        """Lines starting with ``code`` the back end sent, over all connections."""
        return sum(1 for line in self.sent if line.startswith(code))

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            hold = threading.Event()
            threading.Thread(target=self._up, args=(client, server, hold), daemon=True).start()
            threading.Thread(target=self._down, args=(client, server, hold), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, hold: threading.Event) -> None:
        framer = LineFramer()
        try:
            while data := client.recv(4096):
                for line in framer.feed(data):
                    self.sent.append(line)
                    if line.startswith(self.code) and not self.fired:
                        self.fired = True
                        hold.set()  # before the upstream can answer
                    server.sendall(line + b"\r")
        except OSError:
            pass
        server.close()

    def _down(self, client: socket.socket, server: socket.socket, hold: threading.Event) -> None:
        framer = LineFramer()
        silenced = False
        try:
            while data := server.recv(4096):
                for line in framer.feed(data):
                    if silenced:
                        continue
                    if hold.is_set():
                        hold.clear()
                        if self.fault == "close":
                            client.shutdown(socket.SHUT_RDWR)
                            client.close()
                            return
                        silenced = self.fault == "silence"
                        continue
                    client.sendall(line + b"\r")
        except OSError:
            pass
        client.close()

    def close(self) -> None:
        """Stop listening."""
        self.sock.close()


@pytest.fixture
def faulty(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[UpstreamSip2, FaultyLink]]]:
    """A factory: a back end talking to the upstream demo through a :class:`FaultyLink`."""
    monkeypatch.setenv(PASSWORD_ENV, DEMO_KIOSK_PASSWORD)
    opened: list[tuple[UpstreamSip2, FaultyLink]] = []

    def make(code: bytes, fault: str, **settings: Any) -> tuple[UpstreamSip2, FaultyLink]:
        link = FaultyLink(upstream.port, code, fault)
        backend = UpstreamSip2(upstream.settings(port=link.port, **settings))
        opened.append((backend, link))
        return backend, link

    yield make
    for backend, link in opened:
        backend.close()
        link.close()


def _loans_of(upstream: Upstream, item: str) -> int:
    """Loans of ``item`` ever recorded in the upstream's database (returned or not)."""
    with sqlite3.connect(f"file:{upstream.folder / 'circulation.db'}?mode=ro", uri=True) as db:
        row = db.execute("SELECT count(*) FROM loans l JOIN items i ON i.id = l.item_id "
                         "WHERE i.barcode = ?", (item,)).fetchone()  # fmt: skip
    return int(row[0])


@pytest.mark.parametrize(("error_detection", "copy"), [(True, 20), (False, 21)])
def test_checkout_whose_connection_dies_after_sending_is_done_once(
    faulty: Callable[..., tuple[UpstreamSip2, FaultyLink]],
    upstream: Upstream,
    error_detection: bool,
    copy: int,
) -> None:
    """The upstream lends the copy, then the link dies before its reply arrives: with or
    without sequence numbers the checkout is BackendUnavailable saying it may or may not
    have been done and what to check, the 11 went upstream exactly once (a replay on a
    new connection would be a second checkout, a renewal), and the upstream has exactly
    one loan of the copy, to the patron, never renewed. The next call works."""
    backend, link = faulty(b"11", "close", error_detection=error_detection)
    item = upstream.shelf[copy]
    before = _loans_of(upstream, item)
    assert upstream.current_loan(item) is None
    with pytest.raises(BackendUnavailable, match=f"may or may not have been done; check "
                       f"whether copy {item} is on loan to patron BDDLK0009"):  # fmt: skip
        backend.checkout(LIBRARY, "BDDLK0009", item, NOW)
    assert link.count(b"11") == 1
    assert _loans_of(upstream, item) == before + 1
    loan = upstream.current_loan(item)
    assert loan is not None and loan[0] == "BDDLK0009" and loan[2] == 0
    seen = backend.item(LIBRARY, item)
    assert seen is not None and seen.state is ItemState.CHARGED
    assert link.count(b"11") == 1 and link.connections == 2
    assert backend.checkin(LIBRARY, item, NOW).ok


def test_fee_payment_whose_connection_dies_is_paid_once(
    faulty: Callable[..., tuple[UpstreamSip2, FaultyLink]], backend: UpstreamSip2
) -> None:
    """A 37 whose link dies after the upstream accepted it is BackendUnavailable, and the
    patron's balance upstream went down by the amount once, not twice."""
    backend.checkin(LIBRARY, "DLK000161", NOW)  # BDDLK0001's overdue loan: a fine (if not yet)
    patron = backend.patron(LIBRARY, "BDDLK0001")
    assert patron is not None and patron.fines_total >= 1000
    owed = patron.fines_total
    cut, link = faulty(b"37", "close")
    with pytest.raises(BackendUnavailable, match="fee paid may or may not have been done; "
                       "check the payments of patron BDDLK0001"):  # fmt: skip
        cut.pay_fee(LIBRARY, "BDDLK0001", Decimal(500), NOW)
    assert link.count(b"37") == 1
    after = backend.patron(LIBRARY, "BDDLK0001")
    assert after is not None and after.fines_total == owed - 500


def test_a_lost_checkout_reply_is_asked_for_again_with_97(
    faulty: Callable[..., tuple[UpstreamSip2, FaultyLink]], upstream: Upstream
) -> None:
    """When a checkout's reply does not come within the timeout, the back end sends 97 on
    the same connection and the upstream resends its stored reply: one connection, one 11
    sent, one loan upstream, the outcome ok with the upstream's due date."""
    backend, link = faulty(b"11", "lose", timeout=1)
    item = upstream.shelf[22]
    before = _loans_of(upstream, item)
    outcome = backend.checkout(LIBRARY, "BDDLK0009", item, NOW)
    assert outcome.ok and outcome.item is not None and outcome.item.title == upstream.titles[item]
    loan = upstream.current_loan(item)
    assert loan is not None and outcome.due is not None
    assert loan[1].startswith(outcome.due.date().isoformat())
    assert link.count(b"11") == 1 and link.count(b"97") == 1 and link.connections == 1
    assert _loans_of(upstream, item) == before + 1 and backend.pool.stats.dropped == 0
    assert backend.checkin(LIBRARY, item, NOW).ok


def test_a_checkin_never_answered_is_not_sent_again(
    faulty: Callable[..., tuple[UpstreamSip2, FaultyLink]], upstream: Upstream
) -> None:
    """A 09 the upstream carries out but whose reply (and the 97's) never comes is
    BackendUnavailable naming the copy; the 09 went out once (sent again on a new
    connection, the upstream would say "not on loan") and the copy is back upstream."""
    backend, link = faulty(b"09", "silence", timeout=1)
    item = upstream.shelf[23]
    assert backend.checkout(LIBRARY, "BDDLK0009", item, NOW).ok
    with pytest.raises(BackendUnavailable, match=f"checkin may or may not have been done; "
                       f"check whether copy {item} is still on loan"):  # fmt: skip
        backend.checkin(LIBRARY, item, NOW)
    assert link.count(b"09") == 1 and link.count(b"97") == 1
    assert upstream.current_loan(item) is None


def test_a_connection_dead_before_sending_is_replaced_quietly(
    backend: UpstreamSip2, upstream: Upstream
) -> None:
    """A pooled connection that can no longer send (here shut for writing, as after the
    ILS's idle timeout) is dropped and the checkout goes out on a fresh one: ok, one
    loan, one connection dropped."""
    item = upstream.shelf[24]
    before = _loans_of(upstream, item)
    connection = backend.pool.acquire()
    connection.sock.shutdown(socket.SHUT_WR)
    backend.pool.release(connection)
    outcome = backend.checkout(LIBRARY, "BDDLK0009", item, NOW)
    assert outcome.ok and backend.pool.stats.dropped == 1
    assert _loans_of(upstream, item) == before + 1
    assert backend.checkin(LIBRARY, item, NOW).ok


# -- replies left on a connection --------------------------------------------------------------


class LateServer:
    """A SIP2 server without sequence numbers that answers 93 and 99 at once, 17 with two
    18s (``double``), and 01 with a 24 only after ``late`` seconds; each 23 is answered
    with a 24 whose CQ is Y when its PIN is "1234" and whose AE names the request (so a
    reply read by the wrong request shows). ``delay`` holds back the reply to the 23 that
    follows a 01."""

    def __init__(self, late: float, delay: float = 0) -> None:
        self.late = late
        self.delay = delay
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    @staticmethod
    def _patron(name: str, pin_ok: bool) -> bytes:
        reply = request("24", datetime(2026, 12, 2, 12), language="000",
                        patron_status=" " * 14)  # fmt: skip
        reply.fields += [("AO", LIBRARY), ("AA", "P"), ("AE", name), ("BL", "Y"),
                         ("CQ", "Y" if pin_ok else "N")]  # fmt: skip
        return encode_message(reply, error_detection=False)

    def _talk(self, conn: socket.socket) -> None:
        framer = LineFramer()
        after_block = False
        with conn:
            try:
                while data := conn.recv(4096):
                    for line in framer.feed(data):
                        message = decode_message(line, error_detection=False)
                        if message.code == "01":
                            time.sleep(self.late)
                            conn.sendall(self._patron("reply to 01", False))
                            after_block = True
                        elif message.code == "23":
                            if after_block:
                                time.sleep(self.delay)
                                after_block = False
                            pin = message.get("AD") == "1234"
                            conn.sendall(self._patron(f"reply to 23 {message.get('AD')}", pin))
                        elif message.code == "17":
                            item = request("18", datetime(2026, 12, 2, 12),
                                           circulation_status="03", security_marker="00",
                                           fee_type="01")  # fmt: skip
                            item.fields += [("AB", message.get("AB") or ""), ("AJ", "Sách")]
                            once = encode_message(item, error_detection=False)
                            conn.sendall(once + once)
                        elif message.code == "99":
                            status = Message("98", {"online_status": "Y"}, [("BX", "Y" * 16)])
                            status.fixed.update({f.name: status.fixed.get(f.name, "Y" * f.width)
                                                 for f in status.spec.fixed})  # fmt: skip
                            conn.sendall(encode_message(status, error_detection=False))
                        else:
                            ok = Message("94", {"ok": "1"})
                            conn.sendall(encode_message(ok, error_detection=False))
            except OSError:
                pass

    def close(self) -> None:
        """Stop listening."""
        self.sock.close()


@pytest.mark.parametrize("delay", [0.0, 0.5])
def test_a_late_block_reply_is_not_read_by_the_next_call(delay: float) -> None:
    """Without sequence numbers, a 24 to 01 that comes after the short wait is read as
    the 23's reply; the 23's own reply follows (at once, or half a second later, after the
    call has returned). The connection is then dropped, not pooled, so the next check of
    a PIN reads its own reply on a fresh connection."""
    server = LateServer(late=1.3, delay=delay)
    try:
        settings = UpstreamSettings("late", "127.0.0.1", server.port, error_detection=False,
                                    pool_size=1, timeout=5)  # fmt: skip
        with UpstreamSip2(settings) as backend:
            assert backend.block_patron(LIBRARY, "P", "Thẻ bị giữ", NOW) is True
            assert backend.check_pin(LIBRARY, "P", "1234") is True
            assert server.connections == 2 and backend.pool.stats.dropped == 1
            assert backend.check_pin(LIBRARY, "P", "9999") is False
            assert server.connections == 2
    finally:
        server.close()


def test_an_extra_reply_left_unread_drops_the_connection() -> None:
    """A server that answers one 17 twice in one packet leaves a reply read but not taken:
    the connection is not pooled, so the next call (a PIN check) is not answered with the
    stale 18 and does not fail; it reads its own reply on a fresh connection."""
    server = LateServer(late=0)
    try:
        settings = UpstreamSettings("double", "127.0.0.1", server.port, error_detection=False,
                                    pool_size=1, timeout=5)  # fmt: skip
        with UpstreamSip2(settings) as backend:
            item = backend.item(LIBRARY, "DLK000001")
            assert item is not None and item.title == "Sách"
            assert backend.pool.stats.dropped == 1
            assert backend.check_pin(LIBRARY, "P", "1234") is True
            assert server.connections == 2
    finally:
        server.close()


# -- the sans-IO client -------------------------------------------------------------------------


def test_channel_numbers_requests_and_reads_events() -> None:
    """Sequence numbers run 0-9 and wrap; a 96 asks for the request again; a wrong checksum
    is garbled; a reply with another sequence number does not answer the last request."""
    channel = ClientChannel(Charset.UTF8)
    sent = [channel.encode(request("99", status_code="0", max_print_width="080",
                                   protocol_version="2.00")) for _ in range(11)]  # fmt: skip
    assert [decode_message(s.rstrip(b"\r")).sequence for s in sent] == [*"0123456789", "0"]
    events = channel.feed(b"96AZFEF6\r941AY1AZ0000\r")
    assert isinstance(events[0], ResendAsked) and isinstance(events[1], Garbled)
    late = encode_message(Message("94", {"ok": "1"}, sequence="7"))
    (event,) = channel.feed(late)
    assert isinstance(event, Reply) and not channel.answers(event.message)
    assert channel.resend_request() == b"97AZFEF5\r"


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("Item checked out to another patron", Refusal.ON_LOAN_TO_ANOTHER),
        ("Invalid Item", Refusal.UNKNOWN_ITEM),
        ("Invalid patron", Refusal.UNKNOWN_PATRON),
        ("Item is on hold for another patron", Refusal.ON_HOLD_FOR_ANOTHER),
        ("Item not checked out", Refusal.NOT_ON_LOAN),
        ("Patron has too many fines", Refusal.EXCESSIVE_FINES),
        ("Patron account expired", Refusal.PATRON_EXPIRED),
        ("Renewal limit reached", Refusal.RENEWAL_LIMIT),
        ("Patron is debarred", Refusal.PATRON_BLOCKED),
        ("Tài liệu này chỉ đọc tại chỗ.", Refusal.ITEM_NOT_FOR_LOAN),
        ("Bạn không mượn tài liệu này.", Refusal.NOT_LOANED_TO_PATRON),
    ],
)
def test_screen_messages_become_refusals(text: str, refusal: Refusal) -> None:
    """Koha-style English wording and lienthong's own Vietnamese wording are recognised."""
    assert refusal_of([text], Refusal.NOT_SUPPORTED) == (refusal, True)


def test_unknown_wording_falls_back_to_the_default() -> None:
    """A screen message nobody knows is the operation's default, flagged as unrecognised."""
    assert refusal_of(["Xyz 42"], Refusal.RENEWAL_LIMIT) == (Refusal.RENEWAL_LIMIT, False)


def test_dates_amounts_fees_and_capabilities_are_read_tolerantly() -> None:
    """Due dates in SIP2, ISO (Koha) and day/month/year form; AV lines in lienthong's and a
    free form; a BX string to capabilities."""
    assert when_of("20261216    235959") == datetime(2026, 12, 16, 23, 59, 59)
    assert when_of("2026-12-16 23:59") == datetime(2026, 12, 16, 23, 59)
    assert when_of("16/12/2026") == datetime(2026, 12, 16, 23, 59)
    assert when_of("") is None and when_of("soon") is None
    fee = fee_of("7 3000 Trả quá hạn DLK000161", 1)
    assert (fee.fee_id, fee.amount, fee.kind) == ("7", Decimal(3000), "overdue")
    loose = fee_of("Lost item fee 120,50", 2)
    assert (loose.fee_id, loose.amount, loose.kind) == ("2", Decimal("120.50"), "lost")
    only = capabilities_of("YYYNYNNYNNYNNNNN")
    assert only == {Capability.PATRON_STATUS, Capability.CHECKOUT, Capability.CHECKIN,
                    Capability.PATRON_INFO, Capability.ITEM_INFO}  # fmt: skip


def test_open_upstream_reads_a_config_entry() -> None:
    """The factory takes a circulation.backends entry as configured and connects lazily
    (an upstream that is not there yet does not stop the gateway from starting)."""
    entry = {"name": "koha-dlk", "kind": "sip2", "host": "127.0.0.1", "port": free_port(),
             "user": "", "password_env": None, "charset": "cp850", "terminator": "crlf",
             "error_detection": False, "institution": "DLK", "location": "LT",
             "pool_size": 3, "timeout_seconds": 2, "tls": False}  # fmt: skip
    backend = open_upstream(entry, None)  # type: ignore[arg-type]
    assert backend.settings.charset is Charset.CP850 and backend.settings.terminator == b"\r\n"
    assert backend.settings.pool_size == 3 and backend._institution(LIBRARY) == "DLK"
    with pytest.raises(BackendUnavailable, match="koha-dlk"):
        backend.item(LIBRARY, "DLK000001")


# -- end to end: a kiosk at gateway A, the loan in gateway B -------------------------------------


def test_kiosk_checkout_through_a_gateway_configured_with_the_upstream(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gateway A has no circulation data of its own: its kiosk account names a sip2 back
    end pointing at gateway B. A kiosk logs in to A, checks a copy out and in with the
    patron's PIN; the loan appears in B's database and goes again, and A's replies carry
    B's title and due date in A's wording."""
    from gateway.config import render_config
    from gateway.passwords import hash_password
    from tests.sip2_client import RawKiosk

    monkeypatch.setenv(PASSWORD_ENV, DEMO_KIOSK_PASSWORD)
    entry = {"name": "demo-b", "kind": "sip2", "host": "127.0.0.1", "port": upstream.port,
             "user": DEMO_KIOSK_USER, "password_env": PASSWORD_ENV, "charset": "utf-8",
             "pool_size": 2, "timeout_seconds": 5}  # fmt: skip
    account = {"user": "kiosk-a", "password_hash": hash_password("mat-khau-a"),
               "library": LIBRARY, "location": "", "allowed_addresses": [], "charset": "utf-8",
               "terminator": "cr", "error_detection": True, "backend": "demo-b"}  # fmt: skip
    folder = tmp_path / "gateway-a"
    folder.mkdir()
    (folder / "lienthong.yaml").write_text(render_config({
        "gateway.name": "Gateway A", "gateway.admin_email": "a@example.vn",
        "gateway.oai_namespace": "a.example.vn", "store.path": "store.db",
        "libraries": [{"id": LIBRARY, "name": "Thư viện tỉnh Đắk Lắk", "kind": "provincial"}],
        "circulation.path": "circulation.db", "circulation.backends": [entry],
        "sip2.accounts": [account], "endpoints.sip2": True, "endpoints.sru": True,
        "endpoints.oaipmh": False, "endpoints.z3950": False,
    }), encoding="utf-8")  # fmt: skip
    from gateway.store import open_store

    with open_store(folder / "store.db"):
        pass  # an empty catalogue: gateway A only lends
    port = free_port()
    copy = upstream.shelf[-1]
    patron = upstream.patrons["BDDLK0010"]
    stamp = datetime.now().strftime("%Y%m%d    %H%M%S")
    args = ["-c", str(folder / "lienthong.yaml"), "serve", "--sip2-port", str(port)]
    with running_gateway_process(args, folder, "sip2") as (_, process):
        kiosk = RawKiosk(port)
        try:
            login = Message("93", {"uid_algorithm": "0", "pwd_algorithm": "0"},
                            [("CN", "kiosk-a"), ("CO", "mat-khau-a")])  # fmt: skip
            assert kiosk.exchange(login, "0").fixed["ok"] == "1"
            status = kiosk.exchange(request("99", status_code="0", max_print_width="080",
                                 protocol_version="2.00"), "1")  # fmt: skip
            assert status.fixed["online_status"] == "Y" and status.get("BX") == "Y" * 16
            checkout = request("11", None, sc_renewal_policy="Y", no_block="N",
                               transaction_date=stamp, nb_due_date=" " * 18)  # fmt: skip
            checkout.fields += [("AO", LIBRARY), ("AA", patron["barcode"]), ("AB", copy),
                                ("AC", ""), ("AD", patron["pin"])]  # fmt: skip
            lent = kiosk.exchange(checkout, "2")
            assert lent.fixed["ok"] == "1", lent.all("AF")
            assert lent.get("AJ") == upstream.titles[copy]
            assert (lent.get("AF") or "").startswith("Mượn thành công")
            loan = upstream.current_loan(copy)
            assert loan is not None and loan[0] == patron["barcode"]
            assert loan[1].replace("-", "")[:8] == (lent.get("AH") or "")[:8]
            checkin = request("09", None, no_block="N", transaction_date=stamp,
                              return_date=stamp)  # fmt: skip
            checkin.fields += [("AP", ""), ("AO", LIBRARY), ("AB", copy), ("AC", "")]
            returned = kiosk.exchange(checkin, "3")
            assert returned.fixed["ok"] == "1"
            assert upstream.current_loan(copy) is None
        finally:
            kiosk.close()
        assert patron["pin"] not in process.output_so_far()
        assert DEMO_KIOSK_PASSWORD not in process.output_so_far()


# -- TLS ----------------------------------------------------------------------------------------


def _certificate(folder: Path) -> Path:
    """A self-signed certificate for ``localhost`` (SAN), and its key, in ``folder``."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))  # fmt: skip
    path = folder / "sip2-certificate.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "sip2-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    return path


def test_tls_upstream_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With tls on, the back end speaks SIP2 over TLS to the upstream's TLS port when the
    upstream's certificate is trusted (here through SSL_CERT_FILE), and an untrusted one
    is BackendUnavailable, not a silent plain-text fallback."""
    folder = tmp_path / "demo"
    prepare_demo(folder, echo=lambda _: None)
    certificate = _certificate(folder)
    tls_port = free_port()
    config = folder / "lienthong.yaml"
    text = config.read_text(encoding="utf-8")
    for old, new in (("  # tls_port: 6443", f"  tls_port: {tls_port}"),
                     ("  # tls_certificate: sip2-certificate.pem",
                      "  tls_certificate: sip2-certificate.pem"),
                     ("  # tls_key: sip2-key.pem", "  tls_key: sip2-key.pem")):  # fmt: skip
        assert old in text
        text = text.replace(old, new)
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv(PASSWORD_ENV, DEMO_KIOSK_PASSWORD)
    settings = UpstreamSettings("demo-tls", "localhost", tls_port, DEMO_KIOSK_USER,
                                PASSWORD_ENV, tls=True, timeout=5)  # fmt: skip
    args = ["demo", "--dir", str(folder), "--sip2-port", str(free_port())]
    with running_gateway_process(args, tmp_path, "sip2"):
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nothing-trusted.pem"))
        with pytest.raises(BackendUnavailable, match="CERTIFICATE_VERIFY_FAILED|certificate"):
            UpstreamSip2(settings).item(LIBRARY, "DLK000001")
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
        with UpstreamSip2(settings) as backend:
            patron = backend.patron(LIBRARY, "BDDLK0002")
            assert patron is not None and patron.name == "Võ Thu Bình"
            # Several messages, one TLS connection (session tickets do not look like EOF).
            assert backend.pool.stats.opened == 1 and backend.pool.stats.reused >= 3
