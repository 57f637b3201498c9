"""The per-message step of the streaming ingest, without Kafka: raw bytes in, one decision out.

The same steps as the bounded ingest (``pipelines/ingest/files.py``), in the same order:

1. **validate** with the one :class:`~pipelines.validation.Validator` (reference clock = wall
   clock, assigned per poll by the runner) -> ``rejected`` (a dead letter with the source
   topic/partition/offset and the reason code);
2. the ingest rules of :mod:`pipelines.ingest.rules` (one module for files and Kafka), per raw
   partition: **replay** -> ``replay`` (dropped, counted); **late** -> ``late`` (to
   ``results.late_events``; its key still counts as seen). A bounded run is the one-partition
   case of the same rules;
3. otherwise ``clean``: :func:`~pipelines.domain.events.to_clean_json`, keyed by ``user_id``
   (views, comments, clicks), ``creator_id`` or ``campaign_id`` (raw UTF-8 bytes).

State (the rules' seen keys and per-partition clocks) changes in memory at once, and every
change is also queued as a *changelog record* ``(partition, key, value)`` that the runner writes
to a compacted Kafka topic after the outputs are acknowledged (see
:mod:`pipelines.streaming.kafka_runner` for the protocol and its guarantee). :meth:`restore`
rebuilds the state from those records after a restart.

Every output carries headers naming its source (``pulse-src: topic/partition/offset``) and, for
clean and late events, its event key and event time, so that the outputs of a half-finished
batch can be recognised after a crash (:meth:`StreamIngestor.apply_emitted`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from operator import attrgetter
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from pipelines.domain.events import (
    EVENT_TYPES,
    AdClickEvent,
    CampaignEvent,
    CommentEvent,
    CreatorProfileEvent,
    Event,
    Stream,
    ViewEvent,
    event_key,
    event_time_ms,
    to_clean_json,
)
from pipelines.domain.streams import Topics
from pipelines.ingest.messages import LATE_REASON, late_value, rejected_value
from pipelines.ingest.rules import IngestRules, Verdict
from pipelines.validation import Rejection, Validator

__all__ = [
    "KEY_HEADER",
    "SRC_HEADER",
    "TIME_HEADER",
    "Decision",
    "Outcome",
    "Output",
    "StreamIngestor",
    "Topics",
    "clean_key",
    "parse_src",
]

SRC_HEADER = "pulse-src"
KEY_HEADER = "pulse-key"
TIME_HEADER = "pulse-time"

#: changelog key prefixes: seen event keys and per-partition clocks never collide
SEEN_PREFIX = b"k:"
CLOCK_PREFIX = b"w:"

Headers = tuple[tuple[str, bytes], ...]
ChangelogRecord = tuple[int, bytes, bytes | None]


class Outcome(StrEnum):
    """What ingest did with one raw message (the ``reason`` label of the outcome counter)."""

    CLEAN = "clean"
    REJECTED = "rejected"
    REPLAY = "replay"
    LATE = "late"


# Output and Decision are named tuples, not dataclasses: one of each is built per raw message,
# and a tuple is built in C (a frozen dataclass was 9 % of the streaming ingest's samples).
class Output(NamedTuple):
    """One message to produce; ``partition`` None: by key (murmur2, like the Java client)."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers
    partition: int | None = None


class Decision(NamedTuple):
    """The outcome of one raw message and the message it produces (none for a replay);
    ``event_time`` (epoch ms) for the valid ones."""

    outcome: Outcome
    output: Output | None = None
    reason: str | None = None
    event_time: int | None = None


#: (event key, event time, clean key text) of a valid event of one stream
Identity = Callable[[Any], tuple[str, int, str]]
#: views, comments and clicks: one C call instead of three type dispatches per message
_EVENT_IDENTITY: Identity = attrgetter("event_id", "event_time", "user_id")


def _changelog_identity(event: Event) -> tuple[str, int, str]:
    return event_key(event), event_time_ms(event), clean_key(event).decode()


def clean_key(event: Event) -> bytes:
    """Key of a clean message: ``user_id`` / ``creator_id`` / ``campaign_id`` as UTF-8 bytes."""
    if isinstance(event, ViewEvent | CommentEvent | AdClickEvent):
        return event.user_id.encode()
    if isinstance(event, CreatorProfileEvent):
        return event.creator_id.encode()
    if isinstance(event, CampaignEvent):
        return event.campaign_id.encode()
    raise TypeError(f"not an event: {event!r}")


def parse_src(value: bytes) -> tuple[str, int, int]:
    """``b"raw.views/1/42"`` -> ``("raw.views", 1, 42)``."""
    topic, partition, offset = value.decode().rsplit("/", 2)
    return topic, int(partition), int(offset)


class StreamIngestor:
    """Validation, then the ingest rules (:mod:`pipelines.ingest.rules`) of ONE stream; pure
    except for the reference clock, which the runner moves per poll."""

    def __init__(
        self,
        stream: Stream,
        *,
        reference_ms: int,
        future_tolerance_ms: int,
        dedup_horizon_ms: int,
        watermark_delay_ms: int,
        allowed_lateness_ms: int,
        watermark_jump_warn_ms: int | None = None,
        topics: Topics | None = None,
    ) -> None:
        self.stream = Stream(stream)
        self.topics = topics or Topics()
        self.validator = Validator(self.stream, reference_ms, future_tolerance_ms)
        self.rules = IngestRules(
            dedup_horizon_ms=dedup_horizon_ms,
            watermark_delay_ms=watermark_delay_ms,
            allowed_lateness_ms=allowed_lateness_ms,
            jump_warn_ms=watermark_jump_warn_ms,
            journal=True,
        )
        self.clean_topic = self.topics.clean(self.stream)
        self._dirty_clocks: set[int] = set()
        event_type = EVENT_TYPES[self.stream]
        plain = event_type in (ViewEvent, CommentEvent, AdClickEvent)
        self._identity: Identity = _EVENT_IDENTITY if plain else _changelog_identity

    # -- the step -------------------------------------------------------------------------
    def decide(self, raw: bytes, topic: str, partition: int, offset: int) -> Decision:
        """The decision for one raw message; never raises on any ``bytes``."""
        src = ((SRC_HEADER, b"%s/%d/%d" % (topic.encode(), partition, offset)),)
        outcome = self.validator.validate(raw)
        if isinstance(outcome, Rejection):
            reason = outcome.reason.value
            value = rejected_value(
                self.stream.value, topic, partition, offset, reason, outcome.detail, raw
            )
            return Decision(
                Outcome.REJECTED, Output(self.topics.deadletter, topic.encode(), value, src), reason
            )
        key, when, clean_id = self._identity(outcome)
        self._dirty_clocks.add(partition)
        verdict = self.rules.decide(key, when, partition)
        if verdict is Verdict.REPLAY:
            return Decision(Outcome.REPLAY, None, None, when)
        headers = (*src, (KEY_HEADER, key.encode()), (TIME_HEADER, b"%d" % when))
        if verdict is Verdict.LATE:
            watermark = self.rules.late_watermark_ms
            assert watermark is not None
            value = late_value(self.stream.value, key, when, watermark, raw)
            out = Output(self.topics.late, topic.encode(), value, headers)
            return Decision(Outcome.LATE, out, LATE_REASON, when)
        # a clean event stays in its raw partition's number: each clean partition then carries
        # exactly one raw partition's on-time events, and Flink's per-partition watermark
        # (event time - delay - allowed lateness) is that raw partition's lateness bound
        out = Output(
            self.clean_topic, clean_id.encode(), to_clean_json(outcome), headers, partition
        )
        return Decision(Outcome.CLEAN, out, None, when)

    def watermark_ms(self) -> int | None:
        """The stream's watermark (see :class:`pipelines.ingest.rules.LatenessRule`)."""
        return self.rules.lateness.watermark_ms()

    def partition_clocks(self) -> Mapping[int, int]:
        """Partition -> newest event time of its on-time events (read-only view)."""
        return MappingProxyType(self.rules.lateness.clocks)

    # -- partitions that have not delivered yet ------------------------------------------------
    def has_on_time_event(self, partition: int) -> bool:
        return partition in self.rules.lateness.clocks

    def hold(self, partition: int) -> None:
        """The partition holds the stream's reported watermark until its first on-time event."""
        self.rules.lateness.waiting.add(partition)

    def apply_emitted(self, outcome: Outcome, key: str, when: int, partition: int) -> None:
        """Replay the state change of a message whose output is already in Kafka (a message
        redelivered after a crash): same state as when it was first decided, nothing sent."""
        self._dirty_clocks.add(partition)
        self.rules.replays.is_replay(key, when, partition)
        if outcome is Outcome.CLEAN:
            self.rules.lateness.observe(when, partition)

    # -- state ----------------------------------------------------------------------------
    def take_changes(self) -> list[ChangelogRecord]:
        """The changelog records of all state changes since the last call."""
        journal = self.rules.replays.journal
        assert journal is not None
        changes: list[ChangelogRecord] = [
            (partition, SEEN_PREFIX + key.encode(), None if first is None else b"%d" % first)
            for partition, key, first in journal
        ]
        journal.clear()
        replay_clocks = self.rules.replays.clocks
        on_time_clocks = self.rules.lateness.clocks
        for partition in sorted(self._dirty_clocks):
            clock = [replay_clocks.get(partition), on_time_clocks.get(partition)]
            changes.append((partition, CLOCK_PREFIX + b"%d" % partition, orjson.dumps(clock)))
        self._dirty_clocks.clear()
        return changes

    def restore(self, records: Iterable[ChangelogRecord]) -> int:
        """Rebuild state from changelog records (after :meth:`forget` or at start)."""
        n = 0
        replays = self.rules.replays
        for partition, key, value in records:
            n += 1
            if key.startswith(SEEN_PREFIX):
                first = None if value is None else int(value)
                replays.restore(partition, key[len(SEEN_PREFIX) :].decode(), first)
            elif key.startswith(CLOCK_PREFIX) and value is not None:
                replay_clock, on_time_clock = orjson.loads(value)
                clock_partition = int(key[len(CLOCK_PREFIX) :])
                if replay_clock is not None:
                    replays.clocks[clock_partition] = replay_clock
                self.rules.lateness.set_clock(clock_partition, on_time_clock)
        replays.rebuild()
        return n

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop the state of partitions this worker no longer owns."""
        gone = list(partitions)
        self.rules.replays.forget(gone)
        self.rules.lateness.forget(gone)
