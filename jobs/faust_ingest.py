"""Streaming ingest as a Faust app: ``raw.*`` -> ``clean.*``, ``deadletter.rejected``,
``results.late_events``.

Run (a broker with the pulse topics: ``make up``)::

    faust -A jobs.faust_ingest worker -l info
    python -m jobs.faust_ingest worker -l info

Faust runs the worker (CLI, logging, signals, start/stop); the ingest itself is one app task,
:class:`pipelines.streaming.kafka_runner.IngestRunner` (batch aiokafka loop, replay state in
memory + a compacted changelog topic, crash recovery): see that module for why it is not a
per-message Faust agent and what exactly is guaranteed.

Settings: the pulse Settings (``PULSE_KAFKA_BOOTSTRAP``, ``PULSE_DEDUP_HORIZON_MS``,
``PULSE_WATERMARK_DELAY_MS``, ``PULSE_ALLOWED_LATENESS_MS``, ``PULSE_FUTURE_TOLERANCE_MS``,
``PULSE_METRICS_PORT``) plus, for this job only:

``PULSE_INGEST_APP_ID``        consumer group and app id (default ``pulse-ingest``)
``PULSE_INGEST_TOPIC_PREFIX``  prefix of every topic name (tests, benchmarks; default empty)
``PULSE_INGEST_STREAMS``       comma-separated streams (default: all five)
``PULSE_INGEST_MAX_BATCH``     records per poll and batch (default 20000)
``PULSE_INGEST_SESSION_TIMEOUT_MS`` consumer session timeout (default 10000)
``PULSE_INGEST_IDLE_TIMEOUT_S``  a raw partition with no on-time event yet holds its stream's
                               watermark until caught up this long (default 30, like Flink's)
"""

from __future__ import annotations

import asyncio
import logging
import os

import faust

from pipelines.config import load_settings
from pipelines.domain.events import Stream
from pipelines.streaming import metrics
from pipelines.streaming.ingest import Topics
from pipelines.streaming.kafka_runner import IngestRunner, RunnerConfig

log = logging.getLogger(__name__)


def runner_config() -> RunnerConfig:
    """The job configuration from the pulse Settings and the ``PULSE_INGEST_*`` variables."""
    settings = load_settings()
    env = os.environ
    streams = tuple(
        Stream(s.strip()) for s in env.get("PULSE_INGEST_STREAMS", "").split(",") if s.strip()
    )
    return RunnerConfig(
        bootstrap=settings.kafka_bootstrap,
        group_id=env.get("PULSE_INGEST_APP_ID", "pulse-ingest"),
        topics=Topics(env.get("PULSE_INGEST_TOPIC_PREFIX", "")),
        streams=streams or tuple(Stream),
        future_tolerance_ms=settings.future_tolerance_ms,
        dedup_horizon_ms=settings.dedup_horizon_ms,
        watermark_delay_ms=settings.watermark_delay_ms,
        allowed_lateness_ms=settings.allowed_lateness_ms,
        max_batch=int(env.get("PULSE_INGEST_MAX_BATCH", "20000")),
        session_timeout_ms=int(env.get("PULSE_INGEST_SESSION_TIMEOUT_MS", "10000")),
        idle_timeout_s=float(env.get("PULSE_INGEST_IDLE_TIMEOUT_S", "30")),
    )


CONFIG = runner_config()
METRICS_PORT = load_settings().metrics_port

app = faust.App(
    f"{CONFIG.group_id}-app",  # Faust's own (idle) consumer must not share the ingest group
    broker=f"kafka://{CONFIG.bootstrap}",
    web_enabled=False,
    # a worker killed with -9 must not hold up its successor for Faust's 60 s default
    broker_session_timeout=CONFIG.session_timeout_ms / 1000,
    broker_heartbeat_interval=CONFIG.heartbeat_interval_ms / 1000,
    datadir=os.environ.get("PULSE_INGEST_DATADIR", ".pulse/faust-ingest"),
)


async def ingest() -> None:
    """The ingest loop; a setup error (no broker, missing topics) stops the worker."""
    if METRICS_PORT:
        metrics.serve(METRICS_PORT)
    runner = IngestRunner(CONFIG)
    try:
        await runner.run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("ingest failed: %s", exc)
        await app.crash(exc)


app.task(ingest)

if __name__ == "__main__":
    app.main()
