"""``lienthong sources`` end to end, and syncing inside ``serve``: real files, a real
folder source, an OAI source whose server is down, the real server process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from gateway.store import open_store

from .conftest import REPO, VIE_121
from .servers import free_port, running_gateway
from .sync_helpers import write_config

#: Older than any settle time: the folder source takes the file as complete.
_LONG_AGO = time.time() - 3600


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "-c", str(folder / "lienthong.yaml"), *args],
        capture_output=True, text=True, cwd=folder, timeout=300,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )  # fmt: skip


def _export_folder(folder: Path) -> Path:
    exports = folder / "exports"
    exports.mkdir()
    target = exports / "ilib-2026-12-01.mrc"
    shutil.copy(VIE_121, target)
    os.utime(target, (_LONG_AGO, _LONG_AGO))
    return exports


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/oai"


def test_add_test_sync_list_remove(tmp_path: Path):
    """An administrator's round: add a folder source, test it, sync it twice (the second
    time nothing changes), list it, remove it keeping its records."""
    write_config(tmp_path, [])
    _export_folder(tmp_path)
    added = _cli(tmp_path, "sources", "add", "buon-ho-ilib", "--library", "buon-ho", "--kind",
                 "marc-folder", "--path", "exports", "--reconcile-hours", "0")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added source 'buon-ho-ilib' (marc-folder) for buon-ho" in added.stdout
    assert _cli(tmp_path, "config", "check").returncode == 0
    tested = _cli(tmp_path, "sources", "test", "buon-ho-ilib")
    assert tested.returncode == 0, tested.stderr
    assert tested.stdout.startswith("source buon-ho-ilib (marc-folder): ")
    assert len([line for line in tested.stdout.splitlines() if line.startswith("  ")]) >= 5
    first = _cli(tmp_path, "sources", "sync", "buon-ho-ilib")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == ("buon-ho-ilib: read 121, new 121, updated 0, "
                                            "unchanged 0, deleted 0")  # fmt: skip
    second = _cli(tmp_path, "sources", "sync")
    assert second.stdout.splitlines()[0] == ("buon-ho-ilib: read 0, new 0, updated 0, "
                                             "unchanged 0, deleted 0")  # fmt: skip
    listed = json.loads(_cli(tmp_path, "sources", "list", "--json").stdout)["sources"]
    assert [(r["name"], r["state"], r["records"], r["failures"]) for r in listed] == [
        ("buon-ho-ilib", "ok", 121, 0)]  # fmt: skip
    table = _cli(tmp_path, "sources", "list").stdout.splitlines()
    assert table[0].split() == ["name", "library", "kind", "state", "records", "last",
                                "success", "last", "error"]  # fmt: skip
    assert table[1].split()[:5] == ["buon-ho-ilib", "buon-ho", "marc-folder", "ok", "121"]
    removed = _cli(tmp_path, "sources", "remove", "buon-ho-ilib")
    assert removed.returncode == 0 and "its records are kept" in removed.stdout
    assert "buon-ho-ilib" not in (tmp_path / "lienthong.yaml").read_text(encoding="utf-8")
    with open_store(tmp_path / "store.db") as store:
        assert len(list(store.local_ids("buon-ho"))) == 121
        assert store.sync_state("buon-ho-ilib") is None


def test_add_refuses_mistakes_and_leaves_the_file(tmp_path: Path):
    """A missing required option, an unknown library, a name used twice: each refused with
    a message naming it, and the file is left as it was."""
    write_config(tmp_path, [{"name": "a", "library": "dlk-tinh", "kind": "marc-folder",
                             "path": "x"}])  # fmt: skip
    before = (tmp_path / "lienthong.yaml").read_text(encoding="utf-8")
    missing = _cli(tmp_path, "sources", "add", "b", "--library", "buon-ho", "--kind", "sql",
                   "--url", "mysql+pymysql://r@h/k")  # fmt: skip
    assert missing.returncode == 2
    assert "a source of kind sql needs --mapping" in missing.stderr
    unknown = _cli(tmp_path, "sources", "add", "b", "--library", "khong-co", "--kind", "oai",
                   "--url", "http://127.0.0.1:9/oai")  # fmt: skip
    assert unknown.returncode == 2
    assert "sources[1].library: 'khong-co' is not a library of this file" in unknown.stderr
    assert "nothing was written" in unknown.stderr
    twice = _cli(tmp_path, "sources", "add", "a", "--library", "buon-ho", "--kind", "oai",
                 "--url", "http://127.0.0.1:9/oai")  # fmt: skip
    assert twice.returncode == 1 and "source 'a' already exists" in twice.stderr
    assert (tmp_path / "lienthong.yaml").read_text(encoding="utf-8") == before
    nosuch = _cli(tmp_path, "sources", "sync", "khong-co")
    assert nosuch.returncode == 2 and "no source called 'khong-co'" in nosuch.stderr


def test_a_failing_source_does_not_stop_the_others(tmp_path: Path):
    """'sources sync' with a source that is down: the others are synced, the failure is
    reported in plain words and kept in the status, and the exit status is 1."""
    _export_folder(tmp_path)
    down = _closed_port_url()
    write_config(tmp_path, [
        {"name": "koha-down", "library": "dlk-tinh", "kind": "oai", "url": down},
        {"name": "ilib", "library": "buon-ho", "kind": "marc-folder", "path": "exports"},
    ])  # fmt: skip
    result = _cli(tmp_path, "sources", "sync")
    assert result.returncode == 1
    assert "koha-down: read 0" in result.stdout
    assert "ilib: read 121, new 121" in result.stdout
    assert "  failed: " in result.stderr and "Traceback" not in result.stderr
    rows = {r["name"]: r for r in json.loads(_cli(tmp_path, "sources", "list",
                                                  "--json").stdout)["sources"]}  # fmt: skip
    assert rows["koha-down"]["state"] == "failing" and rows["koha-down"]["failures"] == 1
    assert rows["koha-down"]["last_error"] and rows["koha-down"]["retry_at"]
    assert rows["ilib"]["state"] == "ok" and rows["ilib"]["records"] == 121


def test_remove_with_delete_records_leaves_tombstones(tmp_path: Path):
    """--delete-records turns the library's records into deletions harvesters will see."""
    _export_folder(tmp_path)
    write_config(tmp_path, [{"name": "ilib", "library": "buon-ho", "kind": "marc-folder",
                             "path": "exports"}])  # fmt: skip
    assert _cli(tmp_path, "sources", "sync").returncode == 0
    removed = _cli(tmp_path, "sources", "remove", "ilib", "--delete-records")
    assert "121 records deleted" in removed.stdout
    with open_store(tmp_path / "store.db") as store:
        stats = {s.source: s for s in store.source_stats()}
        assert (stats["buon-ho"].records, stats["buon-ho"].tombstones) == (0, 121)


def _health(base: str) -> dict[str, Any]:
    return dict(requests.get(f"{base}/health", timeout=10).json())


def test_serve_syncs_due_sources_and_a_down_one_blocks_nothing(tmp_path: Path):
    """The running gateway syncs its sources by itself; /health shows each one's state;
    a source whose server is down is retried later while SRU answers from the others."""
    _export_folder(tmp_path)
    write_config(tmp_path, [
        {"name": "koha-down", "library": "dlk-tinh", "kind": "oai", "url": _closed_port_url(),
         "timeout_seconds": 2},
        {"name": "ilib", "library": "buon-ho", "kind": "marc-folder", "path": "exports"},
    ], **{"endpoints.sru": True})  # fmt: skip
    open_store(tmp_path / "store.db").close()
    with running_gateway(["-c", "lienthong.yaml", "serve"], tmp_path, "sru") as base:
        deadline = time.monotonic() + 60
        sources = _health(base)["sources"]
        while time.monotonic() < deadline and (
            sources["ilib"]["state"] != "ok" or sources["koha-down"]["failures"] < 1
        ):
            time.sleep(0.5)
            sources = _health(base)["sources"]
        assert sources["ilib"]["state"] == "ok" and sources["ilib"]["records"] == 121
        assert sources["koha-down"]["state"] == "failing"
        assert sources["koha-down"]["retry_at"] is not None
        query = {"query": "cql.allRecords=1", "maximumRecords": "0"}
        answer = requests.get(f"{base}/sru", params=query, timeout=10)
        assert answer.status_code == 200 and "numberOfRecords>121<" in answer.text
        # A source added while the gateway runs is synced without a restart.
        school = tmp_path / "school"
        school.mkdir()
        shutil.copy(VIE_121, school / "sach.mrc")
        os.utime(school / "sach.mrc", (_LONG_AGO, _LONG_AGO))
        added = _cli(tmp_path, "sources", "add", "truong", "--library", "thpt-nguyen-du",
                     "--kind", "marc-folder", "--path", "school")  # fmt: skip
        assert added.returncode == 0, added.stderr
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _health(base)["sources"].get(
                "truong", {}).get("state") != "ok":  # fmt: skip
            time.sleep(0.5)
        assert _health(base)["sources"]["truong"]["records"] == 121


def test_import_into_a_library_fed_by_a_source_is_refused(tmp_path: Path):
    """Records imported by hand into a library a source keeps in step would be deleted by
    that source's next full comparison: the import is refused, naming the source."""
    write_config(tmp_path, [{"name": "ilib", "library": "buon-ho", "kind": "marc-folder",
                             "path": "exports"}])  # fmt: skip
    refused = _cli(tmp_path, "import", str(VIE_121), "--source", "buon-ho")
    assert refused.returncode == 2
    assert "library 'buon-ho' is kept in step with source 'ilib' (marc-folder)" in refused.stderr
    allowed = _cli(tmp_path, "import", str(VIE_121), "--source", "dlk-tinh")
    assert allowed.returncode == 0, allowed.stderr
