"""A local single-node Apache Kafka broker (KRaft) for development and integration tests.

The broker runs from the jars that ``make setup`` resolves into ``infra/target/jars/kafka``
(see ``infra/pom.xml``); no Docker, no download at run time. One JVM is broker and
controller (``process.roles=broker,controller``), bound to loopback only, with its data in
one folder (``.pulse/kafka`` by default)::

    with LocalKafkaBroker(tmp_dir) as broker:      # random free port
        print(broker.bootstrap)                    # "127.0.0.1:40123"

Command line: ``pulse kafka start|stop|status|topics`` (:mod:`pipelines.commands.kafka`, what
``infra/kafka/*.sh`` run; ``pulse up`` / ``pulse down`` start and stop it with the stack).

``start`` and ``stop`` are safe to repeat: ``start`` on a running broker reports it, ``stop`` on
a stopped one does nothing. The process is found again through ``<data_dir>/broker.pid`` and
``<data_dir>/broker.json``, and is only ever signalled after its command line was checked to be
*this* broker (a recycled pid is never killed).

The topics it serves are declared by :mod:`pipelines.connectors.kafka_topics`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template
from types import TracebackType
from typing import Any, Self

from pipelines.local.kafka_command import (
    KAFKA_VERSION,
    KafkaBrokerError,
    default_infra_dir,
    kafka_jars_dir,
    kafka_java_command,
    new_cluster_id,
)
from pipelines.local.processes import (
    LOOPBACK,
    free_port,
    is_zombie,
    log_tail,
    port_open,
    proc_cmdline,
    reap,
    wait_exit,
)

DEFAULT_DATA_DIR = Path(".pulse/kafka")
DEFAULT_BOOTSTRAP = f"{LOOPBACK}:9092"
DEFAULT_HEAP = "512m"
READY_LINE = "Kafka Server started"
KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"

# --------------------------------------------------------------------------------------------
# the broker
# --------------------------------------------------------------------------------------------


def parse_bootstrap(bootstrap: str) -> tuple[str, int]:
    """``"127.0.0.1:9092"`` -> ``("127.0.0.1", 9092)``; only loopback hosts are accepted."""
    first = bootstrap.split(",")[0].strip()
    if "://" in first:  # kafka://127.0.0.1:9092 (Faust style)
        first = first.split("://", 1)[1]
    host, sep, port = first.rpartition(":")
    if not sep or not port.isdigit():
        raise KafkaBrokerError(f"bad bootstrap address {bootstrap!r}: expected host:port")
    if host in ("localhost", "::1", "[::1]"):
        host = LOOPBACK
    if host != LOOPBACK:
        raise KafkaBrokerError(
            f"the local broker binds {LOOPBACK} only, not {host!r} (bootstrap {bootstrap!r})"
        )
    return host, int(port)


class LocalKafkaBroker:
    """One local KRaft broker+controller JVM with its data in ``data_dir``.

    ``port=None`` picks a free port at :meth:`start`. The storage is formatted on the first
    start only; later starts reuse the data (topics, offsets survive ``stop``/``start``).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR,
        port: int | None = None,
        *,
        controller_port: int | None = None,
        heap: str = DEFAULT_HEAP,
        auto_create_topics: bool = False,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
        jars_dir: Path | None = None,
        infra_dir: Path | None = None,
        extra_config: Mapping[str, str] | None = None,
        jvm_opts: Sequence[str] = (),
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = LOOPBACK
        self._port = port
        self._controller_port = controller_port
        self.heap = heap
        self.auto_create_topics = auto_create_topics
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.jars_dir = jars_dir
        self.infra_dir = infra_dir or default_infra_dir()
        self.extra_config = dict(extra_config or {})
        self.jvm_opts = list(jvm_opts)
        self._proc: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None

    # -- files ---------------------------------------------------------------------------------
    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "data"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "broker.json"

    # -- addresses -----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            state = self._read_state()
            if state is None:
                raise KafkaBrokerError("the broker port is chosen at start(): start it first")
            self._port = int(state["port"])
        return self._port

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:<port>`` for Kafka clients (aiokafka, Flink, console tools)."""
        return f"{self.host}:{self.port}"

    # -- state ---------------------------------------------------------------------------------
    def _read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def pid(self) -> int | None:
        """The pid of this data dir's broker if it is alive (checked by command line)."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        cmd = proc_cmdline(pid)
        if cmd is None or is_zombie(pid):
            return None
        if KAFKA_MAIN not in cmd or str(self.config_file) not in cmd:
            return None  # the pid was recycled by an unrelated process
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def is_ready(self) -> bool:
        return self.is_running() and port_open(self.host, self.port)

    # -- start ---------------------------------------------------------------------------------
    def _render_config(self, port: int, controller_port: int) -> None:
        template = (self.infra_dir / "server.properties.template").read_text()
        text = Template(template).substitute(
            host=self.host,
            port=port,
            controller_port=controller_port,
            log_dirs=self.log_dirs,
            offsets_partitions=1,
            auto_create_topics="true" if self.auto_create_topics else "false",
        )
        if self.extra_config:
            text += "\n# --- extra_config ---\n"
            text += "".join(f"{k}={v}\n" for k, v in self.extra_config.items())
        self.config_file.write_text(text)

    def _format_storage(self) -> None:
        if (self.log_dirs / "meta.properties").exists():
            return
        cmd = kafka_java_command(
            STORAGE_TOOL,
            ["format", "--cluster-id", new_cluster_id(), "--config", str(self.config_file)],
            jars_dir=self.jars_dir,
            heap="256m",
            log4j2_config=self.infra_dir / "tools-log4j2.properties",
            short_lived=True,
        )
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if res.returncode != 0:
            raise KafkaBrokerError(
                f"formatting the Kafka storage in {self.log_dirs} failed "
                f"(exit {res.returncode}):\n{res.stdout}\n{res.stderr}"
            )

    def start(self) -> Self:
        """Start the broker (idempotent) and wait until it accepts connections."""
        if self.is_running():
            state = self._read_state() or {}
            if self._port is not None and state.get("port") not in (None, self._port):
                raise KafkaBrokerError(
                    f"a broker already runs from {self.data_dir} on port {state.get('port')}, "
                    f"not {self._port}: stop it first"
                )
            self._wait_ready(time.monotonic(), log_offset=0)
            return self
        kafka_jars_dir(self.jars_dir)  # clear message when `make setup` was not run
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = self._port if self._port is not None else free_port(self.host)
        if port_open(self.host, port):
            raise KafkaBrokerError(
                f"{self.host}:{port} is already in use by another process "
                "(set PULSE_KAFKA__BOOTSTRAP to another port or use --random-port)"
            )
        cport = self._controller_port or free_port(self.host)
        self._render_config(port, cport)
        self._format_storage()
        cmd = kafka_java_command(
            KAFKA_MAIN,
            [str(self.config_file)],
            jars_dir=self.jars_dir,
            heap=self.heap,
            log4j2_config=self.infra_dir / "log4j2.properties",
            jvm_opts=[
                f"-Xms{min(256, _heap_mb(self.heap))}m",
                f"-Dkafka.logs.dir={self.data_dir}",
                *self.jvm_opts,
            ],
        )
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        began = time.monotonic()
        with self.log_file.open("ab") as log:
            log.write(f"\n===== pulse: starting {' '.join(cmd)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # Ctrl-C in the calling shell does not hit the broker
            )
        self._port = port
        self._controller_port = cport
        self.pid_file.write_text(f"{self._proc.pid}\n")
        self.state_file.write_text(
            json.dumps(
                {
                    "pid": self._proc.pid,
                    "port": port,
                    "controller_port": cport,
                    "bootstrap": f"{self.host}:{port}",
                    "kafka_version": KAFKA_VERSION,
                    "log": str(self.log_file),
                },
                indent=2,
            )
        )
        try:
            self._wait_ready(began, log_offset)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def _wait_ready(self, began: float, log_offset: int) -> None:
        deadline = began + self.start_timeout
        while True:
            if not self.is_running():
                code = self._proc.poll() if self._proc is not None else None
                raise KafkaBrokerError(
                    f"the Kafka broker exited during start (exit code {code}); "
                    f"last lines of {self.log_file}:\n{log_tail(self.log_file)}"
                )
            if port_open(self.host, self.port) and self._log_has(READY_LINE, log_offset):
                return
            if time.monotonic() > deadline:
                raise KafkaBrokerError(
                    f"the Kafka broker did not accept connections on {self.bootstrap} within "
                    f"{self.start_timeout:.0f}s; last lines of {self.log_file}:\n"
                    f"{log_tail(self.log_file)}"
                )
            time.sleep(0.1)

    def _log_has(self, needle: str, offset: int) -> bool:
        try:
            with self.log_file.open("rb") as f:
                f.seek(offset)
                return needle.encode() in f.read()
        except OSError:
            return False

    # -- stop ----------------------------------------------------------------------------------
    def stop(self) -> bool:
        """SIGTERM, wait up to ``stop_timeout``, then SIGKILL. Returns whether one was running."""
        pid = self.pid()
        if pid is None:
            self._reap()
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._wait_exit(pid, self.stop_timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_exit(pid, 10.0)
        self._reap()
        self.pid_file.unlink(missing_ok=True)
        return True

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        return wait_exit(pid, self._proc, timeout)

    def _reap(self) -> None:
        reap(self._proc)
        self._proc = None

    # -- context manager -----------------------------------------------------------------------
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
        port = self._port if self._port is not None else "?"
        return f"LocalKafkaBroker({str(self.data_dir)!r}, port={port})"


def _heap_mb(heap: str) -> int:
    unit = heap[-1].lower()
    num = int(heap[:-1]) if unit in "kmg" else int(heap)
    return {"k": num // 1024, "m": num, "g": num * 1024}.get(unit, num // (1024 * 1024))
