"""End to end: a Faust 0.15.3 worker (aiokafka 0.14) consumes a topic of the Kafka 4 broker,
keeps a table (changelog topic), produces to another topic and commits its group offsets."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from pipelines.local.kafka_broker import LocalKafkaBroker

from .conftest import NewTopic, broker_protocol_errors

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
APP_ID = "pulse-test-faust"
INPUT = [(b"u1", b"a"), (b"u2", b"b"), (b"u1", b"c"), (b"u1", b"d"), (b"u2", b"e")]
EXPECTED = {b"u1": [b"A|1", b"C|2", b"D|3"], b"u2": [b"B|1", b"E|2"]}


async def produce(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in INPUT:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, n: int, timeout: float) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    got: list[tuple[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                got += [(r.key, r.value) for r in records]
    finally:
        await consumer.stop()
    return got


async def committed_total(bootstrap: str, group: str, topic: str, want: int, timeout: float) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    total = -1
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            offsets = await admin.list_consumer_group_offsets(group)
            total = sum(m.offset for tp, m in offsets.items() if tp.topic == topic)
            if total >= want:
                break
            await asyncio.sleep(0.25)
        topics = await admin.list_topics()
    finally:
        await admin.close()
    assert f"{APP_ID}-seen-per-key-changelog" in topics, topics
    return total


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_faust_agent_roundtrip(
    kafka_broker: LocalKafkaBroker, new_topic: NewTopic, tmp_path: Path
) -> None:
    src, dst = new_topic("faust-in", partitions=2), new_topic("faust-out", partitions=2)
    asyncio.run(produce(kafka_broker.bootstrap, src))

    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PULSE_TEST_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,
        "PULSE_TEST_FAUST_APP": APP_ID,
        "PULSE_TEST_FAUST_IN": src,
        "PULSE_TEST_FAUST_OUT": dst,
        "PULSE_TEST_FAUST_DATADIR": str(tmp_path / "faust-data"),
    }
    log_path = tmp_path / "faust-worker.log"
    cmd = [sys.executable, "-m", "faust", "-A", "tests.integration.kafka.faust_echo_app"]
    cmd += ["worker", "--without-web", "--loglevel", "info"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        got = asyncio.run(consume(kafka_broker.bootstrap, dst, len(INPUT), timeout=45))
        committed = asyncio.run(
            committed_total(kafka_broker.bootstrap, APP_ID, src, len(INPUT), timeout=15)
        )
        alive = proc.poll() is None
    finally:
        stop_worker(proc)
    worker_log = log_path.read_text(errors="replace")
    assert alive, f"the Faust worker died:\n{worker_log[-4000:]}"
    by_key: dict[bytes, list[bytes]] = {}
    for key, value in got:
        by_key.setdefault(key, []).append(value)
    assert by_key == EXPECTED, f"output {got}; worker log tail:\n{worker_log[-4000:]}"
    assert committed == len(INPUT), worker_log[-4000:]
    for marker in ("UnsupportedVersion", "Traceback", "[ERROR]"):
        assert marker not in worker_log, worker_log[-4000:]
    assert broker_protocol_errors(kafka_broker) == []
