"""``lienthong patrons|items|loans`` and the demo's circulation data, as staff use them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.circulation.embedded import open_embedded
from gateway.cli import main
from gateway.config import load_config, render_config
from gateway.demo import DEMO_KIOSK_PASSWORD, DEMO_KIOSK_USER, prepare_demo
from gateway.passwords import verify_password

LIBRARIES = [{"id": "thpt-ntmk", "name": "Trường THPT Nguyễn Thị Minh Khai", "kind": "school"},
             {"id": "dlk-tinh", "name": "Thư viện tỉnh Đắk Lắk", "kind": "provincial"}]  # fmt: skip


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A configuration with two libraries, the circulation file next to it."""
    path = tmp_path / "site" / "lienthong.yaml"
    path.parent.mkdir()
    path.write_text(render_config({"libraries": LIBRARIES, "store.path": "s.db"}), "utf-8")
    return path


def _run(config_file: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["-c", str(config_file), *args])


def _school_files(folder: Path) -> tuple[Path, Path]:
    patrons = folder / "hoc-sinh.csv"
    patrons.write_text("Số thẻ,Họ và tên,Lớp,Mã PIN\nHS001,Nguyễn Văn Đức,10A1,4321\n"
                       "HS002,Trần Thị Mai,11B2,8765\n", encoding="utf-8-sig")  # fmt: skip
    items = folder / "sach.csv"
    items.write_text("Mã vạch,Tên sách,Vị trí,Số phân loại\n"
                     "NTMK0001,Truyện Kiều,Kho mượn,895.9221\n"
                     "NTMK0002,Tắt đèn,Kho mượn,895.92232\n", encoding="utf-8")  # fmt: skip
    return patrons, items


def test_import_and_list_patrons(config_file: Path, tmp_path: Path) -> None:
    """patrons import loads a school's sheet; list --search ignores marks; no PIN shows."""
    patrons, _ = _school_files(tmp_path)
    result = _run(config_file, "patrons", "import", str(patrons), "--library", "thpt-ntmk")
    assert result.exit_code == 0, result.output
    assert f"patrons: 2 new, 0 updated, 0 unchanged ({patrons})" in result.output
    again = _run(config_file, "patrons", "import", str(patrons), "--library", "thpt-ntmk")
    assert "patrons: 0 new, 0 updated, 2 unchanged" in again.output
    listed = _run(config_file, "patrons", "list", "--search", "nguyen van duc")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split() == ["library", "barcode", "name", "category", "email", "phone",
                                "loans", "card"]  # fmt: skip
    assert lines[1].split() == ["thpt-ntmk", "HS001", "Nguyễn", "Văn", "Đức", "10A1", "0"]
    assert lines[-1] == "1 borrower(s)"
    everyone = _run(config_file, "patrons", "list", "--library", "thpt-ntmk")
    assert "Trần Thị Mai" in everyone.output and "2 borrower(s)" in everyone.output
    assert "4321" not in everyone.output and "8765" not in everyone.output


def test_import_items_and_list_loans(config_file: Path, tmp_path: Path) -> None:
    """items import, then a loan made through the back end shows in loans list with the
    patron, the title and whether it is overdue; --overdue and --patron filter."""
    patrons, items = _school_files(tmp_path)
    assert (
        _run(config_file, "patrons", "import", str(patrons), "--library", "thpt-ntmk").exit_code
        == 0
    )
    result = _run(config_file, "items", "import", str(items), "--library", "thpt-ntmk")
    assert result.exit_code == 0 and "items: 2 new" in result.output, result.output
    with open_embedded(load_config(config_file)) as backend:
        assert backend.checkout("thpt-ntmk", "HS001", "NTMK0001", datetime(2020, 1, 2, 9, 30)).ok
        assert backend.checkout("thpt-ntmk", "HS002", "NTMK0002", datetime.now()).ok
    listed = _run(config_file, "loans", "list", "--library", "thpt-ntmk")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split() == ["library", "item", "title", "patron", "name", "out", "due",
                                "renewals", "overdue"]  # fmt: skip
    assert lines[1].split() == [
        "thpt-ntmk", "NTMK0001", "Truyện", "Kiều", "HS001", "Nguyễn", "Văn", "Đức",
        "2020-01-02", "09:30", "2020-01-16", "0", "yes",
    ]  # fmt: skip
    assert lines[-1] == "2 loan(s), 1 overdue"
    overdue = _run(config_file, "loans", "list", "--overdue")
    assert "NTMK0001" in overdue.output and "NTMK0002" not in overdue.output
    mine = _run(config_file, "loans", "list", "--patron", "HS002")
    assert "NTMK0002" in mine.output and "NTMK0001" not in mine.output


def test_import_problems_exit_1_and_import_nothing(config_file: Path, tmp_path: Path) -> None:
    """Row problems are printed as file:line: column: problem, the exit status is 1 and
    nothing is stored."""
    bad = tmp_path / "bad.csv"
    bad.write_text("barcode,name\nHS1,An\nHS2,\n", encoding="utf-8")
    result = _run(config_file, "patrons", "import", str(bad), "--library", "thpt-ntmk")
    assert result.exit_code == 1
    assert f"{bad}:3: column 'name': empty" in result.output
    assert "nothing imported: 1 problem(s)" in result.output
    listed = _run(config_file, "patrons", "list")
    assert "0 borrower(s)" in listed.output


def test_library_must_be_configured(config_file: Path, tmp_path: Path) -> None:
    """--library names a configured library (exit 2); with several libraries a file without
    a library column needs it."""
    patrons, _ = _school_files(tmp_path)
    wrong = _run(config_file, "patrons", "import", str(patrons), "--library", "truong-x")
    assert wrong.exit_code == 2 and "'truong-x' is not a library" in wrong.output
    assert "known: thpt-ntmk, dlk-tinh" in wrong.output
    listing = _run(config_file, "loans", "list", "--library", "truong-x")
    assert listing.exit_code == 2
    missing = _run(config_file, "patrons", "import", str(patrons))
    assert missing.exit_code == 1 and "no --library given" in missing.output


@pytest.mark.parametrize(
    "command",
    [("patrons", "import"), ("patrons", "list"), ("items", "import"), ("loans", "list"),
     ("loans", "import")],
)  # fmt: skip
def test_every_command_has_help_with_an_example(command: tuple[str, str]) -> None:
    """--help of every circulation command shows an example invocation."""
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
    assert f"lienthong {command[0]} {command[1]}" in result.output


def test_demo_loads_circulation_and_a_kiosk_account(tmp_path: Path) -> None:
    """The demo config has the ready kiosk account; the demo's borrowers, copies and loans
    are in the circulation database; a reused demo keeps loans made since."""
    config = prepare_demo(tmp_path / "demo", echo=lambda _: None)
    [account] = config.values["sip2"]["accounts"]
    assert account["user"] == DEMO_KIOSK_USER and account["library"] == "dlk-tinh"
    assert verify_password(DEMO_KIOSK_PASSWORD, account["password_hash"])
    assert (account["charset"], account["terminator"], account["error_detection"],
            account["backend"]) == ("utf-8", "cr", True, "embedded")  # fmt: skip
    with open_embedded(config) as backend:
        counts = backend.counts()
        assert (counts["patrons"], counts["loans"]) == (36, 24) and counts["items"] > 300
        [loan] = backend.loans("dlk-tinh")[:1]
        assert backend.checkin("dlk-tinh", loan.item_barcode, datetime.now()).ok
    messages: list[str] = []
    again = prepare_demo(tmp_path / "demo", echo=messages.append)
    with open_embedded(again) as backend:
        assert backend.counts()["loans"] == 23
    assert not any("borrowers" in m for m in messages)
    listed = _run(tmp_path / "demo" / "lienthong.yaml", "loans", "list", "--library", "dlk-tinh")
    assert listed.exit_code == 0 and "7 loan(s)" in listed.output
