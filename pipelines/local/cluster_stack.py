"""``pulse up --cluster`` (``make up-cluster``): the streaming stack on a local CLUSTER.

What runs, each its own process on 127.0.0.1 (settings section ``cluster``, docs/cluster.md):

* ``kafka-1..3``  three KRaft nodes, each broker and controller
  (:class:`~pipelines.local.kafka_cluster.LocalKafkaCluster`); topics with replication factor
  3 and ``min.insync.replicas=2``; every producer of pulse uses ``acks=all`` with idempotence;
* ``jobmanager``, ``taskmanager-1..N``  a Flink session cluster with RocksDB state, checkpoints
  and savepoints in local folders that stand in for object storage
  (:class:`~pipelines.local.flink_cluster.LocalFlinkCluster`);
* the streaming job, submitted with ``flink run`` through ``jobs/flink_streaming.py`` (the same
  entry point as the FlinkDeployment of ``infra/k8s``) at ``cluster.parallelism``;
* ``ingest-1..M``  Faust ingest workers in one consumer group, and the ``loader``, as
  :mod:`pipelines.local.stack` runs them, with the cluster's bootstrap.

``up_cluster`` is safe to repeat: it starts what is down and touches nothing that runs. When
no streaming job runs on the session cluster (first start, or after the JobManager was
restarted: this local cluster has no high availability), it submits the job from the newest
restore point: the newest savepoint (``pulse rescale``, ``pulse down``) or retained checkpoint,
whichever is newer. ``down_cluster`` stops the job with a savepoint, then the jobs (the loader
last), the Flink processes and the Kafka nodes.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import metrics
from pipelines.config import Settings
from pipelines.connectors.flink_kafka import connector_jar
from pipelines.connectors.kafka_topics import ensure_topics, pulse_topics
from pipelines.kafka_clients import aiokafka_options
from pipelines.local.flink_cluster import FlinkClusterError, LocalFlinkCluster
from pipelines.local.kafka_cluster import LocalKafkaCluster
from pipelines.local.stack import (
    Job,
    as_of_file,
    broker,
    child_environment,
    ingest_argv,
    loader_job,
    recorded_as_of,
    stack_dir,
    start_job,
    stop_job,
)

REPLICATION_FACTOR = 3
JOB_NAME = "pulse-streaming"
#: job states in which the streaming job counts as present (not to be submitted again)
LIVE_STATES = ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "RECONCILING")
SUBMIT_TIMEOUT_S = 300.0


class ClusterError(RuntimeError):
    """A piece of the local cluster could not be started, or the job not be submitted."""


def cluster_dir(settings: Settings) -> Path:
    return Path(settings.cluster.dir)


def marker_file(settings: Settings) -> Path:
    """Written by ``up --cluster`` (bootstrap, REST URL), removed by ``down``: tells ``pulse
    status`` and ``pulse down`` that the stack is the cluster."""
    return stack_dir(settings) / "cluster.json"


def is_cluster_stack(settings: Settings) -> bool:
    return marker_file(settings).is_file()


def kafka_cluster(settings: Settings) -> LocalKafkaCluster:
    c = settings.cluster
    return LocalKafkaCluster(
        cluster_dir(settings) / "kafka",
        c.kafka_ports,
        controller_ports=c.kafka_controller_ports,
        heap=c.kafka_heap,
    )


def flink_cluster(settings: Settings) -> LocalFlinkCluster:
    c = settings.cluster
    where = cluster_dir(settings)
    return LocalFlinkCluster(
        where / "flink",
        rest_port=settings.flink.rest_port,
        taskmanagers=c.taskmanagers,
        slots_per_taskmanager=c.slots_per_taskmanager,
        checkpoint_dir=where / "checkpoints",
        savepoint_dir=where / "savepoints",
        metrics_ports=(settings.metrics.flink_port, *c.taskmanager_metrics_ports),
        jobmanager_memory=c.jobmanager_memory,
        taskmanager_memory=c.taskmanager_memory,
        extra_jars=(connector_jar(Path(settings.jars_dir)),),
        max_parallelism=c.max_parallelism,
        rpc_port=c.jobmanager_rpc_port,
    )


def cluster_environment(settings: Settings) -> dict[str, str]:
    """The environment of the cluster's jobs: the stack's, with the three nodes' bootstrap."""
    env = child_environment(settings)
    env["PULSE_KAFKA__BOOTSTRAP"] = settings.kafka.bootstrap
    # the topics the jobs create themselves (ingest state changelogs, Faust's own) must survive
    # a node as the stack's topics do
    env["PULSE_KAFKA__REPLICATION_FACTOR"] = str(REPLICATION_FACTOR)
    return env


def cluster_settings(settings: Settings) -> Settings:
    """``settings`` with the bootstrap of the cluster's three nodes."""
    bootstrap = ",".join(f"127.0.0.1:{port}" for port in settings.cluster.kafka_ports)
    kafka = settings.kafka.model_copy(update={"bootstrap": bootstrap})
    return settings.model_copy(update={"kafka": kafka})


def ingest_worker_name(n: int) -> str:
    return f"ingest-{n}"


def cluster_jobs(settings: Settings) -> list[Job]:
    """The Faust jobs of the cluster stack: the ingest workers (one group, each with its own
    data folder and metrics port), then the loader."""
    c = settings.cluster
    out = []
    for n, port in enumerate(c.ingest_metrics_ports, start=1):
        name = ingest_worker_name(n)
        env = (
            ("PULSE_INGEST__DATA_DIR", str(Path(settings.ingest.data_dir) / name)),
            ("PULSE_METRICS__INGEST_PORT", str(port)),
        )
        argv = ingest_argv(settings)
        out.append(Job(name, argv, "jobs.faust_ingest", env))
    out.append(loader_job())
    return out


def job_metrics_url(settings: Settings, job: Job) -> str | None:
    """The ``/metrics`` URL of one of :func:`cluster_jobs` (an ingest worker's own port)."""
    component = "ingest" if job.marker == "jobs.faust_ingest" else "loader"
    metrics_settings = settings.metrics
    port = dict(job.env).get("PULSE_METRICS__INGEST_PORT")
    if port is not None:
        metrics_settings = metrics_settings.model_copy(update={"ingest_port": int(port)})
    return metrics.metrics_url(metrics_settings, component)


def streaming_job(flink: LocalFlinkCluster) -> dict[str, Any] | None:
    """The live streaming job on the session cluster (None: none)."""
    live = [
        job
        for job in flink.jobs()
        if job.get("name") == JOB_NAME and job.get("state") in LIVE_STATES
    ]
    return max(live, key=lambda j: int(j.get("start-time", 0))) if live else None


def restore_point(flink: LocalFlinkCluster, savepoint_dir: Path) -> Path | None:
    """The newest savepoint or retained checkpoint (None: the job starts from its group's
    committed offsets, a new group at the earliest offset)."""
    found = [p for p in savepoint_dir.glob("savepoint-*") if (p / "_metadata").is_file()]
    checkpoint = flink.latest_checkpoint()
    if checkpoint is not None:
        found.append(checkpoint)
    return max(found, key=lambda p: (p / "_metadata").stat().st_mtime) if found else None


def submit_streaming_job(
    settings: Settings, flink: LocalFlinkCluster, parallelism: int, from_path: Path | None
) -> str:
    """``flink run`` of ``jobs/flink_streaming.py`` with the cluster's settings; the job id."""
    env = cluster_environment(settings)
    # the job's own checkpoint folder is the cluster's (retained checkpoints are found there)
    env["PULSE_FLINK__CHECKPOINT_DIR"] = str(cluster_dir(settings) / "checkpoints")
    job_id = flink.submit(parallelism=parallelism, from_path=from_path, env=env)
    flink.wait_running(job_id, SUBMIT_TIMEOUT_S)
    return job_id


@dataclass(frozen=True)
class Marker:
    bootstrap: str
    rest_url: str

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"bootstrap": self.bootstrap, "rest_url": self.rest_url}))


def up_cluster(settings: Settings) -> int:
    """Start every piece of the local cluster that is not running; submit the job if none
    runs. Prints one line per piece."""
    if broker(settings).is_running():
        raise ClusterError(
            "the single-process stack runs (pulse up): `pulse down` first; the cluster's first "
            "Kafka node takes the same port"
        )
    settings = cluster_settings(settings)
    kafka = kafka_cluster(settings)
    kafka.start()
    for node in kafka.nodes():
        print(f"{node.name}: {node.state} (pid {node.pid}) on 127.0.0.1:{node.port}")
    specs = pulse_topics(settings.cluster.partitions, prefix=settings.kafka.topic_prefix)
    report = asyncio.run(
        ensure_topics(
            kafka.bootstrap,
            specs,
            replication_factor=REPLICATION_FACTOR,
            client_options=aiokafka_options(settings.kafka),
        )
    )
    print(
        f"topics: {len(report.created)} created (replication factor {REPLICATION_FACTOR}), "
        f"{len(report.existing)} present"
    )
    flink = flink_cluster(settings)
    flink.prepare()
    flink.start()
    for proc in flink.processes():
        print(f"{proc.name}: {proc.state} (pid {proc.pid}), metrics {proc.metrics_url or 'off'}")
    print(f"flink:  REST and web UI {flink.rest_url}")
    Marker(kafka.bootstrap, flink.rest_url).write(marker_file(settings))
    where = stack_dir(settings)
    env = cluster_environment(settings)
    running_as_of = recorded_as_of(settings)
    Path(settings.ingest.data_dir).mkdir(parents=True, exist_ok=True)  # the workers' folders in it
    for job in cluster_jobs(settings):
        pid, started = start_job(job, where, env)
        what = "started" if started else "already running"
        print(f"{job.name}: {what} (pid {pid}), log {job.log_file(where)}")
        if not started and settings.as_of != running_as_of:
            print(f"{job.name}: ! keeps its reference clock: `pulse down` first to change it")
    if settings.as_of is not None and running_as_of is None:
        as_of_file(settings).write_text(f"{settings.as_of}\n")
    running = streaming_job(flink)
    if running is not None:
        print(f"job:    {running['jid']} {running['state']} (left alone)")
        return 0
    start_from = restore_point(flink, cluster_dir(settings) / "savepoints")
    began = time.monotonic()
    job_id = submit_streaming_job(settings, flink, settings.cluster.parallelism, start_from)
    print(
        f"job:    {job_id} RUNNING at parallelism {settings.cluster.parallelism} "
        f"from {start_from or 'the group offsets'} ({time.monotonic() - began:.0f} s)"
    )
    return 0


def rescale(settings: Settings, parallelism: int) -> int:
    """Stop the streaming job with a savepoint and submit it again from that savepoint at
    ``parallelism`` (also the way to upgrade the job: the new build restores the savepoint)."""
    if parallelism > settings.cluster.max_parallelism:
        raise ClusterError(
            f"parallelism {parallelism} exceeds cluster.max_parallelism "
            f"{settings.cluster.max_parallelism} (fixed for the life of the savepoints)"
        )
    settings = cluster_settings(settings)
    flink = flink_cluster(settings)
    running = streaming_job(flink)
    if running is None:
        raise ClusterError("no streaming job runs on the cluster: `pulse up --cluster` first")
    began = time.monotonic()
    savepoint = flink.stop_with_savepoint(str(running["jid"]))
    print(f"job:    {running['jid']} stopped with savepoint {savepoint}")
    job_id = submit_streaming_job(settings, flink, parallelism, savepoint)
    print(
        f"job:    {job_id} RUNNING at parallelism {parallelism} from the savepoint "
        f"({time.monotonic() - began:.0f} s)"
    )
    return 0


def down_cluster(settings: Settings) -> int:
    """Savepoint and stop the job, stop the ingest workers, the loader (last of the jobs, the
    warehouse folder is closed), the Flink processes and the Kafka nodes."""
    settings = cluster_settings(settings)
    flink = flink_cluster(settings)
    running = streaming_job(flink) if flink.processes()[0].state == "running" else None
    if running is not None:
        try:
            savepoint = flink.stop_with_savepoint(str(running["jid"]))
            print(f"job:    stopped with savepoint {savepoint}")
        except (FlinkClusterError, OSError) as exc:  # the checkpoints remain; stop goes on
            print(f"job:    ! no savepoint ({exc}); the next start uses the latest checkpoint")
    where = stack_dir(settings)
    for job in cluster_jobs(settings):  # the loader is last
        print(f"{job.name}: {'stopped' if stop_job(job, where) else 'not running'}")
    print(f"flink:  {'stopped' if flink.stop() else 'not running'}")
    print(f"kafka:  {'stopped' if kafka_cluster(settings).stop() else 'not running'}")
    marker_file(settings).unlink(missing_ok=True)
    return 0


def cluster_components(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every node of the cluster stack for ``pulse status``: name -> role, state, pid,
    address and metrics URL."""
    settings = cluster_settings(settings)
    out: dict[str, dict[str, Any]] = {}
    for node in kafka_cluster(settings).nodes():
        out[node.name] = {
            "role": "kafka " + node.role,
            "state": node.state,
            "pid": node.pid,
            "address": f"127.0.0.1:{node.port}",
            "log": str(node.log_file),
            "metrics_url": None,
        }
    flink = flink_cluster(settings)
    for proc in flink.processes():
        out[proc.name] = {
            "role": f"flink {proc.role}",
            "state": proc.state,
            "pid": proc.pid,
            "address": flink.rest_url if proc.role == "jobmanager" else None,
            "log": str(proc.log_file),
            "metrics_url": proc.metrics_url,
        }
    return out
