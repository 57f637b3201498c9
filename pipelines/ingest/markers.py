"""Watermark markers: the event-time progress of a quiet clean partition, published again.

Flink's watermark is per clean partition and is not part of a checkpoint: a job restored after a
crash, a lost TaskManager or a rescale starts every partition with no watermark and takes it from
the records that partition delivers after the restore. A stream that has ended (the last file of
a backfill produced) would then hold back the results of its last hour and a half until it
delivers again, which may be never.

So the streaming ingest writes a *marker* into every clean partition of an event stream that has
had no clean event for ``ingest.watermark_marker_interval_s``: a record whose event time is that
partition's clock (the newest event time of its on-time events, the time its events already
carried). A marker never moves Flink's watermark past what the partition's events moved it to,
so it cannot make an event late; it only gives a restored job that watermark back. Markers carry
the header :data:`MARKER_HEADER` and no event id; the Flink job drops them right after the
source (:data:`MARKER_FREE`), and nothing counts them as events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import orjson

#: the header that marks a marker record (value ``b"1"``)
MARKER_HEADER = "pulse-marker"
#: the headers of every marker
MARKER_HEADERS: Sequence[tuple[str, bytes]] = ((MARKER_HEADER, b"1"),)
#: the SQL condition that keeps events and drops markers (markers have no event id)
MARKER_FREE = "event_id IS NOT NULL"


def marker_value(event_time_ms: int) -> bytes:
    """A marker's JSON value: the event time only (every other column reads as NULL)."""
    return orjson.dumps({"event_time": event_time_ms})


def is_marker(headers: Iterable[tuple[str, bytes]] | None) -> bool:
    """True for a marker record (by its headers)."""
    return any(key == MARKER_HEADER for key, _ in headers or ())


def due_markers(
    clocks: Mapping[int, int], owned: Iterable[int], active: Iterable[int]
) -> list[tuple[int, int]]:
    """``(partition, event time)`` of the markers to write now: every owned partition with a
    clock that had no clean event since the last round (``active``), in partition order."""
    busy = set(active)
    return sorted(
        (partition, clocks[partition])
        for partition in set(owned)
        if partition in clocks and partition not in busy
    )
