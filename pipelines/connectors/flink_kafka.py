"""Kafka connectors of the streaming run: clean topics in, results topics out.

The same interface as :class:`pipelines.connectors.flink_files.FileConnector`
(``source_options`` / ``sink_options`` per table), so the job logic
(:func:`pipelines.flink.job.build_statements`) is unchanged. Topic names and
keys follow ``infra/kafka/TOPICS.md``:

* sources read ``clean.<stream>`` (value = the clean JSON of
  :func:`pipelines.domain.events.to_clean_json`; the key is not read). The
  start position is the consumer group's committed offsets (committed by
  Flink on every completed checkpoint), ``earliest`` for a new group; a
  restore from a checkpoint overrides it with the offsets in the checkpoint.
* sinks write ``results.<name>`` with the same JSON value as the bounded run's
  result files (ISO-8601 zone-less UTC timestamps) and the natural id as the
  raw UTF-8 key. Delivery is at-least-once (flushed on every checkpoint): the
  loader is idempotent (ReplacingMergeTree keyed by natural keys), so a
  re-emitted row after a restart never double-counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.domain.streams import RESULTS, STREAMS

#: source table -> clean topic (the stream catalog's)
SOURCE_TOPICS: dict[str, str] = {spec.source_table: spec.clean_topic for spec in STREAMS}
#: the sources that may idle: changelogs, legitimately quiet for days
CHANGELOG_SOURCES = frozenset(spec.source_table for spec in STREAMS if spec.changelog)
#: the sources whose topics carry the ingest's watermark markers: the event streams
MARKED_SOURCES = frozenset(spec.source_table for spec in STREAMS if not spec.changelog)

#: sink table -> (topic, key column) (the stream catalog's)
SINK_TOPICS: dict[str, tuple[str, str]] = {
    r.sink_table: (r.topic, r.key) for r in RESULTS if r.sink_table is not None
}

JSON_VALUE = {
    "value.format": "json",
    "value.json.timestamp-format.standard": "ISO-8601",
    "value.json.fail-on-missing-field": "false",
    # Clean topics are written by ingest only: a malformed record is a bug, and
    # the job fails (and restarts from its checkpoint) rather than skip it.
    "value.json.ignore-parse-errors": "false",
}


def connector_jar(jars_dir: Path) -> Path:
    """The Flink Kafka SQL connector jar fetched by ``make setup``."""
    found = sorted((jars_dir / "flink").glob("flink-sql-connector-kafka-*.jar"))
    if not found:
        raise FileNotFoundError(
            f"no flink-sql-connector-kafka jar in {jars_dir / 'flink'}: run `make setup`"
        )
    return found[-1]


@dataclass(frozen=True)
class KafkaConnector:
    """Where the streaming job reads clean events and writes results."""

    bootstrap: str
    group_id: str
    #: ``group-offsets`` (resume) or ``earliest-offset`` (reprocess everything)
    startup_mode: str = "group-offsets"
    topic_prefix: str = ""
    #: a changelog source quiet this long stops holding the watermark (event sources never)
    changelog_idle_timeout_ms: int = 30_000
    #: Kafka client security properties (``properties.*``; never printed)
    client_properties: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.startup_mode not in ("group-offsets", "earliest-offset"):
            raise ValueError(f"unsupported startup mode {self.startup_mode!r}")

    def source_options(self, source_table: str) -> dict[str, str]:
        idle = (
            {"scan.watermark.idle-timeout": f"{self.changelog_idle_timeout_ms} ms"}
            if source_table in CHANGELOG_SOURCES
            else {}
        )
        return {
            "connector": "kafka",
            "topic": self.topic_prefix + SOURCE_TOPICS[source_table],
            "properties.bootstrap.servers": self.bootstrap,
            "properties.group.id": self.group_id,
            "properties.auto.offset.reset": "earliest",
            "properties.isolation.level": "read_committed",
            "scan.startup.mode": self.startup_mode,
            "scan.topic-partition-discovery.interval": "60 s",
            **self.client_properties,
            **idle,
            **JSON_VALUE,
        }

    def sink_options(self, sink_table: str) -> dict[str, str]:
        topic, key = SINK_TOPICS[sink_table]
        return {
            "connector": "kafka",
            "topic": self.topic_prefix + topic,
            "properties.bootstrap.servers": self.bootstrap,
            "properties.linger.ms": "5",
            "key.format": "raw",
            "key.fields": key,
            "value.fields-include": "ALL",
            "sink.delivery-guarantee": "at-least-once",
            **self.client_properties,
            **JSON_VALUE,
        }
