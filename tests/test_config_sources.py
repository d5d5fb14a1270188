"""Configuration of sources and circulation back ends: each mistake named with its key
and line, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config, render_config

from .sync_helpers import LIBRARIES, write_config


def _problems(tmp_path: Path, sources: list[dict], backends: list[dict] | None = None,
              accounts: list[dict] | None = None) -> list[str]:  # fmt: skip
    values = {"libraries": LIBRARIES, "store.path": "store.db", "sources": sources}
    if backends is not None:
        values["circulation.backends"] = backends
    if accounts is not None:
        values["sip2.accounts"] = accounts
    path = tmp_path / "lienthong.yaml"
    path.write_text(render_config(values), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p).split(": ", 1)[1] for p in caught.value.problems]


def test_kind_defaults_are_filled_in(tmp_path: Path):
    """Each kind gets its own defaults; keys it does not use stay empty."""
    config = write_config(tmp_path, [
        {"name": "a", "library": "dlk-tinh", "kind": "marc-folder", "path": "exports"},
        {"name": "b", "library": "buon-ho", "kind": "oai", "url": "http://127.0.0.1:9/oai"},
    ])  # fmt: skip
    folder, oai = config.values["sources"]
    assert (folder["export"], folder["id_rule"], folder["path"]) == (
        "delta", "001", str((tmp_path / "exports").resolve()))  # fmt: skip
    assert (oai["metadata_prefix"], oai["id_rule"], oai["export"]) == (
        "marc21", "identifier", None)  # fmt: skip


def test_required_and_foreign_keys_are_named(tmp_path: Path):
    """A kind's required key missing, and a key of another kind given, are each reported."""
    problems = _problems(tmp_path, [
        {"name": "a", "library": "dlk-tinh", "kind": "sql", "url": "mysql+pymysql://r@h/k"},
        {"name": "b", "library": "buon-ho", "kind": "oai", "url": "http://h/oai",
         "path": "exports"},
    ])  # fmt: skip
    assert problems == [
        "sources[0].mapping: is required for kind sql",
        "sources[1].path: is not used by kind oai (only by marc-folder)",
    ]


def test_names_libraries_and_urls_are_checked(tmp_path: Path):
    """Names once, a configured library once, an http URL for OAI, a database URL without
    a password for SQL."""
    problems = _problems(tmp_path, [
        {"name": "a", "library": "dlk-tinh", "kind": "oai", "url": "ftp://h/oai"},
        {"name": "a", "library": "dlk-tinh", "kind": "marc-folder", "path": "x"},
        {"name": "c", "library": "khong-co", "kind": "marc-folder", "path": "x"},
        {"name": "d", "library": "buon-ho", "kind": "sql", "mapping": "koha",
         "url": "mysql+pymysql://koha:matkhau@db/koha"},
        {"name": "e", "library": "thpt-nguyen-du", "kind": "sql", "mapping": "koha",
         "url": "not a url"},
    ])  # fmt: skip
    assert problems[0] == "sources[1].name: name 'a' is used twice"
    assert (
        "sources[1].library: library 'dlk-tinh' already has source 'a'; a library's "
        "records come from one source" in problems
    )
    assert any(p.startswith("sources[2].library: 'khong-co' is not a library") for p in problems)
    assert "sources[0].url: 'ftp://h/oai' is not an http:// or https:// URL" in problems
    assert (
        "sources[3].url: contains a password: remove it and name an environment variable "
        "holding it in password_env"
    ) in problems
    assert any(p.startswith("sources[4].url: is not a database URL") for p in problems)
    assert not any("matkhau" in p for p in problems)  # the password is never quoted


def test_accounts_name_existing_back_ends(tmp_path: Path):
    """A kiosk's backend is embedded or a configured back end; 'embedded' is reserved;
    a sip2 back end needs its host and port."""
    account = {"user": "k1", "password_hash": "scrypt$16384$8$1$c2FsdA$aGFzaA",
               "library": "dlk-tinh", "backend": "koha-x"}  # fmt: skip
    problems = _problems(tmp_path, [], backends=[
        {"name": "embedded", "kind": "sql", "url": "sqlite:///x.db", "mapping": "m.yaml"},
        {"name": "koha-dlk", "kind": "sip2", "host": "koha.example.vn"},
    ], accounts=[account])  # fmt: skip
    assert (
        "circulation.backends[0].name: 'embedded' is the built-in back end's name; "
        "choose another" in problems
    )
    assert "circulation.backends[1].port: is required for kind sip2" in problems
    assert any(p.startswith("sip2.accounts[0].backend: 'koha-x' is not a circulation back "
                            "end (known: embedded, koha-dlk)") for p in problems)  # fmt: skip


def test_rendered_back_ends_of_each_kind_load(tmp_path: Path):
    """A file rendered with a sql and a sip2 back end is valid: the sip2-only keys get
    their defaults for the sip2 one and stay unset for the sql one."""
    config = write_config(tmp_path, [], **{"circulation.backends": [
        {"name": "truong-db", "kind": "sql", "url": "postgresql+psycopg://u@h/thuvien",
         "mapping": "statements.yaml"},
        {"name": "koha-dlk", "kind": "sip2", "host": "koha.example.vn", "port": 6001},
    ]})  # fmt: skip
    sql, sip2 = config.values["circulation"]["backends"]
    assert (sql["charset"], sql["pool_size"], sql["mapping"]) == (
        None, None, str((tmp_path / "statements.yaml").resolve()))  # fmt: skip
    assert (sip2["charset"], sip2["terminator"], sip2["pool_size"], sip2["user"]) == (
        "utf-8", "cr", 4, "")  # fmt: skip


def test_id_rules_and_secrets_in_urls_are_checked(tmp_path: Path):
    """An id rule the kind cannot use, a password in a URL's query, and a port that is
    not a number are named before anything starts (never quoting the password)."""
    problems = _problems(tmp_path, [
        {"name": "a", "library": "dlk-tinh", "kind": "marc-folder", "path": "x",
         "id_rule": "identifier"},
        {"name": "b", "library": "buon-ho", "kind": "sql", "mapping": "koha",
         "url": "mysql+pymysql://u@h/koha?PASSWORD=matkhau"},
        {"name": "c", "library": "thpt-nguyen-du", "kind": "sql", "mapping": "koha",
         "url": "mysql+pymysql://u@h:abc/koha"},
    ])  # fmt: skip
    assert problems[0].startswith("sources[0].id_rule: 'identifier' is not an id rule of "
                                  "kind marc-folder")  # fmt: skip
    assert problems[1].startswith("sources[1].url: contains a password")
    assert problems[2].startswith("sources[2].url: is not a database URL")
    assert len(problems) == 3 and not any("matkhau" in p for p in problems)
    accepted = write_config(tmp_path, [{"name": "o", "library": "dlk-tinh", "kind": "oai",
                                        "url": "http://h/oai", "id_rule": "035$a"}])  # fmt: skip
    assert accepted.values["sources"][0]["id_rule"] == "035$a"
