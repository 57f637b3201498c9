"""The real broker of ``tests/integration/kafka`` (session scope) plus helpers to run the
streaming-ingest worker (``python -m jobs.faust_ingest worker``) against prefixed topics."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipelines.connectors.kafka_topics import TopicSpec, ensure_topics, pulse_topics
from pipelines.ingest.markers import is_marker
from pipelines.local.kafka_broker import LocalKafkaBroker
from tests.integration.kafka.conftest import kafka_broker  # noqa: F401  (session fixture)

REPO = Path(__file__).resolve().parents[3]
_COUNTER = itertools.count()


@dataclass
class Ingest:
    """Prefixed pulse topics on the test broker and the worker processes run on them."""

    broker: LocalKafkaBroker
    prefix: str
    app_id: str
    workdir: Path
    partitions: int = 2
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def topic(self, name: str) -> str:
        return self.prefix + name

    def start_worker(self, **env: str) -> subprocess.Popen[bytes]:
        full_env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PULSE_KAFKA__BOOTSTRAP": self.broker.bootstrap,
            "PULSE_INGEST__GROUP": self.app_id,
            "PULSE_KAFKA__TOPIC_PREFIX": self.prefix,
            "PULSE_INGEST__SESSION_TIMEOUT_MS": "6000",
            "PULSE_INGEST__DATA_DIR": str(self.workdir / "faust"),
            # exact record counts: watermark markers only where a test turns them on
            "PULSE_INGEST__WATERMARK_MARKER_INTERVAL_S": "0",
            **env,
        }
        log = (self.workdir / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobs.faust_ingest", "worker", "--without-web", "-l", "info"],
            cwd=self.workdir,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.workdir.glob("worker-*.log"))
        )

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)

    def produce(self, stream_topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
        asyncio.run(_produce(self.broker.bootstrap, self.topic(stream_topic), messages))

    def count(self, name: str) -> int:
        return asyncio.run(_count(self.broker.bootstrap, self.topic(name)))

    def wait_count(self, name: str, want: int, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        got = self.count(name)
        while got < want and time.monotonic() < deadline:
            last = self.procs[-1]
            assert last.poll() is None, f"worker exited {last.returncode}: {self.logs()[-4000:]}"
            time.sleep(0.1)
            got = self.count(name)
        return got

    def read(self, name: str, *, markers: bool = False) -> list[Any]:
        """The records of ``name``; the ingest's watermark markers only with ``markers``."""
        return asyncio.run(_read_all(self.broker.bootstrap, self.topic(name), markers=markers))


@pytest.fixture
def ingest(kafka_broker: LocalKafkaBroker, tmp_path: Path) -> Iterator[Ingest]:  # noqa: F811
    n = next(_COUNTER)
    prefix = f"si{n}x{os.getpid()}."
    specs = [TopicSpec(prefix + s.name, s.partitions, s.key, s.config) for s in pulse_topics(2)]
    asyncio.run(ensure_topics(kafka_broker.bootstrap, specs))
    env = Ingest(kafka_broker, prefix, f"ingest-test-{n}", tmp_path)
    try:
        yield env
    finally:
        env.stop_all()


async def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _tps(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    meta = await consumer._client.fetch_all_metadata()
    return [TopicPartition(topic, p) for p in sorted(meta.partitions_for_topic(topic) or ())]


async def _count(bootstrap: str, topic: str) -> int:
    """Records of ``topic`` by its end offsets (workers here write no markers unless told)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = await _tps(consumer, topic)
        return int(sum((await consumer.end_offsets(tps)).values()))
    finally:
        await consumer.stop()


async def _read_all(bootstrap: str, topic: str, *, markers: bool = False) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: list[Any] = []
    try:
        tps = await _tps(consumer, topic)
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        for tp in tps:
            consumer.seek(tp, begins[tp])
        todo = {tp for tp in tps if ends[tp] > begins[tp]}
        deadline = time.monotonic() + 30
        while todo and time.monotonic() < deadline:
            batch = await consumer.getmany(*todo, timeout_ms=500)
            for tp, recs in batch.items():
                out += [r for r in recs if markers or not is_marker(r.headers)]
                if recs and recs[-1].offset + 1 >= ends[tp]:
                    todo.discard(tp)
    finally:
        await consumer.stop()
    return out
