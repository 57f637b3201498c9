"""Sustained load: the highest constant raw input rate the whole local stack holds.

Run:  .venv/bin/python bench/bench_sustained_load.py [--rates 2000,5000,10000,20000,30000]
          [--seconds 300] [--speed 600] [--partitions 2] [--warmup 30] [--all]
      .venv/bin/python bench/bench_sustained_load.py --drain 300000 [--stacks single,cluster]
          [--checkpoint-s 2] [--drain-timeout 900]

One local stack on loopback -- a Kafka broker, the streaming ingest (``jobs/faust_ingest.py``,
one worker), the Flink job (``jobs/flink_streaming.py``, mini-cluster) and the loader
(``jobs/faust_loader.py``) into an embedded chdb folder -- takes raw JSON events (views 90 %,
comments 5 %, ad clicks 5 %, keyed by user like ``pulse produce``) into the raw topics at each
rate of ``--rates`` in turn, ``--seconds`` each, without a pause between steps. It stops after
the first rate that does not hold (unless ``--all``).

A rate HOLDS when, over its step after ``--warmup`` seconds:

* p99 latency <= 5 s, where latency(click) = visible_at - trigger_at, as in
  ``bench/bench_streaming_latency.py``: ``trigger_at`` is the wall time at which the first
  record was produced whose event time makes the click final by the contract (end of the
  click's UTC minute + watermark delay 5 min + allowed lateness 1 h); ``visible_at`` is the
  wall time at which the loader's insert of the click's row returned (loader journal). Event
  time runs ``--speed`` times faster than wall time (600: the 65 min wait is 6.5 s of wall
  time; the plan's own 31 min click hold-back, 3.1 s, is inside the measured latency);
  The table also gives the p99 on the job's own clock ("job"): from the moment the watermark
  has also passed the plan's click hold-back (31 min of event time, see
  ``pipelines.flink.statements.click_holdback_ms``), i.e. what the jobs add after that wait;
* the backlog does not grow: the summed consumer lag of the three stages (ingest, Flink,
  loader), read every 5 s, has a least-squares slope below 1 % of the rate.

Prints one row per rate (rate produced, p50/p99/max latency, lag slope and last lag, the
stage with the largest lag = the bottleneck, CPU seconds of each process), and the baseline
measured in the same run: Kafka alone (the same producer into the raw topics, no job
consuming), i.e. what this producer and broker can do on this machine.

**Drain mode** (``--drain N [--stacks single,cluster]``): the sustained rate of each STACK as a
user starts it, on the same input in one run. For each stack in turn (``pulse up --partitions 3``:
one broker, one ingest worker, the job on its mini-cluster at parallelism 1; ``pulse up
--cluster``: three Kafka nodes with RF 3 / min ISR 2, a JobManager and two TaskManagers, the job
at parallelism 2, two ingest workers; both with 3 partitions per raw and clean topic, the loader
and chdb, every other setting at its default but ``--checkpoint-s``): once the job runs, the same
``N`` generated raw events (the generator above, seed 7; event time 120 ms apart, as at 5,000/s
and ``--speed`` 600) are produced as fast as one ``acks=all`` producer goes, and the summed lag of
the ingest, Flink and loader groups is read every second. **Drain rate** = N / (seconds from the
first produced event until the first reading, after the producer finished, in which all three
lags are zero). A stack that drains at R events/s holds any steady rate below R (backlog
drained = the input rate it can follow); it is the throughput half of the sustained-load
question, without the latency half. Also printed: when each stage drained, and the CPU seconds
of the stack's processes during the drain (a stage has drained when it and every stage before it
read zero). ``pulse down`` after each stack.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stack_bench import (  # noqa: E402
    INGEST_ARGV,
    LOADER_ARGV,
    click_offsets,
    cpu_seconds,
    pulse,
    stack_env,
    stack_pids,
    start,
    stop,
    visible_clicks,
)

from pipelines.config import load_settings  # noqa: E402
from pipelines.connectors.kafka_topics import ensure_topics, pulse_topics  # noqa: E402
from pipelines.domain.time import MINUTE_MS  # noqa: E402
from pipelines.flink.statements import click_holdback_ms  # noqa: E402
from pipelines.local import cluster_stack  # noqa: E402
from pipelines.local.kafka_broker import LocalKafkaBroker  # noqa: E402
from pipelines.local.processes import free_port  # noqa: E402
from pipelines.streaming.monitor import flink_job_state, stage_lags, stages  # noqa: E402
from pipelines.streaming.output_batches import OutputBatches  # noqa: E402

FINAL_AFTER_MS = 65 * MINUTE_MS  # watermark delay + allowed lateness (defaults)
P99_LIMIT_S = 5.0
CREATORS, USERS, VIDEOS = 50, 20_000, 1_000
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"
LAG_EVERY_S = 5.0


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    )


@dataclass
class Step:
    rate: int
    began_wall_ms: int = 0
    ended_wall_ms: int = 0
    produced: int = 0
    lags: list[tuple[float, int, dict[str, int]]] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)


@dataclass
class Production:
    ticks: list[tuple[int, int]] = field(default_factory=list)  # (event ms, wall ms)
    clicks: dict[str, int] = field(default_factory=dict)  # click id -> event ms
    steps: list[Step] = field(default_factory=list)


class Generator:
    """Raw JSON events, pre-templated: views 90 %, comments 5 %, clicks 5 % (of a recent view)."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.n = 0
        self.recent: list[tuple[str, str]] = []

    def event(self, when: str, event_ms: int, prod: Production) -> tuple[str, bytes, bytes]:
        self.n += 1
        n, rng = self.n, self.rng
        roll = rng.random()
        if roll < 0.05 and self.recent:
            user, video = rng.choice(self.recent)
            cid = f"ck_{n}"
            prod.clicks[cid] = event_ms
            value = (
                f'{{"event_id":"{cid}","event_time":"{when}","user_id":"{user}",'
                f'"video_id":"{video}","ad_id":"ad_{n % 20}","campaign_id":"cmp_1",'
                f'"user_agent":"{UA}"}}'
            )
            return "raw.ad_clicks", user.encode(), value.encode()
        user = f"u_{rng.randrange(USERS)}"
        v = rng.randrange(VIDEOS)
        video, creator = f"v_{v}", f"cr_{v % CREATORS:04d}"
        if roll < 0.10:
            value = (
                f'{{"event_id":"cm_{n}","event_time":"{when}","user_id":"{user}",'
                f'"video_id":"{video}","creator_id":"{creator}","comment_id":"cmt_{n}",'
                f'"text_length":12,"user_agent":"{UA}"}}'
            )
            return "raw.comments", user.encode(), value.encode()
        self.recent.append((user, video))
        if len(self.recent) > 2000:
            del self.recent[:1000]
        value = (
            f'{{"event_id":"vw_{n}","event_time":"{when}","user_id":"{user}",'
            f'"video_id":"{video}","creator_id":"{creator}","watch_time_ms":30000,'
            f'"country":"US","user_agent":"{UA}"}}'
        )
        return "raw.views", user.encode(), value.encode()


async def _dimensions(producer: AIOKafkaProducer, t0_ms: int) -> None:
    day = 86_400_000
    for c in range(CREATORS):
        cid = f"cr_{c:04d}"
        profile = {
            "creator_id": cid,
            "updated_at": _iso(t0_ms - day),
            "followers": 50_000,
            "lifetime_views": 2_000_000,
            "birth_date": "1990-01-01",
            "country": "US",
        }
        await producer.send("raw.creator_profiles", json.dumps(profile).encode(), key=cid.encode())
    campaign = {
        "campaign_id": "cmp_1",
        "advertiser_id": "adv_1",
        "updated_at": _iso(t0_ms - day),
        "cpc_micros": 100_000,
        "currency": "USD",
        "starts_at": _iso(t0_ms - day),
        "ends_at": _iso(t0_ms + 365 * day),
        "status": "active",
    }
    await producer.send("raw.campaigns", json.dumps(campaign).encode(), key=b"cmp_1")
    await producer.flush()


async def produce(
    bootstrap: str,
    partitions: int,
    rates: list[int],
    seconds: float,
    speed: float,
    t0_ms: int,
    sample_lags: bool,
    holds: Callable[[Step], bool] | None = None,
) -> Production:
    """Each rate for ``seconds`` (10 ms ticks), event time ``speed`` x wall time from t0."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
    await producer.start()
    prod, gen = Production(), Generator()
    parts = {t: partitions for t in ("raw.views", "raw.comments", "raw.ad_clicks")}
    settings = load_settings(kafka={"bootstrap": bootstrap})
    watched = stages(settings)
    try:
        await _dimensions(producer, t0_ms)
        start = time.monotonic()
        offset_s = 0.0
        for rate in rates:
            step = Step(rate, began_wall_ms=int(time.time() * 1000))
            prod.steps.append(step)
            step_start = time.monotonic()
            next_lag = step_start
            lag_task: asyncio.Task[None] | None = None
            while (elapsed := time.monotonic() - step_start) < seconds:
                # at most 100 ms (and 20,000 events) per tick: the clock is checked between
                due = min(int(elapsed * rate) - step.produced, max(rate // 10, 1), 20_000)
                wall_ms = int(time.time() * 1000)
                event_ms = t0_ms + int((offset_s + elapsed) * 1000 * speed)
                when = _iso(event_ms)
                batches = OutputBatches(producer, parts)
                for _ in range(max(due, 0)):
                    topic, key, value = gen.event(when, event_ms, prod)
                    await batches.add(topic, batches.partition(topic, key), key, value)
                await batches.flush()
                step.produced += max(due, 0)
                prod.ticks.append((event_ms, wall_ms))
                if (
                    sample_lags
                    and time.monotonic() >= next_lag
                    and (lag_task is None or lag_task.done())
                ):
                    next_lag += LAG_EVERY_S
                    lag_task = asyncio.create_task(_sample_lag(bootstrap, watched, step, start))
                await asyncio.sleep(0.01)
            if lag_task is not None:
                await lag_task
            offset_s += seconds
            step.ended_wall_ms = int(time.time() * 1000)
            if holds is not None and not holds(step):
                break
        await producer.flush()
    finally:
        await producer.stop()
    return prod


async def _sample_lag(bootstrap: str, watched: Any, step: Step, start: float) -> None:
    with contextlib.suppress(Exception):  # a slow answer skips a sample, never the run
        lags = await stage_lags(bootstrap, watched)
        per_stage = {lag.stage.name: lag.lag for lag in lags}
        step.lags.append((time.monotonic() - start, sum(per_stage.values()), per_stage))


def slope(points: list[tuple[float, int]]) -> float:
    """Least-squares slope (records per second) of (seconds, lag) points."""
    if len(points) < 3:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


def triggers(prod: Production, extra_ms: int = 0) -> dict[str, int]:
    """click id -> wall ms of the first tick whose event time makes the click final (plus
    ``extra_ms`` of event time: the plan's click hold-back for the pipeline's own clock)."""
    times = [e for e, _ in prod.ticks]
    out: dict[str, int] = {}
    for cid, t in prod.clicks.items():
        i = bisect.bisect_left(times, t - t % MINUTE_MS + MINUTE_MS + FINAL_AFTER_MS + extra_ms)
        if i < len(prod.ticks):
            out[cid] = prod.ticks[i][1]
    return out


@dataclass
class Verdict:
    rate: int
    produced_rate: float
    latencies: list[float]
    measured: int
    missing: int
    lag_slope: float
    last_lag: int
    bottleneck: str
    cpu: dict[str, float]
    pipeline_p99: float = float("nan")

    @property
    def p99(self) -> float:
        return _quantile(self.latencies, 99)

    @property
    def holds(self) -> bool:
        return (
            bool(self.latencies)
            and self.missing == 0
            and self.p99 <= P99_LIMIT_S
            and self.lag_slope < 0.01 * self.rate
        )


def _quantile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def judge_step(
    step: Step, seconds: float, warmup: float, trig: dict[str, int], visible: dict[str, int]
) -> Verdict:
    lo = step.began_wall_ms + int(warmup * 1000)
    wanted = {c: t for c, t in trig.items() if lo <= t <= step.ended_wall_ms}
    lat = sorted((visible[c] - t) / 1000 for c, t in wanted.items() if c in visible)
    missing = sum(1 for c in wanted if c not in visible)
    t0 = step.lags[0][0] if step.lags else 0.0
    points = [(t, lag) for t, lag, _ in step.lags if t - t0 >= warmup]
    worst: dict[str, int] = {}
    for _t, _lag, per_stage in step.lags[-3:]:
        for name, lag in per_stage.items():
            worst[name] = max(worst.get(name, 0), lag)
    bottleneck = max(worst, key=lambda k: worst[k]) if worst else "?"
    return Verdict(
        step.rate,
        step.produced / seconds,
        lat,
        len(lat),
        missing,
        slope(points),
        step.lags[-1][1] if step.lags else -1,
        f"{bottleneck} ({worst.get(bottleneck, 0):,})",
        step.cpu,
    )


def _table(verdicts: list[Verdict]) -> str:
    head = (
        "rate/s", "produced/s", "clicks", "p50 s", "p99 s", "max s", "p99 s (job)", "lag slope/s",
        "last lag",
        "largest lag (stage)", "CPU s ingest/flink/loader", "holds",
    )  # fmt: skip
    rows = [head]
    for v in verdicts:
        rows.append(
            (
                f"{v.rate:,}",
                f"{v.produced_rate:,.0f}",
                f"{v.measured}" + (f" ({v.missing} not visible)" if v.missing else ""),
                f"{_quantile(v.latencies, 50):.2f}",
                f"{v.p99:.2f}",
                f"{v.latencies[-1]:.2f}" if v.latencies else "-",
                f"{v.pipeline_p99:.2f}",
                f"{v.lag_slope:,.0f}",
                f"{v.last_lag:,}",
                v.bottleneck,
                "/".join(f"{v.cpu.get(k, 0):.0f}" for k in ("ingest", "flink", "loader")),
                "yes" if v.holds else "NO",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    return "\n".join(lines)


def baseline(partitions: int, seconds: float, tmp: Path) -> float:
    """Kafka alone: the same producer at full speed into the raw topics of a fresh broker."""
    broker = LocalKafkaBroker(tmp / "kafka-baseline", port=None, start_timeout=90.0).start()
    try:
        asyncio.run(ensure_topics(broker.bootstrap, pulse_topics(partitions)))
        began = time.monotonic()
        prod = asyncio.run(
            produce(broker.bootstrap, partitions, [10_000_000], seconds, 600.0, 0, False)
        )
        return prod.steps[0].produced / (time.monotonic() - began)
    finally:
        broker.stop()


# --- drain mode: the same backlog through the single-process stack and the cluster ------------

DRAIN_STEP_MS = 120  # event time between two events: 5,000 events/s at speed 600


@dataclass
class Drain:
    stack: str
    events: int
    up_s: float = 0.0
    produce_s: float = 0.0
    drained_s: float | None = None  # from the first produced event
    stage_drained_s: dict[str, float] = field(default_factory=dict)
    peak_lag: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    last_lag: int = -1
    left: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.drained_s if self.drained_s else float("nan")


async def _produce_backlog(bootstrap: str, events: int, t0_ms: int, partitions: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    prod, gen = Production(), Generator()
    parts = {t: partitions for t in ("raw.views", "raw.comments", "raw.ad_clicks")}
    try:
        await _dimensions(producer, t0_ms)
        batches = OutputBatches(producer, parts)
        for i in range(events):
            event_ms = t0_ms + i * DRAIN_STEP_MS
            topic, key, value = gen.event(_iso(event_ms), event_ms, prod)
            await batches.add(topic, batches.partition(topic, key), key, value)
        await batches.flush()
        await producer.flush()
    finally:
        await producer.stop()


def _group(name: str) -> str:
    """The CPU column of a stack process: kafka, flink, ingest or loader."""
    if name.startswith("kafka"):
        return "kafka"
    if name.startswith(("jobmanager", "taskmanager", "flink")):
        return "flink"
    return "ingest" if name.startswith("ingest") else name


def drain(kind: str, events: int, tmp: Path, checkpoint_s: float, timeout_s: float) -> Drain:
    """``pulse up`` (``--cluster``), wait for the job, produce the backlog, read the lags until
    every stage drained, ``pulse down``."""
    cluster = kind == "cluster"
    env = stack_env(tmp / kind, cluster=cluster)
    env["PULSE_FLINK__CHECKPOINT_INTERVAL_S"] = str(checkpoint_s)
    out = Drain(kind, events)
    saved = dict(os.environ)
    os.environ.update(env)  # the in-process readers use the stack's settings
    pids: dict[str, int] = {}
    try:
        settings = load_settings()
        if cluster:
            settings = cluster_stack.cluster_settings(settings)
        began = time.monotonic()
        pulse(env, "up", "--cluster") if cluster else pulse(env, "up", "--partitions", "3")
        while (job := flink_job_state(settings.flink.rest_port)) is None or (
            job.state != "RUNNING" or job.last_checkpoint_ms is None
        ):
            if time.monotonic() - began > 600:
                raise RuntimeError("the Flink job is not running after 600 s")
            time.sleep(1)
        out.up_s = time.monotonic() - began
        print(f"  {kind}: stack up and job running after {out.up_s:.0f}s", flush=True)
        pids = stack_pids(env)
        cpu0 = {n: cpu_seconds(p) for n, p in pids.items()}
        watched = stages(settings)
        t0 = int(time.time() * 1000) - events * DRAIN_STEP_MS - 2 * 3_600_000
        t0 -= t0 % MINUTE_MS
        failure: list[BaseException] = []

        def producing() -> None:
            try:
                asyncio.run(_produce_backlog(settings.kafka.bootstrap, events, t0, 3))
            except BaseException as exc:  # reported below
                failure.append(exc)

        producer = threading.Thread(target=producing, daemon=True)
        start_at = time.monotonic()
        producer.start()
        produced_at: float | None = None
        while True:
            time.sleep(1.0)
            if produced_at is None and not producer.is_alive():
                produced_at = time.monotonic()
                out.produce_s = produced_at - start_at
                if failure:
                    raise RuntimeError(f"the producer failed: {failure[0]!r}")
            with contextlib.suppress(Exception):  # a slow answer: the next reading
                lags = asyncio.run(asyncio.wait_for(stage_lags(settings.kafka.bootstrap,
                                                               watched), 15))  # fmt: skip
                now = time.monotonic() - start_at
                per_stage = {lag.stage.name: lag.lag for lag in lags}
                out.last_lag = sum(per_stage.values())
                upstream = 0  # a stage has drained when it and every stage before it did
                for stage in watched:
                    lag = per_stage.get(stage.name, 0)
                    upstream += lag
                    out.peak_lag[stage.name] = max(out.peak_lag.get(stage.name, 0), lag)
                    if produced_at is not None and upstream == 0:
                        out.stage_drained_s.setdefault(stage.name, now)
                if produced_at is not None and out.last_lag == 0:
                    out.drained_s = now
                    break
            if time.monotonic() - start_at > timeout_s:
                out.error = f"not drained after {timeout_s:.0f}s (lag {out.last_lag:,})"
                break
        for name, pid in pids.items():
            group = _group(name)
            out.cpu[group] = out.cpu.get(group, 0.0) + cpu_seconds(pid) - cpu0[name]
    except Exception as exc:  # reported in the table, the stack goes down
        out.error = f"{exc!s:.500}"
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            pids = pids or stack_pids(env)
        try:
            pulse(env, "down")
        except Exception as exc:
            out.error += f" pulse down failed: {exc!s:.300}"
        os.environ.clear()
        os.environ.update(saved)
        time.sleep(5)
        out.left = [f"{n} ({p})" for n, p in pids.items() if _alive(p)]
    return out


def _alive(pid: int) -> bool:
    from pipelines.local.processes import is_zombie, proc_cmdline

    return proc_cmdline(pid) is not None and not is_zombie(pid)


def _drain_table(results: list[Drain]) -> str:
    head = ("stack", "events", "up s", "produce s", "drained s", "drain rate/s",
            "stages drained s ingest/flink/loader", "peak lag ingest/flink/loader",
            "CPU s kafka/ingest/flink/loader", "left", "error")  # fmt: skip
    rows = [head]
    for r in results:
        stages_s = "/".join(
            f"{r.stage_drained_s[k]:.0f}" if k in r.stage_drained_s else "-"
            for k in ("ingest", "flink", "loader")
        )
        rows.append(
            (
                r.stack,
                f"{r.events:,}",
                f"{r.up_s:.0f}",
                f"{r.produce_s:.1f}",
                "-" if r.drained_s is None else f"{r.drained_s:.0f}",
                "-" if r.drained_s is None else f"{r.rate:,.0f}",
                stages_s,
                "/".join(f"{r.peak_lag.get(k, 0):,}" for k in ("ingest", "flink", "loader")),
                "/".join(f"{r.cpu.get(k, 0):.0f}" for k in ("kafka", "ingest", "flink", "loader")),
                ", ".join(r.left) or "none",
                r.error,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    return "\n".join(lines)


def drain_main(args: argparse.Namespace) -> int:
    kinds = [k.strip() for k in args.stacks.split(",") if k.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="pulse-drain-"))
    results = []
    for kind in kinds:
        command = "pulse up --cluster" if kind == "cluster" else "pulse up"
        print(f"{kind}: {args.drain:,} events through `{command}` ...", flush=True)
        result = drain(kind, args.drain, tmp, args.checkpoint_s, args.drain_timeout)
        results.append(result)
        rate = f"{result.rate:,.0f}" if result.drained_s else "-"
        print(f"  {kind}: {rate} events/s {result.error}", flush=True)
    print()
    print(_drain_table(results))
    rates = {r.stack: r.rate for r in results if r.drained_s}
    if "single" in rates and "cluster" in rates:
        print(f"\ncluster / single drain rate: {rates['cluster'] / rates['single']:.2f}")
    print("logs and data in", tmp)
    return 0 if all(r.drained_s and not r.left and not r.error for r in results) else 1


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rates", default="2000,5000,10000,20000,30000", help="events/s, in order")
    p.add_argument("--seconds", type=float, default=300.0, help="seconds per rate (300)")
    p.add_argument("--speed", type=float, default=600.0, help="event ms per wall ms (600)")
    p.add_argument("--partitions", type=int, default=2, help="partitions per raw topic (2)")
    p.add_argument("--warmup", type=float, default=30.0, help="seconds of each step not judged")
    p.add_argument("--baseline-seconds", type=float, default=20.0)
    p.add_argument("--all", action="store_true", help="go on after a rate that does not hold")
    p.add_argument(
        "--drain",
        type=int,
        default=0,
        metavar="N",
        help="drain mode: N events through each stack of --stacks (no ladder)",
    )
    p.add_argument("--stacks", default="single,cluster", help="drain mode: in this order")
    p.add_argument(
        "--checkpoint-s",
        type=float,
        default=2.0,
        help="drain mode: Flink's checkpoint interval on both stacks (2)",
    )
    p.add_argument("--drain-timeout", type=float, default=900.0, help="drain mode: limit (s)")
    args = p.parse_args()
    if args.drain:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        return drain_main(args)
    rates = [int(r) for r in args.rates.split(",") if r.strip()]

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    tmp = Path(tempfile.mkdtemp(prefix="pulse-sustained-"))
    print(f"baseline: the producer alone into Kafka for {args.baseline_seconds:.0f}s ...")
    base = baseline(args.partitions, args.baseline_seconds, tmp)
    print(f"baseline: {base:,.0f} events/s (producer + broker, nothing consuming)")

    broker = LocalKafkaBroker(tmp / "kafka", port=None, start_timeout=90.0).start()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        asyncio.run(ensure_topics(broker.bootstrap, pulse_topics(args.partitions)))
        rest_port = free_port()
        journal = tmp / "journal.jsonl"
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PULSE_KAFKA__BOOTSTRAP": broker.bootstrap,
            "PULSE_WORK_DIR": str(tmp / "work"),
            "PULSE_STACK__DIR": str(tmp / "stack"),
            "PULSE_INGEST__DATA_DIR": str(tmp / "ingest-data"),
            "PULSE_WAREHOUSE": str(tmp / "warehouse"),
            "PULSE_LOADER__DATA_DIR": str(tmp / "loader-data"),
            "PULSE_LOADER__JOURNAL": str(journal),
            "PULSE_METRICS__PORT": "0",
        }
        procs["ingest"] = start(INGEST_ARGV, env, tmp / "ingest.log")
        procs["loader"] = start(LOADER_ARGV, env, tmp / "loader.log")
        flink_argv = [
            sys.executable, "-m", "jobs.flink_streaming",
            "--checkpoint-dir", str(tmp / "checkpoints"),
            "--changelog-idle-timeout", "3", "--rest-port", str(rest_port),
        ]  # fmt: skip
        procs["flink"] = start(flink_argv, env, tmp / "flink.log")
        began = time.monotonic()
        while (state := flink_job_state(rest_port)) is None or state.state != "RUNNING":
            if time.monotonic() - began > 300 or procs["flink"].poll() is not None:
                print("the Flink job did not start; see", tmp / "flink.log")
                return 1
            time.sleep(1)
        print(f"stack running after {time.monotonic() - began:.0f}s; producing {rates} events/s")
        total_s = len(rates) * args.seconds
        # event time ends 2 h before now: the ingest's future-event rule uses the wall clock
        t0 = int(time.time() * 1000) - int(total_s * 1000 * args.speed) - 2 * 3_600_000
        t0 -= t0 % MINUTE_MS
        cpu_before = {n: cpu_seconds(pr.pid) for n, pr in procs.items()}

        def step_done(step: Step) -> bool:
            nonlocal cpu_before
            now = {n: cpu_seconds(pr.pid) for n, pr in procs.items()}
            step.cpu = {n: now[n] - cpu_before.get(n, 0.0) for n in now}
            cpu_before = now
            dead = [n for n, pr in procs.items() if pr.poll() is not None]
            if dead:
                print(f"stopped: {dead} exited; see {tmp}")
                return False
            # judged later (the last clicks of a step become visible after it): go on unless
            # the backlog clearly runs away (more than 60 s of input behind)
            lag = step.lags[-1][1] if step.lags else 0
            print(f"  {step.rate:,}/s done: {step.produced:,} events, lag {lag:,}", flush=True)
            return args.all or lag <= 60 * step.rate

        prod = asyncio.run(
            produce(broker.bootstrap, args.partitions, rates, args.seconds, args.speed, t0, True,
                    step_done)
        )  # fmt: skip
        time.sleep(15)  # the last triggered clicks of the last step
        offsets = asyncio.run(click_offsets(broker.bootstrap, time.monotonic() + 120))
        visible = visible_clicks(journal, offsets)
        trig = triggers(prod)
        verdicts = [judge_step(s, args.seconds, args.warmup, trig, visible) for s in prod.steps]
        job_clock = triggers(prod, click_holdback_ms(load_settings()))
        for step, verdict in zip(prod.steps, verdicts, strict=True):
            own = judge_step(step, args.seconds, args.warmup, job_clock, visible)
            verdict.pipeline_p99 = own.p99
        print()
        print(_table(verdicts))
        held = [v.rate for v in verdicts if v.holds]
        best = max(held) if held else 0
        print(
            f"\nhighest rate held (p99 <= {P99_LIMIT_S:.0f} s, lag not growing) for "
            f"{args.seconds:.0f} s: {best:,} events/s; baseline (Kafka alone) {base:,.0f}/s"
        )
        return 0
    finally:
        for proc in reversed(list(procs.values())):
            stop(proc)
        broker.stop()
        print("logs and data in", tmp)


if __name__ == "__main__":
    sys.exit(main())
