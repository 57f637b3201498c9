"""The local Flink session cluster (:mod:`pipelines.local.flink_cluster`) with real processes.

One cluster for the module (a JobManager and two TaskManagers with two slots each, random
loopback ports), then in order: the three JVMs run and each serves ``flink_*`` series on its
``/metrics``, and a second ``start()`` changes nothing; a stateful Python job
(``flink_stateful_job.py``: keyed ``ValueState`` in a Python function, a SQL aggregation)
submitted with ``flink run`` at parallelism 2 checkpoints, survives ``kill -9`` of a TaskManager
(restored from its checkpoint, the TaskManager's slots back once it is restarted); stopped with
a savepoint, it is submitted again at parallelism 1 from that savepoint (REST shows the
restore); a killed JobManager comes back with its TaskManagers but without its jobs (no high
availability), and the job is submitted again from the newest retained checkpoint; ``stop()``
leaves no JVM behind.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.local.flink_cluster import LocalFlinkCluster
from pipelines.local.processes import free_ports, is_zombie, proc_cmdline

pytestmark = pytest.mark.integration

JOB = Path(__file__).with_name("flink_stateful_job.py")
TIMEOUT_S = 120.0  # a limit, not a wait: three JVMs and a client JVM on a shared 2-core machine


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFlinkCluster]:
    base = tmp_path_factory.mktemp("flink-cluster")
    rest_port, *metrics_ports = free_ports(4)
    flink = LocalFlinkCluster(
        base / "home",
        rest_port=rest_port,
        taskmanagers=2,
        slots_per_taskmanager=2,
        checkpoint_dir=base / "checkpoints",
        savepoint_dir=base / "savepoints",
        metrics_ports=metrics_ports,
    )
    try:
        flink.start()
        yield flink
    finally:
        flink.stop()


@pytest.fixture(scope="module")
def jobs() -> dict[str, str]:
    """Job ids handed from one test to the next (they run in file order)."""
    return {}


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def wait_for(what: str, check: Any, timeout: float = TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def completed_checkpoints(flink: LocalFlinkCluster, job_id: str) -> int:
    return int(flink.checkpoints(job_id)["counts"]["completed"])


def parallelisms(flink: LocalFlinkCluster, job_id: str) -> set[int]:
    return {int(v["parallelism"]) for v in flink.job(job_id)["vertices"]}


def test_processes_run_and_serve_metrics(cluster: LocalFlinkCluster) -> None:
    procs = cluster.processes()
    assert [p.name for p in procs] == ["jobmanager", "taskmanager-1", "taskmanager-2"]
    assert [p.role for p in procs] == ["jobmanager", "taskmanager", "taskmanager"]
    assert all(p.state == "running" for p in procs), procs
    pids = [p.pid for p in procs]
    assert None not in pids and len(set(pids)) == 3
    for proc in procs:
        assert proc.metrics_url is not None and proc.log_file.is_file()
        series = [
            line for line in scrape(proc.metrics_url).splitlines() if line.startswith("flink_")
        ]
        assert series, f"no flink_ series on {proc.metrics_url} ({proc.name})"
    registered = cluster.registered_taskmanagers()
    assert sorted(registered) == ["taskmanager-1", "taskmanager-2"]
    assert all(int(tm["slotsNumber"]) == 2 for tm in registered.values())

    cluster.start()  # idempotent: nothing restarted
    assert [p.pid for p in cluster.processes()] == pids


def test_job_survives_a_taskmanager_kill(cluster: LocalFlinkCluster, jobs: dict[str, str]) -> None:
    job_id = cluster.submit(parallelism=2, script=JOB)
    jobs["first"] = job_id
    cluster.wait_running(job_id, TIMEOUT_S)
    assert parallelisms(cluster, job_id) == {2}
    wait_for("a completed checkpoint", lambda: completed_checkpoints(cluster, job_id) >= 1)
    assert cluster.checkpoints(job_id)["latest"]["restored"] is None

    cluster.kill_taskmanager(1)
    states = {p.name: p.state for p in cluster.processes()}
    assert states == {"jobmanager": "running", "taskmanager-1": "dead", "taskmanager-2": "running"}
    cluster.start_taskmanager(1)
    restored = wait_for(
        "the restore from a checkpoint",
        lambda: cluster.checkpoints(job_id)["latest"]["restored"],
    )
    assert restored["is_savepoint"] is False
    assert job_id in restored["external_path"]  # one of its own retained checkpoints
    cluster.wait_running(job_id, TIMEOUT_S)
    registered = cluster.registered_taskmanagers()
    assert sorted(registered) == ["taskmanager-1", "taskmanager-2"]
    assert sum(int(tm["slotsNumber"]) for tm in registered.values()) == 4  # the slots are back
    assert all(p.state == "running" for p in cluster.processes())


def test_savepoint_then_restore_at_parallelism_1(
    cluster: LocalFlinkCluster, jobs: dict[str, str]
) -> None:
    first = jobs["first"]
    savepoint = cluster.stop_with_savepoint(first)
    assert savepoint.parent == cluster.savepoint_dir
    assert (savepoint / "_metadata").is_file()
    assert cluster.job(first)["state"] == "FINISHED"

    second = cluster.submit(parallelism=1, from_path=savepoint, script=JOB)
    jobs["second"] = second
    cluster.wait_running(second, TIMEOUT_S)
    assert parallelisms(cluster, second) == {1}
    restored = cluster.checkpoints(second)["latest"]["restored"]
    assert restored is not None and restored["is_savepoint"] is True
    assert restored["external_path"].rstrip("/").endswith(savepoint.name)

    wait_for("a completed checkpoint", lambda: completed_checkpoints(cluster, second) >= 1)
    latest = cluster.latest_checkpoint()
    assert latest is not None and latest.parent.name == second
    assert {job["jid"]: job["state"] for job in cluster.jobs()} == {
        first: "FINISHED",
        second: "RUNNING",
    }


def test_jobmanager_kill_then_resubmit_from_the_latest_checkpoint(
    cluster: LocalFlinkCluster, jobs: dict[str, str]
) -> None:
    second = jobs["second"]
    cluster.kill_jobmanager()
    assert cluster.processes()[0].state == "dead"
    cluster.start_jobmanager()  # REST again, and the running TaskManagers registered again
    assert sorted(cluster.registered_taskmanagers()) == ["taskmanager-1", "taskmanager-2"]
    assert cluster.jobs() == []  # no high availability: the JobManager forgot its jobs
    latest = cluster.latest_checkpoint()  # retained: the job was not stopped, only lost
    assert latest is not None and latest.parent.name == second

    third = cluster.submit(parallelism=2, from_path=latest, script=JOB)
    cluster.wait_running(third, TIMEOUT_S)
    restored = cluster.checkpoints(third)["latest"]["restored"]
    assert restored is not None and restored["external_path"].rstrip("/").endswith(
        f"{second}/{latest.name}"
    )


def test_stop_leaves_no_jvm(cluster: LocalFlinkCluster) -> None:
    pids = [p.pid for p in cluster.processes() if p.pid is not None]
    assert len(pids) == 3
    assert cluster.stop() is True
    assert all(p.state == "stopped" and p.pid is None for p in cluster.processes())
    for pid in pids:
        assert proc_cmdline(pid) is None or is_zombie(pid), f"pid {pid} still runs"
    home = str(cluster.home)
    left = [
        pid
        for pid in (int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit())
        if not is_zombie(pid) and any(home in part for part in proc_cmdline(pid) or [])
    ]
    assert left == [], f"processes of {home} left: {left}"
    assert cluster.stop() is False  # nothing left to stop
