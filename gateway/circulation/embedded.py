"""The embedded circulation back end: borrowers, copies, loans, holds and fees in SQLite.

For member libraries without an ILS of their own (school libraries, mostly): the gateway
keeps their circulation in one SQLite file (``circulation.path``), loaded from CSV files
and served to SIP2 kiosks.

Calls come from the server's thread pool, so every thread has its own connection
(:class:`threading.local`); the file is in WAL mode, so readers never wait for a writer.
Every change runs in ``BEGIN IMMEDIATE``: the write lock is taken before anything is read,
so two kiosks lending the same copy are serialised and exactly one of them wins, and a
refused or failed operation is rolled back whole (nothing half-done). A locked or
unreadable database is :class:`~gateway.circulation.interface.BackendUnavailable`, never a
refusal: the kiosk says "try again", it does not say "no".

Times are local and naive (what kiosks send); they are stored as ``YYYY-MM-DD HH:MM:SS``
text, whose string order is time order. Amounts are whole currency units (đồng).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar, cast

from crosswalks.vietnamese import fold, fold_words, normalize

from ..config import Config
from .interface import (
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
from .policy import LoanPolicy, Policies, policies_from_config

__all__ = [
    "EmbeddedCirculation",
    "open_embedded",
    "circulation_path",
    "PatronRecord",
    "ItemRecord",
    "LoanRecord",
    "LoadError",
    "LoadSummary",
    "ImportCounts",
    "LoanRow",
    "PatronRow",
    "hash_pin",
    "verify_pin",
]

T = TypeVar("T")

# -- PINs --------------------------------------------------------------------------------

_PIN_ITERATIONS = 2000
_PIN_SCHEME = "pbkdf2_sha256"


def hash_pin(pin: str, *, iterations: int = _PIN_ITERATIONS) -> str:
    """A salted hash of a borrower's PIN: ``pbkdf2_sha256$iterations$salt$digest``.

    Not scrypt (which kiosk *passwords* use, see :mod:`gateway.passwords`): a PIN is
    checked on nearly every kiosk transaction, by many kiosks at once, inside the
    protocol's latency budget, and scrypt's deliberate ~50 ms and 16 MiB per check would
    dominate it. A PIN is usually four digits, so no hash makes a stolen file safe against
    an offline search of 10,000 values anyway; what protects PINs is the file's
    permissions and the per-terminal limit on wrong PINs. PBKDF2 at 2,000 rounds costs
    about half a millisecond, still keeps PINs out of plain sight, and stops precomputed
    tables (the salt is per patron).
    """
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)
    encoded = (base64.b64encode(part).decode("ascii") for part in (salt, digest))
    return f"{_PIN_SCHEME}${iterations}${'$'.join(encoded)}"


_DUMMY_HASH = hash_pin("dummy")


def verify_pin(pin: str, stored: str) -> bool:
    """True when ``pin`` matches ``stored`` (compared with :func:`hmac.compare_digest`)."""
    try:
        scheme, rounds, salt_text, digest_text = stored.split("$")
        iterations = int(rounds)
        salt, expected = base64.b64decode(salt_text), base64.b64decode(digest_text)
    except ValueError:
        return False
    if scheme != _PIN_SCHEME or not 1 <= iterations <= 1_000_000:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(digest, expected)


# -- time --------------------------------------------------------------------------------


def _local(when: datetime) -> datetime:
    """``when`` as naive local time to the second (an aware time is converted)."""
    if when.tzinfo is not None:
        when = when.astimezone().replace(tzinfo=None)
    return when.replace(microsecond=0)


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59))


def _due(when: datetime, policy: LoanPolicy) -> datetime:
    """Due date of a loan made (or renewed) at ``when``: loan_days later, end of the day."""
    return _end_of_day(when.date() + timedelta(days=policy.loan_days))


def _days_late(due: datetime, returned: datetime) -> int:
    """Whole days late: returned the day after the due date is one day."""
    return max(0, (returned.date() - due.date()).days) if returned > due else 0


# -- records the loaders take and the admin queries give --------------------------------


@dataclass(frozen=True, slots=True)
class PatronRecord:
    """A borrower to create or update (by library and barcode)."""

    library: str
    barcode: str
    name: str
    #: The PIN in clear (hashed before it is stored); None keeps the stored PIN, "" removes it.
    pin: str | None = None
    category: str = ""
    email: str = ""
    phone: str = ""
    address: str = ""
    language: str = "vi"
    expires: date | None = None
    where: str = ""  #: "file:line" for problems


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """A copy to create or update (by library and barcode)."""

    library: str
    barcode: str
    title: str
    record_id: str = ""
    location: str = ""
    call_number: str = ""
    loanable: bool = True
    where: str = ""


@dataclass(frozen=True, slots=True)
class LoanRecord:
    """A current loan to create or update (by library and item barcode)."""

    library: str
    item_barcode: str
    patron_barcode: str
    checked_out: datetime
    due: datetime
    renewals: int = 0
    where: str = ""


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What a load did to one table."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged"


@dataclass(frozen=True, slots=True)
class LoadSummary:
    """What a load did, per table."""

    patrons: ImportCounts = field(default_factory=ImportCounts)
    items: ImportCounts = field(default_factory=ImportCounts)
    loans: ImportCounts = field(default_factory=ImportCounts)


class LoadError(Exception):
    """A load was refused (and nothing was stored); ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class LoanRow:
    """One current loan, for staff listings."""

    library: str
    item_barcode: str
    title: str
    patron_barcode: str
    patron_name: str
    checked_out: datetime
    due: datetime
    renewals: int
    overdue: bool


@dataclass(frozen=True, slots=True)
class PatronRow:
    """One borrower, for staff listings (never the PIN)."""

    library: str
    barcode: str
    name: str
    category: str
    email: str
    phone: str
    blocked: bool
    loans: int
    expires: date | None


# -- the database ------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS patrons (
    id INTEGER PRIMARY KEY,
    library TEXT NOT NULL,
    barcode TEXT NOT NULL,
    pin_hash TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    name_folded TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'vi',
    blocked INTEGER NOT NULL DEFAULT 0,
    block_message TEXT NOT NULL DEFAULT '',
    expires TEXT,
    UNIQUE (library, barcode)
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    library TEXT NOT NULL,
    barcode TEXT NOT NULL,
    record_id TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '',
    call_number TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL DEFAULT 3,
    properties TEXT NOT NULL DEFAULT '',
    loanable INTEGER NOT NULL DEFAULT 1,
    UNIQUE (library, barcode)
);
CREATE INDEX IF NOT EXISTS items_barcode ON items (barcode);
CREATE INDEX IF NOT EXISTS patrons_barcode ON patrons (barcode);
CREATE TABLE IF NOT EXISTS loans (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items (id),
    patron_id INTEGER NOT NULL REFERENCES patrons (id),
    checked_out TEXT NOT NULL,
    due TEXT NOT NULL,
    renewals INTEGER NOT NULL DEFAULT 0,
    returned_at TEXT,
    return_location TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS loans_current ON loans (item_id) WHERE returned_at IS NULL;
CREATE INDEX IF NOT EXISTS loans_patron ON loans (patron_id, returned_at);
CREATE TABLE IF NOT EXISTS holds (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items (id),
    patron_id INTEGER NOT NULL REFERENCES patrons (id),
    placed TEXT NOT NULL,
    pickup_location TEXT NOT NULL DEFAULT '',
    available_since TEXT,
    expires TEXT,
    UNIQUE (item_id, patron_id)
);
CREATE INDEX IF NOT EXISTS holds_patron ON holds (patron_id);
CREATE TABLE IF NOT EXISTS fees (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER NOT NULL REFERENCES patrons (id),
    amount INTEGER NOT NULL,
    paid INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    item_id INTEGER REFERENCES items (id),
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fees_patron ON fees (patron_id);
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY,
    patron_id INTEGER NOT NULL REFERENCES patrons (id),
    amount INTEGER NOT NULL,
    paid_at TEXT NOT NULL,
    transaction_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_transaction ON payments (patron_id, transaction_id);
"""
_SCHEMA_VERSION = 1

#: States a copy leaves when it is checked in: it has turned up.
_FOUND_ON_RETURN = frozenset({ItemState.LOST, ItemState.MISSING, ItemState.CLAIMED_RETURNED})
#: Copies in these states are not lent, whatever their loanable flag says.
_NOT_LENDABLE = frozenset(
    {ItemState.ON_ORDER, ItemState.IN_PROCESS, ItemState.LOST, ItemState.MISSING,
     ItemState.CLAIMED_RETURNED}
)  # fmt: skip


class _Refused(Exception):
    """Raised inside a transaction to roll it back and answer ``outcome``."""

    def __init__(self, outcome: object):
        super().__init__()
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class _Standing:
    """What a patron's record says about borrowing, at one moment."""

    loans: int
    overdue: int
    fines: int
    blocked: bool
    expired: bool


def circulation_path(config: Config) -> Path:
    """The embedded back end's database file (``circulation.path``, default
    ``circulation.db`` next to the configuration file)."""
    circulation = config.values.get("circulation") or {}
    return config.directory / str(circulation.get("path") or "circulation.db")


def open_embedded(config: Config) -> EmbeddedCirculation:
    """The embedded back end of ``config``: its database file and its loan policies."""
    return EmbeddedCirculation(circulation_path(config), policies_from_config(config))


class EmbeddedCirculation:
    """:class:`~gateway.circulation.interface.CirculationBackend` on a SQLite file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        policies: Policies | None = None,
        *,
        clock: Callable[[], datetime] = datetime.now,
        busy_timeout: float = 5.0,
    ) -> None:
        """Open (creating if needed) the database at ``path``. ``clock`` gives "now" for
        reads that have no transaction time (is a loan overdue?); ``busy_timeout`` is how
        long a call waits for another writer before the back end is unavailable."""
        self.path = Path(path)
        self.policies = policies or Policies()
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._writer = threading.Lock()  #: one writing transaction at a time in this process
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        try:
            conn = self._connection()
            conn.execute("PRAGMA journal_mode=WAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < _SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                conn.executescript(_SCHEMA)  # executescript commits first: that is fine here
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            self.close()
            raise BackendUnavailable(f"circulation database {self.path}: {exc}") from exc

    # -- connections and transactions ----------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise BackendUnavailable("the circulation database is closed")
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection (call when no other thread uses the back end)."""
        self._closed = True
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> EmbeddedCirculation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, work: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run ``work`` in one transaction: committed when it returns, rolled back when it
        refuses (:class:`_Refused`) or fails."""
        # Writers of this process queue on a lock rather than on SQLite's busy handler,
        # which sleeps in growing steps: with 20 kiosks writing at once that sleeping, not
        # the work, made the slowest checkouts. The busy timeout still covers other
        # processes (the CLI importing patrons while the server lends).
        if write and not self._writer.acquire(timeout=self._busy_timeout):
            raise BackendUnavailable(f"circulation database {self.path}: busy")
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                result = work(conn)
            except _Refused as refused:
                conn.execute("ROLLBACK")
                return cast(T, refused.outcome)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            failed: sqlite3.Connection | None = getattr(self._local, "conn", None)
            if failed is not None and failed.in_transaction:
                with suppress(sqlite3.Error):
                    failed.execute("ROLLBACK")
            raise BackendUnavailable(f"circulation database {self.path}: {exc}") from exc
        finally:
            if write:
                self._writer.release()

    def policy(self, library: str) -> LoanPolicy:
        """The loan policy of ``library``."""
        return self.policies.for_library(library)

    # -- lookups -------------------------------------------------------------------------

    @staticmethod
    def _find(
        conn: sqlite3.Connection, table: str, library: str, barcode: str, unknown: Refusal
    ) -> tuple[sqlite3.Row | None, Refusal | None]:
        """The row of ``barcode`` in ``library``; else the refusal: OTHER_LIBRARY when
        another library has that barcode, ``unknown`` when nobody does."""
        row = conn.execute(
            f"SELECT * FROM {table} WHERE library = ? AND barcode = ?", (library, barcode)
        ).fetchone()
        if row is not None:
            return row, None
        elsewhere = conn.execute(
            f"SELECT 1 FROM {table} WHERE barcode = ? LIMIT 1", (barcode,)
        ).fetchone()
        return None, Refusal.OTHER_LIBRARY if elsewhere else unknown

    @staticmethod
    def _current_loan(conn: sqlite3.Connection, item_id: int) -> sqlite3.Row | None:
        return cast(
            "sqlite3.Row | None",
            conn.execute(
                "SELECT l.*, p.barcode AS patron_barcode FROM loans l "
                "JOIN patrons p ON p.id = l.patron_id "
                "WHERE l.item_id = ? AND l.returned_at IS NULL",
                (item_id,),
            ).fetchone(),
        )

    @staticmethod
    def _queue(conn: sqlite3.Connection, item_id: int) -> list[sqlite3.Row]:
        """The item's holds in queue order: the one on the hold shelf first, then by the
        time they were placed."""
        return conn.execute(
            "SELECT h.*, p.barcode AS patron_barcode FROM holds h "
            "JOIN patrons p ON p.id = h.patron_id WHERE h.item_id = ? "
            "ORDER BY h.available_since IS NULL, h.placed, h.id",
            (item_id,),
        ).fetchall()

    def _item_view(self, conn: sqlite3.Connection, row: sqlite3.Row) -> ItemView:
        loan = self._current_loan(conn, row["id"])
        queue = self._queue(conn, row["id"])
        if loan is not None:
            state = ItemState.CHARGED
        elif queue and queue[0]["available_since"] is not None:
            state = ItemState.ON_HOLD_SHELF
        else:
            state = ItemState(row["status"])
        return ItemView(
            library=row["library"],
            barcode=row["barcode"],
            title=row["title"],
            state=state,
            location=row["location"],
            call_number=row["call_number"],
            record_id=row["record_id"],
            due=_dt(loan["due"]) if loan is not None else None,
            borrower=loan["patron_barcode"] if loan is not None else "",
            hold_queue=len(queue),
            properties=row["properties"],
            loanable=bool(row["loanable"]),
        )

    def _standing(self, conn: sqlite3.Connection, patron: sqlite3.Row, when: datetime) -> _Standing:
        loans, overdue = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(due < ?), 0) FROM loans "
            "WHERE patron_id = ? AND returned_at IS NULL",
            (_ts(when), patron["id"]),
        ).fetchone()
        fines = conn.execute(
            "SELECT COALESCE(SUM(amount - paid), 0) FROM fees WHERE patron_id = ?",
            (patron["id"],),
        ).fetchone()[0]
        expires = patron["expires"]
        expired = expires is not None and when > _end_of_day(date.fromisoformat(expires))
        return _Standing(int(loans), int(overdue), int(fines), bool(patron["blocked"]), expired)

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
        if flags or standing.expired:
            flags.add(PatronFlag.CHARGE_DENIED)
        return frozenset(flags)

    @staticmethod
    def _limit_refusal(standing: _Standing, policy: LoanPolicy) -> Refusal | None:
        if standing.loans >= policy.max_loans:
            return Refusal.TOO_MANY_LOANS
        if policy.max_overdue and standing.overdue >= policy.max_overdue:
            return Refusal.TOO_MANY_OVERDUE
        if policy.max_fines and standing.fines >= policy.max_fines:
            return Refusal.EXCESSIVE_FINES
        return None

    @staticmethod
    def _block_refusal(standing: _Standing) -> Refusal | None:
        if standing.blocked:
            return Refusal.PATRON_BLOCKED
        if standing.expired:
            return Refusal.PATRON_EXPIRED
        return None

    def _patron_view(self, conn: sqlite3.Connection, row: sqlite3.Row, now: datetime) -> PatronView:
        policy = self.policy(row["library"])
        standing = self._standing(conn, row, now)
        loans = tuple(
            LoanView(
                item_barcode=r["barcode"],
                title=r["title"],
                checked_out=_dt(r["checked_out"]),
                due=_dt(r["due"]),
                renewals=r["renewals"],
                overdue=_dt(r["due"]) < now,
            )
            for r in conn.execute(
                "SELECT i.barcode, i.title, l.checked_out, l.due, l.renewals FROM loans l "
                "JOIN items i ON i.id = l.item_id WHERE l.patron_id = ? AND l.returned_at "
                "IS NULL ORDER BY l.due, i.barcode",
                (row["id"],),
            )
        )
        holds = []
        for hold in conn.execute(
            "SELECT h.*, i.barcode, i.title FROM holds h JOIN items i ON i.id = h.item_id "
            "WHERE h.patron_id = ? ORDER BY h.placed, h.id",
            (row["id"],),
        ).fetchall():
            queue = [q["id"] for q in self._queue(conn, hold["item_id"])]
            holds.append(
                HoldView(
                    item_barcode=hold["barcode"],
                    title=hold["title"],
                    placed=_dt(hold["placed"]),
                    queue_position=queue.index(hold["id"]) + 1,
                    available=hold["available_since"] is not None,
                    pickup_location=hold["pickup_location"],
                    expires=_dt(hold["expires"]) if hold["expires"] else None,
                )
            )
        fees = tuple(
            FeeView(
                fee_id=str(f["id"]),
                amount=Decimal(f["owed"]),
                kind=f["kind"],
                description=f["description"],
                item_barcode=f["barcode"] or "",
            )
            for f in conn.execute(
                "SELECT f.id, f.amount - f.paid AS owed, f.kind, f.description, i.barcode "
                "FROM fees f LEFT JOIN items i ON i.id = f.item_id "
                "WHERE f.patron_id = ? AND f.amount > f.paid ORDER BY f.created, f.id",
                (row["id"],),
            )
        )
        return PatronView(
            library=row["library"],
            barcode=row["barcode"],
            name=row["name"],
            flags=self._flags(standing, policy),
            language=row["language"],
            email=row["email"],
            phone=row["phone"],
            address=row["address"],
            has_pin=bool(row["pin_hash"]),
            blocked_message=row["block_message"],
            currency=policy.currency,
            fines_total=Decimal(standing.fines),
            fee_limit=Decimal(policy.max_fines) if policy.max_fines else None,
            loan_limit=policy.max_loans,
            overdue_limit=policy.max_overdue or None,
            loans=loans,
            holds=tuple(holds),
            fees=fees,
            expires=_end_of_day(date.fromisoformat(row["expires"])) if row["expires"] else None,
        )

    # -- the interface: reads ------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Everything: the embedded back end implements every operation."""
        return frozenset(Capability)

    def patron(self, library: str, barcode: str) -> PatronView | None:
        """The patron with this barcode in ``library``, or None."""
        now = _local(self._clock())

        def work(conn: sqlite3.Connection) -> PatronView | None:
            row, _ = self._find(conn, "patrons", library, barcode, Refusal.UNKNOWN_PATRON)
            return self._patron_view(conn, row, now) if row is not None else None

        return self._run(work, write=False)

    def check_pin(self, library: str, barcode: str, pin: str) -> bool:
        """True when ``pin`` is the patron's PIN. A patron without a PIN on record matches
        only the empty PIN. An unknown patron costs the same hash (no timing oracle)."""

        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT pin_hash FROM patrons WHERE library = ? AND barcode = ?",
                (library, barcode),
            ).fetchone()
            return None if row is None else str(row["pin_hash"])

        stored = self._run(work, write=False)
        if stored is None:
            verify_pin(pin, _DUMMY_HASH)
            return False
        if stored == "":
            return pin == ""
        return verify_pin(pin, stored)

    def item(self, library: str, barcode: str) -> ItemView | None:
        """The copy with this barcode in ``library``, or None."""

        def work(conn: sqlite3.Connection) -> ItemView | None:
            row, _ = self._find(conn, "items", library, barcode, Refusal.UNKNOWN_ITEM)
            return self._item_view(conn, row) if row is not None else None

        return self._run(work, write=False)

    # -- holds housekeeping --------------------------------------------------------------

    def _promote(self, conn: sqlite3.Connection, item_id: int, when: datetime) -> str:
        """Put the copy on the hold shelf for the first patron in its queue (it is back on
        the shelf, nobody's hold there yet); that patron's barcode, or ""."""
        queue = self._queue(conn, item_id)
        if not queue or queue[0]["available_since"] is not None:
            return ""
        library = conn.execute("SELECT library FROM items WHERE id = ?", (item_id,)).fetchone()
        days = self.policy(library["library"]).hold_shelf_days
        expires = _end_of_day(when.date() + timedelta(days=days))
        conn.execute(
            "UPDATE holds SET available_since = ?, expires = ? WHERE id = ?",
            (_ts(when), _ts(expires), queue[0]["id"]),
        )
        return str(queue[0]["patron_barcode"])

    def _expire_holds(self, conn: sqlite3.Connection, item_id: int, when: datetime) -> None:
        """Drop a hold whose time on the hold shelf is over; the next patron gets it."""
        gone = conn.execute(
            "DELETE FROM holds WHERE item_id = ? AND expires IS NOT NULL AND expires < ?",
            (item_id, _ts(when)),
        ).rowcount
        if gone and self._current_loan(conn, item_id) is None:
            self._promote(conn, item_id, when)

    # -- the interface: loans ------------------------------------------------------------

    def checkout(
        self, library: str, patron: str, item: str, when: datetime, *, renew_if_held: bool = True
    ) -> LoanOutcome:
        """Lend ``item`` to ``patron``; see the module docstring for the rules' order."""
        when = _local(when)

        def work(conn: sqlite3.Connection) -> LoanOutcome:
            prow, refusal = self._find(conn, "patrons", library, patron, Refusal.UNKNOWN_PATRON)
            irow, item_refusal = self._find(conn, "items", library, item, Refusal.UNKNOWN_ITEM)
            if prow is None:
                view = self._item_view(conn, irow) if irow is not None else None
                raise _Refused(LoanOutcome(False, view, refusal))
            if irow is None:
                raise _Refused(LoanOutcome(False, None, item_refusal))
            self._expire_holds(conn, irow["id"], when)
            policy = self.policy(library)
            standing = self._standing(conn, prow, when)

            def refuse(why: Refusal) -> _Refused:
                return _Refused(LoanOutcome(False, self._item_view(conn, irow), why))

            blocked = self._block_refusal(standing)
            if blocked is not None:
                raise refuse(blocked)
            loan = self._current_loan(conn, irow["id"])
            if loan is not None and loan["patron_id"] == prow["id"]:
                if not renew_if_held:
                    raise refuse(Refusal.ALREADY_ON_LOAN)
                return self._renew_loan(conn, prow, irow, loan, when, policy)
            if loan is not None:
                raise refuse(Refusal.ON_LOAN_TO_ANOTHER)
            if not irow["loanable"] or ItemState(irow["status"]) in _NOT_LENDABLE:
                raise refuse(Refusal.ITEM_NOT_FOR_LOAN)
            queue = self._queue(conn, irow["id"])
            if queue and queue[0]["patron_id"] != prow["id"]:
                raise refuse(Refusal.ON_HOLD_FOR_ANOTHER)
            limit = self._limit_refusal(standing, policy)
            if limit is not None:
                raise refuse(limit)
            if queue:  # this patron's hold is fulfilled by the loan
                conn.execute("DELETE FROM holds WHERE id = ?", (queue[0]["id"],))
            due = _due(when, policy)
            conn.execute(
                "INSERT INTO loans (item_id, patron_id, checked_out, due) VALUES (?, ?, ?, ?)",
                (irow["id"], prow["id"], _ts(when), _ts(due)),
            )
            return LoanOutcome(True, self._item_view(conn, irow), due=due)

        return self._run(work, write=True)

    def _renew_loan(
        self,
        conn: sqlite3.Connection,
        prow: sqlite3.Row,
        irow: sqlite3.Row,
        loan: sqlite3.Row,
        when: datetime,
        policy: LoanPolicy,
    ) -> LoanOutcome:
        """Extend ``loan`` (the patron's own), or refuse: at the renewal limit, when the
        patron's fines are over the limit, or when another patron holds the copy.

        A renewal that would not move the due date (a double scan at the kiosk) answers ok
        and changes nothing, so it does not use up a renewal. Renewing a loan that is
        already late first charges the days late so far: the new due date would
        otherwise erase them from the fine worked out at checkin."""

        def refuse(why: Refusal) -> _Refused:
            return _Refused(LoanOutcome(False, self._item_view(conn, irow), why))

        if loan["renewals"] >= policy.max_renewals:
            raise refuse(Refusal.RENEWAL_LIMIT)
        if policy.max_fines and self._standing(conn, prow, when).fines >= policy.max_fines:
            raise refuse(Refusal.EXCESSIVE_FINES)
        if any(h["patron_id"] != prow["id"] for h in self._queue(conn, irow["id"])):
            raise refuse(Refusal.ON_HOLD_FOR_ANOTHER)
        old_due = _dt(loan["due"])
        due = max(_due(when, policy), old_due)
        if due <= old_due:
            return LoanOutcome(True, self._item_view(conn, irow), due=old_due, renewal=True)
        self._charge_lateness(conn, loan, irow, when, policy)
        conn.execute(
            "UPDATE loans SET due = ?, renewals = renewals + 1 WHERE id = ?", (_ts(due), loan["id"])
        )
        return LoanOutcome(True, self._item_view(conn, irow), due=due, renewal=True)

    @staticmethod
    def _charge_lateness(
        conn: sqlite3.Connection,
        loan: sqlite3.Row,
        irow: sqlite3.Row,
        when: datetime,
        policy: LoanPolicy,
    ) -> int:
        """Charge fine_per_day for each whole day ``loan`` is late at ``when``; the fine."""
        fine = _days_late(_dt(loan["due"]), when) * policy.fine_per_day
        if fine > 0:
            conn.execute(
                "INSERT INTO fees (patron_id, amount, kind, description, item_id, created) "
                "VALUES (?, ?, 'overdue', ?, ?, ?)",
                (loan["patron_id"], fine, irow["title"], irow["id"], _ts(when)),
            )
        return fine

    def checkin(self, library: str, item: str, when: datetime, location: str = "") -> ReturnOutcome:
        """Take ``item`` back: the loan ends, lateness is charged as an "overdue" fee
        (fine_per_day for each whole day late), and the copy goes to the hold shelf for
        the first patron in its queue. A copy not on loan changes nothing (NOT_ON_LOAN)."""
        when = _local(when)

        def work(conn: sqlite3.Connection) -> ReturnOutcome:
            irow, refusal = self._find(conn, "items", library, item, Refusal.UNKNOWN_ITEM)
            if irow is None:
                raise _Refused(ReturnOutcome(False, None, refusal))
            loan = self._current_loan(conn, irow["id"])
            if loan is None:
                raise _Refused(
                    ReturnOutcome(False, self._item_view(conn, irow), Refusal.NOT_ON_LOAN)
                )
            # A kiosk's clock may be wrong: a return is never before its checkout (the
            # loan would end before it began) nor after now (fining days not yet passed).
            returned = min(max(when, _dt(loan["checked_out"])), _local(self._clock()))
            conn.execute(
                "UPDATE loans SET returned_at = ?, return_location = ? WHERE id = ?",
                (_ts(returned), location, loan["id"]),
            )
            if ItemState(irow["status"]) in _FOUND_ON_RETURN:
                conn.execute("UPDATE items SET status = ? WHERE id = ?",
                             (ItemState.AVAILABLE.value, irow["id"]))  # fmt: skip
            fine = self._charge_lateness(conn, loan, irow, returned, self.policy(library))
            conn.execute("DELETE FROM holds WHERE item_id = ? AND available_since IS NOT NULL",
                         (irow["id"],))  # fmt: skip
            hold_for = self._promote(conn, irow["id"], returned)
            return ReturnOutcome(
                True,
                self._item_view(conn, irow),
                borrower=loan["patron_barcode"],
                hold_for=hold_for,
                overdue_fine=Decimal(fine) if fine > 0 else None,
            )

        return self._run(work, write=True)

    def renew(self, library: str, patron: str, item: str, when: datetime) -> LoanOutcome:
        """Extend the loan of ``item`` to ``patron``: refused for a blocked or expired
        card, at max_renewals, or when another patron holds the copy."""
        when = _local(when)

        def work(conn: sqlite3.Connection) -> LoanOutcome:
            prow, refusal = self._find(conn, "patrons", library, patron, Refusal.UNKNOWN_PATRON)
            irow, item_refusal = self._find(conn, "items", library, item, Refusal.UNKNOWN_ITEM)
            if prow is None:
                view = self._item_view(conn, irow) if irow is not None else None
                raise _Refused(LoanOutcome(False, view, refusal))
            if irow is None:
                raise _Refused(LoanOutcome(False, None, item_refusal))
            blocked = self._block_refusal(self._standing(conn, prow, when))
            loan = self._current_loan(conn, irow["id"])
            why = blocked
            if why is None and loan is None:
                why = Refusal.NOT_ON_LOAN
            elif why is None and loan is not None and loan["patron_id"] != prow["id"]:
                why = Refusal.NOT_LOANED_TO_PATRON
            if why is not None or loan is None:
                raise _Refused(LoanOutcome(False, self._item_view(conn, irow), why))
            return self._renew_loan(conn, prow, irow, loan, when, self.policy(library))

        return self._run(work, write=True)

    def renew_all(self, library: str, patron: str, when: datetime) -> RenewAllOutcome:
        """Renew every loan of ``patron`` that may be renewed (one transaction)."""
        when = _local(when)

        def work(conn: sqlite3.Connection) -> RenewAllOutcome:
            prow, refusal = self._find(conn, "patrons", library, patron, Refusal.UNKNOWN_PATRON)
            if prow is None:
                raise _Refused(RenewAllOutcome(False, refusal=refusal))
            rows = conn.execute(
                "SELECT i.*, l.id AS loan_id FROM loans l JOIN items i ON i.id = l.item_id "
                "WHERE l.patron_id = ? AND l.returned_at IS NULL ORDER BY l.due, i.barcode",
                (prow["id"],),
            ).fetchall()
            blocked = self._block_refusal(self._standing(conn, prow, when))
            if blocked is not None:
                barcodes = tuple(r["barcode"] for r in rows)
                raise _Refused(RenewAllOutcome(False, unrenewed=barcodes, refusal=blocked))
            renewed, unrenewed = [], []
            policy = self.policy(library)
            for irow in rows:
                loan = self._current_loan(conn, irow["id"])
                assert loan is not None
                try:
                    self._renew_loan(conn, prow, irow, loan, when, policy)
                except _Refused:
                    unrenewed.append(irow["barcode"])
                else:
                    renewed.append(irow["barcode"])
            return RenewAllOutcome(True, tuple(renewed), tuple(unrenewed))

        return self._run(work, write=True)

    # -- the interface: holds ------------------------------------------------------------

    def place_hold(
        self, library: str, patron: str, item: str, when: datetime, pickup_location: str = ""
    ) -> HoldOutcome:
        """Queue ``patron`` for ``item`` (at the end of its queue)."""
        when = _local(when)

        def work(conn: sqlite3.Connection) -> HoldOutcome:
            prow, refusal = self._find(conn, "patrons", library, patron, Refusal.UNKNOWN_PATRON)
            irow, item_refusal = self._find(conn, "items", library, item, Refusal.UNKNOWN_ITEM)
            if prow is None or irow is None:
                raise _Refused(HoldOutcome(False, refusal or item_refusal))
            self._expire_holds(conn, irow["id"], when)

            def refuse(why: Refusal) -> _Refused:
                return _Refused(HoldOutcome(False, why, self._item_view(conn, irow)))

            blocked = self._block_refusal(self._standing(conn, prow, when))
            if blocked is not None:
                raise refuse(blocked)
            if not irow["loanable"]:
                raise refuse(Refusal.ITEM_NOT_FOR_LOAN)
            queue = self._queue(conn, irow["id"])
            if any(h["patron_id"] == prow["id"] for h in queue):
                raise refuse(Refusal.HOLD_EXISTS)
            loan = self._current_loan(conn, irow["id"])
            if loan is not None and loan["patron_id"] == prow["id"]:
                raise refuse(Refusal.ALREADY_ON_LOAN)
            conn.execute(
                "INSERT INTO holds (item_id, patron_id, placed, pickup_location) "
                "VALUES (?, ?, ?, ?)",
                (irow["id"], prow["id"], _ts(when), pickup_location),
            )
            available = False
            if loan is None and not queue:
                # On the shelf and nobody waiting: it is kept for this patron at once (and
                # the keeping expires), rather than blocking everyone else forever.
                available = self._promote(conn, irow["id"], when) == prow["barcode"]
            expires = None
            if available:
                row = conn.execute(
                    "SELECT expires FROM holds WHERE item_id = ? AND patron_id = ?",
                    (irow["id"], prow["id"]),
                ).fetchone()
                expires = _dt(row["expires"]) if row and row["expires"] else None
            return HoldOutcome(
                True,
                item=self._item_view(conn, irow),
                queue_position=len(queue) + 1,
                available=available,
                expires=expires,
                pickup_location=pickup_location,
            )

        return self._run(work, write=True)

    def cancel_hold(self, library: str, patron: str, item: str, when: datetime) -> HoldOutcome:
        """Remove ``patron`` from ``item``'s queue; a copy waiting on the hold shelf for
        them goes to the next patron in the queue."""
        when = _local(when)

        def work(conn: sqlite3.Connection) -> HoldOutcome:
            prow, refusal = self._find(conn, "patrons", library, patron, Refusal.UNKNOWN_PATRON)
            irow, item_refusal = self._find(conn, "items", library, item, Refusal.UNKNOWN_ITEM)
            if prow is None or irow is None:
                raise _Refused(HoldOutcome(False, refusal or item_refusal))
            hold = conn.execute(
                "SELECT * FROM holds WHERE item_id = ? AND patron_id = ?",
                (irow["id"], prow["id"]),
            ).fetchone()
            if hold is None:
                raise _Refused(
                    HoldOutcome(False, Refusal.NO_SUCH_HOLD, self._item_view(conn, irow))
                )
            conn.execute("DELETE FROM holds WHERE id = ?", (hold["id"],))
            if hold["available_since"] is not None:
                self._promote(conn, irow["id"], when)
            return HoldOutcome(True, item=self._item_view(conn, irow))

        return self._run(work, write=True)

    # -- the interface: fees and blocks --------------------------------------------------

    def add_fee(
        self,
        library: str,
        patron: str,
        amount: int,
        when: datetime,
        *,
        kind: str = "other",
        description: str = "",
        item: str = "",
    ) -> str | None:
        """Charge ``patron`` a fee (a lost book, say); its fee id, or None when the patron
        (or the item, when given) is unknown in ``library``."""
        when = _local(when)
        if amount <= 0:
            raise ValueError("a fee is a positive amount")

        def work(conn: sqlite3.Connection) -> str | None:
            prow, _ = self._find(conn, "patrons", library, patron, Refusal.UNKNOWN_PATRON)
            irow = None
            if item:
                irow, _ = self._find(conn, "items", library, item, Refusal.UNKNOWN_ITEM)
            if prow is None or (item and irow is None):
                return None
            cursor = conn.execute(
                "INSERT INTO fees (patron_id, amount, kind, description, item_id, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (prow["id"], amount, kind, description, irow["id"] if irow else None, _ts(when)),
            )
            return str(cursor.lastrowid)

        return self._run(work, write=True)

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
        """Record a payment: against ``fee_id`` when given, else the oldest fees first.

        An amount that is not positive, not whole currency units, or more than is owed
        is BAD_AMOUNT. A payment whose ``transaction_id`` was already recorded for this
        patron (a kiosk sending it again after a lost reply) is answered again, not paid
        twice."""
        when = _local(when)

        def work(conn: sqlite3.Connection) -> PaymentOutcome:
            prow, refusal = self._find(conn, "patrons", library, patron, Refusal.UNKNOWN_PATRON)
            if prow is None:
                raise _Refused(PaymentOutcome(False, refusal))

            def owed() -> int:
                return int(
                    conn.execute(
                        "SELECT COALESCE(SUM(amount - paid), 0) FROM fees WHERE patron_id = ?",
                        (prow["id"],),
                    ).fetchone()[0]
                )

            if (
                transaction_id
                and conn.execute(
                    "SELECT 1 FROM payments WHERE patron_id = ? AND transaction_id = ?",
                    (prow["id"], transaction_id),
                ).fetchone()
            ):
                return PaymentOutcome(True, None, transaction_id, Decimal(owed()))
            try:
                whole = int(amount) if amount == amount.to_integral_value() else None
            except (InvalidOperation, ValueError, OverflowError):
                whole = None
            if whole is None or whole <= 0:
                raise _Refused(PaymentOutcome(False, Refusal.BAD_AMOUNT, remaining=Decimal(owed())))
            if fee_id:
                fees = conn.execute(
                    "SELECT id, amount - paid AS due FROM fees WHERE id = ? AND patron_id = ? "
                    "AND amount > paid",
                    (fee_id if fee_id.isdigit() else -1, prow["id"]),
                ).fetchall()
                if not fees:
                    raise _Refused(
                        PaymentOutcome(False, Refusal.NO_SUCH_FEE, remaining=Decimal(owed()))
                    )
            else:
                fees = conn.execute(
                    "SELECT id, amount - paid AS due FROM fees WHERE patron_id = ? "
                    "AND amount > paid ORDER BY created, id",
                    (prow["id"],),
                ).fetchall()
            if whole > sum(f["due"] for f in fees):
                raise _Refused(PaymentOutcome(False, Refusal.BAD_AMOUNT, remaining=Decimal(owed())))
            left = whole
            for fee in fees:
                part = min(left, fee["due"])
                if part <= 0:
                    break
                conn.execute("UPDATE fees SET paid = paid + ? WHERE id = ?", (part, fee["id"]))
                left -= part
            cursor = conn.execute(
                "INSERT INTO payments (patron_id, amount, paid_at, transaction_id) "
                "VALUES (?, ?, ?, ?)",
                (prow["id"], whole, _ts(when), transaction_id),
            )
            txid = transaction_id or f"LT{cursor.lastrowid:08d}"
            if not transaction_id:
                conn.execute(
                    "UPDATE payments SET transaction_id = ? WHERE id = ?", (txid, cursor.lastrowid)
                )
            return PaymentOutcome(True, None, txid, Decimal(owed()))

        return self._run(work, write=True)

    def block_patron(self, library: str, patron: str, message: str, when: datetime) -> bool:
        """Block the card, keeping staff's ``message``; False when unknown in ``library``."""

        def work(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE patrons SET blocked = 1, block_message = ? "
                    "WHERE library = ? AND barcode = ?",
                    (message, library, patron),
                ).rowcount
                == 1
            )

        return self._run(work, write=True)

    def enable_patron(self, library: str, patron: str, when: datetime) -> bool:
        """Lift the card block; False when unknown in ``library``."""

        def work(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE patrons SET blocked = 0, block_message = '' "
                    "WHERE library = ? AND barcode = ?",
                    (library, patron),
                ).rowcount
                == 1
            )

        return self._run(work, write=True)

    def update_item_properties(
        self, library: str, item: str, properties: str, when: datetime
    ) -> ItemView | None:
        """Store the copy's SIP2 item properties text; None when unknown in ``library``."""

        def work(conn: sqlite3.Connection) -> ItemView | None:
            conn.execute(
                "UPDATE items SET properties = ? WHERE library = ? AND barcode = ?",
                (properties, library, item),
            )
            row, _ = self._find(conn, "items", library, item, Refusal.UNKNOWN_ITEM)
            return self._item_view(conn, row) if row is not None else None

        return self._run(work, write=True)

    def set_item_state(self, library: str, item: str, state: ItemState) -> bool:
        """Record a copy as lost, missing, in process... (or available again); False when
        unknown. Loans and holds keep deciding CHARGED and ON_HOLD_SHELF."""

        def work(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE items SET status = ? WHERE library = ? AND barcode = ?",
                    (state.value, library, item),
                ).rowcount
                == 1
            )

        return self._run(work, write=True)

    # -- staff queries -------------------------------------------------------------------

    def loans(
        self,
        library: str | None = None,
        patron: str | None = None,
        *,
        overdue_only: bool = False,
        when: datetime | None = None,
    ) -> list[LoanRow]:
        """Current loans (of one library, of one patron barcode), by due date; overdue is
        judged at ``when`` (default: now)."""
        now = _local(when or self._clock())
        sql = (
            "SELECT i.library, i.barcode AS item_barcode, i.title, p.barcode AS patron_barcode,"
            " p.name, l.checked_out, l.due, l.renewals FROM loans l "
            "JOIN items i ON i.id = l.item_id JOIN patrons p ON p.id = l.patron_id "
            "WHERE l.returned_at IS NULL"
        )
        args: list[Any] = []
        if library is not None:
            sql += " AND i.library = ?"
            args.append(library)
        if patron is not None:
            sql += " AND p.barcode = ?"
            args.append(patron)
        if overdue_only:
            sql += " AND l.due < ?"
            args.append(_ts(now))
        sql += " ORDER BY l.due, i.library, i.barcode"

        def work(conn: sqlite3.Connection) -> list[LoanRow]:
            return [
                LoanRow(
                    r["library"],
                    r["item_barcode"],
                    r["title"],
                    r["patron_barcode"],
                    r["name"],
                    _dt(r["checked_out"]),
                    _dt(r["due"]),
                    r["renewals"],
                    _dt(r["due"]) < now,
                )  # fmt: skip
                for r in conn.execute(sql, args)
            ]

        return self._run(work, write=False)

    def patrons(self, library: str | None = None, search: str | None = None) -> list[PatronRow]:
        """Borrowers (of one library), in barcode order; ``search`` matches every word
        against the name or barcode, ignoring case and diacritics ("nguyen van duc"
        finds "Nguyễn Văn Đức")."""
        words = fold_words(search) if search else []

        def work(conn: sqlite3.Connection) -> list[PatronRow]:
            sql = (
                "SELECT p.*, (SELECT COUNT(*) FROM loans l WHERE l.patron_id = p.id AND "
                "l.returned_at IS NULL) AS current FROM patrons p"
            )
            args: list[Any] = []
            if library is not None:
                sql += " WHERE p.library = ?"
                args.append(library)
            rows = []
            for r in conn.execute(sql + " ORDER BY p.library, p.barcode", args):
                haystack = f"{r['name_folded']} {fold(r['barcode'])}"
                if all(word in haystack for word in words):
                    rows.append(
                        PatronRow(
                            r["library"],
                            r["barcode"],
                            r["name"],
                            r["category"],
                            r["email"],
                            r["phone"],
                            bool(r["blocked"]),
                            r["current"],
                            date.fromisoformat(r["expires"]) if r["expires"] else None,
                        )  # fmt: skip
                    )
            return rows

        return self._run(work, write=False)

    def counts(self, library: str | None = None) -> dict[str, int]:
        """How many patrons, items, current loans, overdue loans, holds and unpaid fees."""
        now = _ts(_local(self._clock()))
        where, args = ("WHERE library = ?", [library]) if library is not None else ("", [])
        item_ids = f"SELECT id FROM items {where}"
        patron_ids = f"SELECT id FROM patrons {where}"

        def work(conn: sqlite3.Connection) -> dict[str, int]:
            def one(sql: str, *extra: Any) -> int:
                return int(conn.execute(sql, [*args, *extra]).fetchone()[0])

            return {
                "patrons": one(f"SELECT COUNT(*) FROM patrons {where}"),
                "items": one(f"SELECT COUNT(*) FROM items {where}"),
                "loans": one(
                    f"SELECT COUNT(*) FROM loans WHERE returned_at IS NULL AND item_id IN "
                    f"({item_ids})"
                ),
                "overdue": one(
                    f"SELECT COUNT(*) FROM loans WHERE returned_at IS NULL AND item_id IN "
                    f"({item_ids}) AND due < ?",
                    now,
                ),
                "holds": one(f"SELECT COUNT(*) FROM holds WHERE item_id IN ({item_ids})"),
                "unpaid_fees": one(
                    f"SELECT COUNT(*) FROM fees WHERE amount > paid AND patron_id IN ({patron_ids})"
                ),
            }

        return self._run(work, write=False)

    # -- bulk loading --------------------------------------------------------------------

    def load(
        self,
        patrons: Iterable[PatronRecord] = (),
        items: Iterable[ItemRecord] = (),
        loans: Iterable[LoanRecord] = (),
    ) -> LoadSummary:
        """Create or update patrons, items and current loans in one transaction (by
        library and barcode: loading the same data again changes nothing). Problems (a
        loan of an unknown copy, say) raise :class:`LoadError` and nothing is stored."""
        patron_list, item_list, loan_list = list(patrons), list(items), list(loans)

        def work(conn: sqlite3.Connection) -> LoadSummary:
            problems: list[str] = []
            summary = LoadSummary(
                self._load_patrons(conn, patron_list),
                self._load_items(conn, item_list),
                self._load_loans(conn, loan_list, problems),
            )
            if problems:
                raise LoadError(problems)
            return summary

        return self._run(work, write=True)

    @staticmethod
    def _upsert(
        conn: sqlite3.Connection, table: str, library: str, barcode: str, values: dict[str, Any]
    ) -> str:
        """Insert or update one row by (library, barcode): "new", "updated" or "unchanged"."""
        row = conn.execute(
            f"SELECT * FROM {table} WHERE library = ? AND barcode = ?", (library, barcode)
        ).fetchone()
        if row is None:
            columns = ["library", "barcode", *values]
            marks = ", ".join("?" * len(columns))
            conn.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                (library, barcode, *values.values()),
            )
            return "new"
        changed = {k: v for k, v in values.items() if row[k] != v}
        if not changed:
            return "unchanged"
        assignments = ", ".join(f"{k} = ?" for k in changed)
        conn.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?", (*changed.values(), row["id"])
        )
        return "updated"

    def _load_patrons(self, conn: sqlite3.Connection, records: list[PatronRecord]) -> ImportCounts:
        tally = {"new": 0, "updated": 0, "unchanged": 0}
        for p in records:
            name = normalize(p.name.strip())
            values: dict[str, Any] = {
                "name": name,
                "name_folded": fold(name),
                "category": p.category,
                "email": p.email,
                "phone": p.phone,
                "address": normalize(p.address),
                "language": p.language or "vi",
                "expires": p.expires.isoformat() if p.expires else None,
            }
            if p.pin is not None:
                stored = conn.execute(
                    "SELECT pin_hash FROM patrons WHERE library = ? AND barcode = ?",
                    (p.library, p.barcode),
                ).fetchone()
                old = stored["pin_hash"] if stored is not None else ""
                if p.pin == "":
                    values["pin_hash"] = ""
                elif old and verify_pin(p.pin, old):
                    values["pin_hash"] = old  # the same PIN: keep its hash (no spurious update)
                else:
                    values["pin_hash"] = hash_pin(p.pin)
            tally[self._upsert(conn, "patrons", p.library, p.barcode, values)] += 1
        return ImportCounts(**tally)

    def _load_items(self, conn: sqlite3.Connection, records: list[ItemRecord]) -> ImportCounts:
        tally = {"new": 0, "updated": 0, "unchanged": 0}
        for i in records:
            values = {
                "title": normalize(i.title.strip()),
                "record_id": i.record_id,
                "location": normalize(i.location),
                "call_number": i.call_number,
                "loanable": int(i.loanable),
            }
            tally[self._upsert(conn, "items", i.library, i.barcode, values)] += 1
        return ImportCounts(**tally)

    def _load_loans(
        self, conn: sqlite3.Connection, records: list[LoanRecord], problems: list[str]
    ) -> ImportCounts:
        tally = {"new": 0, "updated": 0, "unchanged": 0}
        for loan in records:
            where = f"{loan.where}: " if loan.where else ""
            item = conn.execute(
                "SELECT id FROM items WHERE library = ? AND barcode = ?",
                (loan.library, loan.item_barcode),
            ).fetchone()
            patron = conn.execute(
                "SELECT id FROM patrons WHERE library = ? AND barcode = ?",
                (loan.library, loan.patron_barcode),
            ).fetchone()
            if item is None:
                problems.append(f"{where}column 'item_barcode': no copy {loan.item_barcode!r} "
                                f"in library {loan.library!r}")  # fmt: skip
            if patron is None:
                problems.append(f"{where}column 'patron_barcode': no borrower "
                                f"{loan.patron_barcode!r} in library {loan.library!r}")  # fmt: skip
            if loan.due < loan.checked_out:
                problems.append(f"{where}column 'due_date': before the checkout date")
            if item is None or patron is None or loan.due < loan.checked_out:
                continue
            out, due = _ts(_local(loan.checked_out)), _ts(_local(loan.due))
            current = self._current_loan(conn, item["id"])
            if current is not None and current["patron_id"] == patron["id"]:
                if (current["checked_out"], current["due"], current["renewals"]) == (
                    out, due, loan.renewals
                ):  # fmt: skip
                    tally["unchanged"] += 1
                    continue
                conn.execute(
                    "UPDATE loans SET checked_out = ?, due = ?, renewals = ? WHERE id = ?",
                    (out, due, loan.renewals, current["id"]),
                )
                tally["updated"] += 1
                continue
            if current is not None:  # the copy has gone to someone else since: close that loan
                conn.execute(
                    "UPDATE loans SET returned_at = ? WHERE id = ?",
                    (max(out, current["checked_out"]), current["id"]),
                )
            conn.execute(
                "INSERT INTO loans (item_id, patron_id, checked_out, due, renewals) "
                "VALUES (?, ?, ?, ?, ?)",
                (item["id"], patron["id"], out, due, loan.renewals),
            )
            tally["new"] += 1
        return ImportCounts(**tally)

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, in id order (tests compare states with it)."""
        tables = ("patrons", "items", "loans", "holds", "fees", "payments")

        def work(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
            return {
                t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY id")]
                for t in tables
            }

        return self._run(work, write=False)
