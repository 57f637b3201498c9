"""The lag of a consumer group on a clean topic does not count the ingest's watermark markers
(a real broker): Flink commits a quiet partition's newest marker only when the next arrives."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from pipelines.ingest.markers import MARKER_HEADERS, marker_value
from pipelines.local.kafka_broker import LocalKafkaBroker
from pipelines.streaming.monitor import MARKER_TAIL, Stage, stage_lags

from .conftest import NewTopic

pytestmark = pytest.mark.integration

EVENT = b'{"event_id": "e", "event_time": 1}'


async def _fill(bootstrap: str, topic: str, layout: dict[int, str]) -> None:
    """Partition -> its records in order: ``e`` an event, ``m`` a marker."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition, kinds in layout.items():
            for kind in kinds:
                if kind == "e":
                    await producer.send_and_wait(topic, EVENT, partition=partition)
                else:
                    await producer.send_and_wait(
                        topic, marker_value(1), partition=partition, headers=list(MARKER_HEADERS)
                    )
    finally:
        await producer.stop()


async def _commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
    finally:
        await consumer.stop()


def test_markers_after_the_committed_offset_are_not_lag(
    kafka_broker: LocalKafkaBroker, new_topic: NewTopic
) -> None:
    bootstrap = kafka_broker.bootstrap
    marked, plain = new_topic("clean-marked", partitions=4), new_topic("other", partitions=1)
    tail = "m" * MARKER_TAIL
    layout = {
        0: "eeem",  # committed 3: only a marker after it -> caught up
        1: "eemme",  # committed 2: two markers, then an event -> lag from that event: 1
        2: "ee" + tail + "m",  # committed 2: a longer tail is not read -> lag 5
        3: "eeee",  # committed 2: events -> lag 2
    }
    asyncio.run(_fill(bootstrap, marked, layout))
    asyncio.run(_fill(bootstrap, plain, {0: "eem"}))
    group = "marker-lag-test"
    commits = {0: 3, 1: 2, 2: 2, 3: 2}
    offsets = {TopicPartition(marked, p): o for p, o in commits.items()}
    offsets[TopicPartition(plain, 0)] = 2
    asyncio.run(_commit(bootstrap, group, offsets))

    stage = Stage("flink", group, (marked, plain), frozenset({marked}))
    (lag,) = asyncio.run(stage_lags(bootstrap, (stage,), ages=True))
    by_topic = {t.topic: t for t in lag.topics}
    assert by_topic[marked].lag == 0 + 1 + (MARKER_TAIL + 1) + 2
    assert by_topic[marked].end == sum(len(kinds) for kinds in layout.values())
    # a topic that is not marked counts every record, markers included
    assert by_topic[plain].lag == 1
    # without the marked set, every record counts
    unaware = Stage("flink", group, (marked,))
    (raw,) = asyncio.run(stage_lags(bootstrap, (unaware,)))
    assert raw.lag == 1 + 3 + (MARKER_TAIL + 1) + 2
