"""Reading Kafka partitions between two offsets (changelog restore, output scans) and the
offset-commit metadata of the ingest (the output marks)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from pipelines.ingest.step import KEY_HEADER, SRC_HEADER, TIME_HEADER, Outcome, parse_src


async def read_ranges(
    reader: AIOKafkaConsumer, ranges: Mapping[TopicPartition, int]
) -> list[tuple[TopicPartition, Any]]:
    """All records of ``tp`` from offset ``ranges[tp]`` to the current end."""
    if not ranges:
        return []
    out: list[tuple[TopicPartition, Any]] = []
    try:
        tps = list(ranges)
        reader.assign(tps)
        ends = await reader.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > ranges[tp]}
        for tp in tps:
            reader.seek(tp, ranges[tp])
        while todo:
            batch = await reader.getmany(*todo, timeout_ms=1000)
            for tp, recs in batch.items():
                out.extend((tp, r) for r in recs if r.offset < ends[tp])
                if recs and recs[-1].offset + 1 >= ends[tp]:
                    todo.discard(tp)
            for tp in list(todo):  # compacted / deleted tails
                if await reader.position(tp) >= ends[tp]:
                    todo.discard(tp)
    finally:
        reader.assign([])
    return out


def decode_marks(metadata: str | None) -> dict[str, int]:
    if not metadata:
        return {}
    try:
        marks = orjson.loads(metadata)
    except orjson.JSONDecodeError:
        return {}
    return {str(k): int(v) for k, v in marks.items()} if isinstance(marks, dict) else {}


#: raw offset -> (outcome, event key, event time) of the outputs already in Kafka
Emitted = dict[int, tuple[Outcome, str, int]]


async def scan_outputs(
    reader: AIOKafkaConsumer,
    scan_from: Mapping[TopicPartition, int],
    starts: Mapping[TopicPartition, int],
    clean_topic: str,
    late_topic: str,
) -> dict[TopicPartition, Emitted]:
    """The outputs (from ``scan_from``) whose ``pulse-src`` header names a raw partition of
    ``starts`` at or after its start offset: what a crashed batch already produced."""
    found: dict[TopicPartition, Emitted] = defaultdict(dict)
    for out_tp, rec in await read_ranges(reader, scan_from):
        headers = dict(rec.headers or ())
        src = headers.get(SRC_HEADER)
        if src is None:
            continue
        topic, partition, offset = parse_src(src)
        raw_tp = TopicPartition(topic, partition)
        if raw_tp not in starts or offset < starts[raw_tp]:
            continue
        if out_tp.topic == clean_topic:
            outcome = Outcome.CLEAN
        elif out_tp.topic == late_topic:
            outcome = Outcome.LATE
        else:
            outcome = Outcome.REJECTED
        key = headers.get(KEY_HEADER, b"").decode()
        when = int(headers.get(TIME_HEADER, b"0"))
        found[raw_tp][offset] = (outcome, key, when)
    return found
