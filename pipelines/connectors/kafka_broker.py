"""A local single-node Apache Kafka broker (KRaft) for development and integration tests.

The broker runs from the jars that ``make setup`` resolves into ``infra/target/jars/kafka``
(see ``infra/pom.xml``); no Docker, no download at run time. One JVM is broker and
controller (``process.roles=broker,controller``), bound to loopback only, with its data in
one folder (``.pulse/kafka`` by default)::

    with LocalKafkaBroker(tmp_dir) as broker:      # random free port
        print(broker.bootstrap)                    # "127.0.0.1:40123"

Command line (what ``infra/kafka/*.sh`` and ``make up``/``make down`` run)::

    python -m pipelines.connectors.kafka_broker start [--data-dir D] [--bootstrap H:P]
    python -m pipelines.connectors.kafka_broker stop|status [--data-dir D]
    python -m pipelines.connectors.kafka_broker topics [--bootstrap H:P] [--raw-partitions 2] ...

``start`` and ``stop`` are safe to repeat: ``start`` on a running broker reports it, ``stop`` on
a stopped one does nothing. The process is found again through ``<data_dir>/broker.pid`` and
``<data_dir>/broker.json``, and is only ever signalled after its command line was checked to be
*this* broker (a recycled pid is never killed).

The topics of pulse (names, partitions, configs) are declared here too, see
:func:`pulse_topics` and ``infra/kafka/TOPICS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from types import TracebackType
from typing import Any, Self

#: Must match ``kafka.version`` in ``infra/pom.xml`` (checked at start).
KAFKA_VERSION = "4.3.1"
LOOPBACK = "127.0.0.1"
DEFAULT_DATA_DIR = Path(".pulse/kafka")
DEFAULT_BOOTSTRAP = f"{LOOPBACK}:9092"
DEFAULT_HEAP = "512m"
READY_LINE = "Kafka Server started"
KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"

_REPO_ROOT = Path(__file__).resolve().parents[2]


class KafkaBrokerError(RuntimeError):
    """The local broker could not be started, reached or stopped."""


class KafkaJarsMissingError(KafkaBrokerError):
    """The broker jars are not there: ``make setup`` was not run."""


# --------------------------------------------------------------------------------------------
# locations and the Java command line
# --------------------------------------------------------------------------------------------


def default_jars_dir() -> Path:
    """``jars_dir`` of the settings when set (``PULSE_JARS_DIR``, config file), else
    ``<repo>/infra/target/jars`` (the Flink and Kafka jar folders)."""
    from pipelines.config import load_settings

    try:
        settings = load_settings()
    except Exception:  # settings of other parts may be invalid; the broker must still start
        settings = None
    if settings is not None and "jars_dir" in settings.model_fields_set:
        return Path(settings.jars_dir)
    return _REPO_ROOT / "infra" / "target" / "jars"


def default_infra_dir() -> Path:
    """``<repo>/infra/kafka``: the broker config template and log4j2 files."""
    return _REPO_ROOT / "infra" / "kafka"


def kafka_jars_dir(jars_dir: Path | None = None) -> Path:
    """The folder with the broker jars; raises :class:`KafkaJarsMissingError` if incomplete."""
    kdir = (jars_dir or default_jars_dir()) / "kafka"
    core = sorted(kdir.glob("kafka_2.13-*.jar"))
    if not core or not list(kdir.glob("kafka-tools-*.jar")):
        raise KafkaJarsMissingError(
            f"Kafka broker jars not found in {kdir}: run `make setup` "
            "(it runs infra/fetch-jars.sh, which resolves infra/pom.xml from Maven Central)."
        )
    want = f"kafka_2.13-{KAFKA_VERSION}.jar"
    if core[0].name != want or len(core) != 1:
        raise KafkaJarsMissingError(
            f"{kdir} holds {[p.name for p in core]}, expected {want}: "
            "infra/pom.xml and pipelines/connectors/kafka_broker.py disagree, or the jars are "
            "stale: run `FORCE=1 bash infra/fetch-jars.sh`."
        )
    return kdir


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` or ``java`` from PATH (Kafka 4 needs Java 17+)."""
    from pipelines.config import platform_variable

    home = platform_variable("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise KafkaBrokerError("java not found (Java 17+ is required): install it or set JAVA_HOME")
    return found


def kafka_java_command(
    main_class: str,
    args: Sequence[str] = (),
    *,
    jars_dir: Path | None = None,
    heap: str = "256m",
    log4j2_config: Path | None = None,
    jvm_opts: Sequence[str] = (),
    short_lived: bool = False,
) -> list[str]:
    """The ``java`` command running one of Kafka's main classes from the fetched jars.

    Used for the broker itself, the storage tool, and the CLI tools (``ConsoleProducer``,
    ``ProducerPerformance``, ...); tools log WARN+ to stderr by default. ``short_lived``
    trades peak speed for a faster JVM start (C1 only, serial GC): for one-shot tools.
    """
    kdir = kafka_jars_dir(jars_dir)
    log_cfg = log4j2_config or default_infra_dir() / "tools-log4j2.properties"
    gc = (
        ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
        if short_lived
        else ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
    )
    return [
        java_executable(),
        f"-Xmx{heap}",
        *gc,
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        "-Djava.net.preferIPv4Stack=true",
        f"-Dlog4j2.configurationFile={log_cfg}",
        *jvm_opts,
        "-cp",
        f"{kdir}/*",
        main_class,
        *args,
    ]


def free_port(host: str = LOOPBACK) -> int:
    """A currently free TCP port on ``host`` (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


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


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding.

    Like Kafka's own ``Uuid.randomUuid``, never one starting with ``-``: the
    storage tool would read it as an option (``--cluster-id -x...`` fails).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def _proc_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


# --------------------------------------------------------------------------------------------
# the broker
# --------------------------------------------------------------------------------------------


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

    @property
    def faust_broker_url(self) -> str:
        return f"kafka://{self.bootstrap}"

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
        cmd = _proc_cmdline(pid)
        if cmd is None or _is_zombie(pid):
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
                    f"last lines of {self.log_file}:\n{_log_tail(self.log_file)}"
                )
            if port_open(self.host, self.port) and self._log_has(READY_LINE, log_offset):
                return
            if time.monotonic() > deadline:
                raise KafkaBrokerError(
                    f"the Kafka broker did not accept connections on {self.bootstrap} within "
                    f"{self.start_timeout:.0f}s; last lines of {self.log_file}:\n"
                    f"{_log_tail(self.log_file)}"
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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return True
            elif _proc_cmdline(pid) is None or _is_zombie(pid):
                return True
            time.sleep(0.1)
        return False

    def _reap(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
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


# --------------------------------------------------------------------------------------------
# topics
# --------------------------------------------------------------------------------------------

HOUR_MS = 60 * 60 * 1000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class TopicSpec:
    """One topic: name, partition count, key (documentation) and topic-level configs."""

    name: str
    partitions: int
    key: str
    config: Mapping[str, str] = field(default_factory=dict)


def pulse_topics(
    raw_partitions: int = 2, clean_partitions: int | None = None, results_partitions: int = 1
) -> list[TopicSpec]:
    """All topics of pulse (see ``infra/kafka/TOPICS.md`` for the why)."""
    clean_n = raw_partitions if clean_partitions is None else clean_partitions
    # The broker stamps every record with its arrival time (LogAppendTime): retention counts
    # from arrival, never from a (possibly months old) event time, and a record dated in the
    # future is never refused by the broker (Kafka 4 rejects CreateTime > now + 1 h). Event
    # time is the ``event_time`` field of the JSON value; jobs read it from there.
    stamp = {"message.timestamp.type": "LogAppendTime"}
    week = {**stamp, "cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)}
    month = {**stamp, "cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)}
    compact = {**stamp, "cleanup.policy": "compact", "min.compaction.lag.ms": str(HOUR_MS)}
    raw_cfg = clean_cfg = week
    specs: list[TopicSpec] = []
    # Raw input is untrusted: keys are recommended, never relied upon (may be null).
    for stream, key in (
        ("views", "user_id (recommended)"),
        ("comments", "user_id (recommended)"),
        ("ad_clicks", "user_id (recommended)"),
        ("creator_profiles", "creator_id (recommended)"),
        ("campaigns", "campaign_id (recommended)"),
    ):
        specs.append(TopicSpec(f"raw.{stream}", raw_partitions, key, raw_cfg))
    specs += [
        TopicSpec("clean.views", clean_n, "user_id", clean_cfg),
        TopicSpec("clean.comments", clean_n, "user_id", clean_cfg),
        TopicSpec("clean.ad_clicks", clean_n, "user_id", clean_cfg),
        TopicSpec("clean.creator_profiles", clean_n, "creator_id", compact),
        TopicSpec("clean.campaigns", clean_n, "campaign_id", compact),
        TopicSpec("deadletter.rejected", results_partitions, "source topic", month),
        TopicSpec("results.attributed_clicks", results_partitions, "click event_id", month),
        TopicSpec("results.engagement_windows", results_partitions, "creator_id", month),
        TopicSpec("results.eligibility", results_partitions, "creator_id", compact),
        TopicSpec("results.eligibility_transitions", results_partitions, "creator_id", month),
        TopicSpec("results.late_events", results_partitions, "source topic", month),
    ]
    return specs


@dataclass
class TopicReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    #: existing topics whose partition count differs from the spec (never changed silently)
    mismatched: dict[str, tuple[int, int]] = field(default_factory=dict)


async def ensure_topics(
    bootstrap: str, specs: Sequence[TopicSpec], *, timeout_ms: int = 30_000
) -> TopicReport:
    """Create the missing topics of ``specs`` (idempotent; existing ones are left alone)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

    report = TopicReport()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        await admin.close()
        raise KafkaBrokerError(
            f"no Kafka broker at {bootstrap} ({exc}): start one with `make up` "
            "(infra/kafka/start.sh)"
        ) from exc
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            resp = await admin.create_topics(
                [NewTopic(s.name, s.partitions, 1, topic_configs=dict(s.config)) for s in missing],
                timeout_ms=timeout_ms,
            )
            for name, code, message in resp.topic_errors:
                if code == 0:
                    report.created.append(name)
                elif code == TopicAlreadyExistsError.errno:  # created concurrently
                    report.existing.append(name)
                else:
                    raise KafkaBrokerError(f"creating topic {name} failed: [{code}] {message}")
        present = [s for s in specs if s.name in existing]
        if present:
            described = await admin.describe_topics([s.name for s in present])
            counts = {d["topic"]: len(d["partitions"]) for d in described}
            for s in present:
                report.existing.append(s.name)
                if counts.get(s.name, s.partitions) != s.partitions:
                    report.mismatched[s.name] = (counts[s.name], s.partitions)
    finally:
        await admin.close()
    return report


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def _configured_kafka() -> tuple[str, Path]:
    """``(kafka.bootstrap, kafka.data_dir)`` of the pulse Settings (``PULSE_KAFKA__BOOTSTRAP``,
    ``PULSE_KAFKA__DATA_DIR``, config file); the defaults, with a warning, when the settings
    are invalid (the broker must still start)."""
    from pipelines.config import load_settings

    try:
        kafka = load_settings().kafka
    except Exception as exc:
        print(f"kafka: invalid pulse settings, using the defaults: {exc}", file=sys.stderr)
        return DEFAULT_BOOTSTRAP, DEFAULT_DATA_DIR
    return kafka.bootstrap, Path(kafka.data_dir)


def _parser(bootstrap: str, data_dir: Path) -> argparse.ArgumentParser:
    """The command line; ``bootstrap`` and ``data_dir`` (from the settings) are the defaults."""
    p = argparse.ArgumentParser(
        prog="python -m pipelines.connectors.kafka_broker",
        description=f"Local single-node Kafka {KAFKA_VERSION} broker (KRaft) for pulse.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in (
        ("start", "start the broker in the background and wait until it is ready"),
        ("stop", "stop the broker (SIGTERM, then SIGKILL after --timeout)"),
        ("status", "print the broker state; exit 1 when it is not running"),
        ("topics", "create the pulse topics that do not exist yet"),
    ):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument(
            "--data-dir",
            type=Path,
            default=data_dir,
            help=f"broker data folder (PULSE_KAFKA__DATA_DIR; default here: {data_dir})",
        )
        if name in ("start", "topics"):
            sp.add_argument(
                "--bootstrap",
                default=None,
                help=f"host:port (PULSE_KAFKA__BOOTSTRAP; default here: {bootstrap})",
            )
        if name == "start":
            sp.add_argument("--random-port", action="store_true", help="pick a free port")
            sp.add_argument("--heap", default=DEFAULT_HEAP, help="JVM -Xmx (default 512m)")
            sp.add_argument("--timeout", type=float, default=60.0, help="start timeout (s)")
            sp.add_argument(
                "--auto-create-topics", action="store_true", help="auto.create.topics.enable"
            )
        if name == "stop":
            sp.add_argument("--timeout", type=float, default=30.0, help="SIGTERM grace (s)")
        if name == "topics":
            sp.add_argument("--raw-partitions", type=int, default=2)
            sp.add_argument("--clean-partitions", type=int, default=None, help="default: raw")
            sp.add_argument("--results-partitions", type=int, default=1)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    configured_bootstrap, data_dir = _configured_kafka()
    args = _parser(configured_bootstrap, data_dir).parse_args(argv)
    try:
        if args.command == "start":
            port = None
            if not args.random_port:
                _, port = parse_bootstrap(args.bootstrap or configured_bootstrap)
            broker = LocalKafkaBroker(
                args.data_dir,
                port,
                heap=args.heap,
                start_timeout=args.timeout,
                auto_create_topics=args.auto_create_topics,
            )
            was_running = broker.is_running()
            broker.start()
            if was_running:
                print(f"kafka: already running on {broker.bootstrap} (pid {broker.pid()})")
            else:
                print(
                    f"kafka {KAFKA_VERSION}: started on {broker.bootstrap} (pid {broker.pid()}) "
                    f"in {broker.start_seconds:.1f}s; data {broker.data_dir}, "
                    f"log {broker.log_file}"
                )
            return 0
        broker = LocalKafkaBroker(args.data_dir)
        if args.command == "stop":
            broker.stop_timeout = args.timeout
            pid = broker.pid()
            print(f"kafka: stopped (pid {pid})" if broker.stop() else "kafka: not running")
            return 0
        if args.command == "status":
            if broker.is_running():
                ready = "ready" if broker.is_ready() else "NOT accepting connections"
                print(f"kafka: running on {broker.bootstrap} (pid {broker.pid()}), {ready}")
                return 0
            print(f"kafka: not running (data dir {broker.data_dir})")
            return 1
        # topics
        bootstrap = args.bootstrap
        if bootstrap is None:
            state = broker._read_state() if broker.is_running() else None
            bootstrap = state["bootstrap"] if state else configured_bootstrap
        parse_bootstrap(bootstrap)
        specs = pulse_topics(args.raw_partitions, args.clean_partitions, args.results_partitions)
        report = asyncio.run(ensure_topics(bootstrap, specs))
        print(
            f"kafka topics on {bootstrap}: {len(report.created)} created, "
            f"{len(report.existing)} already present"
        )
        for name in report.created:
            print(f"  + {name}")
        for name, (have, want) in sorted(report.mismatched.items()):
            print(f"  ! {name}: has {have} partitions, spec says {want} (left unchanged)")
        return 0
    except KafkaBrokerError as exc:
        print(f"kafka: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
