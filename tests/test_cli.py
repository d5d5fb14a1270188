"""The command line: init, import, stats, as an administrator runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crosswalks.legacy import LegacyEncoding
from gateway.cli import main
from gateway.config import load_config, render_config
from gateway.store import open_store

from .conftest import BROKEN, VIE_121
from .records import legacy_iso2709, vie_records


def _init(tmp_path: Path) -> Path:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    return tmp_path / "site" / "lienthong.yaml"


def test_init_writes_config_and_empty_store(tmp_path: Path) -> None:
    """init DIR: a valid documented config with the store inside DIR, and the store file."""
    config_file = _init(tmp_path)
    config = load_config(config_file)
    assert Path(config.store_location).parent == tmp_path / "site"
    assert Path(config.store_location).exists()
    assert "# Member libraries" in config_file.read_text(encoding="utf-8")
    again = CliRunner().invoke(main, ["init", str(tmp_path / "site")])
    assert again.exit_code == 1 and "already exists" in again.output


def test_import_reports_and_summarises(tmp_path: Path) -> None:
    """import prints each broken record (file, record, byte, reason) and a summary."""
    config_file = _init(tmp_path)
    runner = CliRunner()
    files = [str(VIE_121), str(BROKEN / "bad_hathi_records.mrc")]
    result = runner.invoke(main, ["-c", str(config_file), "import", *files])
    assert result.exit_code == 0, result.output
    assert "read 126, new 125, updated 0, unchanged 0, skipped 1" in result.output
    assert "bad_hathi_records.mrc: record 4 at byte 6343: RecordDirectoryInvalid" in result.output
    again = runner.invoke(main, ["-c", str(config_file), "import", str(VIE_121)])
    assert "read 121, new 0, updated 0, unchanged 121, skipped 0" in again.output


def test_import_source_must_be_a_configured_library(tmp_path: Path) -> None:
    """--source names a library of the config; with several libraries it is required."""
    config_file = _init(tmp_path)
    runner = CliRunner()
    wrong = runner.invoke(main, ["-c", str(config_file), "import", str(VIE_121), "--source", "x"])
    assert wrong.exit_code == 2 and "'x' is not a library" in wrong.output
    libs = [{"id": "a", "name": "A", "kind": "school"}, {"id": "b", "name": "B", "kind": "school"}]
    config_file.write_text(render_config({"libraries": libs, "store.path": "s.db"}), "utf-8")
    ambiguous = runner.invoke(main, ["-c", str(config_file), "import", str(VIE_121)])
    assert ambiguous.exit_code == 2 and "--source a | b" in ambiguous.output


def test_import_unreadable_file_exits_nonzero(tmp_path: Path) -> None:
    """A file that cannot be read is named, the others imported, exit status 1."""
    config_file = _init(tmp_path)
    result = CliRunner().invoke(
        main, ["-c", str(config_file), "import", str(tmp_path / "missing.mrc"), str(VIE_121)]
    )
    assert result.exit_code == 1
    assert "missing.mrc: file: cannot read" in result.output
    assert "new 121" in result.output


def test_stats(tmp_path: Path) -> None:
    """stats: per-source records, tombstones and last change, as a table or JSON."""
    config_file = _init(tmp_path)
    runner = CliRunner()
    runner.invoke(main, ["-c", str(config_file), "import", str(VIE_121)])
    config = load_config(config_file)
    with open_store(config.store_location) as store:
        store.delete("dlk-tinh", list(store.local_ids("dlk-tinh"))[:3])
    data = json.loads(runner.invoke(main, ["-c", str(config_file), "stats", "--json"]).output)
    assert data["records"] == 118 and data["tombstones"] == 3
    assert data["sources"][0]["source"] == "dlk-tinh"
    assert data["sources"][0]["last_change"].endswith("Z")
    table = runner.invoke(main, ["-c", str(config_file), "stats"]).output
    assert "dlk-tinh" in table and "118" in table


def test_import_uses_the_library_legacy_setting_unless_told_otherwise(tmp_path: Path) -> None:
    """A library set to ``legacy_vietnamese: off`` keeps raw TCVN3 bytes as U+FFFD; the
    command-line option overrides it; a wrong value is a config problem naming the key."""

    raw = tmp_path / "abc.mrc"
    raw.write_bytes(legacy_iso2709(vie_records(3), LegacyEncoding.TCVN3, "a"))
    config_file = tmp_path / "lienthong.yaml"
    libs = [{"id": "thpt", "name": "THPT", "kind": "school", "legacy_vietnamese": "off"}]
    config_file.write_text(render_config({"libraries": libs, "store.path": "s.db"}), "utf-8")
    runner = CliRunner()
    kept = runner.invoke(main, ["-c", str(config_file), "import", str(raw)])
    assert kept.exit_code == 0, kept.output
    assert "U+FFFD" in kept.output and "TCVN3/VNI" not in kept.output
    converted = runner.invoke(
        main, ["-c", str(config_file), "import", str(raw), "--legacy-vietnamese", "auto"]
    )
    assert "updated 3" in converted.output
    assert "values converted from TCVN3/VNI" in converted.output
    libs[0]["legacy_vietnamese"] = "abc"
    config_file.write_text(render_config({"libraries": libs, "store.path": "s.db"}), "utf-8")
    bad = runner.invoke(main, ["-c", str(config_file), "config", "check"])
    assert bad.exit_code == 2
    assert "libraries[0].legacy_vietnamese" in bad.output and "must be one of" in bad.output


def test_reindex_command_reindexes_every_record(tmp_path: Path) -> None:
    """``lienthong reindex`` rebuilds the indexes of every live record and says how many."""
    config_file = _init(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["-c", str(config_file), "import", str(VIE_121)]).exit_code == 0
    result = runner.invoke(main, ["-c", str(config_file), "reindex"])
    assert result.exit_code == 0, result.output
    assert "reindexed 121 record(s)" in result.output
