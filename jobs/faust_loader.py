"""The warehouse loader: results topics -> ClickHouse, idempotent, offsets after rows.

One Faust agent per topic (``load-<table>``) takes batches
(``noack_take(N, within=S)``), converts them with
:func:`pipelines.load.kafka_records.batch_to_arrow` and bulk-inserts them. Events
are acked (and their offsets become committable) only AFTER the insert
returned, and for clicks after :func:`~pipelines.warehouse.rollups.rebuild_payouts`
of the touched UTC days: a crash at any point redelivers the batch, and the
re-insert replaces the same rows (ReplacingMergeTree keyed by natural keys;
payouts are recomputed from ``fct_attributed_clicks FINAL``), so money is never
double-counted. A click batch that touched a day of a CLOSED month then books the
difference as adjustments (:func:`~pipelines.warehouse.close.book_adjustments`,
run id :func:`~pipelines.load.kafka_records.batch_run_id`), so that a closed
month's statement + adjustments = its clicks also when streaming results arrive
after the close; redelivered, it books nothing twice (adjustment rows of an open
month are replaced). Without a closed month this costs one query on the tiny
``fct_payout_closes`` table per click batch.

All warehouse work runs on ONE thread (chdb: one engine per process, one folder);
this process must be the only one that opens an embedded warehouse folder.

Run: ``python -m jobs.faust_loader worker --without-web -l info``. Settings
(:mod:`pipelines.config`): ``PULSE_KAFKA__BOOTSTRAP``, ``PULSE_KAFKA__TOPIC_PREFIX``,
``PULSE_WAREHOUSE``, the ``metrics`` section (``/metrics`` on ``PULSE_METRICS__HOST``,
default 127.0.0.1, and ``PULSE_METRICS__LOADER_PORT``, default 9402; ``PULSE_METRICS__PORT``
wins; 0: not served) and the ``loader`` section:
``PULSE_LOADER__GROUP`` (default ``pulse-loader``), ``PULSE_LOADER__BATCH`` (max
rows per insert, default 5000), ``PULSE_LOADER__WITHIN_S`` (max wait to fill a
batch, default 0.5), ``PULSE_LOADER__DATA_DIR`` (default
``.pulse/stack/loader-data``), ``PULSE_LOADER__JOURNAL`` (optional JSON Lines
file: one line per stored batch with its offsets and the time it became visible;
used by the latency benchmark). On a ClickHouse cluster (``PULSE_WAREHOUSE_CLUSTER=true``,
``PULSE_WAREHOUSE_INSERT_QUORUM``; docs/warehouse-cluster.md) every insert of a batch carries
:func:`~pipelines.load.kafka_records.dedup_token` (its offsets and :data:`LOADER_VERSION`), so
the replicas drop an insert retried or redelivered with the same records.

Metrics of this job (besides rows, batches and insert errors): the consumer lag of EVERY stage
(``pulse_consumer_lag_records`` / ``_seconds``, read every ``PULSE_METRICS__LAG_INTERVAL_S``,
so that a stalled ingest or Flink job shows here too) and the data freshness
(``pulse_warehouse_freshness_seconds``: since the newest event time in the fact tables, read
from the warehouse at open, then from each stored batch; see
:mod:`pipelines.streaming.freshness`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import faust

from pipelines import kafka_clients, metrics
from pipelines.config import Settings, load_settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.errors import PulseError, WarehouseLockedError
from pipelines.load.kafka_records import (
    CLICKS_TABLE,
    TOPIC_TABLES,
    Record,
    batch_run_id,
    batch_to_arrow,
    click_days,
    closed_days,
    dedup_token,
)
from pipelines.streaming import query_endpoint
from pipelines.streaming.freshness import newest_in_batch, newest_in_warehouse
from pipelines.streaming.monitor import export_lags_forever
from pipelines.warehouse.close import ADJUSTMENTS, book_adjustments, closed_months
from pipelines.warehouse.migrations import migrate
from pipelines.warehouse.rollups import PAYOUTS, rebuild_payouts

log = logging.getLogger("pulse.loader")
log.setLevel(logging.INFO)

JOB = "faust_loader"  # the ``job`` label of its metrics
ATTEMPTS = 8  # then the process exits without acking: the batch is redelivered on restart
#: seconds between two tries while another process holds the embedded warehouse folder
LOCKED_RETRY_S = 1.0


def _loader_version() -> str:
    """pulse's release, part of each batch's deduplication token on a cluster."""
    try:
        return f"pulse-{version('pulse')}"
    except PackageNotFoundError:
        return "pulse-unknown"


LOADER_VERSION = _loader_version()


class WarehouseWriter:
    """Owns the warehouse connection; every call runs on its single thread."""

    def __init__(self, settings: Settings, journal: Path | None) -> None:
        self.settings = settings
        self.journal = journal
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")
        self._wh: Warehouse | None = None

    def _warehouse(self) -> Warehouse:
        if self._wh is None:
            wh = Warehouse.connect(self.settings)
            migrate(wh)
            self._wh = wh
            log.info("warehouse %s open (database %s)", wh.target.display, wh.database)
            self._observe_newest(wh)
        return self._wh

    def store(self, topic: str, records: Sequence[Record]) -> int:
        """Insert one batch (and rebuild payouts for clicks). Blocking; warehouse thread only."""
        started = time.perf_counter()
        converted = batch_to_arrow(topic, records)
        for record, why in converted.bad:
            metrics.LOADER_BAD_RECORDS.labels(JOB, converted.table).inc()
            log.error(
                "skipping unreadable record %s/%d@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                why,
            )
        wh = self._warehouse()
        token = dedup_token(topic, records, LOADER_VERSION)  # sent on a cluster only
        try:
            rows = wh.insert_arrow(converted.table, converted.data, dedup_token=token)
        except Exception:
            metrics.INSERT_ERRORS.labels(JOB, converted.table).inc()
            raise
        if converted.table == CLICKS_TABLE and rows:
            days = click_days(converted.data)
            try:
                rebuild_payouts(wh, days)
            except Exception:
                metrics.INSERT_ERRORS.labels(JOB, PAYOUTS).inc()
                raise
            self._book_adjustments(wh, topic, records, days)
        metrics.ROWS_LOADED.labels(JOB, converted.table).inc(rows)
        newest = newest_in_batch(converted.table, converted.data) if rows else None
        if newest is not None:
            metrics.observe_warehouse_event_time(JOB, newest)
        metrics.LOADER_BATCH_SECONDS.labels(JOB).observe(time.perf_counter() - started)
        if self.journal is not None:
            self._write_journal(topic, records, rows)
        return rows

    def _book_adjustments(
        self, wh: Warehouse, topic: str, records: Sequence[Record], days: Sequence[date]
    ) -> None:
        """Clicks of a closed month changed: book the difference (docs/finance.md)."""
        try:
            touched = closed_days(days, closed_months(wh))
            if not touched:
                return
            booked = book_adjustments(wh, batch_run_id(topic, records))
        except Exception:
            metrics.INSERT_ERRORS.labels(JOB, ADJUSTMENTS).inc()
            raise
        log.info(
            "clicks of closed months (%s .. %s) changed: %d adjustment rows booked",
            touched[0],
            touched[-1],
            len(booked),
        )

    def _observe_newest(self, wh: Warehouse) -> None:
        """Freshness right after (re)start: the newest event time already in the warehouse."""
        try:
            newest = newest_in_warehouse(wh)
        except Exception as err:  # freshness must never stop the loader
            log.warning("cannot read the newest event time of the warehouse: %s", err)
            return
        if newest is not None:
            metrics.observe_warehouse_event_time(JOB, newest)

    def _write_journal(self, topic: str, records: Sequence[Record], rows: int) -> None:
        assert self.journal is not None
        line = {
            "topic": topic,
            "visible_ms": int(time.time() * 1000),
            "rows": rows,
            "offsets": sorted({(r.partition, r.offset) for r in records}),
        }
        with self.journal.open("a") as out:
            out.write(json.dumps(line) + "\n")

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        def _close() -> None:
            if self._wh is not None:
                self._wh.close()
                self._wh = None

        self._executor.submit(_close).result(timeout=60)
        self._executor.shutdown(wait=True)


def _record(event: Any) -> Record:
    message = event.message
    stamp = message.timestamp
    return Record(
        value=message.value,
        timestamp_ms=round(stamp * 1000) if stamp is not None else 0,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
    )


async def _store_with_retries(
    writer: WarehouseWriter, topic: str, records: Sequence[Record]
) -> int:
    delay = 0.5
    attempt = 0
    while attempt < ATTEMPTS:
        try:
            rows: int = await writer.run(writer.store, topic, records)
            return rows
        except WarehouseLockedError as err:
            # Another process holds the embedded folder (an analyst's query, a dump): an outage
            # of the warehouse, not a failed insert. Wait for it without using up the attempts;
            # nothing is acked meanwhile, so no row is lost.
            log.warning("storing %s waits for the warehouse: %s", topic, err)
            await asyncio.sleep(LOCKED_RETRY_S)
        except Exception as err:  # never ack what is not stored: retry, then exit
            attempt += 1
            log.error(
                "storing %d records of %s failed (try %d): %s", len(records), topic, attempt, err
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
    log.critical("giving up on %s: exiting WITHOUT committing (the batch is redelivered)", topic)
    os._exit(70)


def create_app(settings: Settings) -> tuple[faust.App, WarehouseWriter]:
    """The Faust app (one agent per results topic) and the writer it stores batches with."""
    cfg = settings.loader
    writer = WarehouseWriter(settings, Path(cfg.journal) if cfg.journal else None)
    metrics.declare_loader(JOB, [*TOPIC_TABLES.values(), PAYOUTS, ADJUSTMENTS])
    app = faust.App(
        cfg.group,
        broker=f"kafka://{settings.kafka.bootstrap}",
        broker_credentials=kafka_clients.faust_credentials(settings.kafka),
        store="memory://",
        datadir=cfg.data_dir,
        web_enabled=False,
        topic_partitions=1,
        topic_replication_factor=settings.kafka.replication_factor,
        broker_commit_interval=0.5,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=max(4096, 2 * cfg.batch),
    )

    def make_agent(topic: str) -> Callable[[Any], AsyncIterator[None]]:
        async def load(stream: Any) -> AsyncIterator[None]:
            async for events in stream.noack_take(cfg.batch, within=cfg.within_s):
                await _store_with_retries(writer, topic, [_record(event) for event in events])
                for event in events:  # offsets become committable only now
                    await stream.ack(event)
                yield None

        return load

    for topic, table in TOPIC_TABLES.items():
        channel = app.topic(
            settings.kafka.topic_prefix + topic,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )
        app.agent(channel, name=f"load-{table}")(make_agent(topic))

    async def open_warehouse() -> None:
        """Open (and migrate) the warehouse at start; wait while another process holds the
        embedded folder, fail fast on any other error (a file in its place, no permission)."""
        metrics.serve(settings.metrics, "loader")
        while True:
            try:
                await writer.run(writer._warehouse)
                break
            except WarehouseLockedError as err:
                # Locked by another process (a query, a dump): the loader is restarted by a
                # supervisor into that state, so exiting would only loop; wait and retry.
                log.warning("%s: retrying every %.0f s", err, LOCKED_RETRY_S)
                await asyncio.sleep(LOCKED_RETRY_S)
            except PulseError as err:
                log.critical("%s", err)
                os._exit(2)
        # `pulse query` while the stack runs: read-only SQL, run on the warehouse thread
        await asyncio.to_thread(query_endpoint.serve, settings, writer._executor)

    app.task(open_warehouse)

    async def consumer_lags() -> None:
        """pulse_consumer_lag_* of every stage (ingest, flink, loader), until stopped."""
        await export_lags_forever(settings, JOB)

    app.task(consumer_lags)
    return app, writer


app, writer = create_app(load_settings())


def main() -> None:
    try:
        app.main()
    finally:
        query_endpoint.stop_serving()
        writer.close()


if __name__ == "__main__":
    if len(sys.argv) == 1:
        sys.argv += ["worker", "--without-web", "-l", "info"]
    main()
