"""The streaming stack on the local CLUSTER (``pulse up --cluster``), driven through faults.

The way a user runs it: ``pulse up --cluster`` (three Kafka nodes, a Flink session cluster, the
job submitted with ``flink run``, two ingest workers, the loader), the generated set produced
with a real Kafka client in chunks, the faults of the cluster issue between the chunks, ``pulse
status --wait``, then ``pulse down``. Every port is a free random one and every folder is under
the test's temporary folder (settings through the environment, as a user sets them).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.config import Settings, load_settings
from pipelines.local import cluster_stack, stack
from pipelines.local.processes import free_ports, is_zombie, proc_cmdline
from pipelines.streaming.monitor import flink_job_state

from ..streaming.conftest import CHECKPOINT_S, IDLE_TIMEOUT_S, REPO
from ..streaming.dump import dump_in_subprocess
from ..streaming.raw_stack import (
    COUNTED_PREFIXES,
    SETTLE_S,
    LiveRun,
    final_watermark_cutoff,
    topic_records,
)

#: a limit, not a wait: three Kafka JVMs, three Flink JVMs and the Python jobs on 2 cores
DEADLINE_S = 900.0


def cluster_env(tmp: Path) -> dict[str, str]:
    """The environment of every ``pulse`` command of one cluster run."""
    ports = free_ports(14)
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PULSE_CLUSTER__DIR": str(tmp / "cluster"),
        "PULSE_CLUSTER__KAFKA_PORTS": json.dumps(ports[0:3]),
        "PULSE_CLUSTER__KAFKA_CONTROLLER_PORTS": json.dumps(ports[3:6]),
        "PULSE_CLUSTER__TASKMANAGER_METRICS_PORTS": json.dumps(ports[6:8]),
        "PULSE_CLUSTER__INGEST_METRICS_PORTS": json.dumps(ports[8:10]),
        "PULSE_METRICS__LOADER_PORT": str(ports[10]),
        "PULSE_METRICS__FLINK_PORT": str(ports[11]),
        "PULSE_FLINK__REST_PORT": str(ports[12]),
        "PULSE_FLINK__CHECKPOINT_INTERVAL_S": str(CHECKPOINT_S),
        "PULSE_FLINK__CHANGELOG_IDLE_TIMEOUT_S": str(IDLE_TIMEOUT_S),
        # the single-process stack's broker: checked to be down, never started
        "PULSE_KAFKA__BOOTSTRAP": f"127.0.0.1:{ports[0]}",
        "PULSE_KAFKA__DATA_DIR": str(tmp / "single-kafka"),
        "PULSE_STACK__DIR": str(tmp / "stack"),
        "PULSE_WORK_DIR": str(tmp / "work"),
        "PULSE_WAREHOUSE": str(tmp / "wh-streaming"),
        "PULSE_INGEST__DATA_DIR": str(tmp / "ingest-data"),
        "PULSE_INGEST__SESSION_TIMEOUT_MS": "6000",
        "PULSE_LOADER__DATA_DIR": str(tmp / "loader-data"),
        "PULSE_LOADER__JOURNAL": str(tmp / "loader-journal.jsonl"),
        "PULSE_LOADER__BATCH": "500",
        "PULSE_LOADER__WITHIN_S": "0.2",
        # Faust's own settings of the loader: a killed member's partitions move after 6 s
        "BROKER_SESSION_TIMEOUT": "6",
        "BROKER_HEARTBEAT_INTERVAL": "1",
    }


def pulse(env: dict[str, str], *args: str, timeout: float = 600.0) -> str:
    """``pulse ARGS`` as a user runs it; its output (fails the test on a non-zero exit)."""
    res = subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert res.returncode == 0, (
        f"pulse {' '.join(args)}: {res.returncode}\n{res.stdout}\n{res.stderr}"
    )
    return res.stdout


@dataclass
class ClusterStack:
    """The running cluster stack a driver works on (the duck type of ``LiveStack`` that the
    scenario conditions use: ``bootstrap``, ``rest_port``, ``settings()``, ``note()``,
    ``assert_alive()``, ``procs``)."""

    tmp: Path
    env: dict[str, str]
    began: float
    events: list[tuple[float, str]] = field(default_factory=list)
    procs: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> Settings:
        return cluster_stack.cluster_settings(load_settings())

    @property
    def bootstrap(self) -> str:
        return self.settings().kafka.bootstrap

    @property
    def rest_port(self) -> int:
        return self.settings().flink.rest_port

    def note(self, what: str) -> None:
        self.events.append((round(time.monotonic() - self.began, 1), what))

    def assert_alive(self) -> None:
        """The Faust jobs run (the nodes are killed on purpose by the faults)."""
        settings = self.settings()
        where = stack.stack_dir(settings)
        for job in cluster_stack.cluster_jobs(settings):
            assert stack.job_state(job, where) == "running", (
                f"{job.name} exited:\n{(where / f'{job.name}.log').read_text()[-4000:]}"
            )

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(pulse(self.env, "status", "--format", "json"))
        return out

    def wait(self, what: str, condition: Callable[[], bool], timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            self.assert_alive()
            assert time.monotonic() < deadline, f"timeout waiting for {what}"
            time.sleep(0.5)
        self.note(what)


def job_running(live: ClusterStack) -> bool:
    """The streaming job runs and completed a checkpoint since it (re)started."""
    job = flink_job_state(live.rest_port)
    return job is not None and job.state == "RUNNING" and job.last_checkpoint_ms is not None


async def _leaders(bootstrap: str, prefixes: tuple[str, ...]) -> dict[int, int]:
    """How many partitions of the topics starting with ``prefixes`` each node leads."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    count: dict[int, int] = {}
    for topic in described:
        for partition in topic["partitions"]:
            count[partition["leader"]] = count.get(partition["leader"], 0) + 1
    return count


def busiest_leader(bootstrap: str) -> int:
    """The node that leads the most raw and result partitions."""
    count = asyncio.run(_leaders(bootstrap, ("raw.", "results.")))
    return max(count, key=lambda node: count[node])


#: drive(live): produce the set while faults hit the cluster
ClusterDriver = Callable[[ClusterStack], None]


def run_cluster(tmp: Path, drive: ClusterDriver, reference_ms: int) -> tuple[LiveRun, list[int]]:
    """``pulse up --cluster``, the driver, ``pulse status --wait``, ``pulse down``, a dump of
    the warehouse. Also returns every pid ``pulse status`` showed before ``down``."""
    tmp.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    env = cluster_env(tmp)
    live = ClusterStack(tmp, env, began)
    saved = dict(os.environ)
    os.environ.update(env)  # the in-process monitors read the same settings as the commands
    pids: list[int] = []
    try:
        live.note(pulse(env, "up", "--cluster").strip().splitlines()[-1])
        live.wait("job running", lambda: job_running(live))
        drive(live)
        live.note("driver done")
        waited = subprocess.run(
            [sys.executable, "-m", "pipelines", "status", "--wait", "--timeout", str(DEADLINE_S),
             "--settle", str(SETTLE_S)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=DEADLINE_S + 120,
        )  # fmt: skip
        assert waited.returncode == 0, f"{waited.stdout}\n{waited.stderr}"
        live.note("stored and settled")
        snapshot = live.status()
        # what a failure needs: streams holding the watermark, where Flink's sinks stand
        flink = flink_job_state(live.rest_port)
        marks = flink.sink_watermarks if flink else None
        live.note(f"warnings {snapshot.get('warnings')}, sink watermarks {marks}")
        pids = [c["pid"] for c in snapshot["components"].values() if c.get("pid")]
        records = asyncio.run(topic_records(live.bootstrap, COUNTED_PREFIXES))
        cutoff = final_watermark_cutoff(live.bootstrap, reference_ms)
    finally:
        down = subprocess.run(
            [sys.executable, "-m", "pipelines", "down"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        os.environ.clear()
        os.environ.update(saved)
    assert down.returncode == 0, down.stdout + down.stderr
    dump_in_subprocess(tmp / "wh-streaming", tmp / "dump-streaming", env)
    logs = {p.stem: p for p in (tmp / "stack").glob("*.log")}
    run = LiveRun(
        tmp / "dump-streaming",
        cutoff,
        logs,
        time.monotonic() - began,
        events=live.events,
        records=records,
    )
    return run, pids


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (an exited process its parent has not reaped yet does not)."""
    return proc_cmdline(pid) is not None and not is_zombie(pid)


def left_behind(pids: list[int], grace_s: float = 10.0) -> list[int]:
    """The ``pids`` still running after ``grace_s`` (processes finishing their exit)."""
    deadline = time.monotonic() + grace_s
    while [pid for pid in pids if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.5)
    return [pid for pid in pids if alive(pid)]
