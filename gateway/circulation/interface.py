"""What a circulation back end does, in the library's terms rather than SIP2's.

SIP2 is one client of this interface; issue 8's upstream-SIP2 and SQL back ends are other
implementations of it. A back end answers with facts (a patron, a copy, the outcome of a
loan) and with a :class:`Refusal` when it says no; how a refusal is worded, and in which
language, is the protocol's business, so back ends never produce screen text.

Every method is a blocking call (a database, or another server) and is run in the thread
pool. A back end that cannot answer at all (database locked, ILS unreachable) raises
:class:`BackendUnavailable`; everything else is an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Protocol, runtime_checkable

__all__ = [
    "BackendUnavailable",
    "Refusal",
    "PatronFlag",
    "ItemState",
    "Capability",
    "PatronView",
    "LoanView",
    "HoldView",
    "FeeView",
    "ItemView",
    "LoanOutcome",
    "ReturnOutcome",
    "RenewAllOutcome",
    "HoldOutcome",
    "PaymentOutcome",
    "CirculationBackend",
]


class BackendUnavailable(Exception):
    """The back end could not answer (not a refusal: the kiosk should try again later)."""


class Refusal(StrEnum):
    """Why a back end said no. The protocol turns each into a message in the patron's language."""

    UNKNOWN_PATRON = "unknown_patron"
    WRONG_PIN = "wrong_pin"
    PIN_REQUIRED = "pin_required"
    PATRON_BLOCKED = "patron_blocked"
    PATRON_EXPIRED = "patron_expired"
    TOO_MANY_LOANS = "too_many_loans"
    TOO_MANY_OVERDUE = "too_many_overdue"
    EXCESSIVE_FINES = "excessive_fines"
    UNKNOWN_ITEM = "unknown_item"
    ITEM_NOT_FOR_LOAN = "item_not_for_loan"
    ON_LOAN_TO_ANOTHER = "on_loan_to_another"
    ALREADY_ON_LOAN = "already_on_loan"  #: to this patron, and renewal was not asked for
    ON_HOLD_FOR_ANOTHER = "on_hold_for_another"
    NOT_ON_LOAN = "not_on_loan"
    NOT_LOANED_TO_PATRON = "not_loaned_to_patron"
    RENEWAL_LIMIT = "renewal_limit"
    OTHER_LIBRARY = "other_library"  #: the copy or patron belongs to another institution
    NO_SUCH_HOLD = "no_such_hold"
    HOLD_EXISTS = "hold_exists"
    NO_SUCH_FEE = "no_such_fee"
    BAD_AMOUNT = "bad_amount"
    NOT_SUPPORTED = "not_supported"


class PatronFlag(Enum):
    """The 14 patron-status positions of SIP2, which are also the usual ILS block reasons.

    The value is the position in SIP2's patron status string.
    """

    CHARGE_DENIED = 0
    RENEWAL_DENIED = 1
    RECALL_DENIED = 2
    HOLD_DENIED = 3
    CARD_LOST = 4
    TOO_MANY_CHARGED = 5
    TOO_MANY_OVERDUE = 6
    TOO_MANY_RENEWALS = 7
    TOO_MANY_CLAIMED_RETURNED = 8
    TOO_MANY_LOST = 9
    EXCESSIVE_FINES = 10
    EXCESSIVE_FEES = 11
    RECALL_OVERDUE = 12
    TOO_MANY_BILLED = 13


class ItemState(Enum):
    """Circulation status of a copy; the values are SIP2's circulation status codes."""

    OTHER = 1
    ON_ORDER = 2
    AVAILABLE = 3
    CHARGED = 4
    CHARGED_RECALLED = 5
    IN_PROCESS = 6
    RECALLED = 7
    ON_HOLD_SHELF = 8
    WAITING_RESHELVING = 9
    IN_TRANSIT = 10
    CLAIMED_RETURNED = 11
    LOST = 12
    MISSING = 13


class Capability(StrEnum):
    """Operations a back end can perform (SIP2's supported-messages field is built from them)."""

    PATRON_STATUS = "patron_status"
    CHECKOUT = "checkout"
    CHECKIN = "checkin"
    BLOCK_PATRON = "block_patron"
    PATRON_INFO = "patron_info"
    END_SESSION = "end_session"
    FEE_PAID = "fee_paid"
    ITEM_INFO = "item_info"
    ITEM_STATUS_UPDATE = "item_status_update"
    PATRON_ENABLE = "patron_enable"
    HOLD = "hold"
    RENEW = "renew"
    RENEW_ALL = "renew_all"


@dataclass(frozen=True, slots=True)
class LoanView:
    """One current loan."""

    item_barcode: str
    title: str
    checked_out: datetime
    due: datetime
    renewals: int
    overdue: bool


@dataclass(frozen=True, slots=True)
class HoldView:
    """One hold (reservation) a patron has placed."""

    item_barcode: str
    title: str
    placed: datetime
    queue_position: int
    available: bool  #: waiting on the hold shelf for this patron
    pickup_location: str = ""
    expires: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeeView:
    """One unpaid fee or fine."""

    fee_id: str
    amount: Decimal
    kind: str  #: "overdue", "lost", "other"
    description: str
    item_barcode: str = ""


@dataclass(frozen=True, slots=True)
class PatronView:
    """A patron as the back end knows them, with what SIP2's status and info replies show."""

    library: str
    barcode: str
    name: str
    flags: frozenset[PatronFlag]
    language: str = "vi"  #: ISO 639-1 of the patron's preferred language
    email: str = ""
    phone: str = ""
    address: str = ""
    has_pin: bool = True
    blocked_message: str = ""  #: why the card is blocked, as staff wrote it
    currency: str = "VND"
    fines_total: Decimal = Decimal(0)
    fee_limit: Decimal | None = None
    loan_limit: int | None = None
    overdue_limit: int | None = None
    hold_limit: int | None = None
    loans: tuple[LoanView, ...] = ()
    holds: tuple[HoldView, ...] = ()
    fees: tuple[FeeView, ...] = ()
    expires: datetime | None = None

    @property
    def overdue(self) -> tuple[LoanView, ...]:
        """Loans past their due date."""
        return tuple(loan for loan in self.loans if loan.overdue)

    @property
    def may_borrow(self) -> bool:
        """True when nothing denies charge privileges."""
        return PatronFlag.CHARGE_DENIED not in self.flags


@dataclass(frozen=True, slots=True)
class ItemView:
    """A copy as the back end knows it."""

    library: str
    barcode: str
    title: str
    state: ItemState
    location: str = ""
    call_number: str = ""
    record_id: str = ""
    due: datetime | None = None
    borrower: str = ""  #: patron barcode, only for the protocol's own checks; never logged
    hold_queue: int = 0
    properties: str = ""
    media_type: str = "001"  #: SIP2 media type (001 book)
    loanable: bool = True


@dataclass(frozen=True, slots=True)
class LoanOutcome:
    """The answer to a checkout or renewal."""

    ok: bool
    item: ItemView | None
    refusal: Refusal | None = None
    due: datetime | None = None
    renewal: bool = False  #: the item was already on loan to this patron and was renewed
    fee: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ReturnOutcome:
    """The answer to a checkin."""

    ok: bool
    item: ItemView | None
    refusal: Refusal | None = None
    borrower: str = ""  #: who had it (patron barcode)
    hold_for: str = ""  #: the copy goes to the hold shelf for this patron
    overdue_fine: Decimal | None = None
    sort_bin: str = ""


@dataclass(frozen=True, slots=True)
class RenewAllOutcome:
    """The answer to renew-all: which copies were renewed and which were not."""

    ok: bool
    renewed: tuple[str, ...] = ()
    unrenewed: tuple[str, ...] = ()
    refusal: Refusal | None = None


@dataclass(frozen=True, slots=True)
class HoldOutcome:
    """The answer to a hold request (place or cancel)."""

    ok: bool
    refusal: Refusal | None = None
    item: ItemView | None = None
    queue_position: int | None = None
    available: bool = False
    expires: datetime | None = None
    pickup_location: str = ""


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """The answer to a fee payment."""

    ok: bool
    refusal: Refusal | None = None
    transaction_id: str = ""
    remaining: Decimal = field(default=Decimal(0))


@runtime_checkable
class CirculationBackend(Protocol):
    """A library's circulation system, as the gateway's protocols use it.

    ``library`` arguments are the member library (institution) the calling account serves;
    a back end refuses with :attr:`Refusal.OTHER_LIBRARY` for patrons or copies of another
    library rather than acting across institutions. ``when`` is the transaction time,
    local time without a time zone (what SIP2 kiosks send and show).
    """

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The operations this back end performs."""
        ...

    def patron(self, library: str, barcode: str) -> PatronView | None:
        """The patron with this barcode, or None when unknown."""
        ...

    def check_pin(self, library: str, barcode: str, pin: str) -> bool:
        """True when ``pin`` is the patron's PIN (compared in constant time)."""
        ...

    def item(self, library: str, barcode: str) -> ItemView | None:
        """The copy with this barcode, or None when unknown."""
        ...

    def checkout(
        self, library: str, patron: str, item: str, when: datetime, *, renew_if_held: bool = True
    ) -> LoanOutcome:
        """Lend ``item`` to ``patron``; a copy already on loan to them is renewed instead
        when ``renew_if_held``. Nothing changes when the outcome is not ok."""
        ...

    def checkin(self, library: str, item: str, when: datetime, location: str = "") -> ReturnOutcome:
        """Take ``item`` back; fines for lateness are charged here."""
        ...

    def renew(self, library: str, patron: str, item: str, when: datetime) -> LoanOutcome:
        """Extend the loan of ``item`` to ``patron``."""
        ...

    def renew_all(self, library: str, patron: str, when: datetime) -> RenewAllOutcome:
        """Renew every loan of ``patron`` that may be renewed."""
        ...

    def place_hold(
        self, library: str, patron: str, item: str, when: datetime, pickup_location: str = ""
    ) -> HoldOutcome:
        """Queue ``patron`` for ``item``."""
        ...

    def cancel_hold(self, library: str, patron: str, item: str, when: datetime) -> HoldOutcome:
        """Remove ``patron`` from ``item``'s queue."""
        ...

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
        """Record a payment: against ``fee_id`` when given, else the oldest fees first."""
        ...

    def block_patron(self, library: str, patron: str, message: str, when: datetime) -> bool:
        """Block the patron's card (a kiosk retained it, say); False when unknown."""
        ...

    def enable_patron(self, library: str, patron: str, when: datetime) -> bool:
        """Lift a card block; False when unknown."""
        ...

    def update_item_properties(
        self, library: str, item: str, properties: str, when: datetime
    ) -> ItemView | None:
        """Store the copy's SIP2 item properties text; None when unknown."""
        ...
