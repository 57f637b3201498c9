"""The close, adjustments and reconcile against a real (embedded) warehouse, no Flink:
clicks are inserted directly, the payouts rebuilt, then the books are driven in-process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from pipelines.config import load_settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.books import Totals
from pipelines.warehouse.close import (
    MonthNotFinalError,
    adjustments,
    book_adjustments,
    close_month,
    closed_months,
)
from pipelines.warehouse.migrations import migrate
from pipelines.warehouse.reconcile import run_checks
from pipelines.warehouse.rollups import rebuild_payouts
from pipelines.warehouse.statements import MonthNotClosedError, statement_lines
from pipelines.warehouse.tables import arrow_schema

pytestmark = pytest.mark.integration

JAN, FEB, MAR, APR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)
SETTINGS = load_settings()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def click(
    click_id: str, when: str, creator: str = "c-1", gross: int = 100, **extra: Any
) -> dict[str, Any]:
    payable = extra.pop("payable", True)
    creator_micros = gross * SETTINGS.revenue_share_bp // 10_000 if payable else 0
    row = {
        "click_id": click_id,
        "event_time": at(when),
        "user_id": "u",
        "ad_id": "a",
        "campaign_id": f"cmp-{gross}",
        "video_id": "v",
        "creator_id": creator,
        "status": "valid",
        "currency": "USD",
        "gross_micros": gross,
        "creator_micros": creator_micros,
        "platform_micros": gross - creator_micros,
        "creator_eligible": payable,
        "payable": payable,
        "not_payable_reason": None if payable else "creator_not_eligible",
        "attributed_view_id": f"view-{click_id}",
        "attributed_view_time": at(when),
    }
    row.update(extra)
    return row


def load(wh: Warehouse, *clicks: dict[str, Any]) -> None:
    wh.insert_arrow(
        "fct_attributed_clicks",
        pa.Table.from_pylist(list(clicks), arrow_schema("fct_attributed_clicks")),
    )
    wh.optimize_final("fct_attributed_clicks")
    rebuild_payouts(wh)


def eligible_days(wh: Warehouse, creator: str, *days: str) -> None:
    rows = [
        {
            "creator_id": creator,
            "as_of": at(f"{d}T00:00:00"),
            "consistently_high": True,
            "eligible": True,
            "high_windows": 7,
            "reasons": [],
            "followers": 30_000,
            "lifetime_views": 2_000_000,
            "country": "US",
            "birth_date": date(1990, 1, 1),
            "profile_updated_at": at("2025-12-01T00:00:00"),
        }
        for d in days
    ]
    wh.insert_arrow("fct_eligibility", pa.Table.from_pylist(rows, arrow_schema("fct_eligibility")))
    campaigns = [
        {
            "campaign_id": f"cmp-{cpc}",
            "updated_at": at("2025-12-01T00:00:00"),
            "advertiser_id": "adv",
            "cpc_micros": cpc,
            "currency": "USD",
            "starts_at": at("2025-12-01T00:00:00"),
            "ends_at": at("2027-01-01T00:00:00"),
            "status": "active",
        }
        for cpc in (100, 300)
    ]
    wh.insert_arrow("dim_campaigns", pa.Table.from_pylist(campaigns, arrow_schema("dim_campaigns")))


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    warehouse = Warehouse.connect(str(tmp_path / "wh"))
    try:
        migrate(warehouse)
        eligible_days(warehouse, "c-1", "2026-01-10", "2026-01-20", "2026-02-05", "2026-03-05")
        yield warehouse
    finally:
        warehouse.close()


def failing(wh: Warehouse) -> set[str]:
    return {r.name for r in run_checks(wh, SETTINGS) if not r.ok}


def test_a_month_is_final_only_after_the_hold_back(wh: Warehouse) -> None:
    late_in_january = click("k2", "2026-02-01 01:35:59.999", payable=False)
    load(wh, click("k1", "2026-01-10 12:00:00"), late_in_january)
    with pytest.raises(MonthNotFinalError, match=r"2026-02-01T01:36:00.000Z"):
        close_month(wh, SETTINGS, JAN)
    load(wh, click("k3", "2026-02-01 01:36:00", payable=False))
    assert not close_month(wh, SETTINGS, JAN).record.forced
    assert failing(wh) == set()


def test_adjustments_follow_the_open_month_and_freeze_with_it(wh: Warehouse) -> None:
    load(wh, click("k1", "2026-01-10 12:00:00"), click("f1", "2026-02-05 12:00:00"))
    close_month(wh, SETTINGS, JAN, force=True)
    # a late January click: booked into February (open)
    load(wh, click("k2", "2026-01-20 12:00:00", gross=300))
    (first,) = book_adjustments(wh, "run-a")
    assert (first.for_month, first.booked_month, first.delta) == (
        JAN,
        FEB,
        Totals(1, 1, 300, 150, 150),
    )
    assert book_adjustments(wh, "run-b") == []  # nothing new: nothing booked
    # another one while February is still open: the February row is REPLACED (whole difference)
    load(wh, click("k3", "2026-01-20 13:00:00", gross=100))
    (second,) = book_adjustments(wh, "run-c")
    assert second.delta == Totals(2, 2, 400, 200, 200) and second.booked_month == FEB
    assert len(adjustments(wh)) == 1
    assert failing(wh) == set()
    # closing February freezes that row; the next change goes to March
    close_month(wh, SETTINGS, FEB, force=True)
    load(wh, click("k4", "2026-01-20 14:00:00", gross=100))
    (third,) = book_adjustments(wh, "run-d")
    assert (third.booked_month, third.delta) == (MAR, Totals(1, 1, 100, 50, 50))
    assert {(a.booked_month, a.delta.valid_clicks) for a in adjustments(wh)} == {(FEB, 2), (MAR, 1)}
    assert failing(wh) == set()
    lines = statement_lines(wh, FEB)
    assert [
        (ln.statement.valid_clicks, ln.adjustments.valid_clicks, ln.pay_micros) for ln in lines
    ] == [(1, 2, 50 + 200)]


def test_closing_a_month_first_books_what_earlier_months_owe_it(wh: Warehouse) -> None:
    load(wh, click("k1", "2026-01-10 12:00:00"))
    close_month(wh, SETTINGS, JAN, force=True)
    load(wh, click("k2", "2026-01-20 12:00:00"))  # no run booked it yet
    assert failing(wh) == {"closed_months_balance"}
    outcome = close_month(wh, SETTINGS, FEB, force=True)
    assert [(a.for_month, a.booked_month, a.run_id) for a in outcome.booked] == [
        (JAN, FEB, "close-2026-02")
    ]
    assert failing(wh) == set()


def test_a_difference_that_goes_away_leaves_a_zero_row(wh: Warehouse) -> None:
    load(wh, click("k1", "2026-01-10 12:00:00"))
    close_month(wh, SETTINGS, JAN, force=True)
    load(wh, click("k2", "2026-01-20 12:00:00"))
    book_adjustments(wh, "run-a")
    wh.command(
        f"ALTER TABLE {wh.table('fct_attributed_clicks')} DELETE WHERE click_id = 'k2' "
        "SETTINGS mutations_sync = 2"
    )
    rebuild_payouts(wh)
    (undone,) = book_adjustments(wh, "run-b")
    assert undone.delta.is_zero and undone.reason == "clicks_restated"
    assert failing(wh) == set()
    close_month(wh, SETTINGS, FEB, force=True)
    assert statement_lines(wh, FEB) == []  # a zero correction is not a line to pay


def test_closing_twice_changes_nothing_and_statements_need_a_close(wh: Warehouse) -> None:
    load(wh, click("k1", "2026-01-10 12:00:00"))
    with pytest.raises(MonthNotClosedError):
        statement_lines(wh, JAN)
    first = close_month(wh, SETTINGS, JAN, force=True)
    again = close_month(wh, SETTINGS, JAN, force=True)
    assert again.already_closed and again.record == first.record
    assert list(closed_months(wh)) == [JAN]
    (line,) = statement_lines(wh, JAN)
    assert (line.creator_id, line.currency, line.statement.gross_micros) == ("c-1", "USD", 100)


def test_orphan_statement_rows_of_an_interrupted_close_are_replaced(wh: Warehouse) -> None:
    load(wh, click("k1", "2026-01-10 12:00:00"))
    orphan = {
        "creator_id": "c-9",
        "month": JAN,
        "currency": "USD",
        "valid_clicks": 5,
        "payable_clicks": 5,
        "gross_micros": 5,
        "creator_micros": 2,
        "platform_micros": 3,
        "statement_id": "S-202601-orphan",
        "closed_at": at("2026-02-02T00:00:00"),
        "content_hash": "x",
    }
    wh.insert_arrow(
        "fct_payout_statements",
        pa.Table.from_pylist([orphan], arrow_schema("fct_payout_statements")),
    )
    assert "statements_intact" in failing(wh)
    close_month(wh, SETTINGS, JAN, force=True)
    assert [line.creator_id for line in statement_lines(wh, JAN)] == ["c-1"]
    assert failing(wh) == set()


def test_a_payable_click_on_a_day_without_an_eligible_evaluation(wh: Warehouse) -> None:
    load(wh, click("k1", "2026-01-11 12:00:00"))  # evaluations exist on 01-10 and 01-20 only
    results = {r.name: r for r in run_checks(wh, SETTINGS)}
    check = results["payable_eligible"]
    assert not check.ok and check.examples[0].startswith("k1: creator c-1 on 2026-01-11")
    assert "none (not eligible)" in check.examples[0]
