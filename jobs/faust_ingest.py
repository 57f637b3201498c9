"""Streaming ingest as a Faust app: ``raw.*`` -> ``clean.*``, ``deadletter.rejected``,
``results.late_events``, and ``results.ingest_ledger`` (one record per batch and raw partition).

Run (a broker with the pulse topics: ``make up``)::

    faust -A jobs.faust_ingest worker -l info
    python -m jobs.faust_ingest worker -l info

Faust runs the worker (CLI, logging, signals, start/stop); the ingest itself is one app task,
:class:`pipelines.streaming.kafka_runner.IngestRunner` (batch aiokafka loop, replay state in
memory + a compacted changelog topic, crash recovery): see that module for why it is not a
per-message Faust agent and what exactly is guaranteed.

Settings (:mod:`pipelines.config`): the rule numbers (``PULSE_DEDUP_HORIZON_MS``,
``PULSE_WATERMARK_DELAY_MS``, ``PULSE_ALLOWED_LATENESS_MS``, ``PULSE_FUTURE_TOLERANCE_MS``),
the ``kafka`` section (``PULSE_KAFKA__BOOTSTRAP``, ``PULSE_KAFKA__TOPIC_PREFIX``: prefix of every
topic name, for tests and benchmarks; the client security settings), ``metrics``
(``/metrics`` on ``PULSE_METRICS__HOST``, default 127.0.0.1, and ``PULSE_METRICS__INGEST_PORT``,
default 9401; ``PULSE_METRICS__PORT`` wins; 0: not served) and, for this job:

``PULSE_INGEST__GROUP``        consumer group and app id (default ``pulse-ingest``)
``PULSE_INGEST__STREAMS``      comma-separated streams (default: all five)
``PULSE_INGEST__MAX_BATCH``    records per poll and batch (default 20000)
``PULSE_INGEST__SESSION_TIMEOUT_MS`` consumer session timeout (default 10000)
``PULSE_INGEST__DATA_DIR``     Faust's data folder (default ``.pulse/faust-ingest``)
"""

from __future__ import annotations

import asyncio
import logging

import faust

from pipelines import metrics
from pipelines.config import Settings, load_settings
from pipelines.kafka_clients import faust_credentials
from pipelines.streaming.ingest_config import RunnerConfig
from pipelines.streaming.ingest_worker import JOB, IngestRunner
from pipelines.streaming.restarts import run_restarting

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> faust.App:
    """The Faust app whose one task runs the ingest loop configured by ``settings``."""
    config = RunnerConfig.from_settings(settings)
    app = faust.App(
        f"{config.group_id}-app",  # Faust's own (idle) consumer must not share the ingest group
        broker=f"kafka://{config.bootstrap}",
        broker_credentials=faust_credentials(settings.kafka),
        web_enabled=False,
        # a worker killed with -9 must not hold up its successor for Faust's 60 s default
        broker_session_timeout=config.session_timeout_ms / 1000,
        broker_heartbeat_interval=config.heartbeat_interval_ms / 1000,
        datadir=settings.ingest.data_dir,
        topic_replication_factor=settings.kafka.replication_factor,
    )

    async def run_once() -> None:
        await IngestRunner(config).run()

    async def ingest() -> None:
        """The ingest loop, restarted in-process from the committed offsets after a transient
        Kafka error (a partition leader moving); any other error (no broker at start, missing
        topics) stops the worker."""
        metrics.serve(settings.metrics, "ingest")
        try:
            await run_restarting(run_once, job=JOB)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("ingest failed: %s", exc)
            await app.crash(exc)

    app.task(ingest)
    return app


app = create_app(load_settings())

if __name__ == "__main__":
    app.main()
