"""The per-message step of the streaming ingest, without Kafka: raw bytes in, one decision out.

The same steps as the bounded ingest (``pipelines/ingest/bounded.py``), in the same order:

1. **validate** with the one :class:`~pipelines.validation.Validator` (reference clock = wall
   clock, assigned per poll by the runner) -> ``rejected`` (a dead letter with the source
   topic/partition/offset and the reason code);
2. **replay**: an event key (:func:`~pipelines.domain.events.event_key`) accepted before in this
   stream, within the dedup horizon of event time -> ``replay`` (dropped, counted);
3. **late**: older than the stream's watermark by more than the allowed lateness (1 h) ->
   ``late`` (to ``results.late_events``; its key still counts as seen, exactly like the bounded
   run). Watermark = max event time seen - 5 min *per raw partition*, and the stream's is the
   minimum over its partitions (see :meth:`StreamIngestor.watermark_ms`); with one partition
   this is :class:`pipelines.ingest.lateness.LateEventFilter` exactly;
4. otherwise ``clean``: :func:`~pipelines.domain.events.to_clean_json`, keyed by ``user_id``
   (views, comments, clicks), ``creator_id`` or ``campaign_id`` (raw UTF-8 bytes).

State (:class:`SeenKeys` and the per-partition clocks) changes in memory at once, and every
change is also queued as a *changelog record* ``(partition, key, value)`` that the runner writes
to a compacted Kafka topic after the outputs are acknowledged (see
:mod:`pipelines.streaming.kafka_runner` for the protocol and its guarantee). :meth:`restore`
rebuilds the state from those records after a restart.

Every output carries headers naming its source (``pulse-src: topic/partition/offset``) and, for
clean and late events, its event key and event time, so that the outputs of a half-finished
batch can be recognised after a crash (:meth:`StreamIngestor.apply_emitted`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import orjson

from pipelines.domain.events import (
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
from pipelines.ingest.sources import FILE_STEMS
from pipelines.streaming.deadletter import LATE_REASON, late_value, rejected_value
from pipelines.validation import Rejection, Validator

__all__ = [
    "KEY_HEADER",
    "SRC_HEADER",
    "TIME_HEADER",
    "Decision",
    "Outcome",
    "Output",
    "SeenKeys",
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


@dataclass(frozen=True)
class Topics:
    """Topic names of the ingest; ``prefix`` isolates tests and benchmarks on one broker."""

    prefix: str = ""

    def raw(self, stream: Stream) -> str:
        return f"{self.prefix}raw.{FILE_STEMS[stream]}"

    def clean(self, stream: Stream) -> str:
        return f"{self.prefix}clean.{FILE_STEMS[stream]}"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}deadletter.rejected"

    @property
    def late(self) -> str:
        return f"{self.prefix}results.late_events"

    def stream_of_raw(self, topic: str) -> Stream:
        for stream in Stream:
            if self.raw(stream) == topic:
                return stream
        raise KeyError(topic)


@dataclass(frozen=True, slots=True)
class Output:
    """One message to produce."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one raw message and the message it produces (none for a replay)."""

    outcome: Outcome
    output: Output | None = None
    reason: str | None = None


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


@dataclass
class SeenKeys:
    """Event keys accepted within the dedup horizon, with the raw partition that owns each.

    Same rule as :class:`pipelines.ingest.replays.ReplayFilter` (a key is a replay while its
    first acceptance is no more than ``horizon_ms`` behind the newest event time seen; memory is
    freed in whole buckets), plus a changelog record per change: ``k:<key> -> b"<ms>"`` in the
    key's partition, and a tombstone when a key expires.
    """

    horizon_ms: int
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)
    max_time: int | None = None
    changes: list[ChangelogRecord] = field(default_factory=list)
    _buckets: deque[tuple[int, list[str]]] = field(default_factory=deque)

    def __len__(self) -> int:
        return len(self.seen)

    def is_replay(self, key: str, event_time_ms: int, partition: int) -> bool:
        """True for a replay; otherwise remember the key (and queue its changelog record)."""
        max_time = self.max_time
        if max_time is None or event_time_ms > max_time:
            self.max_time = max_time = event_time_ms
            if self._buckets and self._buckets[0][0] < max_time - 2 * self.horizon_ms:
                self._evict(max_time - self.horizon_ms)
        first = self.seen.get(key)
        if first is not None and first[0] >= max_time - self.horizon_ms:
            return True
        raw_key = SEEN_PREFIX + key.encode()
        if first is not None and first[1] != partition:  # expired key, now owned elsewhere
            self.changes.append((first[1], raw_key, None))
        self.seen[key] = (event_time_ms, partition)
        self.changes.append((partition, raw_key, b"%d" % event_time_ms))
        self._bucket(key, event_time_ms)
        return False

    def _bucket(self, key: str, event_time_ms: int) -> None:
        bucket = event_time_ms // self.horizon_ms
        if self._buckets and self._buckets[-1][0] // self.horizon_ms == bucket:
            self._buckets[-1][1].append(key)
        else:
            self._buckets.append((event_time_ms, [key]))

    def _evict(self, expired_before_ms: int) -> None:
        while self._buckets and self._buckets[0][0] < expired_before_ms - self.horizon_ms:
            _start, keys = self._buckets.popleft()
            for key in keys:
                first = self.seen.get(key)
                if first is not None and first[0] < expired_before_ms:
                    del self.seen[key]
                    self.changes.append((first[1], SEEN_PREFIX + key.encode(), None))

    def restore(self, partition: int, key: str, value: bytes | None) -> None:
        """Apply one changelog record (records of one partition arrive in log order)."""
        current = self.seen.get(key)
        if value is None:
            if current is not None and current[1] == partition:
                del self.seen[key]
            return
        when = int(value)
        if current is None or when >= current[0]:
            self.seen[key] = (when, partition)

    def rebuild_buckets(self) -> None:
        """Re-index all keys by time after :meth:`restore` (eviction works on buckets)."""
        self._buckets.clear()
        for key, (when, _partition) in sorted(self.seen.items(), key=lambda kv: kv[1][0]):
            self._bucket(key, when)

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop the keys owned by revoked partitions (another worker restores them)."""
        gone = set(partitions)
        for key in [k for k, (_, p) in self.seen.items() if p in gone]:
            del self.seen[key]
        self.rebuild_buckets()


class StreamIngestor:
    """Validation, replay and lateness of ONE stream; pure except for the wall clock input."""

    def __init__(
        self,
        stream: Stream,
        *,
        reference_ms: int,
        future_tolerance_ms: int,
        dedup_horizon_ms: int,
        watermark_delay_ms: int,
        allowed_lateness_ms: int,
        topics: Topics | None = None,
    ) -> None:
        self.stream = Stream(stream)
        self.topics = topics or Topics()
        self.validator = Validator(self.stream, reference_ms, future_tolerance_ms)
        self.seen = SeenKeys(dedup_horizon_ms)
        self.watermark_delay_ms = watermark_delay_ms
        self.allowed_lateness_ms = allowed_lateness_ms
        self._watermark_cache: int | None = None
        #: partitions with unread data and no on-time event yet: no watermark until each has one
        #: or is caught up (else a partition merely behind would be declared late wholesale)
        self.waiting: set[int] = set()
        self.clean_topic = self.topics.clean(self.stream)
        #: per raw partition: [max event time of valid events, max event time of on-time events]
        self.clocks: dict[int, list[int | None]] = {}
        self._dirty_clocks: set[int] = set()

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
        when = event_time_ms(outcome)
        key = event_key(outcome)
        if self._is_replay(key, when, partition):
            return Decision(Outcome.REPLAY)
        headers = (*src, (KEY_HEADER, key.encode()), (TIME_HEADER, b"%d" % when))
        watermark = self._observe(when, partition)
        if watermark is not None:
            value = late_value(self.stream.value, key, when, watermark, raw)
            out = Output(self.topics.late, topic.encode(), value, headers)
            return Decision(Outcome.LATE, out, LATE_REASON)
        out = Output(self.clean_topic, clean_key(outcome), to_clean_json(outcome), headers)
        return Decision(Outcome.CLEAN, out)

    def _is_replay(self, key: str, when: int, partition: int) -> bool:
        clock = self.clocks.get(partition)
        if clock is None:
            clock = self.clocks[partition] = [None, None]
        if clock[0] is None or when > clock[0]:
            clock[0] = when
            self._dirty_clocks.add(partition)
        return self.seen.is_replay(key, when, partition)

    def watermark_ms(self) -> int | None:
        """The stream's watermark: min over partitions of (max on-time event time) - delay.

        One partition (the bounded run is one) gives exactly DOMAIN's "max event time seen -
        5 minutes"; over several partitions read at different speeds (a backlog) the slowest
        one holds it back, like a Flink source, so a partition that is merely behind is not
        declared late wholesale.
        """
        if self.waiting:
            return None
        if self._watermark_cache is None:
            maxima = [c[1] for c in self.clocks.values() if c[1] is not None]
            if not maxima:
                return None
            self._watermark_cache = min(maxima) - self.watermark_delay_ms
        return self._watermark_cache

    def _observe(self, when: int, partition: int) -> int | None:
        watermark = self.watermark_ms()
        if watermark is not None and when < watermark - self.allowed_lateness_ms:
            return watermark
        clock = self.clocks[partition]
        if clock[1] is None or when > clock[1]:
            clock[1] = when
            self._dirty_clocks.add(partition)
            self._watermark_cache = None
            if self.waiting:
                self.waiting.discard(partition)
        return None

    def apply_emitted(self, outcome: Outcome, key: str, when: int, partition: int) -> None:
        """Replay the state change of a message whose output is already in Kafka (a message
        redelivered after a crash): same state as when it was first decided, nothing sent."""
        self._is_replay(key, when, partition)
        if outcome is Outcome.CLEAN:
            self._observe(when, partition)

    # -- state ----------------------------------------------------------------------------
    def take_changes(self) -> list[ChangelogRecord]:
        """The changelog records of all state changes since the last call."""
        changes = self.seen.changes
        self.seen.changes = []
        for partition in sorted(self._dirty_clocks):
            changes.append(
                (partition, CLOCK_PREFIX + b"%d" % partition, orjson.dumps(self.clocks[partition]))
            )
        self._dirty_clocks.clear()
        return changes

    def restore(self, records: Iterable[ChangelogRecord]) -> int:
        """Rebuild state from changelog records (after :meth:`forget` or at start)."""
        n = 0
        for partition, key, value in records:
            n += 1
            if key.startswith(SEEN_PREFIX):
                self.seen.restore(partition, key[len(SEEN_PREFIX) :].decode(), value)
            elif key.startswith(CLOCK_PREFIX) and value is not None:
                self.clocks[int(key[len(CLOCK_PREFIX) :])] = list(orjson.loads(value))
        self.seen.rebuild_buckets()
        self._recompute_maxima()
        return n

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop the state of partitions this worker no longer owns."""
        gone = list(partitions)
        self.seen.forget(gone)
        for p in gone:
            self.clocks.pop(p, None)
            self.waiting.discard(p)
        self._recompute_maxima()

    def _recompute_maxima(self) -> None:
        replay_max = [c[0] for c in self.clocks.values() if c[0] is not None]
        self.seen.max_time = max(replay_max, default=None)
        self._watermark_cache = None
