"""A re-run over a superset after the close: statements frozen, adjustments exact, and
nothing booked twice when the same input runs again; then February closes with them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from subprocess import CompletedProcess

import pytest

from .conftest import DELTAS, Books, Closing, Step

pytestmark = pytest.mark.integration

EXPECTED = {
    # k-j5: one more payable USD click of c-pay on 01-29
    ("c-pay", "USD"): (1, 1, 123_457, 61_728, 61_729),
    # k-j6: c-new (no profile, not eligible) has a valid EUR click on 01-30
    ("c-new", "EUR"): (1, 0, 1_000_001, 0, 1_000_001),
}


def test_statements_do_not_change(closed: Closing, superset: Step) -> None:
    assert superset.tables["fct_payout_statements"] == closed.tables["fct_payout_statements"]
    assert superset.tables["fct_payout_closes"] == closed.tables["fct_payout_closes"]


def test_the_difference_is_booked_into_the_next_open_month(superset: Step) -> None:
    rows = superset.tables["fct_payout_adjustments"]
    got = {(r["creator_id"], r["currency"]): tuple(r[d] for d in DELTAS) for r in rows}
    assert got == EXPECTED
    for row in rows:
        assert (row["for_month"], row["booked_month"]) == ("2026-01-01", "2026-02-01")
        assert row["reason"] == "clicks_added"
        assert row["run_id"].startswith("run-")
    assert superset.run is not None
    assert "Adjustments of closed months booked by this run" in superset.run.stdout


def test_reconcile_holds_after_the_superset(superset: Step) -> None:
    assert superset.reconcile.returncode == 0, superset.reconcile.stdout


def test_the_same_superset_again_books_nothing(superset: Step, superset_again: Step) -> None:
    for table in ("fct_payout_adjustments", "fct_attributed_clicks", "agg_creator_payouts_daily"):
        assert superset_again.tables[table] == superset.tables[table], table
    assert superset_again.reconcile.returncode == 0, superset_again.reconcile.stdout


@dataclass(frozen=True)
class February:
    close: CompletedProcess[str]
    statements: list[dict[str, object]]
    trace: CompletedProcess[str]
    trace_jsonl: list[dict[str, object]]
    reconcile: CompletedProcess[str]


@pytest.fixture(scope="module")
def february(books: Books, superset_again: Step) -> February:
    close = books.pulse("close", "--month", "2026-02", "--force")
    lines = books.pulse("statements", "--month", "2026-02", "--format", "jsonl")
    assert lines.returncode == 0, lines.stderr
    january = books.query(
        "SELECT statement_id FROM fct_payout_statements "
        "WHERE month = '2026-01-01' AND creator_id = 'c-pay' AND currency = 'USD'"
    )
    statement = str(january[0]["statement_id"])
    trace = books.pulse("trace", "--statement", statement)
    trace_jsonl = books.pulse("trace", "--statement", statement, "--format", "jsonl")
    return February(
        close,
        [json.loads(line) for line in lines.stdout.splitlines()],
        trace,
        [json.loads(line) for line in trace_jsonl.stdout.splitlines()],
        books.pulse("reconcile"),
    )


def test_a_forced_close_says_so(february: February) -> None:
    assert february.close.returncode == 0, february.close.stderr
    assert february.close.stdout.startswith("FORCED: closed 2026-02")
    assert "is not final" in february.close.stdout


def test_february_pays_its_statement_plus_the_january_adjustments(february: February) -> None:
    lines = {(r["creator_id"], r["currency"]): r for r in february.statements}
    assert set(lines) == {("c-pay", "USD"), ("c-pay", "EUR"), ("c-new", "EUR")}
    usd = lines[("c-pay", "USD")]  # k-f1 in February + the k-j5 adjustment of January
    assert (usd["creator_micros"], usd["adj_creator_micros"], usd["pay_creator_micros"]) == (
        61_728,
        61_728,
        123_456,
    )
    assert usd["adjusted_months"] == ["2026-01"]
    eur = lines[("c-pay", "EUR")]  # k-f2: February's own, no adjustment
    assert (eur["creator_micros"], eur["adj_creator_micros"], eur["pay_creator_micros"]) == (
        500_000,
        0,
        500_000,
    )
    new = lines[("c-new", "EUR")]  # only a correction of January, nothing in February
    assert new["statement_id"] is None
    assert (new["adj_valid_clicks"], new["adj_gross_micros"], new["pay_creator_micros"]) == (
        1,
        1_000_001,
        0,
    )
    assert february.reconcile.returncode == 0, february.reconcile.stdout


def test_trace_from_statement_to_clicks_views_and_eligibility(february: February) -> None:
    assert february.trace.returncode == 0, february.trace.stderr
    text = february.trace.stdout
    for title in ("statement (frozen", "adjustments of this month", "days", "valid clicks"):
        assert title in text
    clicks = [r for r in february.trace_jsonl if r["section"] == "valid"]
    assert [c["click_id"] for c in clicks] == ["k-j1", "k-j5", "k-j3"]
    for click in clicks:
        assert click["attributed_view_id"] == f"view-{click['click_id']}"
        assert click["eligible"] is True and click["eligibility_reasons"] == []
        assert str(click["eligibility_as_of"])[:10] == click["day"]
    days = [r["day"] for r in february.trace_jsonl if r["section"] == "days"]
    assert days == ["2026-01-26", "2026-01-29", "2026-01-31"]
    (adjustment,) = [r for r in february.trace_jsonl if r["section"] == "adjustments"]
    assert adjustment["creator_micros_delta"] == 61_728
