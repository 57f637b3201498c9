"""Pure rules of the books: ledger equation, months, finality, statement hashes, adjustments."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.errors import InputError
from pipelines.warehouse.books import (
    ZERO,
    LedgerCounts,
    Totals,
    adjustment_reason,
    adjustments_to_book,
    finality,
    first_open_month,
    format_instant,
    month_end_ms,
    month_label,
    next_month,
    parse_month,
    statement_hash,
    statement_id,
    statements_hash,
)

JAN = date(2026, 1, 1)
FEB = date(2026, 2, 1)
MAR = date(2026, 3, 1)
MINUTE = 60_000
HOUR = 60 * MINUTE


def test_ledger_equation() -> None:
    ok = LedgerCounts(lines=10, accepted=5, rejected=3, replays=1, late=1)
    assert ok.balanced and ok.unaccounted == 0 and ok.accounted == 10
    lost = LedgerCounts(lines=10, accepted=5, rejected=3, replays=1, late=0)
    assert not lost.balanced and lost.unaccounted == 1
    extra = LedgerCounts(lines=0, accepted=1, rejected=0, replays=0, late=0)
    assert not extra.balanced and extra.unaccounted == -1
    assert LedgerCounts(0, 0, 0, 0, 0).balanced


@pytest.mark.parametrize(
    ("text", "month"),
    [("2026-01", JAN), (" 2026-12 ", date(2026, 12, 1)), ("0001-01", date(1, 1, 1))],
)
def test_parse_month(text: str, month: date) -> None:
    assert parse_month(text) == month


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "202601", "2026-01-01", "", "x"])
def test_parse_month_refuses(text: str) -> None:
    with pytest.raises(InputError, match="YYYY-MM"):
        parse_month(text)


def test_months() -> None:
    assert next_month(date(2025, 12, 1)) == JAN
    assert next_month(JAN) == FEB
    assert month_label(date(2026, 3, 1)) == "2026-03"
    assert format_instant(month_end_ms(JAN)) == "2026-02-01T00:00:00.000Z"
    assert format_instant(month_end_ms(date(2025, 12, 17))) == "2026-01-01T00:00:00.000Z"
    assert first_open_month(JAN, set()) == FEB
    assert first_open_month(JAN, {JAN, FEB}) == MAR
    assert first_open_month(JAN, {MAR}) == FEB


def test_finality_threshold_is_exact() -> None:
    rule = {
        "watermark_delay_ms": 5 * MINUTE,
        "allowed_lateness_ms": HOUR,
        "holdback_ms": 30 * MINUTE,
    }
    needed = month_end_ms(JAN) + 5 * MINUTE + HOUR + 30 * MINUTE
    assert finality(JAN, needed, **rule).is_final
    assert finality(JAN, needed, **rule).final_after_ms == needed
    late = finality(JAN, needed - 1, **rule)
    assert not late.is_final
    text = late.explain()
    assert "2026-01 is not final" in text
    assert "2026-02-01T01:34:59.999Z" in text  # what was seen
    assert "2026-02-01T01:35:00.000Z" in text  # what is needed
    assert "5 min" in text and "1 h" in text and "30 min" in text
    nothing = finality(JAN, None, **rule)
    assert not nothing.is_final and "no event time" in nothing.explain()
    assert "is final" in finality(JAN, needed, **rule).explain()


def test_statement_ids_are_stable_and_distinct() -> None:
    first = statement_id(JAN, "c-1", "USD")
    assert first == statement_id(JAN, "c-1", "USD")
    assert first.startswith("S-202601-") and len(first) == len("S-202601-") + 16
    others = {statement_id(FEB, "c-1", "USD"), statement_id(JAN, "c-1", "EUR")}
    others.add(statement_id(JAN, "c-2", "USD"))
    assert first not in others and len(others) == 3


def test_statement_hash_changes_with_any_micro() -> None:
    totals = Totals(3, 2, 300, 100, 200)
    base = statement_hash("S", "c-1", JAN, "USD", totals)
    assert base == statement_hash("S", "c-1", JAN, "USD", Totals(3, 2, 300, 100, 200))
    changed = [
        Totals(4, 2, 300, 100, 200),
        Totals(3, 1, 300, 100, 200),
        Totals(3, 2, 301, 100, 200),
        Totals(3, 2, 300, 101, 200),
        Totals(3, 2, 300, 100, 199),
    ]
    assert all(statement_hash("S", "c-1", JAN, "USD", t) != base for t in changed)
    assert statement_hash("S", "c-1", FEB, "USD", totals) != base
    assert statement_hash("S", "c-1", JAN, "EUR", totals) != base
    # the field separator keeps ("ab", "c") apart from ("a", "bc")
    split = statement_hash("S", "a", JAN, "bc", totals)
    assert statement_hash("S", "ab", JAN, "c", totals) != split


def test_month_seal_is_order_independent_and_complete() -> None:
    rows = [("S-1", "h1"), ("S-2", "h2")]
    assert statements_hash(rows) == statements_hash(list(reversed(rows)))
    assert statements_hash(rows) != statements_hash(rows[:1])
    assert statements_hash(rows) != statements_hash([("S-1", "h1"), ("S-2", "h3")])


def test_totals_arithmetic_is_integer() -> None:
    a = Totals(2, 1, 2_000_001, 1_000_000, 1_000_001)
    b = Totals(1, 1, 1_000_000, 500_000, 500_000)
    assert a - b == Totals(1, 0, 1_000_001, 500_000, 500_001)
    assert (a - b) + b == a
    assert (a - a).is_zero and ZERO.is_zero and not a.is_zero
    big = Totals(gross_micros=2**62) + Totals(gross_micros=2**62)
    assert big.gross_micros == 2**63  # Python ints never overflow or round
    assert all(type(v) is int for v in big.values())


@pytest.mark.parametrize(
    ("delta", "reason"),
    [
        (Totals(2, 1, 10, 5, 5), "clicks_added"),
        (Totals(-1, -1, -10, -5, -5), "clicks_removed"),
        (Totals(0, 1, 0, 5, -5), "clicks_restated"),
        (ZERO, "clicks_restated"),
    ],
)
def test_adjustment_reason(delta: Totals, reason: str) -> None:
    assert adjustment_reason(delta) == reason


def test_unchanged_month_books_nothing() -> None:
    stated = {("c-1", "USD"): Totals(3, 2, 300, 100, 200)}
    assert adjustments_to_book(stated, stated, {}) == {}


def test_added_clicks_are_booked_once() -> None:
    stated = {("c-1", "USD"): Totals(3, 2, 300, 100, 200)}
    now = {("c-1", "USD"): Totals(5, 3, 500, 150, 350), ("c-2", "EUR"): Totals(1, 0, 7, 0, 7)}
    plan = adjustments_to_book(now, stated, {})
    assert plan == {
        ("c-1", "USD"): Totals(2, 1, 200, 50, 150),
        ("c-2", "EUR"): Totals(1, 0, 7, 0, 7),
    }
    # the same data again: the open month carries exactly that, nothing to (re)write
    assert adjustments_to_book(now, stated, plan) == {}


def test_a_further_change_replaces_the_open_row() -> None:
    stated = {("c-1", "USD"): Totals(3, 2, 300, 100, 200)}
    booked = {("c-1", "USD"): Totals(2, 1, 200, 50, 150)}
    now = {("c-1", "USD"): Totals(6, 3, 600, 150, 450)}
    # the row is rewritten with the whole difference, not the increment since last time
    assert adjustments_to_book(now, stated, booked) == {("c-1", "USD"): Totals(3, 1, 300, 50, 250)}


def test_a_vanished_difference_writes_a_zero_row() -> None:
    stated = {("c-1", "USD"): Totals(3, 2, 300, 100, 200)}
    booked = {("c-1", "USD"): Totals(2, 1, 200, 50, 150)}
    assert adjustments_to_book(stated, stated, booked) == {("c-1", "USD"): ZERO}


def test_adjustments_frozen_in_closed_months_count_as_booked() -> None:
    """Statement + an adjustment already frozen in a closed month: only the rest is open."""
    frozen = {("c-1", "USD"): Totals(3, 2, 300, 100, 200) + Totals(1, 1, 100, 50, 50)}
    now = {("c-1", "USD"): Totals(4, 3, 400, 150, 250)}
    assert adjustments_to_book(now, frozen, {}) == {}
    removed = {("c-1", "USD"): Totals(3, 2, 300, 100, 200)}
    assert adjustments_to_book(removed, frozen, {}) == {
        ("c-1", "USD"): Totals(-1, -1, -100, -50, -50)
    }


def test_a_creator_whose_clicks_all_went_away() -> None:
    stated = {("c-1", "USD"): Totals(1, 1, 100, 50, 50)}
    assert adjustments_to_book({}, stated, {}) == {("c-1", "USD"): Totals(-1, -1, -100, -50, -50)}
