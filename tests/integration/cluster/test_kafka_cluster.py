"""The local three-node KRaft cluster: real JVMs, real clients, a real kill -9 (no mocks).

One cluster for the module (starting three JVMs is the slow part); the tests run in file order
and the last one stops it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from pipelines.connectors.kafka_topics import TopicSpec, ensure_topics
from pipelines.local.kafka_cluster import LocalKafkaCluster
from pipelines.local.kafka_command import KafkaJarsMissingError, kafka_jars_dir
from pipelines.local.processes import is_zombie, port_open, proc_cmdline

pytestmark = pytest.mark.integration

TOPIC = "test.cluster.durable"
PARTITIONS = 3
BEFORE = 300  # messages produced with all three nodes up
DURING = 300  # messages produced after the leader of partition 0 was killed


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    try:
        kafka_jars_dir()
    except KafkaJarsMissingError as exc:
        pytest.fail(f"cannot start the Kafka test cluster: {exc}", pytrace=False)
    kc = LocalKafkaCluster(tmp_path_factory.mktemp("kafka-cluster"), heap="384m")
    kc.start()
    try:
        yield kc
    finally:
        kc.stop()


# --------------------------------------------------------------------------------------------
# helpers (aiokafka)
# --------------------------------------------------------------------------------------------


async def _partitions(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(described["partitions"], key=lambda p: p["partition"])


def _wait_partitions(
    cluster: LocalKafkaCluster, topic: str, isr: int, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """The partitions of ``topic`` once every one has a leader and ``isr`` in-sync replicas."""
    deadline = time.monotonic() + timeout
    parts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            parts = asyncio.run(_partitions(cluster.bootstrap, topic))
        except Exception:  # a node going away or coming back: ask again
            parts = []
        if len(parts) == PARTITIONS and all(
            p["leader"] >= 0 and len(p["isr"]) == isr for p in parts
        ):
            return parts
        time.sleep(0.5)
    raise AssertionError(f"{topic}: not {isr} in-sync replicas within {timeout:.0f}s: {parts}")


async def _produce(bootstrap: str, topic: str, values: list[str]) -> list[str]:
    """Send ``values`` round-robin over the partitions (acks=all, idempotent); the acked ones."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=30_000,
        retry_backoff_ms=200,
        linger_ms=5,
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, v.encode(), partition=i % PARTITIONS)
            for i, v in enumerate(values)
        ]
        results = await asyncio.gather(*futures, return_exceptions=True)
    finally:
        await producer.stop()
    failed = [(v, r) for v, r in zip(values, results, strict=True) if isinstance(r, BaseException)]
    assert not failed, f"{len(failed)} sends failed, first: {failed[0]}"
    return values


async def _consume_all(bootstrap: str, topic: str, timeout: float = 30.0) -> list[str]:
    """Every record of ``topic`` from the start to the end offsets (no consumer group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        values: list[str] = []
        deadline = time.monotonic() + timeout
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"not everything consumed within {timeout}s"
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                values.extend(r.value.decode() for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return values


# --------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------


def test_three_nodes_run_and_start_is_idempotent(cluster: LocalKafkaCluster) -> None:
    nodes = cluster.nodes()
    assert [n.name for n in nodes] == ["kafka-1", "kafka-2", "kafka-3"]
    assert [n.node_id for n in nodes] == [1, 2, 3]
    assert {n.role for n in nodes} == {"broker,controller"}
    assert {n.state for n in nodes} == {"running"}
    pids = [n.pid for n in nodes]
    assert None not in pids and len(set(pids)) == 3
    ports = [n.port for n in nodes]
    assert len(set(ports + cluster.controller_ports)) == 6
    assert cluster.bootstrap == ",".join(f"127.0.0.1:{p}" for p in ports)
    assert all(port_open("127.0.0.1", p) for p in ports)
    assert cluster.is_running()
    for n in nodes:  # one folder, log and pid file per node
        assert n.log_file == cluster.data_dir / f"node-{n.node_id}" / "server.log"
        assert n.log_file.exists() and cluster.pid_file(n.node_id).read_text().strip() == str(n.pid)
        assert (cluster.data_dir / f"node-{n.node_id}" / "data" / "meta.properties").exists()
    # one shared cluster id, formatted once
    metas = {
        (cluster.data_dir / f"node-{i}" / "data" / "meta.properties").read_text() for i in (1, 2, 3)
    }
    assert all(f"cluster.id={cluster.cluster_id}" in m for m in metas)

    assert cluster.start() is cluster
    assert [n.pid for n in cluster.nodes()] == pids
    # a second handle on the same folder (e.g. another process) finds the ports and the nodes
    again = LocalKafkaCluster(cluster.data_dir).start()
    assert again.bootstrap == cluster.bootstrap
    assert [n.pid for n in again.nodes()] == pids


def test_acked_messages_survive_killing_a_leader(cluster: LocalKafkaCluster) -> None:
    spec = TopicSpec(TOPIC, PARTITIONS, "test")
    report = asyncio.run(ensure_topics(cluster.bootstrap, [spec], replication_factor=3))
    assert report.created == [TOPIC]
    parts = _wait_partitions(cluster, TOPIC, isr=3)
    assert all(sorted(p["replicas"]) == [1, 2, 3] for p in parts)

    acked = asyncio.run(_produce(cluster.bootstrap, TOPIC, [f"a-{i}" for i in range(BEFORE)]))

    leader = int(_wait_partitions(cluster, TOPIC, isr=3)[0]["leader"])
    cluster.kill_node(leader)
    status = {n.node_id: n for n in cluster.nodes()}
    assert status[leader].state == "dead" and status[leader].pid is None
    assert not cluster.is_running()
    assert all(status[n].state == "running" for n in status if n != leader)

    # min.insync.replicas=2: two of three nodes still take acks=all writes
    began = time.monotonic()
    acked += asyncio.run(_produce(cluster.bootstrap, TOPIC, [f"b-{i}" for i in range(DURING)]))
    failover = time.monotonic() - began
    assert failover < 45, f"producing through the failover took {failover:.1f}s"

    # the new leader of partition 0 is another node
    parts = _wait_partitions(cluster, TOPIC, isr=2)
    assert parts[0]["leader"] != leader
    assert all(leader not in p["isr"] for p in parts)

    consumed = asyncio.run(_consume_all(cluster.bootstrap, TOPIC))
    counts = Counter(consumed)
    assert [v for v, c in counts.items() if c > 1] == []  # nothing doubled
    assert set(acked) - set(counts) == set()  # nothing acknowledged lost
    assert len(consumed) == BEFORE + DURING

    cluster.start_node(leader)
    assert cluster.is_running()
    _wait_partitions(cluster, TOPIC, isr=3)  # the restarted node caught up and rejoined


def test_stop_leaves_no_process(cluster: LocalKafkaCluster) -> None:
    pids = [n.pid for n in cluster.nodes()]
    assert None not in pids
    assert cluster.stop() is True
    for pid in pids:
        assert pid is not None
        assert proc_cmdline(pid) is None or is_zombie(pid), f"pid {pid} is still alive"
    # nothing at all runs from the cluster's folder
    marker = str(cluster.data_dir)
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            cmd = proc_cmdline(int(proc.name)) or []
            assert not any(marker in part for part in cmd), f"left behind: {cmd}"
    assert {n.state for n in cluster.nodes()} == {"stopped"}
    assert not any(port_open("127.0.0.1", p) for p in cluster.ports)
    assert cluster.stop() is False
