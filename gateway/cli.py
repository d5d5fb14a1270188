"""``lienthong``: the administrator's command line (click).

Every command finds the configuration with ``-c PATH``, else ``$LIENTHONG_CONFIG``, else
``./lienthong.yaml``. Problems are reported as messages naming the file, line and key,
never as tracebacks; exit status 0 means done, 1 a problem with the work, 2 a problem with
the configuration or the command line.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

import click

from . import __version__
from .config import Config, ConfigError, find_config, load_config, render_config
from .server import ServerAddresses

EXIT_WORK = 1
_PARALLEL_IMPORT_BYTES = 8_000_000
EXIT_CONFIG = 2


def _fail(message: str, status: int = EXIT_WORK) -> None:
    click.echo(f"lienthong: {message}", err=True)
    sys.exit(status)


def _config(ctx: click.Context) -> Config:
    path = find_config(ctx.obj.get("config"))
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"lienthong: {len(exc.problems)} problem(s) in {path}", err=True)
        sys.exit(EXIT_CONFIG)


def _open_store(config: Config, *, create: bool) -> Any:
    from .store import StoreError, open_store

    try:
        return open_store(config.store_location, create=create)
    except StoreError as exc:
        _fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Configuration file (default: $LIENTHONG_CONFIG, else ./lienthong.yaml).",
)
@click.version_option(__version__, prog_name="lienthong")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """lienthong: library interoperability gateway (OAI-PMH, SRU, Z39.50, SIP2).

    \b
    Example:
      lienthong init /srv/lienthong
      lienthong -c /srv/lienthong/lienthong.yaml import export.mrc --source dlk-tinh
      lienthong -c /srv/lienthong/lienthong.yaml serve
    """
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_path


# -- init --------------------------------------------------------------------------------


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing lienthong.yaml.")
def init(directory: str, force: bool) -> None:
    """Create DIRECTORY/lienthong.yaml (every key documented) and an empty store.

    \b
    Example:
      lienthong init /srv/lienthong
    """
    target = Path(directory)
    config_file = target / "lienthong.yaml"
    if config_file.exists() and not force:
        _fail(f"{config_file} already exists (use --force to overwrite)")
    try:
        target.mkdir(parents=True, exist_ok=True)
        config_file.write_text(render_config({"store.path": "lienthong.db"}), encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {config_file}: {exc.strerror}")
    config = load_config(config_file)
    _open_store(config, create=True).close()
    click.echo(f"wrote {config_file} and created the store {config.store_location}")
    click.echo(f"next: edit the libraries in it, then: lienthong -c {config_file} import FILE")


# -- config ------------------------------------------------------------------------------


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Validate the configuration file; print every problem with its line and key.

    \b
    Example:
      lienthong -c /srv/lienthong/lienthong.yaml config check
    """
    config = _config(ctx)
    endpoints = ", ".join(config.enabled_endpoints) or "none"
    libraries = ", ".join(lib.id for lib in config.libraries)
    click.echo(f"{config.file}: OK (libraries: {libraries}; endpoints: {endpoints})")


@main.command("hash-password")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="Read the password from standard input (for scripts) instead of a prompt.",
)
def hash_password_command(from_stdin: bool) -> None:
    """Print a password hash for an account in the configuration (z3950.accounts).

    The password is asked for twice without echo, or read from standard input with
    --stdin; it never appears on the command line, so it stays out of shell history.

    \b
    Example:
      lienthong hash-password
      printf '%s' "$Z3950_PASSWORD" | lienthong hash-password --stdin
    """
    from .passwords import hash_password

    if from_stdin:
        password = click.get_text_stream("stdin").read().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        _fail("the password is empty")
    click.echo(hash_password(password))


# -- import ------------------------------------------------------------------------------


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--source", "source", help="Member library id the records belong to.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Parser processes for ISO 2709 files (default: one per CPU for large imports).",
)
@click.option(
    "--legacy-vietnamese",
    "legacy",
    type=click.Choice(["auto", "tcvn3", "vni", "off"]),
    help="Convert TCVN3 (ABC) or VNI text, raw or mis-read as Latin-1: auto-detect, "
    "say which one the source uses, or leave text as it is (default: the library's "
    "legacy_vietnamese setting, else auto).",
)
@click.pass_context
def import_command(
    ctx: click.Context,
    files: tuple[str, ...],
    source: str | None,
    workers: int | None,
    legacy: str | None,
) -> None:
    """Load MARC files (ISO 2709 UTF-8 or MARC-8, MARCXML, MARC-in-JSON; detected).

    Broken records are reported (file, record number, byte offset, reason) and skipped;
    every good record is kept. Importing the same file again changes nothing. Text in the
    legacy Vietnamese encodings TCVN3 and VNI is converted to Unicode and counted.

    \b
    Example:
      lienthong import export-2026-11.mrc more.xml --source dlk-tinh
      lienthong import old-abc-export.mrc --source thpt-ntmk --legacy-vietnamese tcvn3
    """
    from crosswalks.legacy import LegacyMode

    from .importer import import_files

    config = _config(ctx)
    library_ids = [lib.id for lib in config.libraries]
    if source is None:
        if len(library_ids) != 1:
            _fail(f"say which library the records belong to: --source {' | '.join(library_ids)}",
                  EXIT_CONFIG)  # fmt: skip
        source = library_ids[0]
    elif source not in library_ids:
        _fail(f"--source {source!r} is not a library in {config.file} "
              f"(known: {', '.join(library_ids)})", EXIT_CONFIG)  # fmt: skip
    library = config.library(source)
    assert library is not None  # checked just above
    feeding = next((e for e in config.values["sources"] if e["library"] == source), None)
    if feeding is not None:
        # Its next full comparison would delete whatever it does not have itself.
        _fail(f"library {source!r} is kept in step with source {feeding['name']!r} "
              f"({feeding['kind']}); records imported by hand would be deleted by its next "
              "full comparison. Give the file to that source instead (for a marc-folder "
              "source, put it in its folder), or remove the source first", EXIT_CONFIG)  # fmt: skip
    store = _open_store(config, create=True)
    total = sum(Path(f).stat().st_size for f in files if Path(f).is_file())
    if workers is None:
        # Worker processes pay off once parsing takes longer than starting them.
        workers = (os.cpu_count() or 1) if total > _PARALLEL_IMPORT_BYTES else 1
    problems: list[str] = []
    try:
        with click.progressbar(length=max(total, 1), label="importing", file=sys.stderr,
                               show_pos=False, show_percent=True) as bar:  # fmt: skip
            report = import_files(
                store,
                files,
                source=source,
                namespace=config.values["gateway"]["oai_namespace"],
                batch_size=config.values["import"]["batch_size"],
                workers=workers,
                progress=bar.update,
                on_problem=lambda p: problems.append(str(p)),
                legacy=LegacyMode(legacy or library.legacy_vietnamese),
            )
    finally:
        store.close()
    for line in problems:
        click.echo(line, err=True)
    click.echo(report.summary())
    if report.unreadable_files:
        sys.exit(EXIT_WORK)


# -- check -------------------------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """Record data shown on a terminal: control characters as \\xNN, so an ESC in a
    record cannot drive the administrator's terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


@main.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--summary", is_flag=True, help="Print only the totals per file.")
@click.option("--errors-only", is_flag=True, help="Leave out warnings.")
def check_command(files: tuple[str, ...], summary: bool, errors_only: bool) -> None:
    """Check MARC records before sending them on (like MARC::Lint); changes nothing.

    Reports, per record, structural problems (leader, directory, indicators, subfield
    codes), a missing or repeated 245, a bad 008, wrong ISBN/ISSN check digits and
    damaged text (undecodable bytes, control characters, marks out of order, TCVN3/VNI
    text read as Latin-1). Exit status 1 when any record has an error.

    \b
    Example:
      lienthong check export-2026-11.mrc
    """
    from .checkfile import check_file
    from .marcfile import MarcFileError

    any_error = False
    for path in files:
        records = with_errors = with_warnings = 0
        try:
            for checked in check_file(path):
                records += 1
                findings = [f for f in checked.findings if not errors_only or f.severity == "error"]
                if checked.errors:
                    with_errors += 1
                elif findings:
                    with_warnings += 1
                if summary or not findings:
                    continue
                number = checked.control_number
                label = f" (001 {_printable(number)})" if number else ""
                for finding in findings:
                    click.echo(f"{path}: {checked.where}{label}: {_printable(str(finding))}")
        except MarcFileError as exc:
            click.echo(f"lienthong: {exc}", err=True)
            any_error = True
            continue
        any_error = any_error or with_errors > 0
        warnings = "" if errors_only else f", {with_warnings} with warnings only"
        click.echo(f"{path}: {records} record(s), {with_errors} with errors{warnings}")
    if any_error:
        sys.exit(EXIT_WORK)


# -- serve and demo ----------------------------------------------------------------------


def _server_options(function: Any) -> Any:
    options = [
        click.option("--host", help="Address to listen on (default from config: 127.0.0.1)."),
        click.option("--http-port", type=click.IntRange(0, 65535), help="SRU/OAI-PMH/health port."),
        click.option("--z3950-port", type=click.IntRange(0, 65535), help="Z39.50 port."),
        click.option("--sip2-port", type=click.IntRange(0, 65535), help="SIP2 port."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _run_server(config: Config, addresses: ServerAddresses) -> None:
    from twisted.internet import reactor
    from twisted.internet.error import CannotListenError

    from .server import GatewayServer, start_logging

    store = _open_store(config, create=False)
    start_logging(config.values["logging"]["level"])
    host = GatewayServer(config, store, reactor, addresses)
    try:
        host.start()
    except CannotListenError as exc:
        store.close()
        _fail(f"cannot listen on {exc.interface or '*'}:{exc.port}: {exc.socketError}")
    endpoints = ", ".join(config.enabled_endpoints) or "none (health only)"
    click.echo(
        f"lienthong {__version__}: {config.values['gateway']['name']}; endpoints: {endpoints}"
    )
    reactor.run()  # type: ignore[attr-defined,misc]
    store.close()


@main.command("endpoint-worker", hidden=True)
@click.argument("endpoint")
@click.option("--host", required=True)
@click.option("--port", type=click.IntRange(1, 65535), required=True)
@click.option("--parent", type=int, required=True)
@click.pass_context
def endpoint_worker(ctx: click.Context, endpoint: str, host: str, port: int, parent: int) -> None:
    """A worker process of 'serve' for an endpoint with 'processes' above 1 (internal)."""
    from .server import start_logging
    from .workers import run_worker

    config = _config(ctx)
    start_logging(config.values["logging"]["level"])
    run_worker(config, endpoint, host, port, parent)


@main.command()
@_server_options
@click.pass_context
def serve(ctx: click.Context, **flags: Any) -> None:
    """Run the gateway: every enabled endpoint plus GET /health, until SIGINT/SIGTERM.

    \b
    Example:
      lienthong -c /srv/lienthong/lienthong.yaml serve --host 0.0.0.0
    """
    _run_server(_config(ctx), ServerAddresses(**flags))


@main.command()
@click.option(
    "--dir",
    "directory",
    default="lienthong-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Demo data folder (created or reused).",
)
@_server_options
def demo(directory: str, **flags: Any) -> None:
    """Create (or reuse) a demo gateway with three libraries' catalogues, and serve it.

    \b
    Example:
      lienthong demo --dir /tmp/demo --http-port 8081
    """
    from .demo import prepare_demo

    config = prepare_demo(Path(directory), echo=click.echo)
    _run_server(config, ServerAddresses(**flags))


# -- oai check ---------------------------------------------------------------------------


@main.group("oai")
def oai_group() -> None:
    """OAI-PMH tools for administrators (no configuration needed)."""


def _datestamp_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    from protocols.oaipmh.check import parse_datestamp

    if value is not None and parse_datestamp(value) is None:
        raise click.BadParameter(f"{value!r} is not YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ")
    return value


@oai_group.command("check")
@click.argument("url")
@click.option("--prefix", default="oai_dc", show_default=True, help="metadataPrefix to harvest.")
@click.option("--set", "set_spec", help="Harvest only this set (its setSpec).")
@click.option(
    "--from",
    "since",
    callback=_datestamp_option,
    help="Harvest from this datestamp (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ).",
)
@click.option("--until", callback=_datestamp_option, help="Harvest until this datestamp.")
@click.option(
    "--max-pages",
    type=click.IntRange(min=1),
    help="Stop ListIdentifiers after N pages (default: the whole list).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds to wait for each response.",
)
@click.option("--schemas", "schema_folders", multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of official XSDs (OAI-PMH.xsd, oai_dc.xsd, ...) to validate every "
              "response offline; repeat for more folders.")  # fmt: skip
def oai_check(url: str, schema_folders: tuple[Path, ...], **options: Any) -> None:
    """Harvest-test any OAI-PMH base URL (ours or a member library's Koha or DSpace).

    Runs Identify, ListMetadataFormats, ListSets, the whole ListIdentifiers list
    (following resumption tokens) and one GetRecord, and prints one line per check,
    PASS, WARN or FAIL, with numbers: identifiers, pages, seconds per page, duplicates,
    deleted records, the last token, completeListSize, token lifetimes, datestamps,
    responseDate, compression and, with --schemas, XML Schema validity of every response.
    Exit status 0 when nothing FAILed, 1 when something did, 2 when URL is not an
    OAI-PMH endpoint at all.

    \b
    Example:
      lienthong oai check https://thuvien.example.vn/cgi-bin/koha/oai.pl \\
          --prefix marcxml --schemas /usr/share/xml/oai --max-pages 50
    """
    from protocols.oaipmh.check import (
        CheckOptions,
        EndpointError,
        SchemaFolderError,
        check_endpoint,
        report_lines,
    )

    settings = CheckOptions(schema_folders=schema_folders, **options)
    on_terminal = sys.stderr.isatty()

    def progress(pages: int, identifiers: int, size: int | None) -> None:
        if on_terminal:
            total = f" of {size}" if size else ""
            click.echo(f"\rListIdentifiers: {identifiers}{total} identifiers, {pages} pages",
                       err=True, nl=False)  # fmt: skip

    try:
        report = check_endpoint(url, settings, progress=progress)
    except (EndpointError, SchemaFolderError) as exc:
        _fail(str(exc), EXIT_CONFIG)
    finally:
        if on_terminal:
            click.echo("\r\033[K", err=True, nl=False)
    for line in report_lines(report):
        click.echo(line)
    if report.failed:
        sys.exit(EXIT_WORK)


# -- stats -------------------------------------------------------------------------------


@main.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Rebuild the search indexes of every record from its stored MARC.

    Run it once after upgrading lienthong when the release notes say what is indexed has
    changed (this release: call numbers, for Z39.50 Dewey and LC call number searches).
    Datestamps do not move, so OAI-PMH harvesters see no change; the gateway may keep
    serving meanwhile.

    \b
    Example:
      lienthong -c /srv/lienthong/lienthong.yaml reindex
    """
    config = _config(ctx)
    store = _open_store(config, create=False)
    try:
        total = store.count()
        with click.progressbar(length=max(total, 1), label="reindexing", file=sys.stderr,
                               show_pos=True) as bar:  # fmt: skip
            done = store.reindex(progress=bar.update)
    finally:
        store.close()
    click.echo(f"reindexed {done} record(s)")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Records per member library, tombstones, and the last change.

    \b
    Example:
      lienthong stats --json
    """
    config = _config(ctx)
    store = _open_store(config, create=False)
    try:
        rows = store.source_stats()
        earliest = store.earliest_datestamp()
    finally:
        store.close()
    names = {lib.id: lib.name for lib in config.libraries}

    def stamp(moment: Any) -> str | None:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None

    if as_json:
        click.echo(json.dumps({
            "sources": [{"source": r.source, "name": names.get(r.source), "records": r.records,
                         "tombstones": r.tombstones, "last_change": stamp(r.last_change)}
                        for r in rows],
            "records": sum(r.records for r in rows),
            "tombstones": sum(r.tombstones for r in rows),
            "earliest_datestamp": stamp(earliest),
        }, ensure_ascii=False, indent=2))  # fmt: skip
        return
    header = f"{'library':<20} {'records':>9} {'tombstones':>11}  last change"
    click.echo(header)
    for r in rows:
        click.echo(
            f"{r.source:<20} {r.records:>9} {r.tombstones:>11}  {stamp(r.last_change) or '-'}"
        )
    click.echo(f"{'total':<20} {sum(r.records for r in rows):>9} "
               f"{sum(r.tombstones for r in rows):>11}")  # fmt: skip


from .accounts import accounts  # noqa: E402 (registered last: accounts imports nothing of cli)
from .circulation.commands import items_group, loans_group, patrons_group  # noqa: E402
from .sync.commands import sources as sources_group  # noqa: E402

main.add_command(accounts)
main.add_command(patrons_group)
main.add_command(items_group)
main.add_command(loans_group)
main.add_command(sources_group)

if __name__ == "__main__":  # pragma: no cover
    main()
