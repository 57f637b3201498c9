"""Prometheus metrics of the streaming ingest: ``_total`` counters in base units, labels
``job``, ``stream`` and ``reason`` only (never an id, a topic partition or an offset)."""

from __future__ import annotations

from prometheus_client import Counter, start_http_server

from pipelines.streaming.ingest import Outcome

JOB = "faust_ingest"

MESSAGES = Counter(
    "pulse_streaming_ingest_messages_total",
    "Raw messages by outcome (reason = clean, rejected, replay, late).",
    ["job", "stream", "reason"],
)
REJECTED = Counter(
    "pulse_streaming_ingest_rejected_total",
    "Rejected raw messages by reason code (sent to deadletter.rejected).",
    ["job", "stream", "reason"],
)
LATE = Counter(
    "pulse_streaming_ingest_late_total",
    "Events beyond the allowed lateness (sent to results.late_events).",
    ["job", "stream", "reason"],
)
REDELIVERED = Counter(
    "pulse_streaming_ingest_redelivered_total",
    "Raw messages redelivered after a crash whose output was already in Kafka (not re-sent).",
    ["job", "stream", "reason"],
)
RESTORED = Counter(
    "pulse_streaming_ingest_state_restored_total",
    "Changelog records read back into the replay/watermark state at partition assignment.",
    ["job", "stream", "reason"],
)


def count_outcome(stream: str, outcome: Outcome, n: int = 1, job: str = JOB) -> None:
    MESSAGES.labels(job, stream, outcome.value).inc(n)


def count_rejected(stream: str, reason: str, n: int = 1, job: str = JOB) -> None:
    REJECTED.labels(job, stream, reason).inc(n)


def count_late(stream: str, reason: str, n: int = 1, job: str = JOB) -> None:
    LATE.labels(job, stream, reason).inc(n)


def serve(port: int, addr: str = "127.0.0.1") -> None:
    """Expose ``/metrics`` on ``addr:port`` (loopback by default)."""
    start_http_server(port, addr=addr)
