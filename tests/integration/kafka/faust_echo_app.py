"""A minimal Faust app for the round-trip test (run as ``faust -A ... worker``).

An agent reads ``PULSE_TEST_FAUST_IN``, counts events per key in a memory-backed table
(which makes Faust create and write a changelog topic too) and sends
``VALUE.upper()|count`` with the same key to ``PULSE_TEST_FAUST_OUT``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import faust

app = faust.App(
    os.environ.get("PULSE_TEST_FAUST_APP", "pulse-test-faust"),
    broker=f"kafka://{os.environ['PULSE_TEST_KAFKA_BOOTSTRAP']}",
    store="memory://",
    datadir=os.environ.get("PULSE_TEST_FAUST_DATADIR", "faust-data"),
    web_enabled=False,
    topic_partitions=int(os.environ.get("PULSE_TEST_FAUST_PARTITIONS", "2")),
    topic_replication_factor=1,
    broker_commit_interval=0.5,
    consumer_auto_offset_reset="earliest",
)
source = app.topic(
    os.environ["PULSE_TEST_FAUST_IN"],
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)
sink = app.topic(
    os.environ["PULSE_TEST_FAUST_OUT"],
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)
seen = app.Table("seen-per-key", default=int)


async def _echo(stream: Any) -> AsyncIterator[None]:
    async for event in stream.events():
        seen[event.key] += 1
        await sink.send(key=event.key, value=event.value.upper() + b"|%d" % seen[event.key])
        yield None


echo = app.agent(source, name="echo")(_echo)
