"""How far each stage of the streaming run is: Kafka lag per group, Flink's watermark.

Stages and the consumer group that drains each topic (see ``infra/kafka/TOPICS.md``;
groups from the settings, topic names with ``kafka.topic_prefix``):

* ``ingest`` (group ``ingest.group``, default ``pulse-ingest``): ``raw.*``
* ``flink`` (group ``flink.group``, default ``pulse-flink``, committed on each completed
  checkpoint, i.e. after the records' results were flushed to the results topics): ``clean.*``
* ``loader`` (group ``loader.group``, default ``pulse-loader``, committed after the rows are
  in the warehouse): ``results.*``, ``deadletter.rejected``, ``clean.creator_profiles``,
  ``clean.campaigns`` (dimensions)

The lag of a stage is counted in records (end offsets minus committed offsets) and in seconds
(the age of the oldest uncommitted record: pulse topics are stamped with the broker's arrival
time). The ingest's watermark markers (:mod:`pipelines.ingest.markers`) are not lag: Flink
commits a partition's offsets only when its Kafka poll returns, so the newest marker of a quiet
clean partition stays uncommitted until the next one arrives; a short uncommitted tail of a
clean event topic made of markers only counts as caught up (one small fetch per such partition).
``pulse status`` reads it once; the loader keeps a :class:`LagReader` open and exports
every stage's lag as ``pulse_consumer_lag_records`` / ``pulse_consumer_lag_seconds``
(:func:`export_lags_forever`). Kafka clients connect with the ``kafka`` section's security
settings (:mod:`pipelines.kafka_clients`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines import metrics
from pipelines.config import Settings
from pipelines.connectors.flink_kafka import MARKED_SOURCES, SINK_TOPICS, SOURCE_TOPICS
from pipelines.flink.schemas import ENGAGEMENT_WINDOWS
from pipelines.ingest.markers import is_marker
from pipelines.kafka_clients import aiokafka_options
from pipelines.load.kafka_records import TOPIC_TABLES

log = logging.getLogger(__name__)

RAW_TOPICS = tuple(
    f"raw.{name}" for name in ("views", "comments", "ad_clicks", "creator_profiles", "campaigns")
)


#: a lagging tail of at most this many records in a marked topic is read for markers
MARKER_TAIL = 4


@dataclass(frozen=True)
class Stage:
    name: str  # component name
    group: str
    topics: tuple[str, ...]
    #: the topics that carry the ingest's watermark markers (Flink's clean event topics)
    marked: frozenset[str] = frozenset()


def stages(settings: Settings) -> tuple[Stage, ...]:
    """The stages in data-flow order (``--wait`` drains them in this order)."""
    prefix = settings.kafka.topic_prefix
    return (
        Stage("ingest", settings.ingest.group, tuple(prefix + t for t in RAW_TOPICS)),
        Stage(
            "flink",
            settings.flink.group,
            tuple(prefix + t for t in SOURCE_TOPICS.values()),
            frozenset(prefix + SOURCE_TOPICS[s] for s in MARKED_SOURCES),
        ),
        Stage("loader", settings.loader.group, tuple(prefix + t for t in TOPIC_TABLES)),
    )


@dataclass
class TopicLag:
    topic: str
    end: int  # sum of end offsets over partitions
    committed: int  # sum of committed offsets (floored at the log start)
    lag: int
    #: broker time (ms) of the oldest record the group has not committed; None: caught up, or
    #: not asked (``stage_lags(..., ages=True)`` reads it)
    oldest_ms: int | None = None

    @property
    def records(self) -> int:
        return self.end


@dataclass
class StageLag:
    stage: Stage
    topics: list[TopicLag] = field(default_factory=list)

    @property
    def lag(self) -> int:
        return sum(t.lag for t in self.topics)

    @property
    def oldest_ms(self) -> int | None:
        """Broker time of the oldest record of the stage not committed yet (None: none)."""
        known = [t.oldest_ms for t in self.topics if t.oldest_ms is not None]
        return min(known) if known else None

    def seconds(self, now_ms: int) -> float:
        """How old the oldest uncommitted record is, in seconds (0 when caught up)."""
        oldest = self.oldest_ms
        return 0.0 if oldest is None or self.lag == 0 else max(0.0, (now_ms - oldest) / 1000)


class LagReader:
    """Kafka clients that read the lag of consumer groups, kept open between readings (the
    loader reads every stage's lag every ``metrics.lag_interval_s``)."""

    def __init__(self, bootstrap: str, client_options: Mapping[str, Any] | None = None) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        security = dict(client_options or {})
        self.admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=10_000, **security
        )
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            max_partition_fetch_bytes=64 * 1024,  # ages: the first record is enough
            **security,
        )
        self._started = False

    async def start(self) -> None:
        await self.admin.start()
        try:
            await self.consumer.start()
        except BaseException:
            await self.admin.close()
            raise
        self._started = True

    async def stop(self) -> None:
        if self._started:
            self._started = False
            try:
                await self.consumer.stop()
            finally:
                await self.admin.close()

    async def read(self, wanted: tuple[Stage, ...], ages: bool = False) -> list[StageLag]:
        """Lag of each stage's group on each of its topics (missing topics are skipped);
        ``ages``: also the broker time of the oldest uncommitted record of each lagging
        partition (one small fetch per partition; pulse topics are stamped with
        LogAppendTime), for the lag in seconds."""
        from aiokafka import TopicPartition

        admin, consumer = self.admin, self.consumer
        existing = set(await admin.list_topics())
        topics = sorted({t for s in wanted for t in s.topics if t in existing})
        partitions = []
        if topics:
            for described in await admin.describe_topics(topics):
                for p in sorted(part["partition"] for part in described["partitions"]):
                    partitions.append(TopicPartition(described["topic"], p))
        ends: dict[Any, int] = await consumer.end_offsets(partitions) if partitions else {}
        starts: dict[Any, int] = await consumer.beginning_offsets(partitions) if partitions else {}
        result = []
        behind: dict[tuple[str, Any], int] = {}  # (group, partition) -> first uncommitted offset
        for stage in wanted:
            committed_by_tp: dict[Any, int] = {}
            for tp, meta in (await _group_offsets(admin, stage.group)).items():
                if meta is not None and meta.offset >= 0:
                    committed_by_tp[tp] = meta.offset
            tails = {
                tp: committed_by_tp[tp]
                for tp in partitions
                if tp.topic in stage.marked
                and tp in committed_by_tp
                and 0 < ends.get(tp, 0) - committed_by_tp[tp] <= MARKER_TAIL
            }
            if tails:
                committed_by_tp.update(await _past_markers(consumer, tails, ends))
            lags = StageLag(stage)
            for topic in stage.topics:
                if topic not in existing:
                    continue
                end = committed = 0
                for tp in (tp for tp in partitions if tp.topic == topic):
                    e = ends.get(tp, 0)
                    c = max(committed_by_tp.get(tp, 0), starts.get(tp, 0))
                    end += e
                    committed += min(c, e)
                    if c < e:
                        behind[(stage.group, tp)] = c
                lags.topics.append(TopicLag(topic, end, committed, end - committed))
            result.append(lags)
        if ages and behind:
            stamps = await _first_timestamps(consumer, behind)
            for lags in result:
                for topic_lag in lags.topics:
                    known = [
                        stamp
                        for (group, tp), stamp in stamps.items()
                        if group == lags.stage.group and tp.topic == topic_lag.topic
                    ]
                    topic_lag.oldest_ms = min(known) if known else None
        return result


#: errors of a broker that is still starting (or moving) its group coordinator: retried
COORDINATOR_RETRY_S = (0.5, 1.0, 2.0, 4.0, 8.0)


async def _group_offsets(admin: Any, group: str) -> Any:
    """A group's committed offsets, retried while the broker's group coordinator is not ready
    (right after a broker start, or while coordination moves): a transient state, not an error."""
    from aiokafka.errors import (
        CoordinatorLoadInProgressError,
        CoordinatorNotAvailableError,
        NotCoordinatorError,
    )

    for pause in (*COORDINATOR_RETRY_S, None):
        try:
            return await admin.list_consumer_group_offsets(group)
        except (CoordinatorLoadInProgressError, CoordinatorNotAvailableError, NotCoordinatorError):
            if pause is None:
                raise
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")


async def stage_lags(
    bootstrap: str,
    wanted: tuple[Stage, ...],
    *,
    client_options: Mapping[str, Any] | None = None,
    ages: bool = False,
) -> list[StageLag]:
    """One reading of :meth:`LagReader.read` with clients of its own. ``client_options``: the
    security arguments of the Kafka clients (:func:`pipelines.kafka_clients.aiokafka_options`)."""
    reader = LagReader(bootstrap, client_options)
    await reader.start()
    try:
        return await reader.read(wanted, ages)
    finally:
        await reader.stop()


async def _past_markers(
    consumer: Any, tails: Mapping[Any, int], ends: Mapping[Any, int], timeout_s: float = 5.0
) -> dict[Any, int]:
    """For each partition, the committed offset moved past the watermark markers that follow
    it: the offset of the first uncommitted record that is not a marker, or the end (a
    partition that cannot be read within ``timeout_s`` in all keeps its offset)."""
    moved: dict[Any, int] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    for tp, offset in tails.items():
        consumer.assign([tp])
        consumer.seek(tp, offset)
        position = offset
        while position < ends[tp] and loop.time() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=MARKER_TAIL)
            records = [r for r in batch.get(tp, []) if r.offset < ends[tp]]
            event = next((r for r in records if not is_marker(r.headers)), None)
            if event is not None:
                position = event.offset
                break
            if records:
                position = records[-1].offset + 1
        if position > offset:
            moved[tp] = position
    return moved


async def _first_timestamps(
    consumer: Any, positions: Mapping[tuple[str, Any], int], timeout_s: float = 10.0
) -> dict[tuple[str, Any], int]:
    """The broker timestamp of the record at each (group, partition) position (a position whose
    record cannot be read within ``timeout_s`` in all is left out)."""
    found: dict[tuple[str, Any], int] = {}
    # one fetch per distinct (partition, offset); several groups may wait at the same one
    wanted: dict[tuple[Any, int], list[tuple[str, Any]]] = {}
    for key, offset in positions.items():
        wanted.setdefault((key[1], offset), []).append(key)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    for (tp, offset), keys in sorted(wanted.items(), key=lambda item: item[0][1]):
        consumer.assign([tp])
        consumer.seek(tp, offset)
        while loop.time() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=1)
            records = batch.get(tp, [])
            if records:
                for key in keys:
                    found[key] = int(records[0].timestamp)
                break
    return found


async def export_lags(settings: Settings, job: str, reader: LagReader) -> list[StageLag]:
    """Read every stage's lag (records and the age of the oldest uncommitted record) and set
    ``pulse_consumer_lag_records`` / ``pulse_consumer_lag_seconds`` of ``job``."""
    lags = await reader.read(stages(settings), ages=True)
    for lag in lags:
        metrics.set_consumer_lag(job, lag.stage.name, lag.lag, lag.oldest_ms)
    return lags


async def export_lags_forever(settings: Settings, job: str) -> None:
    """:func:`export_lags` every ``metrics.lag_interval_s`` until cancelled (the loader runs it
    as a task). A failed reading keeps the last values, is logged once (and its recovery),
    and the next one reconnects."""
    reader: LagReader | None = None
    failing: str | None = None
    try:
        while True:
            try:
                if reader is None:
                    reader = LagReader(settings.kafka.bootstrap, aiokafka_options(settings.kafka))
                    await reader.start()
                await export_lags(settings, job, reader)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a broker hiccup must not stop the job
                text = f"{type(err).__name__}: {err}"
                if text != failing:
                    log.warning("cannot read the consumer lag (kept the last values): %s", text)
                failing = text
                if reader is not None:
                    with contextlib.suppress(Exception):
                        await reader.stop()
                    reader = None
            else:
                if failing is not None:
                    log.info("consumer lag readable again")
                failing = None
            await asyncio.sleep(settings.metrics.lag_interval_s)
    finally:
        if reader is not None:
            await reader.stop()


# --- Flink REST API (the mini-cluster of jobs/flink_streaming.py) ----------------------


@dataclass(frozen=True)
class FlinkJobState:
    job_id: str
    state: str
    #: input watermark of each sink (min over its subtasks); None: none yet
    sink_watermarks: dict[str, int | None]
    last_checkpoint_ms: int | None  # completion time of the latest checkpoint

    @property
    def watermark_ms(self) -> int | None:
        """The job's event-time progress: the watermark at the windows sink.

        Click sinks trail it by design: the interval joins of attribution and
        revenue hold their output watermark back by their bounds.
        """
        return self.sink_watermarks.get(ENGAGEMENT_WINDOWS.name)


def _get(base: str, path: str, timeout: float) -> Any:
    with urllib.request.urlopen(f"{base}{path}", timeout=timeout) as response:
        return json.loads(response.read())


def _watermark(value: Any) -> int | None:
    try:
        mark = int(value)
    except (TypeError, ValueError):
        return None
    # Long.MIN_VALUE = no watermark yet
    return mark if mark > -(2**62) else None


def flink_job_state(rest_port: int, timeout: float = 2.0) -> FlinkJobState | None:
    """The running job's state, watermark and latest checkpoint, or None (no REST answer)."""
    base = f"http://127.0.0.1:{rest_port}"
    try:
        jobs = _get(base, "/jobs/overview", timeout).get("jobs", [])
        if not jobs:
            return None
        job = max(jobs, key=lambda j: j.get("start-time", 0))
        jid = job["jid"]
        detail = _get(base, f"/jobs/{jid}", timeout)
        sink_watermarks: dict[str, int | None] = {}
        for vertex in detail.get("vertices", []):
            sink = next((n for n in SINK_TOPICS if f"{n}[" in vertex.get("name", "")), None)
            if sink is None:
                continue
            marks = [
                _watermark(entry.get("value"))
                for entry in _get(base, f"/jobs/{jid}/vertices/{vertex['id']}/watermarks", timeout)
                if str(entry.get("id", "")).endswith("currentInputWatermark")
            ]
            known = [m for m in marks if m is not None]
            sink_watermarks[sink] = min(known) if known and len(known) == len(marks) else None
        checkpoints = _get(base, f"/jobs/{jid}/checkpoints", timeout)
        latest = (checkpoints.get("latest") or {}).get("completed") or {}
        last_ckpt = latest.get("latest_ack_timestamp")
        return FlinkJobState(jid, str(job.get("state")), sink_watermarks, last_ckpt)
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        return None
