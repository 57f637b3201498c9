"""The per-message step without a broker: list in, decisions out."""

from __future__ import annotations

import base64

import orjson
import pytest

from pipelines.domain.events import Stream
from pipelines.ingest.messages import raw_payload
from pipelines.ingest.step import (
    KEY_HEADER,
    SRC_HEADER,
    TIME_HEADER,
    Outcome,
    StreamIngestor,
    Topics,
    parse_src,
)

NOW = 1_790_000_000_000
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR


def ingestor(stream: Stream = Stream.VIEW, horizon: int = 7 * DAY) -> StreamIngestor:
    return StreamIngestor(
        stream,
        reference_ms=NOW,
        future_tolerance_ms=10 * MIN,
        dedup_horizon_ms=horizon,
        watermark_delay_ms=5 * MIN,
        allowed_lateness_ms=HOUR,
    )


def view(event_id: str, t: int, user: str = "u1") -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "event_time": t,
            "user_id": user,
            "video_id": "vid1",
            "creator_id": "c1",
            "watch_time_ms": 10,
            "country": "US",
            "user_agent": "Mozilla",
        }
    )


def test_clean_event_keyed_by_user_with_source_headers() -> None:
    d = ingestor().decide(view("e1", NOW - HOUR, user="u42"), "raw.views", 1, 7)
    assert d.outcome is Outcome.CLEAN and d.output is not None
    assert d.output.topic == "clean.views"
    assert d.output.key == b"u42"
    assert orjson.loads(d.output.value)["event_id"] == "e1"
    headers = dict(d.output.headers)
    assert parse_src(headers[SRC_HEADER]) == ("raw.views", 1, 7)
    assert headers[KEY_HEADER] == b"e1"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "invalid_json"),
        (b"{not json", "invalid_json"),
        (b"\xff\xfe\x00", "invalid_json"),
        (b"[1]", "not_object"),
        (b'{"event_id": "x"}', "missing_field"),
    ],
)
def test_rejections_go_to_the_dead_letter_with_source_and_raw(raw: bytes, reason: str) -> None:
    d = ingestor().decide(raw, "raw.views", 0, 99)
    assert d.outcome is Outcome.REJECTED and d.output is not None and d.reason == reason
    assert d.output.topic == "deadletter.rejected" and d.output.key == b"raw.views"
    body = orjson.loads(d.output.value)
    assert body["stream"] == "view" and body["source"] == "raw.views/0" and body["offset"] == 99
    assert body["reason"] == reason and isinstance(body["detail"], str)
    assert raw_payload(body) == raw
    assert body["raw"] == (raw.decode() if raw != b"\xff\xfe\x00" else None)
    assert body["raw_b64"] == base64.b64encode(raw).decode()


def test_decisions_carry_the_event_time_of_valid_events() -> None:
    ing = ingestor()
    clean = ing.decide(view("e1", NOW - HOUR), "raw.views", 0, 0)
    replay = ing.decide(view("e1", NOW - HOUR), "raw.views", 0, 1)
    ing.decide(view("e2", NOW - MIN), "raw.views", 0, 2)
    late = ing.decide(view("e3", NOW - 3 * HOUR), "raw.views", 0, 3)
    rejected = ing.decide(b"{}", "raw.views", 0, 4)
    assert [(d.outcome, d.event_time) for d in (clean, replay, late, rejected)] == [
        (Outcome.CLEAN, NOW - HOUR),
        (Outcome.REPLAY, NOW - HOUR),
        (Outcome.LATE, NOW - 3 * HOUR),
        (Outcome.REJECTED, None),
    ]
    assert clean.output is not None and late.output is not None
    assert dict(clean.output.headers)[TIME_HEADER] == b"%d" % (NOW - HOUR)
    assert dict(late.output.headers)[TIME_HEADER] == b"%d" % (NOW - 3 * HOUR)


def test_future_event_time_is_rejected_against_the_reference_clock() -> None:
    ing = ingestor()
    assert ing.decide(view("f", NOW + 11 * MIN), "raw.views", 0, 0).reason == "future_event_time"
    ing.validator.reference_ms = NOW + 2 * MIN  # the runner moves it per poll
    assert ing.decide(view("f", NOW + 11 * MIN), "raw.views", 0, 1).outcome is Outcome.CLEAN


def test_replays_are_dropped_per_stream_across_partitions() -> None:
    ing = ingestor()
    assert ing.decide(view("e1", NOW - HOUR), "raw.views", 0, 0).outcome is Outcome.CLEAN
    assert ing.decide(view("e1", NOW - HOUR), "raw.views", 1, 0).outcome is Outcome.REPLAY
    other = ingestor(Stream.COMMENT)  # state is per stream
    assert other.decide(view("e1", NOW - HOUR), "raw.comments", 0, 0).outcome is Outcome.REJECTED
    assert len(other.rules.replays) == 0


def test_a_partition_read_days_ahead_does_not_let_replays_through_a_slower_one() -> None:
    """A fast burst reads one raw partition far ahead of another: the copy of an event in the
    slower partition must still be a replay (it was accepted as new, and counted twice)."""
    ing = ingestor()
    t0 = NOW - 20 * DAY
    assert ing.decide(view("e1", t0, "u2"), "raw.views", 1, 0).outcome is Outcome.CLEAN
    for day in range(1, 12):
        ing.decide(view(f"ahead{day}", t0 + day * DAY), "raw.views", 0, day)
    assert ing.decide(view("e1", t0, "u2"), "raw.views", 1, 1).outcome is Outcome.REPLAY


def test_replay_beyond_the_horizon_is_accepted_again() -> None:
    ing = ingestor(horizon=DAY)
    t0 = NOW - 5 * DAY
    assert ing.decide(view("e1", t0), "raw.views", 0, 0).outcome is Outcome.CLEAN
    assert ing.decide(view("e2", t0 + DAY + 1), "raw.views", 0, 1).outcome is Outcome.CLEAN
    assert ing.decide(view("e1", t0), "raw.views", 0, 2).outcome is not Outcome.REPLAY


def test_late_events_go_to_late_topic_and_count_as_seen() -> None:
    ing = ingestor()
    ing.decide(view("e1", NOW - HOUR), "raw.views", 0, 0)
    late_time = NOW - HOUR - 5 * MIN - HOUR - 1
    d = ing.decide(view("old", late_time), "raw.views", 0, 1)
    assert d.outcome is Outcome.LATE and d.output is not None
    assert d.output.topic == "results.late_events" and d.output.key == b"raw.views"
    body = orjson.loads(d.output.value)
    assert body["stream"] == "view" and body["event_id"] == "old"
    assert body["event_time"] == late_time
    assert body["watermark"] == NOW - HOUR - 5 * MIN
    assert body["reason"] == "beyond_allowed_lateness"
    assert raw_payload(body) == view("old", late_time)
    # exactly at the allowed lateness is on time; a replay of the late one is a replay
    on_time = ing.decide(view("edge", NOW - HOUR - 5 * MIN - HOUR), "raw.views", 0, 2)
    assert on_time.outcome is Outcome.CLEAN
    assert ing.decide(view("old", late_time), "raw.views", 0, 3).outcome is Outcome.REPLAY


def test_watermark_is_held_by_the_slowest_partition() -> None:
    ing = ingestor()
    ing.hold(0)
    ing.hold(1)
    ing.decide(view("a", NOW - HOUR), "raw.views", 0, 0)  # partition 0 is far ahead
    assert ing.watermark_ms() is None  # partition 1 has not spoken yet
    d = ing.decide(view("b", NOW - 10 * HOUR), "raw.views", 1, 0)
    assert d.outcome is Outcome.CLEAN
    assert ing.watermark_ms() == NOW - 10 * HOUR - 5 * MIN


def test_changelog_restores_replays_and_watermark() -> None:
    ing = ingestor()
    ing.decide(view("e1", NOW - HOUR), "raw.views", 0, 0)
    ing.decide(view("e2", NOW - 2 * HOUR), "raw.views", 1, 0)
    changes = ing.take_changes()
    assert ing.take_changes() == []
    fresh = ingestor()
    assert fresh.restore(changes) == len(changes)
    assert fresh.decide(view("e1", NOW - HOUR), "raw.views", 1, 5).outcome is Outcome.REPLAY
    assert fresh.watermark_ms() == ing.watermark_ms()
    fresh.forget([0])
    assert fresh.decide(view("e1", NOW - HOUR), "raw.views", 0, 5).outcome is Outcome.CLEAN


def test_apply_emitted_recreates_state_without_output() -> None:
    ing = ingestor()
    ing.apply_emitted(Outcome.CLEAN, "e1", NOW - HOUR, 0)
    assert ing.decide(view("e1", NOW - HOUR), "raw.views", 0, 1).outcome is Outcome.REPLAY
    assert ing.watermark_ms() == NOW - HOUR - 5 * MIN


def test_clean_keys_of_changelog_streams() -> None:
    profile = {
        "creator_id": "c9",
        "updated_at": NOW - DAY,
        "followers": 1,
        "lifetime_views": 2,
        "birth_date": "1990-01-01",
        "country": "GB",
    }
    d = ingestor(Stream.CREATOR_PROFILE).decide(orjson.dumps(profile), "raw.creator_profiles", 0, 0)
    assert d.output is not None and d.output.key == b"c9"
    assert d.event_time == NOW - DAY  # a changelog's time is its updated_at
    assert d.output.topic == "clean.creator_profiles"
    assert Topics("t.").raw(Stream.AD_CLICK) == "t.raw.ad_clicks"


def test_never_raises_on_arbitrary_bytes() -> None:
    ing = ingestor()
    for i in range(256):
        raw = bytes([i]) * (i % 7) + b'{"a":' * (i % 3)
        assert ing.decide(raw, "raw.views", 0, i).outcome is Outcome.REJECTED
