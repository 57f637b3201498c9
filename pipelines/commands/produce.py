"""``pulse produce``: load a JSON Lines or Parquet file into a raw Kafka topic, line by line.

``--input DIR`` loads every stream file of a folder (as ``pulse run`` reads it) into the
five raw topics, interleaved by relative position in their files, as a live feed arrives.
The results do not depend on it (any order of delivery gives the same tables, see
docs/streaming.md); interleaving only lets results appear while the files are produced,
instead of after the slowest stream has been sent.

Every line is one message, bytes as they are (malformed lines too: the ingest rejects them
with their offset). A line that parses as a JSON object with a string id gets the recommended
key (``user_id`` / ``creator_id`` / ``campaign_id``, raw UTF-8 bytes); other lines have no key.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from pipelines.config import load_settings
from pipelines.domain.events import Stream
from pipelines.domain.streams import STREAMS, Topics, spec_of
from pipelines.errors import InputError, PulseError
from pipelines.ingest.sources import find_stream_file, read_records
from pipelines.kafka_clients import aiokafka_options

_ALIASES = {**{s.value: s for s in Stream}, **{spec.stem: spec.stream for spec in STREAMS}}


def _stream(text: str) -> Stream:
    try:
        return _ALIASES[text.strip().lower()]
    except KeyError:
        names = ", ".join(sorted(_ALIASES))
        raise argparse.ArgumentTypeError(f"unknown stream {text!r} (one of: {names})") from None


def raw_topic(stream: Stream, prefix: str = "") -> str:
    return Topics(prefix).raw(stream)


def message_key(stream: Stream, raw: bytes) -> bytes | None:
    """The recommended key of a raw line, or None when it does not parse to one."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    value = obj.get(spec_of(stream).key_field) if isinstance(obj, dict) else None
    return value.encode() if isinstance(value, str) else None


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "produce",
        help="load a JSON Lines / Parquet file into a raw Kafka topic (one message per line)",
        description=(
            "Send every line of --input (bytes as-is, malformed lines included; Parquet rows "
            "as JSON objects) to raw.<stream>, keyed by user_id / creator_id / campaign_id "
            "when the line parses. Prints the number of messages sent."
        ),
    )
    parser.add_argument(
        "--stream",
        type=_stream,
        help="view, comment, ad_click, ... (or plural); required with a FILE",
    )
    parser.add_argument(
        "--input",
        required=True,
        type=Path,
        metavar="FILE|DIR",
        help="one stream file, or a folder of stream files (all five, interleaved)",
    )
    parser.add_argument(
        "--bootstrap", default=None, help="host:port (default: PULSE_KAFKA__BOOTSTRAP / settings)"
    )
    # default: kafka.topic_prefix of the settings (PULSE_KAFKA__TOPIC_PREFIX)
    parser.add_argument("--topic-prefix", default=None, help=argparse.SUPPRESS)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    path: Path = args.input
    kafka = load_settings().kafka
    bootstrap = args.bootstrap or kafka.bootstrap
    prefix = kafka.topic_prefix if args.topic_prefix is None else args.topic_prefix
    if path.is_dir():
        records: Iterable[tuple[str, Stream, bytes]] = interleaved(path, prefix)
    elif path.is_file():
        if args.stream is None:
            raise InputError("--stream is required when --input is a file")
        topic = raw_topic(args.stream, prefix)
        records = ((topic, args.stream, raw) for _line, raw in read_records(path))
    else:
        raise InputError(f"--input {path} is neither a file nor a folder")
    began = time.perf_counter()
    counts = asyncio.run(
        produce_records(
            bootstrap, records, quiet=args.quiet, client_options=aiokafka_options(kafka)
        )
    )
    elapsed = time.perf_counter() - began
    if not args.quiet:
        for topic, count in sorted(counts.items()):
            print(f"produce: {count:,} messages to {topic}", file=sys.stderr)
        print(f"produce: done in {elapsed:.1f}s", file=sys.stderr)
    print(sum(counts.values()))
    return 0


def interleaved(input_dir: Path, prefix: str = "") -> Iterator[tuple[str, Stream, bytes]]:
    """Every line of every stream file, merged by relative position in its file."""
    sources = []
    for stream in Stream:
        path = find_stream_file(input_dir, stream)
        if path is not None:
            total = sum(1 for _ in read_records(path))
            sources.append((stream, path, max(total, 1)))
    if not sources:
        raise InputError(f"{input_dir} holds none of the stream files")

    def positioned(stream: Stream, path: Path, total: int) -> Iterator[tuple[float, int, bytes]]:
        order = list(Stream).index(stream)
        for line, raw in read_records(path):
            yield line / total, order, raw

    streams = {list(Stream).index(stream): stream for stream, _path, _total in sources}
    merged = heapq.merge(*(positioned(*source) for source in sources))
    for _position, order, raw in merged:
        stream = streams[order]
        yield raw_topic(stream, prefix), stream, raw


async def produce_file(
    bootstrap: str, topic: str, stream: Stream, path: Path, *, quiet: bool = True
) -> int:
    """Send every record of ``path`` to ``topic``; returns the number of messages."""
    records = ((topic, stream, raw) for _line, raw in read_records(path))
    counts = await produce_records(bootstrap, records, quiet=quiet)
    return counts.get(topic, 0)


async def produce_records(
    bootstrap: str,
    records: Iterable[tuple[str, Stream, bytes]],
    *,
    quiet: bool = True,
    client_options: Mapping[str, Any] | None = None,
) -> Counter[str]:
    """Send ``(topic, stream, raw)`` records in order; returns messages per topic.
    ``client_options``: security arguments (:func:`pipelines.kafka_clients.aiokafka_options`)."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaConnectionError, KafkaError

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=10,
        max_batch_size=512 * 1024,
        request_timeout_ms=15_000,
        **(client_options or {}),
    )
    try:
        await producer.start()
    except KafkaConnectionError as err:
        await producer.stop()
        raise PulseError(
            f"no Kafka broker at {bootstrap} ({err}): start one with `make up`"
        ) from err
    counts: Counter[str] = Counter()
    topic = ""
    try:
        known = (await producer.client.fetch_all_metadata()).topics()
        pending = []
        last = time.monotonic()
        for topic, stream, raw in records:
            if topic not in known:
                raise PulseError(f"topic {topic} does not exist on {bootstrap}: run `make up`")
            pending.append(await producer.send(topic, raw, key=message_key(stream, raw)))
            counts[topic] += 1
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
                if not quiet and time.monotonic() - last >= 1.0:
                    last = time.monotonic()
                    total = sum(counts.values())
                    print(f"produce: {total:,} messages sent", file=sys.stderr)
        await asyncio.gather(*pending)
    except KafkaError as err:
        raise PulseError(f"sending to {topic} on {bootstrap} failed: {err}") from err
    finally:
        await producer.stop()
    return counts
