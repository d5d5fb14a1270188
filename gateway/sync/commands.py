"""``lienthong sources add|list|test|sync|remove``: connecting member libraries' systems.

Adding and removing edit the configuration file in place (comments kept, validated before
it is replaced, as ``accounts`` does). ``test`` reads a sample and says in plain words what
it found and what looks wrong, without writing anything; ``sync`` runs the engine with a
progress line and one summary line per source, and a failing source never stops the
others (the exit status says whether all of them succeeded).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from adapters.interface import SourceError

from ..accounts import (
    EXIT_CONFIG,
    AccountsError,
    as_commented,
    edit_config_list,
    fail,
    load_editable,
)
from ..config import SOURCE_KIND_KEYS, SOURCE_KINDS, Config
from ..store import StoreError, open_store
from ..tables import echo_table
from .engine import BATCH_SIZE, SyncBusy, SyncReport, scrub, sync_source
from .overview import source_overview
from .sources import open_adapter, source_entries, source_entry

__all__ = ["sources"]


@click.group("sources")
def sources() -> None:
    """Systems the member libraries' records come from (Koha, iLib exports, databases,
    spreadsheets), kept in step with the store."""


def _store(config: Config) -> Any:
    try:
        return open_store(config.store_location, create=True)
    except StoreError as exc:
        fail(str(exc))


def _entry(config: Config, name: str) -> dict[str, Any]:
    entry = source_entry(config, name)
    if entry is None:
        known = ", ".join(e["name"] for e in source_entries(config)) or "none"
        fail(f"no source called {name!r} in {config.file} (sources: {known})", EXIT_CONFIG)
    return entry


# -- add / remove -----------------------------------------------------------------------

#: Worker processes parsing encoded records during a command-line sync (never in serve).
_WORKERS = min(os.cpu_count() or 1, 8)
#: Options of ``sources add`` that become keys of the entry when given.
_ADD_KEYS = ("url", "path", "export", "id_rule", "metadata_prefix", "set", "mapping",
             "password_env", "sheet", "encoding", "interval_minutes", "reconcile_hours",
             "overlap_seconds", "timeout_seconds")  # fmt: skip


@sources.command("add")
@click.argument("name")
@click.option("--library", required=True, help="Member library whose records these are.")
@click.option("--kind", type=click.Choice(SOURCE_KINDS), required=True,
              help="What the source is.")  # fmt: skip
@click.option("--url", help="oai: base URL; sql: database URL without the password.")
@click.option("--path", help="marc-folder: the folder; spreadsheet: the file.")
@click.option("--export", type=click.Choice(("full", "delta")),
              help="marc-folder: whether each file is the whole catalogue.")  # fmt: skip
@click.option("--id-rule", help="Where a record's id is: 001, 001+003, 035$a, ...")
@click.option("--metadata-prefix", type=click.Choice(("marc21", "oai_dc")), help="oai: format.")
@click.option("--set", "set", help="oai: harvest only this set.")
@click.option("--mapping", help="sql: koha, or a mapping file; spreadsheet: a column file.")
@click.option("--password-env", metavar="VAR",
              help="sql: environment variable holding the database password.")  # fmt: skip
@click.option("--sheet", help="spreadsheet: sheet to read.")
@click.option("--encoding", help="spreadsheet (.csv): auto, utf-8, cp1258, tcvn3, vni.")
@click.option("--interval-minutes", type=int, help="Minutes between syncs (0: by hand).")
@click.option("--reconcile-hours", type=int, help="Hours between full comparisons.")
@click.option("--overlap-seconds", type=int, help="Overlap of incremental syncs.")
@click.option("--timeout-seconds", type=int, help="Seconds to wait for the source.")
@click.option("--disabled", is_flag=True, help="Add it switched off.")
@click.option("--replace", "replace_existing", is_flag=True, help="Replace a source of NAME.")
@click.pass_context
def add(ctx: click.Context, name: str, library: str, kind: str, disabled: bool,
        replace_existing: bool, **options: Any) -> None:  # fmt: skip
    """Add source NAME to the configuration (then try it with 'sources test NAME').

    \b
    Examples:
      lienthong sources add dlk-koha --library dlk-tinh --kind oai \\
          --url https://opac.example.vn/cgi-bin/koha/oai.pl --metadata-prefix marc21
      lienthong sources add buon-ho --library buon-ho --kind marc-folder \\
          --path /srv/exports/buon-ho --export full
      lienthong sources add krong-pac --library krong-pac --kind sql --mapping koha \\
          --url mysql+pymysql://koha_ro@10.0.0.5/koha --password-env KOHA_DB_PASSWORD
    """
    path, config = load_editable(ctx)
    exists = source_entry(config, name) is not None
    if exists and not replace_existing:
        fail(f"source {name!r} already exists in {path} (use --replace to replace it)")
    entry: dict[str, Any] = {"name": name, "library": library, "kind": kind}
    entry.update({key: options[key] for key in _ADD_KEYS if options.get(key) is not None})
    if disabled:
        entry["enabled"] = False
    required, _ = SOURCE_KIND_KEYS[kind]
    missing = [f"--{key.replace('_', '-')}" for key in required if key not in entry]
    if missing:
        fail(f"a source of kind {kind} needs {' and '.join(missing)}", EXIT_CONFIG)

    def change(entries: list[Any]) -> None:
        for position, old in enumerate(entries):
            if isinstance(old, dict) and old.get("name") == name:
                entries[position] = as_commented(entry)
                return
        entries.append(as_commented(entry))

    try:
        edit_config_list(path, ("sources",), change)
    except AccountsError as exc:
        fail(str(exc), EXIT_CONFIG if exc.problems else 1, exc.problems)
    verb = "replaced" if exists else "added"
    click.echo(f"{verb} source {name!r} ({kind}) for {library} in {path}; "
               f"try it with 'lienthong sources test {name}'")  # fmt: skip


@sources.command("remove")
@click.argument("name")
@click.option("--delete-records", is_flag=True,
              help="Also delete the library's records (harvesters see each deletion).")  # fmt: skip
@click.pass_context
def remove(ctx: click.Context, name: str, delete_records: bool) -> None:
    """Remove source NAME; its records stay in the store unless --delete-records.

    \b
    Example:
      lienthong sources remove buon-ho
    """
    path, config = load_editable(ctx)
    entry = _entry(config, name)

    def change(entries: list[Any]) -> None:
        entries[:] = [e for e in entries if not (isinstance(e, dict) and e.get("name") == name)]

    try:
        edit_config_list(path, ("sources",), change)
    except AccountsError as exc:
        fail(str(exc), EXIT_CONFIG if exc.problems else 1, exc.problems)
    store = _store(config)
    try:
        store.save_sync_state(name, None)
        deleted = 0
        if delete_records:
            ids = list(store.local_ids(entry["library"]))
            for start in range(0, len(ids), BATCH_SIZE):  # no reader waits on one huge batch
                deleted += store.delete(entry["library"], ids[start : start + BATCH_SIZE]).deleted
    finally:
        store.close()
    tail = f"; {deleted} records deleted" if delete_records else "; its records are kept"
    click.echo(f"removed source {name!r} from {path}{tail}")


# -- list / test ------------------------------------------------------------------------


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def list_sources(ctx: click.Context, as_json: bool) -> None:
    """List the sources with their state, records, last success and last error.

    \b
    Example:
      lienthong sources list
    """
    _, config = load_editable(ctx)
    store = _store(config)
    try:
        rows = source_overview(config, store)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"sources": rows}, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no sources (add one with 'lienthong sources add')")
        return
    echo_table(
        ("name", "library", "kind", "state", "records", "last success", "last error"),
        [(r["name"], r["library"], r["kind"], r["state"], r["records"],
          r["last_success"] or "never", _short(r["last_error"]))
         for r in rows],
    )  # fmt: skip


def _short(text: str | None, width: int = 60) -> str:
    if not text:
        return "-"
    return text if len(text) <= width else text[: width - 1] + "…"


@sources.command("test")
@click.argument("name")
@click.option("--records", "limit", type=click.IntRange(1, 100), default=5, show_default=True,
              help="Records to read.")  # fmt: skip
@click.pass_context
def test(ctx: click.Context, name: str, limit: int) -> None:
    """Connect to source NAME, read a few records and report what was found (nothing is
    written to the store).

    \b
    Example:
      lienthong sources test dlk-koha
    """
    _, config = load_editable(ctx)
    entry = _entry(config, name)
    try:
        adapter = open_adapter(config, entry)
        try:
            sample = adapter.sample(limit)
        finally:
            adapter.close()
    except SourceError as exc:
        fail(f"source {name}: {scrub(str(exc), entry)}")
    except Exception as exc:  # a fault nobody foresaw: named, never a traceback
        fail(f"source {name}: unexpected error ({type(exc).__name__}: "
             f"{scrub(str(exc), entry)})")  # fmt: skip
    click.echo(f"source {name} ({entry['kind']}): {sample.summary}")
    for upsert in sample.records:
        title = upsert.record.title or "(no title)"
        click.echo(f"  {upsert.local_id}: {title}")
    for problem in sample.problems:
        click.echo(f"  problem: {problem}")
    if not sample.problems:
        click.echo("  no problems found")


# -- sync -------------------------------------------------------------------------------


class _ProgressLine:
    """A line on the terminal counting records as they are read (nothing when the output
    is not a terminal, so logs and cron mail stay clean)."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self.started = time.monotonic()
        self.shown = 0.0

    def __call__(self, report: SyncReport) -> None:
        now = time.monotonic()
        if not self.live or now - self.shown < 0.2:
            return
        self.shown = now
        rate = report.read / max(now - self.started, 1e-6)
        click.echo(f"\r{report.source}: {report.read:,} records read ({rate:,.0f}/s)",
                   err=True, nl=False)  # fmt: skip

    def done(self) -> None:
        if self.live and self.shown:
            click.echo("\r\033[K", err=True, nl=False)


@sources.command("sync")
@click.argument("name", required=False)
@click.option("--full", is_flag=True,
              help="Read everything again and compare every id with the source.")  # fmt: skip
@click.option("--force", is_flag=True,
              help="Apply deletions even when the source lists far fewer records than are "
              "stored (after checking that it is right).")  # fmt: skip
@click.pass_context
def sync(ctx: click.Context, name: str | None, full: bool, force: bool) -> None:
    """Sync source NAME now, or every enabled source.

    \b
    Examples:
      lienthong sources sync
      lienthong sources sync buon-ho --full
    """
    _, config = load_editable(ctx)
    if force and not name:
        fail("--force applies held-back deletions: name the one source to force", EXIT_CONFIG)
    names = [_entry(config, name)["name"]] if name else [
        e["name"] for e in source_entries(config) if e["enabled"]]  # fmt: skip
    if not names:
        click.echo("no enabled sources (add one with 'lienthong sources add')")
        return
    store = _store(config)
    failed = 0
    try:
        for each in names:
            line = _ProgressLine()
            try:
                report = sync_source(store, config, each, full=full, force=force,
                                     progress=line, workers=_WORKERS)  # fmt: skip
            except KeyboardInterrupt:
                line.done()
                click.echo(f"{each}: interrupted; what was synced so far is kept", err=True)
                sys.exit(130)
            except SyncBusy as exc:
                line.done()
                click.echo(f"{each}: skipped: {exc}", err=True)
                failed += 1
                continue
            line.done()
            _print_report(report)
            failed += 0 if report.ok else 1
    finally:
        store.close()
    if failed:
        sys.exit(1)


def _print_report(report: SyncReport) -> None:
    click.echo(report.summary())
    for text in report.problem_texts[:10]:
        click.echo(f"  problem: {text}")
    if report.problems > 10:
        click.echo(f"  ... and {report.problems - 10} more problems")
    for note in report.notes:
        click.echo(f"  note: {note}")
    if report.withheld_reason:
        click.echo(f"  attention: {report.withheld_reason}", err=True)
    if report.error:
        click.echo(f"  failed: {report.error} (what was read before is kept)", err=True)
