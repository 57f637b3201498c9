"""One streaming stack over RAW topics, the way a user runs it, for delivery-order tests.

A fresh local Kafka broker (random loopback port) with the pulse topics, the streaming ingest
worker, the Flink job and the loader as separate processes (``conftest.Proc``), a caller-given
production of the raw files, then ``wait_stored`` (ingest, Flink and loader drained, results
settled past Flink's idle timeout) and a dump of the warehouse. The bounded ``pulse run`` over
the same files is the reference (:func:`bounded_reference`).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.commands.status import wait_stored
from pipelines.config import Settings, load_settings
from pipelines.connectors.kafka_topics import ensure_topics, pulse_topics
from pipelines.domain.events import event_time_ms
from pipelines.domain.streams import STREAMS
from pipelines.ingest.markers import is_marker
from pipelines.local.kafka_broker import LocalKafkaBroker
from pipelines.local.processes import free_port
from pipelines.validation import Rejection, Validator

from .conftest import IDLE_TIMEOUT_S, REPO, Proc, flink_command, require_kafka_jars
from .dump import dump_in_subprocess

SETTLE_S = IDLE_TIMEOUT_S + 4  # no new results for this long = the final watermark was reached
DEADLINE_S = 300

#: produce(bootstrap, env): send the raw data to the broker
Producer = Callable[[str, dict[str, str]], None]


@dataclass
class StackRun:
    dump: Path
    #: what the final watermark closed (see :func:`final_watermark_cutoff`)
    cutoff_ms: int
    logs: dict[str, Path]
    seconds: float


def bounded_reference(tmp: Path, raw_dir: Path, reference_ms: int) -> Path:
    """``pulse run`` over the files into its own warehouse; return the folder of its dump."""
    require_kafka_jars()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PULSE_WORK_DIR": str(tmp / "work-bounded")}
    warehouse = tmp / "wh-bounded"
    proc = Proc(
        "bounded",
        [sys.executable, "-m", "pipelines", "run", "--input", str(raw_dir),
         "--warehouse", str(warehouse), "--as-of", str(reference_ms), "--no-report"],
        env, tmp / "bounded.log",
    )  # fmt: skip
    proc.popen.wait(timeout=DEADLINE_S)
    assert proc.popen.returncode == 0, proc.tail()
    dump_in_subprocess(warehouse, tmp / "dump-bounded", env)
    return tmp / "dump-bounded"


def run_stack(
    tmp: Path,
    produce: Producer,
    reference_ms: int,
    *,
    partitions: int = 3,
    extra_env: Mapping[str, str] | None = None,
    during: Callable[[dict[str, str]], None] | None = None,
) -> StackRun:
    """Start everything, produce, wait until the results are stored and settled, dump.

    ``during(env)``, if given, runs after the production and before the wait, while every
    job runs (``env``: the jobs' environment, ``PULSE_WAREHOUSE`` included)."""
    require_kafka_jars()
    began = time.monotonic()
    tmp.mkdir(parents=True, exist_ok=True)
    broker = LocalKafkaBroker(tmp / "kafka", port=None, start_timeout=90.0).start()
    procs: list[Proc] = []
    try:
        specs = pulse_topics(partitions)
        asyncio.run(ensure_topics(broker.bootstrap, specs))
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PULSE_KAFKA__BOOTSTRAP": broker.bootstrap,
            "PULSE_WORK_DIR": str(tmp / "work"),
            "PULSE_FLINK__REST_PORT": str(free_port()),
            "PULSE_INGEST__SESSION_TIMEOUT_MS": "6000",
            "PULSE_INGEST__DATA_DIR": str(tmp / "ingest-data"),
            "PULSE_STACK__DIR": str(tmp / "stack"),
            "PULSE_WAREHOUSE": str(tmp / "wh-streaming"),
            "PULSE_LOADER__DATA_DIR": str(tmp / "loader-data"),
            "PULSE_LOADER__BATCH": "500",
            "PULSE_LOADER__WITHIN_S": "0.2",
            **(extra_env or {}),
        }
        ingest_argv = [
            sys.executable,
            "-m",
            "jobs.faust_ingest",
            "worker",
            "--without-web",
            "-l",
            "info",
        ]
        procs.append(Proc("ingest", ingest_argv, env, tmp / "ingest.log"))
        procs.append(Proc("loader", [sys.executable, "-m", "jobs.faust_loader"], env,
                          tmp / "loader.log"))  # fmt: skip
        flink_argv = flink_command(tmp / "checkpoints", env["PULSE_FLINK__REST_PORT"])
        procs.append(Proc("flink", flink_argv, env, tmp / "flink.log"))
        produce(broker.bootstrap, env)
        if during is not None:
            during(env)
        settings = load_settings(
            kafka={"bootstrap": broker.bootstrap},
            flink={"rest_port": int(env["PULSE_FLINK__REST_PORT"])},
        )
        from pipelines.streaming.monitor import stages

        code, reason = asyncio.run(
            wait_stored(settings, stages(settings), DEADLINE_S, False, settle=SETTLE_S)
        )
        for proc in procs:
            assert proc.alive(), f"{proc.name} exited:\n{proc.tail()}"
        by_name = {p.name: p for p in procs}
        assert code == 0, f"{reason}\n{by_name['ingest'].tail()}\n{by_name['flink'].tail()}"
        for proc in procs:
            proc.stop()  # the loader stops gracefully: the warehouse folder is unlocked
        cutoff = final_watermark_cutoff(broker.bootstrap, reference_ms)
        dump_in_subprocess(tmp / "wh-streaming", tmp / "dump-streaming", env)
        return StackRun(
            tmp / "dump-streaming",
            cutoff,
            {p.name: p.log for p in procs},
            time.monotonic() - began,
        )
    finally:
        for proc in reversed(procs):
            proc.stop(timeout=30)
        broker.stop()


def final_watermark_cutoff(bootstrap: str, reference_ms: int) -> int:
    """What the final watermark of a run over the raw topics closes: the slowest raw partition
    of the slowest event stream (its newest valid event) less the watermark delay and the
    allowed lateness. Read back from the topics, so it holds for any producer's partitioning."""
    settings = load_settings()
    newest = asyncio.run(_newest_per_partition(bootstrap, reference_ms, settings))
    return min(newest.values()) - (settings.watermark_delay_ms + settings.allowed_lateness_ms)


async def _newest_per_partition(
    bootstrap: str, reference_ms: int, settings: Settings
) -> dict[tuple[str, int], int]:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    newest: dict[tuple[str, int], int] = {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([s.raw_topic for s in STREAMS])
    finally:
        await admin.close()
    counts = {d["topic"]: len(d["partitions"]) for d in described}
    await consumer.start()
    try:
        for spec in STREAMS:
            if spec.changelog:
                continue
            validator = Validator(spec.stream, reference_ms, settings.future_tolerance_ms)
            tps = [TopicPartition(spec.raw_topic, p) for p in range(counts[spec.raw_topic])]
            ends = await consumer.end_offsets(tps)
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            done = {tp for tp in tps if ends[tp] == 0}
            assert len(done) < len(tps), f"{spec.raw_topic} is empty"
            while len(done) < len(tps):
                batch = await consumer.getmany(timeout_ms=1000)
                for tp, records in batch.items():
                    for record in records:
                        outcome = validator.validate(record.value or b"")
                        if not isinstance(outcome, Rejection):
                            key = (tp.topic, tp.partition)
                            when = event_time_ms(outcome)
                            newest[key] = max(newest.get(key, when), when)
                        if record.offset + 1 >= ends[tp]:
                            done.add(tp)
            assert all((tp.topic, tp.partition) in newest for tp in tps), (
                f"a partition of {spec.raw_topic} has no valid event: it holds the watermark"
            )
    finally:
        await consumer.stop()
    return newest


def pulse_produce(raw_dir: Path) -> Producer:
    """``pulse produce --input DIR``: the five files, keyed, interleaved by position."""

    def produce(bootstrap: str, env: dict[str, str]) -> None:
        res = subprocess.run(
            [sys.executable, "-m", "pipelines", "produce", "--input", str(raw_dir)],
            env=env,
            capture_output=True,
            timeout=600,
        )
        assert res.returncode == 0, res.stderr.decode(errors="replace")

    return produce


# --- a live stack for scenario drivers: paced producers, kills, restarts, rebalances ----------

#: drive(stack): produce the raw data while killing, restarting or pausing parts of the stack
Driver = Callable[["LiveStack"], None]
#: the topics whose record counts a run reports (the ingest's inputs and outputs)
COUNTED_PREFIXES = ("raw.", "clean.", "deadletter.", "results.late_events")


@dataclass
class LiveRun(StackRun):
    #: (seconds since the start, what happened): every fault and phase of the driver
    events: list[tuple[float, str]] = field(default_factory=list)
    #: records per raw, clean, dead-letter and late-event topic at the end of the run
    records: dict[str, int] = field(default_factory=dict)


@dataclass
class LiveStack:
    """The running stack a :data:`Driver` works on: the broker and the job processes, each
    started, killed (``kill -9`` of its process group) and started again the way ``pulse up``
    starts it after a crash. Ingest workers are ``ingest``, ``ingest-2``, ... (one group)."""

    tmp: Path
    broker: LocalKafkaBroker
    env: dict[str, str]
    argv: dict[str, list[str]]
    envs: dict[str, dict[str, str]]
    began: float
    procs: dict[str, Proc] = field(default_factory=dict)
    started: list[Proc] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    @property
    def rest_port(self) -> int:
        return int(self.env["PULSE_FLINK__REST_PORT"])

    def settings(self) -> Settings:
        """The settings of the stack (broker, groups, Flink's REST port) for the monitors."""
        return load_settings(
            kafka={"bootstrap": self.bootstrap}, flink={"rest_port": self.rest_port}
        )

    def note(self, what: str) -> None:
        self.events.append((round(time.monotonic() - self.began, 1), what))

    def start(self, name: str) -> Proc:
        proc = Proc(name, self.argv[name], self.envs[name], self.tmp / f"{name}.log")
        self.procs[name] = proc
        self.started.append(proc)
        return proc

    def kill9(self, name: str) -> None:
        """``kill -9`` of the job's whole process group (PyFlink: Python and its JVM)."""
        self.procs[name].kill9()
        self.note(f"kill -9 {name}")

    def restart(self, name: str) -> Proc:
        """Start the job again after it was killed (what ``pulse up`` does for a dead job)."""
        proc = self.start(name)
        self.note(f"started {name} again")
        return proc

    def stop(self, name: str) -> None:
        """A graceful stop (SIGTERM; the loader closes and unlocks the warehouse)."""
        self.procs[name].stop()
        self.note(f"stopped {name}")

    def assert_alive(self) -> None:
        for proc in self.procs.values():
            assert proc.alive(), f"{proc.name} exited:\n{proc.tail()}"


def run_live(
    tmp: Path,
    drive: Driver,
    reference_ms: int,
    *,
    partitions: int = 3,
    extra_env: Mapping[str, str] | None = None,
    ingest_workers: int = 1,
    deadline_s: float = 900.0,
) -> LiveRun:
    """Like :func:`run_stack`, but the driver gets the live stack (to kill and restart jobs,
    stop the broker, pace producers) and the run reports its events and topic record counts.
    Every job must be running when the driver returns; they are then drained and settled by
    the same conditions as :func:`run_stack` (never by a fixed sleep), for at most
    ``deadline_s`` (generous: a shared 2-core machine can take minutes to start Flink)."""
    require_kafka_jars()
    began = time.monotonic()
    tmp.mkdir(parents=True, exist_ok=True)
    broker = LocalKafkaBroker(tmp / "kafka", port=None, start_timeout=90.0).start()
    live: LiveStack | None = None
    try:
        asyncio.run(ensure_topics(broker.bootstrap, pulse_topics(partitions)))
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PULSE_KAFKA__BOOTSTRAP": broker.bootstrap,
            "PULSE_WORK_DIR": str(tmp / "work"),
            "PULSE_FLINK__REST_PORT": str(free_port()),
            "PULSE_INGEST__SESSION_TIMEOUT_MS": "6000",
            "PULSE_INGEST__DATA_DIR": str(tmp / "ingest-data"),
            "PULSE_STACK__DIR": str(tmp / "stack"),
            "PULSE_WAREHOUSE": str(tmp / "wh-streaming"),
            "PULSE_LOADER__DATA_DIR": str(tmp / "loader-data"),
            "PULSE_LOADER__JOURNAL": str(tmp / "loader-journal.jsonl"),
            "PULSE_LOADER__BATCH": "500",
            "PULSE_LOADER__WITHIN_S": "0.2",
            **(extra_env or {}),
        }
        ingest_argv = [
            sys.executable,
            "-m",
            "jobs.faust_ingest",
            "worker",
            "--without-web",
            "-l",
            "info",
        ]
        argv = {
            "loader": [sys.executable, "-m", "jobs.faust_loader"],
            "flink": flink_command(tmp / "checkpoints", env["PULSE_FLINK__REST_PORT"]),
        }
        envs = {"loader": env, "flink": env}
        workers = ["ingest"] + [f"ingest-{n}" for n in range(2, ingest_workers + 1)]
        for name in workers:
            argv[name] = ingest_argv
            # each worker its own Faust data folder (one group: the ingest's consumer group)
            envs[name] = {**env, "PULSE_INGEST__DATA_DIR": str(tmp / f"{name}-data")}
        live = LiveStack(tmp, broker, env, argv, envs, began)
        for name in [*workers, "loader", "flink"]:
            live.start(name)
        drive(live)
        live.note("driver done")
        code, reason = _wait_stored_retrying(live.settings(), deadline_s)
        live.assert_alive()
        assert code == 0, f"{reason}\n" + "\n".join(
            f"--- {p.name}\n{p.tail()}" for p in live.procs.values()
        )
        live.note("stored and settled")
        for name in [n for n in live.procs if n != "loader"] + ["loader"]:
            live.procs[name].stop()  # the loader last, gracefully: the folder is unlocked
        records = asyncio.run(topic_records(broker.bootstrap, COUNTED_PREFIXES))
        cutoff = final_watermark_cutoff(broker.bootstrap, reference_ms)
        dump_in_subprocess(tmp / "wh-streaming", tmp / "dump-streaming", env)
        return LiveRun(
            tmp / "dump-streaming",
            cutoff,
            {p.name: p.log for p in live.started},
            time.monotonic() - began,
            events=live.events,
            records=records,
        )
    finally:
        if live is not None:
            for proc in reversed(live.started):
                proc.stop(timeout=30)
        broker.stop()


def _wait_stored_retrying(settings: Settings, deadline_s: float) -> tuple[int, str]:
    """``wait_stored`` of every stage, asked again while the broker cannot answer yet (a group
    coordinator still loading right after the broker started or restarted)."""
    from aiokafka.errors import KafkaError

    from pipelines.streaming.monitor import stages

    deadline = time.monotonic() + deadline_s
    while True:
        left = max(1.0, deadline - time.monotonic())
        waiting = wait_stored(settings, stages(settings), left, False, settle=SETTLE_S)
        try:
            return asyncio.run(waiting)
        except KafkaError as err:
            if not err.retriable or time.monotonic() > deadline:
                raise
            time.sleep(1.0)


async def topic_records(bootstrap: str, prefixes: tuple[str, ...]) -> dict[str, int]:
    """Records per topic (over all partitions) of the topics whose name starts with one of
    ``prefixes``; the ingest's watermark markers in the clean topics are not counted."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if t.startswith(prefixes))
        described = await admin.describe_topics(topics) if topics else []
    finally:
        await admin.close()
    tps = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps) if tps else {}
        starts = await consumer.beginning_offsets(tps) if tps else {}
        counts = dict.fromkeys(topics, 0)
        marked = [tp for tp in tps if tp.topic.startswith("clean.") and ends[tp] > starts[tp]]
        for tp in tps:
            if tp not in marked:
                counts[tp.topic] += ends[tp] - starts[tp]
        if marked:
            consumer.assign(marked)
            for tp in marked:
                consumer.seek(tp, starts[tp])
            todo = set(marked)
            while todo:
                batch = await consumer.getmany(*todo, timeout_ms=1000)
                for tp, recs in batch.items():
                    counts[tp.topic] += sum(
                        1 for r in recs if r.offset < ends[tp] and not is_marker(r.headers)
                    )
                    if recs and recs[-1].offset + 1 >= ends[tp]:
                        todo.discard(tp)
    finally:
        await consumer.stop()
    return counts
