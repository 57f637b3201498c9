"""The Kafka topics of pulse, derived from the stream catalog, and their creation.

Names and keys come from :mod:`pipelines.domain.streams`; this module adds what Kafka needs:
partition counts and topic configs. ``infra/kafka/TOPICS.md`` is rendered from
:func:`pulse_topics` (:func:`topics_markdown`) and a test keeps it equal.

Partitions: a clean topic has exactly as many partitions as its raw topic, because ingest
keeps each clean event in its raw partition's number (each clean partition then carries one raw
partition's events, which is what makes Flink's watermark follow ingest's lateness rule, see
docs/streaming.md). Results, dead letters and late events have ``results_partitions``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.domain.streams import RESULTS, STREAMS
from pipelines.domain.time import DAY_MS, HOUR_MS

__all__ = [
    "TopicReport",
    "TopicSetupError",
    "TopicSpec",
    "ensure_topics",
    "pulse_topics",
    "topics_markdown",
]


class TopicSetupError(RuntimeError):
    """The broker could not be reached, or a topic could not be created."""


@dataclass(frozen=True)
class TopicSpec:
    """One topic: name, partition count, key (documentation) and topic-level configs."""

    name: str
    partitions: int
    key: str
    config: Mapping[str, str] = field(default_factory=dict)


# The broker stamps every record with its arrival time (LogAppendTime): retention counts from
# arrival, never from a (possibly months old) event time, and a record dated in the future is
# never refused by the broker (Kafka 4 rejects CreateTime > now + 1 h). Event time is the
# ``event_time`` field of the JSON value; jobs read it from there.
_STAMP = {"message.timestamp.type": "LogAppendTime"}
WEEK = {**_STAMP, "cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)}
MONTH = {**_STAMP, "cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)}
COMPACT = {**_STAMP, "cleanup.policy": "compact", "min.compaction.lag.ms": str(HOUR_MS)}


def pulse_topics(
    partitions: int = 2, results_partitions: int = 1, prefix: str = ""
) -> list[TopicSpec]:
    """All topics of pulse: raw and clean per stream (``partitions`` each), then results."""
    specs: list[TopicSpec] = []
    # Raw input is untrusted: keys are recommended, never relied upon (may be null).
    for spec in STREAMS:
        key = f"{spec.key_field} (recommended)"
        specs.append(TopicSpec(prefix + spec.raw_topic, partitions, key, WEEK))
    for spec in STREAMS:
        config = COMPACT if spec.changelog else WEEK
        specs.append(TopicSpec(prefix + spec.clean_topic, partitions, spec.key_field, config))
    clean = {spec.clean_topic for spec in STREAMS}
    for result in RESULTS:
        if result.topic in clean:  # the dimensions are read from the clean changelogs
            continue
        config = COMPACT if result.compacted else MONTH
        specs.append(TopicSpec(prefix + result.topic, results_partitions, result.key, config))
    return specs


@dataclass
class TopicReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    #: existing topics whose partition count differs from the spec (never changed silently)
    mismatched: dict[str, tuple[int, int]] = field(default_factory=dict)


async def ensure_topics(
    bootstrap: str,
    specs: Sequence[TopicSpec],
    *,
    replication_factor: int = 1,
    timeout_ms: int = 30_000,
    client_options: Mapping[str, Any] | None = None,
) -> TopicReport:
    """Create the missing topics of ``specs`` (idempotent; existing ones are left alone).
    ``client_options``: security arguments (:func:`pipelines.kafka_clients.aiokafka_options`)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

    report = TopicReport()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms, **(client_options or {})
    )
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        await admin.close()
        raise TopicSetupError(
            f"no Kafka broker at {bootstrap} ({exc}): start one with `pulse up` (make up)"
        ) from exc
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            resp = await admin.create_topics(
                [
                    NewTopic(s.name, s.partitions, replication_factor, topic_configs=dict(s.config))
                    for s in missing
                ],
                timeout_ms=timeout_ms,
            )
            for name, code, message in resp.topic_errors:
                if code == 0:
                    report.created.append(name)
                elif code == TopicAlreadyExistsError.errno:  # created concurrently
                    report.existing.append(name)
                else:
                    raise TopicSetupError(f"creating topic {name} failed: [{code}] {message}")
        present = [s for s in specs if s.name in existing]
        if present:
            described = await admin.describe_topics([s.name for s in present])
            counts = {d["topic"]: len(d["partitions"]) for d in described}
            for s in present:
                report.existing.append(s.name)
                if counts.get(s.name, s.partitions) != s.partitions:
                    report.mismatched[s.name] = (counts[s.name], s.partitions)
    finally:
        await admin.close()
    return report


def _cleanup(config: Mapping[str, str]) -> str:
    if config.get("cleanup.policy") == "compact":
        return f"compact (min lag {int(config['min.compaction.lag.ms']) // HOUR_MS} h)"
    return f"delete, {int(config['retention.ms']) // DAY_MS} days"


def topics_markdown(specs: Sequence[TopicSpec] | None = None) -> str:
    """The topic table of ``infra/kafka/TOPICS.md`` (default partition counts)."""
    rows = [
        "| topic | partitions (default) | key (raw UTF-8 bytes of the id) | cleanup / retention |",
        "| --- | --- | --- | --- |",
    ]
    for spec in specs if specs is not None else pulse_topics():
        rows.append(f"| `{spec.name}` | {spec.partitions} | {spec.key} | {_cleanup(spec.config)} |")
    return "\n".join(rows) + "\n"
