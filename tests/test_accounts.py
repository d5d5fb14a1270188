"""``lienthong accounts``: kiosk logins added, listed and removed in the administrator's file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.cli import main
from gateway.config import load_config, render_config
from gateway.passwords import verify_password

PASSWORD = "mật khẩu kiosk 1"


def _init(tmp_path: Path) -> Path:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    return tmp_path / "site" / "lienthong.yaml"


def _run(config: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None,
         ) -> Result:  # fmt: skip
    return CliRunner().invoke(main, ["-c", str(config), "accounts", *args], input=input, env=env)


def _add(config: Path, user: str, *options: str, password: str = PASSWORD) -> Result:
    return _run(config, "add", user, "--library", "dlk-tinh", *options, "--password-env",
                "KIOSK_PW", env={"KIOSK_PW": password})  # fmt: skip


def _is_subsequence(lines: list[str], within: list[str]) -> bool:
    rest = iter(within)
    return all(any(line == other for other in rest) for line in lines)


def test_add_list_remove_round_trip_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    """Two kiosks added (one from an environment variable, one from standard input), listed
    as a table and as JSON, then removed: the file is byte for byte what 'init' wrote."""
    config = _init(tmp_path)
    original = config.read_text(encoding="utf-8")
    first = _add(config, "kiosk-1", "--location", "Tầng 1", "--allow", "10.1.2.0/24")
    assert first.exit_code == 0, first.output
    assert "added SIP2 account 'kiosk-1'" in first.output
    second = _run(config, "add", "kiosk-2", "--library", "dlk-tinh", "--password-stdin",
                  "--charset", "cp850", "--terminator", "crlf", "--no-error-detection",
                  input="bí mật\n")  # fmt: skip
    assert second.exit_code == 0, second.output
    accounts = load_config(config).values["sip2"]["accounts"]
    assert [a["user"] for a in accounts] == ["kiosk-1", "kiosk-2"]
    assert accounts[0]["allowed_addresses"] == ["10.1.2.0/24"]
    assert accounts[0]["location"] == "Tầng 1" and accounts[1]["location"] == ""
    assert (accounts[1]["charset"], accounts[1]["terminator"]) == ("cp850", "crlf")
    assert accounts[0]["error_detection"] is True and accounts[1]["error_detection"] is False
    assert verify_password("bí mật", accounts[1]["password_hash"])
    table = _run(config, "list")
    assert table.exit_code == 0, table.output
    header, row1, row2 = table.output.splitlines()
    assert header.split()[:3] == ["user", "library", "location"]
    assert "error detection" in header and "allowed addresses" in header
    assert row1.split()[:2] == ["kiosk-1", "dlk-tinh"] and "10.1.2.0/24" in row1
    assert "cp850" in row2 and "crlf" in row2 and " no " in row2 and "any" in row2
    listed = json.loads(_run(config, "list", "--json").output)["sip2"]
    assert [a["user"] for a in listed] == ["kiosk-1", "kiosk-2"]
    assert all("password_hash" not in a for a in listed)
    for user in ("kiosk-1", "kiosk-2"):
        removed = _run(config, "remove", user)
        assert removed.exit_code == 0 and f"removed SIP2 account {user!r}" in removed.output
    assert config.read_text(encoding="utf-8") == original
    assert "no SIP2 accounts" in _run(config, "list").output


def test_comments_order_and_other_sections_are_kept(tmp_path: Path) -> None:
    """Every line of the administrator's file (comments, the commented-out example, other
    sections' values, a hand-added comment) is still there, in order, after an add."""
    config = _init(tmp_path)
    text = config.read_text(encoding="utf-8").replace(
        "  threads: 8\n", "  threads: 8  # tăng khi có nhiều kiosk\n")  # fmt: skip
    config.write_text(text, encoding="utf-8")
    before = load_config(config).values
    assert _add(config, "kiosk-1").exit_code == 0
    after_text = config.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if line != "  accounts: []"]
    assert kept != text.splitlines()  # the z3950 and the sip2 'accounts: []'
    assert _is_subsequence(kept, after_text.splitlines())
    assert after_text.count("  accounts: []\n") == 1  # z3950's: untouched
    assert "  threads: 8  # tăng khi có nhiều kiosk\n" in after_text
    assert "  #   - user: kiosk-dlk-1\n" in after_text  # the example stays, after the entry
    after = load_config(config).values
    assert {k: v for k, v in after.items() if k != "sip2"} == {
        k: v for k, v in before.items() if k != "sip2"}  # fmt: skip
    assert after["sip2"]["accounts"][0]["user"] == "kiosk-1"


def test_password_is_stored_only_as_a_verifying_hash(tmp_path: Path) -> None:
    """The file holds a hash that verifies the password; the password appears nowhere: not
    in the file, not in the command's output, not in the listing."""
    config = _init(tmp_path)
    result = _add(config, "kiosk-1")
    assert result.exit_code == 0
    [account] = load_config(config).values["sip2"]["accounts"]
    assert verify_password(PASSWORD, account["password_hash"])
    assert not verify_password(PASSWORD + "x", account["password_hash"])
    assert PASSWORD not in config.read_text(encoding="utf-8")
    listing = _run(config, "list").output + _run(config, "list", "--json").output
    assert PASSWORD not in result.output + listing
    assert account["password_hash"] not in listing


def test_unknown_library_is_refused(tmp_path: Path) -> None:
    """A kiosk for a library the file does not have is refused, naming it and the known
    ones, and the file is not touched."""
    config = _init(tmp_path)
    original = config.read_text(encoding="utf-8")
    result = _run(config, "add", "kiosk-1", "--library", "thpt-x", "--password-env", "PW",
                  env={"PW": "x"})  # fmt: skip
    assert result.exit_code == 2
    assert "'thpt-x' is not a library" in result.output and "dlk-tinh" in result.output
    assert config.read_text(encoding="utf-8") == original


def test_existing_user_is_refused_unless_replaced(tmp_path: Path) -> None:
    """Adding a user twice is refused (exit 1); --replace swaps its settings and password
    in place, keeping the other accounts and their order."""
    config = _init(tmp_path)
    assert _add(config, "kiosk-1").exit_code == 0
    assert _add(config, "kiosk-2").exit_code == 0
    again = _add(config, "kiosk-1", password="khác")
    assert again.exit_code == 1 and "'kiosk-1' already has an account" in again.output
    [first, _] = load_config(config).values["sip2"]["accounts"]
    assert verify_password(PASSWORD, first["password_hash"])
    replaced = _add(config, "kiosk-1", "--replace", "--terminator", "lf", password="khác")
    assert replaced.exit_code == 0 and "replaced" in replaced.output
    accounts = load_config(config).values["sip2"]["accounts"]
    assert [a["user"] for a in accounts] == ["kiosk-1", "kiosk-2"]
    assert accounts[0]["terminator"] == "lf"
    assert verify_password("khác", accounts[0]["password_hash"])


def test_removing_an_absent_user_is_refused(tmp_path: Path) -> None:
    """Removing a user that has no account names it and changes nothing."""
    config = _init(tmp_path)
    original = config.read_text(encoding="utf-8")
    result = _run(config, "remove", "kiosk-9")
    assert result.exit_code == 1 and "'kiosk-9' has no SIP2 account" in result.output
    assert config.read_text(encoding="utf-8") == original


def test_password_sources(tmp_path: Path) -> None:
    """Exactly one of --password-env and --password-stdin; an unset variable is named
    (never a value), and an empty password or one a SIP2 login cannot carry is refused."""
    config = _init(tmp_path)
    original = config.read_text(encoding="utf-8")
    base = ("add", "kiosk-1", "--library", "dlk-tinh")
    neither = _run(config, *base)
    assert neither.exit_code == 2 and "exactly one of" in neither.output
    both = _run(config, *base, "--password-env", "PW", "--password-stdin", input="x",
                env={"PW": "y"})  # fmt: skip
    assert both.exit_code == 2 and "exactly one of" in both.output
    unset = _run(config, *base, "--password-env", "NO_SUCH_PW_VAR")
    assert unset.exit_code == 2 and "NO_SUCH_PW_VAR is not set" in unset.output
    empty = _run(config, *base, "--password-stdin", input="\n")
    assert empty.exit_code == 2 and "empty" in empty.output
    pipe = _run(config, *base, "--password-stdin", input="a|b\n")
    assert pipe.exit_code == 2 and "'|'" in pipe.output and "a|b" not in pipe.output
    assert config.read_text(encoding="utf-8") == original


def test_a_change_that_makes_the_file_invalid_is_refused(tmp_path: Path) -> None:
    """A login SIP2 cannot carry, or an address that is not one, is refused with the
    problem's key path; the file is untouched and no temporary file is left behind."""
    config = _init(tmp_path)
    original = config.read_text(encoding="utf-8")
    bad_user = _add(config, "kiosk|1")
    assert bad_user.exit_code == 2
    assert "sip2.accounts[0].user:" in bad_user.output and "nothing was written" in bad_user.output
    assert str(config) in bad_user.output  # problems name the real file, not a temporary one
    bad_address = _add(config, "kiosk-1", "--allow", "10.1.2.5/24")
    assert bad_address.exit_code == 2 and "did you mean 10.1.2.0/24" in bad_address.output
    assert config.read_text(encoding="utf-8") == original
    assert sorted(p.name for p in config.parent.iterdir()) == ["lienthong.db", "lienthong.yaml"]


def test_an_invalid_file_is_not_edited(tmp_path: Path) -> None:
    """A configuration that is already invalid is reported (exit 2) and left alone."""
    config = _init(tmp_path)
    text = config.read_text(encoding="utf-8").replace("threads: 8", "threads: many")
    config.write_text(text, encoding="utf-8")
    result = _add(config, "kiosk-1")
    assert result.exit_code == 2 and "server.threads" in result.output
    assert config.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("sip2_text", ["", "sip2:\n  idle_timeout: 60\n",
                                      "sip2:\n  accounts: []\n  idle_timeout: 60\n"],
                         ids=["no sip2", "no accounts", "no comment"])  # fmt: skip
def test_sip2_section_or_accounts_key_absent(tmp_path: Path, sip2_text: str) -> None:
    """A hand-written file without sip2, without sip2.accounts, or with an empty list and
    no example after it gets the account; what was there stays, and the result loads."""
    head = ("# Tệp cấu hình viết tay\ngateway:\n  name: Thư viện\n  admin_email: a@b.vn\n"
            "  oai_namespace: lienthong.example.vn\n"
            "libraries:\n- id: dlk-tinh\n  name: DLK\n")  # fmt: skip
    config = tmp_path / "lienthong.yaml"
    config.write_text(head + sip2_text, encoding="utf-8")
    result = _add(config, "kiosk-1", "--allow", "192.168.1.7")
    assert result.exit_code == 0, result.output
    text = config.read_text(encoding="utf-8")
    assert text.startswith(head)  # the list style of the file (dash not indented) is kept
    loaded = load_config(config).values["sip2"]
    assert [a["user"] for a in loaded["accounts"]] == ["kiosk-1"]
    assert loaded["accounts"][0]["allowed_addresses"] == ["192.168.1.7"]
    assert loaded["idle_timeout"] == (60 if "idle_timeout" in sip2_text else 600)
    assert _run(config, "remove", "kiosk-1").exit_code == 0
    assert load_config(config).values["sip2"]["accounts"] == []


def test_file_permissions_are_kept(tmp_path: Path) -> None:
    """A configuration readable only by its owner stays so after the atomic replace."""
    config = _init(tmp_path)
    config.chmod(0o600)
    assert _add(config, "kiosk-1").exit_code == 0
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_accounts_in_a_rendered_config_with_overrides(tmp_path: Path) -> None:
    """A file rendered with a kiosk already in it (as the demo writes) is edited like
    any other: a second kiosk is added after it."""
    from gateway.passwords import hash_password

    entry = {"user": "demo-kiosk", "password_hash": hash_password("demo"), "library": "dlk-tinh"}
    config = tmp_path / "lienthong.yaml"
    config.write_text(render_config({"sip2.accounts": [entry]}), encoding="utf-8")
    assert _add(config, "kiosk-2").exit_code == 0
    accounts = load_config(config).values["sip2"]["accounts"]
    assert [a["user"] for a in accounts] == ["demo-kiosk", "kiosk-2"]
    assert "# Circulation system that answers this kiosk" in config.read_text(encoding="utf-8")
