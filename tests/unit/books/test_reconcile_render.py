"""The reconcile verdict and table (pure), and comparing totals."""

from __future__ import annotations

from datetime import date

from pipelines.warehouse.books import ZERO, Totals
from pipelines.warehouse.reconcile import (
    CheckResult,
    Scope,
    compare_totals,
    render_results,
    verdict_line,
)

OK = CheckResult("click_split", "creator + platform = gross", 10, 0, ())
BAD = CheckResult(
    "payouts_match_clicks",
    "payout row = sum of clicks",
    4,
    2,
    ("c-1 2026-01-05 USD: gross_micros 101 but clicks sum to 100", "c-2 2026-01-06 EUR: x"),
)


def test_verdict_all_hold() -> None:
    assert verdict_line([OK, OK]) == "reconcile: OK, all 2 checks hold"


def test_verdict_names_the_failed_check_and_first_key() -> None:
    line = verdict_line([OK, BAD])
    assert line.startswith("reconcile: FAILED, 1 of 2 checks: payouts_match_clicks (2)")
    assert "c-1 2026-01-05 USD" in line
    assert "\n" not in line


def test_render_lists_every_check_and_the_offending_keys() -> None:
    text = render_results([OK, BAD], Scope(date(2026, 1, 1), date(2026, 1, 31)))
    assert "days 2026-01-01 to 2026-01-31" in text
    lines = text.splitlines()
    assert any(line.startswith("click_split") and " ok " in line for line in lines)
    assert any(line.startswith("payouts_match_clicks") and "FAILED" in line for line in lines)
    assert "payouts_match_clicks: 2 offending" in text
    assert "  c-2 2026-01-06 EUR: x" in lines
    assert lines[-1] == verdict_line([OK, BAD])


def test_scope() -> None:
    everything = Scope()
    assert everything.days("day") == "1" and everything.describe() == "all days"
    jan = Scope(date(2026, 1, 10), date(2026, 1, 20))
    assert jan.days("day") == "day >= '2026-01-10' AND day <= '2026-01-20'"
    assert jan.overlaps(date(2026, 1, 1))
    assert not jan.overlaps(date(2026, 2, 1)) and not jan.overlaps(date(2025, 12, 1))
    assert Scope(date(2026, 1, 31), None).overlaps(date(2026, 1, 1))
    assert not Scope(date(2026, 2, 1), None).overlaps(date(2026, 1, 1))


def test_compare_totals() -> None:
    a = {("c-1", "USD"): Totals(1, 1, 10, 5, 5), ("c-2", "USD"): Totals(1, 0, 3, 0, 3)}
    b = {("c-1", "USD"): Totals(1, 1, 10, 5, 5), ("c-3", "EUR"): Totals(2, 0, 4, 0, 4)}
    assert compare_totals(a, b) == {
        ("c-2", "USD"): (Totals(1, 0, 3, 0, 3), ZERO),
        ("c-3", "EUR"): (ZERO, Totals(2, 0, 4, 0, 4)),
    }
    assert compare_totals(a, a) == {}
