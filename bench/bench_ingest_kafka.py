"""Throughput of ONE streaming-ingest worker (``jobs/faust_ingest.py``) on a local broker.

Starts a Kafka broker on a random loopback port (temp folder), creates the pulse topics under a
``bench.`` prefix, produces N generated view lines into ``bench.raw.views`` (keyed by user_id),
runs Kafka's own ProducerPerformance as a baseline, then starts one ingest worker and measures
sustained events/s from its first clean message to the last (all N in ``bench.clean.views``).

    .venv/bin/python bench/bench_ingest_kafka.py [--events 300000] [--partitions 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines.commands.produce import produce_file  # noqa: E402
from pipelines.connectors.kafka_topics import TopicSpec, ensure_topics, pulse_topics  # noqa: E402
from pipelines.domain.events import Stream  # noqa: E402
from pipelines.local.kafka_broker import LocalKafkaBroker  # noqa: E402
from pipelines.local.kafka_command import kafka_java_command  # noqa: E402

PREFIX = "bench."


def write_views(path: Path, n: int, start_ms: int) -> None:
    """N valid, distinct, time-ordered view lines (10 ms apart, 20k users, 2k creators)."""
    with path.open("wb") as out:
        for i in range(n):
            out.write(
                orjson.dumps(
                    {
                        "event_id": f"v{i:09d}",
                        "event_time": start_ms + 10 * i,
                        "user_id": f"u{(i * 7919) % 20_000}",
                        "video_id": f"vid{i % 5_000}",
                        "creator_id": f"c{i % 2_000}",
                        "watch_time_ms": 1_000 + i % 60_000,
                        "country": ("US", "GB", "DE", "FR")[i % 4],
                        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
                    }
                )
            )
            out.write(b"\n")


def producer_perf(broker: LocalKafkaBroker, records: int) -> str:
    cmd = kafka_java_command(
        "org.apache.kafka.tools.ProducerPerformance",
        [
            "--bootstrap-server",
            broker.bootstrap,
            "--topic",
            f"{PREFIX}perf",
            "--num-records",
            str(records),
            "--record-size",
            "220",
            "--throughput",
            "-1",
            "--command-property",
            "acks=all",
        ],
        heap="1g",
    )
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    lines = [ln for ln in res.stdout.splitlines() if "records sent" in ln]
    return lines[-1] if lines else f"(failed: {res.stderr[-500:]})"


async def clean_count(bootstrap: str, topic: str, partitions: int) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        await consumer.stop()
    return int(sum(ends.values()))


async def watch(bootstrap: str, topic: str, partitions: int, n: int, timeout: float) -> tuple:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    first = last = None
    count = 0
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            count = int(sum((await consumer.end_offsets(tps)).values()))
            now = time.monotonic()
            if count and first is None:
                first = (now, count)
            if count >= n:
                last = now
                break
            await asyncio.sleep(0.02)
    finally:
        await consumer.stop()
    return first, last, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--max-batch", type=int, default=20_000)
    args = parser.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory(prefix="pulse-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        broker = LocalKafkaBroker(tmp / "kafka", port=None, heap="1g")
        broker.start()
        worker = None
        try:
            bs = broker.bootstrap
            specs = [
                TopicSpec(PREFIX + s.name, s.partitions, s.key, s.config)
                for s in pulse_topics(args.partitions)
            ] + [TopicSpec(f"{PREFIX}perf", args.partitions, "none")]
            asyncio.run(ensure_topics(bs, specs))
            print(f"broker: Kafka on {bs} (started in {broker.start_seconds:.1f}s)")
            lines = tmp / "views.jsonl"
            write_views(lines, n, start_ms=int(time.time() * 1000) - 86_400_000)
            began = time.perf_counter()
            asyncio.run(produce_file(bs, f"{PREFIX}raw.views", Stream.VIEW, lines))
            produced_s = time.perf_counter() - began
            print(f"produce: {n:,} view lines via aiokafka in {produced_s:.1f}s")
            print(f"baseline ProducerPerformance ({n:,} x 220 B, acks=all): ", end="", flush=True)
            print(producer_perf(broker, n))

            env = {
                **os.environ,
                "PYTHONPATH": str(REPO),
                "PULSE_KAFKA__BOOTSTRAP": bs,
                "PULSE_INGEST__GROUP": "bench-ingest",
                "PULSE_KAFKA__TOPIC_PREFIX": PREFIX,
                "PULSE_INGEST__MAX_BATCH": str(args.max_batch),
                "PULSE_INGEST__DATA_DIR": str(tmp / "faust"),
            }
            log = (tmp / "worker.log").open("wb")
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jobs.faust_ingest",
                    "worker",
                    "--without-web",
                    "-l",
                    "info",
                ],
                cwd=tmp,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            started = time.monotonic()
            first, last, count = asyncio.run(
                watch(bs, f"{PREFIX}clean.views", args.partitions, n, timeout=600)
            )
            if first is None or last is None:
                text = (tmp / "worker.log").read_text(errors="replace")
                print(f"FAILED: {count:,}/{n:,} clean messages; worker log tail:\n{text[-3000:]}")
                return 1
            elapsed = last - first[0]
            rate = (n - first[1]) / elapsed if elapsed > 0 else float("inf")
            print(
                f"ingest: 1 worker, {n:,} events -> {count:,} clean in {elapsed:.2f}s "
                f"after the first clean message ({first[0] - started:.1f}s worker start-up): "
                f"{rate:,.0f} events/s sustained (target >= 30,000)"
            )
            text = (tmp / "worker.log").read_text(errors="replace")
            prepared = re.findall(r"prepared .*", text)
            if prepared:
                print(f"worker: {prepared[0]}")
        finally:
            if worker is not None and worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
