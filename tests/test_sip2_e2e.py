"""SIP2 end to end: the real gateway (demo catalogue, embedded circulation) on a free port,
driven by the independent PyPI ``sip2`` client for login, status, patron information,
checkout, checkin and renewal, and by a raw socket for everything that client cannot send.
Loans made over SIP2 are read back from the embedded database and from ``lienthong loans
list``; the server's log is read for the privacy rules (no PINs, passwords or patron
barcodes) and for one line per transaction."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import sqlite3
import ssl
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.demo import DEMO_KIOSK_PASSWORD, DEMO_KIOSK_USER, prepare_demo
from protocols.sip2.codec import Message, checksum, decode_message, encode_message, sip_date
from tests.conftest import REPO
from tests.servers import GatewayProcess, free_port, running_gateway_process
from tests.sip2_client import RawKiosk, pypi_client

LIBRARY = "dlk-tinh"
NOW = sip_date(dt.datetime.now())
BLANK = " " * 18


@dataclass
class Demo:
    """The running demo gateway: its SIP2 port, folder, process and demo people."""

    port: int
    folder: Path
    process: GatewayProcess
    patrons: list[dict[str, str]]  #: dlk-tinh's patrons from patrons.csv
    shelf: list[str]  #: dlk-tinh copies not on loan in the demo

    def take_copy(self) -> str:
        """A copy on the shelf that no other test uses."""
        return self.shelf.pop()

    def patron(self, n: int) -> dict[str, str]:
        """The n-th demo patron of dlk-tinh (tests use distinct ones)."""
        return self.patrons[n]

    def db(self) -> sqlite3.Connection:
        """The embedded circulation database, read-only."""
        return sqlite3.connect(f"file:{self.folder / 'circulation.db'}?mode=ro", uri=True)

    def current_loan(self, item: str) -> tuple[str, str, int] | None:
        """(patron barcode, due, renewals) of ``item``'s current loan, from the database."""
        with self.db() as conn:
            row = conn.execute(
                "SELECT p.barcode, l.due, l.renewals FROM loans l JOIN items i ON i.id = "
                "l.item_id JOIN patrons p ON p.id = l.patron_id WHERE i.barcode = ? AND "
                "l.returned_at IS NULL", (item,)).fetchone()  # fmt: skip
        return None if row is None else (row[0], row[1], row[2])

    def lienthong(self, *args: str) -> str:
        """``lienthong ARGS`` against the demo's configuration; its output."""
        done = subprocess.run(
            [sys.executable, "-m", "gateway", "--config", str(self.folder / "lienthong.yaml"),
             *args], capture_output=True, text=True, cwd=REPO, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


SECOND_USER = "kiosk-tang-2"
SECOND_PASSWORD = "mat-khau-kiosk-2"
#: An account only the lockout test uses: a locked terminal looks nobody up, so locking
#: the demo account would change what the other tests see.
LOCKED_USER = "kiosk-tang-3"
LOCKED_PASSWORD = "mat-khau-kiosk-3"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo gateway with SIP2 on a free port: the demo kiosk account and two more
    added with 'lienthong accounts add' (password from an environment variable)."""
    folder = tmp_path_factory.mktemp("sip2") / "demo"
    prepare_demo(folder, echo=lambda _: None)
    for user, password in ((SECOND_USER, SECOND_PASSWORD), (LOCKED_USER, LOCKED_PASSWORD)):
        added = subprocess.run(
            [sys.executable, "-m", "gateway", "--config", str(folder / "lienthong.yaml"),
             "accounts", "add", user, "--library", LIBRARY, "--password-env", "KIOSK_PW"],
            capture_output=True, text=True, cwd=REPO, timeout=60,
            env={**os.environ, "KIOSK_PW": password, "PYTHONPATH": str(REPO)})  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert password not in added.stdout + added.stderr
    port = free_port()
    args = ["demo", "--dir", str(folder), "--sip2-port", str(port),
            "--z3950-port", str(free_port())]  # fmt: skip
    with running_gateway_process(args, folder.parent, "sip2") as (_, process):
        patrons = [p for p in _read_csv(folder / "patrons.csv") if p["library"] == LIBRARY]
        lent = {row["item_barcode"] for row in _read_csv(folder / "loans.csv")}
        shelf = [i["barcode"] for i in _read_csv(folder / "items.csv")
                 if i["library"] == LIBRARY and i["barcode"] not in lent]  # fmt: skip
        yield Demo(port, folder, process, patrons, shelf)


def _logged_in(demo: Demo, tmp_path: Path, patron: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """A PyPI client logged in with the demo kiosk account (context manager)."""
    params = {"patron": patron["barcode"], "patronpwd": patron["pin"]} if patron else {}
    return pypi_client(demo.port, tmp_path, **params)


def _login(client) -> None:  # type: ignore[no-untyped-def]
    reply = client.sip_login_response(client.get_response(
        client.sip_login_request(DEMO_KIOSK_USER, DEMO_KIOSK_PASSWORD)))  # fmt: skip
    assert reply["fixed"]["Ok"] == "1"


# -- the independent client -------------------------------------------------------------------


def test_login_and_status(demo: Demo, tmp_path: Path) -> None:
    """The kiosk logs in, and 98 says the ACS is online, supports every message, and names
    the account's library (in Vietnamese, over UTF-8)."""
    with _logged_in(demo, tmp_path) as client:
        _login(client)
        status = client.sip_sc_status_response(client.get_response(client.sip_sc_status_request()))
        fixed, fields = status["fixed"], status["variable"]
        assert fixed["OnlineStatus"] == "Y" and fixed["CheckoutOk"] == "Y"
        assert fixed["CheckinOk"] == "Y" and fixed["ProtocolVersion"] == "2.00"
        assert fields["AO"] == [LIBRARY]
        assert fields["AM"] == ["Thư viện tỉnh Đắk Lắk"]
        assert fields["BX"] == ["Y" * 16]


def test_wrong_kiosk_password_is_refused(demo: Demo, tmp_path: Path) -> None:
    """A wrong password gets 940, and the password never reaches the server's log."""
    with _logged_in(demo, tmp_path) as client:
        reply = client.sip_login_response(client.get_response(
            client.sip_login_request(DEMO_KIOSK_USER, "Sai-mat-khau-9")))  # fmt: skip
        assert reply["fixed"]["Ok"] == "0"
    assert "Sai-mat-khau-9" not in demo.process.output_so_far()


def test_patron_status_with_pin(demo: Demo, tmp_path: Path) -> None:
    """23 with the right PIN: valid patron, valid PIN, the patron's Vietnamese name (NFC);
    with a wrong PIN: valid patron, PIN not valid."""
    patron = demo.patron(0)
    with _logged_in(demo, tmp_path, patron) as client:
        _login(client)
        status = client.sip_patron_status_response(
            client.get_response(client.sip_patron_status_request()))  # fmt: skip
        fields = status["variable"]
        assert fields["BL"] == ["Y"] and fields["CQ"] == ["Y"]
        assert fields["AE"] == [patron["name"]]
        assert unicodedata.is_normalized("NFC", fields["AE"][0])
        client.patronpwd = "0000" if patron["pin"] != "0000" else "1111"
        wrong = client.sip_patron_status_response(
            client.get_response(client.sip_patron_status_request()))  # fmt: skip
        assert wrong["variable"]["BL"] == ["Y"] and wrong["variable"]["CQ"] == ["N"]


def test_patron_information_lists_current_loans(demo: Demo, tmp_path: Path) -> None:
    """63 asking for charged items lists exactly the patron's loans from the demo data."""
    loans = _read_csv(demo.folder / "loans.csv")
    borrowers = {row["patron_barcode"] for row in loans if row["library"] == LIBRARY}
    patron = next(p for p in demo.patrons if p["barcode"] in borrowers)
    expected = sorted(row["item_barcode"] for row in loans
                      if row["patron_barcode"] == patron["barcode"])  # fmt: skip
    with _logged_in(demo, tmp_path, patron) as client:
        _login(client)
        info = client.sip_patron_information_response(client.get_response(
            client.sip_patron_information_request("charged", "1", "50")))  # fmt: skip
        assert sorted(info["variable"]["AU"]) == expected
        assert int(info["fixed"]["ChargedItemsCount"]) == len(expected)
        assert info["variable"]["CQ"] == ["Y"]


def test_checkout_renew_checkin_reach_the_database(demo: Demo, tmp_path: Path) -> None:
    """A loan made over SIP2 is in the embedded database and in 'lienthong loans list';
    renewing it answers its due date; the checkin ends it, in both places."""
    patron, item = demo.patron(1), demo.take_copy()
    with _logged_in(demo, tmp_path, patron) as client:
        _login(client)
        out = client.sip_checkout_response(client.get_response(client.sip_checkout_request(item)))
        assert out["fixed"]["Ok"] == "1", out
        assert out["fixed"]["Desensitize"] == "Y"
        assert out["variable"]["AB"] == [item]
        loan = demo.current_loan(item)
        assert loan is not None and loan[0] == patron["barcode"] and loan[2] == 0
        listing = demo.lienthong("loans", "list", "--patron", patron["barcode"])
        assert item in listing
        renewed = client.sip_renew_response(client.get_response(client.sip_renew_request(item)))
        assert renewed["fixed"]["Ok"] == "1", renewed
        assert renewed["fixed"]["RenewalOk"] == "Y"
        # Renewed the day it was lent, the due date cannot move: the loan is unchanged and
        # no renewal is used up.
        assert renewed["variable"]["AH"] == [loan[1][:10].replace("-", "") + "    235959"]
        assert demo.current_loan(item) == loan
        back = client.sip_checkin_response(client.get_response(client.sip_checkin_request(item)))
        assert back["fixed"]["Ok"] == "1", back
    assert demo.current_loan(item) is None
    assert item not in demo.lienthong("loans", "list", "--patron", patron["barcode"])


def test_checkin_of_a_copy_not_on_loan(demo: Demo, tmp_path: Path) -> None:
    """Returning a copy that is on the shelf answers ok 0 with a screen message, and no
    loan appears."""
    item = demo.take_copy()
    with _logged_in(demo, tmp_path) as client:
        _login(client)
        back = client.sip_checkin_response(client.get_response(client.sip_checkin_request(item)))
        assert back["fixed"]["Ok"] == "0"
        assert back["variable"]["AF"] == ["Tài liệu này không được ghi mượn."]
    assert demo.current_loan(item) is None


# -- raw bytes ----------------------------------------------------------------------------


def _raw_login(
    port: int, user: str = DEMO_KIOSK_USER, password: str = DEMO_KIOSK_PASSWORD
) -> RawKiosk:
    kiosk = RawKiosk(port)
    login = Message("93", {"uid_algorithm": "0", "pwd_algorithm": "0"},
                    [("CN", user), ("CO", password)], sequence="0")  # fmt: skip
    reply = kiosk.ask(encode_message(login))
    assert reply.startswith(b"941"), reply
    return kiosk


def _checkout(patron: str, item: str, sequence: str = "1", pin: str | None = None) -> bytes:
    fields = [("AO", LIBRARY), ("AA", patron), ("AB", item), ("AC", "")]
    if pin is not None:
        fields.append(("AD", pin))
    return encode_message(Message("11", {"sc_renewal_policy": "N", "no_block": "N",
                                         "transaction_date": NOW, "nb_due_date": BLANK},
                                  fields, sequence=sequence))  # fmt: skip


def _status(sequence: str = "2") -> bytes:
    return encode_message(
        Message(
            "99",
            {"status_code": "0", "max_print_width": "080", "protocol_version": "2.00"},
            sequence=sequence,
        )
    )


def test_checkout_before_login_is_refused(demo: Demo) -> None:
    """A checkout on a connection that has not logged in gets 12 with ok 0 and a screen
    message, and lends nothing."""
    patron, item = demo.patron(2), demo.take_copy()
    kiosk = RawKiosk(demo.port)
    reply = decode_message(kiosk.ask(_checkout(patron["barcode"], item)))
    assert reply.code == "12" and reply.fixed["ok"] == "0"
    assert reply.get("AF") == "Máy chưa đăng nhập vào hệ thống."
    assert demo.current_loan(item) is None
    kiosk.close()


def test_checkout_of_unknown_item(demo: Demo) -> None:
    """An unknown barcode gets ok 0 with "not found" (and injection text is only data)."""
    kiosk = _raw_login(demo.port)
    reply = decode_message(kiosk.ask(_checkout(demo.patron(3)["barcode"], "X' OR '1'='1")))
    assert reply.fixed["ok"] == "0" and reply.get("AF") == "Không tìm thấy tài liệu này."
    with demo.db() as conn:
        assert conn.execute("SELECT count(*) FROM items WHERE barcode LIKE 'X%'").fetchone()[0] == 0
    kiosk.close()


def test_blocked_patron_cannot_borrow_until_enabled(demo: Demo) -> None:
    """01 blocks a card (the reply is a 24 with charging denied); a checkout is then
    refused and lends nothing; 25 enables the card and the checkout goes through."""
    patron, item = demo.patron(4)["barcode"], demo.take_copy()
    kiosk = _raw_login(demo.port)
    block = encode_message(Message("01", {"card_retained": "N", "transaction_date": NOW},
                                   [("AO", LIBRARY), ("AL", "Thẻ bị giữ lại"), ("AA", patron),
                                    ("AC", "")], sequence="3"))  # fmt: skip
    blocked = decode_message(kiosk.ask(block))
    assert blocked.code == "24" and blocked.fixed["patron_status"][0] == "Y"
    refused = decode_message(kiosk.ask(_checkout(patron, item, sequence="4")))
    assert refused.fixed["ok"] == "0"
    assert demo.current_loan(item) is None
    enable = encode_message(
        Message("25", {"transaction_date": NOW}, [("AO", LIBRARY), ("AA", patron)], sequence="5")
    )
    enabled = decode_message(kiosk.ask(enable))
    assert enabled.code == "26" and enabled.fixed["patron_status"][0] == " "
    lent = decode_message(kiosk.ask(_checkout(patron, item, sequence="6")))
    assert lent.fixed["ok"] == "1", lent
    assert demo.current_loan(item) is not None
    kiosk.close()


def test_bad_checksum_gets_96_and_resend_gets_last_reply(demo: Demo) -> None:
    """A wrong AZ is answered with 96 and changes nothing; 97 re-sends the last reply."""
    kiosk = _raw_login(demo.port)
    item = demo.take_copy()
    good = _checkout(demo.patron(5)["barcode"], item)
    broken = good[:-5] + (b"0000" if good[-5:-1] != b"0000" else b"1111") + b"\r"
    assert kiosk.ask(broken) == b"96AZFEF6"
    assert demo.current_loan(item) is None
    assert kiosk.ask(b"97AZFEF5\r") == b"96AZFEF6"  # the last reply was the 96
    status = kiosk.ask(_status())
    assert status.startswith(b"98")
    assert kiosk.ask(b"97AZFEF5\r") == status
    kiosk.close()


def test_repeated_message_is_answered_once(demo: Demo) -> None:
    """The same checkout sent twice (same AY and AZ: a kiosk that timed out and retried)
    gets the same reply twice and makes one loan, not a loan and a renewal."""
    kiosk = _raw_login(demo.port)
    item = demo.take_copy()
    request = _checkout(demo.patron(6)["barcode"], item, sequence="7")
    first = kiosk.ask(request)
    second = kiosk.ask(request)
    assert first == second and decode_message(first).fixed["ok"] == "1"
    loan = demo.current_loan(item)
    assert loan is not None and loan[2] == 0
    kiosk.close()


def test_garbage_nul_and_unknown_commands(demo: Demo) -> None:
    """Unknown commands and garbage are ignored (no reply); a NUL byte gets 96; the
    connection stays usable throughout."""
    kiosk = _raw_login(demo.port)
    kiosk.send(b"XX\xff\xfe garbage\r")
    kiosk.send(b"42unknown command\r")
    assert kiosk.ask(_status()).startswith(b"98")  # the first reply is the status: no others
    assert kiosk.ask(b"9300CN\x00|CO|\r").startswith(b"96")
    assert kiosk.ask(_status("3")).startswith(b"98")
    kiosk.close()


def test_missing_field_and_invalid_dates(demo: Demo) -> None:
    """A checkout without an item barcode gets 12 ok 0 naming what is missing; impossible
    dates are read as "now" rather than refused."""
    kiosk = _raw_login(demo.port)
    patron = demo.patron(7)["barcode"]
    lacking = encode_message(Message("11", {"sc_renewal_policy": "N", "no_block": "N",
                                            "transaction_date": NOW, "nb_due_date": BLANK},
                                     [("AO", LIBRARY), ("AA", patron), ("AC", "")],
                                     sequence="1"))  # fmt: skip
    reply = decode_message(kiosk.ask(lacking))
    assert reply.code == "12" and reply.fixed["ok"] == "0"
    assert reply.get("AF") == "Yêu cầu thiếu thông tin: AB."
    item = demo.take_copy()
    odd = encode_message(Message("11", {"sc_renewal_policy": "N", "no_block": "N",
                                        "transaction_date": "20261399    996199",
                                        "nb_due_date": "garbage-date-here!"},
                                 [("AO", LIBRARY), ("AA", patron), ("AB", item), ("AC", "")],
                                 sequence="2"))  # fmt: skip
    assert decode_message(kiosk.ask(odd)).fixed["ok"] == "1"
    kiosk.close()


def test_short_fixed_fields_get_96(demo: Demo) -> None:
    """A checkout whose fixed fields are cut short cannot be read: 96."""
    kiosk = _raw_login(demo.port)
    assert kiosk.ask(b"11NN2026\r").startswith(b"96")
    kiosk.close()


def test_terminators_follow_the_kiosk_before_login(demo: Demo) -> None:
    """Before login a kiosk ending its messages with CRLF or LF gets its own terminator."""
    for terminator in (b"\r\n", b"\n"):
        kiosk = RawKiosk(demo.port)
        kiosk.send(_status()[:-1] + terminator)
        data = b""
        while not data.endswith(b"\n"):
            data += kiosk.sock.recv(4096)
        assert data.endswith(terminator) and data.startswith(b"98")
        if terminator == b"\n":
            assert not data.endswith(b"\r\n")
        kiosk.close()


def test_oversized_message_closes_only_that_connection(demo: Demo) -> None:
    """100 KB without a terminator ends that connection; another kiosk goes on."""
    other = _raw_login(demo.port)
    abuser = RawKiosk(demo.port)
    try:
        abuser.send(b"11" + b"A" * 100_000)
    except OSError:
        pass
    assert abuser.closed()
    assert other.ask(_status()).startswith(b"98")
    other.close()


def test_wrong_pin_five_times_locks_the_terminal(demo: Demo, tmp_path: Path) -> None:
    """Five wrong PINs from one kiosk lock its PIN checks: even the right PIN is then
    refused with a screen message saying so, and no checkout with a PIN goes through;
    another kiosk account is unaffected."""
    patron = demo.patron(8)
    wrong = "9999" if patron["pin"] != "9999" else "8888"
    kiosk = _raw_login(demo.port, LOCKED_USER, LOCKED_PASSWORD)

    def status(pin: str, seq: str) -> Message:
        message = Message("23", {"language": "000", "transaction_date": NOW},
                          [("AO", LIBRARY), ("AA", patron["barcode"]), ("AC", ""), ("AD", pin)],
                          sequence=seq)  # fmt: skip
        return decode_message(kiosk.ask(encode_message(message)))

    for n in range(5):
        assert status(wrong, str(n)).get("CQ") == "N"
    locked = status(patron["pin"], "5")
    assert locked.get("CQ") == "N"
    assert locked.get("AF") == "Nhập sai mã PIN quá nhiều lần. Vui lòng thử lại sau ít phút."
    item = demo.take_copy()
    refused = decode_message(kiosk.ask(_checkout(patron["barcode"], item, "6", patron["pin"])))
    assert refused.fixed["ok"] == "0" and demo.current_loan(item) is None
    kiosk.close()
    kiosk = _raw_login(demo.port, SECOND_USER, SECOND_PASSWORD)  # another terminal
    assert status(patron["pin"], "7").get("CQ") == "Y"
    kiosk.close()
    log = demo.process.output_so_far()
    assert f"sip2 {SECOND_USER} 23 ok" in log
    assert SECOND_PASSWORD not in log


def test_wrong_institution_is_answered_as_the_account(demo: Demo) -> None:
    """A kiosk sending another library's AO is answered for the account's library."""
    kiosk = _raw_login(demo.port)
    message = Message(
        "17", {"transaction_date": NOW}, [("AO", "thpt-ntmk"), ("AB", demo.shelf[0])], sequence="1"
    )
    reply = decode_message(kiosk.ask(encode_message(message)))
    assert reply.code == "18" and reply.fixed["circulation_status"] == "03"
    assert reply.get("AB") == demo.shelf[0]
    kiosk.close()


def test_failed_logins_close_the_connection(demo: Demo) -> None:
    """Three wrong logins on one connection end it."""
    kiosk = RawKiosk(demo.port)
    for n in range(3):
        login = Message(
            "93",
            {"uid_algorithm": "0", "pwd_algorithm": "0"},
            [("CN", "ai-do"), ("CO", f"doan-{n}")],
            sequence=str(n),
        )
        assert kiosk.ask(encode_message(login)).startswith(b"940")
    assert kiosk.closed()


def test_vietnamese_reply_checksum_is_over_bytes(demo: Demo) -> None:
    """A reply with Vietnamese text carries a checksum over its UTF-8 bytes."""
    kiosk = _raw_login(demo.port)
    data = kiosk.ask(_checkout(demo.patron(9)["barcode"], "KHONG-CO"))
    assert "Không tìm thấy".encode() in data
    body, given = data[:-4], data[-4:].decode()
    assert checksum(body) == given
    kiosk.close()


def test_log_has_transactions_but_no_secrets(demo: Demo, tmp_path: Path) -> None:
    """After the sessions above, the log has a line per transaction with the account and
    message, and none of the PINs, the kiosk password or any patron barcode."""
    patron = demo.patron(10)
    with _logged_in(demo, tmp_path, patron) as client:
        _login(client)
        client.get_response(client.sip_patron_status_request())
    log = demo.process.output_so_far()
    assert f"sip2 {DEMO_KIOSK_USER} 23 ok" in log
    assert f"sip2 {DEMO_KIOSK_USER} 11 " in log
    assert DEMO_KIOSK_PASSWORD not in log
    # What the transaction lines ("...] sip2 <account> <code> <result> <ms>") say after
    # "sip2", without timings (digits that are no PIN); other lines naming the sip2 module
    # carry object addresses whose hex digits could look like a PIN.
    sip2_lines = "\n".join(re.sub(r"[0-9]+\.[0-9] ms", "", line.split("] sip2", 1)[1])
                           for line in log.splitlines() if "] sip2 " in line)  # fmt: skip
    assert sip2_lines.count(f" {DEMO_KIOSK_USER} ") >= 10  # the lines searched are there
    for person in demo.patrons:
        assert person["barcode"] not in log, person["barcode"]
        # The bare PIN, in the SIP2 lines (four digits could be a port or a time elsewhere).
        assert f"AD{person['pin']}" not in log
        bare_pin = rf"(?<![0-9]){re.escape(person['pin'])}(?![0-9])"
        assert not re.search(bare_pin, sip2_lines), person["barcode"]


# -- TLS ----------------------------------------------------------------------------------


def _self_signed(folder: Path) -> None:
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
            .sign(key, hashes.SHA256()))  # fmt: skip
    (folder / "sip2-certificate.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "sip2-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip


def test_native_tls_port(tmp_path: Path) -> None:
    """With a certificate configured, the same service answers on the TLS port: login and
    status over an encrypted connection, the plain port still open too."""
    folder = tmp_path / "demo"
    prepare_demo(folder, echo=lambda _: None)
    _self_signed(folder)
    tls_port, plain_port = free_port(), free_port()
    config = folder / "lienthong.yaml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("  # tls_port: 6443", f"  tls_port: {tls_port}")
    text = text.replace(
        "  # tls_certificate: sip2-certificate.pem", "  tls_certificate: sip2-certificate.pem"
    )
    text = text.replace("  # tls_key: sip2-key.pem", "  tls_key: sip2-key.pem")
    config.write_text(text, encoding="utf-8")
    args = ["demo", "--dir", str(folder), "--sip2-port", str(plain_port),
            "--z3950-port", str(free_port())]  # fmt: skip
    with running_gateway_process(args, tmp_path, "sip2"):
        context = ssl.create_default_context(cafile=str(folder / "sip2-certificate.pem"))
        context.check_hostname = False
        import socket

        with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as secure:
                login = Message("93", {"uid_algorithm": "0", "pwd_algorithm": "0"},
                                [("CN", DEMO_KIOSK_USER), ("CO", DEMO_KIOSK_PASSWORD)],
                                sequence="0")  # fmt: skip
                secure.sendall(encode_message(login) + _status())
                data = b""
                while data.count(b"\r") < 2:
                    data += secure.recv(4096)
        first, second = data.split(b"\r")[:2]
        assert first.startswith(b"941") and second.startswith(b"98Y")
        assert RawKiosk(plain_port).ask(_status()).startswith(b"98")
