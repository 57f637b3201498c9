"""What one streaming ingest worker needs, built from the settings (no defaults of its own)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.config import Settings
from pipelines.domain.events import Stream
from pipelines.domain.streams import Topics
from pipelines.kafka_clients import aiokafka_options


class IngestSetupError(RuntimeError):
    """A topic the ingest needs is missing or the broker cannot be reached."""


@dataclass(frozen=True)
class RunnerConfig:
    """What one ingest worker needs; no defaults here: build it with :meth:`from_settings`."""

    bootstrap: str
    group_id: str
    topics: Topics
    streams: tuple[Stream, ...]
    future_tolerance_ms: int
    #: fixed reference clock of the future rule (a backfill); None: the wall clock per batch
    as_of: int | None
    watermark_jump_warn_ms: int
    #: where the worker writes its health report for ``pulse status`` (None: nowhere)
    health_dir: str | None
    dedup_horizon_ms: int
    watermark_delay_ms: int
    allowed_lateness_ms: int
    max_batch: int
    session_timeout_ms: int
    heartbeat_interval_ms: int
    #: seconds without a clean event before a partition gets a watermark marker (0: never)
    marker_interval_s: float
    #: replicas of the state changelog topics the worker creates (``kafka.replication_factor``)
    replication_factor: int
    #: the security arguments of every aiokafka client (``kafka`` section; never printed)
    client_options: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> RunnerConfig:
        """The rule numbers, the Kafka section and the ingest section of the settings."""
        ingest = settings.ingest
        return cls(
            bootstrap=settings.kafka.bootstrap,
            group_id=ingest.group,
            topics=Topics(settings.kafka.topic_prefix),
            streams=tuple(Stream(s) for s in ingest.streams),
            future_tolerance_ms=settings.future_tolerance_ms,
            as_of=settings.as_of,
            watermark_jump_warn_ms=settings.watermark_jump_warn_ms,
            health_dir=settings.stack.dir,
            dedup_horizon_ms=settings.dedup_horizon_ms,
            watermark_delay_ms=settings.watermark_delay_ms,
            allowed_lateness_ms=settings.allowed_lateness_ms,
            max_batch=ingest.max_batch,
            session_timeout_ms=ingest.session_timeout_ms,
            heartbeat_interval_ms=ingest.heartbeat_interval_ms,
            marker_interval_s=ingest.watermark_marker_interval_s,
            replication_factor=settings.kafka.replication_factor,
            client_options=aiokafka_options(settings.kafka),
        )

    def changelog_topic(self, stream: Stream) -> str:
        return f"{self.topics.prefix}{self.group_id}-state-{stream.value}-changelog"
