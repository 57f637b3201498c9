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
from dataclasses import dataclass
from pathlib import Path

from pipelines.commands.status import wait_stored
from pipelines.config import Settings, load_settings
from pipelines.connectors.kafka_topics import ensure_topics, pulse_topics
from pipelines.domain.events import event_time_ms
from pipelines.domain.streams import STREAMS
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
            sys.executable, "-m", "jobs.faust_ingest", "worker", "--without-web", "-l", "info"
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
