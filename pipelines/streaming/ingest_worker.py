"""The Kafka side of the streaming ingest: consume raw topics in batches, decide every message
with :class:`~pipelines.ingest.step.StreamIngestor`, produce the outputs, keep the state.

A Faust app task (``jobs/faust_ingest.py``) runs :class:`IngestRunner`: plain aiokafka in
batches, the replay and clock state in memory backed by a compacted changelog topic per stream.
The processing protocol (outputs acknowledged, then state, then offsets with output marks), the
recovery of a half-finished batch after ``kill -9`` and the exactly-one-output guarantee are
described in docs/ingest-protocol.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from pipelines import metrics
from pipelines.connectors.kafka_topics import TopicSpec, ensure_topics
from pipelines.domain.events import Stream
from pipelines.domain.streams import spec_of
from pipelines.ingest.ledger import LedgerTally
from pipelines.ingest.markers import MARKER_HEADERS, due_markers, marker_value
from pipelines.ingest.step import (
    ChangelogRecord,
    Outcome,
    Output,
    StreamIngestor,
)
from pipelines.streaming import health
from pipelines.streaming.ingest_config import IngestSetupError, RunnerConfig
from pipelines.streaming.kafka_reads import decode_marks, read_ranges, scan_outputs
from pipelines.streaming.output_batches import OutputBatches

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
        now = config.as_of if config.as_of is not None else int(time.time() * 1000)
        self.ingestors = {
            s: StreamIngestor(
                s,
                reference_ms=now,
                # changelogs are legitimately quiet for days: a step is no anomaly there
                watermark_jump_warn_ms=None
                if spec_of(s).changelog
                else config.watermark_jump_warn_ms,
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
        self._progress = health.PartitionProgress()
        self._health_written = 0.0
        self._jumps_counted: dict[Stream, int] = dict.fromkeys(config.streams, 0)
        #: raw partitions with a clean event since the last round of watermark markers
        self._active: set[TopicPartition] = set()
        self._marked_at = time.monotonic()

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
                    await self._mark_quiet()
                    self._report()
        finally:
            await self._stop()

    async def _start(self) -> None:
        cfg = self.config
        self._admin = AIOKafkaAdminClient(bootstrap_servers=cfg.bootstrap, **cfg.client_options)
        try:
            await self._admin.start()
        except Exception as exc:
            await self._admin.close()
            self._admin = None
            raise IngestSetupError(f"no Kafka broker at {cfg.bootstrap}: {exc}") from exc
        existing = set(await self._admin.list_topics())
        needed = [self.topics.raw(s) for s in cfg.streams]
        needed += [self.topics.clean(s) for s in cfg.streams]
        needed += [self.topics.deadletter, self.topics.late, self.topics.ledger]
        missing = [t for t in needed if t not in existing]
        if missing:
            raise IngestSetupError(
                f"missing topics {missing} on {cfg.bootstrap}: create them with "
                "`infra/kafka/topics.sh` (auto-creation is off)"
            )
        described = await self._admin.describe_topics(needed)
        self._partitions = {d["topic"]: len(d["partitions"]) for d in described}
        unequal = [
            f"{self.topics.raw(s)} has {self._partitions[self.topics.raw(s)]}, "
            f"{self.topics.clean(s)} {self._partitions[self.topics.clean(s)]}"
            for s in cfg.streams
            if self._partitions[self.topics.raw(s)] != self._partitions[self.topics.clean(s)]
        ]
        if unequal:
            raise IngestSetupError(
                "a clean topic must have as many partitions as its raw topic (clean events keep "
                f"their raw partition, see docs/streaming.md): {'; '.join(unequal)}"
            )
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
            replication_factor=cfg.replication_factor,
            client_options=cfg.client_options,
        )
        self._producer = AIOKafkaProducer(
            bootstrap_servers=cfg.bootstrap,
            **cfg.client_options,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=1 << 20,
            max_request_size=8 << 20,
        )
        await self._producer.start()
        self._reader = AIOKafkaConsumer(
            bootstrap_servers=cfg.bootstrap,
            **cfg.client_options,
            enable_auto_commit=False,
            max_partition_fetch_bytes=4 << 20,
        )
        await self._reader.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=cfg.bootstrap,
            **cfg.client_options,
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
                self._active.discard(tp)
                self._new.discard(tp)
                self._next_offset.pop(tp, None)
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
                marks = decode_marks(meta.metadata)
                for out in outputs:
                    start = marks.get(f"{out.topic}/{out.partition}", 0)
                    scan_from[out] = min(scan_from.get(out, start), start)
            if scan_from:
                starts = {tp: committed[tp].offset for tp in tps if tp not in fresh}
                found = await scan_outputs(
                    self._reader, scan_from, starts, self.topics.clean(stream), self.topics.late
                )
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
                    ingestor.hold(tp.partition)  # reported: holds until its first event
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

    async def _restore(self, stream: Stream, partitions: list[int]) -> int:
        topic = self.config.changelog_topic(stream)
        records = await read_ranges(self._reader, {TopicPartition(topic, p): 0 for p in partitions})
        changes: list[ChangelogRecord] = [(tp.partition, r.key, r.value) for tp, r in records]
        return self.ingestors[stream].restore(changes)

    # -- watermark markers -------------------------------------------------------------------
    async def _mark_quiet(self) -> None:
        """Every ``marker_interval_s``: a watermark marker into each clean partition of an event
        stream that had no clean event since the last round (pipelines/ingest/markers.py)."""
        interval = self.config.marker_interval_s
        now = time.monotonic()
        if interval <= 0 or now - self._marked_at < interval:
            return
        self._marked_at = now
        assert self._producer is not None
        owned: dict[Stream, list[int]] = defaultdict(list)
        for tp in self._next_offset:
            owned[self._raw_stream[tp.topic]].append(tp.partition)
        markers = OutputBatches(self._producer, self._partitions)
        written: Counter[str] = Counter()
        for stream, partitions in owned.items():
            if spec_of(stream).changelog:  # changelogs idle in Flink instead
                continue
            raw_topic = self.topics.raw(stream)
            active = [tp.partition for tp in self._active if tp.topic == raw_topic]
            clean_topic = self.topics.clean(stream)
            clocks = self.ingestors[stream].partition_clocks()
            for partition, clock in due_markers(clocks, partitions, active):
                await markers.add(clean_topic, partition, None, marker_value(clock), MARKER_HEADERS)
                written[stream.value] += 1
        self._active.clear()
        await markers.flush()
        for stream_name, n in written.items():
            metrics.INGEST_MARKERS.labels(JOB, stream_name).inc(n)

    # -- health ------------------------------------------------------------------------------
    def _report(self) -> None:
        """Event-time metrics, warnings for new jumps, the health report (once a second)."""
        now = time.monotonic()
        if now - self._health_written < 1.0:
            return
        self._health_written = now
        health.publish(
            self.ingestors,
            self._progress,
            self._jumps_counted,
            JOB,
            self.config.health_dir,
            self.config.as_of,
        )

    # -- the batch ---------------------------------------------------------------------------
    async def _process(self, records: Mapping[TopicPartition, list[Any]]) -> None:
        assert self._producer is not None and self._consumer is not None
        as_of = self.config.as_of
        now = as_of if as_of is not None else int(time.time() * 1000)
        outputs = OutputBatches(self._producer, self._partitions)
        counts: Counter[tuple[str, Outcome]] = Counter()
        reasons: Counter[tuple[str, str]] = Counter()
        redelivered: Counter[str] = Counter()
        commits: dict[TopicPartition, int] = {}
        streams_touched: set[Stream] = set()
        clean: list[tuple[int, Output]] = []
        ledger: list[LedgerTally] = []
        for tp, msgs in records.items():
            if not msgs:
                continue
            stream = self._raw_stream[tp.topic]
            streams_touched.add(stream)
            ingestor = self.ingestors[stream]
            ingestor.validator.reference_ms = now
            emitted = self._emitted.get(tp)
            decide = ingestor.decide
            clean_before = len(clean)
            topic, partition = tp.topic, tp.partition
            # the ledger record of this batch and partition (docs/finance.md, streaming)
            tally = LedgerTally(stream.value, topic, partition, msgs[0].offset)
            ledger.append(tally)
            outcomes: Counter[Outcome] = Counter()
            for msg in msgs:
                if emitted is not None:
                    done = emitted.pop(msg.offset, None)
                    if done is not None:
                        if done[0] is not Outcome.REJECTED:
                            ingestor.apply_emitted(done[0], done[1], done[2], partition)
                        redelivered[stream.value] += 1
                        tally.count(done[0], done[2])  # the outcome it had
                        continue
                decision = decide(msg.value or b"", topic, partition, msg.offset)
                outcomes[decision.outcome] += 1
                out = decision.output
                if out is None:
                    tally.count(decision.outcome)
                    continue
                if decision.outcome is Outcome.CLEAN:
                    when = decision.event_time
                    assert when is not None
                    tally.count(Outcome.CLEAN, when)
                    clean.append((when, out))
                    continue
                tally.count(decision.outcome)
                if decision.outcome is Outcome.REJECTED and decision.reason:
                    reasons[(stream.value, decision.reason)] += 1
                await outputs.add(
                    out.topic, outputs.partition_of(out), out.key, out.value, out.headers
                )
            for outcome, n in outcomes.items():
                counts[(stream.value, outcome)] += n
            tally.finish(msgs[-1].offset, len(msgs))
            if len(clean) > clean_before:  # a clean event: no watermark marker needed here
                self._active.add(tp)
            commits[tp] = self._next_offset[tp] = msgs[-1].offset + 1
            if emitted is not None and not emitted:
                del self._emitted[tp]
        # Clean events leave each batch in event-time order. Not needed for correctness (each
        # is on time against its raw partition, whose clean partition it keeps), but it keeps
        # Flink's per-partition watermark smooth.
        # (The sort is stable: events of the same time keep their order of arrival.)
        clean.sort(key=itemgetter(0))
        for _when, out in clean:
            await outputs.add(out.topic, outputs.partition_of(out), out.key, out.value, out.headers)
        # The ledger records go with the outputs (acknowledged before the offsets are committed).
        # A batch redone after a crash starts at the same committed offset: its records have the
        # same run id and replace those of the crashed batch (pipelines/ingest/ledger.py).
        recorded = int(time.time() * 1000)
        ledger_topic = self.topics.ledger
        for tally in ledger:
            key = tally.key()
            await outputs.add(
                ledger_topic, outputs.partition(ledger_topic, key), key, tally.value(now, recorded)
            )
        # 2. outputs durable
        for tp, end in (await outputs.flush()).items():
            self._acked_end[tp] = max(self._acked_end.get(tp, 0), end)
        # 3. state durable
        state = OutputBatches(self._producer, self._partitions)
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
