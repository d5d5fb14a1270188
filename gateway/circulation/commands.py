"""``lienthong patrons|items|loans``: the embedded circulation back end from the command line.

School libraries keep their borrowers and books in spreadsheets; these commands load them
(CSV, UTF-8, Vietnamese headers understood) and show what the kiosks see. PINs are never
printed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ..tables import echo_table
from .csvfiles import CsvError, Kind, import_files
from .interface import BackendUnavailable

if TYPE_CHECKING:
    from ..config import Config
    from .embedded import EmbeddedCirculation

__all__ = ["patrons_group", "items_group", "loans_group"]


def _cli_config(ctx: click.Context) -> Config:
    from ..cli import _config  # imported late: gateway.cli imports this module at its end

    return _config(ctx)


def _fail(message: str, status: int = 1) -> NoReturn:
    from ..cli import _fail as fail

    fail(message, status)
    raise SystemExit(status)  # not reached: the CLI's _fail exits


def _library_option(help_text: str) -> Callable[[Any], Any]:
    return click.option("--library", "library", metavar="ID", help=help_text)


def _check_library(config: Config, library: str | None) -> None:
    """A --library value must be a configured library (exit 2 otherwise)."""
    known = [lib.id for lib in config.libraries]
    if library is not None and library not in known:
        _fail(f"--library {library!r} is not a library in {config.file} "
              f"(known: {', '.join(known)})", 2)  # fmt: skip


def _open(config: Config) -> EmbeddedCirculation:
    from .embedded import open_embedded

    try:
        return open_embedded(config)
    except BackendUnavailable as exc:
        _fail(f"cannot open the circulation database: {exc}")


def _import(ctx: click.Context, kind: Kind, files: Sequence[str], library: str | None) -> None:
    config = _cli_config(ctx)
    _check_library(config, library)
    known = [lib.id for lib in config.libraries]
    default = library if library is not None else (known[0] if len(known) == 1 else None)
    backend = _open(config)
    try:
        summary = import_files(
            backend,
            [(kind, Path(f)) for f in files],
            default_library=default,
            libraries=known,
        )
    except CsvError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        _fail(f"nothing imported: {len(exc.problems)} problem(s) in {', '.join(files)}")
    except BackendUnavailable as exc:
        _fail(f"cannot write the circulation database: {exc}")
    finally:
        backend.close()
    click.echo(f"{kind}: {getattr(summary, kind)} ({', '.join(files)})")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# -- patrons -----------------------------------------------------------------------------


@click.group("patrons")
def patrons_group() -> None:
    """Borrowers of the embedded circulation system (libraries without an ILS)."""


@patrons_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_library_option("Library of rows without a library column (default: the only library).")
@click.pass_context
def patrons_import(ctx: click.Context, files: tuple[str, ...], library: str | None) -> None:
    """Load borrowers from CSV files (UTF-8; Excel's "CSV UTF-8" is fine).

    Columns are found by their header, in English or Vietnamese: barcode (Mã thẻ, Số
    thẻ), name (Họ và tên), pin (Mã PIN, Mật khẩu), category (Lớp), email, phone (Số
    điện thoại), address (Địa chỉ), expires (Ngày hết hạn), library. Importing again
    updates borrowers by barcode, never duplicates them; a file with any problem imports
    nothing, and every problem is listed as file:line: column: problem.

    \b
    Example:
      lienthong patrons import hoc-sinh-2026.csv --library thpt-ntmk
    """
    _import(ctx, "patrons", files, library)


@patrons_group.command("list")
@_library_option("Only this library's borrowers.")
@click.option("--search", metavar="TEXT", help="Words of the name or barcode (no marks needed).")
@click.pass_context
def patrons_list(ctx: click.Context, library: str | None, search: str | None) -> None:
    """List borrowers (never their PINs); --search ignores case and diacritics.

    \b
    Example:
      lienthong patrons list --library thpt-ntmk --search "nguyen van duc"
    """
    config = _cli_config(ctx)
    _check_library(config, library)
    backend = _open(config)
    try:
        patrons = backend.patrons(library, search)
    except BackendUnavailable as exc:
        _fail(f"cannot read the circulation database: {exc}")
    finally:
        backend.close()
    rows = [
        [p.library, p.barcode, p.name, p.category, p.email, p.phone, str(p.loans),
         "blocked" if p.blocked else ""]
        for p in patrons
    ]  # fmt: skip
    echo_table(["library", "barcode", "name", "category", "email", "phone", "loans", "card"], rows)
    click.echo(f"{len(rows)} borrower(s)")


# -- items -------------------------------------------------------------------------------


@click.group("items")
def items_group() -> None:
    """Copies (items) of the embedded circulation system."""


@items_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_library_option("Library of rows without a library column (default: the only library).")
@click.pass_context
def items_import(ctx: click.Context, files: tuple[str, ...], library: str | None) -> None:
    """Load copies from CSV files (UTF-8).

    Columns: barcode (Số đăng ký cá biệt, Mã vạch), title (Tên sách), location (Kho, Vị
    trí), call_number (Ký hiệu phân loại, Số phân loại), record, loanable (Cho mượn:
    có/không), library. Importing again updates copies by barcode; a file with any
    problem imports nothing.

    \b
    Example:
      lienthong items import sach-thu-vien.csv --library thpt-ntmk
    """
    _import(ctx, "items", files, library)


# -- loans -------------------------------------------------------------------------------


@click.group("loans")
def loans_group() -> None:
    """Loans of the embedded circulation system."""


@loans_group.command("list")
@_library_option("Only this library's loans.")
@click.option("--patron", metavar="BARCODE", help="Only this borrower's loans.")
@click.option("--overdue", is_flag=True, help="Only loans past their due date.")
@click.pass_context
def loans_list(ctx: click.Context, library: str | None, patron: str | None, overdue: bool) -> None:
    """List current loans, soonest due first.

    \b
    Example:
      lienthong loans list --library dlk-tinh --overdue
      lienthong loans list --patron BDDLK0001
    """
    config = _cli_config(ctx)
    _check_library(config, library)
    backend = _open(config)
    try:
        loans = backend.loans(library, patron, overdue_only=overdue)
    except BackendUnavailable as exc:
        _fail(f"cannot read the circulation database: {exc}")
    finally:
        backend.close()
    rows = [
        [loan.library, loan.item_barcode, _cut(loan.title, 40), loan.patron_barcode,
         loan.patron_name, loan.checked_out.strftime("%Y-%m-%d %H:%M"),
         loan.due.strftime("%Y-%m-%d"), str(loan.renewals), "yes" if loan.overdue else ""]
        for loan in loans
    ]  # fmt: skip
    echo_table(["library", "item", "title", "patron", "name", "out", "due", "renewals", "overdue"],
           rows)  # fmt: skip
    click.echo(f"{len(rows)} loan(s), {sum(1 for loan in loans if loan.overdue)} overdue")


@loans_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_library_option("Library of rows without a library column (default: the only library).")
@click.pass_context
def loans_import(ctx: click.Context, files: tuple[str, ...], library: str | None) -> None:
    """Load current loans from CSV files (after their borrowers and copies).

    Columns: item_barcode (Số đăng ký cá biệt), patron_barcode (Số thẻ), checkout_date
    (Ngày mượn), due_date (Hạn trả), renewals, library; dates as 2026-11-22 or 22/11/2026.

    \b
    Example:
      lienthong loans import muon-tra.csv --library thpt-ntmk
    """
    _import(ctx, "loans", files, library)
