"""Soak of the local CLUSTER: the four faults of the cluster test under continued production,
the recovery time of each, and every table against the bounded run.

Run:  flock /tmp/pulse-cpu.lock .venv/bin/python bench/soak_cluster.py [--creators 16]
          [--days 12] [--seed 5] [--produce-s 600] [--window-s 20] [--node-down-s 20]
          [--timeout-s 600] [--workdir DIR] [--keep]

``pulse up --cluster`` (three KRaft Kafka nodes, RF 3, min ISR 2; a Flink session cluster of a
JobManager and two TaskManagers, RocksDB; the job at parallelism 2; two ingest workers; the
loader; the chdb warehouse), exactly as ``tests/integration/cluster/test_cluster_faults.py``
runs it (``cluster_run.run_cluster``: free ports, temporary folders, checkpoints every 1 s),
on a larger generated set. The set is produced the way a steady source writes: the changelogs
first, then the three event streams interleaved (each in file order), paced at one rate over
``--produce-s`` seconds by one idempotent ``acks=all`` producer. While it produces, one fault at
a time, each only once the previous one has recovered and ``--window-s`` seconds of steady state
have passed:

1. ``kill -9`` of ``taskmanager-1``, started again at once;
2. ``kill -9`` of the Kafka node leading the most raw and result partitions; started again
   ``--node-down-s`` seconds after the kill (production goes on meanwhile);
3. ``pulse rescale --parallelism 4``; 4. ``pulse rescale --parallelism 1``;
5. ``kill -9`` of the JobManager, then ``pulse up --cluster`` (resubmits the job from the newest
   retained checkpoint: no high availability on this local cluster).

The last 10 % of the set is held back until every fault has recovered (Flink does not
checkpoint watermarks: a restarted job re-derives its watermark from the records after it).

**Recovery times** (seconds after the fault's start; ``kill -9`` or the start of the command).
Lag = the summed consumer lag (records) of the ingest (``raw.*``), Flink (``clean.*``, committed
on completed checkpoints) and loader (``results.*`` and dimensions) groups, sampled every second.

* Flink faults: **job back** = the newest job on the REST API is RUNNING and a checkpoint
  *triggered after the fault* has completed (every task runs and every source makes progress;
  RUNNING alone is reported for a job whose lost TaskManager is not yet declared dead); after a
  rescale or a JobManager loss it must be a new job (the old one checkpoints on until its stop
  takes effect);
  "left RUNNING" is the first sample in which it no longer was (the failure detected).
* Kafka node: **leaders** = every partition with a replica on another node has a leader other
  than the killed node; **producer** = the first acknowledgement of a record sent after the kill
  to a partition the killed node led; **ingest** = the ingest group committed again after the
  leaders were back (or, if it had not while the node was down, after the node was started
  again); the service is back at the latest of the three. **ISR 3/3** = every partition has all
  its replicas in sync again after the node's restart. Topics with a single replica on the
  killed node are named in the note: their partitions have no leader until it is back.
* **lag back** = the first sample, once the service is back, whose summed lag is at most the
  *pre-fault level*: the highest summed lag sampled in the ``--window-s`` seconds before the
  fault (production continues throughout, so the lag never stays at zero; its steady level is
  what it returns to). "peak" is the highest summed lag in between.

A Faust job that exits is recorded (a defect) and started again, as ``pulse up --cluster`` would
(only that job), so that the soak goes on; the run then counts as failed.

Then ``pulse status --wait``, ``pulse down`` and the verdict of ``scenarios.judge``: every table
equal for what the final watermark closed, rows lost / doubled / different, the ingest's outputs
per topic, the money totals; and no process left behind. Exits 1 if anything differs or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the cluster driver and the scenarios live with the tests

import pytest  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402

from pipelines.local import cluster_stack, stack  # noqa: E402
from pipelines.local.processes import proc_cmdline  # noqa: E402
from pipelines.streaming.monitor import stage_lags, stages  # noqa: E402
from tests.integration.cluster.cluster_run import (  # noqa: E402
    ClusterStack,
    busiest_leader,
    left_behind,
    pulse,
    run_cluster,
)
from tests.integration.streaming.scenarios import (  # noqa: E402
    CHANGELOGS,
    EVENT_STREAMS,
    Message,
    Reference,
    Verdict,
    aio_produce,
    interleaved,
    judge,
    messages_of,
    prepare_reference,
)

TICK_S = 0.5  # the producer's pace
SAMPLE_S = 1.0  # lag and Flink job samples
HOLD_AT = 0.9  # the share of the set produced before every fault has recovered


# --- what runs beside the faults: the paced producer and the samplers ---------------------------


@dataclass(frozen=True)
class Batch:
    sent: float  # monotonic, when its first record was handed to the client
    acked: float  # monotonic, when its last record was acknowledged
    partitions: frozenset[tuple[str, int]]


class PacedProducer(threading.Thread):
    """The messages at ``rate`` per second (idempotent, ``acks=all``), the last
    ``1 - HOLD_AT`` only after :attr:`release` is set (then at the same pace again)."""

    def __init__(self, bootstrap: str, messages: list[Message], rate: float) -> None:
        super().__init__(name="paced-producer", daemon=True)
        self.bootstrap, self.messages, self.rate = bootstrap, messages, rate
        self.hold = round(len(messages) * HOLD_AT)
        self.release = threading.Event()
        self.batches: list[Batch] = []
        self.sent = 0
        self.held_s = 0.0  # seconds spent waiting at the hold point for the faults
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported by the driver
            self.error = exc

    async def _run(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
        )
        await producer.start()
        try:
            began = time.monotonic()
            held_since: float | None = None
            while self.sent < len(self.messages):
                now = time.monotonic()
                due = min(len(self.messages), int((now - began) * self.rate))
                if not self.release.is_set():
                    due = min(due, self.hold)
                    if due == self.hold == self.sent and held_since is None:
                        held_since = now
                elif held_since is not None:  # go on at the same pace, not in one burst
                    self.held_s += now - held_since
                    held_since = None
                    began = now - self.sent / self.rate
                    due = self.sent
                if due > self.sent:
                    sent_at = time.monotonic()
                    futures = [
                        await producer.send(topic, value, key=key)
                        for topic, key, value in self.messages[self.sent : due]
                    ]
                    metas = await asyncio.gather(*futures)
                    parts = frozenset((m.topic, m.partition) for m in metas)
                    self.batches.append(Batch(sent_at, time.monotonic(), parts))
                    self.sent = due
                await asyncio.sleep(TICK_S)
        finally:
            await producer.stop()


@dataclass(frozen=True)
class LagSample:
    at: float  # monotonic
    total: int
    lag: dict[str, int]  # per stage
    committed: dict[str, int]  # per stage, summed over its topics


@dataclass(frozen=True)
class JobSample:
    at: float
    job_id: str | None  # None: no answer from the REST API
    state: str | None
    checkpoint_triggered_ms: int | None  # of the newest completed checkpoint


def flink_progress(rest_port: int, timeout: float = 2.0) -> tuple[str, str, int | None] | None:
    """(job id, state, trigger time of its newest completed checkpoint) of the newest job."""
    import json

    base = f"http://127.0.0.1:{rest_port}"
    try:
        with urllib.request.urlopen(f"{base}/jobs/overview", timeout=timeout) as r:
            jobs = json.loads(r.read()).get("jobs", [])
        if not jobs:
            return None
        job = max(jobs, key=lambda j: j.get("start-time", 0))
        with urllib.request.urlopen(f"{base}/jobs/{job['jid']}/checkpoints", timeout=timeout) as r:
            latest = (json.loads(r.read()).get("latest") or {}).get("completed") or {}
        trigger = latest.get("trigger_timestamp")
        return str(job["jid"]), str(job["state"]), int(trigger) if trigger is not None else None
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        return None


class Samplers:
    """Every ``SAMPLE_S``: the summed lag of the three stages, and the Flink job's state."""

    def __init__(self, live: ClusterStack) -> None:
        self.live = live
        self.lags: list[LagSample] = []
        self.jobs: list[JobSample] = []
        self.lag_failures = 0
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._loop, args=(self._lag,), daemon=True),
            threading.Thread(target=self._loop, args=(self._job,), daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _loop(self, sample: Callable[[], None]) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            sample()
            self.stop.wait(max(0.0, SAMPLE_S - (time.monotonic() - began)))

    def _lag(self) -> None:
        settings = self.live.settings()
        try:
            read = asyncio.run(asyncio.wait_for(stage_lags(settings.kafka.bootstrap,
                                                           stages(settings)), 15))  # fmt: skip
        except Exception:  # a node being killed: the next sample
            self.lag_failures += 1
            return
        lag = {s.stage.name: s.lag for s in read}
        committed = {s.stage.name: sum(t.committed for t in s.topics) for s in read}
        self.lags.append(LagSample(time.monotonic(), sum(lag.values()), lag, committed))

    def _job(self) -> None:
        got = flink_progress(self.live.rest_port)
        at = time.monotonic()
        self.jobs.append(JobSample(at, *got) if got else JobSample(at, None, None, None))


# --- the faults and their recovery ------------------------------------------------------------


@dataclass
class Recovery:
    fault: str
    at_s: float  # seconds since the start of the run
    pre_lag: int = 0
    milestones: list[tuple[str, float | None]] = field(default_factory=list)
    back_s: float | None = None  # the service is back (job back / leaders+producer+ingest)
    lag_back_s: float | None = None
    peak_lag: int = 0
    note: str = ""


class Faults:
    """Fires the faults in order and measures each recovery from the samples."""

    def __init__(self, live: ClusterStack, samplers: Samplers, producer: PacedProducer,
                 args: argparse.Namespace) -> None:  # fmt: skip
        self.live, self.samplers, self.producer, self.args = live, samplers, producer, args
        self.rows: list[Recovery] = []
        #: (seconds since the start, job, its last error line): Faust jobs that exited
        self.exits: list[tuple[float, str, str]] = []

    def _revive(self) -> None:
        """A Faust job that exited is recorded (a defect: none should) and started again the
        way ``pulse up --cluster`` starts what is down (only the job: a Kafka node may be
        down on purpose)."""
        settings = self.live.settings()
        where = stack.stack_dir(settings)
        for job in cluster_stack.cluster_jobs(settings):
            if stack.job_state(job, where) == "running":
                continue
            log = job.log_file(where).read_text(errors="replace").splitlines()
            error = next((line for line in reversed(log) if "ERROR" in line), "?")
            at = round(time.monotonic() - self.live.began, 1)
            self.exits.append((at, job.name, error[:300]))
            self.live.note(f"{job.name} exited ({error[:200]}); started again")
            stack.start_job(job, where, cluster_stack.cluster_environment(settings))

    def _wait(self, what: str, found: Callable[[], float | None], timeout: float) -> float | None:
        """Poll ``found`` (a monotonic time, or None) until it answers or ``timeout``."""
        deadline = time.monotonic() + timeout
        while (at := found()) is None:
            self._revive()
            if self.producer.error is not None:
                raise RuntimeError(f"the producer failed: {self.producer.error!r}")
            if time.monotonic() > deadline:
                self.live.note(f"timeout: {what}")
                return None
            time.sleep(0.5)
        return at

    def steady(self) -> None:
        """``--window-s`` of lag samples with Flink at work since the last fault."""
        since = time.monotonic()
        self._wait(
            "steady state",
            lambda: (
                time.monotonic()
                if time.monotonic() - since >= self.args.window_s
                and len([s for s in self.samplers.lags if s.at >= since]) >= self.args.window_s / 2
                else None
            ),
            self.args.timeout_s,
        )

    def _begin(self, fault: str) -> tuple[Recovery, float, int]:
        began = time.monotonic()
        window = [s.total for s in self.samplers.lags if s.at >= began - self.args.window_s]
        row = Recovery(fault, round(began - self.live.began, 1), max(window, default=0))
        self.rows.append(row)
        return row, began, int(time.time() * 1000)

    def _job_back(self, row: Recovery, began: float, began_ms: int, *, new_job: bool) -> None:
        """``new_job``: the fault ends the job (rescale, JobManager): back is a new job (the
        old one checkpoints on until its stop takes effect)."""
        before = [s for s in self.samplers.jobs if s.at < began and s.job_id]
        job_before = before[-1].job_id if before else None

        def left() -> float | None:
            return next(
                (s.at for s in self.samplers.jobs
                 if s.at >= began and (s.state != "RUNNING" or s.job_id != job_before)),
                None,
            )  # fmt: skip

        def back() -> float | None:
            return next(
                (s.at for s in self.samplers.jobs
                 if s.at >= began and s.state == "RUNNING"
                 and (s.checkpoint_triggered_ms or 0) >= began_ms
                 and not (new_job and s.job_id == job_before)),
                None,
            )  # fmt: skip

        at = self._wait(f"{row.fault}: job back", back, self.args.timeout_s)
        gone = left()
        row.milestones.append(
            ("left RUNNING", None if gone is None or (at and gone > at) else gone - began)
        )
        row.milestones.append(("job back", None if at is None else at - began))
        row.back_s = None if at is None else at - began
        self._lag_back(row, began, at)

    def _lag_back(self, row: Recovery, began: float, back: float | None) -> None:
        if back is None:
            row.note = "not back within the timeout"
            return

        def done() -> float | None:
            return next(
                (s.at for s in self.samplers.lags if s.at >= back and s.total <= row.pre_lag), None
            )

        at = self._wait(f"{row.fault}: lag back", done, self.args.timeout_s)
        until = at if at is not None else time.monotonic()
        row.peak_lag = max(
            (s.total for s in self.samplers.lags if began <= s.at <= until), default=0
        )
        row.lag_back_s = None if at is None else at - began
        self.live.note(f"{row.fault}: back {row.back_s}, lag back {row.lag_back_s}")

    # the faults

    def taskmanager(self) -> None:
        flink = cluster_stack.flink_cluster(self.live.settings())
        row, began, began_ms = self._begin("kill -9 taskmanager-1, started again")
        flink.kill_taskmanager(1)
        self.live.note("kill -9 taskmanager-1")
        flink.start_taskmanager(1)
        self._job_back(row, began, began_ms, new_job=False)

    def kafka_node(self) -> None:
        settings = self.live.settings()
        kafka = cluster_stack.kafka_cluster(settings)
        bootstrap = self.live.bootstrap
        node = busiest_leader(bootstrap)
        before = describe(bootstrap)
        led = {(t, p) for t, p, leader, _isr, _reps in before if leader == node}
        alone = sorted({t for t, _p, _l, _i, reps in before if reps == [node]})
        row, began, _ms = self._begin(f"kill -9 kafka-{node} ({len(led)} partitions led)")
        kafka.kill_node(node)
        self.live.note(f"kill -9 kafka-{node}")
        down_until: float = began + float(self.args.node_down_s)

        def leaders() -> float | None:  # of every partition with a replica on another node
            parts = describe_quietly(bootstrap)
            ok = parts and all(
                leader not in (-1, node) for _t, _p, leader, _i, reps in parts if reps != [node]
            )
            return time.monotonic() if ok else None

        def produced() -> float | None:
            return next(
                (b.acked for b in self.producer.batches if b.sent >= began and b.partitions & led),
                None,
            )

        def ingest_after(since: float) -> Callable[[], float | None]:
            earlier = [s for s in self.samplers.lags if s.at <= since]
            base = earlier[-1].committed.get("ingest", 0) if earlier else 0
            return lambda: next(
                (s.at for s in self.samplers.lags
                 if s.at > since and s.committed.get("ingest", 0) > base),
                None,
            )  # fmt: skip

        def left() -> float:
            return max(1.0, down_until - time.monotonic())

        t_leaders = self._wait("leaders back", leaders, left())
        t_producer = self._wait("producer writing", produced, left())
        t_ingest = None
        if t_leaders is not None:
            t_ingest = self._wait("ingest writing", ingest_after(t_leaders), left())
        self.steady_for(down_until - time.monotonic())
        restarted = time.monotonic()
        kafka.start_node(node)
        self.live.note(f"kafka-{node} started again")

        def in_sync() -> float | None:
            parts = describe_quietly(bootstrap)
            ok = parts and all(len(isr) == len(reps) for _t, _p, _l, isr, reps in parts)
            return time.monotonic() if ok else None

        t_isr = self._wait("ISR complete", in_sync, self.args.timeout_s)
        if t_producer is None:
            t_producer = self._wait("producer writing", produced, self.args.timeout_s)
        if t_ingest is None:
            t_ingest = self._wait("ingest writing", ingest_after(restarted), self.args.timeout_s)
        for label, at in (
            ("leaders", t_leaders),
            ("producer", t_producer),
            ("ingest", t_ingest),
            ("node started again", restarted),
            ("ISR 3/3", t_isr),
        ):
            row.milestones.append((label, None if at is None else at - began))
        if alone:
            row.note = f"{len(alone)} topics with one replica, on kafka-{node}: {', '.join(alone)}"
        times = [t_leaders, t_producer, t_ingest]
        back = None if None in times else max(t for t in times if t is not None)
        row.back_s = None if back is None else back - began
        self._lag_back(row, began, back)

    def steady_for(self, seconds: float) -> None:
        until = time.monotonic() + max(0.0, seconds)
        self._wait("node down", lambda: t if (t := time.monotonic()) >= until else None,
                   seconds + 60)  # fmt: skip

    def rescale(self, parallelism: int) -> None:
        row, began, began_ms = self._begin(f"pulse rescale --parallelism {parallelism}")
        self.live.note(pulse(self.live.env, "rescale", "--parallelism", str(parallelism)).strip())
        row.milestones.append(("command returned", time.monotonic() - began))
        self._job_back(row, began, began_ms, new_job=True)

    def jobmanager(self) -> None:
        flink = cluster_stack.flink_cluster(self.live.settings())
        row, began, began_ms = self._begin("kill -9 jobmanager, pulse up --cluster")
        flink.kill_jobmanager()
        self.live.note("kill -9 jobmanager")
        time.sleep(1.0)
        out = pulse(self.live.env, "up", "--cluster").strip().splitlines()[-1]
        self.live.note(out)
        row.milestones.append(("pulse up returned", time.monotonic() - began))
        if "chk-" not in out:
            row.note = f"not resubmitted from a checkpoint: {out}"
        self._job_back(row, began, began_ms, new_job=True)


def describe(bootstrap: str) -> list[tuple[str, int, int, list[int], list[int]]]:
    """(topic, partition, leader, in-sync replicas, replicas) of every partition."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def ask() -> list[tuple[str, int, int, list[int], list[int]]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            described = await admin.describe_topics(await admin.list_topics())
        finally:
            await admin.close()
        return [
            (t["topic"], p["partition"], p["leader"], list(p["isr"]), list(p["replicas"]))
            for t in described
            for p in t["partitions"]
        ]

    return asyncio.run(asyncio.wait_for(ask(), 15))


def describe_quietly(bootstrap: str) -> list[tuple[str, int, int, list[int], list[int]]]:
    try:
        return describe(bootstrap)
    except Exception:  # a node just killed or started: ask again
        return []


def soak_driver(ref: Reference, args: argparse.Namespace, out: dict[str, Any]) -> Any:
    """The driver of ``run_cluster``: changelogs, then the paced events and the faults."""

    def drive(live: ClusterStack) -> None:
        aio_produce(live.bootstrap, [m for s in CHANGELOGS for m in messages_of(ref.raw_dir, s)])
        events = interleaved([messages_of(ref.raw_dir, s) for s in EVENT_STREAMS])
        rate = len(events) * HOLD_AT / args.produce_s
        producer = PacedProducer(live.bootstrap, events, rate)
        samplers = Samplers(live)
        faults = Faults(live, samplers, producer, args)
        out.update(producer=producer, samplers=samplers, faults=faults, rate=rate)
        samplers.start()
        producer.start()
        live.note(f"producing {len(events):,} events at {rate:.1f}/s")
        try:
            faults.steady()
            faults.taskmanager()
            faults.steady()
            faults.kafka_node()
            faults.steady()
            faults.rescale(4)
            faults.steady()
            faults.rescale(1)
            faults.steady()
            faults.jobmanager()
            live.note(f"faults done; {producer.sent:,} of {len(events):,} events produced")
        finally:
            producer.release.set()
            producer.join(timeout=args.produce_s * 2 + 600)
            samplers.close()
        if producer.error is not None or producer.is_alive():
            raise RuntimeError(f"the producer failed: {producer.error!r}")
        live.note("production done")

    return drive


# --- report ---------------------------------------------------------------------------------


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def recovery_table(rows: list[Recovery]) -> str:
    head = ("fault", "at s", "pre-fault lag", "milestones (s after the fault)", "service back s",
            "lag back s", "peak lag", "note")  # fmt: skip
    lines = [head]
    for r in rows:
        miles = ", ".join(f"{label} {_s(at)}" for label, at in r.milestones)
        lines.append(
            (
                r.fault,
                f"{r.at_s:.0f}",
                f"{r.pre_lag:,}",
                miles,
                _s(r.back_s),
                _s(r.lag_back_s),
                f"{r.peak_lag:,}",
                r.note,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines]
    return "\n".join([text[0], "-|-".join("-" * w for w in widths), *text[1:]])


def verdict_line(v: Verdict, raw_lines: int) -> str:
    money = "-" if not v.money else "equal" if v.money_equal else "DIFFERENT"
    return (
        f"raw lines {raw_lines:,} | tables equal {v.tables_equal}/{v.tables} | lost {v.lost} | "
        f"doubled {v.doubled} | different {v.different} | fault dead letters "
        f"{v.fault_dead_letters} | money {money} | {v.seconds:.0f} s"
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--creators", type=int, default=16)
    p.add_argument("--days", type=int, default=12)
    p.add_argument("--seed", type=int, default=5, help="seed of the generated set")
    p.add_argument("--produce-s", type=float, default=600.0,
                   help="wall seconds over which 90 %% of the events are produced")  # fmt: skip
    p.add_argument("--window-s", type=float, default=20.0,
                   help="steady seconds before each fault (its pre-fault lag level)")  # fmt: skip
    p.add_argument("--node-down-s", type=float, default=60.0,
                   help="the killed Kafka node starts again this long after the kill")  # fmt: skip
    p.add_argument("--timeout-s", type=float, default=600.0, help="limit of each wait")
    p.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs, dumps)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pulse-soak-cluster-"))
    work.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    out: dict[str, Any] = {}
    try:
        ref = prepare_reference(
            work / "reference", creators=args.creators, days=args.days, seed=args.seed
        )
        lines = sum(n for t, n in ref.expected_records.items() if t.startswith("raw."))
        print(f"soak-cluster: {lines:,} raw lines, bounded reference in "
              f"{time.monotonic() - began:.0f}s", flush=True)  # fmt: skip
        verdict: Verdict | None = None
        pids: list[int] = []
        try:
            run, pids = run_cluster(work / "cluster-run", soak_driver(ref, args, out),
                                    ref.reference_ms)  # fmt: skip
            for at, what in run.events:
                print(f"  {at:7.1f}s  {what}", file=sys.stderr)
            verdict = judge("cluster soak", run, ref)
        except (Exception, pytest.fail.Exception) as exc:
            traceback.print_exc()
            verdict = Verdict("cluster soak", time.monotonic() - began)
            verdict.problems.append(f"the run failed: {exc!s:.2000}")
        restarts = sum(
            log.read_text(errors="replace").count("transient Kafka error")
            for log in (work / "cluster-run" / "stack").glob("ingest-*.log")
        )
        faults: Faults | None = out.get("faults")
        producer: PacedProducer | None = out.get("producer")
        samplers: Samplers | None = out.get("samplers")
        print()
        if faults is not None:
            print(recovery_table(faults.rows))
            for at, name, error in faults.exits:
                print(f"EXITED at {at:.0f}s: {name}: {error}")
        if producer is not None and samplers is not None:
            print(f"\nproduction: {len(producer.messages):,} events at {out['rate']:.1f}/s, "
                  f"held {producer.held_s:.0f} s at {HOLD_AT:.0%} waiting for the faults; "
                  f"lag samples {len(samplers.lags)} ({samplers.lag_failures} failed)")  # fmt: skip
        print(f"ingest restarts after a transient Kafka error (logs): {restarts}")
        print()
        print(verdict.report())
        print(verdict_line(verdict, lines))
        if not pids:  # the run failed before `pulse status`: the pid files it left
            for pid_file in (work / "cluster-run").rglob("*.pid"):
                with contextlib.suppress(OSError, ValueError):
                    pids.append(int(pid_file.read_text().split()[0]))
        left = left_behind(pids) if pids else []
        print("processes left after pulse down:",
              [proc_cmdline(p) for p in left] if left else "none")  # fmt: skip
        ok = verdict.ok and not left and not (faults is not None and faults.exits)
        print(f"\nsoak-cluster: {'all tables equal' if ok else 'FAILED'} "
              f"({time.monotonic() - began:.0f} s in all)")  # fmt: skip
        return 0 if ok else 1
    finally:
        if args.keep or args.workdir is not None:
            print(f"soak-cluster: work folder {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
