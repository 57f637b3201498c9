"""Raw files -> ``raw.*`` topics -> streaming ingest -> Flink -> loader equals ``pulse run``.

The issue's requirement, end to end: a generated data set produced to the RAW topics yields,
for every window closed by the final watermark and every click older than it, exactly the
tables of the bounded ``pulse run`` on the same files (rejected and late events included).

Real services only: a fresh local Kafka broker (random port) whose raw topics have ONE
partition each: the ingest's per-partition watermark is then the bounded run's file-order
watermark (with several raw partitions late-event detection is per partition and more
lenient, see ``pipelines/streaming/ingest.py``); the streaming ingest worker
(``python -m jobs.faust_ingest worker``), the Flink job and the Faust loader as in
``conftest.py``. Every line of every file is produced as-is (malformed and blank ones too),
in file order: the two changelogs with Kafka's own console producer, then the three event
streams interleaved by relative position (like ``data.messages``) with aiokafka.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from pipelines.commands.status import wait_stored
from pipelines.config import load_settings
from pipelines.connectors.kafka_topics import ensure_topics, pulse_topics
from pipelines.domain.events import Stream
from pipelines.local.kafka_broker import LocalKafkaBroker
from pipelines.local.kafka_command import kafka_java_command
from pipelines.local.processes import free_port
from pipelines.streaming.monitor import stage_lags, stages

from . import data as dataset
from .compare import TableDiff, compare, load
from .conftest import REPO, Proc, finish_and_dump, require_kafka_jars
from .data import EVENT_STREAMS

pytestmark = pytest.mark.integration

INGEST_GROUP = "pulse-ingest"  # ingest.group of the worker below (the default)
IDLE_TIMEOUT_S = 8
CHECKPOINT_S = 1
SETTLE_S = IDLE_TIMEOUT_S + 4  # no new results for this long = the final watermark was reached
DEADLINE_S = 240
#: file name (= raw topic suffix) per stream
FILE = {
    Stream.VIEW: "views",
    Stream.COMMENT: "comments",
    Stream.AD_CLICK: "ad_clicks",
    Stream.CREATOR_PROFILE: "creator_profiles",
    Stream.CAMPAIGN: "campaigns",
}
CONSOLE_STREAMS = (Stream.CREATOR_PROFILE, Stream.CAMPAIGN)  # Kafka's console producer


@dataclass
class RawRun:
    streaming_dump: Path
    bounded_dump: Path
    cutoff_ms: int
    lines: dict[str, int]  # lines per raw file
    raw_records: dict[str, int]  # records per raw topic
    logs: dict[str, Path]
    seconds: dict[str, float]


def _file_lines(path: Path) -> list[bytes]:
    """The file's lines exactly as the bounded run reads them (``sources.read_records``)."""
    with path.open("rb") as handle:
        return [line.rstrip(b"\r\n") for line in handle]


def _console_produce(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    """Kafka's ``ConsoleProducer``: one record per stdin line, value = the line, no key."""
    cmd = kafka_java_command(
        "org.apache.kafka.tools.ConsoleProducer",
        ["--bootstrap-server", bootstrap, "--topic", topic,
         "--producer-property", "acks=all"],
        short_lived=True,
    )  # fmt: skip
    res = subprocess.run(
        cmd, input=b"".join(line + b"\n" for line in lines), capture_output=True, timeout=120
    )
    assert res.returncode == 0, f"console producer failed:\n{res.stdout!r}\n{res.stderr!r}"


async def _aio_produce(bootstrap: str, messages: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value) for topic, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _interleaved(raw_dir: Path) -> list[tuple[str, bytes]]:
    """The event files' lines, each file in its order, interleaved by relative position."""
    ranked: list[tuple[float, int, tuple[str, bytes]]] = []
    for rank, stream in enumerate(EVENT_STREAMS):
        lines = _file_lines(raw_dir / f"{FILE[stream]}.jsonl")
        topic = f"raw.{FILE[stream]}"
        ranked += [(i / len(lines), rank, (topic, line)) for i, line in enumerate(lines)]
    return [m for _, _, m in sorted(ranked, key=lambda item: item[:2])]


def _raw_records(bootstrap: str) -> dict[str, int]:
    watched = load_settings(ingest={"group": INGEST_GROUP})
    ingest = next(s for s in stages(watched) if s.name == "ingest")
    lag = asyncio.run(stage_lags(bootstrap, (ingest,)))[0]
    return {t.topic: t.end for t in lag.topics}


@pytest.fixture(scope="module")
def raw_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawRun]:
    require_kafka_jars()
    tmp = tmp_path_factory.mktemp("streaming-raw")
    seconds: dict[str, float] = {}
    began = time.monotonic()
    settings = load_settings()
    # raw files + the bounded ingest's clean output (for the cutoff and sanity checks only)
    data = dataset.build(tmp, settings, creators=6, days=12, seed=5)
    cutoff = data.final_watermark_cutoff(settings)
    assert data.clean[Stream.AD_CLICK] and data.dead_letters and data.late_events
    lines = {name: len(_file_lines(data.raw_dir / f"{name}.jsonl")) for name in FILE.values()}

    broker = LocalKafkaBroker(tmp / "kafka", port=None, start_timeout=90.0).start()
    procs: list[Proc] = []
    try:
        specs = pulse_topics(1)
        asyncio.run(ensure_topics(broker.bootstrap, specs))
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PULSE_KAFKA__BOOTSTRAP": broker.bootstrap,
            "PULSE_WORK_DIR": str(tmp / "work"),
            "PULSE_FLINK__REST_PORT": str(free_port()),
        }
        bounded_wh, streaming_wh = tmp / "wh-bounded", tmp / "wh-streaming"
        procs.append(Proc(
            "bounded",
            [sys.executable, "-m", "pipelines", "run", "--input", str(data.raw_dir),
             "--warehouse", str(bounded_wh), "--as-of", str(data.reference_ms), "--no-report"],
            env, tmp / "bounded.log",
        ))  # fmt: skip
        ingest_env = {
            **env,
            "PULSE_INGEST__GROUP": INGEST_GROUP,
            "PULSE_INGEST__SESSION_TIMEOUT_MS": "6000",
            "PULSE_INGEST__DATA_DIR": str(tmp / "ingest-data"),
        }
        ingest_argv = [sys.executable, "-m", "jobs.faust_ingest", "worker", "-l", "info"]
        procs.append(Proc("ingest", ingest_argv, ingest_env, tmp / "ingest.log"))
        loader_env = {
            **env,
            "PULSE_WAREHOUSE": str(streaming_wh),
            "PULSE_LOADER__DATA_DIR": str(tmp / "loader-data"),
            "PULSE_LOADER__JOURNAL": str(tmp / "loader-journal.jsonl"),
            "PULSE_LOADER__BATCH": "200",
            "PULSE_LOADER__WITHIN_S": "0.2",
        }
        procs.append(
            Proc("loader", [sys.executable, "-m", "jobs.faust_loader"], loader_env,
                 tmp / "loader.log")
        )  # fmt: skip
        flink_argv = [
            sys.executable, "-m", "jobs.flink_streaming",
            "--checkpoint-dir", str(tmp / "checkpoints"),
            "--checkpoint-interval", str(CHECKPOINT_S),
            "--changelog-idle-timeout", str(IDLE_TIMEOUT_S),
            "--rest-port", env["PULSE_FLINK__REST_PORT"],
        ]  # fmt: skip
        procs.append(Proc("flink", flink_argv, env, tmp / "flink.log"))
        by_name = {p.name: p for p in procs}
        seconds["setup"] = time.monotonic() - began

        # the changelogs first (Kafka's console producer), then the interleaved events
        for stream in CONSOLE_STREAMS:
            name = FILE[stream]
            _console_produce(
                broker.bootstrap, f"raw.{name}", _file_lines(data.raw_dir / f"{name}.jsonl")
            )
        asyncio.run(_aio_produce(broker.bootstrap, _interleaved(data.raw_dir)))
        raw_records = _raw_records(broker.bootstrap)
        seconds["produced"] = time.monotonic() - began

        # ingest, Flink and loader drained in order, then results and watermarks quiet
        deadline = time.monotonic() + DEADLINE_S
        watched = load_settings(
            kafka={"bootstrap": broker.bootstrap},
            ingest={"group": INGEST_GROUP},
            flink={"rest_port": int(env["PULSE_FLINK__REST_PORT"])},
        )
        code, reason = asyncio.run(
            wait_stored(
                watched, stages(watched), deadline - time.monotonic(), False, settle=SETTLE_S
            )
        )
        for proc in procs[1:]:
            assert proc.alive(), f"{proc.name} exited:\n{proc.tail()}"
        assert code == 0, f"{reason}\n{by_name['ingest'].tail()}\n{by_name['flink'].tail()}"
        seconds["streaming_done"] = time.monotonic() - began
        by_name["ingest"].stop()
        by_name["flink"].stop()
        by_name["loader"].stop()  # graceful: the warehouse folder is closed and unlocked
        finish_and_dump(by_name["bounded"], streaming_wh, bounded_wh, tmp, env, deadline)
        seconds["total"] = time.monotonic() - began
        yield RawRun(
            tmp / "dump-streaming",
            tmp / "dump-bounded",
            cutoff,
            lines,
            raw_records,
            {p.name: p.log for p in procs},
            seconds,
        )
    finally:
        for proc in reversed(procs):
            proc.stop(timeout=30)
        broker.stop()


def _report(diffs: list[TableDiff]) -> str:
    return "\n".join(
        f"{d.table}: streaming {d.streaming}, expected >= {d.expected}; missing {d.missing}; "
        f"extra {d.extra}; different {d.different}"
        for d in diffs
        if not d.ok
    )


def test_every_raw_line_was_produced(raw_run: RawRun) -> None:
    assert raw_run.raw_records == {f"raw.{name}": n for name, n in raw_run.lines.items()}


def test_raw_topics_yield_the_bounded_tables(raw_run: RawRun) -> None:
    diffs = compare(raw_run.streaming_dump, raw_run.bounded_dump, raw_run.cutoff_ms)
    report = _report(diffs)
    assert not report, report
    by_table = {d.table: d for d in diffs}
    # the data set exercises every table, and the watermark closed most of it
    for table in ("fct_attributed_clicks", "fct_engagement_windows", "fct_eligibility"):
        assert by_table[table].expected > 0, table


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("raw_rejected_events", ("stream", "reason", "raw")),
        ("raw_late_events", ("stream", "event_id")),
    ],
)
def test_rejected_and_late_events_equal(raw_run: RawRun, table: str, key: tuple[str, ...]) -> None:
    """Every rejected and every late line, none more (not limited by the watermark)."""
    got = load(raw_run.streaming_dump, table).values()
    want = load(raw_run.bounded_dump, table).values()
    got_keys = sorted(tuple(r[k] for k in key) for r in got)
    want_keys = sorted(tuple(r[k] for k in key) for r in want)
    assert want_keys, f"the data set has no {table}"
    assert got_keys == want_keys
