"""Loan policies: how long a loan lasts, how many a borrower may have, what lateness costs.

The configuration has one default policy (``circulation.policy``) and optional per-library
overrides (``circulation.policies``), where a key left out is inherited from the default.
Amounts are whole currency units (đồng: VND has no minor unit), kept as ``int`` so that
fine arithmetic is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ..config import Config

__all__ = ["LoanPolicy", "DEFAULT_POLICY", "Policies", "policies_from_config"]


@dataclass(frozen=True, slots=True)
class LoanPolicy:
    """One library's loan rules (the defaults are the configuration's defaults)."""

    loan_days: int = 14
    #: Most items on loan at once; 0 means the library lends nothing.
    max_loans: int = 5
    max_renewals: int = 2
    #: Fine for each whole day late, in whole currency units.
    fine_per_day: int = 1000
    #: Unpaid fees at or above this block borrowing; 0: fees never block.
    max_fines: int = 50000
    #: Overdue loans at or above this block borrowing; 0: overdue loans never block.
    max_overdue: int = 0
    hold_shelf_days: int = 7
    currency: str = "VND"

    def with_values(self, values: Mapping[str, Any]) -> LoanPolicy:
        """This policy with the keys of ``values`` that are set (not None) replaced."""
        known = {f.name for f in fields(self)}
        changes = {k: v for k, v in values.items() if k in known and v is not None}
        return replace(self, **changes)


DEFAULT_POLICY = LoanPolicy()


@dataclass(frozen=True, slots=True)
class Policies:
    """The default policy and the libraries that have their own."""

    default: LoanPolicy = DEFAULT_POLICY
    by_library: Mapping[str, LoanPolicy] | None = None

    def for_library(self, library: str) -> LoanPolicy:
        """The policy that applies to ``library`` (its own, else the default)."""
        if self.by_library and library in self.by_library:
            return self.by_library[library]
        return self.default


def policies_from_config(config: Config) -> Policies:
    """The configured policies. A configuration without a ``circulation`` section (written
    before the embedded back end existed) gets the documented defaults."""
    circulation = config.values.get("circulation") or {}
    default = DEFAULT_POLICY.with_values(circulation.get("policy") or {})
    own: dict[str, LoanPolicy] = {}
    for entry in circulation.get("policies") or []:
        library = entry.get("library")
        if library:
            own[str(library)] = default.with_values(entry)
    return Policies(default, own)
