"""Prometheus metrics of pulse: base units, ``_total`` counters, low-cardinality labels
(job, stream, step, reason) — never an id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

if TYPE_CHECKING:
    from pipelines.ingest.bounded import StreamIngest

EVENTS_INGESTED = Counter(
    "pulse_ingest_events_total",
    "Input events by outcome (accepted, rejected, replay, late).",
    ["job", "stream", "outcome"],
)
EVENTS_REJECTED = Counter(
    "pulse_rejected_events_total",
    "Rejected input events by reason code.",
    ["job", "stream", "reason"],
)
STEP_SECONDS = Histogram(
    "pulse_step_duration_seconds",
    "Wall time of a pipeline step.",
    ["job", "step"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)
ROWS_LOADED = Counter(
    "pulse_warehouse_rows_loaded_total",
    "Rows inserted into the warehouse by table.",
    ["job", "table"],
)


def record_ingest(job: str, result: StreamIngest) -> None:
    stream = result.stream.value
    EVENTS_INGESTED.labels(job, stream, "accepted").inc(result.accepted)
    EVENTS_INGESTED.labels(job, stream, "replay").inc(result.replays)
    EVENTS_INGESTED.labels(job, stream, "late").inc(len(result.late_rows))
    EVENTS_INGESTED.labels(job, stream, "rejected").inc(sum(result.rejected.values()))
    for reason, count in result.rejected.items():
        EVENTS_REJECTED.labels(job, stream, reason).inc(count)
