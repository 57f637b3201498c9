"""Delivery and fault scenarios over the raw topics, and their verdict against the bounded run.

Shared by ``test_delivery_order.py``, ``test_faults.py`` and ``bench/soak_streaming.py`` (the
same scenarios on a larger set). Each scenario is a :data:`~.raw_stack.Driver` for
:func:`~.raw_stack.run_live`: it produces a generated set's raw files with a real Kafka client
while it kills, restarts or pauses parts of the stack; :func:`judge` then compares every table
with the bounded ``pulse run`` over the same files, for everything the final watermark closed:

* **lost**: rows the bounded run has (and the watermark closed) that the stream lacks, rejected
  and late lines included, and ingest outputs missing from the clean / dead-letter / late topics;
* **doubled**: rows or lines beyond the bounded run's (a key twice, a line rejected twice) and
  ingest outputs beyond one per raw message in those topics (the ingest's guarantee);
* **different**: rows under the same key with other values, and rows the bounded run lacks;
* **money**: gross / creator / platform micros of the closed clicks and payout days;
* **fault dead letters**: dead letters, in the topic or the warehouse, beyond the lines the
  bounded run rejects (a fault must never turn into a rejection).

Every wait is a condition (offsets committed, group members, a process gone); the only timed
parts are the scenario's own definition (an outage of N seconds of wall time, a lock held for
N seconds, a producer paced over that time) and the random point at which a fault fires.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.parquet as pq
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from pipelines.commands.produce import message_key
from pipelines.config import Settings, load_settings
from pipelines.domain.events import Stream
from pipelines.domain.streams import spec_of
from pipelines.domain.time import DAY_MS
from pipelines.generate.api import DEFAULT_START, generate
from pipelines.ingest.files import ingest_folder
from pipelines.ingest.sources import read_records
from pipelines.ingest.step import Outcome, StreamIngestor
from pipelines.local.kafka_command import kafka_java_command
from pipelines.streaming.monitor import TopicLag, flink_job_state, stage_lags, stages

from .compare import KEYS, LINE_KEYS, closed_by, load
from .conftest import REPO
from .raw_stack import Driver, LiveRun, LiveStack, bounded_reference

EVENT_STREAMS = (Stream.VIEW, Stream.COMMENT, Stream.AD_CLICK)
CHANGELOGS = (Stream.CREATOR_PROFILE, Stream.CAMPAIGN)
#: key / value separator of the line-oriented clients (absent from the generated files)
KEY_SEPARATOR = b"\x1f"
#: how long a condition of a scenario may take before the scenario fails
CONDITION_TIMEOUT_S = 600.0  # a shared 2-core machine can take minutes to start Flink
MONEY = ("gross_micros", "creator_micros", "platform_micros")

Message = tuple[str, bytes | None, bytes]  # topic, key, value


# --- the reference: a generated set and its bounded run ----------------------------------------


@dataclass(frozen=True)
class Reference:
    raw_dir: Path
    reference_ms: int
    bounded_dump: Path
    #: records each topic must hold after any run: raw.* the lines of the files, clean.* the
    #: accepted events, the dead-letter topic the rejected lines, the late topic the late ones
    expected_records: dict[str, int]
    #: lines taken out of the generated files because their verdict depends on the partition
    #: they land in (see :func:`drop_partition_dependent`), per stream
    removed: dict[str, int] = field(default_factory=dict)


#: the partitioners of the clients the scenarios use: murmur2 of the key (the Java clients,
#: Kafka's console producer, aiokafka) and CRC32 of the key (librdkafka's default: kcat)
PARTITIONERS: dict[str, Callable[[bytes | None, int], int]] = {
    "murmur2": lambda key, n: (murmur2(key or b"") & 0x7FFFFFFF) % n,
    "crc32": lambda key, n: zlib.crc32(key or b"") % n,
}


def prepare_reference(
    tmp: Path, *, creators: int, days: int, seed: int, partitions: int = 3
) -> Reference:
    """Generate the set, take out its partition-dependent lines, count what the ingest must
    output, run the bounded reference."""
    settings = load_settings()
    raw_dir = tmp / "raw"
    generate(raw_dir, creators=creators, days=days, seed=seed)
    reference_ms = int(datetime.combine(DEFAULT_START, dt_time(), UTC).timestamp() * 1000)
    reference_ms += days * DAY_MS
    removed = drop_partition_dependent(raw_dir, reference_ms, partitions)
    results = ingest_folder(raw_dir, tmp / "clean", settings, reference_ms)
    expected: dict[str, int] = {}
    for result in results:
        spec = spec_of(result.stream)
        expected[spec.raw_topic] = len(lines_of(raw_dir, result.stream))
        expected[spec.clean_topic] = result.accepted
    expected["deadletter.rejected"] = sum(len(r.rejected_rows) for r in results)
    expected["results.late_events"] = sum(len(r.late_rows) for r in results)
    assert expected["deadletter.rejected"] and expected["results.late_events"]
    assert expected[spec_of(Stream.AD_CLICK).clean_topic] > 0
    dump = bounded_reference(tmp, raw_dir, reference_ms)
    return Reference(raw_dir, reference_ms, dump, expected, removed)


_REFERENCES: dict[tuple[int, int, int], Reference] = {}


def shared_reference(base: Path, *, creators: int, days: int, seed: int) -> Reference:
    """:func:`prepare_reference` once per set and test session (modules share it)."""
    key = (creators, days, seed)
    if key not in _REFERENCES:
        tmp = base / f"reference-{creators}-{days}-{seed}"
        tmp.mkdir(parents=True, exist_ok=False)
        _REFERENCES[key] = prepare_reference(tmp, creators=creators, days=days, seed=seed)
    return _REFERENCES[key]


def partition_dependent(
    raw_dir: Path, reference_ms: int, partitions: int
) -> dict[Stream, list[int]]:
    """Per stream, the lines (0-based) whose outcome differs between the file's order (one
    partition: the bounded run) and the same lines spread over ``partitions`` raw partitions by
    one of :data:`PARTITIONERS`, each partition in file order (the streaming ingest).

    The rules decide lateness per raw partition (``pipelines/ingest/rules.py``): an event that
    is late against the whole file is on time in its partition when that partition's newest
    event is older than the file's, which happens in sparse streams (comments, clicks). Such
    a verdict then depends on the producer's partitioner, never on timing.
    """
    settings = load_settings()
    found: dict[Stream, list[int]] = {}
    for stream in Stream:
        lines = lines_of(raw_dir, stream)
        keys = [message_key(stream, raw) for raw in lines]
        base = _outcomes(stream, lines, [0] * len(lines), reference_ms, settings)
        differ: set[int] = set()
        for partition_of in PARTITIONERS.values():
            spread = [partition_of(key, partitions) for key in keys]
            other = _outcomes(stream, lines, spread, reference_ms, settings)
            differ.update(i for i, (a, b) in enumerate(zip(base, other, strict=True)) if a != b)
        if differ:
            found[stream] = sorted(differ)
    return found


def _outcomes(
    stream: Stream, lines: list[bytes], parts: list[int], reference_ms: int, settings: Settings
) -> list[Outcome]:
    ingestor = StreamIngestor(
        stream,
        reference_ms=reference_ms,
        future_tolerance_ms=settings.future_tolerance_ms,
        dedup_horizon_ms=settings.dedup_horizon_ms,
        watermark_delay_ms=settings.watermark_delay_ms,
        allowed_lateness_ms=settings.allowed_lateness_ms,
    )
    return [
        ingestor.decide(raw, "raw", part, offset).outcome
        for offset, (raw, part) in enumerate(zip(lines, parts, strict=True))
    ]


def drop_partition_dependent(raw_dir: Path, reference_ms: int, partitions: int) -> dict[str, int]:
    """Take the partition-dependent lines out of the files (until none is left) so that the
    bounded run is the exact reference of a run over ``partitions`` raw partitions; returns
    the lines taken out per stream. A known limitation of the per-partition lateness rule
    (docs/streaming.md), kept out of the delivery and fault scenarios, which test the rest."""
    removed: Counter[str] = Counter()
    for _round in range(10):
        found = partition_dependent(raw_dir, reference_ms, partitions)
        if not found:
            return dict(removed)
        for stream, drop in found.items():
            path = raw_dir / f"{spec_of(stream).stem}.jsonl"
            gone = set(drop)
            kept = [raw for i, raw in enumerate(lines_of(raw_dir, stream)) if i not in gone]
            path.write_bytes(b"".join(raw + b"\n" for raw in kept))
            removed[stream.value] += len(gone)
    raise AssertionError(f"partition-dependent lines left after 10 rounds: {found}")


def lines_of(raw_dir: Path, stream: Stream) -> list[bytes]:
    """The records of the stream's file, exactly as the bounded run reads them."""
    return [raw for _line, raw in read_records(raw_dir / f"{spec_of(stream).stem}.jsonl")]


def messages_of(raw_dir: Path, stream: Stream) -> list[Message]:
    """The file's lines as raw messages with the recommended key (None when a line has none)."""
    topic = spec_of(stream).raw_topic
    return [(topic, message_key(stream, raw), raw) for raw in lines_of(raw_dir, stream)]


def interleaved(per_stream: Sequence[list[Message]]) -> list[Message]:
    """Several streams' messages merged by relative position, each in its own order."""
    ranked = [
        (i / len(messages), rank, m)
        for rank, messages in enumerate(per_stream)
        for i, m in enumerate(messages)
    ]
    return [m for _, _, m in sorted(ranked, key=lambda item: item[:2])]


def slices(messages: list[Message], parts: int) -> list[list[Message]]:
    """``messages`` cut into ``parts`` consecutive slices of about the same size."""
    bounds = [round(i * len(messages) / parts) for i in range(parts + 1)]
    return [messages[a:b] for a, b in itertools.pairwise(bounds)]


def slices_ending_everywhere(
    messages: list[Message], parts: int, partitions: int
) -> list[list[Message]]:
    """:func:`slices`, with the last slice begun early enough (the slice before it shorter,
    the order unchanged) to hold a keyed message for every partition of every topic.

    A Flink job restored from a checkpoint re-derives each clean partition's watermark from
    the records after the restore (Flink does not checkpoint watermarks): from the events of
    this slice, or else from the ingest's watermark markers (docs/streaming.md). Reaching every
    partition with events keeps the fault runs independent of the markers, which
    ``ended_before_restart`` tests on their own; an unkeyed message lands on a random
    partition."""
    partition = PARTITIONERS["murmur2"]  # aiokafka's, as every driver here produces with
    cut = slices(messages, parts)
    topics = {topic for topic, _, _ in messages}
    wanted = {(topic, p) for topic in topics for p in range(partitions)}
    start = len(messages) - len(cut[-1])
    reached = {(t, partition(k, partitions)) for t, k, _ in cut[-1] if k is not None}
    while reached != wanted and start > 0:
        start -= 1
        topic, key, _ = messages[start]
        if key is not None:
            reached.add((topic, partition(key, partitions)))
    assert reached == wanted, f"no keyed message for {sorted(wanted - reached)}"
    head = slices(messages[:start], parts - 1) if parts > 1 else []
    return [*head, messages[start:]]


# --- producers: Kafka's console producer, kcat, aiokafka -----------------------------------


def _keyed_lines(messages: Sequence[Message], *, utf8_only: bool) -> bytes:
    """``key<US>value`` lines for a line-oriented client; an unkeyed line gets the empty key."""
    out = []
    for _topic, key, value in messages:
        assert KEY_SEPARATOR not in (key or b""), key
        assert b"\n" not in value
        if utf8_only:  # Java's console producer reads UTF-8 text and splits lines at \r too
            assert b"\r" not in value, "the console producer would split this line"
            value.decode("utf-8")
        out.append((key or b"") + KEY_SEPARATOR + value + b"\n")
    return b"".join(out)


def console_produce(bootstrap: str, topic: str, messages: Sequence[Message]) -> None:
    """Kafka's own ``ConsoleProducer``, keyed (``parse.key``), acks=all."""
    cmd = kafka_java_command(
        "org.apache.kafka.tools.ConsoleProducer",
        ["--bootstrap-server", bootstrap, "--topic", topic,
         "--producer-property", "acks=all",
         "--reader-property", "parse.key=true",
         "--reader-property", f"key.separator={KEY_SEPARATOR.decode()}"],
        short_lived=True,
    )  # fmt: skip
    stdin = _keyed_lines(messages, utf8_only=True)
    res = subprocess.run(cmd, input=stdin, capture_output=True, timeout=300)
    assert res.returncode == 0, f"console producer failed:\n{res.stdout!r}\n{res.stderr!r}"


def kcat_produce(bootstrap: str, topic: str, messages: Sequence[Message]) -> None:
    """kcat (librdkafka, its own partitioner: CRC32 of the key), keyed (``-K``), acks=all."""
    kcat = shutil.which("kcat")
    assert kcat is not None, "kcat is not installed (apt-get install -y kcat; see make setup)"
    cmd = [kcat, "-b", bootstrap, "-t", topic, "-P", "-K", KEY_SEPARATOR.decode(),
           "-X", "acks=all", "-X", "enable.idempotence=true"]  # fmt: skip
    stdin = _keyed_lines(messages, utf8_only=False)
    res = subprocess.run(cmd, input=stdin, capture_output=True, timeout=300)
    assert res.returncode == 0 and b"ERROR" not in res.stderr, f"kcat failed:\n{res.stderr!r}"


async def _aio_produce(bootstrap: str, messages: Sequence[Message]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def aio_produce(bootstrap: str, messages: Sequence[Message]) -> None:
    """aiokafka (murmur2 of the key, like the Java client), idempotent, acks=all."""
    if messages:
        asyncio.run(_aio_produce(bootstrap, messages))


CLIENTS: dict[str, Callable[[str, str, Sequence[Message]], None]] = {
    "console": console_produce,
    "kcat": kcat_produce,
}


# --- conditions --------------------------------------------------------------------------


def wait_for(
    live: LiveStack, what: str, condition: Callable[[], bool], timeout: float = CONDITION_TIMEOUT_S
) -> None:
    """Poll ``condition`` until it holds; every job must stay alive meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        live.assert_alive()
        assert time.monotonic() < deadline, f"timeout waiting for {what}:\n" + "\n".join(
            f"--- {p.name}\n{p.tail()}" for p in live.procs.values()
        )
        time.sleep(0.2)


T = TypeVar("T")


def _asking(ask: Callable[[], Coroutine[Any, Any, T]], timeout: float = 120.0) -> T:
    """Ask the broker, again while it cannot answer yet (a group coordinator still loading, a
    broker being restarted by the scenario itself)."""
    from aiokafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    while True:
        try:
            return asyncio.run(ask())
        except (TimeoutError, KafkaError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _lags(live: LiveStack, stage: str) -> list[TopicLag]:
    wanted = tuple(s for s in stages(live.settings()) if s.name == stage)
    return _asking(lambda: stage_lags(live.bootstrap, wanted))[0].topics


def committed(live: LiveStack, stage: str, topics: Sequence[str] | None = None) -> int:
    """Offsets the stage's group committed, summed over its topics (or ``topics``)."""
    return sum(t.committed for t in _lags(live, stage) if topics is None or t.topic in topics)


def drained(live: LiveStack, stage: str, topics: Sequence[str] | None = None) -> bool:
    """The stage's group committed everything its topics (or ``topics``) hold."""
    lags = _lags(live, stage)
    return all(t.committed >= t.end for t in lags if topics is None or t.topic in topics)


async def _members(bootstrap: str, group: str) -> frozenset[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    # DescribeGroups: (error, group, state, protocol type, protocol, members, ...); a member
    # is (member id, client id, host, metadata, assignment)
    stable = [g for r in responses for g in r.groups if g[1] == group and g[2] == "Stable"]
    return frozenset(member[0] for g in stable for member in g[5])


def member_ids(live: LiveStack, group: str) -> frozenset[str]:
    """The members of a consumer group that completed its rebalance (none while it
    rebalances)."""
    return _asking(lambda: _members(live.bootstrap, group))


def stable_members(live: LiveStack, group: str) -> int:
    """How many members a consumer group has once it completed its rebalance (0 meanwhile)."""
    return len(member_ids(live, group))


def rebalanced(
    live: LiveStack, group: str, before: frozenset[str], members: int
) -> Callable[[], bool]:
    """The group completed a rebalance since it had the members ``before``: ``members``
    members, not the same ones (a killed member replaced by its restarted process)."""

    def done() -> bool:
        now = member_ids(live, group)
        return len(now) == members and now != before

    return done


def flink_running(live: LiveStack) -> bool:
    """The job runs and completed a checkpoint (every task is up)."""
    job = flink_job_state(live.rest_port)
    return job is not None and job.state == "RUNNING" and job.last_checkpoint_ms is not None


def progressed(live: LiveStack, stage: str, before: int) -> Callable[[], bool]:
    """The stage committed more than ``before``."""
    return lambda: committed(live, stage) > before


def quiet_after(since: float) -> Callable[[], bool]:
    return lambda: time.monotonic() >= since


# --- 1. topic by topic ---------------------------------------------------------------------


def topic_by_topic(ref: Reference, order: Sequence[Stream], client: str) -> Driver:
    """The changelogs, then the event streams in ``order``: each whole file, one after the
    other, with a standard client, keyed by the recommended id."""
    assert sorted(order) == sorted(EVENT_STREAMS)
    produce = CLIENTS[client]

    def drive(live: LiveStack) -> None:
        for stream in (*CHANGELOGS, *order):
            produce(live.bootstrap, spec_of(stream).raw_topic, messages_of(ref.raw_dir, stream))
            live.note(f"{client}: produced {spec_of(stream).stem}")

    return drive


# --- 2. a producer outage ------------------------------------------------------------------


def producer_outage(
    ref: Reference,
    *,
    stopped: Stream = Stream.AD_CLICK,
    outage_s: float = 40.0,
    at: float = 0.4,
    steps: int = 8,
) -> Driver:
    """All streams together up to ``at`` of their files; then ``stopped`` is silent for
    ``outage_s`` seconds of wall time while the others go on (paced over the outage, then
    ingested and consumed by Flink), and finally it flushes its backlog in one burst."""
    hold_ms = load_settings().watermark_delay_ms + load_settings().allowed_lateness_ms

    def drive(live: LiveStack) -> None:
        aio_produce(live.bootstrap, [m for s in CHANGELOGS for m in messages_of(ref.raw_dir, s)])
        per_stream = {s: messages_of(ref.raw_dir, s) for s in EVENT_STREAMS}
        cut = {s: round(len(m) * at) for s, m in per_stream.items()}
        aio_produce(live.bootstrap, interleaved([m[: cut[s]] for s, m in per_stream.items()]))
        others = [s for s in EVENT_STREAMS if s != stopped]
        began = time.monotonic()
        live.note(f"{spec_of(stopped).stem} stops")
        rest = interleaved([per_stream[s][cut[s] :] for s in others])
        for i, part in enumerate(slices(rest, steps)):
            # the scenario itself: the other producers go on over the outage's wall time
            time.sleep(max(0.0, began + i * outage_s / steps - time.monotonic()))
            aio_produce(live.bootstrap, part)
        raw = [spec_of(s).raw_topic for s in others]
        clean = [spec_of(s).clean_topic for s in others]
        wait_for(live, "the other streams ingested", lambda: drained(live, "ingest", raw))
        wait_for(live, "Flink read the other streams", lambda: drained(live, "flink", clean))
        wait_for(live, "the outage's end", quiet_after(began + outage_s), outage_s + 60)
        # the mechanism: the silent stream held Flink's watermark (event streams never idle)
        held = _newest_event_ms(per_stream[stopped][: cut[stopped]]) - hold_ms
        job = flink_job_state(live.rest_port)
        mark = job.watermark_ms if job is not None else None
        live.note(f"outage over after {time.monotonic() - began:.0f}s: Flink watermark {mark}")
        assert mark is None or mark <= held, f"watermark {mark} ran past the silent stream {held}"
        aio_produce(live.bootstrap, per_stream[stopped][cut[stopped] :])
        live.note(f"{spec_of(stopped).stem} flushed its backlog")

    return drive


def _newest_event_ms(messages: Sequence[Message]) -> int:
    import orjson

    from pipelines.validation.instants import instant_ms

    newest = 0
    for _topic, _key, value in messages:
        try:
            obj = orjson.loads(value)
            when = instant_ms(obj.get("event_time")) if isinstance(obj, dict) else None
        except (orjson.JSONDecodeError, ValueError, TypeError):
            continue
        if when is not None:
            newest = max(newest, when)
    return newest


# --- 2b. a stream that ended before a restart of the Flink job ------------------------------


def ended_before_restart(
    ref: Reference, *, ended: Stream = Stream.COMMENT, at: float = 0.5
) -> Driver:
    """``ended`` is produced whole, with the first ``at`` of the other event streams; once Flink
    has read all of it and taken a checkpoint, the job is killed (``kill -9``) and started again
    from that checkpoint, then the rest of the other streams follows. ``ended`` delivers no
    event after the restore: only the ingest's watermark markers give the restored job its
    partitions' watermark back (Flink does not checkpoint watermarks)."""

    def drive(live: LiveStack) -> None:
        aio_produce(live.bootstrap, [m for s in CHANGELOGS for m in messages_of(ref.raw_dir, s)])
        per_stream = {s: messages_of(ref.raw_dir, s) for s in EVENT_STREAMS}
        cut = {s: len(m) if s == ended else round(len(m) * at) for s, m in per_stream.items()}
        aio_produce(live.bootstrap, interleaved([m[: cut[s]] for s, m in per_stream.items()]))
        raw = [spec_of(s).raw_topic for s in EVENT_STREAMS]
        clean = [spec_of(s).clean_topic for s in EVENT_STREAMS]
        wait_for(live, "the first part ingested", lambda: drained(live, "ingest", raw))
        wait_for(live, "Flink read and checkpointed it", lambda: drained(live, "flink", clean))
        live.note(f"{spec_of(ended).stem} ended")
        live.kill9("flink")
        live.restart("flink")
        wait_for(live, "Flink running again", lambda: flink_running(live))
        rest = interleaved([per_stream[s][cut[s] :] for s in EVENT_STREAMS if s != ended])
        aio_produce(live.bootstrap, rest)
        live.note("the other streams produced to their end")

    return drive


# --- 3. two ingest workers and a rebalance ------------------------------------------------


def rebalance(ref: Reference, *, chunks: int = 6, kill_after: int = 2) -> Driver:
    """Two ingest workers of one group; the events produced in chunks; ``ingest-2`` is killed
    (``kill -9``) while chunk ``kill_after`` is being ingested, worker 1 takes its partitions
    over (rebalance), more is produced, and ``ingest-2`` joins again (another rebalance)."""
    group = load_settings().ingest.group

    def drive(live: LiveStack) -> None:
        wait_for(live, "two ingest workers", lambda: stable_members(live, group) == 2)
        aio_produce(live.bootstrap, [m for s in CHANGELOGS for m in messages_of(ref.raw_dir, s)])
        events = interleaved([messages_of(ref.raw_dir, s) for s in EVENT_STREAMS])
        for i, part in enumerate(slices(events, chunks)):
            before = committed(live, "ingest")
            aio_produce(live.bootstrap, part)
            live.note(f"chunk {i + 1}/{chunks} produced")
            if i == kill_after:
                kill_a_worker(live, group, before)
            if i == kill_after + 1:
                restart_the_worker(live, group)

    return drive


def kill_a_worker(live: LiveStack, group: str, before: int) -> None:
    """``kill -9`` of ``ingest-2`` in the middle of an ingest (committed offsets moved past
    ``before``), then wait until worker 1 owns every partition (a rebalance)."""
    wait_for(live, "ingest under way", progressed(live, "ingest", before))
    live.kill9("ingest-2")
    del live.procs["ingest-2"]
    wait_for(live, "worker 1 alone", lambda: stable_members(live, group) == 1)
    live.note("rebalanced: worker 1 owns every partition")


def restart_the_worker(live: LiveStack, group: str) -> None:
    """Once worker 1 ingested everything alone, start ``ingest-2`` again and wait until the
    partitions are shared again (another rebalance)."""
    wait_for(live, "worker 1 caught up", lambda: drained(live, "ingest"))
    live.restart("ingest-2")
    wait_for(live, "two workers again", lambda: stable_members(live, group) == 2)
    live.note("rebalanced: two workers")


# --- 4. faults -----------------------------------------------------------------------------

FAULTS = ("ingest", "flink", "loader")


@dataclass
class FaultPlan:
    """Which fault after which chunk, drawn from ``seed``."""

    seed: int
    chunks: int
    kills: int = 2
    lock_s: float = 30.0
    #: with two, the ingest kills alternate between ``ingest-2`` and ``ingest``: each is a
    #: rebalance (the survivor takes the partitions over) and another when it starts again
    ingest_workers: int = 1
    #: of each raw topic (``run_live``'s default)
    partitions: int = 3
    at: dict[int, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        faults = [name for name in FAULTS for _ in range(self.kills)] + ["broker", "warehouse"]
        rng.shuffle(faults)
        # never after the last chunk: every fault hits a stack at work on a chunk (a restart
        # after a stream has ended is test_faults.py's second test)
        slots = list(range(self.chunks - 1))
        for n, fault in enumerate(faults):
            self.at.setdefault(slots[n * len(slots) // len(faults)], []).append(fault)


def faults(ref: Reference, plan: FaultPlan) -> Driver:
    """The events in chunks; after chunk ``i`` the faults of ``plan.at[i]``, each at a random
    point: ``kill -9`` of an ingest worker / the Flink job (Python and JVM) / the loader, then
    started again; the broker stopped and started on its data and port; the warehouse folder
    held by another process for ``plan.lock_s`` seconds while the loader is (re)started."""
    rng = random.Random(plan.seed + 1)
    group = load_settings().ingest.group
    workers = ["ingest-2", "ingest"][-plan.ingest_workers :]

    def drive(live: LiveStack) -> None:
        members = lambda: stable_members(live, group) == plan.ingest_workers  # noqa: E731
        wait_for(live, "every ingest worker in the group", members)
        aio_produce(live.bootstrap, [m for s in CHANGELOGS for m in messages_of(ref.raw_dir, s)])
        events = interleaved([messages_of(ref.raw_dir, s) for s in EVENT_STREAMS])
        killed = 0
        # the last chunk reaches every partition: a restored Flink job's watermark needs it
        chunks = slices_ending_everywhere(events, plan.chunks, plan.partitions)
        for i, part in enumerate(chunks):
            progress = {stage: committed(live, stage) for stage in FAULTS}
            aio_produce(live.bootstrap, part)
            live.note(f"chunk {i + 1}/{plan.chunks} produced")
            for fault in plan.at.get(i, []):
                # every fault hits a stack at work: what it concerns has taken up this chunk (a
                # restarted job is up again); it fires at a random point of that processing
                busy = (fault,) if fault in FAULTS else FAULTS if fault == "broker" else ("loader",)
                for stage in busy:
                    wait_for(live, f"{stage} at work", progressed(live, stage, progress[stage]))
                time.sleep(rng.uniform(0.0, 1.0))
                if fault == "ingest":
                    victim = workers[killed % len(workers)]
                    killed += 1
                    before = member_ids(live, group)
                    live.kill9(victim)
                    live.restart(victim)
                    if plan.ingest_workers > 1:
                        # rebalanced: the killed member replaced by the restarted one
                        changed = rebalanced(live, group, before, plan.ingest_workers)
                        wait_for(live, "the group rebalanced", changed)
                        live.note(f"rebalanced: {victim} back in the group")
                elif fault in FAULTS:
                    live.kill9(fault)
                    live.restart(fault)
                elif fault == "broker":
                    live.broker.stop()
                    live.note("broker stopped")
                    live.broker.start()
                    live.note("broker started again")
                else:
                    assert fault == "warehouse", fault
                    hold_warehouse(live, plan.lock_s)
        wait_for(live, "Flink running", lambda: flink_running(live))

    return drive


HOLDER = """
import sys, time
from pipelines.connectors.warehouse import Warehouse
wh = Warehouse.connect(sys.argv[1], create_folder=False)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
wh.close()
"""


def hold_warehouse(live: LiveStack, seconds: float) -> None:
    """Another process holds the embedded warehouse for ``seconds`` while the loader is
    started: the loader waits and retries (it must neither exit nor lose a batch)."""
    folder = live.env["PULSE_WAREHOUSE"]
    live.stop("loader")  # gracefully: it unlocks the folder
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, folder, str(seconds)],
        cwd=REPO,
        env=live.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert holder.stdout is not None
        first = holder.stdout.readline()
        assert first.strip() == b"held", first + holder.stdout.read()
        live.note(f"warehouse held by pid {holder.pid} for {seconds:.0f}s")
        log_size = (live.tmp / "loader.log").stat().st_size
        loader = live.restart("loader")
        holder.wait(timeout=seconds + 60)
        live.note("warehouse released")
        assert holder.returncode == 0, holder.stdout.read()
        assert loader.alive(), f"the loader exited while the warehouse was held:\n{loader.tail()}"
        with (live.tmp / "loader.log").open("rb") as log:
            log.seek(log_size)
            waited = b"is in use by another process" in log.read()
        assert waited, f"the loader never met the lock:\n{loader.tail()}"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=30)


# --- the verdict ---------------------------------------------------------------------------


@dataclass
class Verdict:
    scenario: str
    seconds: float
    tables: int = 0
    tables_equal: int = 0
    lost: int = 0
    doubled: int = 0
    different: int = 0
    fault_dead_letters: int = 0
    money: dict[str, tuple[int, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    exercised: dict[str, int] = field(default_factory=dict)

    @property
    def money_equal(self) -> bool:
        return all(got == want for got, want in self.money.values())

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> str:
        money = ", ".join(f"{k} {g} vs {w}" for k, (g, w) in self.money.items() if g != w)
        head = (
            f"{self.scenario}: {self.tables_equal}/{self.tables} tables equal, lost {self.lost}, "
            f"doubled {self.doubled}, different {self.different}, fault dead letters "
            f"{self.fault_dead_letters}, money {'equal' if self.money_equal else money}, "
            f"{self.seconds:.0f}s"
        )
        return "\n".join([head, *self.problems])


def _rows(dump: Path, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(dump / f"{table}.parquet").to_pylist()
    return rows


def judge(scenario: str, run: LiveRun, ref: Reference) -> Verdict:
    """Every table against the bounded run (closed by ``run.cutoff_ms``), the ingest's
    outputs per topic against one per raw message, the money totals."""
    verdict = Verdict(scenario, run.seconds)
    rules = closed_by(run.cutoff_ms)
    for table in KEYS:
        verdict.tables += 1
        lost, doubled, different = _table(run.dump, ref.bounded_dump, table, rules[table])
        if table == "raw_rejected_events":
            verdict.fault_dead_letters += doubled
        verdict.lost += lost
        verdict.doubled += doubled
        verdict.different += different
        if lost or doubled or different:
            verdict.problems.append(
                f"{table}: lost {lost}, doubled {doubled}, different {different}"
                + _lost_examples(run.dump, ref.bounded_dump, table, rules[table])
            )
        else:
            verdict.tables_equal += 1
        closed = [r for r in load(ref.bounded_dump, table).values() if rules[table](r)]
        verdict.exercised[table] = len(closed)
    for topic, want in sorted(ref.expected_records.items()):
        got = run.records.get(topic, 0)
        if got != want:
            verdict.problems.append(f"topic {topic}: {got} records, expected {want}")
            verdict.lost += max(0, want - got)
            verdict.doubled += max(0, got - want)
            if topic == "deadletter.rejected":
                verdict.fault_dead_letters += max(0, got - want)
    for table in ("fct_attributed_clicks", "agg_creator_payouts_daily"):
        for column in MONEY:
            got, want = (
                sum(r[column] for r in _rows(dump, table) if rules[table](r))
                for dump in (run.dump, ref.bounded_dump)
            )
            verdict.money[f"{table}.{column}"] = (got, want)
    if not verdict.money_equal:
        verdict.problems.append(f"money differs: {verdict.money}")
    for table in ("fct_attributed_clicks", "fct_engagement_windows", "fct_eligibility"):
        if not verdict.exercised[table]:
            verdict.problems.append(f"the data set does not exercise {table}")
    return verdict


def _lost_examples(
    streaming: Path, bounded: Path, table: str, closed: Callable[[dict[str, Any]], bool]
) -> str:
    """The first keys (in key order) of the closed rows of ``table`` that the run lacks: a
    failure says which rows, for example the event times a watermark never closed."""
    if table in LINE_KEYS:
        return ""
    got_by = load(streaming, table)
    lost = sorted(
        (k for k, r in load(bounded, table).items() if closed(r) and k not in got_by), key=repr
    )
    return f"; lost e.g. {lost[:3]}" if lost else ""


def _table(
    streaming: Path, bounded: Path, table: str, closed: Callable[[dict[str, Any]], bool]
) -> tuple[int, int, int]:
    """(lost, doubled, different) of one table."""
    got_rows, want_rows = _rows(streaming, table), _rows(bounded, table)
    if table in LINE_KEYS:  # every rejected / late line, as many times as the bounded run
        key = LINE_KEYS[table]
        got = Counter(tuple(r[k] for k in key) for r in got_rows)
        want = Counter(tuple(r[k] for k in key) for r in want_rows)
        return sum((want - got).values()), sum((got - want).values()), 0
    got_by = load(streaming, table)
    want_by = load(bounded, table)
    doubled = len(got_rows) - len(got_by)  # a key twice after FINAL
    lost = sum(1 for k, r in want_by.items() if closed(r) and k not in got_by)
    partial = table == "agg_creator_payouts_daily"  # a day still open at the cutoff
    different = sum(1 for k in got_by if k not in want_by)
    different += sum(
        1
        for k, r in got_by.items()
        if k in want_by and r != want_by[k] and (not partial or closed(want_by[k]))
    )
    return lost, doubled, different
