"""The ingest's outputs, grouped per (topic, partition) into aiokafka batches, sent together and
acknowledged together (the end offset of each output partition is what crash recovery needs)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from aiokafka.structs import TopicPartition

from pipelines.ingest.step import Output


class OutputBatches:
    """Groups records per (topic, partition) into aiokafka batches; partition of a keyed record
    = murmur2(key) like the Java client, so keys co-partition with other producers."""

    def __init__(self, producer: AIOKafkaProducer, partitions: Mapping[str, int]) -> None:
        self._producer = producer
        self._partitions = partitions
        self._builders: dict[tuple[str, int], Any] = {}
        self._pending: list[tuple[asyncio.Future[Any], str, int, int]] = []
        self._part_cache: dict[tuple[str, bytes], int] = {}

    def partition_of(self, out: Output) -> int:
        """The output's own partition, else its key's."""
        return out.partition if out.partition is not None else self.partition(out.topic, out.key)

    def partition(self, topic: str, key: bytes) -> int:
        cached = self._part_cache.get((topic, key))
        if cached is None:
            cached = (murmur2(key) & 0x7FFFFFFF) % self._partitions[topic]
            if len(self._part_cache) < 1_000_000:
                self._part_cache[(topic, key)] = cached
        return cached

    async def add(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        slot = (topic, partition)
        builder = self._builders.get(slot)
        if builder is None:
            builder = self._builders[slot] = self._producer.create_batch()
        if builder.append(timestamp=None, key=key, value=value, headers=list(headers)) is None:
            await self._submit(slot)
            builder = self._builders[slot] = self._producer.create_batch()
            builder.append(timestamp=None, key=key, value=value, headers=list(headers))

    async def _submit(self, slot: tuple[str, int]) -> None:
        builder = self._builders.pop(slot)
        count = builder.record_count()
        if count:
            fut = await self._producer.send_batch(builder, slot[0], partition=slot[1])
            self._pending.append((fut, slot[0], slot[1], count))

    async def flush(self) -> dict[TopicPartition, int]:
        """Send everything and wait for the acks; returns the end offset per partition."""
        for slot in list(self._builders):
            await self._submit(slot)
        ends: dict[TopicPartition, int] = {}
        pending, self._pending = self._pending, []
        results = await asyncio.gather(*(fut for fut, *_ in pending))
        for meta, (_, topic, partition, count) in zip(results, pending, strict=True):
            tp = TopicPartition(topic, partition)
            ends[tp] = max(ends.get(tp, 0), meta.offset + count)
        return ends
