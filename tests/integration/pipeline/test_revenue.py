"""Revenue per click and the daily payout rollup (integer micros)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from .conftest import RunResult
from .scenario import (
    CPC_LATE,
    CPC_MAIN,
    CPC_PAUSE_LATER,
    CPC_PRICE_NEW,
    CPC_PRICE_OLD,
    CPC_WINDOW,
)

pytestmark = pytest.mark.integration

NOT_ELIGIBLE = "creator_not_eligible"

# click -> (status, currency, gross, creator, platform, creator_eligible, payable, reason)
EXPECTED: dict[str, tuple[str, str | None, int, int, int, bool, bool, str | None]] = {
    # c-rev evaluated at 01-07 (4 HIGH windows): not eligible for [01-07, 01-08)
    "rev-before": ("valid", "USD", CPC_MAIN, 0, CPC_MAIN, False, False, NOT_ELIGIBLE),
    # evaluated at 01-08 (5 HIGH): eligible for [01-08, 01-09); odd price: floor for creator
    "rev-at": ("valid", "USD", 123_457, 61_728, 61_729, True, True, None),
    # price change at 12:00:00.000 is in force from that ms on
    "rev-eur-old": ("valid", "EUR", CPC_PRICE_OLD, 500_000, 500_001, True, True, None),
    "rev-eur-new": ("valid", "EUR", CPC_PRICE_NEW, 1_000_000, 1_000_000, True, True, None),
    # c-rev2 eligible at 01-10, no evaluation at 01-11: nothing carries forward
    "rev2-no-eval": ("valid", "USD", CPC_MAIN, 0, CPC_MAIN, False, False, NOT_ELIGIBLE),
    "rev2-eval": ("valid", "USD", CPC_MAIN, 61_728, 61_729, True, True, None),
    # c-clk is never eligible
    "s-at-start": ("valid", "USD", CPC_WINDOW, 0, CPC_WINDOW, False, False, NOT_ELIGIBLE),
    "s-at-first-version": ("valid", "USD", CPC_LATE, 0, CPC_LATE, False, False, NOT_ELIGIBLE),
    "s-before-pause": (
        "valid",
        "USD",
        CPC_PAUSE_LATER,
        0,
        CPC_PAUSE_LATER,
        False,
        False,
        NOT_ELIGIBLE,
    ),
}

INVALID = ["rev-bot", "s-paused", "s-at-end", "s-unknown", "s-nv-none", "d9-b", "f21-00"]


@pytest.mark.parametrize("click_id", sorted(EXPECTED))
def test_click_money(main_run: RunResult, click_id: str) -> None:
    row = main_run.click(click_id)
    got = tuple(
        row[k]
        for k in (
            "status",
            "currency",
            "gross_micros",
            "creator_micros",
            "platform_micros",
            "creator_eligible",
            "payable",
            "not_payable_reason",
        )
    )
    assert got == EXPECTED[click_id]


@pytest.mark.parametrize("click_id", INVALID)
def test_invalid_clicks_carry_zero(main_run: RunResult, click_id: str) -> None:
    row = main_run.click(click_id)
    assert row["status"] != "valid"
    assert (row["gross_micros"], row["creator_micros"], row["platform_micros"]) == (0, 0, 0)
    assert row["payable"] is False


def test_unknown_campaign_has_no_currency(main_run: RunResult) -> None:
    assert main_run.click("s-unknown")["currency"] is None


def test_money_invariants_on_every_click(main_run: RunResult) -> None:
    for row in main_run.tables["fct_attributed_clicks"]:
        assert isinstance(row["gross_micros"], int), row
        assert row["creator_micros"] + row["platform_micros"] == row["gross_micros"], row
        if row["status"] != "valid":
            assert row["gross_micros"] == 0, row
            assert row["payable"] is False, row
        elif row["payable"]:
            assert row["creator_micros"] == row["gross_micros"] * 5000 // 10000, row
        else:
            assert row["creator_micros"] == 0, row
            assert row["not_payable_reason"] == NOT_ELIGIBLE, row


def test_payable_only_when_an_evaluation_at_the_click_day_is_eligible(
    main_run: RunResult,
) -> None:
    """Cross-check: payable <=> the evaluation at the click's UTC midnight is eligible."""
    eligible = {
        (r["creator_id"], str(r["as_of"])[:10])
        for r in main_run.tables["fct_eligibility"]
        if r["eligible"]
    }
    for row in main_run.tables["fct_attributed_clicks"]:
        if row["status"] == "valid":
            in_force = (row["creator_id"], str(row["event_time"])[:10]) in eligible
            assert row["payable"] is in_force, row


def test_daily_payouts_by_hand(main_run: RunResult) -> None:
    got = {
        (r["creator_id"], r["day"], r["currency"]): (
            r["valid_clicks"],
            r["payable_clicks"],
            r["gross_micros"],
            r["creator_micros"],
            r["platform_micros"],
        )
        for r in main_run.tables["agg_creator_payouts_daily"]
        if r["creator_id"] in ("c-rev", "c-rev2", "c-vc")
    }
    assert got == {
        ("c-rev", "2026-01-07", "USD"): (1, 0, 123_457, 0, 123_457),
        ("c-rev", "2026-01-08", "USD"): (1, 1, 123_457, 61_728, 61_729),
        ("c-rev", "2026-01-08", "EUR"): (2, 2, 3_000_001, 1_500_000, 1_500_001),
        ("c-rev2", "2026-01-11", "USD"): (1, 0, 123_457, 0, 123_457),
        ("c-rev2", "2026-01-12", "USD"): (1, 1, 123_457, 61_728, 61_729),
        ("c-vc", "2026-01-14", "USD"): (3, 0, 370_371, 0, 370_371),
    }


def test_daily_payouts_equal_the_sum_over_clicks(main_run: RunResult) -> None:
    sums: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for row in main_run.tables["fct_attributed_clicks"]:
        if row["status"] != "valid" or row["creator_id"] is None:
            continue
        acc = sums[(row["creator_id"], str(row["event_time"])[:10], row["currency"])]
        acc[0] += 1
        acc[1] += int(row["payable"])
        acc[2] += row["gross_micros"]
        acc[3] += row["creator_micros"]
        acc[4] += row["platform_micros"]
    got = {
        (r["creator_id"], r["day"], r["currency"]): [
            r["valid_clicks"],
            r["payable_clicks"],
            r["gross_micros"],
            r["creator_micros"],
            r["platform_micros"],
        ]
        for r in main_run.tables["agg_creator_payouts_daily"]
    }
    assert got == dict(sums)
