"""Rejected input (file, 1-based line, reason, raw payload), replays and late events."""

from __future__ import annotations

import pytest

from .builder import FILES, iso
from .conftest import RunResult
from .scenario import (
    CLICK_WATERMARK,
    LATE_VIEW_BOUNDARY,
    REJECTED,
    VIEW_WATERMARK,
)

pytestmark = pytest.mark.integration


def expected_rejections(run: RunResult) -> list[tuple[str, str, int, str, str]]:
    return sorted(
        (stream, run.path(FILES[stream]), line, reason, raw)
        for stream, rows in REJECTED.items()
        for line, (raw, reason) in enumerate(rows, start=1)
    )


def test_every_rejected_line_with_file_line_reason_and_raw(main_run: RunResult) -> None:
    actual = sorted(
        (r["stream"], r["source"], r["line"], r["reason"], r["raw"])
        for r in main_run.tables["raw_rejected_events"]
    )
    assert actual == expected_rejections(main_run)


def test_every_reason_code_occurs(main_run: RunResult) -> None:
    reasons = {r["reason"] for r in main_run.tables["raw_rejected_events"]}
    assert reasons == {
        "invalid_json",
        "not_object",
        "missing_field",
        "wrong_type",
        "negative_count",
        "invalid_value",
        "unknown_country",
        "unknown_currency",
        "future_event_time",
    }


@pytest.mark.parametrize(
    ("stream", "line", "reason"),
    [
        ("view", 1, "invalid_json"),
        ("view", 2, "invalid_json"),  # a blank line
        ("view", 13, "missing_field"),  # missing country AND negative count
        ("view", 14, "negative_count"),  # negative count AND unknown country
        ("view", 10, "future_event_time"),  # 10 min + 1 ms ahead of --as-of
        ("creator_profile", 4, "wrong_type"),  # 2001-02-29 is no date
        ("campaign", 3, "unknown_currency"),  # DEM: withdrawn, not active
        ("ad_click", 3, "invalid_json"),
    ],
)
def test_selected_rejections(main_run: RunResult, stream: str, line: int, reason: str) -> None:
    row = main_run.one("raw_rejected_events", stream=stream, line=line)
    assert row["reason"] == reason
    assert row["source"] == main_run.path(FILES[stream])


def test_raw_payload_is_kept_byte_for_byte(main_run: RunResult) -> None:
    assert main_run.one("raw_rejected_events", stream="view", line=15)["raw"] == (
        '{ "event_id" : "spaced" }'
    )
    assert main_run.one("raw_rejected_events", stream="view", line=17)["raw"] == (
        '{"event_id":"ü-unicode"}'
    )
    assert main_run.one("raw_rejected_events", stream="view", line=2)["raw"] == ""


def test_rejected_events_count_nowhere(main_run: RunResult) -> None:
    assert main_run.rows("fct_engagement_windows", creator_id="c-rejected") == []
    for creator in ("c-bad1", "c-bad2", "c-bad3", "c-bad4"):
        assert main_run.rows("dim_creator_profiles", creator_id=creator) == []
    for campaign in ("cmp-bad1", "cmp-bad2", "cmp-bad3"):
        assert main_run.rows("dim_campaigns", campaign_id=campaign) == []


def test_event_exactly_ten_minutes_ahead_is_accepted(main_run: RunResult) -> None:
    """future-ok is at --as-of + 10 min exactly (2026-02-01T00:10): accepted, counted."""
    windows = main_run.rows("fct_engagement_windows", creator_id="c-future")
    assert [w["window_start"] for w in windows] == [
        f"2026-01-{d:02d}T00:00:00.000Z" for d in range(26, 32)
    ] + ["2026-02-01T00:00:00.000Z"]


def test_late_events_are_kept_with_watermark(main_run: RunResult) -> None:
    late = [
        (r["stream"], r["event_id"], r["event_time"], r["watermark"])
        for r in main_run.tables["raw_late_events"]
    ]
    assert sorted(late) == sorted(
        [
            ("view", "late-v1", iso(LATE_VIEW_BOUNDARY - 1), iso(VIEW_WATERMARK)),
            ("view", "vc-late-v", "2026-01-14T10:30:00.000Z", iso(VIEW_WATERMARK)),
            ("ad_click", "vc-late-k", "2026-01-14T10:31:00.000Z", iso(CLICK_WATERMARK)),
        ]
    )
    assert iso(VIEW_WATERMARK) == "2026-01-19T23:55:00.000Z"
    raw = main_run.one("raw_late_events", event_id="vc-late-k")["raw"]
    assert '"event_id":"vc-late-k"' in raw


def test_late_events_do_not_count(main_run: RunResult) -> None:
    assert main_run.rows("fct_engagement_windows", creator_id="c-lateonly") == []
    assert main_run.rows("fct_attributed_clicks", click_id="vc-late-k") == []
    # c-vc still has one non-bot view and one viewer (see test_engagement)
    assert {w["views"] for w in main_run.rows("fct_engagement_windows", creator_id="c-vc")} == {1}


def test_event_exactly_one_hour_behind_watermark_is_on_time(main_run: RunResult) -> None:
    windows = main_run.rows("fct_engagement_windows", creator_id="c-ontime")
    assert len(windows) == 7
    assert windows[0]["window_start"] == "2026-01-13T00:00:00.000Z"
    assert {w["views"] for w in windows} == {1}


def test_replays_change_nothing(main_run: RunResult) -> None:
    """vc-va, vc-k1, vc-c1 appear twice; r-mod's second copy (bot UA) is dropped."""
    assert len(main_run.rows("fct_attributed_clicks", click_id="vc-k1")) == 1
    assert main_run.click("vc-k1")["status"] == "valid"
    assert main_run.click("r-mod")["status"] == "valid"
    windows = main_run.rows("fct_engagement_windows", creator_id="c-vc")
    assert {(w["views"], w["unique_viewers"], w["comments"]) for w in windows} == {(1, 1, 2)}
    replayed = {"vc-va", "vc-k1", "vc-c1", "r-mod"}
    assert not any(r["event_id"] in replayed for r in main_run.tables["raw_late_events"])
