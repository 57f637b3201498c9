"""The Kafka side of the streaming ingest: consume raw topics in batches, decide every message
with :class:`~pipelines.streaming.ingest.StreamIngestor`, produce the outputs, keep the state.

Why not a Faust agent + ``app.Table``
-------------------------------------
Faust's consumer delivers every message through its stream machinery (two asyncio tasks, a
queue hand-off and an ack per message): measured on this machine, ~4,400 messages/s for an
agent that does *nothing*, so the 30k/s target is out of reach, and with ``stream.take()`` a
table write lands in the changelog partition of the *last* event of the batch (wrong for the
others). The Faust app (``jobs/faust_ingest.py``) therefore runs this loop as an app task: Faust
gives the worker (CLI, signals, logging, lifecycle); the hot path is plain aiokafka in batches
(``getmany``), and the replay table is built the way a Faust memory table is:

* **store**: an in-memory dict per stream (the replay rule of ``pipelines.ingest.rules``: event
  key -> first event time and the raw partition that owns it) plus per-partition clocks
  (watermark / max event time);
* **changelog**: a compacted topic ``<group>-state-<stream>-changelog`` with one partition per
  raw partition (a key lives in the partition of the raw message that introduced it);
  expiry by event time (the dedup horizon) writes tombstones, so compaction keeps it bounded;
* **recovery**: on assignment, the changelog partitions of the new raw partitions are read from
  the start into memory before any of their messages is processed; on revocation their keys
  are dropped (RocksDB is not installed; memory + changelog is what Faust's memory store does).

Processing protocol (per ``getmany`` batch) and the guarantee
-------------------------------------------------------------
1. decide every message (state changes in memory, changelog records queued);
2. produce all outputs (clean / dead letter / late) and **wait for their acks** (acks=all,
   idempotent producer);
3. produce the state changelog records and wait for their acks;
4. commit the raw offsets, with commit *metadata* = the end offsets of the output partitions
   known after step 2 (a lower bound for anything produced later).

A crash (``kill -9``) can leave a batch half done: some outputs in Kafka, state or offsets not.
At the next assignment of a raw partition (restart or rebalance) the runner reads the committed
offset and its metadata, scans the output partitions from those offsets and collects the
outputs whose ``pulse-src`` header names that raw partition at or after the committed offset.
Redelivered messages that already have an output are **not** sent again; their state change is
re-applied instead (:meth:`StreamIngestor.apply_emitted`). Messages without an output are
decided again. A partition with no committed offset gets one (the start, with metadata) before
its first message is processed, so even a crash in the very first batch is recovered.

Guarantee: each raw message produces **at most one and at least one** output record over
crashes and restarts of workers (clean, dead letter and late events alike), with the replay
decision made against the recovered state, as long as (a) the outputs of the crashed worker are
readable when the partition is reassigned (acks=all: always) and (b) no zombie worker keeps
producing for a partition after losing it (a kill -9 or a clean stop is fine; a worker frozen
longer than the session timeout and then resuming is not: Kafka consumer groups do not fence
producers). Replay detection is per stream and per worker: one worker (or raw topics keyed by
the recommended id, which puts every copy of an event in the same partition) sees every
replay; with several workers and unkeyed raw messages a replay on another partition is not seen.
Consumers of the outputs need no special isolation level (no transactions are used).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from pipelines import metrics
from pipelines.config import Settings
from pipelines.connectors.kafka_broker import TopicSpec, ensure_topics
from pipelines.domain.events import Stream
from pipelines.streaming.ingest import (
    KEY_HEADER,
    SRC_HEADER,
    TIME_HEADER,
    ChangelogRecord,
    Outcome,
    Output,
    StreamIngestor,
    Topics,
    parse_src,
)

log = logging.getLogger(__name__)

Emitted = dict[int, tuple[Outcome, str, int]]  # raw offset -> (outcome, event key, event time)

JOB = "faust_ingest"  # the ``job`` label of its metrics
#: the ``outcome`` label of ``pulse_ingest_events_total`` for each outcome of the step
OUTCOME_LABEL = {
    Outcome.CLEAN: "accepted",
    Outcome.REJECTED: "rejected",
    Outcome.REPLAY: "replay",
    Outcome.LATE: "late",
}


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
    dedup_horizon_ms: int
    watermark_delay_ms: int
    allowed_lateness_ms: int
    max_batch: int
    #: a raw partition with no on-time event holds its stream's watermark back until it has
    #: been caught up (no unread data) for this long, like Flink's source idle timeout
    idle_timeout_s: float
    session_timeout_ms: int
    heartbeat_interval_ms: int

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
            dedup_horizon_ms=settings.dedup_horizon_ms,
            watermark_delay_ms=settings.watermark_delay_ms,
            allowed_lateness_ms=settings.allowed_lateness_ms,
            max_batch=ingest.max_batch,
            idle_timeout_s=ingest.idle_timeout_s,
            session_timeout_ms=ingest.session_timeout_ms,
            heartbeat_interval_ms=ingest.heartbeat_interval_ms,
        )

    def changelog_topic(self, stream: Stream) -> str:
        return f"{self.topics.prefix}{self.group_id}-state-{stream.value}-changelog"


class _Batches:
    """Groups records per (topic, partition) into aiokafka batches; partition of a keyed record
    = murmur2(key) like the Java client, so keys co-partition with other producers."""

    def __init__(self, producer: AIOKafkaProducer, partitions: Mapping[str, int]) -> None:
        self._producer = producer
        self._partitions = partitions
        self._builders: dict[tuple[str, int], Any] = {}
        self._pending: list[tuple[asyncio.Future[Any], str, int, int]] = []
        self._part_cache: dict[tuple[str, bytes], int] = {}

    def partition(self, topic: str, key: bytes) -> int:
        cached = self._part_cache.get((topic, key))
        if cached is None:
            cached = (murmur2(key) & 0x7FFFFFFF) % self._partitions[topic]
            if len(self._part_cache) < 1_000_000:
                self._part_cache[(topic, key)] = cached
        return cached

    async def add(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        slot = (topic, partition)
        builder = self._builders.get(slot)
        if builder is None:
            builder = self._builders[slot] = self._producer.create_batch()
        if builder.append(timestamp=None, key=key, value=value, headers=list(headers)) is None:
            await self._submit(slot)
            builder = self._builders[slot] = self._producer.create_batch()
            builder.append(timestamp=None, key=key, value=value, headers=list(headers))

    async def _submit(self, slot: tuple[str, int]) -> None:
        builder = self._builders.pop(slot)
        count = builder.record_count()
        if count:
            fut = await self._producer.send_batch(builder, slot[0], partition=slot[1])
            self._pending.append((fut, slot[0], slot[1], count))

    async def flush(self) -> dict[TopicPartition, int]:
        """Send everything and wait for the acks; returns the end offset per partition."""
        for slot in list(self._builders):
            await self._submit(slot)
        ends: dict[TopicPartition, int] = {}
        pending, self._pending = self._pending, []
        results = await asyncio.gather(*(fut for fut, *_ in pending))
        for meta, (_, topic, partition, count) in zip(results, pending, strict=True):
            tp = TopicPartition(topic, partition)
            ends[tp] = max(ends.get(tp, 0), meta.offset + count)
        return ends


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: IngestRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.runner.on_revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.runner.on_assigned(list(assigned))


class IngestRunner:
    """One ingest worker: raw topics in, clean / dead-letter / late topics out."""

    def __init__(self, config: RunnerConfig) -> None:
        self.config = config
        self.topics = config.topics
        now = int(time.time() * 1000)
        self.ingestors = {
            s: StreamIngestor(
                s,
                reference_ms=now,
                future_tolerance_ms=config.future_tolerance_ms,
                dedup_horizon_ms=config.dedup_horizon_ms,
                watermark_delay_ms=config.watermark_delay_ms,
                allowed_lateness_ms=config.allowed_lateness_ms,
                topics=config.topics,
            )
            for s in config.streams
        }
        self._raw_stream = {self.topics.raw(s): s for s in config.streams}
        for s in config.streams:
            metrics.declare_stream(JOB, s.value)
        self._lock = asyncio.Lock()
        self._new: set[TopicPartition] = set()
        self._emitted: dict[TopicPartition, Emitted] = {}
        self._partitions: dict[str, int] = {}
        #: highest acknowledged end offset per output partition (lower bound for later outputs)
        self._acked_end: dict[TopicPartition, int] = {}
        self.processed = 0
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._reader: AIOKafkaConsumer | None = None  # changelog restore and output scans
        self._next_offset: dict[TopicPartition, int] = {}
        self._idle_since: dict[TopicPartition, float] = {}

    # -- lifecycle --------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        try:
            await self._start()
            assert self._consumer is not None
            while not stop.is_set():
                records = await self._consumer.getmany(
                    timeout_ms=200, max_records=self.config.max_batch
                )
                async with self._lock:
                    if self._new:
                        await self._prepare(sorted(self._new))
                        self._new.clear()
                    if records:
                        await self._process(records)
                    self._release_idle()
        finally:
            await self._stop()

    async def _start(self) -> None:
        cfg = self.config
        self._admin = AIOKafkaAdminClient(bootstrap_servers=cfg.bootstrap)
        try:
            await self._admin.start()
        except Exception as exc:
            await self._admin.close()
            self._admin = None
            raise IngestSetupError(f"no Kafka broker at {cfg.bootstrap}: {exc}") from exc
        existing = set(await self._admin.list_topics())
        needed = [self.topics.raw(s) for s in cfg.streams]
        needed += [self.topics.clean(s) for s in cfg.streams]
        needed += [self.topics.deadletter, self.topics.late]
        missing = [t for t in needed if t not in existing]
        if missing:
            raise IngestSetupError(
                f"missing topics {missing} on {cfg.bootstrap}: create them with "
                "`infra/kafka/topics.sh` (auto-creation is off)"
            )
        described = await self._admin.describe_topics(needed)
        self._partitions = {d["topic"]: len(d["partitions"]) for d in described}
        await ensure_topics(
            cfg.bootstrap,
            [
                TopicSpec(
                    cfg.changelog_topic(s),
                    self._partitions[self.topics.raw(s)],
                    "event key (k:) / partition clock (w:)",
                    {"cleanup.policy": "compact"},
                )
                for s in cfg.streams
            ],
        )
        self._producer = AIOKafkaProducer(
            bootstrap_servers=cfg.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=1 << 20,
            max_request_size=8 << 20,
        )
        await self._producer.start()
        self._reader = AIOKafkaConsumer(
            bootstrap_servers=cfg.bootstrap,
            enable_auto_commit=False,
            max_partition_fetch_bytes=4 << 20,
        )
        await self._reader.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=cfg.bootstrap,
            group_id=cfg.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=cfg.max_batch,
            session_timeout_ms=cfg.session_timeout_ms,
            heartbeat_interval_ms=cfg.heartbeat_interval_ms,
            max_partition_fetch_bytes=4 << 20,
        )
        self._consumer.subscribe(list(self._raw_stream), listener=_Listener(self))
        await self._consumer.start()
        log.info("ingest %s: consuming %s", cfg.group_id, sorted(self._raw_stream))

    async def _stop(self) -> None:
        for closer in (self._consumer, self._reader, self._producer):
            if closer is not None:
                try:
                    await closer.stop()
                except Exception:  # stopping must not hide the original error
                    log.exception("ingest: error while stopping a Kafka client")
        if self._admin is not None:
            await self._admin.close()

    # -- rebalance ---------------------------------------------------------------------------
    def on_assigned(self, assigned: list[TopicPartition]) -> None:
        self._new.update(assigned)

    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._lock:  # the batch in flight finishes (and commits) first
            by_stream: dict[Stream, list[int]] = defaultdict(list)
            for tp in revoked:
                self._emitted.pop(tp, None)
                self._new.discard(tp)
                self._next_offset.pop(tp, None)
                self._idle_since.pop(tp, None)
                by_stream[self._raw_stream[tp.topic]].append(tp.partition)
            for stream, parts in by_stream.items():
                self.ingestors[stream].forget(parts)

    async def _prepare(self, assigned: list[TopicPartition]) -> None:
        """Restore state, find outputs of a crashed batch, give every partition a commit."""
        assert self._admin is not None and self._consumer is not None
        started = time.perf_counter()
        by_stream: dict[Stream, list[TopicPartition]] = defaultdict(list)
        for tp in assigned:
            by_stream[self._raw_stream[tp.topic]].append(tp)
        committed = await self._admin.list_consumer_group_offsets(
            self.config.group_id, partitions=assigned
        )
        for stream, tps in by_stream.items():
            n = await self._restore(stream, [tp.partition for tp in tps])
            metrics.INGEST_STATE_RESTORED.labels(JOB, stream.value).inc(n)
            outputs = self._output_tps(stream)
            fresh: dict[TopicPartition, OffsetAndMetadata] = {}
            scan_from: dict[TopicPartition, int] = {}
            for tp in tps:
                meta = committed.get(tp)
                if meta is None or meta.offset < 0:
                    fresh[tp] = meta
                    continue
                marks = _decode_marks(meta.metadata)
                for out in outputs:
                    start = marks.get(f"{out.topic}/{out.partition}", 0)
                    scan_from[out] = min(scan_from.get(out, start), start)
            if scan_from:
                starts = {tp: committed[tp].offset for tp in tps if tp not in fresh}
                found = await self._scan_outputs(stream, scan_from, starts)
                for tp, emitted in found.items():
                    if emitted:
                        self._emitted[tp] = emitted
            # the end of every output partition is a valid mark for what comes next
            ends = await self._end_offsets(outputs)
            for out, end in ends.items():
                self._acked_end[out] = max(self._acked_end.get(out, 0), end)
            assert self._reader is not None
            begin = await self._reader.beginning_offsets(tps)
            if fresh:
                await self._consumer.commit(
                    {tp: OffsetAndMetadata(begin[tp], self._marks(stream)) for tp in fresh}
                )
            ingestor = self.ingestors[stream]
            for tp in tps:
                self._next_offset[tp] = (
                    begin[tp] if tp in fresh else max(committed[tp].offset, begin[tp])
                )
                if not ingestor.has_on_time_event(tp.partition):
                    # no on-time event yet: hold the watermark until it speaks or is idle
                    ingestor.hold(tp.partition)
        log.info(
            "ingest: prepared %d partitions in %.2fs (redelivery candidates: %d)",
            len(assigned),
            time.perf_counter() - started,
            sum(len(e) for e in self._emitted.values()),
        )

    def _output_tps(self, stream: Stream) -> list[TopicPartition]:
        topics = (self.topics.clean(stream), self.topics.deadletter, self.topics.late)
        return [TopicPartition(t, p) for t in topics for p in range(self._partitions[t])]

    def _marks(self, stream: Stream) -> str:
        marks = {
            f"{tp.topic}/{tp.partition}": self._acked_end.get(tp, 0)
            for tp in self._output_tps(stream)
        }
        return orjson.dumps(marks).decode()

    async def _end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        assert self._reader is not None
        ends = await self._reader.end_offsets(tps)
        return {tp: int(off) for tp, off in ends.items()}

    async def _read(self, ranges: Mapping[TopicPartition, int]) -> list[tuple[TopicPartition, Any]]:
        """All records of ``tp`` from offset ``ranges[tp]`` to the current end."""
        if not ranges:
            return []
        reader = self._reader
        assert reader is not None
        out: list[tuple[TopicPartition, Any]] = []
        try:
            tps = list(ranges)
            reader.assign(tps)
            ends = await reader.end_offsets(tps)
            todo = {tp for tp in tps if ends[tp] > ranges[tp]}
            for tp in tps:
                reader.seek(tp, ranges[tp])
            while todo:
                batch = await reader.getmany(*todo, timeout_ms=1000)
                for tp, recs in batch.items():
                    out.extend((tp, r) for r in recs if r.offset < ends[tp])
                    if recs and recs[-1].offset + 1 >= ends[tp]:
                        todo.discard(tp)
                for tp in list(todo):  # compacted / deleted tails
                    if await reader.position(tp) >= ends[tp]:
                        todo.discard(tp)
        finally:
            reader.assign([])
        return out

    async def _restore(self, stream: Stream, partitions: list[int]) -> int:
        topic = self.config.changelog_topic(stream)
        records = await self._read({TopicPartition(topic, p): 0 for p in partitions})
        changes: list[ChangelogRecord] = [(tp.partition, r.key, r.value) for tp, r in records]
        return self.ingestors[stream].restore(changes)

    async def _scan_outputs(
        self,
        stream: Stream,
        scan_from: Mapping[TopicPartition, int],
        starts: Mapping[TopicPartition, int],
    ) -> dict[TopicPartition, Emitted]:
        found: dict[TopicPartition, Emitted] = defaultdict(dict)
        clean_topic, late_topic = self.topics.clean(stream), self.topics.late
        for out_tp, rec in await self._read(scan_from):
            headers = dict(rec.headers or ())
            src = headers.get(SRC_HEADER)
            if src is None:
                continue
            topic, partition, offset = parse_src(src)
            raw_tp = TopicPartition(topic, partition)
            if raw_tp not in starts or offset < starts[raw_tp]:
                continue
            if out_tp.topic == clean_topic:
                outcome = Outcome.CLEAN
            elif out_tp.topic == late_topic:
                outcome = Outcome.LATE
            else:
                outcome = Outcome.REJECTED
            key = headers.get(KEY_HEADER, b"").decode()
            when = int(headers.get(TIME_HEADER, b"0"))
            found[raw_tp][offset] = (outcome, key, when)
        return found

    def _release_idle(self) -> None:
        """Partitions caught up for ``idle_timeout_s`` stop holding their stream's watermark.

        A partition that merely has not delivered yet (a producer's sticky batches land on
        one partition at a time) must hold it, or its events would be declared late wholesale.
        """
        assert self._consumer is not None
        now = time.monotonic()
        for tp, next_offset in self._next_offset.items():
            ingestor = self.ingestors[self._raw_stream[tp.topic]]
            if not ingestor.holds(tp.partition):
                self._idle_since.pop(tp, None)
                continue
            highwater = self._consumer.highwater(tp)
            if highwater is None or next_offset < highwater:
                self._idle_since.pop(tp, None)
                continue
            since = self._idle_since.setdefault(tp, now)
            if now - since >= self.config.idle_timeout_s:
                ingestor.release(tp.partition)
                self._idle_since.pop(tp, None)

    # -- the batch ---------------------------------------------------------------------------
    async def _process(self, records: Mapping[TopicPartition, list[Any]]) -> None:
        assert self._producer is not None and self._consumer is not None
        now = int(time.time() * 1000)
        outputs = _Batches(self._producer, self._partitions)
        counts: Counter[tuple[str, Outcome]] = Counter()
        reasons: Counter[tuple[str, str]] = Counter()
        redelivered: Counter[str] = Counter()
        commits: dict[TopicPartition, int] = {}
        streams_touched: set[Stream] = set()
        clean: list[tuple[int, int, Output]] = []
        for tp, msgs in records.items():
            if not msgs:
                continue
            stream = self._raw_stream[tp.topic]
            streams_touched.add(stream)
            ingestor = self.ingestors[stream]
            ingestor.validator.reference_ms = now
            emitted = self._emitted.get(tp)
            decide = ingestor.decide
            topic, partition = tp.topic, tp.partition
            for msg in msgs:
                if emitted is not None:
                    done = emitted.pop(msg.offset, None)
                    if done is not None:
                        if done[0] is not Outcome.REJECTED:
                            ingestor.apply_emitted(done[0], done[1], done[2], partition)
                        redelivered[stream.value] += 1
                        continue
                decision = decide(msg.value or b"", topic, partition, msg.offset)
                counts[(stream.value, decision.outcome)] += 1
                out = decision.output
                if out is None:
                    continue
                if decision.outcome is Outcome.CLEAN:
                    clean.append((int(dict(out.headers)[TIME_HEADER]), len(clean), out))
                    continue
                if decision.outcome is Outcome.REJECTED and decision.reason:
                    reasons[(stream.value, decision.reason)] += 1
                await outputs.add(
                    out.topic,
                    outputs.partition(out.topic, out.key),
                    out.key,
                    out.value,
                    out.headers,
                )
            commits[tp] = self._next_offset[tp] = msgs[-1].offset + 1
            if emitted is not None and not emitted:
                del self._emitted[tp]
        # Clean events leave in event-time order: a clean partition mixes users from every
        # raw partition, and a backlog read partition by partition would otherwise reach
        # Flink far out of order (beyond its watermark bound, where windows drop rows).
        clean.sort(key=lambda item: (item[0], item[1]))
        for _when, _seq, out in clean:
            await outputs.add(
                out.topic, outputs.partition(out.topic, out.key), out.key, out.value, out.headers
            )
        # 2. outputs durable
        for tp, end in (await outputs.flush()).items():
            self._acked_end[tp] = max(self._acked_end.get(tp, 0), end)
        # 3. state durable
        state = _Batches(self._producer, self._partitions)
        for stream in streams_touched:
            changelog = self.config.changelog_topic(stream)
            for partition, key, value in self.ingestors[stream].take_changes():
                await state.add(changelog, partition, key, value)
        await state.flush()
        # 4. offsets, with the output marks
        await self._consumer.commit(
            {
                tp: OffsetAndMetadata(offset, self._marks(self._raw_stream[tp.topic]))
                for tp, offset in commits.items()
            }
        )
        self.processed += sum(len(m) for m in records.values())
        for (stream_name, outcome), n in counts.items():
            metrics.count_events(JOB, stream_name, OUTCOME_LABEL[outcome], n)
        for (stream_name, reason), n in reasons.items():
            metrics.count_rejected(JOB, stream_name, reason, n)
        for stream_name, n in redelivered.items():
            metrics.INGEST_REDELIVERED.labels(JOB, stream_name).inc(n)


def _decode_marks(metadata: str | None) -> dict[str, int]:
    if not metadata:
        return {}
    try:
        marks = orjson.loads(metadata)
    except orjson.JSONDecodeError:
        return {}
    return {str(k): int(v) for k, v in marks.items()} if isinstance(marks, dict) else {}
