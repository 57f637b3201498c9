"""How far each stage of the streaming run is: Kafka lag per group, Flink's watermark.

Stages and the consumer group that drains each topic (see ``infra/kafka/TOPICS.md``;
groups from the settings, topic names with ``kafka.topic_prefix``):

* ``ingest`` (group ``ingest.group``, default ``pulse-ingest``): ``raw.*``
* ``flink`` (group ``flink.group``, default ``pulse-flink``, committed on each completed
  checkpoint, i.e. after the records' results were flushed to the results topics): ``clean.*``
* ``loader`` (group ``loader.group``, default ``pulse-loader``, committed after the rows are
  in the warehouse): ``results.*``, ``deadletter.rejected``, ``clean.creator_profiles``,
  ``clean.campaigns`` (dimensions)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from pipelines.config import Settings
from pipelines.connectors.flink_kafka import SINK_TOPICS, SOURCE_TOPICS
from pipelines.flink.schemas import ENGAGEMENT_WINDOWS
from pipelines.load.kafka_records import TOPIC_TABLES

RAW_TOPICS = tuple(
    f"raw.{name}" for name in ("views", "comments", "ad_clicks", "creator_profiles", "campaigns")
)


@dataclass(frozen=True)
class Stage:
    name: str  # component name
    group: str
    topics: tuple[str, ...]


def stages(settings: Settings) -> tuple[Stage, ...]:
    """The stages in data-flow order (``--wait`` drains them in this order)."""
    prefix = settings.kafka.topic_prefix
    return (
        Stage("ingest", settings.ingest.group, tuple(prefix + t for t in RAW_TOPICS)),
        Stage("flink", settings.flink.group, tuple(prefix + t for t in SOURCE_TOPICS.values())),
        Stage("loader", settings.loader.group, tuple(prefix + t for t in TOPIC_TABLES)),
    )


@dataclass
class TopicLag:
    topic: str
    end: int  # sum of end offsets over partitions
    committed: int  # sum of committed offsets (floored at the log start)
    lag: int

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


async def stage_lags(bootstrap: str, wanted: tuple[Stage, ...]) -> list[StageLag]:
    """Lag of each stage's group on each of its topics (missing topics are skipped)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
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
        for stage in wanted:
            committed_by_tp: dict[Any, int] = {}
            for tp, meta in (await admin.list_consumer_group_offsets(stage.group)).items():
                if meta is not None and meta.offset >= 0:
                    committed_by_tp[tp] = meta.offset
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
                lags.topics.append(TopicLag(topic, end, committed, end - committed))
            result.append(lags)
        return result
    finally:
        await consumer.stop()
        await admin.close()


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
