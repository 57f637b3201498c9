"""The warnings of `pulse status` built from the ingest workers' reports: which stream holds the
watermark back, since when, and how far; changelogs may be quiet."""

from __future__ import annotations

from typing import Any

from pipelines.streaming.health import warnings

NOW = 1_790_000_000_000
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
HOLD = 65 * MIN  # watermark delay + allowed lateness
T = 1_789_990_000_000  # 2026-09-21T11:26:40Z: the newest event time of the run


def stream(*partitions: tuple[int, int, int], waiting: tuple[int, ...] = ()) -> dict[str, Any]:
    """A stream's part of a report: (partition, clock, moved at) per partition."""
    return {
        "partitions": {str(p): {"clock_ms": c, "moved_at_ms": m} for p, c, m in partitions},
        "waiting": list(waiting),
        "accepted": 100,
        "late": 0,
        "jumps": [],
    }


def warn(*reports: dict[str, Any]) -> list[str]:
    return warnings([{"streams": r} for r in reports], NOW, hold_ms=HOLD, late_share_warn=0.01)


def test_streams_within_the_hold_give_no_warning() -> None:
    assert (
        warn(
            {
                "view": stream((0, T, NOW), (1, T - HOLD, NOW)),
                "comment": stream((0, T - 10 * MIN, NOW)),
                "ad_click": stream((0, T - HOLD, NOW)),
            }
        )
        == []
    )


def test_a_stream_behind_by_more_than_the_hold_is_named_with_its_partition_and_age() -> None:
    got = warn(
        {
            "view": stream((0, T, NOW), (1, T, NOW)),
            "comment": stream((0, T, NOW)),
            "ad_click": stream((0, T - 30 * MIN, NOW), (1, T - 3 * HOUR, NOW - 20 * MIN)),
        }
    )
    assert got == [
        "stream ad_click holds the watermark at 2026-09-21T08:26:40Z, 3.0 h behind the newest "
        "stream: partition 1 has not moved for 20 min"
    ]


def test_exactly_at_the_hold_is_no_warning_one_millisecond_more_is() -> None:
    at_hold = {"view": stream((0, T, NOW)), "ad_click": stream((0, T - HOLD, NOW))}
    past = {"view": stream((0, T, NOW)), "ad_click": stream((0, T - HOLD - 1, NOW))}
    assert warn(at_hold) == []
    assert [w.split(" at ")[0] for w in warn(past)] == ["stream ad_click holds the watermark"]


def test_a_partition_without_any_event_holds_the_watermark() -> None:
    got = warn({"view": stream((0, T, NOW)), "comment": stream((0, T, NOW), waiting=(2,))})
    assert got == [
        "stream comment holds the watermark: partition 2 has delivered no event yet "
        "(nothing closes until it does)"
    ]


def test_partitions_of_one_stream_in_several_workers_reports_are_joined() -> None:
    first = {"view": stream((0, T, NOW)), "ad_click": stream((0, T, NOW))}
    second = {"ad_click": stream((1, T - 2 * HOUR, NOW - 5 * MIN))}
    got = warn(first, second)
    assert len(got) == 1 and got[0].startswith("stream ad_click holds the watermark")
    assert got[0].endswith("partition 1 has not moved for 5 min")


def test_quiet_changelogs_are_no_warning() -> None:
    got = warn(
        {
            "view": stream((0, T, NOW)),
            "creator_profile": stream((0, T - 30 * DAY, NOW - 30 * DAY)),
            "campaign": stream((0, T, NOW), waiting=(1,)),
        }
    )
    assert got == []
