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
    loaded = load_config(_write(tmp_path, text.replace("  accounts: []\n", accounts, 1)))
    [account] = loaded.values["z3950"]["accounts"]
    assert verify_password("mật khẩu", account["password_hash"])
    assert not verify_password("mat khau", account["password_hash"])
    plain = accounts.replace(f"'{good}'", "hunter2")
    [problem] = _problems(_write(tmp_path, text.replace("  accounts: []\n", plain, 1)))
    line = text.replace("  accounts: []\n", plain, 1).splitlines().index(
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
    text = render_config().replace("  accounts: []\n", "  accounts:\n" + accounts, 1)
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


def _line_of(text: str, needle: str) -> int:
    """1-based line of the first line of ``text`` containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _kiosk(user: str, library: str = "dlk-tinh", **more: object) -> dict[str, object]:
    from gateway.passwords import hash_password

    return {"user": user, "password_hash": hash_password("x"), "library": library, **more}


def test_sip2_and_circulation_defaults(tmp_path: Path) -> None:
    """The rendered file gives the documented SIP2 and circulation defaults: no kiosks, no
    TLS port, the default loan policy, no per-library policies, the database beside it."""
    values = load_config(_write(tmp_path, render_config())).values
    sip2, circulation = values["sip2"], values["circulation"]
    assert sip2["accounts"] == [] and sip2["tls_port"] is None
    assert (sip2["idle_timeout"], sip2["max_sessions"], sip2["default_charset"]) == (
        600, 2000, "utf-8")  # fmt: skip
    assert (sip2["timeout"], sip2["retries"], sip2["require_login"]) == (100, 3, True)
    assert circulation["path"] == str(tmp_path / "circulation.db")
    assert circulation["policy"] == {"loan_days": 14, "max_loans": 5, "max_renewals": 2,
                                     "fine_per_day": 1000, "max_fines": 50000, "max_overdue": 0,
                                     "hold_shelf_days": 7, "currency": "VND"}  # fmt: skip
    assert circulation["policies"] == []


def test_render_config_takes_sip2_accounts(tmp_path: Path) -> None:
    """``render_config({"sip2.accounts": [...]})`` (the demo's kiosk) writes entries that
    load; keys an entry leaves out take their defaults, never the documentation's example."""
    overrides = {"sip2.accounts": [_kiosk("demo-kiosk"),
                                   _kiosk("k2", location="Quầy 2", charset="cp850",
                                          allowed_addresses=["10.0.0.0/8", "::1"])]}  # fmt: skip
    [first, second] = load_config(_write(tmp_path, render_config(overrides))).values["sip2"][
        "accounts"]  # fmt: skip
    assert first["user"] == "demo-kiosk" and first["library"] == "dlk-tinh"
    assert (first["location"], first["allowed_addresses"], first["charset"]) == ("", [], "utf-8")
    assert (first["terminator"], first["error_detection"], first["backend"]) == (
        "cr", True, "embedded")  # fmt: skip
    assert second["location"] == "Quầy 2" and second["charset"] == "cp850"
    assert second["allowed_addresses"] == ["10.0.0.0/8", "::1"]
    empty = render_config({"sip2.accounts": []})
    assert load_config(_write(tmp_path, empty)).values["sip2"]["accounts"] == []


def test_sip2_account_problems_name_key_and_line(tmp_path: Path) -> None:
    """A kiosk for a library the file does not have, a user listed twice, a bad charset,
    terminator, back end or address: each is reported with its key path and line."""
    bad = _kiosk("k3", charset="utf8", terminator="cr-lf", backend="koha",
                 allowed_addresses=["10.1.2.5/24", "kiosk.local"])  # fmt: skip
    overrides = {"sip2.accounts": [_kiosk("k1"), _kiosk("k1", "thpt-x"), bad]}
    text = render_config(overrides)
    problems = _problems(_write(tmp_path, text))
    second_user = [i for i, line in enumerate(text.splitlines(), 1) if "- user: k1" in line][1]
    expected = {
        f":{second_user}: sip2.accounts[1].user:": "user 'k1' is listed twice",
        f":{_line_of(text, 'library: thpt-x')}: sip2.accounts[1].library:": "'thpt-x' is not a "
        "library of this file (libraries: dlk-tinh)",
        f":{_line_of(text, 'charset: utf8')}: sip2.accounts[2].charset:": "must be one of",
        f":{_line_of(text, 'terminator: cr-lf')}: sip2.accounts[2].terminator:": "must be one of",
        f":{_line_of(text, 'backend: koha')}: sip2.accounts[2].backend:":
            "is not a circulation back end (known: embedded)",
        ": sip2.accounts[2].allowed_addresses[0]:": "did you mean 10.1.2.0/24?",
        ": sip2.accounts[2].allowed_addresses[1]:": "is not an IP address or a network",
    }  # fmt: skip
    for where, message in expected.items():
        assert any(where in p and message in p for p in problems), (where, problems)
    assert len(problems) == len(expected)


def test_sip2_hash_is_secret_and_checked(tmp_path: Path) -> None:
    """A kiosk's password typed where its hash belongs is refused without quoting it."""
    text = render_config({"sip2.accounts": [_kiosk("k1", password_hash="matkhau123")]})
    [problem] = _problems(_write(tmp_path, text))
    assert f":{_line_of(text, 'password_hash: matkhau123')}: sip2.accounts[0].password_hash:" in (
        problem)  # fmt: skip
    assert "is not a password hash" in problem and "matkhau123" not in problem


def test_circulation_policies_name_configured_libraries_once(tmp_path: Path) -> None:
    """A library's own policy must name a configured library, once; keys it leaves out are
    None (taken from circulation.policy); out-of-range values are reported with their key."""
    libs = [{"id": "a", "name": "A", "kind": "school"}, {"id": "b", "name": "B", "kind": "school"}]
    good = render_config({"libraries": libs, "circulation.policies": [
        {"library": "a", "loan_days": 7}, {"library": "b", "currency": "USD"}]})  # fmt: skip
    [a, b] = load_config(_write(tmp_path, good)).values["circulation"]["policies"]
    assert a["loan_days"] == 7 and a["max_loans"] is None and a["currency"] is None
    assert b["currency"] == "USD" and b["loan_days"] is None
    text = render_config({"libraries": libs, "circulation.policy.loan_days": 0,
                          "circulation.policies": [
                              {"library": "a"}, {"library": "z"}, {"library": "a"},
                              {"library": "b", "currency": "đồng", "max_loans": -1}]})  # fmt: skip
    problems = _problems(_write(tmp_path, text))
    library_lines = [i for i, line in enumerate(text.splitlines(), 1) if "- library:" in line]
    expected = {
        f":{library_lines[1]}: circulation.policies[1].library:": "'z' is not a library",
        f":{library_lines[2]}: circulation.policies[2].library:": "already has a policy",
        ": circulation.policies[3].currency:": "three-letter currency code",
        ": circulation.policies[3].max_loans:": "below the minimum 0",
        ": circulation.policy.loan_days:": "below the minimum 1",
    }
    for where, message in expected.items():
        assert any(where in p and message in p for p in problems), (where, problems)
    assert len(problems) == len(expected)


def test_tls_port_needs_certificate_and_key(tmp_path: Path) -> None:
    """A TLS port without certificate and key is refused at the port's line; given, the files
    must exist (when paths are checked); with them the TLS settings load."""
    text = render_config({"sip2.tls_port": 6443})
    problems = _problems(_write(tmp_path, text))
    line = _line_of(text, "tls_port: 6443")
    for key in ("sip2.tls_certificate", "sip2.tls_key"):
        assert any(f":{line}: {key}: is required when sip2.tls_port is set" in p
                   for p in problems), (key, problems)  # fmt: skip
    assert len(problems) == 2
    text = render_config({"sip2.tls_port": 6443, "sip2.tls_certificate": "cert.pem",
                          "sip2.tls_key": "tls"})  # fmt: skip
    path = _write(tmp_path, text)
    (tmp_path / "tls").mkdir()
    problems = _problems(path)
    assert any(f":{_line_of(text, 'tls_certificate: cert.pem')}: sip2.tls_certificate:" in p
               and "does not exist" in p for p in problems), problems  # fmt: skip
    assert any("sip2.tls_key:" in p and "is a folder" in p for p in problems), problems
    assert load_config(path, check_paths=False).values["sip2"]["tls_port"] == 6443
    (tmp_path / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    (tmp_path / "tls").rmdir()
    (tmp_path / "tls").write_text("-----BEGIN PRIVATE KEY-----\n", encoding="utf-8")
    sip2 = load_config(path).values["sip2"]
    assert sip2["tls_certificate"] == str(tmp_path / "cert.pem")
    assert sip2["tls_key"] == str(tmp_path / "tls")


def test_tls_port_must_differ_from_the_other_ports(tmp_path: Path) -> None:
    """The TLS port clashing with the plain SIP2 port (or any other) is a problem at its line."""
    (tmp_path / "c.pem").write_text("x", encoding="utf-8")
    text = render_config({"sip2.tls_port": 6001, "sip2.tls_certificate": "c.pem",
                          "sip2.tls_key": "c.pem"})  # fmt: skip
    [problem] = _problems(_write(tmp_path, text))
    assert f":{_line_of(text, 'tls_port: 6001')}: sip2.tls_port: port 6001 is also " in problem
    assert "server.sip2_port" in problem


def test_circulation_database_folder_must_exist(tmp_path: Path) -> None:
    """The circulation database is checked like the store: its folder must exist."""
    text = render_config({"circulation.path": "no/such/folder/c.db"})
    [problem] = _problems(_write(tmp_path, text))
    assert f":{_line_of(text, 'path: no/such')}: circulation.path:" in problem
    assert "does not exist" in problem


def test_circulation_database_must_not_be_the_store(tmp_path: Path) -> None:
    """circulation.path naming the record store's own file is a problem on its line."""
    text = render_config({"circulation.path": "lienthong.db", "store.path": "lienthong.db"})
    config = tmp_path / "lienthong.yaml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    problems = [p for p in caught.value.problems if p.path == "circulation.path"]
    assert problems and "store.path" in problems[0].message
    assert problems[0].line == text.splitlines().index("  path: lienthong.db", 20) + 1
