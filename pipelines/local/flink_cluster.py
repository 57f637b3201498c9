"""A local Flink standalone session cluster: one JobManager and N TaskManagers, each its own
JVM, bound to loopback, for ``flink run`` submissions of the streaming job.

The Flink distribution is the one in the PyFlink wheel (``pyflink/bin``, ``lib``, ``opt``).
:meth:`LocalFlinkCluster.prepare` builds ``home`` from it: ``bin/`` is copied (the scripts
derive FLINK_HOME from their own resolved folder), ``opt/`` and ``lib/`` are real folders of
symlinks, ``lib/`` with the distribution's jars plus ``flink-python`` (Python functions on the
TaskManagers), the Prometheus reporter and ``extra_jars`` (the Kafka connector), and
``conf/config.yaml`` is written from the arguments over the distribution's. Each process keeps
its pid in ``home/run/<name>.pid`` and its whole log (console) in ``home/log/<name>.log``::

    cluster = LocalFlinkCluster(
        Path(".pulse/flink-cluster"),
        checkpoint_dir=Path(".pulse/flink/checkpoints"),
        savepoint_dir=Path(".pulse/flink/savepoints"),
        extra_jars=[connector_jar(Path(settings.jars_dir))],
    )
    cluster.start()                                   # REST on http://127.0.0.1:8181
    job = cluster.submit(parallelism=2)               # flink run -d -py jobs/flink_streaming.py
    cluster.wait_running(job, timeout=120)
    savepoint = cluster.stop_with_savepoint(job)
    cluster.submit(parallelism=1, from_path=savepoint)
    cluster.stop()

Guarantees:

* every JVM runs ``jobmanager.sh`` / ``taskmanager.sh start-foreground`` (the script execs
  into the JVM, so the pid started is the JVM's) in its own session (process group); a pid is
  only ever signalled after its ``/proc`` command line was checked to be this home's process
  (a recycled pid is never killed), and :meth:`stop` leaves no JVM of this home behind (SIGTERM,
  then SIGKILL of the process group, then a sweep of ``/proc`` for ``--configDir <home>/conf``);
* :meth:`start` is idempotent: it starts the processes that do not run and leaves running ones
  untouched, then waits until REST answers and every TaskManager is registered;
* REST, RPC, blob and data ports bind 127.0.0.1 only; the Prometheus reporter (one port per
  JVM, ``metrics_ports``) binds every interface (the reporter has no address option);
* checkpoints (RocksDB, retained on cancellation and failure, discarded when a job finishes)
  go to ``checkpoint_dir``, savepoints to ``savepoint_dir``; a fixed-delay restart strategy
  restarts a job whose TaskManager died from its last checkpoint as soon as enough slots are
  free (a job below the cluster's slots may restart on the survivors at once; standalone mode
  starts no TaskManager itself: :meth:`start_taskmanager` brings the slots back). The
  JobManager has no high availability: a killed JobManager loses its jobs (their checkpoints
  stay); resubmit from :meth:`latest_checkpoint`.

Memory (process sizes; JVM heap, metaspace, managed and network memory are derived from them by
Flink): the JobManager 768m (resident ~0.4 GB measured), a TaskManager 1280m with 2 slots
(resident ~0.6 GB with the test job, ~0.85 GB with the streaming job on idle topics). The job's
Python runs in PyFlink's ``thread`` mode, embedded in the TaskManager JVM (no Python worker
process, so no managed memory goes to Python workers): the managed memory (40 %, ~330m) is the
slots' RocksDB budget and the interpreter lives in the JVM overhead and the headroom above.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from pipelines.config import environment_for_children
from pipelines.local.processes import LOOPBACK, free_port, is_zombie, log_tail, proc_cmdline
from pipelines.streaming.checkpoints import latest_checkpoint

REPO = Path(__file__).resolve().parents[2]
JOB_SCRIPT = REPO / "jobs" / "flink_streaming.py"
#: passed first to the job script by :meth:`LocalFlinkCluster.submit`: "runs under ``flink run``"
SUBMIT_FLAG = "--submit"

JOBMANAGER_CLASS = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
TASKMANAGER_CLASS = "org.apache.flink.runtime.taskexecutor.TaskManagerRunner"
PROMETHEUS_FACTORY = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
#: the TaskManager's log line once the ResourceManager accepted it
REGISTERED_LINE = "Successful registration at resource manager"
DEFAULT_METRICS_PORT = 9250
STOP_TIMEOUT_S = 30.0
TERMINAL_STATES = ("FAILED", "CANCELED", "FINISHED")


class FlinkClusterError(RuntimeError):
    """The local cluster did not start, a submission failed, or a job did not get there."""


@dataclass(frozen=True)
class FlinkProcessStatus:
    """One JVM of the cluster as :meth:`LocalFlinkCluster.processes` sees it."""

    name: str  # "jobmanager", "taskmanager-1", ...
    role: str  # "jobmanager" | "taskmanager"
    pid: int | None
    state: str  # "running" | "dead" (pid file left by a process that died) | "stopped"
    metrics_url: str | None
    log_file: Path


@dataclass(frozen=True)
class _Process:
    name: str
    role: str
    metrics_port: int  # 0: no reporter


def flink_distribution() -> Path:
    """The Flink distribution shipped in the installed PyFlink wheel."""
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def _glob_one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if not found:
        raise FileNotFoundError(f"no {pattern} in {folder}")
    return found[-1]


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


class LocalFlinkCluster:
    """A standalone session cluster on this machine, its files under ``home``.

    ``metrics_ports``: the Prometheus port of the JobManager, then of each TaskManager (None:
    9250, 9251, ...; an entry 0: no reporter on that JVM). ``rpc_port``: the JobManager's RPC
    port (0: a free port chosen once, at the first :meth:`prepare`, and kept in the config so
    TaskManagers find a restarted JobManager again).
    """

    def __init__(
        self,
        home: Path,
        *,
        rest_port: int = 8181,
        taskmanagers: int = 2,
        slots_per_taskmanager: int = 2,
        checkpoint_dir: Path,
        savepoint_dir: Path,
        metrics_ports: Sequence[int] | None = None,
        jobmanager_memory: str = "768m",
        taskmanager_memory: str = "1280m",
        extra_jars: Sequence[Path] = (),
        max_parallelism: int = 128,
        rpc_port: int = 0,
        python: Path | None = None,
        start_timeout: float = 120.0,
        distribution: Path | None = None,
    ) -> None:
        if taskmanagers < 1 or slots_per_taskmanager < 1:
            raise ValueError("at least one TaskManager with one slot")
        ports = (
            list(metrics_ports)
            if metrics_ports is not None
            else [DEFAULT_METRICS_PORT + i for i in range(taskmanagers + 1)]
        )
        if len(ports) != taskmanagers + 1:
            raise ValueError(
                f"metrics_ports: {taskmanagers + 1} ports (the JobManager, then each "
                f"TaskManager), not {len(ports)}"
            )
        self.home = Path(home).resolve()
        self.rest_port = rest_port
        self.taskmanagers = taskmanagers
        self.slots_per_taskmanager = slots_per_taskmanager
        self.checkpoint_dir = Path(checkpoint_dir).resolve()
        self.savepoint_dir = Path(savepoint_dir).resolve()
        self.metrics_ports = tuple(ports)
        self.jobmanager_memory = jobmanager_memory
        self.taskmanager_memory = taskmanager_memory
        self.extra_jars = tuple(Path(jar).resolve() for jar in extra_jars)
        self.max_parallelism = max_parallelism
        self._rpc_port = rpc_port
        self.python = Path(python) if python is not None else Path(sys.executable)
        self.start_timeout = start_timeout
        self.distribution = distribution
        self._popen: dict[str, subprocess.Popen[bytes]] = {}

    # -- layout ------------------------------------------------------------------------------
    @property
    def rest_url(self) -> str:
        return f"http://{LOOPBACK}:{self.rest_port}"

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def rpc_port(self) -> int:
        """The JobManager's RPC port (known after :meth:`prepare`)."""
        if not self._rpc_port:
            self._rpc_port = self._configured_rpc_port() or 0
        if not self._rpc_port:
            raise FlinkClusterError("the RPC port is chosen by prepare(): call it first")
        return self._rpc_port

    def _processes(self) -> list[_Process]:
        out = [_Process("jobmanager", "jobmanager", self.metrics_ports[0])]
        out += [
            _Process(f"taskmanager-{i}", "taskmanager", self.metrics_ports[i])
            for i in range(1, self.taskmanagers + 1)
        ]
        return out

    def _process(self, name: str) -> _Process:
        return next(p for p in self._processes() if p.name == name)

    def _taskmanager(self, i: int) -> _Process:
        if not 1 <= i <= self.taskmanagers:
            raise ValueError(f"TaskManagers are numbered 1..{self.taskmanagers}, not {i}")
        return self._process(f"taskmanager-{i}")

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        """Console output (the whole log) of process ``name``."""
        return self.log_dir / f"{name}.log"

    # -- prepare -----------------------------------------------------------------------------
    def _configured_rpc_port(self) -> int | None:
        try:
            config = yaml.safe_load((self.conf_dir / "config.yaml").read_text())
            return int(_flatten(config)["jobmanager.rpc.port"])
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
            return None

    def config(self) -> dict[str, str]:
        """The cluster's settings written to ``conf/config.yaml`` (over the distribution's)."""
        return {
            "jobmanager.rpc.address": LOOPBACK,
            "jobmanager.rpc.port": str(self.rpc_port),
            "jobmanager.bind-host": LOOPBACK,
            "jobmanager.memory.process.size": self.jobmanager_memory,
            "taskmanager.bind-host": LOOPBACK,
            "taskmanager.host": LOOPBACK,
            "taskmanager.numberOfTaskSlots": str(self.slots_per_taskmanager),
            "taskmanager.memory.process.size": self.taskmanager_memory,
            # a job below the cluster's slot count spreads over the TaskManagers (so a
            # TaskManager kill hits it) instead of filling the first one
            "taskmanager.load-balance.mode": "SLOTS",
            "rest.address": LOOPBACK,
            "rest.bind-address": LOOPBACK,
            "rest.port": str(self.rest_port),
            "parallelism.default": "1",
            "pipeline.max-parallelism": str(self.max_parallelism),
            "state.backend.type": "rocksdb",
            "execution.checkpointing.dir": self.checkpoint_dir.as_uri(),
            "execution.checkpointing.savepoint-dir": self.savepoint_dir.as_uri(),
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
            "execution.checkpointing.num-retained": "3",
            "restart-strategy.type": "fixed-delay",
            "restart-strategy.fixed-delay.attempts": "1000000",
            "restart-strategy.fixed-delay.delay": "2 s",
            # heartbeats every 2 s: a killed TaskManager fails two heartbeat RPCs and is declared
            # lost within seconds (the default timeout is 50 s)
            "heartbeat.interval": "2 s",
            "heartbeat.timeout": "20 s",
            # deploying a job's tasks (128 at parallelism 4) on a loaded 2-core machine can take
            # longer than the default 10 s RPC timeout: the job then fails and restarts
            "pekko.ask.timeout": "60 s",
            "io.tmp.dirs": str(self.home / "tmp"),
            "web.tmpdir": str(self.home / "tmp" / "web"),
            "env.log.dir": str(self.log_dir),
            "env.pid.dir": str(self.run_dir),
        }

    def prepare(self) -> None:
        """Build ``home`` (idempotent): bin/ copied, opt/ and lib/ of links to the jars,
        conf/config.yaml written, empty plugins/, log/, run/, tmp/."""
        dist = self.distribution or flink_distribution()
        for folder in ("conf", "lib", "log", "run", "tmp", "plugins"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self.savepoint_dir.mkdir(parents=True, exist_ok=True)
        if not (self.home / "bin" / "config.sh").is_file():
            shutil.copytree(dist / "bin", self.home / "bin", dirs_exist_ok=True)
        self._link_folder(dist / "opt", self.home / "opt")
        self._link_jars(dist)
        for name in ("log4j-cli.properties", "log4j.properties", "logback.xml"):
            if (dist / "conf" / name).is_file():
                shutil.copyfile(dist / "conf" / name, self.conf_dir / name)
        # the JVMs' console is their log file (home/log/<name>.log): no second rolling file
        (self.conf_dir / "log4j-console.properties").write_text(_CONSOLE_LOG4J)
        if not self._rpc_port:
            self._rpc_port = self._configured_rpc_port() or free_port()
        base = yaml.safe_load((dist / "conf" / "config.yaml").read_text()) or {}
        config: dict[str, Any] = _flatten(base)
        config.update(self.config())
        text = "# written by pipelines/local/flink_cluster.py (prepare)\n"
        text += yaml.safe_dump(
            {k: str(v) for k, v in config.items()}, default_flow_style=False, width=10_000
        )
        (self.conf_dir / "config.yaml").write_text(text)
        (self.conf_dir / "masters").write_text(f"{LOOPBACK}:{self.rest_port}\n")
        (self.conf_dir / "workers").write_text(f"{LOOPBACK}\n" * self.taskmanagers)

    @staticmethod
    def _link_folder(source: Path, folder: Path) -> None:
        """``folder``: a real folder of links to the files of ``source`` (the client lists
        ``opt/`` without following a link to the folder itself)."""
        folder.mkdir(parents=True, exist_ok=True)
        for item in sorted(source.iterdir()):
            link = folder / item.name
            if not link.is_symlink() and not link.exists():
                link.symlink_to(item, target_is_directory=item.is_dir())

    def _link_jars(self, dist: Path) -> None:
        lib = self.home / "lib"
        wanted = {jar.name: jar for jar in sorted((dist / "lib").glob("*.jar"))}
        # flink-python in lib/ (measured): `flink run -py` also ships it with each job, but
        # loaded from the job's class loader PemJa (thread mode) fails in the SECOND job on a
        # TaskManager (NoSuchFieldException: loadedLibraryNames, JDK 17: libpython is already
        # loaded by the first job's class loader); from lib/, Flink's parent-first
        # org.apache.flink.* operators resolve PemJa once per JVM
        python_jar = _glob_one(dist / "opt", "flink-python-*.jar")
        reporter = _glob_one(dist / "plugins" / "metrics-prometheus", "flink-metrics-*.jar")
        for jar in (python_jar, reporter, *self.extra_jars):
            if not jar.is_file():
                raise FileNotFoundError(f"no jar at {jar}")
            wanted[jar.name] = jar
        for link in lib.iterdir():  # links of an earlier prepare that are no longer wanted
            if link.is_symlink() and link.name not in wanted:
                link.unlink()
        for name, jar in wanted.items():
            link = lib / name
            if link.is_symlink() and Path(os.readlink(link)) == jar:
                continue
            if link.exists() and not link.is_symlink():
                continue  # a real jar put there by hand: left alone
            link.unlink(missing_ok=True)
            link.symlink_to(jar)

    # -- processes ---------------------------------------------------------------------------
    def _environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = environment_for_children()
        for name in (
            "FLINK_LIB_DIR",
            "FLINK_OPT_DIR",
            "FLINK_PLUGINS_DIR",
            "_FLINK_HOME_DETERMINED",
        ):
            env.pop(name, None)
        env.pop("JVM_ARGS", None)  # heap sizes come from config.yaml (PyFlink exports JVM_ARGS)
        env.pop("FLINK_ENV_JAVA_OPTS", None)
        env.update(
            FLINK_HOME=str(self.home),
            FLINK_CONF_DIR=str(self.conf_dir),
            FLINK_LOG_DIR=str(self.log_dir),
            FLINK_PID_DIR=str(self.run_dir),
        )
        env.update(extra or {})
        return env

    def _is_ours(self, proc: _Process, cmd: list[str]) -> bool:
        """Whether ``cmd`` is ``proc`` of this home: one of its start scripts (before they
        exec the JVM) or its JVM (``--configDir <home>/conf``)."""
        bin_dir = f"{self.home / 'bin'}/"
        if not (
            any(part.startswith(bin_dir) for part in cmd) or _has_config_dir(cmd, self.conf_dir)
        ):
            return False
        if proc.role == "taskmanager":
            return f"taskmanager.resource-id={proc.name}" in cmd
        return JOBMANAGER_CLASS in cmd or any(
            part.endswith("/jobmanager.sh") or part == "standalonesession" for part in cmd
        )

    def _pid(self, proc: _Process) -> int | None:
        popen = self._popen.get(proc.name)
        if popen is not None:
            if popen.poll() is None:
                # a child of this object, not reaped: its pid cannot have been recycled (and
                # its command line is briefly empty while the start scripts exec the JVM)
                return popen.pid
            self._popen.pop(proc.name, None)  # exited, now reaped
        try:
            pid = int(self._pid_file(proc.name).read_text().strip())
        except (OSError, ValueError):
            return None
        cmd = proc_cmdline(pid)
        if cmd is None or is_zombie(pid) or not self._is_ours(proc, cmd):
            return None
        return pid

    def processes(self) -> list[FlinkProcessStatus]:
        """The JobManager, then each TaskManager, with pid, state, metrics URL and log file."""
        out = []
        for proc in self._processes():
            pid = self._pid(proc)
            if pid is not None:
                state = "running"
            else:
                state = "dead" if self._pid_file(proc.name).exists() else "stopped"
            url = f"http://{LOOPBACK}:{proc.metrics_port}/metrics" if proc.metrics_port else None
            out.append(
                FlinkProcessStatus(proc.name, proc.role, pid, state, url, self.log_file(proc.name))
            )
        return out

    def _command(self, proc: _Process) -> list[str]:
        if proc.role == "jobmanager":
            argv = [str(self.home / "bin" / "jobmanager.sh"), "start-foreground"]
        else:
            argv = [
                str(self.home / "bin" / "taskmanager.sh"),
                "start-foreground",
                "-D",
                f"taskmanager.resource-id={proc.name}",
            ]
        if proc.metrics_port:
            argv += [
                "-D",
                f"metrics.reporter.prom.factory.class={PROMETHEUS_FACTORY}",
                "-D",
                f"metrics.reporter.prom.port={proc.metrics_port}",
            ]
        return argv

    def _launch(self, proc: _Process) -> tuple[int, int]:
        """Start ``proc`` unless it runs; ``(pid, log offset at the start)`` (offset -1: it
        was running)."""
        pid = self._pid(proc)
        if pid is not None:
            return pid, -1
        log_file = self.log_file(proc.name)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        offset = log_file.stat().st_size if log_file.exists() else 0
        argv = self._command(proc)
        with log_file.open("ab") as log:
            log.write(f"\n===== {time.strftime('%F %T')} starting {' '.join(argv)}\n".encode())
            log.flush()
            popen = subprocess.Popen(
                argv,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self._environment(),
            )
        self._popen[proc.name] = popen
        self._pid_file(proc.name).write_text(f"{popen.pid}\n")
        return popen.pid, offset

    def start(self) -> Self:
        """Start the processes that do not run (idempotent) and wait until REST answers and
        every TaskManager is registered."""
        self.prepare()
        jm = self._process("jobmanager")
        self._launch(jm)
        self._wait_rest(jm)
        started = {}
        for proc in self._processes()[1:]:
            _, offset = self._launch(proc)
            started[proc.name] = offset
        for proc in self._processes()[1:]:
            self._wait_registered(proc, started[proc.name])
        return self

    def _check_alive(self, proc: _Process) -> None:
        if self._pid(proc) is None:
            popen = self._popen.get(proc.name)
            code = popen.poll() if popen is not None else None
            raise FlinkClusterError(
                f"{proc.name} exited during start (exit code {code}); last lines of "
                f"{self.log_file(proc.name)}:\n{log_tail(self.log_file(proc.name))}"
            )

    def _wait_rest(self, jm: _Process) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            self._check_alive(jm)
            with contextlib.suppress(OSError, ValueError):
                self._rest("GET", "/overview", timeout=2.0)
                return
            if time.monotonic() > deadline:
                raise FlinkClusterError(
                    f"the JobManager's REST API did not answer on {self.rest_url} within "
                    f"{self.start_timeout:.0f}s; last lines of {self.log_file(jm.name)}:\n"
                    f"{log_tail(self.log_file(jm.name))}"
                )
            time.sleep(0.3)

    def registered_taskmanagers(self) -> dict[str, dict[str, Any]]:
        """REST ``/taskmanagers`` by resource id (``taskmanager-1``, ...)."""
        found = self._rest("GET", "/taskmanagers").get("taskmanagers", [])
        return {str(tm["id"]): tm for tm in found}

    def _wait_registered(self, proc: _Process, offset: int) -> None:
        """Wait until ``proc`` is registered; ``offset`` >= 0: the instance started at that
        log offset is (its log says so: an earlier instance may still be listed)."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            self._check_alive(proc)
            fresh = offset < 0 or _log_has(self.log_file(proc.name), REGISTERED_LINE, offset)
            with contextlib.suppress(OSError, ValueError):
                if fresh and proc.name in self.registered_taskmanagers():
                    return
            if time.monotonic() > deadline:
                raise FlinkClusterError(
                    f"{proc.name} did not register at the JobManager within "
                    f"{self.start_timeout:.0f}s; last lines of {self.log_file(proc.name)}:\n"
                    f"{log_tail(self.log_file(proc.name))}"
                )
            time.sleep(0.3)

    def _signal(self, proc: _Process, sig: int) -> int | None:
        pid = self._pid(proc)
        if pid is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        return pid

    def _wait_gone(self, proc: _Process, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            popen = self._popen.get(proc.name)
            if popen is not None and popen.pid == pid:
                if popen.poll() is not None:
                    self._popen.pop(proc.name, None)
                    return True
            else:
                cmd = proc_cmdline(pid)
                if cmd is None or is_zombie(pid) or not self._is_ours(proc, cmd):
                    return True
            time.sleep(0.1)
        return False

    def _kill(self, proc: _Process) -> None:
        pid = self._signal(proc, signal.SIGKILL)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # its session: children (a Python worker) go too
        if not self._wait_gone(proc, pid, 10.0):
            raise FlinkClusterError(f"{proc.name} (pid {pid}) survived SIGKILL")

    def kill_taskmanager(self, i: int) -> None:
        """``kill -9`` TaskManager ``i`` (1-based); its pid file stays (state ``dead``)."""
        self._kill(self._taskmanager(i))

    def start_taskmanager(self, i: int) -> None:
        """Start TaskManager ``i`` (unless it runs) and wait until it is registered."""
        proc = self._taskmanager(i)
        _, offset = self._launch(proc)
        self._wait_registered(proc, offset)

    def kill_jobmanager(self) -> None:
        """``kill -9`` the JobManager: its jobs are lost (no high availability)."""
        self._kill(self._process("jobmanager"))

    def start_jobmanager(self) -> None:
        """Start the JobManager (unless it runs), wait for REST and for the running
        TaskManagers to register again."""
        jm = self._process("jobmanager")
        self._launch(jm)
        self._wait_rest(jm)
        for proc in self._processes()[1:]:
            if self._pid(proc) is not None:
                self._wait_registered(proc, -1)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Stop every process (TaskManagers and JobManager at once): SIGTERM, wait, SIGKILL of
        the process group; then kill any JVM left with this home's ``conf`` (an instance
        whose pid file was lost). Whether any ran."""
        running = [(proc, pid) for proc in self._processes() if (pid := self._pid(proc))]
        for proc, _ in running:
            self._signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc, pid in running:
            if not self._wait_gone(proc, pid, max(0.0, deadline - time.monotonic())):
                self._kill(proc)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        strays = self._strays()
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in self._processes():
            self._pid_file(proc.name).unlink(missing_ok=True)
        for popen in self._popen.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=5)
        self._popen.clear()
        return bool(running or strays)

    def _strays(self) -> list[int]:
        """Pids of JVMs started with ``--configDir <home>/conf`` (any of this home's)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            cmd = proc_cmdline(pid)
            if (
                cmd
                and not is_zombie(pid)
                and (JOBMANAGER_CLASS in cmd or TASKMANAGER_CLASS in cmd)
                and _has_config_dir(cmd, self.conf_dir)
            ):
                found.append(pid)
        return found

    # -- REST --------------------------------------------------------------------------------
    def _rest(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, timeout: float = 10.0
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.rest_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")

    def jobs(self) -> list[dict[str, Any]]:
        """REST ``/jobs/overview``: id (``jid``), name, state, start/end times of every job."""
        return list(self._rest("GET", "/jobs/overview").get("jobs", []))

    def job(self, job_id: str) -> dict[str, Any]:
        """REST ``/jobs/<id>``: state and vertices (each with its status and parallelism)."""
        return dict(self._rest("GET", f"/jobs/{job_id}"))

    def checkpoints(self, job_id: str) -> dict[str, Any]:
        """REST ``/jobs/<id>/checkpoints``: counts and ``latest`` (completed, restored...)."""
        return dict(self._rest("GET", f"/jobs/{job_id}/checkpoints"))

    def _failure(self, job_id: str) -> str:
        with contextlib.suppress(OSError, ValueError):
            exceptions = self._rest("GET", f"/jobs/{job_id}/exceptions")
            root = exceptions.get("rootException") or ""
            history = exceptions.get("exceptionHistory", {}).get("entries", [])
            if not root and history:
                root = history[0].get("stacktrace", "")
            return str(root)[:4000]
        return "(no exception reported)"

    def wait_running(self, job_id: str, timeout: float) -> None:
        """Wait until the job is RUNNING and every task of every vertex is RUNNING."""
        deadline = time.monotonic() + timeout
        last = "unknown"
        while True:
            with contextlib.suppress(OSError, ValueError):
                job = self.job(job_id)
                last = str(job.get("state"))
                vertices = job.get("vertices", [])
                if (
                    last == "RUNNING"
                    and vertices
                    and all(v.get("status") == "RUNNING" for v in vertices)
                ):
                    return
                if last in TERMINAL_STATES:
                    raise FlinkClusterError(
                        f"job {job_id} is {last}, not running:\n{self._failure(job_id)}"
                    )
            if time.monotonic() > deadline:
                raise FlinkClusterError(
                    f"job {job_id} not running after {timeout:.0f}s (state {last}):\n"
                    f"{self._failure(job_id)}"
                )
            time.sleep(0.5)

    def wait_state(self, job_id: str, states: Sequence[str], timeout: float) -> str:
        """Wait until the job's state is one of ``states``; the state."""
        deadline = time.monotonic() + timeout
        state = "unknown"
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                state = str(self.job(job_id).get("state"))
                if state in states:
                    return state
            time.sleep(0.3)
        raise FlinkClusterError(f"job {job_id} is {state}, not {'/'.join(states)}")

    def stop_with_savepoint(self, job_id: str, timeout: float = 120.0) -> Path:
        """Stop the job with a savepoint in ``savepoint_dir`` (REST ``/jobs/<id>/stop``, no
        drain: windows stay open in the savepoint); the savepoint folder."""
        self.savepoint_dir.mkdir(parents=True, exist_ok=True)
        trigger = self._rest(
            "POST",
            f"/jobs/{job_id}/stop",
            {"targetDirectory": self.savepoint_dir.as_uri(), "drain": False},
        )["request-id"]
        deadline = time.monotonic() + timeout
        while True:
            status = self._rest("GET", f"/jobs/{job_id}/savepoints/{trigger}")
            if status.get("status", {}).get("id") == "COMPLETED":
                operation = status.get("operation") or {}
                if "location" not in operation:
                    raise FlinkClusterError(
                        f"stop-with-savepoint of {job_id} failed: "
                        f"{str(operation.get('failure-cause', operation))[:4000]}"
                    )
                break
            if time.monotonic() > deadline:
                raise FlinkClusterError(f"no savepoint of {job_id} within {timeout:.0f}s")
            time.sleep(0.5)
        self.wait_state(job_id, TERMINAL_STATES, timeout=max(10.0, deadline - time.monotonic()))
        location = str(operation["location"])  # file:/<savepoint_dir>/savepoint-...
        path = Path(urllib.request.url2pathname(urllib.parse.urlparse(location).path))
        if not (path / "_metadata").is_file():
            raise FlinkClusterError(f"savepoint {location} has no _metadata at {path}")
        return path

    def latest_checkpoint(self) -> Path | None:
        """The newest retained completed checkpoint under ``checkpoint_dir`` (any job)."""
        return latest_checkpoint(self.checkpoint_dir)

    # -- submit ------------------------------------------------------------------------------
    def submit(
        self,
        argv: Sequence[str] = (),
        *,
        parallelism: int,
        from_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        script: Path = JOB_SCRIPT,
        timeout: float = 300.0,
    ) -> str:
        """``flink run -d -py <script> -pyexec <python> -p N [-s from_path] -- --submit
        argv``; the job id. ``env``: more variables for the client (the script's settings,
        e.g. ``PULSE_KAFKA__BOOTSTRAP``)."""
        cmd = [
            str(self.home / "bin" / "flink"),
            "run",
            "-d",
            "-p",
            str(parallelism),
            "-py",
            str(Path(script).resolve()),
            "-pyexec",
            str(self.python),
            "-pyclientexec",
            str(self.python),
        ]
        if from_path is not None:
            cmd += ["-s", str(Path(from_path).resolve())]
        cmd += ["--", SUBMIT_FLAG, *argv]
        result = subprocess.run(
            cmd,
            cwd=REPO,
            env=self._environment(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = f"{result.stdout}\n{result.stderr}"
        found = re.search(r"JobID ([0-9a-f]{32})", output)
        if result.returncode != 0 or found is None:
            raise FlinkClusterError(
                f"`{' '.join(cmd)}` failed (exit {result.returncode}):\n{output[-6000:]}"
            )
        return found.group(1)

    # -- context manager ---------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalFlinkCluster({str(self.home)!r}, rest={self.rest_url})"


def _has_config_dir(cmd: Sequence[str], conf_dir: Path) -> bool:
    return any(cmd[i] == "--configDir" and cmd[i + 1] == str(conf_dir) for i in range(len(cmd) - 1))


def _log_has(path: Path, needle: str, offset: int) -> bool:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return needle.encode() in f.read()
    except OSError:
        return False


_CONSOLE_LOG4J = """\
# written by pipelines/local/flink_cluster.py: the console is the process's log file
monitorInterval = 30
rootLogger.level = ${env:ROOT_LOG_LEVEL:-INFO}
rootLogger.appenderRef.console.ref = ConsoleAppender
logger.pekko.name = org.apache.pekko
logger.pekko.level = INFO
logger.kafka.name = org.apache.kafka
logger.kafka.level = INFO
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = INFO
logger.zookeeper.name = org.apache.zookeeper
logger.zookeeper.level = INFO
logger.shaded_zookeeper.name = org.apache.flink.shaded.zookeeper3
logger.shaded_zookeeper.level = INFO
logger.netty.name = org.jboss.netty.channel.DefaultChannelPipeline
logger.netty.level = OFF
appender.console.name = ConsoleAppender
appender.console.type = CONSOLE
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
"""
