"""The test data set: generated raw files -> bounded ingest -> clean records for Kafka.

The streaming test writes the CLEAN topics directly (the ingest has its own
tests): the clean records are exactly what the bounded run's ingest writes
(same validator, replay and late rules, same reference clock), and the
rejected / late rows are turned into the ingest's dead-letter and late-event
JSON contract.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from pipelines.config import Settings
from pipelines.domain.events import Stream
from pipelines.domain.streams import spec_of
from pipelines.generate.api import generate
from pipelines.ingest.files import ingest_folder

EVENT_STREAMS = (Stream.VIEW, Stream.COMMENT, Stream.AD_CLICK)
Message = tuple[str, bytes | None, bytes]  # topic, key, value


@dataclass
class DataSet:
    raw_dir: Path
    reference_ms: int
    clean: dict[Stream, list[bytes]] = field(default_factory=dict)
    dead_letters: list[bytes] = field(default_factory=list)
    late_events: list[bytes] = field(default_factory=list)

    def max_event_ms(self, stream: Stream) -> int:
        return max(int(json.loads(line)["event_time"]) for line in self.clean[stream])

    def final_watermark_cutoff(self, settings: Settings, partitions: int = 2) -> int:
        """What the final watermark closes when the clean records are produced keyed (Kafka's
        murmur2 partitioner) into ``partitions`` partitions: Flink's watermark is per clean
        partition, so it is the newest event of the slowest partition of the slowest event
        stream, less the watermark delay and the allowed lateness."""
        newest: dict[tuple[Stream, int], int] = {}
        for stream in EVENT_STREAMS:
            key_field = spec_of(stream).key_field
            for line in self.clean[stream]:
                event = json.loads(line)
                part = (murmur2(event[key_field].encode()) & 0x7FFFFFFF) % partitions
                slot = (stream, part)
                newest[slot] = max(newest.get(slot, event["event_time"]), event["event_time"])
        slowest = min(newest.values())
        return slowest - (settings.watermark_delay_ms + settings.allowed_lateness_ms)

    def messages(self, split: float = 1.0) -> tuple[list[Message], list[Message]]:
        """Changelogs, dead letters and late events, then each event stream in its
        arrival order, interleaved; cut after ``split`` of the events."""
        out: list[Message] = []
        for stream in (Stream.CREATOR_PROFILE, Stream.CAMPAIGN):
            out += _keyed(stream, self.clean[stream])
        # interleave by relative position: each stream keeps its arrival order
        ranked: list[tuple[float, int, Message]] = []
        for rank, stream in enumerate(EVENT_STREAMS):
            queue = _keyed(stream, self.clean[stream])
            ranked += [(i / len(queue), rank, m) for i, m in enumerate(queue)]
        out += [("deadletter.rejected", None, value) for value in self.dead_letters]
        out += [("results.late_events", None, value) for value in self.late_events]
        events = [m for _, _, m in sorted(ranked, key=lambda item: item[:2])]
        cut = int(len(events) * split)
        return out + events[:cut], events[cut:]


def _keyed(stream: Stream, lines: Sequence[bytes]) -> list[Message]:
    topic, key_field = spec_of(stream).clean_topic, spec_of(stream).key_field
    return [(topic, str(json.loads(line)[key_field]).encode(), line) for line in lines]


def build(tmp: Path, settings: Settings, creators: int, days: int, seed: int) -> DataSet:
    raw_dir = tmp / "raw"
    generate(raw_dir, creators=creators, days=days, seed=seed)
    reference_ms = 1_790_812_800_000 + days * 86_400_000  # generator start 2026-10-01 + days
    results = ingest_folder(raw_dir, tmp / "clean", settings, reference_ms)
    data = DataSet(raw_dir, reference_ms)
    for stream in Stream:
        part = tmp / "clean" / stream.value / "part-0.jsonl"
        data.clean[stream] = [line for line in part.read_bytes().splitlines() if line]
    for result in results:
        for r in result.rejected_rows:
            data.dead_letters.append(
                _json(
                    {
                        "stream": r.stream,
                        "source": f"{spec_of(r.stream).raw_topic}/0",
                        "offset": r.line - 1,
                        "reason": r.reason,
                        "detail": r.detail,
                        "raw_b64": base64.b64encode(r.raw).decode(),
                        "raw": r.raw.decode("utf-8", "replace"),
                    }
                )
            )
        for late in result.late_rows:
            data.late_events.append(
                _json(
                    {
                        "stream": late.stream,
                        "event_id": late.event_id,
                        "event_time": late.event_time_ms,
                        "watermark": late.watermark_ms,
                        "raw_b64": base64.b64encode(late.raw).decode(),
                        "raw": late.raw.decode("utf-8", "replace"),
                        "reason": "beyond_allowed_lateness",
                    }
                )
            )
    return data


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


async def _produce(bootstrap: str, messages: Iterable[Message]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def produce(bootstrap: str, messages: Iterable[Message]) -> None:
    asyncio.run(_produce(bootstrap, messages))
