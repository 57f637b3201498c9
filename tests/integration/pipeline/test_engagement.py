"""7-day engagement windows sliding 1 day, aligned to UTC midnight, [start, end)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from .builder import DAY, iso, ms
from .conftest import Row, RunResult

pytestmark = pytest.mark.integration

BUSY_STARTS = [iso(ms("2025-12-28T00:00:00Z") + i * DAY) for i in range(7)]  # 12-28 .. 01-03


def windows(run: RunResult, creator: str) -> list[Row]:
    return run.rows("fct_engagement_windows", creator_id=creator)


def counts(row: Row) -> tuple[int, int, int]:
    return row["views"], row["comments"], row["valid_clicks"]


def end_day(row: Row) -> str:
    return str(row["window_end"])[:10]


def test_window_bounds_are_seven_days_at_midnight(main_run: RunResult) -> None:
    rows = main_run.tables["fct_engagement_windows"]
    assert rows
    for row in rows:
        start, end = ms(row["window_start"]), ms(row["window_end"])
        assert start % DAY == 0, row
        assert end - start == 7 * DAY, row


def test_event_at_midnight_belongs_to_windows_starting_that_day(main_run: RunResult) -> None:
    rows = windows(main_run, "c-midnight")
    assert [r["window_start"] for r in rows] == [
        f"2026-01-{d:02d}T00:00:00.000Z" for d in range(6, 13)
    ]
    assert [r["window_end"] for r in rows] == [
        f"2026-01-{d:02d}T00:00:00.000Z" for d in range(13, 20)
    ]
    for row in rows:
        assert (row["views"], row["unique_viewers"], row["comments"], row["valid_clicks"]) == (
            1,
            1,
            0,
            0,
        )
        assert row["engagement_rate"] is None
        assert row["high"] is False


def test_rate_exactly_two_percent_is_high_and_bots_are_excluded(main_run: RunResult) -> None:
    """c-exact: 1000 views by 500 viewers, 20 comments (+5 bot views, 3 bot comments)."""
    rows = windows(main_run, "c-exact")
    assert [r["window_start"] for r in rows] == BUSY_STARTS
    for row in rows:
        assert counts(row) == (1000, 20, 0)
        assert row["unique_viewers"] == pytest.approx(500, rel=0.02)
        assert row["engagement_rate"] == pytest.approx(0.02)
        assert row["high"] is True


def test_rate_just_below_two_percent_is_not_high(main_run: RunResult) -> None:
    rows = windows(main_run, "c-below")
    assert [r["window_start"] for r in rows] == BUSY_STARTS
    for row in rows:
        assert counts(row) == (1000, 19, 0)
        assert row["unique_viewers"] == pytest.approx(1000, rel=0.02)
        assert row["engagement_rate"] == pytest.approx(0.019)
        assert row["high"] is False


def test_rate_is_null_below_1000_views(main_run: RunResult) -> None:
    rows = windows(main_run, "c-lowvol")
    assert len(rows) == 7
    for row in rows:
        assert counts(row) == (999, 100, 0)
        assert row["engagement_rate"] is None
        assert row["high"] is False


def test_counts_exclude_bots_duplicates_replays_and_late_events(main_run: RunResult) -> None:
    """c-vc on 01-14: views vc-va (+bot vc-vb, +replay, +late), comments vc-c1 (+replay),
    vc-c3 (no UA), bot vc-c2; clicks vc-k1, vc-k3, vc-k5 valid, vc-k2 dup, vc-k4 bot."""
    rows = windows(main_run, "c-vc")
    assert [r["window_start"] for r in rows] == [
        f"2026-01-{d:02d}T00:00:00.000Z" for d in range(8, 15)
    ]
    for row in rows:
        assert (row["views"], row["unique_viewers"], row["comments"], row["valid_clicks"]) == (
            1,
            1,
            2,
            3,
        )
        assert row["engagement_rate"] is None
        assert row["high"] is False


def test_comment_alone_makes_window_rows(main_run: RunResult) -> None:
    rows = windows(main_run, "c-comment-only")
    assert [r["window_start"] for r in rows] == [
        f"2026-01-{d:02d}T00:00:00.000Z" for d in range(9, 16)
    ]
    for row in rows:
        assert (row["views"], row["unique_viewers"], row["comments"], row["valid_clicks"]) == (
            0,
            0,
            1,
            0,
        )
        assert row["engagement_rate"] is None
        assert row["high"] is False


def test_bot_only_creator_has_no_window(main_run: RunResult) -> None:
    assert windows(main_run, "c-botonly") == []
    assert main_run.rows("fct_eligibility", creator_id="c-botonly") == []


def test_valid_clicks_alone_make_window_rows(main_run: RunResult) -> None:
    """c-rev: busy day 01-03, valid clicks 01-07T23:59:59.999 (1) and 01-08 (3)."""
    got = {
        end_day(r): (counts(r), r["engagement_rate"], r["high"]) for r in windows(main_run, "c-rev")
    }
    expected: dict[str, tuple[tuple[int, int, int], float | None, bool]] = {}
    for d in range(4, 8):
        expected[f"2026-01-{d:02d}"] = ((1000, 25, 0), 0.025, True)
    expected["2026-01-08"] = ((1000, 25, 1), 0.026, True)
    expected["2026-01-09"] = ((1000, 25, 4), 0.029, True)
    expected["2026-01-10"] = ((1000, 25, 4), 0.029, True)
    for d in range(11, 15):
        expected[f"2026-01-{d:02d}"] = ((0, 0, 4), None, False)
    expected["2026-01-15"] = ((0, 0, 3), None, False)
    assert got.keys() == expected.keys()
    for key, (want_counts, want_rate, want_high) in expected.items():
        have_counts, have_rate, have_high = got[key]
        assert have_counts == want_counts, key
        assert have_rate == (None if want_rate is None else pytest.approx(want_rate)), key
        assert have_high is want_high, key


def test_window_rule_holds_on_every_row(main_run: RunResult) -> None:
    for row in main_run.tables["fct_engagement_windows"]:
        views, comments, clicks = counts(row)
        if views < 1000:
            assert row["engagement_rate"] is None, row
            assert row["high"] is False, row
        else:
            assert row["engagement_rate"] == pytest.approx((comments + clicks) / views), row
            assert row["high"] is ((comments + clicks) * 50 >= views), row
        assert views + comments + clicks > 0, row


def test_valid_clicks_match_the_attributed_clicks(main_run: RunResult) -> None:
    """Every window's valid_clicks = the valid clicks of its creator in [start, end)."""
    valid = [r for r in main_run.tables["fct_attributed_clicks"] if r["status"] == "valid"]
    for row in main_run.tables["fct_engagement_windows"]:
        start, end = row["window_start"], row["window_end"]
        expected = sum(
            1
            for c in valid
            if c["creator_id"] == row["creator_id"] and start <= c["event_time"] < end
        )
        assert row["valid_clicks"] == expected, row


def test_click_only_windows_exist_for_every_creator_with_valid_clicks(
    main_run: RunResult,
) -> None:
    valid = [r for r in main_run.tables["fct_attributed_clicks"] if r["status"] == "valid"]
    keys = {(r["creator_id"], r["window_start"]) for r in main_run.tables["fct_engagement_windows"]}
    for click in valid:
        t = datetime.fromisoformat(click["event_time"].replace("Z", "+00:00"))
        midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
        for back in range(7):
            start = iso(int((midnight - timedelta(days=back)).timestamp() * 1000))
            assert (click["creator_id"], start) in keys, (click["click_id"], start)
