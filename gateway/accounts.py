"""``lienthong accounts``: the kiosk (SIP2) logins kept in the configuration file.

Provisioning scripts add a login per self-check machine without a prompt: the password
comes from an environment variable or standard input, never the command line (it would
stay in shell history and process lists), and only its hash is written. The file is the
administrator's: it is edited in place with ruamel.yaml's round-trip mode, so comments,
key order and the other sections stay as they were, and a change that would leave the
configuration invalid is refused before anything is written.

Exit status: 0 done; 1 the file's accounts do not allow it (user exists, user absent,
file cannot be written); 2 a problem with the configuration or the command line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click

from .config import (
    SIP2_CHARSETS,
    SIP2_TERMINATORS,
    Config,
    ConfigError,
    Problem,
    address_problem,
    find_config,
    load_config,
)
from .tables import echo_table

__all__ = ["AccountsError", "accounts", "edit_sip2_accounts", "sip2_account_entry"]

EXIT_WORK = 1
EXIT_CONFIG = 2
_TEMP_PREFIX = ".lienthong-accounts-"


class AccountsError(Exception):
    """An edit of the accounts was refused; ``problems`` (if any) say why in detail."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []


# -- editing the file --------------------------------------------------------------------


def sip2_account_entry(
    user: str,
    password_hash: str,
    library: str,
    *,
    location: str = "",
    allowed_addresses: list[str] | tuple[str, ...] = (),
    charset: str = "utf-8",
    terminator: str = "cr",
    error_detection: bool = True,
    backend: str = "embedded",
) -> dict[str, Any]:
    """One ``sip2.accounts`` entry with every key spelt out, in the schema's order, so the
    administrator reading the file sees how the kiosk is set up."""
    return {
        "user": user,
        "password_hash": password_hash,
        "library": library,
        "location": location,
        "allowed_addresses": list(allowed_addresses),
        "charset": charset,
        "terminator": terminator,
        "error_detection": error_detection,
        "backend": backend,
    }


def _indentation(text: str) -> tuple[int, int]:
    """The file's block indentation: spaces per mapping level, and spaces before the dash
    of a list under its key (the rendered file: 2 and 2)."""
    mapping: int | None = None
    dash: int | None = None
    parent: int | None = None  # indentation of the last 'key:' line that opens a block
    for line in text.splitlines():
        content = line.strip()
        if not content or content.startswith("#"):
            continue
        lead = len(line) - len(line.lstrip(" "))
        if parent is not None and lead > parent:
            if content.startswith("-"):
                dash = lead - parent if dash is None else dash
            elif mapping is None:
                mapping = lead - parent
        elif parent is not None and lead == parent and content.startswith("-") and dash is None:
            dash = 0
        opens = content.endswith(":") and not content.startswith("-")
        parent = lead if opens else None
        if mapping is not None and dash is not None:
            break
    return mapping or 2, 2 if dash is None else dash


def _round_trip(text: str) -> Any:
    """A ruamel.yaml round-trip loader/dumper that writes blocks indented as ``text`` is."""
    from ruamel.yaml import YAML

    mapping, dash = _indentation(text)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the administrator's long values
    yaml.indent(mapping=mapping, sequence=dash + 2, offset=dash)
    return yaml


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` so that two provisioning runs editing the same
    file one after the other do not lose each other's account (POSIX; a no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def edit_sip2_accounts(path: Path, change: Callable[[list[Any]], None]) -> Config:
    """Apply ``change`` to the ``sip2.accounts`` list of the file at ``path`` and write it
    (see :func:`edit_config_list`)."""
    return edit_config_list(path, ("sip2", "accounts"), change, flow_keys=("allowed_addresses",))


def edit_config_list(
    path: Path,
    where: tuple[str, ...],
    change: Callable[[list[Any]], None],
    *,
    flow_keys: tuple[str, ...] = (),
) -> Config:
    """Apply ``change`` to the list at ``where`` (``("sip2", "accounts")``, ``("sources",)``)
    in the file at ``path`` and write it, keeping its comments.

    Missing (or empty) sections on the way are created. The new text is validated with
    :func:`load_config` before it replaces the file (atomically, keeping the file's
    permissions); the validated configuration is returned. Lists under ``flow_keys`` in
    the entries are written on one line. Raises :class:`AccountsError` when the result
    would be invalid or cannot be written.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import YAMLError

    folder = path.resolve().parent
    with _folder_lock(folder):
        text = path.read_text(encoding="utf-8")
        yaml = _round_trip(text)
        try:
            data = yaml.load(text)
        except YAMLError as exc:
            raise AccountsError(f"{path}: cannot be edited: {exc}") from None
        if data is None:
            data = CommentedMap()
        if not isinstance(data, CommentedMap):
            raise AccountsError(f"{path}: the file is not a mapping of sections")
        parent = data
        for depth, key in enumerate(where[:-1]):
            section = parent.get(key)
            if section is None:  # new sections go last; a bare 'sip2:' stays
                section = parent[key] = CommentedMap()
            if not isinstance(section, CommentedMap):
                dotted = ".".join(where[: depth + 1])
                raise AccountsError(f"{path}: {dotted} is not a mapping of keys")
            parent = section
        entries = parent.get(where[-1])
        if entries is None:
            entries = parent[where[-1]] = CommentedSeq()
        if not isinstance(entries, CommentedSeq):
            raise AccountsError(f"{path}: {'.'.join(where)} is not a list")
        trailing = _take_trailing(entries)
        change(entries)
        if trailing:
            _give_trailing(entries, trailing, parent, where[-1])
        if entries:
            entries.fa.set_block_style()  # 'accounts: []' as rendered becomes a block list
        else:
            entries.fa.set_flow_style()  # and back to 'accounts: []' once empty
        for entry in entries:
            for key in flow_keys:
                value = entry.get(key) if isinstance(entry, dict) else None
                if isinstance(value, CommentedSeq):
                    value.fa.set_flow_style()
        out = io.StringIO()
        yaml.dump(data, out)
        return _replace_validated(path, out.getvalue())


# ruamel.yaml keeps the comment lines that follow a block list (the rendered file's
# commented-out example, the next section's heading) on the list's last scalar. They
# belong to what follows, not to that account: they are taken off before the change and
# put on the new last line after it, so removing an account never removes them.


def _last_comment_slot(node: Any) -> tuple[list[Any], int] | None:
    """The comment list and index where the comment after ``node``'s last line is kept."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    while isinstance(node, CommentedMap | CommentedSeq) and len(node):
        key: Any = list(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
        value = node[key]
        if isinstance(value, CommentedMap | CommentedSeq) and len(value):
            if not value.fa.flow_style():
                node = value
                continue
        slots = node.ca.items.setdefault(key, [None, None, None, None])
        return slots, 2 if isinstance(node, CommentedMap) else 0
    return None


def _take_trailing(node: Any) -> str | None:
    """Remove and return the comment lines after ``node``'s last line (not an end-of-line
    comment on that line itself, which stays with it)."""
    slot = _last_comment_slot(node)
    if slot is None or slot[0][slot[1]] is None:
        return None
    slots, index = slot
    token = slots[index]
    first, newline, rest = str(token.value).partition("\n")
    if first.strip():  # an end-of-line comment: it stays
        if not rest.strip():
            return None
        token.value = first + newline
        return "\n" + rest
    slots[index] = None
    return str(token.value) if str(token.value).strip() else None


def _give_trailing(node: Any, text: str, parent: Any, key: str) -> None:
    """Put comment lines ``text`` (starting with the line end) after ``node``'s last line,
    or after ``<key>: []`` in ``parent`` when the list is now empty."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    slot = _last_comment_slot(node)
    if slot is None:
        slots, index = parent.ca.items.setdefault(key, [None, None, None, None]), 2
    else:
        slots, index = slot
    if slots[index] is None:
        slots[index] = CommentToken(text, CommentMark(0), None)
    else:  # the new last line has its own end-of-line comment: ours follows it
        slots[index].value = str(slots[index].value) + text[1:]


def as_commented(entry: dict[str, Any]) -> Any:
    """``entry`` as ruamel nodes: the address list in flow style ([10.0.0.0/24])."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    node = CommentedMap()
    for key, value in entry.items():
        if isinstance(value, list):
            value = CommentedSeq(value)
            value.fa.set_flow_style()
        node[key] = value
    return node


def _replace_validated(path: Path, text: str) -> Config:
    """Write ``text`` next to ``path``, validate it there (relative paths mean the same),
    and move it over ``path``; on any problem the file is left untouched."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        descriptor, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".yaml",
                                                 dir=path.resolve().parent)  # fmt: skip
    except OSError as exc:
        raise AccountsError(f"cannot write next to {path}: {exc.strerror}") from None
    temp = Path(temp_name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)  # the file may hold hashes: keep it as private as it was
        try:
            config = load_config(temp, check_paths=False)
        except ConfigError as exc:
            problems = [replace(p, file=str(path)) for p in exc.problems]
            raise AccountsError("the change would make the configuration invalid; "
                                "nothing was written", problems) from None  # fmt: skip
        os.replace(temp, path)
    except OSError as exc:
        raise AccountsError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return replace(config, file=path.resolve())


# -- command line ------------------------------------------------------------------------


def fail(message: str, status: int = EXIT_WORK, problems: list[Problem] | None = None) -> NoReturn:
    for problem in problems or []:
        click.echo(str(problem), err=True)
    click.echo(f"lienthong: {message}", err=True)
    sys.exit(status)


def load_editable(ctx: click.Context) -> tuple[Path, Config]:
    """The configuration file and its current contents (refused when already invalid:
    paths are not checked, so kiosks can be provisioned before the server's files exist)."""
    path = find_config(ctx.obj.get("config") if ctx.obj else None)
    try:
        return path, load_config(path, check_paths=False)
    except ConfigError as exc:
        fail(f"{len(exc.problems)} problem(s) in {path}", EXIT_CONFIG, exc.problems)


def _edit(path: Path, change: Callable[[list[Any]], None]) -> Config:
    try:
        return edit_sip2_accounts(path, change)
    except AccountsError as exc:
        fail(str(exc), EXIT_CONFIG if exc.problems else EXIT_WORK, exc.problems)


def _check_addresses(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    for value in values:
        problem = address_problem(value)
        if problem:
            raise click.BadParameter(f"{value!r} {problem}")
    return tuple(value.strip() for value in values)


def _read_password(env_var: str | None, from_stdin: bool) -> str:
    """The password from exactly one source; its value is never shown in a message."""
    if (env_var is None) == (not from_stdin):
        raise click.UsageError("give the password with exactly one of --password-env VAR "
                               "or --password-stdin")  # fmt: skip
    if env_var is not None:
        if env_var not in os.environ:
            fail(f"environment variable {env_var} is not set", EXIT_CONFIG)
        password = os.environ[env_var]
    else:
        password = click.get_text_stream("stdin").read().rstrip("\r\n")
    if not password:
        fail("the password is empty", EXIT_CONFIG)
    if "|" in password or any(ord(c) < 0x20 or ord(c) == 0x7F for c in password):
        fail("the password contains '|' or a control character, which a SIP2 login "
              "cannot carry", EXIT_CONFIG)  # fmt: skip
    return password


@click.group("accounts")
def accounts() -> None:
    """Kiosk logins (SIP2 self-check machines and RFID gates) in the configuration file.

    \b
    Example:
      export KIOSK_PASSWORD=...
      lienthong accounts add kiosk-dlk-1 --library dlk-tinh --password-env KIOSK_PASSWORD
      lienthong accounts list
      lienthong accounts remove kiosk-dlk-1
    """


@accounts.command("add")
@click.argument("user")
@click.option("--library", required=True, help="Id of the member library the kiosk serves.")
@click.option("--location", default="", help="Where the kiosk stands (shown to the kiosk).")
@click.option("--charset", type=click.Choice(SIP2_CHARSETS), default="utf-8",
              show_default=True, help="Character set the kiosk speaks.")  # fmt: skip
@click.option("--terminator", type=click.Choice(SIP2_TERMINATORS), default="cr",
              show_default=True, help="Line end sent after each reply.")  # fmt: skip
@click.option("--error-detection/--no-error-detection", default=True, show_default=True,
              help="Send sequence numbers and checksums (AY/AZ).")  # fmt: skip
@click.option("--allow", "allowed", multiple=True, callback=_check_addresses,
              metavar="ADDRESS", help="IP address or network (10.1.2.0/24) the kiosk may "
              "connect from; repeat for more (default: any).")  # fmt: skip
@click.option("--backend", default="embedded", show_default=True, metavar="NAME",
              help="Circulation system that answers the kiosk: embedded, or the name of one "
              "of circulation.backends.")  # fmt: skip
@click.option("--password-env", "password_env", metavar="VAR",
              help="Read the kiosk password from environment variable VAR.")  # fmt: skip
@click.option("--password-stdin", is_flag=True,
              help="Read the kiosk password from standard input.")  # fmt: skip
@click.option("--replace", "replace_existing", is_flag=True,
              help="Replace the account if USER already has one.")  # fmt: skip
@click.pass_context
def add(ctx: click.Context, user: str, library: str, password_env: str | None,
        password_stdin: bool, replace_existing: bool, allowed: tuple[str, ...],
        **settings: Any) -> None:  # fmt: skip
    """Add the kiosk login USER to sip2.accounts (only the password's hash is stored).

    \b
    Example:
      lienthong accounts add kiosk-dlk-1 --library dlk-tinh --location "Tầng 1" \\
          --allow 10.1.2.0/24 --password-env KIOSK_PASSWORD
      printf '%s' "$PW" | lienthong accounts add kiosk-2 --library dlk-tinh --password-stdin
    """
    from .passwords import hash_password

    path, config = load_editable(ctx)
    known = [lib.id for lib in config.libraries]
    if library not in known:
        fail(f"--library {library!r} is not a library in {path} (known: {', '.join(known)})",
              EXIT_CONFIG)  # fmt: skip
    existing = [a["user"] for a in config.values["sip2"]["accounts"]]
    if user in existing and not replace_existing:
        fail(f"user {user!r} already has an account in {path} (use --replace to replace it)")
    password = _read_password(password_env, password_stdin)
    entry = sip2_account_entry(user, hash_password(password), library,
                               allowed_addresses=allowed, **settings)  # fmt: skip

    def change(entries: list[Any]) -> None:
        for position, old in enumerate(entries):
            if isinstance(old, dict) and old.get("user") == user:
                if not replace_existing:  # added meanwhile by another run
                    fail(f"user {user!r} already has an account in {path}")
                for key in [k for k in old if k not in entry]:
                    del old[key]
                for key, value in as_commented(entry).items():
                    old[key] = value  # in place: comments on the entry stay
                entries[position] = old
                return
        entries.append(as_commented(entry))

    _edit(path, change)
    verb = "replaced" if user in existing else "added"
    click.echo(f"{verb} SIP2 account {user!r} for {library} in {path}")


def _rows(config: Config) -> list[dict[str, Any]]:
    keys = ("user", "library", "location", "charset", "terminator", "error_detection",
            "allowed_addresses", "backend")  # fmt: skip
    return [{key: account[key] for key in keys} for account in config.values["sip2"]["accounts"]]


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def list_accounts(ctx: click.Context, as_json: bool) -> None:
    """List the kiosk logins (never their password hashes).

    \b
    Example:
      lienthong accounts list --json
    """
    _, config = load_editable(ctx)
    rows = _rows(config)
    if as_json:
        click.echo(json.dumps({"sip2": rows}, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no SIP2 accounts (add one with 'lienthong accounts add')")
        return
    header = ("user", "library", "location", "charset", "terminator", "error detection",
              "allowed addresses", "backend")  # fmt: skip
    table = [header] + [
        (r["user"], r["library"], r["location"] or "-", r["charset"], r["terminator"],
         "yes" if r["error_detection"] else "no", ", ".join(r["allowed_addresses"]) or "any",
         r["backend"])
        for r in rows
    ]  # fmt: skip
    echo_table(table[0], table[1:])


@accounts.command("remove")
@click.argument("user")
@click.pass_context
def remove(ctx: click.Context, user: str) -> None:
    """Remove the kiosk login USER from sip2.accounts.

    \b
    Example:
      lienthong accounts remove kiosk-dlk-1
    """
    path, config = load_editable(ctx)
    if user not in [a["user"] for a in config.values["sip2"]["accounts"]]:
        fail(f"user {user!r} has no SIP2 account in {path}")

    def change(entries: list[Any]) -> None:
        for position, entry in enumerate(entries):
            if isinstance(entry, dict) and entry.get("user") == user:
                del entries[position]
                return
        fail(f"user {user!r} has no SIP2 account in {path}")  # removed meanwhile

    _edit(path, change)
    click.echo(f"removed SIP2 account {user!r} from {path}")
