"""Raw files -> ``raw.*`` topics -> streaming ingest -> Flink -> loader equals ``pulse run``.

The issue's requirement, end to end: a generated data set produced to the RAW topics yields,
for every window closed by the final watermark and every click older than it, exactly the
tables of the bounded ``pulse run`` on the same files (rejected and late events included).

Real services only (``raw_stack.run_stack``): a fresh local Kafka broker (random port) whose
raw topics have ONE partition each (the ingest's partition watermark is then exactly the bounded
run's file-order watermark; several partitions are covered by test_fast_burst.py), the streaming
ingest worker, the Flink job and the Faust loader. Every line of every file is produced as-is
(malformed and blank ones too), in file order: the two changelogs with Kafka's own console
producer, then the three event streams interleaved by relative position with aiokafka.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from pipelines.config import load_settings
from pipelines.domain.events import Stream
from pipelines.domain.streams import spec_of
from pipelines.local.kafka_command import kafka_java_command
from pipelines.streaming.monitor import stage_lags, stages

from . import data as dataset
from .compare import assert_same_tables
from .data import EVENT_STREAMS
from .raw_stack import StackRun, bounded_reference, run_stack

pytestmark = pytest.mark.integration

CONSOLE_STREAMS = (Stream.CREATOR_PROFILE, Stream.CAMPAIGN)  # Kafka's console producer


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
        spec = spec_of(stream)
        lines = _file_lines(raw_dir / f"{spec.stem}.jsonl")
        ranked += [(i / len(lines), rank, (spec.raw_topic, line)) for i, line in enumerate(lines)]
    return [m for _, _, m in sorted(ranked, key=lambda item: item[:2])]


class RawRun:
    def __init__(self, run: StackRun, bounded: Path, lines: dict[str, int]) -> None:
        self.run, self.bounded, self.lines = run, bounded, lines
        self.raw_records: dict[str, int] = {}


@pytest.fixture(scope="module")
def raw_run(tmp_path_factory: pytest.TempPathFactory) -> RawRun:
    tmp = tmp_path_factory.mktemp("streaming-raw")
    data = dataset.build(tmp, load_settings(), creators=6, days=12, seed=5)
    assert data.clean[Stream.AD_CLICK] and data.dead_letters and data.late_events
    lines = {
        spec_of(s).raw_topic: len(_file_lines(data.raw_dir / f"{spec_of(s).stem}.jsonl"))
        for s in Stream
    }
    bounded = bounded_reference(tmp, data.raw_dir, data.reference_ms)
    records: dict[str, int] = {}

    def produce(bootstrap: str, env: dict[str, str]) -> None:
        # the changelogs first (Kafka's console producer), then the interleaved events
        for stream in CONSOLE_STREAMS:
            spec = spec_of(stream)
            _console_produce(
                bootstrap, spec.raw_topic, _file_lines(data.raw_dir / f"{spec.stem}.jsonl")
            )
        asyncio.run(_aio_produce(bootstrap, _interleaved(data.raw_dir)))
        settings = load_settings(kafka={"bootstrap": bootstrap})
        ingest = next(s for s in stages(settings) if s.name == "ingest")
        lag = asyncio.run(stage_lags(bootstrap, (ingest,)))[0]
        records.update({t.topic: t.end for t in lag.topics})

    raw = RawRun(run_stack(tmp / "stack", produce, data.reference_ms, partitions=1), bounded, lines)
    raw.raw_records = records
    return raw


def test_every_raw_line_was_produced(raw_run: RawRun) -> None:
    assert raw_run.raw_records == raw_run.lines


def test_raw_topics_yield_the_bounded_tables(raw_run: RawRun) -> None:
    """Every table up to the final watermark, every rejected and every late line."""
    assert_same_tables(raw_run.run.dump, raw_run.bounded, raw_run.run.cutoff_ms)
