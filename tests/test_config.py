"""Configuration: every kind of mistake is reported with file, line and key, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.config import ConfigError, load_config, render_config

from .conftest import REPO


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lienthong.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_example_file_is_the_rendered_schema() -> None:
    """conf/gateway.example.yaml documents every key: it is exactly the rendered schema."""
    example = REPO / "conf" / "gateway.example.yaml"
    assert example.read_text(encoding="utf-8") == render_config()


def test_rendered_config_loads(tmp_path: Path) -> None:
    """A freshly rendered file is valid and gives the documented defaults."""
    config = load_config(_write(tmp_path, render_config()))
    assert config.values["server"]["http_port"] == 8080
    assert config.store_location == str(tmp_path / "lienthong.db")
    assert [lib.id for lib in config.libraries] == ["dlk-tinh"]


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    """A YAML syntax error is one problem with its line."""
    path = _write(tmp_path, "gateway:\n  name: Thư viện\n  admin_email: [a@b.vn\nstore: {}\n")
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:")
    assert "YAML syntax error" in problem


def test_missing_wrong_unknown_keys_all_reported(tmp_path: Path) -> None:
    """Missing key, wrong type, unknown key, bad value: every one, with key path and line."""
    text = render_config()
    text = text.replace("  admin_email: thuvien@example.vn\n", "")
    text = text.replace("http_port: 8080", "http_port: tám nghìn")
    text = text.replace("  threads: 8", "  threads: 8\n  thread: 4")
    text = text.replace("kind: provincial", "kind: galactic")
    lines = text.splitlines()
    problems = _problems(_write(tmp_path, text))
    by_key = {p.split(": ")[1].rstrip(":"): p for p in problems}
    assert set(by_key) == {"gateway.admin_email", "server.http_port", "server.thread",
                           "libraries[0].kind"}  # fmt: skip
    assert "required key is missing" in by_key["gateway.admin_email"]
    assert "expected a port number, got 'tám nghìn'" in by_key["server.http_port"]
    assert "did you mean 'threads'" in by_key["server.thread"]
    assert "must be one of" in by_key["libraries[0].kind"]
    port_line = next(i for i, line in enumerate(lines, 1) if "tám nghìn" in line)
    assert f":{port_line}: server.http_port:" in by_key["server.http_port"]


def test_unreadable_and_missing_paths(tmp_path: Path) -> None:
    """A store in a missing folder, and a config that does not exist, are clear problems."""
    text = render_config({"store.path": "no/such/folder/x.db"})
    (problem,) = _problems(_write(tmp_path, text))
    assert "store.path" in problem and "does not exist" in problem
    (missing,) = _problems(tmp_path / "absent.yaml")
    assert "not found" in missing


def test_config_that_is_a_folder_or_not_utf8(tmp_path: Path) -> None:
    """A folder given as config, and a non-UTF-8 file, are reported by name."""
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    (problem,) = _problems(folder)
    assert "cannot read" in problem
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("gateway:\n  name: Thư viện\n".encode().replace(b"\xc6\xb0", b"\xf0"))
    (problem,) = _problems(latin)
    assert "not UTF-8" in problem and ":2:" in problem


def test_duplicate_library_and_port(tmp_path: Path) -> None:
    """Cross-key checks: the same library id twice, two endpoints on one port."""
    libs = [{"id": "a", "name": "A", "kind": "school"}, {"id": "a", "name": "B", "kind": "school"}]
    text = render_config({"libraries": libs, "server.sip2_port": 8080})
    problems = _problems(_write(tmp_path, text))
    assert any("library id 'a' is used twice" in p for p in problems)
    assert any("server.sip2_port" in p and "also server.http_port" in p for p in problems)


def test_endpoint_not_in_this_version(tmp_path: Path) -> None:
    """Switching on an endpoint whose package is absent is a configuration problem."""
    from gateway.endpoints import ENDPOINT_SPECS, available

    missing = [name for name in ENDPOINT_SPECS if not available(name)]
    if not missing:
        pytest.skip("every endpoint is part of this version")
    text = render_config({f"endpoints.{missing[0]}": True})
    (problem,) = _problems(_write(tmp_path, text))
    assert f"endpoints.{missing[0]}" in problem and "not part of this version" in problem


def test_cli_config_check(tmp_path: Path) -> None:
    """'config check' prints OK or every problem, exits 2, and never shows a traceback."""
    good = _write(tmp_path, render_config())
    runner = CliRunner()
    ok = runner.invoke(main, ["-c", str(good), "config", "check"])
    assert ok.exit_code == 0 and "OK" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(render_config().replace("threads: 8", "threads: many"), encoding="utf-8")
    result = runner.invoke(main, ["-c", str(bad), "config", "check"])
    assert result.exit_code == 2
    assert "server.threads: expected a whole number, got 'many'" in result.output
    assert "Traceback" not in result.output


def test_config_found_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without -c, $LIENTHONG_CONFIG is used, then ./lienthong.yaml."""
    path = _write(tmp_path, render_config())
    runner = CliRunner()
    monkeypatch.setenv("LIENTHONG_CONFIG", str(path))
    assert runner.invoke(main, ["config", "check"]).exit_code == 0
    monkeypatch.delenv("LIENTHONG_CONFIG")
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(main, ["config", "check"]).exit_code == 0
    monkeypatch.chdir(tmp_path.parent)
    result = runner.invoke(main, ["config", "check"])
    assert result.exit_code == 2 and "lienthong.yaml" in result.output


def test_oai_settings_and_library_urls(tmp_path: Path) -> None:
    """The oai section and a library's url: good values load (the url is optional, and
    commented out in rendered files); a namespace with a trailing newline, a page size
    out of range, a token lifetime under 24 hours and URLs that are not http(s) are each
    reported with their key."""
    config = load_config(_write(tmp_path, render_config()))
    defaults = {"base_url": None, "page_size": 200, "token_lifetime_hours": 48,
                "stylesheet": "/oai/oai.xsl"}  # fmt: skip
    assert config.values["oai"] == defaults
    assert config.libraries[0].url is None
    libs = [{"id": "a", "name": "A", "kind": "school", "url": "https://opac.a.example.vn/"}]
    overrides = {"libraries": libs, "oai.base_url": "https://x.vn/oai"}
    good = load_config(_write(tmp_path, render_config(overrides)))
    assert good.libraries[0].url == "https://opac.a.example.vn/"
    assert good.values["oai"]["base_url"] == "https://x.vn/oai"
    libs[0]["url"] = "ftp://opac.a.example.vn/"
    text = render_config({"libraries": libs, "gateway.oai_namespace": "lienthong.example.vn\n",
                          "oai.page_size": 5, "oai.token_lifetime_hours": 2,
                          "oai.base_url": "javascript:alert(1)"})  # fmt: skip
    problems = _problems(_write(tmp_path, text))
    for key in ("gateway.oai_namespace", "oai.page_size", "oai.token_lifetime_hours",
                "oai.base_url", "libraries[0].url"):  # fmt: skip
        assert any(f" {key}:" in p for p in problems), (key, problems)


def test_z3950_accounts_are_hashes_and_render_commented(tmp_path: Path) -> None:
    """The example shows an account commented out (open access by default); a configured
    account must hold a password hash, and a plain password is refused with its line."""
    from gateway.passwords import hash_password, verify_password

    text = render_config()
    assert "  accounts: []\n  #   - user: thuvien-x\n" in text
    assert load_config(_write(tmp_path, text)).values["z3950"]["accounts"] == []
    good = hash_password("mật khẩu")
    accounts = f"  accounts:\n    - user: thuvien-x\n      password_hash: '{good}'\n"
    loaded = load_config(_write(tmp_path, text.replace("  accounts: []\n", accounts)))
    [account] = loaded.values["z3950"]["accounts"]
    assert verify_password("mật khẩu", account["password_hash"])
    assert not verify_password("mat khau", account["password_hash"])
    plain = accounts.replace(f"'{good}'", "hunter2")
    [problem] = _problems(_write(tmp_path, text.replace("  accounts: []\n", plain)))
    line = text.replace("  accounts: []\n", plain).splitlines().index(
        "      password_hash: hunter2") + 1  # fmt: skip
    assert f":{line}: z3950.accounts[0].password_hash:" in problem
    assert "is not a password hash" in problem and "hunter2" not in problem


def test_hash_password_command_reads_stdin(tmp_path: Path) -> None:
    """``lienthong hash-password --stdin`` prints a hash that verifies, never the password."""
    from gateway.passwords import verify_password

    result = CliRunner().invoke(main, ["hash-password", "--stdin"], input="bí mật\n")
    assert result.exit_code == 0, result.output
    assert "bí mật" not in result.output
    assert verify_password("bí mật", result.output.strip())
    empty = CliRunner().invoke(main, ["hash-password", "--stdin"], input="")
    assert empty.exit_code != 0


def test_z3950_accounts_listed_twice_are_refused(tmp_path: Path) -> None:
    """A user id given twice would silently lose one password: it is a problem."""
    from gateway.passwords import hash_password

    good = hash_password("a")
    accounts = "".join(f"    - user: kiosk\n      password_hash: '{good}'\n" for _ in range(2))
    text = render_config().replace("  accounts: []\n", "  accounts:\n" + accounts)
    [problem] = _problems(_write(tmp_path, text))
    assert "z3950.accounts[1].user:" in problem and "listed twice" in problem


@pytest.mark.parametrize(
    "stored",
    ["scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AA",  # a 1-byte digest
     "scrypt$16384$8$1$AA$" + "A" * 43,  # a 1-byte salt
     "scrypt$262144$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,  # 256 MiB per login
     "scrypt$16384$8$16$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,  # 16-way: seconds per login
     "scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43],  # N not a power of two
)  # fmt: skip
def test_weak_or_unaffordable_hashes_are_not_hashes(stored: str) -> None:
    """Hashes a login could not afford, or truncated ones, fail the format check, and
    verifying against one is a refusal, never an exception."""
    from gateway.passwords import is_password_hash, verify_password

    assert not is_password_hash(stored) and not verify_password("x", stored)


def test_a_truncated_hash_is_refused_without_a_traceback(tmp_path: Path) -> None:
    """A hash cut short while pasting (broken base64) is just not a hash."""
    from gateway.passwords import hash_password, is_password_hash, verify_password

    good = hash_password("x")
    for cut in range(1, 6):
        assert not is_password_hash(good[:-cut]) and not verify_password("x", good[:-cut])
