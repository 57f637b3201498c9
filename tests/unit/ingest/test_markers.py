"""Watermark markers: what is written, where, and how a marker is told from an event."""

from __future__ import annotations

import orjson

from pipelines.connectors.flink_kafka import CHANGELOG_SOURCES, MARKED_SOURCES
from pipelines.flink.schemas import SOURCES
from pipelines.ingest.markers import (
    MARKER_HEADERS,
    due_markers,
    is_marker,
    marker_value,
)


def test_a_marker_carries_only_its_event_time() -> None:
    assert orjson.loads(marker_value(1_700_000_000_123)) == {"event_time": 1_700_000_000_123}


def test_markers_are_told_from_events_by_their_header() -> None:
    assert is_marker(MARKER_HEADERS)
    assert is_marker([("pulse-src", b"raw.views/0/1"), *MARKER_HEADERS])
    assert not is_marker([("pulse-src", b"raw.views/0/1"), ("pulse-key", b"e1")])
    assert not is_marker(None)
    assert not is_marker([])


def test_due_markers_are_the_quiet_owned_partitions_with_a_clock() -> None:
    clocks = {0: 100, 1: 250, 2: 300}
    # partition 3 has no on-time event yet: no clock, no marker (it holds the watermark)
    assert due_markers(clocks, owned=[0, 1, 2, 3], active=[]) == [(0, 100), (1, 250), (2, 300)]
    # a partition with a clean event since the last round needs none
    assert due_markers(clocks, owned=[0, 1, 2, 3], active=[1]) == [(0, 100), (2, 300)]
    # partitions another worker owns are that worker's
    assert due_markers(clocks, owned=[2], active=[]) == [(2, 300)]
    assert due_markers(clocks, owned=[], active=[]) == []
    assert due_markers({}, owned=[0, 1], active=[]) == []


def test_event_sources_drop_markers_and_changelogs_never_get_them() -> None:
    event_sources = {s.name for s in SOURCES if s.time_column == "event_time"}
    assert event_sources == MARKED_SOURCES
    assert not MARKED_SOURCES & CHANGELOG_SOURCES
    # the filter keeps every event: each event source has the event id it tests
    for source in SOURCES:
        if source.name in MARKED_SOURCES:
            assert ("event_id", "STRING") in source.columns
