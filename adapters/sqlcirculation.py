"""The SQL circulation back end: a school's own database, lent from by SIP2 kiosks.

Many school libraries keep borrowers, books and loans in a small database of their own
(MariaDB, PostgreSQL) that their staff program writes. This back end serves it to kiosks
through statements an administrator writes in a YAML file, so lienthong never needs to know
the school's schema. The gateway applies the loan policy (``circulation.policy`` and
``circulation.policies``: loan days, how many loans, renewals, fines); the database stores
the facts (who has which copy, until when).

Statements file
---------------
::

    description: Thư viện trường THPT Nguyễn Du      # free text
    statements:
      patron: SELECT ma_the AS barcode, ho_ten AS name, ... FROM doc_gia WHERE ma_the = :barcode
      patron_loans: SELECT ... WHERE m.ma_the = :barcode AND m.ngay_tra IS NULL
      item: SELECT ... FROM sach WHERE ma_vach = :barcode
      current_loan: SELECT ... FROM muon_tra WHERE ma_vach = :item AND ngay_tra IS NULL
      insert_loan: INSERT INTO muon_tra (...) VALUES (:item, :patron, :now, :due)
      close_loan: UPDATE muon_tra SET ngay_tra = :now WHERE ma_vach = :item AND ngay_tra IS NULL
      renew_loan: UPDATE muon_tra SET han_tra = :due, so_lan_gia_han = :renewals WHERE ...
    item_states:                  # optional: the database's status words -> copy states
      "Trên giá": available
      "Mất": lost

Each statement is one SQL text with ``:name`` parameters (write ``\\:`` for a colon that is
not a parameter, as in a time literal); a writing statement may also be a list of texts run
in order in the same transaction (insert the loan, then mark the copy as lent). Read
statements return their values under the column names below (use ``AS``); a column that is
not listed, or a required one that is missing, is an error naming the statement. Every
statement may also use ``:library`` (the kiosk account's member library), for a database
that holds several. ``:now`` is the transaction time and ``:due`` the due date, both local
times without a time zone.

============== ====================== ===============================================
statement      parameters             columns (required first, optional in brackets)
============== ====================== ===============================================
patron         :barcode               barcode, name [pin | pin_hash, expires, blocked,
                                      block_message, email, phone, address, language]
patron_loans   :barcode [:now]        item_barcode, due [title, checked_out, renewals]
item           :barcode               barcode [title, status, loanable, location,
                                      call_number, record_id]
current_loan   :item                  patron, due [checked_out, renewals]
count_loans    :barcode [:now]        loans [overdue]  (else patron_loans is counted)
fees           :barcode               amount [fee_id, kind, description, item_barcode]
holds          :barcode               item_barcode [title, placed, queue_position,
                                      available, pickup_location, expires]
lock_patron    :barcode               anything (a SELECT ... FOR UPDATE of the patron)
lock_item      :barcode               anything (a SELECT ... FOR UPDATE of the copy)
insert_loan    :patron :item :due :now
close_loan     :item :now [:patron :location]
renew_loan     :item :due [:now :patron :renewals]   (:renewals is the new count)
block_patron   :barcode [:message :now]
enable_patron  :barcode [:now]
insert_fee     :patron :amount [:item :kind :description :now]
pay_fee        :fee_id :amount [:patron :now :transaction_id]
============== ====================== ===============================================

``patron``, ``patron_loans``, ``item`` and ``current_loan`` are required; the others decide
what kiosks may do (:attr:`SqlCirculation.capabilities`): checkout needs ``insert_loan``,
checkin ``close_loan``, renewals ``renew_loan``, blocking a card ``block_patron``, fee
payment ``fees`` and ``pay_fee``. Without ``insert_fee`` lateness is not charged (the
database has nowhere to keep it). Holds are shown when ``holds`` is given, but placing them
is not offered: the school's program owns its queue.

PINs: a ``pin`` column holds the PIN itself (compared in constant time); a ``pin_hash``
column holds the embedded back end's ``pbkdf2_sha256$...`` hash or a kiosk-password style
``scrypt$...`` hash. An empty or NULL value means the patron has no PIN. Flags such as
``blocked`` and ``loanable`` read 1/0, true/false, y/n, có/không. ``status`` is a SIP2
circulation status number, one of the state words (available, lost, missing, in process,
on order, in transit, claimed returned, ...) or a word given in ``item_states``; an unknown
word makes the copy not lendable, rather than lending a withdrawn book.

Transactions: every change (checkout, checkin, renewal, block) is one transaction at READ
COMMITTED. It first locks the patron's and the copy's rows (``lock_patron``/``lock_item``,
else the ``patron``/``item`` statement with ``FOR UPDATE`` added on MariaDB, MySQL and
PostgreSQL; other databases are serialised inside this process), so two kiosks lending one
copy queue on the lock and the second sees the first one's loan. A refusal rolls the whole
transaction back, and so does a write that the reads afterwards do not show (an
``insert_loan`` into another table than ``current_loan`` reads, say). A database that is
down, times out or refuses the login is
:class:`~gateway.circulation.interface.BackendUnavailable`; messages show the URL with the
password hidden, never the password or the statement's parameters (barcodes).
"""

from __future__ import annotations

import difflib
import hmac
import logging
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml
from sqlalchemy import create_engine, exc, text
from sqlalchemy.engine import URL, Connection, Engine, make_url

from adapters.yamlfile import FileProblems, compose_file
from crosswalks.vietnamese import normalize
from gateway.circulation.embedded import hash_pin, verify_pin
from gateway.circulation.interface import (
    BackendUnavailable,
    Capability,
    FeeView,
    HoldOutcome,
    HoldView,
    ItemState,
    ItemView,
    LoanOutcome,
    LoanView,
    PatronFlag,
    PatronView,
    PaymentOutcome,
    Refusal,
    RenewAllOutcome,
    ReturnOutcome,
)
from gateway.circulation.policy import LoanPolicy, Policies, policies_from_config
from gateway.config import Config
from gateway.passwords import verify_password

__all__ = [
    "STATEMENTS",
    "StatementSpec",
    "Statement",
    "Statements",
    "StatementsError",
    "MisconfiguredStatement",
    "SqlCirculation",
    "load_statements",
    "open_sql_circulation",
]

_LOG = logging.getLogger(__name__)
T = TypeVar("T")


# -- the statements a file may give ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementSpec:
    """What one named statement takes and gives."""

    params: tuple[str, ...]  #: parameters it must use
    optional_params: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()  #: columns it must return (reads)
    optional_columns: tuple[str, ...] = ()
    reads: bool = True
    any_columns: bool = False  #: lock statements: whatever they return
    required: bool = False


_WRITES = False  #: ``reads`` of the statements that change the database
#: Every statement a file may name (grammar as data; the module docstring shows it as a table).
STATEMENTS: dict[str, StatementSpec] = {
    "patron": StatementSpec(("barcode",), (), ("barcode", "name"),
                            ("pin", "pin_hash", "expires", "blocked", "block_message", "email",
                             "phone", "address", "language"), required=True),
    "patron_loans": StatementSpec(("barcode",), ("now",), ("item_barcode", "due"),
                                  ("title", "checked_out", "renewals"), required=True),
    "item": StatementSpec(("barcode",), (), ("barcode",),
                          ("title", "status", "loanable", "location", "call_number",
                           "record_id"), required=True),
    "current_loan": StatementSpec(("item",), (), ("patron", "due"), ("checked_out", "renewals"),
                                  required=True),
    "count_loans": StatementSpec(("barcode",), ("now",), ("loans",), ("overdue",)),
    "fees": StatementSpec(("barcode",), (), ("amount",),
                          ("fee_id", "kind", "description", "item_barcode")),
    "holds": StatementSpec(("barcode",), (), ("item_barcode",),
                           ("title", "placed", "queue_position", "available",
                            "pickup_location", "expires")),
    "lock_patron": StatementSpec(("barcode",), any_columns=True),
    "lock_item": StatementSpec(("barcode",), any_columns=True),
    "insert_loan": StatementSpec(("patron", "item", "due", "now"), reads=_WRITES),
    "close_loan": StatementSpec(("item", "now"), ("patron", "location"), reads=_WRITES),
    "renew_loan": StatementSpec(("item", "due"), ("now", "patron", "renewals"), reads=_WRITES),
    "block_patron": StatementSpec(("barcode",), ("message", "now"), reads=_WRITES),
    "enable_patron": StatementSpec(("barcode",), ("now",), reads=_WRITES),
    "insert_fee": StatementSpec(("patron", "amount"), ("item", "kind", "description", "now"),
                                reads=_WRITES),
    "pay_fee": StatementSpec(("fee_id", "amount"), ("patron", "now", "transaction_id"),
                             reads=_WRITES),
}  # fmt: skip

#: State words a ``status`` column may hold (besides SIP2's numbers and the file's own words).
_STATE_WORDS: dict[str, ItemState] = {
    "available": ItemState.AVAILABLE, "on shelf": ItemState.AVAILABLE,
    "other": ItemState.OTHER, "on order": ItemState.ON_ORDER,
    "charged": ItemState.CHARGED, "on loan": ItemState.CHARGED,
    "in process": ItemState.IN_PROCESS, "processing": ItemState.IN_PROCESS,
    "recalled": ItemState.RECALLED, "on hold shelf": ItemState.ON_HOLD_SHELF,
    "waiting reshelving": ItemState.WAITING_RESHELVING, "in transit": ItemState.IN_TRANSIT,
    "claimed returned": ItemState.CLAIMED_RETURNED, "lost": ItemState.LOST,
    "missing": ItemState.MISSING,
}  # fmt: skip
#: Copies in these states are not lent, whatever their loanable column says.
_NOT_LENDABLE = frozenset(
    {ItemState.ON_ORDER, ItemState.IN_PROCESS, ItemState.LOST, ItemState.MISSING,
     ItemState.CLAIMED_RETURNED, ItemState.OTHER}
)  # fmt: skip
_TRUE = frozenset({"1", "y", "yes", "t", "true", "có", "co", "x", "on"})
_FALSE = frozenset({"", "0", "n", "no", "f", "false", "không", "khong", "off"})
_READ_START = re.compile(r"(?is)^\s*(select|with)\b")
#: Dialects whose SELECT ... FOR UPDATE locks the rows read.
_LOCKING_DIALECTS = frozenset({"mysql", "mariadb", "postgresql"})
#: Driver error codes of a deadlock or serialisation failure: the transaction is retried.
_RETRY_CODES = frozenset({1213, "40P01", "40001"})
_RETRIES = 3
#: MariaDB/MySQL errors about the statement itself, which PyMySQL reports as
#: OperationalError like a lost connection: unknown column or table, syntax, ambiguous
#: column, column count, bad value, NULL or no default for a NOT NULL column.
_MYSQL_STATEMENT_ERRORS = frozenset(
    {1054, 1146, 1064, 1052, 1136, 1366, 1292, 1048, 1364, 1149, 1109, 1110, 1406, 1264}
)


def _statement_fault(error: exc.DBAPIError) -> bool:
    """True when the database refused the statement (a mistake in the file), False when
    it could not answer at all (down, timed out, locked)."""
    if isinstance(error, exc.ProgrammingError | exc.DataError | exc.IntegrityError):
        return True
    args: tuple[Any, ...] = getattr(error.orig, "args", ())
    return bool(args) and args[0] in _MYSQL_STATEMENT_ERRORS and not error.connection_invalidated


class StatementsError(FileProblems):
    """The statements file cannot be used; ``problems`` lists every reason (file:line: key)."""


class MisconfiguredStatement(BackendUnavailable):
    """A statement failed or returned other columns than it should, found while serving.

    A :class:`BackendUnavailable` so that the kiosk says "try again later" (a refusal would
    be a lie); the message names the file, line and statement for the administrator, and is
    logged."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One named statement of the file, and where it is written (for messages)."""

    name: str
    sql: tuple[str, ...]
    line: int | None
    spec: StatementSpec


@dataclass(frozen=True, slots=True)
class Statements:
    """A validated statements file."""

    file: str
    statements: Mapping[str, Statement]
    item_states: Mapping[str, ItemState]
    description: str = ""

    def where(self, name: str) -> str:
        """Where statement ``name`` is ("statements FILE:LINE: statements.NAME"), for messages."""
        line = self.statements[name].line if name in self.statements else None
        return f"statements {self.file}{f':{line}' if line else ''}: statements.{name}"

    def __contains__(self, name: object) -> bool:
        return name in self.statements


def _line(node: yaml.Node | None) -> int | None:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def _params_of(sql: str) -> set[str]:
    """The ``:name`` parameters of ``sql`` as SQLAlchemy reads them."""
    return set(text(sql).compile().params)


class _Reader:
    """Checks the file's node tree, collecting every problem before giving up."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[str] = []

    def problem(self, node: yaml.Node | None, key: str, message: str) -> None:
        line = _line(node)
        self.problems.append(f"statements {self.label}{f':{line}' if line else ''}: {key}: "
                             f"{message}")  # fmt: skip

    def entries(
        self, node: yaml.Node | None, key: str, allowed: Sequence[str] | None
    ) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, key or "(top)", "expected a mapping of keys")
            return []
        seen: set[str] = set()
        found = []
        for key_node, value_node in node.value:
            name = str(key_node.value)
            path = f"{key}.{name}" if key else name
            if name in seen:
                self.problem(key_node, path, "key given twice")
                continue
            seen.add(name)
            if allowed is not None and name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1)
                guess = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.problem(key_node, path, f"unknown key{guess}; known: {', '.join(allowed)}")
                continue
            found.append((name, key_node, value_node))
        return found

    def statement(self, name: str, node: yaml.Node) -> Statement | None:
        spec = STATEMENTS[name]
        key = f"statements.{name}"
        texts: list[tuple[str, yaml.Node]] = []
        if isinstance(node, yaml.SequenceNode) and not spec.reads:
            texts = [(f"{key}[{i}]", child) for i, child in enumerate(node.value)]
            if not texts:
                self.problem(node, key, "expected at least one SQL statement")
        elif isinstance(node, yaml.ScalarNode):
            texts = [(key, node)]
        else:
            kind = "one SQL text" if spec.reads else "an SQL text or a list of them"
            self.problem(node, key, f"expected {kind}")
        sqls: list[str] = []
        used: set[str] = set()
        for where, child in texts:
            sql = str(child.value).strip() if isinstance(child, yaml.ScalarNode) else ""
            if not sql:
                self.problem(child, where, "expected a non-empty SQL text")
                continue
            if spec.reads and not _READ_START.match(sql):
                self.problem(child, where, "expected a SELECT statement (it only reads)")
            try:
                params = _params_of(sql)
            except exc.SQLAlchemyError as error:
                self.problem(child, where, f"cannot be read: {error}")
                continue
            allowed = {*spec.params, *spec.optional_params, "library"}
            for extra in sorted(params - allowed):
                hint = difflib.get_close_matches(extra, sorted(allowed), n=1)
                guess = f" (did you mean ':{hint[0]}'?)" if hint else ""
                self.problem(child, where, f"unknown parameter ':{extra}'{guess}; this statement "
                             f"takes {', '.join(':' + p for p in sorted(allowed))} (write "
                             "'\\:' for a colon that is not a parameter)")  # fmt: skip
            used |= params
            sqls.append(sql)
        if not sqls:
            return None
        for missing in (p for p in spec.params if p not in used):
            self.problem(node, key, f"does not use the parameter ':{missing}'")
        return Statement(name, tuple(sqls), _line(node), spec)

    def top(self, node: yaml.Node | None) -> Statements | None:
        found = {n: (k, v) for n, k, v in self.entries(
            node, "", ("description", "statements", "item_states"))}  # fmt: skip
        description = ""
        if "description" in found:
            value = found["description"][1]
            description = str(value.value) if isinstance(value, yaml.ScalarNode) else ""
        statements: dict[str, Statement] = {}
        if "statements" not in found:
            self.problem(node, "statements", "required key is missing")
        else:
            block = found["statements"][1]
            given: set[str] = set()
            for name, _, value in self.entries(block, "statements", tuple(STATEMENTS)):
                given.add(name)  # reported once, even when its text has problems
                one = self.statement(name, value)
                if one is not None:
                    statements[name] = one
            for name, spec in STATEMENTS.items():
                if spec.required and name not in given:
                    self.problem(block, f"statements.{name}", "required statement is missing")
            if "pay_fee" in given and "fees" not in given:
                self.problem(block, "statements.pay_fee", "needs the 'fees' statement too "
                             "(a payment is checked against what is owed)")  # fmt: skip
        states: dict[str, ItemState] = {}
        if "item_states" in found:
            names = {s.name.lower().replace("_", " "): s for s in ItemState}
            for word, _, value in self.entries(found["item_states"][1], "item_states",
                                                      None):  # fmt: skip
                wanted = str(getattr(value, "value", "")).strip().lower().replace("_", " ")
                state = names.get(wanted) or _STATE_WORDS.get(wanted)
                if not isinstance(value, yaml.ScalarNode) or state is None:
                    self.problem(value, f"item_states.{word}", "expected a copy state: "
                                 + ", ".join(sorted(names)))  # fmt: skip
                else:
                    states[normalize(word).strip().casefold()] = state
        if self.problems:
            return None
        return Statements(self.label, statements, states, description)


def load_statements(path: str | os.PathLike[str]) -> Statements:
    """Read and check the statements file at ``path``; raise :class:`StatementsError`."""
    label = str(path)
    try:
        node = compose_file(path, "statements")
    except FileProblems as exc:
        raise StatementsError(exc.problems) from None
    reader = _Reader(label)
    loaded = reader.top(node)
    if loaded is None:
        raise StatementsError(reader.problems or [f"statements {label}: the file is empty"])
    return loaded


# -- values as the database gives them ---------------------------------------------------


def _local(when: datetime) -> datetime:
    """``when`` as naive local time to the second (an aware time is converted)."""
    if when.tzinfo is not None:
        when = when.astimezone().replace(tzinfo=None)
    return when.replace(microsecond=0)


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59))


def _due(when: datetime, policy: LoanPolicy) -> datetime:
    """Due date of a loan made (or renewed) at ``when``: loan_days later, end of the day."""
    return _end_of_day(when.date() + timedelta(days=policy.loan_days))


def _days_late(due: datetime, returned: datetime) -> int:
    """Whole days late: returned the day after the due date is one day."""
    return max(0, (returned.date() - due.date()).days) if returned > due else 0


def _text(value: Any) -> str:
    """A database value as NFC text ("" for NULL)."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", "replace")
    return normalize(unicodedata.normalize("NFC", str(value)).strip())


def _when(value: Any, *, end_of_day: bool = True) -> datetime | None:
    """A DATE, DATETIME or ISO text as naive local time; a bare date means its end."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _local(value)
    if isinstance(value, date):
        return _end_of_day(value) if end_of_day else datetime.combine(value, time())
    parsed = datetime.fromisoformat(str(value).strip())
    if len(str(value).strip()) <= 10 and end_of_day:
        return _end_of_day(parsed.date())
    return _local(parsed)


def _flag(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool | int | Decimal):
        return bool(value)
    word = _text(value).casefold()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"{value!r} is not yes/no (1/0, true/false, y/n, có/không)")


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None


@dataclass(frozen=True, slots=True)
class _Loan:
    patron: str
    due: datetime
    checked_out: datetime | None
    renewals: int


@dataclass(frozen=True, slots=True)
class _Standing:
    loans: int
    overdue: int
    fines: Decimal
    blocked: bool
    expired: bool


class _Refused(Exception):
    """Raised inside a transaction to roll it back and answer ``outcome``."""

    def __init__(self, outcome: object):
        super().__init__()
        self.outcome = outcome


# -- the back end ------------------------------------------------------------------------


def open_sql_circulation(entry: Mapping[str, Any], config: Config) -> SqlCirculation:
    """The ``circulation.backends`` entry ``entry`` (kind sql), with ``config``'s policies.

    The statements file is checked now (:class:`StatementsError`); so are the columns each
    read statement returns, when the database answers (else at first use)."""
    name = str(entry.get("name") or "sql")
    mapping = entry.get("mapping")
    if not mapping:
        raise StatementsError([f"circulation back end {name}: 'mapping' (the statements file) "
                               "is not set"])  # fmt: skip
    path = Path(str(mapping))
    if not path.is_absolute():
        path = config.directory / path
    url = make_url(str(entry["url"]))
    password_env = entry.get("password_env")
    if password_env:
        password = os.environ.get(str(password_env))
        if password is None:
            raise StatementsError([f"circulation back end {name}: the environment variable "
                                   f"{password_env} (password_env) is not set"])  # fmt: skip
        url = url.set(password=password)
    return SqlCirculation(
        url,
        load_statements(path),
        policies_from_config(config),
        name=name,
        timeout=float(entry.get("timeout_seconds") or 10),
    )


class SqlCirculation:
    """:class:`~gateway.circulation.interface.CirculationBackend` on a school's database."""

    def __init__(
        self,
        url: str | URL,
        statements: Statements,
        policies: Policies | None = None,
        *,
        name: str = "sql",
        timeout: float = 10.0,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        """Connect lazily to ``url`` (the password may be in it; it is never shown) and check
        the read statements' columns if the database answers now. ``clock`` gives "now"
        for reads without a transaction time (is a loan overdue?)."""
        self.name = name
        self.statements = statements
        self.policies = policies or Policies()
        self._clock = clock
        self._url = make_url(url) if isinstance(url, str) else url
        self.shown_url = self._url.render_as_string(hide_password=True)
        self._timeout = timeout
        self._engine = self._create_engine(self._url, timeout)
        self._locks = self._engine.dialect.name in _LOCKING_DIALECTS
        self._serial = threading.Lock()  #: changes on a database without row locks
        self._probed = False
        self._probe_lock = threading.Lock()
        try:
            self._probe()
        except StatementsError:
            self._engine.dispose()
            raise
        except BackendUnavailable as down:
            _LOG.warning("circulation back end %s: %s (columns are checked at first use)",
                         name, down)  # fmt: skip

    @staticmethod
    def _create_engine(url: URL, timeout: float) -> Engine:
        seconds = max(1, int(timeout))
        connect: dict[str, Any] = {}
        backend = url.get_backend_name()
        if backend in ("mysql", "mariadb"):
            # The socket waits longer than a lock does, so a lock wait ends as the
            # database's own "lock wait timeout", not as a broken connection.
            connect = {"connect_timeout": seconds, "read_timeout": seconds + 5,
                       "write_timeout": seconds + 5,
                       "init_command": f"SET innodb_lock_wait_timeout = {seconds}"}  # fmt: skip
            if url.get_driver_name() == "pymysql":
                connect["charset"] = "utf8mb4"
        elif backend == "postgresql":
            ms = seconds * 1000
            connect = {"connect_timeout": seconds,
                       "options": f"-c statement_timeout={ms} -c lock_timeout={ms}"}  # fmt: skip
        options: dict[str, Any] = {"pool_pre_ping": True, "pool_timeout": seconds}
        if backend in ("mysql", "mariadb", "postgresql"):
            # Each statement sees what others committed before it ran: after waiting for a
            # copy's lock, the second kiosk must see the first one's loan (REPEATABLE READ,
            # MariaDB's default, would show it the snapshot from before the wait).
            options["isolation_level"] = "READ COMMITTED"
        return create_engine(url, connect_args=connect, **options)

    # -- connections, transactions and statements -----------------------------------------

    def close(self) -> None:
        """Close the pool's connections."""
        self._engine.dispose()

    def __enter__(self) -> SqlCirculation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _unavailable(self, error: BaseException) -> BackendUnavailable:
        """The error as BackendUnavailable: the driver's own words, never the statement's
        parameters (barcodes) nor the password."""
        orig = getattr(error, "orig", None) or error
        # The first line only: PostgreSQL's DETAIL lines quote the row's values (barcodes).
        first = next(iter(str(orig).strip().splitlines()), "")
        words = " ".join(first.split()) or type(orig).__name__
        if self._url.password:
            words = words.replace(str(self._url.password), "***")
        return BackendUnavailable(f"circulation back end {self.name} ({self.shown_url}): "
                                  f"{words[:300]}")  # fmt: skip

    def _probe(self) -> None:
        """Run each read statement once (for no one) and compare its columns with what it
        should return: StatementsError naming the statement for a missing or unknown one."""
        with self._probe_lock:
            if self._probed:
                return
            problems: list[str] = []
            try:
                with self._engine.connect() as conn:
                    for name, statement in self.statements.statements.items():
                        if not statement.spec.reads or statement.spec.any_columns:
                            continue
                        # "0" matches no one and suits text and integer barcode columns.
                        params = self._params({"barcode": "0", "item": "0"}, "")
                        try:
                            result = conn.execute(text(statement.sql[0]), params)
                            columns = list(result.keys())
                            result.close()
                        except exc.DBAPIError as error:
                            if not _statement_fault(error):
                                raise
                            problems.append(self._refused_message(name, error))
                            conn.rollback()
                            continue
                        problem = self._column_problem(name, columns)
                        if problem:
                            problems.append(problem)
                    conn.rollback()
            except exc.SQLAlchemyError as error:
                raise self._unavailable(error) from None
            if problems:
                raise StatementsError(problems)
            self._probed = True

    def _column_problem(self, name: str, columns: Sequence[str]) -> str | None:
        spec = STATEMENTS[name]
        got = [c.lower() for c in columns]
        known = [*spec.columns, *spec.optional_columns]
        missing = [c for c in spec.columns if c not in got]
        unknown = [c for c in got if c not in known]
        if not missing and not unknown:
            return None
        parts = []
        if missing:
            parts.append(f"does not return the column(s) {', '.join(missing)}")
        for column in unknown:
            hint = difflib.get_close_matches(column, known, n=1)
            guess = f" (did you mean '{hint[0]}'?)" if hint else ""
            parts.append(f"returns '{column}', which is not one lienthong reads{guess}")
        return (f"{self.statements.where(name)}: {'; '.join(parts)}; it returned: "
                f"{', '.join(got) or 'no columns'}; expected {', '.join(spec.columns)}"
                + (f" and optionally {', '.join(spec.optional_columns)}"
                   if spec.optional_columns else ""))  # fmt: skip

    def _params(self, values: Mapping[str, Any], library: str) -> dict[str, Any]:
        return {"library": library, "now": _local(self._clock()), **values}

    def _rows(
        self, conn: Connection, name: str, library: str, values: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The rows of read statement ``name`` as dicts by (lower-case) column name."""
        statement = self.statements.statements[name]
        try:
            result = conn.execute(text(statement.sql[0]), self._params(values, library))
        except exc.DBAPIError as error:
            if not _statement_fault(error):
                raise
            raise self._misconfigured(self._refused_message(name, error)) from None
        columns = [c.lower() for c in result.keys()]
        if not statement.spec.any_columns:
            problem = self._column_problem(name, columns)
            if problem:
                result.close()
                raise self._misconfigured(problem)
        return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]

    def _one(
        self, conn: Connection, name: str, library: str, values: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        rows = self._rows(conn, name, library, values)
        return rows[0] if rows else None

    def _write(self, conn: Connection, name: str, library: str, values: Mapping[str, Any]) -> None:
        for sql in self.statements.statements[name].sql:
            try:
                conn.execute(text(sql), self._params(values, library))
            except exc.DBAPIError as error:
                if not _statement_fault(error):
                    raise
                raise self._misconfigured(self._refused_message(name, error)) from None

    def _refused_message(self, name: str, error: BaseException) -> str:
        return f"{self.statements.where(name)}: the database refused it: " + str(
            self._unavailable(error).args[0]
        )

    def _misconfigured(self, message: str) -> MisconfiguredStatement:
        _LOG.error("circulation back end %s: %s", self.name, message)
        return MisconfiguredStatement(message)

    def _lock(self, conn: Connection, kind: str, library: str, barcode: str) -> None:
        """Lock the patron's or the copy's row (``kind`` "patron" or "item") until commit."""
        own = f"lock_{kind}"
        if own in self.statements:
            self._rows(conn, own, library, {"barcode": barcode})
        elif self._locks:
            statement = self.statements.statements[kind]
            sql = statement.sql[0].rstrip().rstrip(";") + " FOR UPDATE"
            try:
                conn.execute(text(sql), self._params({"barcode": barcode}, library)).fetchall()
            except exc.DBAPIError as error:
                if not _statement_fault(error) and not isinstance(error, exc.NotSupportedError):
                    raise
                raise self._misconfigured(
                    f"{self.statements.where(kind)}: cannot be locked with FOR UPDATE "
                    f"({self._unavailable(error).args[0]}); write a '{own}' statement"
                ) from None

    @contextmanager
    def _connection(self, *, write: bool) -> Iterator[Connection]:
        if write and not self._locks:
            if not self._serial.acquire(timeout=self._timeout):
                raise BackendUnavailable(f"circulation back end {self.name}: busy")
        try:
            with self._engine.connect() as conn:
                yield conn
        finally:
            if write and not self._locks:
                self._serial.release()

    def _run(self, work: Callable[[Connection], T], *, write: bool) -> T:
        """Run ``work`` in one transaction: committed when it returns, rolled back when it
        refuses (:class:`_Refused`) or fails; a deadlock is retried."""
        if not self._probed:
            try:
                self._probe()
            except StatementsError as problems:
                raise self._misconfigured(str(problems)) from None
        for attempt in range(_RETRIES):
            try:
                with self._connection(write=write) as conn:
                    try:
                        result = work(conn)
                    except _Refused as refused:
                        conn.rollback()
                        return cast(T, refused.outcome)
                    except BaseException:
                        conn.rollback()
                        raise
                    if write:
                        conn.commit()
                    else:
                        conn.rollback()
                    return result
            except exc.DBAPIError as error:
                code = getattr(getattr(error, "orig", None), "sqlstate", None)
                args = getattr(getattr(error, "orig", None), "args", ())
                if (code in _RETRY_CODES or (args and args[0] in _RETRY_CODES)) and (
                    attempt + 1 < _RETRIES
                ):
                    continue
                down = self._unavailable(error)
                _LOG.warning("%s", down)
                raise down from None
            except exc.SQLAlchemyError as error:
                down = self._unavailable(error)
                _LOG.warning("%s", down)
                raise down from None
        raise AssertionError("unreachable")  # pragma: no cover

    def policy(self, library: str) -> LoanPolicy:
        """The loan policy of ``library``."""
        return self.policies.for_library(library)

    # -- reading rows into facts ---------------------------------------------------------

    def _value(self, name: str, column: str, convert: Callable[[Any], T], value: Any) -> T:
        try:
            return convert(value)
        except (ValueError, TypeError) as error:
            raise self._misconfigured(f"{self.statements.where(name)}: column '{column}': "
                                      f"{error}") from None  # fmt: skip

    def _state(self, row: Mapping[str, Any]) -> ItemState:
        raw = row.get("status")
        if raw is None or raw == "":
            return ItemState.AVAILABLE
        if isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit()):
            number = int(raw)
            return ItemState(number) if 1 <= number <= 13 else ItemState.OTHER
        word = _text(raw).casefold()
        return self.statements.item_states.get(word) or _STATE_WORDS.get(word, ItemState.OTHER)

    def _loan(self, conn: Connection, library: str, item: str) -> _Loan | None:
        row = self._one(conn, "current_loan", library, {"item": item})
        if row is None:
            return None
        due = self._value("current_loan", "due", _when, row["due"])
        if due is None:
            raise self._misconfigured(f"{self.statements.where('current_loan')}: column 'due' "
                                      "is empty")  # fmt: skip
        return _Loan(
            patron=_text(row["patron"]),
            due=due,
            checked_out=self._value("current_loan", "checked_out",
                                    lambda v: _when(v, end_of_day=False), row.get("checked_out")),
            renewals=self._value("current_loan", "renewals", int, row.get("renewals") or 0),
        )  # fmt: skip

    def _item_view(self, conn: Connection, library: str, row: Mapping[str, Any]) -> ItemView:
        barcode = _text(row["barcode"])
        loan = self._loan(conn, library, barcode)
        state = ItemState.CHARGED if loan is not None else self._state(row)
        if loan is None and state in (ItemState.CHARGED, ItemState.CHARGED_RECALLED):
            state = ItemState.AVAILABLE  # the loans table, not a status column, says who has it
        loanable = True
        if "loanable" in row and row["loanable"] is not None:
            loanable = self._value("item", "loanable", _flag, row["loanable"])
        return ItemView(
            library=library,
            barcode=barcode,
            title=_text(row.get("title")),
            state=state,
            location=_text(row.get("location")),
            call_number=_text(row.get("call_number")),
            record_id=_text(row.get("record_id")),
            due=loan.due if loan is not None else None,
            borrower=loan.patron if loan is not None else "",
            loanable=loanable,
        )

    def _loans(self, conn: Connection, library: str, barcode: str, now: datetime) -> list[LoanView]:
        loans = []
        for row in self._rows(conn, "patron_loans", library, {"barcode": barcode, "now": now}):
            due = self._value("patron_loans", "due", _when, row["due"]) or now
            out = self._value("patron_loans", "checked_out", lambda v: _when(v, end_of_day=False),
                              row.get("checked_out"))  # fmt: skip
            loans.append(LoanView(
                item_barcode=_text(row["item_barcode"]),
                title=_text(row.get("title")),
                checked_out=out or due,
                due=due,
                renewals=self._value("patron_loans", "renewals", int, row.get("renewals") or 0),
                overdue=due < now,
            ))  # fmt: skip
        return sorted(loans, key=lambda loan: (loan.due, loan.item_barcode))

    def _fees(self, conn: Connection, library: str, barcode: str) -> list[FeeView]:
        if "fees" not in self.statements:
            return []
        fees = []
        for n, row in enumerate(self._rows(conn, "fees", library, {"barcode": barcode})):
            amount = self._value("fees", "amount", _amount, row["amount"])
            if amount <= 0:
                continue
            fees.append(FeeView(
                fee_id=_text(row.get("fee_id")) or str(n + 1),
                amount=amount,
                kind=_text(row.get("kind")) or "other",
                description=_text(row.get("description")),
                item_barcode=_text(row.get("item_barcode")),
            ))  # fmt: skip
        return fees

    def _holds(self, conn: Connection, library: str, barcode: str, now: datetime) -> list[HoldView]:
        if "holds" not in self.statements:
            return []
        holds = []
        for row in self._rows(conn, "holds", library, {"barcode": barcode}):
            when = lambda v: _when(v, end_of_day=False)  # noqa: E731
            holds.append(HoldView(
                item_barcode=_text(row["item_barcode"]),
                title=_text(row.get("title")),
                placed=self._value("holds", "placed", when, row.get("placed")) or now,
                queue_position=self._value("holds", "queue_position", int,
                                           row.get("queue_position") or 1),
                available=self._value("holds", "available", _flag, row.get("available")),
                pickup_location=_text(row.get("pickup_location")),
                expires=self._value("holds", "expires", _when, row.get("expires")),
            ))  # fmt: skip
        return holds

    def _standing(
        self, conn: Connection, library: str, row: Mapping[str, Any], now: datetime
    ) -> _Standing:
        barcode = _text(row["barcode"])
        if "count_loans" in self.statements:
            counted = self._one(conn, "count_loans", library, {"barcode": barcode, "now": now})
            loans = self._value("count_loans", "loans", int, (counted or {}).get("loans") or 0)
            overdue = self._value("count_loans", "overdue", int,
                                  (counted or {}).get("overdue") or 0)  # fmt: skip
        else:
            current = self._loans(conn, library, barcode, now)
            loans, overdue = len(current), sum(1 for loan in current if loan.overdue)
        fines = sum((fee.amount for fee in self._fees(conn, library, barcode)), Decimal(0))
        expires = self._value("patron", "expires", _when, row.get("expires"))
        return _Standing(
            loans, overdue, fines,
            blocked=self._value("patron", "blocked", _flag, row.get("blocked")),
            expired=expires is not None and now > expires,
        )  # fmt: skip

    @staticmethod
    def _flags(standing: _Standing, policy: LoanPolicy) -> frozenset[PatronFlag]:
        flags: set[PatronFlag] = set()
        if standing.blocked:
            flags |= {PatronFlag.CARD_LOST, PatronFlag.RENEWAL_DENIED, PatronFlag.HOLD_DENIED}
        if standing.expired:
            flags |= {PatronFlag.RENEWAL_DENIED, PatronFlag.HOLD_DENIED}
        if standing.loans >= policy.max_loans:
            flags.add(PatronFlag.TOO_MANY_CHARGED)
        if policy.max_overdue and standing.overdue >= policy.max_overdue:
            flags.add(PatronFlag.TOO_MANY_OVERDUE)
        if policy.max_fines and standing.fines >= policy.max_fines:
            flags.add(PatronFlag.EXCESSIVE_FINES)
        if flags:
            flags.add(PatronFlag.CHARGE_DENIED)
        return frozenset(flags)

    @staticmethod
    def _refusal(standing: _Standing, policy: LoanPolicy) -> Refusal | None:
        """Why this patron may not borrow now, or None."""
        if standing.blocked:
            return Refusal.PATRON_BLOCKED
        if standing.expired:
            return Refusal.PATRON_EXPIRED
        if standing.loans >= policy.max_loans:
            return Refusal.TOO_MANY_LOANS
        if policy.max_overdue and standing.overdue >= policy.max_overdue:
            return Refusal.TOO_MANY_OVERDUE
        if policy.max_fines and standing.fines >= policy.max_fines:
            return Refusal.EXCESSIVE_FINES
        return None

    # -- the interface: reads ------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the configured statements allow (see the module docstring)."""
        given = set(self.statements.statements)
        offered = {Capability.PATRON_STATUS, Capability.PATRON_INFO, Capability.END_SESSION,
                   Capability.ITEM_INFO}  # fmt: skip
        for capability, needs in (
            (Capability.CHECKOUT, {"insert_loan"}),
            (Capability.CHECKIN, {"close_loan"}),
            (Capability.RENEW, {"renew_loan"}),
            (Capability.RENEW_ALL, {"renew_loan"}),
            (Capability.BLOCK_PATRON, {"block_patron"}),
            (Capability.PATRON_ENABLE, {"enable_patron"}),
            (Capability.FEE_PAID, {"fees", "pay_fee"}),
        ):
            if needs <= given:
                offered.add(capability)
        return frozenset(offered)

    def patron(self, library: str, barcode: str) -> PatronView | None:
        """The patron with this barcode, with loans, fees and holds; None when unknown."""
        now = _local(self._clock())

        def work(conn: Connection) -> PatronView | None:
            row = self._one(conn, "patron", library, {"barcode": barcode})
            if row is None:
                return None
            policy = self.policy(library)
            number = _text(row["barcode"])
            loans = self._loans(conn, library, number, now)
            fees = self._fees(conn, library, number)
            standing = self._standing(conn, library, row, now)
            expires = self._value("patron", "expires", _when, row.get("expires"))
            return PatronView(
                library=library,
                barcode=number,
                name=_text(row["name"]),
                flags=self._flags(standing, policy),
                language=_text(row.get("language")).lower() or "vi",
                email=_text(row.get("email")),
                phone=_text(row.get("phone")),
                address=_text(row.get("address")),
                has_pin=bool(_text(row.get("pin") or row.get("pin_hash"))),
                blocked_message=_text(row.get("block_message")),
                currency=policy.currency,
                fines_total=standing.fines,
                fee_limit=Decimal(policy.max_fines) if policy.max_fines else None,
                loan_limit=policy.max_loans,
                overdue_limit=policy.max_overdue or None,
                loans=tuple(loans),
                holds=tuple(self._holds(conn, library, number, now)),
                fees=tuple(fees),
                expires=expires,
            )

        return self._run(work, write=False)

    def check_pin(self, library: str, barcode: str, pin: str) -> bool:
        """True when ``pin`` is the patron's PIN (constant-time comparison; an unknown
        patron costs a hash too). A patron without a PIN matches only the empty PIN."""

        def work(conn: Connection) -> dict[str, Any] | None:
            return self._one(conn, "patron", library, {"barcode": barcode})

        row = self._run(work, write=False)
        if row is None:
            verify_pin(pin, _DUMMY_HASH)
            return False
        if "pin" in row:
            stored = "" if row["pin"] is None else str(row["pin"]).strip()
            if stored == "":
                return pin == ""
            return hmac.compare_digest(stored.encode("utf-8"), pin.encode("utf-8"))
        stored = "" if row.get("pin_hash") is None else str(row["pin_hash"]).strip()
        if stored == "":
            return pin == ""
        if stored.startswith("scrypt$"):
            return verify_password(pin, stored)
        return verify_pin(pin, stored)

    def item(self, library: str, barcode: str) -> ItemView | None:
        """The copy with this barcode, or None when unknown."""

        def work(conn: Connection) -> ItemView | None:
            row = self._one(conn, "item", library, {"barcode": barcode})
            return self._item_view(conn, library, row) if row is not None else None

        return self._run(work, write=False)

    # -- the interface: loans ------------------------------------------------------------

    def _locked_rows(
        self, conn: Connection, library: str, patron: str | None, item: str
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Lock the patron (first, always in this order: no deadlocks between kiosks) and
        the copy, then read them."""
        prow = None
        if patron is not None:
            self._lock(conn, "patron", library, patron)
            prow = self._one(conn, "patron", library, {"barcode": patron})
        self._lock(conn, "item", library, item)
        irow = self._one(conn, "item", library, {"barcode": item})
        return prow, irow

    def _loan_parties(
        self, conn: Connection, library: str, patron: str, item: str
    ) -> tuple[dict[str, Any], ItemView]:
        """The locked patron row and the copy's view for a checkout or renewal; an unknown
        patron or copy refuses it (rolling back)."""
        prow, irow = self._locked_rows(conn, library, patron, item)
        if prow is None:
            view = self._item_view(conn, library, irow) if irow is not None else None
            raise _Refused(LoanOutcome(False, view, Refusal.UNKNOWN_PATRON))
        if irow is None:
            raise _Refused(LoanOutcome(False, None, Refusal.UNKNOWN_ITEM))
        return prow, self._item_view(conn, library, irow)

    def _fresh(self, conn: Connection, library: str, view: ItemView) -> ItemView:
        """The copy's view again, after a change in this transaction."""
        irow = self._one(conn, "item", library, {"barcode": view.barcode})
        return self._item_view(conn, library, irow) if irow is not None else view

    def _check_loan(self, conn: Connection, library: str, item: str, patron: str | None,
                    due: datetime | None, after: str) -> None:  # fmt: skip
        """Raise MisconfiguredStatement (the transaction rolls back) when ``current_loan``
        does not show what statement ``after`` just wrote."""
        loan = self._loan(conn, library, item)
        if patron is None and loan is None:
            return
        if patron is not None and loan is not None and loan.patron == patron and (
            due is None or loan.due.date() == due.date()
        ):  # fmt: skip
            return
        shown = "no loan" if loan is None else f"a loan due {loan.due:%Y-%m-%d}"
        raise self._misconfigured(
            f"{self.statements.where(after)}: after it ran, current_loan shows {shown}: check "
            "that the two statements use the same table and columns (nothing was changed)"
        )

    def checkout(
        self, library: str, patron: str, item: str, when: datetime, *, renew_if_held: bool = True
    ) -> LoanOutcome:
        """Lend ``item`` to ``patron`` (the embedded back end's rules, in its order)."""
        when = _local(when)
        if "insert_loan" not in self.statements:
            return LoanOutcome(False, None, Refusal.NOT_SUPPORTED)

        def work(conn: Connection) -> LoanOutcome:
            prow, view = self._loan_parties(conn, library, patron, item)
            policy = self.policy(library)
            standing = self._standing(conn, library, prow, when)
            number = _text(prow["barcode"])

            def refuse(why: Refusal) -> _Refused:
                return _Refused(LoanOutcome(False, view, why))

            if standing.blocked:
                raise refuse(Refusal.PATRON_BLOCKED)
            if standing.expired:
                raise refuse(Refusal.PATRON_EXPIRED)
            loan = self._loan(conn, library, view.barcode)
            if loan is not None and loan.patron == number:
                if not renew_if_held or "renew_loan" not in self.statements:
                    raise refuse(Refusal.ALREADY_ON_LOAN)
                return self._renew_loan(conn, library, prow, view, loan, when, policy)
            if loan is not None:
                raise refuse(Refusal.ON_LOAN_TO_ANOTHER)
            if not view.loanable or view.state in _NOT_LENDABLE:
                raise refuse(Refusal.ITEM_NOT_FOR_LOAN)
            limit = self._refusal(standing, policy)
            if limit is not None:
                raise refuse(limit)
            due = _due(when, policy)
            values = {"patron": number, "item": view.barcode, "due": due, "now": when}
            self._write(conn, "insert_loan", library, values)
            self._check_loan(conn, library, view.barcode, number, due, "insert_loan")
            return LoanOutcome(True, self._fresh(conn, library, view), due=due)

        return self._run(work, write=True)

    def _charge(self, conn: Connection, library: str, patron: str, item: ItemView,
                due: datetime, when: datetime, policy: LoanPolicy) -> int:  # fmt: skip
        """Charge fine_per_day for each whole day late (when ``insert_fee`` is given)."""
        fine = _days_late(due, when) * policy.fine_per_day
        if fine <= 0 or "insert_fee" not in self.statements:
            return 0
        self._write(conn, "insert_fee", library,
                    {"patron": patron, "amount": fine, "item": item.barcode, "kind": "overdue",
                     "description": item.title, "now": when})  # fmt: skip
        return fine

    def _renew_loan(
        self,
        conn: Connection,
        library: str,
        prow: Mapping[str, Any],
        view: ItemView,
        loan: _Loan,
        when: datetime,
        policy: LoanPolicy,
    ) -> LoanOutcome:
        """Extend ``loan`` (the patron's own), or refuse at the renewal limit or over the
        fines limit. A renewal that would not move the due date changes nothing."""

        def refuse(why: Refusal) -> _Refused:
            return _Refused(LoanOutcome(False, view, why))

        if loan.renewals >= policy.max_renewals:
            raise refuse(Refusal.RENEWAL_LIMIT)
        standing = self._standing(conn, library, prow, when)
        if policy.max_fines and standing.fines >= policy.max_fines:
            raise refuse(Refusal.EXCESSIVE_FINES)
        due = max(_due(when, policy), loan.due)
        if due <= loan.due:
            return LoanOutcome(True, view, due=loan.due, renewal=True)
        self._charge(conn, library, loan.patron, view, loan.due, when, policy)
        self._write(conn, "renew_loan", library,
                    {"item": view.barcode, "due": due, "now": when, "patron": loan.patron,
                     "renewals": loan.renewals + 1})  # fmt: skip
        self._check_loan(conn, library, view.barcode, loan.patron, due, "renew_loan")
        return LoanOutcome(True, self._fresh(conn, library, view), due=due, renewal=True)

    def checkin(self, library: str, item: str, when: datetime, location: str = "") -> ReturnOutcome:
        """Take ``item`` back: the loan is closed and lateness charged (with ``insert_fee``).
        A copy not on loan changes nothing (NOT_ON_LOAN)."""
        when = _local(when)
        if "close_loan" not in self.statements:
            return ReturnOutcome(False, None, Refusal.NOT_SUPPORTED)

        def work(conn: Connection) -> ReturnOutcome:
            _, irow = self._locked_rows(conn, library, None, item)
            if irow is None:
                raise _Refused(ReturnOutcome(False, None, Refusal.UNKNOWN_ITEM))
            view = self._item_view(conn, library, irow)
            loan = self._loan(conn, library, view.barcode)
            if loan is None:
                raise _Refused(ReturnOutcome(False, view, Refusal.NOT_ON_LOAN))
            # A kiosk's clock may be wrong: never before the checkout, never after now.
            returned = min(when, _local(self._clock()))
            if loan.checked_out is not None:
                returned = max(returned, loan.checked_out)
            self._write(conn, "close_loan", library,
                        {"item": view.barcode, "now": returned, "patron": loan.patron,
                         "location": location})  # fmt: skip
            self._check_loan(conn, library, view.barcode, None, None, "close_loan")
            fine = self._charge(conn, library, loan.patron, view, loan.due, returned,
                                self.policy(library))  # fmt: skip
            return ReturnOutcome(
                True,
                self._item_view(conn, library, irow),
                borrower=loan.patron,
                overdue_fine=Decimal(fine) if fine > 0 else None,
            )

        return self._run(work, write=True)

    def renew(self, library: str, patron: str, item: str, when: datetime) -> LoanOutcome:
        """Extend the loan of ``item`` to ``patron``: refused for a blocked or expired card,
        at max_renewals, or over the fines limit."""
        when = _local(when)
        if "renew_loan" not in self.statements:
            return LoanOutcome(False, None, Refusal.NOT_SUPPORTED)

        def work(conn: Connection) -> LoanOutcome:
            prow, view = self._loan_parties(conn, library, patron, item)
            standing = self._standing(conn, library, prow, when)
            loan = self._loan(conn, library, view.barcode)
            why = (Refusal.PATRON_BLOCKED if standing.blocked
                   else Refusal.PATRON_EXPIRED if standing.expired
                   else Refusal.NOT_ON_LOAN if loan is None
                   else Refusal.NOT_LOANED_TO_PATRON if loan.patron != _text(prow["barcode"])
                   else None)  # fmt: skip
            if why is not None or loan is None:
                raise _Refused(LoanOutcome(False, view, why))
            return self._renew_loan(conn, library, prow, view, loan, when, self.policy(library))

        return self._run(work, write=True)

    def renew_all(self, library: str, patron: str, when: datetime) -> RenewAllOutcome:
        """Renew every loan of ``patron`` that may be renewed, each in its own transaction
        (one refused renewal does not undo the others)."""
        when = _local(when)
        if "renew_loan" not in self.statements:
            return RenewAllOutcome(False, refusal=Refusal.NOT_SUPPORTED)
        found = self.patron(library, patron)
        if found is None:
            return RenewAllOutcome(False, refusal=Refusal.UNKNOWN_PATRON)
        barcodes = tuple(loan.item_barcode for loan in found.loans)
        if PatronFlag.CARD_LOST in found.flags:
            return RenewAllOutcome(False, unrenewed=barcodes, refusal=Refusal.PATRON_BLOCKED)
        if found.expires is not None and when > found.expires:
            return RenewAllOutcome(False, unrenewed=barcodes, refusal=Refusal.PATRON_EXPIRED)
        renewed: list[str] = []
        unrenewed: list[str] = []
        for barcode in barcodes:
            outcome = self.renew(library, found.barcode, barcode, when)
            (renewed if outcome.ok else unrenewed).append(barcode)
        return RenewAllOutcome(True, tuple(renewed), tuple(unrenewed))

    # -- the interface: holds, fees, blocks ----------------------------------------------

    def place_hold(
        self, library: str, patron: str, item: str, when: datetime, pickup_location: str = ""
    ) -> HoldOutcome:
        """Not offered: the school's own program keeps its hold queue."""
        return HoldOutcome(False, Refusal.NOT_SUPPORTED)

    def cancel_hold(self, library: str, patron: str, item: str, when: datetime) -> HoldOutcome:
        """Not offered (see :meth:`place_hold`)."""
        return HoldOutcome(False, Refusal.NOT_SUPPORTED)

    def pay_fee(
        self,
        library: str,
        patron: str,
        amount: Decimal,
        when: datetime,
        *,
        fee_id: str = "",
        transaction_id: str = "",
    ) -> PaymentOutcome:
        """Record a payment with ``pay_fee``: against ``fee_id``, else the oldest fees first
        (in the order the ``fees`` statement lists them). Not whole units, not positive or
        more than is owed: BAD_AMOUNT."""
        when = _local(when)
        try:
            amount = Decimal(amount)
        except (InvalidOperation, TypeError, ValueError):
            return PaymentOutcome(False, Refusal.BAD_AMOUNT)
        if not amount.is_finite():
            return PaymentOutcome(False, Refusal.BAD_AMOUNT)
        if not {"fees", "pay_fee"} <= set(self.statements.statements):
            return PaymentOutcome(False, Refusal.NOT_SUPPORTED)

        def work(conn: Connection) -> PaymentOutcome:
            self._lock(conn, "patron", library, patron)
            prow = self._one(conn, "patron", library, {"barcode": patron})
            if prow is None:
                raise _Refused(PaymentOutcome(False, Refusal.UNKNOWN_PATRON))
            number = _text(prow["barcode"])
            fees = self._fees(conn, library, number)
            owed = sum((f.amount for f in fees), Decimal(0))
            whole = amount == amount.to_integral_value() and amount > 0
            chosen = [f for f in fees if f.fee_id == fee_id] if fee_id else fees
            if fee_id and not chosen:
                raise _Refused(PaymentOutcome(False, Refusal.NO_SUCH_FEE, remaining=owed))
            if not whole or amount > sum((f.amount for f in chosen), Decimal(0)):
                raise _Refused(PaymentOutcome(False, Refusal.BAD_AMOUNT, remaining=owed))
            left = amount
            for fee in chosen:
                part = min(left, fee.amount)
                if part <= 0:
                    break
                self._write(conn, "pay_fee", library,
                            {"fee_id": fee.fee_id, "amount": int(part), "patron": number,
                             "now": when, "transaction_id": transaction_id})  # fmt: skip
                left -= part
            return PaymentOutcome(True, None, transaction_id, owed - amount)

        return self._run(work, write=True)

    def _patron_change(self, name: str, library: str, patron: str,
                       values: Mapping[str, Any]) -> bool:  # fmt: skip
        if name not in self.statements:
            return False

        def work(conn: Connection) -> bool:
            self._lock(conn, "patron", library, patron)
            row = self._one(conn, "patron", library, {"barcode": patron})
            if row is None:
                return False
            self._write(conn, name, library, {"barcode": _text(row["barcode"]), **values})
            return True

        return self._run(work, write=True)

    def block_patron(self, library: str, patron: str, message: str, when: datetime) -> bool:
        """Block the card with ``block_patron`` (``:message`` is staff's reason); False
        when unknown or not configured."""
        return self._patron_change("block_patron", library, patron,
                                   {"message": message, "now": _local(when)})  # fmt: skip

    def enable_patron(self, library: str, patron: str, when: datetime) -> bool:
        """Lift the card block with ``enable_patron``; False when unknown or not configured."""
        return self._patron_change("enable_patron", library, patron, {"now": _local(when)})

    def update_item_properties(
        self, library: str, item: str, properties: str, when: datetime
    ) -> ItemView | None:
        """Not offered: the copy's record is the school program's (the view is unchanged)."""
        return None


_DUMMY_HASH = hash_pin("dummy")
