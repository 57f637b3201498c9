"""A REAL local Kafka broker for the integration tests (never a mock, never skipped).

``kafka_broker`` (session scope) starts one single-node KRaft broker from the jars of
``make setup`` on a random loopback port with its data in a temp folder, and stops it at the
end of the session. Without the jars the tests FAIL with a message saying to run ``make setup``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.connectors.kafka_topics import TopicSpec, ensure_topics
from pipelines.local.kafka_broker import LocalKafkaBroker
from pipelines.local.kafka_command import KafkaJarsMissingError, kafka_jars_dir

#: Broker log lines that would mean a client spoke a protocol version Kafka 4 removed (KIP-896).
PROTOCOL_ERROR_MARKERS = ("UnsupportedVersion", "UNSUPPORTED_VERSION", "InvalidRequestException")

NewTopic = Callable[..., str]


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaBroker]:
    """A started broker on a random free 127.0.0.1 port; ``.bootstrap`` is ``host:port``."""
    try:
        kafka_jars_dir()
    except KafkaJarsMissingError as exc:
        pytest.fail(f"cannot start the Kafka test broker: {exc}", pytrace=False)
    broker = LocalKafkaBroker(tmp_path_factory.mktemp("kafka"), port=None, start_timeout=90.0)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def new_topic(kafka_broker: LocalKafkaBroker) -> NewTopic:
    """``new_topic("name", partitions=1)`` creates a uniquely named topic and returns its name."""
    counter = itertools.count()

    def make(prefix: str, partitions: int = 1) -> str:
        name = f"test.{prefix}.{next(counter)}.{id(counter):x}"
        asyncio.run(ensure_topics(kafka_broker.bootstrap, [TopicSpec(name, partitions, "test")]))
        return name

    return make


def broker_protocol_errors(broker: LocalKafkaBroker) -> list[str]:
    """Lines of the broker log reporting unsupported/invalid client requests."""
    log: Path = broker.log_file
    lines = log.read_text(errors="replace").splitlines()
    return [ln for ln in lines if any(m in ln for m in PROTOCOL_ERROR_MARKERS)]
