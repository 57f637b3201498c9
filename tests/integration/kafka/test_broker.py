"""The local broker starts, is idempotent to start/stop, and hosts the pulse topics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from pipelines.connectors.kafka_topics import ensure_topics, pulse_topics
from pipelines.local.kafka_broker import LocalKafkaBroker
from pipelines.local.kafka_command import KAFKA_VERSION, KafkaJarsMissingError
from pipelines.local.processes import port_open

pytestmark = pytest.mark.integration


def test_session_broker_accepts_connections(kafka_broker: LocalKafkaBroker) -> None:
    host, _, port = kafka_broker.bootstrap.rpartition(":")
    assert host == "127.0.0.1"
    assert port_open(host, int(port))
    assert kafka_broker.is_ready()
    # the broker runs the version pinned in infra/pom.xml (metadata.version <major.minor>-IVn)
    major_minor = ".".join(KAFKA_VERSION.split(".")[:2])
    assert f"metadata.version {major_minor}-IV" in kafka_broker.log_file.read_text()


def test_pulse_topics_are_created_idempotently(kafka_broker: LocalKafkaBroker) -> None:
    specs = pulse_topics(2, results_partitions=1)
    first = asyncio.run(ensure_topics(kafka_broker.bootstrap, specs))
    second = asyncio.run(ensure_topics(kafka_broker.bootstrap, specs))
    assert sorted(first.created + first.existing) == sorted(s.name for s in specs)
    assert second.created == [] and sorted(second.existing) == sorted(s.name for s in specs)
    assert second.mismatched == {}
    assert {s.name: s.partitions for s in specs if s.name.startswith("clean.")} == {
        "clean.views": 2,
        "clean.comments": 2,
        "clean.ad_clicks": 2,
        "clean.creator_profiles": 2,
        "clean.campaigns": 2,
    }
    # asking for other partition counts never silently changes existing topics
    third = asyncio.run(ensure_topics(kafka_broker.bootstrap, pulse_topics(3)))
    assert third.created == [] and third.mismatched["raw.views"] == (2, 3)


async def _produce_with_timestamps(bootstrap: str, topic: str, stamps: list[int]) -> list[int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        types = []
        for ts in stamps:
            md = await producer.send_and_wait(topic, b"{}", key=b"u1", timestamp_ms=ts)
            types.append(md.timestamp_type)
    finally:
        await producer.stop()
    return types


def test_pulse_topics_accept_any_event_time(kafka_broker: LocalKafkaBroker) -> None:
    """LogAppendTime: far-future and years-old producer timestamps are both accepted (the
    pipeline, not the broker, rejects bad event times) and replaced by the arrival time."""
    asyncio.run(ensure_topics(kafka_broker.bootstrap, pulse_topics()))
    now = int(time.time() * 1000)
    stamps = [now + 3 * 24 * 3600 * 1000, now - 400 * 24 * 3600 * 1000]
    types = asyncio.run(_produce_with_timestamps(kafka_broker.bootstrap, "raw.views", stamps))
    assert types == [1, 1]  # 1 = LogAppendTime


def test_start_and_stop_are_safe_to_repeat(tmp_path: Path) -> None:
    broker = LocalKafkaBroker(tmp_path / "kafka", start_timeout=90.0)
    try:
        broker.start()
        pid = broker.pid()
        assert pid is not None and broker.is_ready()
        again = LocalKafkaBroker(tmp_path / "kafka")  # e.g. a second `make up`
        again.start()
        assert again.pid() == pid and again.bootstrap == broker.bootstrap
    finally:
        assert broker.stop() is True
    assert broker.stop() is False
    assert not broker.is_running() and not broker.pid_file.exists()
    assert not port_open("127.0.0.1", broker.port)


def test_missing_jars_fail_with_make_setup_hint(tmp_path: Path) -> None:
    broker = LocalKafkaBroker(tmp_path / "kafka", jars_dir=tmp_path / "no-jars")
    with pytest.raises(KafkaJarsMissingError, match="make setup"):
        broker.start()
    assert not broker.is_running()


def test_cluster_ids_never_start_with_a_dash() -> None:
    from pipelines.local.kafka_command import new_cluster_id

    ids = [new_cluster_id() for _ in range(5000)]
    assert not any(cluster_id.startswith("-") for cluster_id in ids)
    assert all(len(cluster_id) == 22 for cluster_id in ids)
    assert len(set(ids)) == len(ids)
