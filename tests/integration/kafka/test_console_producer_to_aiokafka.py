"""Kafka's own console producer writes; aiokafka 0.14 (the client under Faust) reads them
with a consumer group and commits offsets against the Kafka 4 broker (KIP-896 removed old
protocol versions: this is the compatibility evidence)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from pipelines.local.kafka_broker import LocalKafkaBroker
from pipelines.local.kafka_command import kafka_java_command

from .conftest import NewTopic, broker_protocol_errors

pytestmark = pytest.mark.integration

EVENTS = [
    {"event_id": f"v{i}", "user_id": f"u{i % 2}", "video_id": "vid1", "watch_time_ms": 1000 * i}
    for i in range(6)
]


def console_produce(broker: LocalKafkaBroker, topic: str, lines: list[str]) -> None:
    cmd = kafka_java_command(
        "org.apache.kafka.tools.ConsoleProducer",
        [
            "--bootstrap-server",
            broker.bootstrap,
            "--topic",
            topic,
            "--reader-property",
            "parse.key=true",
            "--reader-property",
            "key.separator=|",
            "--producer-property",
            "acks=all",
        ],
        short_lived=True,
    )
    res = subprocess.run(
        cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60, check=False
    )
    assert res.returncode == 0, f"console producer failed:\n{res.stdout}\n{res.stderr}"


async def consume_and_commit(
    bootstrap: str, topic: str, group: str, n: int
) -> tuple[list[tuple[bytes | None, bytes | None, int]], dict[TopicPartition, int | None]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        got: list[tuple[bytes | None, bytes | None, int]] = []
        deadline = time.monotonic() + 30
        while len(got) < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                got += [(r.key, r.value, r.partition) for r in records]
        await consumer.commit()
        committed = {tp: await consumer.committed(tp) for tp in consumer.assignment()}
    finally:
        await consumer.stop()
    return got, committed


async def group_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}


def test_console_producer_to_aiokafka_group(
    kafka_broker: LocalKafkaBroker, new_topic: NewTopic
) -> None:
    topic = new_topic("console", partitions=2)
    lines = [f"{e['user_id']}|{json.dumps(e, separators=(',', ':'))}" for e in EVENTS]
    console_produce(kafka_broker, topic, lines)

    got, committed = asyncio.run(
        consume_and_commit(kafka_broker.bootstrap, topic, "pulse-test-console", len(EVENTS))
    )

    assert sorted(json.loads(v or b"")["event_id"] for _, v, _ in got) == [
        e["event_id"] for e in EVENTS
    ]
    for key, value, _ in got:  # keyed by user_id, as the console producer parsed it
        assert key is not None and json.loads(value or b"")["user_id"] == key.decode()
    # one key -> one partition (the default partitioner hashes the key)
    by_key: dict[bytes | None, set[int]] = {}
    for key, _, part in got:
        by_key.setdefault(key, set()).add(part)
    assert all(len(parts) == 1 for parts in by_key.values())
    # committed offsets are the log-end offsets, seen by the consumer and by the admin API
    assert sum(o or 0 for o in committed.values()) == len(EVENTS)
    offsets = asyncio.run(group_offsets(kafka_broker.bootstrap, "pulse-test-console"))
    assert sum(offsets.values()) == len(EVENTS)
    assert broker_protocol_errors(kafka_broker) == []
