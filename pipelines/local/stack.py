"""``pulse up`` / ``pulse down`` (``make up`` / ``make down``): the local streaming stack as
background processes.

Components, started in this order and stopped in reverse (``down`` stops the
loader LAST among the jobs, so every batch the others produced can still be
stored and the warehouse folder is closed and unlocked; the broker goes
after it):

* ``kafka``  the local broker (:mod:`pipelines.local.kafka_broker`), then the topics;
* ``ingest`` the Faust ingest (``python -m jobs.faust_ingest worker``; skipped
  with a note while that module does not exist; ``PULSE_INGEST__COMMAND`` overrides);
* ``flink``  ``python -m jobs.flink_streaming`` (checkpoints in ``.pulse/flink``);
* ``loader`` ``python -m jobs.faust_loader worker`` (the only process that opens
  an embedded warehouse folder while the stack runs).

Each job runs in its own session (process group) with ``<stack>/<name>.pid``
and ``<stack>/<name>.log`` (``.pulse/stack`` by default, ``PULSE_STACK__DIR``).
A pid is only ever signalled after its command line was checked to be the job
started here (a recycled pid is never killed). ``up`` and ``down`` are safe to
repeat. ``up --as-of`` gives the jobs it starts a fixed reference clock (a backfill); it is
recorded in ``<stack>/as_of`` for ``pulse status`` and removed by ``down``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import Settings
from pipelines.connectors.kafka_topics import ensure_topics, pulse_topics
from pipelines.kafka_clients import aiokafka_options
from pipelines.local.kafka_broker import LocalKafkaBroker, parse_bootstrap
from pipelines.local.processes import is_zombie, proc_cmdline

REPO = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Job:
    name: str
    argv: tuple[str, ...]
    marker: str  # must appear in /proc/<pid>/cmdline
    #: variables added to the stack's environment for this job alone (e.g. an ingest worker's
    #: data folder and metrics port when several run on one machine)
    env: tuple[tuple[str, str], ...] = ()

    def pid_file(self, stack_dir: Path) -> Path:
        return stack_dir / f"{self.name}.pid"

    def log_file(self, stack_dir: Path) -> Path:
        return stack_dir / f"{self.name}.log"


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment plus the reference clock of ``settings`` for the jobs."""
    from pipelines.config import environment_for_children

    env = environment_for_children()
    if settings.as_of is not None:
        env["PULSE_AS_OF"] = str(settings.as_of)
    return env


def stack_dir(settings: Settings) -> Path:
    """Where the pid files and logs of the jobs are."""
    return Path(settings.stack.dir)


def ingest_argv(settings: Settings) -> tuple[str, ...]:
    """The command of an ingest worker (``ingest.command`` when set)."""
    if settings.ingest.command:
        return tuple(shlex.split(settings.ingest.command))
    return (sys.executable, "-m", "jobs.faust_ingest", "worker", "--without-web", "-l", "info")


def loader_job() -> Job:
    return Job(
        "loader",
        (sys.executable, "-m", "jobs.faust_loader", "worker", "--without-web", "-l", "info"),
        "jobs.faust_loader",
    )


def jobs(settings: Settings) -> list[Job]:
    """The job processes in start order (ingest only when its module exists)."""
    out = []
    if settings.ingest.command:
        argv = ingest_argv(settings)
        out.append(Job("ingest", argv, argv[-1] if len(argv) < 3 else argv[2]))
    elif (REPO / "jobs" / "faust_ingest.py").is_file():
        out.append(Job("ingest", ingest_argv(settings), "jobs.faust_ingest"))
    out.append(Job("flink", (sys.executable, "-m", "jobs.flink_streaming"), "jobs.flink_streaming"))
    out.append(loader_job())
    return out


def _cmdline(pid: int) -> str | None:
    parts = proc_cmdline(pid)
    if parts is None or is_zombie(pid):
        return None
    return " ".join(parts)


def job_pid(job: Job, stack_dir: Path) -> int | None:
    """The pid of ``job`` if it runs (checked by command line), else None."""
    try:
        pid = int(job.pid_file(stack_dir).read_text().strip())
    except (OSError, ValueError):
        return None
    cmd = _cmdline(pid)
    return pid if cmd is not None and job.marker in cmd else None


def job_state(job: Job, stack_dir: Path) -> str:
    """``running``, ``dead`` (pid file left by a process that died) or ``stopped``."""
    if job_pid(job, stack_dir) is not None:
        return "running"
    return "dead" if job.pid_file(stack_dir).exists() else "stopped"


def _with_job_env(env: dict[str, str] | None, job: Job) -> dict[str, str] | None:
    """The child's environment: ``env`` (None: this process's) plus the job's own variables."""
    if not job.env:
        return env
    from pipelines.config import environment_for_children

    return {**(env if env is not None else environment_for_children()), **dict(job.env)}


def start_job(job: Job, stack_dir: Path, env: dict[str, str] | None = None) -> tuple[int, bool]:
    """Start ``job`` in the background unless it runs; ``(pid, started_now)``. ``env``: the
    child's whole environment (None: this process's)."""
    pid = job_pid(job, stack_dir)
    if pid is not None:
        return pid, False
    stack_dir.mkdir(parents=True, exist_ok=True)
    with job.log_file(stack_dir).open("ab") as log:
        log.write(f"\n===== {time.strftime('%F %T')} starting {' '.join(job.argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            job.argv,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=_with_job_env(env, job),
        )
    job.pid_file(stack_dir).write_text(f"{proc.pid}\n")
    return proc.pid, True


def stop_job(job: Job, stack_dir: Path, timeout: float = STOP_TIMEOUT_S) -> bool:
    """SIGTERM the job (it shuts down cleanly: Flink cancels with its checkpoint kept,
    Faust stops its agents), wait, then SIGKILL its process group. Whether one ran."""
    pid = job_pid(job, stack_dir)
    if pid is None:
        job.pid_file(stack_dir).unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _cmdline(pid) is not None:
        time.sleep(0.2)
    if _cmdline(pid) is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    # children of the group (e.g. PyFlink's JVM) go with it
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, 0)
        time.sleep(1.0)
        os.killpg(pid, signal.SIGKILL)
    job.pid_file(stack_dir).unlink(missing_ok=True)
    return True


def broker(settings: Settings) -> LocalKafkaBroker:
    """The local broker: its folder and the port of ``kafka.bootstrap``."""
    _, port = parse_bootstrap(settings.kafka.bootstrap)
    return LocalKafkaBroker(Path(settings.kafka.data_dir), port)


def as_of_file(settings: Settings) -> Path:
    """Where ``up --as-of`` records the reference clock of the jobs it started."""
    return stack_dir(settings) / "as_of"


def recorded_as_of(settings: Settings) -> int | None:
    """The reference clock the running stack was started with (None: the wall clock)."""
    try:
        return int(as_of_file(settings).read_text().strip())
    except (OSError, ValueError):
        return None


def up(settings: Settings, partitions: int = 2) -> int:
    """Start the broker, create the topics, start the jobs (the ones not running).

    ``settings.as_of`` (``pulse up --as-of``) is passed to the jobs as ``PULSE_AS_OF``.
    """
    from pipelines.local import cluster_stack

    if cluster_stack.is_cluster_stack(settings):
        raise cluster_stack.ClusterError(
            "the local CLUSTER runs (pulse up --cluster): `pulse down` first, or "
            "`pulse up --cluster` to start what is down"
        )
    kafka = broker(settings)
    was_running = kafka.is_running()
    kafka.start()
    print(f"kafka:  {'already running' if was_running else 'started'} on {kafka.bootstrap}")
    specs = pulse_topics(partitions, prefix=settings.kafka.topic_prefix)
    report = asyncio.run(
        ensure_topics(kafka.bootstrap, specs, client_options=aiokafka_options(settings.kafka))
    )
    print(f"topics: {len(report.created)} created, {len(report.existing)} present")
    for name, (have, want) in sorted(report.mismatched.items()):
        print(f"topics: ! {name} has {have} partitions, {want} asked (left unchanged)")
    where = stack_dir(settings)
    where.mkdir(parents=True, exist_ok=True)
    names = [job.name for job in jobs(settings)]
    if "ingest" not in names:
        print("ingest: jobs/faust_ingest.py not found: not started (set PULSE_INGEST__COMMAND)")
    env = child_environment(settings)
    running_as_of = recorded_as_of(settings)
    for job in jobs(settings):
        pid, started = start_job(job, where, env)
        what = "started" if started else "already running"
        print(f"{job.name}: {what} (pid {pid}), log {job.log_file(where)}")
        if not started and settings.as_of != running_as_of:
            print(f"{job.name}: ! keeps its reference clock: `pulse down` first to change it")
    if settings.as_of is not None and running_as_of is None:
        as_of_file(settings).write_text(f"{settings.as_of}\n")
    print(
        "clock:  "
        + (
            f"as of {settings.as_of} (backfill: the future rule uses this instant)"
            if settings.as_of is not None
            else "wall clock"
        )
    )
    return 0


def down(settings: Settings) -> int:
    """Stop the stack: the single-process one, or the cluster of ``pulse up --cluster``."""
    from pipelines.local import cluster_stack

    if cluster_stack.is_cluster_stack(settings):
        code = cluster_stack.down_cluster(settings)
        as_of_file(settings).unlink(missing_ok=True)
        return code
    where = stack_dir(settings)
    for job in reversed(jobs(settings)):  # loader last of the jobs
        if job.name == "loader":
            continue
        print(f"{job.name}: {'stopped' if stop_job(job, where) else 'not running'}")
    loader = next(job for job in jobs(settings) if job.name == "loader")
    print(f"loader: {'stopped' if stop_job(loader, where) else 'not running'}")
    kafka = broker(settings)
    print(f"kafka:  {'stopped' if kafka.stop() else 'not running'}")
    as_of_file(settings).unlink(missing_ok=True)
    return 0
