"""The Prometheus metrics of pulse, bounded and streaming: one family per concept.

Conventions: base units (seconds, rows, events), ``_total`` counters, low-cardinality labels
only (``job``, ``stream``, ``outcome``, ``reason``, ``step``, ``table``): never an id, a topic
partition or an offset. The ``job`` label tells the runs apart: the bounded ``pulse run``
(``bounded``), the streaming jobs ``faust_ingest`` and ``faust_loader``.

======================================================  =====================================
family                                                   labels
======================================================  =====================================
``pulse_ingest_events_total``                            job, stream, outcome (accepted,
                                                         rejected, replay, late)
``pulse_ingest_rejected_events_total``                   job, stream, reason (reason code)
``pulse_ingest_redelivered_total``                       job, stream
``pulse_ingest_state_restored_records_total``            job, stream
``pulse_step_duration_seconds`` (histogram)              job, step
``pulse_warehouse_rows_loaded_total``                    job, table
``pulse_warehouse_insert_errors_total``                  job, table
``pulse_loader_bad_records_total``                       job, table
``pulse_loader_batch_duration_seconds`` (histogram)      job
``pulse_build_info`` (gauge, 1)                          version, python, flink
======================================================  =====================================
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram, start_http_server

if TYPE_CHECKING:
    from pipelines.config import MetricsSettings
    from pipelines.ingest.files import StreamIngest

#: values of the ``outcome`` label of :data:`INGEST_EVENTS`
OUTCOMES = ("accepted", "rejected", "replay", "late")

INGEST_EVENTS = Counter(
    "pulse_ingest_events_total",
    "Input events by outcome (accepted, rejected, replay, late).",
    ["job", "stream", "outcome"],
)
INGEST_REJECTED = Counter(
    "pulse_ingest_rejected_events_total",
    "Rejected input events (dead letters) by reason code.",
    ["job", "stream", "reason"],
)
INGEST_REDELIVERED = Counter(
    "pulse_ingest_redelivered_total",
    "Raw messages redelivered after a crash whose output was already in Kafka (not re-sent).",
    ["job", "stream"],
)
INGEST_STATE_RESTORED = Counter(
    "pulse_ingest_state_restored_records_total",
    "Changelog records read back into the replay/watermark state at partition assignment.",
    ["job", "stream"],
)
INGEST_WATERMARK_JUMPS = Counter(
    "pulse_ingest_watermark_jumps_total",
    "Events that moved their raw partition's event-time clock ahead by more than "
    "watermark_jump_warn_ms in one step (the worker's log and pulse status name them).",
    ["job", "stream"],
)
INGEST_WATERMARK = Gauge(
    "pulse_ingest_watermark_seconds",
    "Event-time watermark of a stream at ingest (the slowest raw partition's newest on-time "
    "event less the watermark delay), Unix seconds.",
    ["job", "stream"],
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
INSERT_ERRORS = Counter(
    "pulse_warehouse_insert_errors_total",
    "Warehouse writes (inserts, rollup rebuilds) that raised, by table; the batch is retried.",
    ["job", "table"],
)
LOADER_BAD_RECORDS = Counter(
    "pulse_loader_bad_records_total",
    "Records the loader could not convert (skipped and logged), by target table.",
    ["job", "table"],
)
LOADER_BATCH_SECONDS = Histogram(
    "pulse_loader_batch_duration_seconds",
    "Wall time to store one batch (convert, insert, rollup).",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
BUILD_INFO = Gauge(
    "pulse_build_info",
    "Always 1; the labels say which pulse, Python and Flink versions run.",
    ["version", "python", "flink"],
)


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


BUILD_INFO.labels(_version("pulse"), platform.python_version(), _version("apache-flink")).set(1)


def declare_stream(job: str, stream: str) -> None:
    """Create the outcome series of ``stream`` at 0, so that rates exist before the first event."""
    for outcome in OUTCOMES:
        INGEST_EVENTS.labels(job, stream, outcome)
    INGEST_WATERMARK_JUMPS.labels(job, stream)


def count_events(job: str, stream: str, outcome: str, n: int = 1) -> None:
    """``n`` input events of ``stream`` had ``outcome`` (one of :data:`OUTCOMES`)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown ingest outcome {outcome!r}")
    INGEST_EVENTS.labels(job, stream, outcome).inc(n)


def count_rejected(job: str, stream: str, reason: str, n: int = 1) -> None:
    """``n`` dead letters with ``reason`` (their ``rejected`` outcome: :func:`count_events`)."""
    INGEST_REJECTED.labels(job, stream, reason).inc(n)


def record_ingest(job: str, result: StreamIngest) -> None:
    """Every outcome of one stream's bounded ingest."""
    stream = result.stream.value
    declare_stream(job, stream)
    count_events(job, stream, "accepted", result.accepted)
    count_events(job, stream, "replay", result.replays)
    count_events(job, stream, "late", len(result.late_rows))
    count_events(job, stream, "rejected", sum(result.rejected.values()))
    for reason, n in result.rejected.items():
        count_rejected(job, stream, reason, n)


def serve(settings: MetricsSettings) -> bool:
    """Expose ``/metrics`` on ``settings.host:settings.port``; False when no port is set (or 0)."""
    if not settings.port:
        return False
    start_http_server(settings.port, addr=settings.host)
    return True
