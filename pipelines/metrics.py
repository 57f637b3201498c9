"""The Prometheus metrics of pulse, bounded and streaming: one family per concept.

Conventions: base units (seconds, rows, events), ``_total`` counters, low-cardinality labels
only (``job``, ``stream``, ``stage``, ``outcome``, ``reason``, ``step``, ``table``): never an
id, a topic partition or an offset. The ``job`` label tells the runs apart: the bounded
``pulse run`` (``bounded``), the streaming jobs ``faust_ingest`` and ``faust_loader``.

Where: each long-running job serves ``/metrics`` (:func:`serve`) on ``metrics.host`` and its
own port (:func:`job_port`: ``metrics.port`` when set, else ``metrics.ingest_port`` 9401,
``metrics.loader_port`` 9402); the Flink job through Flink's Prometheus reporter on
``metrics.flink_port`` (9249, ``flink_*`` series); ``pulse run --metrics-file`` writes a
node-exporter textfile (:func:`write_textfile`). docs/metrics.md lists every series.

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
``pulse_watermark_lag_seconds`` (gauge, at scrape)       job, stream
``pulse_consumer_lag_records`` (gauge)                   job, stage (ingest, flink, loader)
``pulse_consumer_lag_seconds`` (gauge, at scrape)        job, stage
``pulse_warehouse_freshness_seconds`` (gauge, at scrape) job
======================================================  =====================================
"""

from __future__ import annotations

import logging
import math
import platform
import threading
import time
from collections.abc import Iterable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from pipelines.ingest.files import StreamIngest
    from pipelines.settings_sections import MetricsSettings

log = logging.getLogger(__name__)

#: the long-running components that serve ``/metrics`` (``pulse status`` shows their URLs)
COMPONENTS = ("ingest", "flink", "loader")

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
INGEST_MARKERS = Counter(
    "pulse_ingest_watermark_markers_total",
    "Watermark markers written into quiet clean partitions (pipelines/ingest/markers.py).",
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
JOB_RESTARTS = Counter(
    "pulse_job_restarts_total",
    "In-process restarts of a worker after a transient Kafka error (leader moved, node down, "
    "request timed out), by the error's class.",
    ["job", "reason"],
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


def declare_loader(job: str, tables: Iterable[str]) -> None:
    """Create the loader's series of ``tables`` at 0 (rows, insert errors, bad records, batch
    durations), so that an error rate is 0, not absent, before the first error."""
    for table in tables:
        ROWS_LOADED.labels(job, table)
        INSERT_ERRORS.labels(job, table)
        LOADER_BAD_RECORDS.labels(job, table)
    LOADER_BATCH_SECONDS.labels(job)


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


# --- series computed when scraped ----------------------------------------------------------
#
# A lag behind wall time must grow while nothing happens (a stalled watermark, a loader that
# stores nothing): these gauges are computed from a stored instant at each scrape, not set.


class _ScrapeTimeGauges:
    """``pulse_watermark_lag_seconds``, ``pulse_consumer_lag_*`` and
    ``pulse_warehouse_freshness_seconds``: from the instants the jobs record, at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: (job, stage) -> (records behind, broker time of the oldest unconsumed record or None)
        self._lags: dict[tuple[str, str], tuple[int, int | None]] = {}
        #: job -> newest event time (ms) visible in the warehouse
        self._newest: dict[str, int] = {}

    def set_lag(self, job: str, stage: str, records: int, oldest_ms: int | None) -> None:
        with self._lock:
            self._lags[(job, stage)] = (records, oldest_ms if records > 0 else None)

    def observe_newest(self, job: str, event_ms: int) -> None:
        with self._lock:
            self._newest[job] = max(event_ms, self._newest.get(job, event_ms))

    def newest(self, job: str) -> int | None:
        with self._lock:
            return self._newest.get(job)

    def describe(self) -> Iterator[Metric]:
        return iter(self._families(None))

    def collect(self) -> Iterator[Metric]:
        return iter(self._families(time.time()))

    def _families(self, now: float | None) -> list[Metric]:
        watermark_lag = GaugeMetricFamily(
            "pulse_watermark_lag_seconds",
            "Wall time minus the event-time watermark of a stream at ingest "
            "(pulse_ingest_watermark_seconds), computed at scrape: grows while it stalls.",
            labels=["job", "stream"],
        )
        lag_records = GaugeMetricFamily(
            "pulse_consumer_lag_records",
            "Records in a stage's input topics not yet committed by its consumer group "
            "(stage: ingest, flink, loader; read every metrics.lag_interval_s by the loader).",
            labels=["job", "stage"],
        )
        lag_seconds = GaugeMetricFamily(
            "pulse_consumer_lag_seconds",
            "Age of the oldest record a stage's consumer group has not committed (broker "
            "time), computed at scrape; 0 when the stage is caught up.",
            labels=["job", "stage"],
        )
        freshness = GaugeMetricFamily(
            "pulse_warehouse_freshness_seconds",
            "Wall time minus the newest event time visible in the warehouse's fact tables, "
            "computed at scrape (absent until the loader knows one).",
            labels=["job"],
        )
        families: list[Metric] = [watermark_lag, lag_records, lag_seconds, freshness]
        if now is None:
            return families
        for labels, watermark in _samples(INGEST_WATERMARK):
            watermark_lag.add_metric([labels["job"], labels["stream"]], now - watermark)
        with self._lock:
            lags = dict(self._lags)
            newest = dict(self._newest)
        for (job, stage), (records, oldest_ms) in sorted(lags.items()):
            lag_records.add_metric([job, stage], records)
            age = 0.0 if oldest_ms is None else max(0.0, now - oldest_ms / 1000)
            lag_seconds.add_metric([job, stage], age)
        for job, event_ms in sorted(newest.items()):
            freshness.add_metric([job], max(0.0, now - event_ms / 1000))
        return families


def _samples(metric: Gauge) -> Iterator[tuple[dict[str, str], float]]:
    for family in metric.collect():
        for sample in family.samples:
            if math.isfinite(sample.value):
                yield sample.labels, sample.value


_SCRAPE_TIME = _ScrapeTimeGauges()
REGISTRY.register(_SCRAPE_TIME)


def set_consumer_lag(job: str, stage: str, records: int, oldest_ms: int | None) -> None:
    """``stage``'s group is ``records`` behind; the oldest record it has not committed was
    appended at ``oldest_ms`` (broker time; None or ignored when ``records`` is 0)."""
    _SCRAPE_TIME.set_lag(job, stage, records, oldest_ms)


def observe_warehouse_event_time(job: str, event_ms: int) -> None:
    """An event time (ms) is now visible in the warehouse (freshness counts from the newest)."""
    _SCRAPE_TIME.observe_newest(job, event_ms)


def warehouse_newest_event_ms(job: str) -> int | None:
    """The newest event time ``job`` has seen become visible in the warehouse (None: none)."""
    return _SCRAPE_TIME.newest(job)


# --- where the series are served ----------------------------------------------------------


def job_port(settings: MetricsSettings, component: str) -> int | None:
    """The ``/metrics`` port of ``component`` (one of :data:`COMPONENTS`); None: not served.

    ``metrics.port``, when set, is the port of whatever job the process runs (a container runs
    one job); otherwise each component has its own default, so that one machine runs them all.
    """
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r}: one of {COMPONENTS}")
    if settings.port is not None:
        port: int = settings.port
    else:
        port = {
            "ingest": settings.ingest_port,
            "loader": settings.loader_port,
            "flink": settings.flink_port,
        }[component]
    return port or None


def url_host(host: str) -> str:
    """``host`` as it goes into a URL to reach a server bound there (wildcards: loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def metrics_url(settings: MetricsSettings, component: str) -> str | None:
    """``http://host:port/metrics`` of ``component``; None when it serves none."""
    port = job_port(settings, component)
    return None if port is None else f"http://{url_host(settings.host)}:{port}/metrics"


_SERVED: set[tuple[str, int]] = set()


def serve(settings: MetricsSettings, component: str | None = None) -> bool:
    """Expose ``/metrics`` on ``settings.host`` and the port of ``component`` (:func:`job_port`;
    None: ``settings.port`` only); a second call for the same address is a no-op (True).

    False when no port is set (or 0), or when the address cannot be bound: that is logged as
    an error and the job goes on without its endpoint (the port of another stack on the same
    machine must not stop a job; ``pulse status`` shows whether each URL answers, and a
    Kubernetes probe on /metrics fails).
    """
    port = settings.port if component is None else job_port(settings, component)
    if not port:
        return False
    if (settings.host, port) in _SERVED:  # already served by this process
        return True
    try:
        start_http_server(port, addr=settings.host)
    except OSError as err:
        log.error(
            "metrics: cannot serve /metrics on %s:%d (%s): this job runs WITHOUT its endpoint",
            settings.host,
            port,
            err.strerror or err,
        )
        return False
    _SERVED.add((settings.host, port))
    log.info("metrics: serving http://%s:%d/metrics", url_host(settings.host), port)
    return True


class _PulseOnly:
    """The ``pulse_*`` families of the process registry (no process or GC series: a textfile
    describes a finished run, not the process that reads it)."""

    def collect(self) -> Iterator[Metric]:
        for family in REGISTRY.collect():
            if family.name.startswith("pulse_"):
                yield family


def write_textfile(path: Path) -> None:
    """Write the ``pulse_*`` series to ``path`` in the Prometheus text format read by node
    exporter's textfile collector (name it ``*.prom``), atomically: a temporary file in the
    same folder, then a rename (a scrape never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_PulseOnly())
    write_to_textfile(str(path), registry)
