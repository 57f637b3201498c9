"""End-to-end latency of the streaming run: produce -> Kafka -> Flink -> Kafka ->
loader -> visible in the warehouse (chdb), at a fixed input rate.

Run:  .venv/bin/python bench/bench_streaming_latency.py [--rate 5000] [--seconds 60]

What is measured, and why. A result of the job is FINAL only once the
watermark (newest event time - 5 min delay - 1 h allowed lateness) has passed
it, so in event time every result waits >= 65 min by contract. The benchmark
therefore makes event time advance faster than wall time (``--speed``, default
600: one wall second = ten event minutes, the 65 min wait = 6.5 s wall) and
measures the pipeline's own delay after that wait:

    latency(click) = visible_at - trigger_at

* ``trigger_at``: wall time when the first record was produced whose event
  time makes the click final: end of the click's UTC minute (the click-flood
  rule counts the whole minute) + 65 min. From then on nothing but the
  pipeline stands between the click and its row.
* ``visible_at``: wall time at which the loader's INSERT of the batch holding
  the click's ``results.attributed_clicks`` record returned (and payouts were
  rebuilt), from the loader journal (``PULSE_LOADER__JOURNAL``): from that
  moment a query sees the row. (An embedded chdb folder can be opened by one
  process only, the loader, so the benchmark cannot poll it itself.)

The input is clean records (views ~92 %, comments ~3 %, clicks ~5 % attributed
to a view of the last few event minutes), produced at ``--rate`` records/s in 10 ms ticks;
one campaign and the creator profiles are produced first. Clicks of the first
``--warmup`` seconds (Flink start, idle detection of the changelogs) and of
the last few seconds (never triggered) are excluded.
Everything runs locally on loopback: a fresh broker, the Flink job
(``jobs/flink_streaming.py``) and the loader (``jobs/faust_loader.py``) as
subprocesses, all stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer
from stack_bench import LOADER_ARGV, click_offsets, start, stop, visible_clicks

from pipelines.connectors.kafka_topics import ensure_topics, pulse_topics
from pipelines.domain.time import MINUTE_MS
from pipelines.local.kafka_broker import LocalKafkaBroker
from pipelines.local.processes import free_port
from pipelines.streaming.monitor import flink_job_state

REPO = Path(__file__).resolve().parents[1]
T0_MS = 1_790_812_800_000  # 2026-10-01T00:00:00Z
FINAL_AFTER_MS = 65 * MINUTE_MS  # watermark delay + allowed lateness (defaults)
# The job's plan holds the watermark back further for clicks: the interval joins
# of attribution (view in [t - 30 min, t]) and of the flood minute delay the
# watermark downstream of them by their bounds, so the 1 ms attribution window
# of a click fires only when the source watermark is past t + 30 min (+ 1 min).
PLAN_HOLDBACK_MS = 30 * MINUTE_MS + MINUTE_MS
CREATORS = 50
USERS = 20_000
VIDEOS = 1_000
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


async def _dimensions(producer: AIOKafkaProducer) -> None:
    for c in range(CREATORS):
        cid = f"cr_{c:04d}"
        await producer.send(
            "clean.creator_profiles",
            _json(
                {
                    "creator_id": cid,
                    "updated_at": T0_MS - 86_400_000,
                    "followers": 50_000,
                    "lifetime_views": 2_000_000,
                    "birth_date": "1990-01-01",
                    "country": "US",
                }
            ),
            key=cid.encode(),
        )
    await producer.send(
        "clean.campaigns",
        _json(
            {
                "campaign_id": "cmp_1",
                "advertiser_id": "adv_1",
                "updated_at": T0_MS - 86_400_000,
                "cpc_micros": 100_000,
                "currency": "USD",
                "starts_at": T0_MS - 86_400_000,
                "ends_at": T0_MS + 365 * 86_400_000,
                "status": "active",
            }
        ),
        key=b"cmp_1",
    )
    await producer.flush()


Triggers = dict[str, tuple[int, int | None]]


async def produce(bootstrap: str, rate: int, seconds: float, speed: float) -> Triggers:
    """Produce at ``rate`` records/s; click_id -> (contract trigger, plan trigger) wall ms."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
    await producer.start()
    rng = random.Random(7)
    clicks: dict[str, int] = {}  # click id -> event time
    produced: list[tuple[int, int]] = []  # (event time, wall ms) per tick
    recent: list[tuple[str, str, int]] = []
    try:
        await _dimensions(producer)
        start = time.monotonic()
        sent = n = 0
        tick = 0.01
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * rate) - sent
            wall_ms = int(time.time() * 1000)
            event_ms = T0_MS + int(elapsed * 1000 * speed)
            for _ in range(max(due, 0)):
                n += 1
                if recent and rng.random() < 0.05:
                    user, video, _view_ms = rng.choice(recent)
                    cid = f"ck_{n}"
                    value = {
                        "event_id": cid,
                        "event_time": event_ms,
                        "user_id": user,
                        "video_id": video,
                        "ad_id": f"ad_{rng.randrange(20)}",
                        "campaign_id": "cmp_1",
                        "user_agent": UA,
                    }
                    clicks[cid] = event_ms
                    await producer.send("clean.ad_clicks", _json(value), key=user.encode())
                elif rng.random() < 0.03:
                    # comments: every event stream must deliver to every partition, or it
                    # holds the watermark (event sources never idle; docs/streaming.md)
                    user = f"u_{rng.randrange(USERS)}"
                    video_n = rng.randrange(VIDEOS)
                    value = {
                        "event_id": f"cm_{n}",
                        "event_time": event_ms,
                        "user_id": user,
                        "video_id": f"v_{video_n}",
                        "creator_id": f"cr_{video_n % CREATORS:04d}",
                        "comment_id": f"cmt_{n}",
                        "text_length": 12,
                        "user_agent": UA,
                    }
                    await producer.send("clean.comments", _json(value), key=user.encode())
                else:
                    user = f"u_{rng.randrange(USERS)}"
                    video_n = rng.randrange(VIDEOS)
                    video = f"v_{video_n}"
                    value = {
                        "event_id": f"vw_{n}",
                        "event_time": event_ms,
                        "user_id": user,
                        "video_id": video,
                        "creator_id": f"cr_{video_n % CREATORS:04d}",
                        "watch_time_ms": 30_000,
                        "country": "US",
                        "user_agent": UA,
                    }
                    recent.append((user, video, event_ms))
                    if len(recent) > 2000:
                        del recent[:1000]
                    await producer.send("clean.views", _json(value), key=user.encode())
            sent += max(due, 0)
            produced.append((event_ms, wall_ms))
            await asyncio.sleep(tick)
        await producer.flush()
    finally:
        await producer.stop()
    print(
        f"produced {sent} records in {seconds:.0f}s ({sent / seconds:.0f}/s), {len(clicks)} clicks"
    )
    # trigger: first tick whose event time reaches minute_end(t) + 65 min
    triggers: Triggers = {}
    times = [e for e, _ in produced]
    for cid, t in clicks.items():
        final_at = t - t % MINUTE_MS + MINUTE_MS + FINAL_AFTER_MS
        i = bisect.bisect_left(times, final_at)
        j = bisect.bisect_left(times, final_at + PLAN_HOLDBACK_MS)
        if i < len(produced):
            triggers[cid] = (produced[i][1], produced[j][1] if j < len(produced) else None)
    return triggers


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rate", type=int, default=5000, help="records/s (default 5000)")
    p.add_argument("--seconds", type=float, default=60.0, help="production time (default 60)")
    p.add_argument("--speed", type=float, default=600.0, help="event ms per wall ms (600)")
    p.add_argument("--warmup", type=float, default=20.0, help="seconds excluded at start")
    p.add_argument(
        "--changelog-idle-timeout", type=float, default=3.0, help="Flink changelog idle timeout"
    )
    args = p.parse_args()

    # SIGTERM/SIGINT end the run through `finally`: every process started here is stopped
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    tmp = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    broker = LocalKafkaBroker(tmp / "kafka", port=None, start_timeout=90.0).start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        asyncio.run(ensure_topics(broker.bootstrap, pulse_topics()))
        rest_port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PULSE_KAFKA__BOOTSTRAP": broker.bootstrap,
            "PULSE_WAREHOUSE": str(tmp / "warehouse"),
            "PULSE_LOADER__DATA_DIR": str(tmp / "loader-data"),
            "PULSE_LOADER__JOURNAL": str(tmp / "journal.jsonl"),
        }
        procs.append(start(LOADER_ARGV, env, tmp / "loader.log"))
        flink_argv = [
            sys.executable, "-m", "jobs.flink_streaming",
            "--checkpoint-dir", str(tmp / "checkpoints"), "--checkpoint-interval", "10",
            "--changelog-idle-timeout", str(args.changelog_idle_timeout),
            "--rest-port", str(rest_port),
        ]  # fmt: skip
        procs.append(start(flink_argv, env, tmp / "flink.log"))
        began = time.monotonic()
        while (state := flink_job_state(rest_port)) is None or state.state != "RUNNING":
            if time.monotonic() - began > 300 or procs[-1].poll() is not None:
                print("the Flink job did not start; see", tmp / "flink.log")
                return 1
            time.sleep(1)
        print(f"flink job running after {time.monotonic() - began:.0f}s; producing")
        produce_start_ms = int(time.time() * 1000)
        triggers = asyncio.run(produce(broker.bootstrap, args.rate, args.seconds, args.speed))
        time.sleep(8)  # let the last triggered clicks arrive
        offsets = asyncio.run(click_offsets(broker.bootstrap, time.monotonic() + 60))
        visible = visible_clicks(tmp / "journal.jsonl", offsets)
        warm_ms = produce_start_ms + int(args.warmup * 1000)
        eligible = {c: t for c, t in triggers.items() if t[0] >= warm_ms and t[1] is not None}
        lost = [c for c in eligible if c not in visible]
        print(
            f"clicks measured: {len(eligible) - len(lost)} visible of {len(eligible)} "
            f"triggered after the {args.warmup:.0f}s warm-up (rate {args.rate}/s, event time "
            f"{args.speed:.0f}x wall time)"
        )
        notes = (
            f"watermark past minute end + 65 min ({FINAL_AFTER_MS / args.speed / 1000:.1f}s wall)",
            f"+ the plan's 31 min interval-join holdback "
            f"({PLAN_HOLDBACK_MS / args.speed / 1000:.1f}s wall at this speed)",
        )
        for index, label in enumerate(("contract", "pipeline")):
            lat = sorted(
                (visible[c] - (t[index] or 0)) / 1000 for c, t in eligible.items() if c in visible
            )
            if not lat:
                print("no click became visible; see", tmp)
                return 1
            q = statistics.quantiles(lat, n=100, method="inclusive")
            print(
                f"  {label:<8} trigger -> visible: p50 {q[49]:.2f}s  p90 {q[89]:.2f}s  "
                f"p99 {q[98]:.2f}s  max {lat[-1]:.2f}s   (trigger: {notes[index]})"
            )
        return 0 if not lost else 1
    finally:
        for proc in reversed(procs):
            stop(proc)
        broker.stop()
        print("logs and data in", tmp)


if __name__ == "__main__":
    sys.exit(main())
