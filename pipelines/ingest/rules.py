"""The ingest rules after validation, in one place: exact replays and late events.

Pure and partition-aware. A bounded run over a file is the one-partition case (partition ``0``,
file order); the streaming ingest feeds each raw Kafka partition's messages in offset order. Every
number comes from :class:`pipelines.config.Settings` (``dedup_horizon_ms``,
``watermark_delay_ms``, ``allowed_lateness_ms``).

**Replay** (:class:`ReplayRule`). An event key accepted before in the same stream is a replay
while it is *remembered*: its first acceptance lies no more than the dedup horizon behind the
newest event time seen **in the partition that accepted it**. Measuring the horizon per partition
(not against the newest event of the whole stream) makes the decision depend only on each
partition's own order, never on how fast one partition was read compared to another: a fast
partition running days ahead cannot make a slow partition forget its keys. With one partition it
is exactly "the newest event time seen so far" of the file order. Copies of one event land in
the same partition when raw messages are keyed by the recommended field (``user_id`` /
``creator_id`` / ``campaign_id``); a copy in another partition is still caught while the key is
remembered (same worker).

**Lateness** (:class:`LatenessRule`). Each partition has its own watermark: the newest event
time of its *on-time* events less ``watermark_delay_ms``. An event is late when it is more than
``allowed_lateness_ms`` behind the watermark of the partition it arrived in (``event_time <
watermark - allowed_lateness_ms``, strictly; exactly at the limit is on time): it goes to the
late events, and its key still counts as seen. A late event never moves the watermark. Like the
replay rule, this depends only on the partition's own order, so the same raw partitions read in
any interleaving, at any speed, give the same verdicts; with one partition it is "max event
time seen - 5 min" of the file order exactly. The stream's watermark reported to operators
(:meth:`LatenessRule.watermark_ms`) is the minimum over its partitions, and none while a
partition with unread data has not delivered an on-time event yet (``waiting``).

**Watermark jumps** (:class:`WatermarkJump`). One on-time event dated more than ``jump_warn_ms``
(``watermark_jump_warn_ms``, default one day) after the newest on-time event of the whole stream
(all partitions) is recorded: typically a wrongly dated event that the future rule could not
catch (a backfill run against the wall clock), which moves its partition's watermark far ahead
of the bulk of the stream and turns the partition's next events late. Measured against the
stream, not the partition, so a sparse partition catching up with the others is no jump. The
rules only record it; the runner warns (log, metric, ``pulse status``).

Both rules record every state change in a journal when asked (``journal=True``), so that the
streaming ingest can write them to a changelog and :meth:`restore` them after a restart.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["IngestRules", "LatenessRule", "ReplayRule", "SeenChange", "Verdict", "WatermarkJump"]

#: one journal entry of the replay state: (owner partition, event key, first event time or None
#: when the key was forgotten)
SeenChange = tuple[int, str, int | None]


class Verdict(StrEnum):
    """What the rules decide for one valid event."""

    ACCEPT = "accept"
    REPLAY = "replay"
    LATE = "late"


@dataclass(frozen=True)
class WatermarkJump:
    """One event that moved its partition's clock far ahead in one step."""

    partition: int
    event_key: str
    from_ms: int
    to_ms: int

    @property
    def step_ms(self) -> int:
        return self.to_ms - self.from_ms


class ReplayRule:
    """Event keys accepted within the dedup horizon, each owned by the partition that accepted it.

    Memory is freed in whole buckets of one horizon per partition once every key in them has
    expired, so it stays bounded by about two horizons of traffic per partition.
    """

    def __init__(self, horizon_ms: int, *, journal: bool = False) -> None:
        if horizon_ms <= 0:
            raise ValueError("horizon_ms must be positive")
        self.horizon_ms = horizon_ms
        #: key -> (first event time, owner partition)
        self.seen: dict[str, tuple[int, int]] = {}
        #: partition -> newest event time of the valid events it delivered
        self.clocks: dict[int, int] = {}
        self.journal: list[SeenChange] | None = [] if journal else None
        self._buckets: dict[int, deque[tuple[int, list[str]]]] = {}

    def __len__(self) -> int:
        return len(self.seen)

    def advance(self, event_time_ms: int, partition: int = 0) -> int:
        """Move the partition's clock to ``event_time_ms`` if newer; return the clock."""
        clock = self.clocks.get(partition)
        if clock is None or event_time_ms > clock:
            self.clocks[partition] = clock = event_time_ms
            buckets = self._buckets.get(partition)
            if buckets and buckets[0][0] < clock - 2 * self.horizon_ms:
                self._evict(partition, clock - self.horizon_ms)
        return clock

    def remembered(self, key: str) -> bool:
        """True while ``key`` is within the horizon of its owner partition's clock."""
        first = self.seen.get(key)
        return first is not None and first[0] >= self.clocks[first[1]] - self.horizon_ms

    def is_replay(self, key: str, event_time_ms: int, partition: int = 0) -> bool:
        """True for a replay (drop it); otherwise remember the key and return False."""
        clock = self.clocks.get(partition)
        if clock is None or event_time_ms > clock:
            self.advance(event_time_ms, partition)
        first = self.seen.get(key)
        if first is not None and first[0] >= self.clocks[first[1]] - self.horizon_ms:
            return True
        if first is not None and first[1] != partition and self.journal is not None:
            self.journal.append((first[1], key, None))  # expired key, now owned elsewhere
        self.seen[key] = (event_time_ms, partition)
        if self.journal is not None:
            self.journal.append((partition, key, event_time_ms))
        self._bucket(partition, key, event_time_ms)
        return False

    def _bucket(self, partition: int, key: str, event_time_ms: int) -> None:
        buckets = self._buckets.get(partition)
        if buckets is None:
            buckets = self._buckets[partition] = deque()
        elif buckets and buckets[-1][0] // self.horizon_ms == event_time_ms // self.horizon_ms:
            buckets[-1][1].append(key)
            return
        buckets.append((event_time_ms, [key]))

    def _evict(self, partition: int, expired_before_ms: int) -> None:
        """Drop the partition's buckets whose keys all expired (> 1 horizon before the cut)."""
        buckets = self._buckets[partition]
        while buckets and buckets[0][0] < expired_before_ms - self.horizon_ms:
            _start, keys = buckets.popleft()
            for key in keys:
                first = self.seen.get(key)
                if first is not None and first[1] == partition and first[0] < expired_before_ms:
                    del self.seen[key]
                    if self.journal is not None:
                        self.journal.append((partition, key, None))

    # -- state after a restart or a rebalance ---------------------------------------------
    def restore(self, partition: int, key: str, first_ms: int | None) -> None:
        """Apply one journal entry (entries of one partition arrive in journal order)."""
        current = self.seen.get(key)
        if first_ms is None:
            if current is not None and current[1] == partition:
                del self.seen[key]
            return
        if current is None or first_ms >= current[0]:
            self.seen[key] = (first_ms, partition)

    def rebuild(self) -> None:
        """Re-index all keys by time after :meth:`restore` (eviction works on buckets)."""
        self._buckets.clear()
        for key, (when, partition) in sorted(self.seen.items(), key=lambda kv: kv[1][0]):
            self._bucket(partition, key, when)

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop the keys and clocks of partitions this worker no longer owns."""
        gone = set(partitions)
        for key in [k for k, (_, p) in self.seen.items() if p in gone]:
            del self.seen[key]
        for partition in gone:
            self.clocks.pop(partition, None)
        self.rebuild()


@dataclass
class LatenessRule:
    """The per-partition watermark and the allowed-lateness rule."""

    watermark_delay_ms: int
    allowed_lateness_ms: int

    def __post_init__(self) -> None:
        #: partition -> newest event time of its on-time events
        self.clocks: dict[int, int] = {}
        #: partitions with unread data and no on-time event yet: no watermark until each has
        #: one or is caught up (else a partition merely behind would be declared late wholesale)
        self.waiting: set[int] = set()
        self._watermark: int | None = None
        self._valid = False

    def watermark_ms(self) -> int | None:
        """min over partitions of (newest on-time event time) - delay; None while waiting."""
        if self.waiting:
            return None
        if not self._valid:
            self._watermark = (
                min(self.clocks.values()) - self.watermark_delay_ms if self.clocks else None
            )
            self._valid = True
        return self._watermark

    def partition_watermark_ms(self, partition: int = 0) -> int | None:
        clock = self.clocks.get(partition)
        return None if clock is None else clock - self.watermark_delay_ms

    def observe(self, event_time_ms: int, partition: int = 0) -> int | None:
        """The partition's watermark if the event is late against it, else None (then the
        event moves the partition's clock)."""
        clock = self.clocks.get(partition)
        if clock is not None:
            watermark = clock - self.watermark_delay_ms
            if event_time_ms < watermark - self.allowed_lateness_ms:
                return watermark
        if clock is None or event_time_ms > clock:
            self.clocks[partition] = event_time_ms
            self._valid = False
        self.waiting.discard(partition)
        return None

    def set_clock(self, partition: int, event_time_ms: int | None) -> None:
        """Restore a partition's clock (None: the partition has no on-time event yet)."""
        if event_time_ms is None:
            self.clocks.pop(partition, None)
        else:
            self.clocks[partition] = event_time_ms
        self._valid = False

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self.clocks.pop(partition, None)
            self.waiting.discard(partition)
        self._valid = False


class IngestRules:
    """Replay, then lateness, for the valid events of ONE stream."""

    #: jumps kept for reporting (the newest)
    MAX_JUMPS = 20

    def __init__(
        self,
        *,
        dedup_horizon_ms: int,
        watermark_delay_ms: int,
        allowed_lateness_ms: int,
        jump_warn_ms: int | None = None,
        journal: bool = False,
    ) -> None:
        self.replays = ReplayRule(dedup_horizon_ms, journal=journal)
        self.lateness = LatenessRule(watermark_delay_ms, allowed_lateness_ms)
        self.jump_warn_ms = jump_warn_ms
        #: the watermark of the last LATE verdict
        self.late_watermark_ms: int | None = None
        self.accepted = 0
        self.late = 0
        self.jumps: deque[WatermarkJump] = deque(maxlen=self.MAX_JUMPS)
        self.jump_count = 0
        #: newest on-time event time of the stream (all partitions)
        self.newest_ms: int | None = None

    def decide(self, key: str, event_time_ms: int, partition: int = 0) -> Verdict:
        """The verdict for one valid event; updates the state (a late key counts as seen)."""
        if self.replays.is_replay(key, event_time_ms, partition):
            return Verdict.REPLAY
        watermark = self.lateness.observe(event_time_ms, partition)
        if watermark is not None:
            self.late_watermark_ms = watermark
            self.late += 1
            return Verdict.LATE
        self.accepted += 1
        newest = self.newest_ms
        if newest is None or event_time_ms > newest:
            self.newest_ms = event_time_ms
            if (
                self.jump_warn_ms is not None
                and newest is not None
                and event_time_ms - newest > self.jump_warn_ms
            ):
                self.jumps.append(WatermarkJump(partition, key, newest, event_time_ms))
                self.jump_count += 1
        return Verdict.ACCEPT

    @property
    def late_share(self) -> float:
        """Late events among the accepted and late ones (0 before any): an operator's ratio."""
        total = self.accepted + self.late
        return self.late / total if total else 0.0
