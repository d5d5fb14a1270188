"""Circulation: the interface SIP2 lends through, and the gateway's embedded back end."""

from .interface import (
    BackendUnavailable,
    Capability,
    CirculationBackend,
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

__all__ = [
    "BackendUnavailable",
    "Capability",
    "CirculationBackend",
    "FeeView",
    "HoldOutcome",
    "HoldView",
    "ItemState",
    "ItemView",
    "LoanOutcome",
    "LoanView",
    "PatronFlag",
    "PatronView",
    "PaymentOutcome",
    "Refusal",
    "RenewAllOutcome",
    "ReturnOutcome",
]
