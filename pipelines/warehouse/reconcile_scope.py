"""What a reconcile check looks at (:class:`Scope`) and what it found (:class:`CheckResult`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from pipelines.warehouse.books import ZERO, Key, Totals, next_month

CLICKS = "fct_attributed_clicks"
PAYOUTS = "agg_creator_payouts_daily"
LEDGER = "raw_ingest_ledger"
REJECTED = "raw_rejected_events"


@dataclass(frozen=True)
class Scope:
    """UTC days to check (both inclusive; None = unbounded)."""

    day_from: date | None = None
    day_to: date | None = None

    def days(self, expr: str) -> str:
        """SQL condition on a Date expression (``1`` when unbounded)."""
        parts = []
        if self.day_from is not None:
            parts.append(f"{expr} >= '{self.day_from.isoformat()}'")
        if self.day_to is not None:
            parts.append(f"{expr} <= '{self.day_to.isoformat()}'")
        return " AND ".join(parts) or "1"

    def overlaps(self, month: date) -> bool:
        end = next_month(month)
        after_start = self.day_from is None or end > self.day_from
        before_end = self.day_to is None or month <= self.day_to
        return after_start and before_end

    def describe(self) -> str:
        if self.day_from is None and self.day_to is None:
            return "all days"
        start = self.day_from.isoformat() if self.day_from else "the beginning"
        end = self.day_to.isoformat() if self.day_to else "the end"
        return f"days {start} to {end}"


@dataclass(frozen=True)
class CheckResult:
    name: str
    description: str
    checked: int  # rows (or keys) examined
    offending: int  # how many break the invariant
    examples: tuple[str, ...]  # offending keys with a detail, at most the limit

    @property
    def ok(self) -> bool:
        return self.offending == 0


def compare_totals(
    expected: Mapping[Key, Totals], actual: Mapping[Key, Totals]
) -> dict[Key, tuple[Totals, Totals]]:
    """Keys whose totals differ: ``{key: (expected, actual)}`` (a missing key counts as zero)."""
    return {
        key: (expected.get(key, ZERO), actual.get(key, ZERO))
        for key in sorted(set(expected) | set(actual))
        if expected.get(key, ZERO) != actual.get(key, ZERO)
    }
