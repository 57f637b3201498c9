"""A local three-node Apache Kafka cluster (KRaft) for development and integration tests.

Like :class:`~pipelines.local.kafka_broker.LocalKafkaBroker`, the nodes run from the jars that
``make setup`` resolves into ``infra/target/jars/kafka``; no Docker, no download at run time.
Each node is one JVM that is broker and controller (``process.roles=broker,controller``, node
ids 1..N, a static ``controller.quorum.voters`` quorum of all nodes), bound to loopback only.
Its config is rendered from ``infra/kafka/cluster-node.properties.template``; topics are
replicated to all nodes by default (``default.replication.factor=3``,
``min.insync.replicas=2``, unclean leader election off), so a record acknowledged with
``acks=all`` survives the loss of any one node::

    with LocalKafkaCluster(tmp_dir) as cluster:    # random free ports, remembered
        print(cluster.bootstrap)                   # "127.0.0.1:40123,127.0.0.1:40125,..."
        cluster.kill_node(2)                       # kill -9, for fault tests
        cluster.start_node(2)                      # back, once it is ready again

Layout of ``data_dir``: ``cluster.json`` (the cluster id and the ports chosen at the first
start, so that a restart reuses them), and one folder per node, ``node-<id>/`` with
``server.properties``, ``server.log``, ``node.pid``, ``node.json`` and the Kafka data in
``data/``. All nodes are formatted once with one shared cluster id; later starts reuse the data.

``start`` and ``stop`` are safe to repeat: ``start`` starts only the nodes that are not
running (running ones are left untouched) and waits until all are ready; ``stop`` stops all.
A node's process is found again through its pid file and only ever signalled after its
command line was checked to be *this* node (a recycled pid is never killed).

A node only becomes ready while a majority of the controllers runs (2 of 3): start the
cluster as a whole, and restart single nodes with :meth:`LocalKafkaCluster.start_node`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from types import TracebackType
from typing import Any, Literal, Self

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

__all__ = ["LocalKafkaCluster", "NodeState", "NodeStatus"]

READY_LINE = "Kafka Server started"
KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
ROLE = "broker,controller"
TEMPLATE = "cluster-node.properties.template"
#: Partitions of ``__consumer_offsets`` and ``__transaction_state`` (Kafka's default, 50,
#: would be 150 replicas to create on the first consumer group of a small local cluster).
INTERNAL_PARTITIONS = 3
#: A killed node is fenced, and its leaderships move, after this long without heartbeat
#: (Kafka's default is 9 s; heartbeats are sent every second here).
SESSION_TIMEOUT_MS = 6000

NodeState = Literal["running", "dead", "stopped"]


@dataclass(frozen=True)
class NodeStatus:
    """One node as :meth:`LocalKafkaCluster.nodes` sees it.

    ``state``: ``running`` (its process is alive), ``dead`` (it was started and its process is
    gone without :meth:`LocalKafkaCluster.stop`: killed or crashed) or ``stopped``. ``pid`` is
    the pid of the live process, None unless running. ``port`` is the client (PLAINTEXT) port,
    0 before the first start chose it.
    """

    name: str
    node_id: int
    role: str
    pid: int | None
    port: int
    state: NodeState
    log_file: Path


class LocalKafkaCluster:
    """``nodes`` local KRaft broker+controller JVMs with their data under ``data_dir``.

    ``ports`` / ``controller_ports``: one per node, or None for free loopback ports chosen at
    the first start and kept in ``data_dir/cluster.json``. ``heap`` is the ``-Xmx`` of each
    node. ``ready_timeout`` bounds the wait for the nodes to be ready in :meth:`start` and
    :meth:`start_node`. ``extra_config`` is appended to every node's ``server.properties``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        ports: Sequence[int] | None = None,
        *,
        nodes: int = 3,
        controller_ports: Sequence[int] | None = None,
        heap: str = "384m",
        ready_timeout: float = 120.0,
        stop_timeout: float = 30.0,
        extra_config: Mapping[str, str] | None = None,
        jars_dir: Path | None = None,
        infra_dir: Path | None = None,
    ) -> None:
        if nodes < 1:
            raise ValueError(f"a cluster needs at least one node, not {nodes}")
        for what, given in (("ports", ports), ("controller_ports", controller_ports)):
            if given is not None and len(given) != nodes:
                raise ValueError(f"{what}: {len(given)} given for {nodes} nodes")
        given_all = [*(ports or ()), *(controller_ports or ())]
        if len(set(given_all)) != len(given_all):
            raise ValueError(f"ports must be distinct: {given_all}")
        self.data_dir = Path(data_dir).resolve()
        self.host = LOOPBACK
        self.node_count = nodes
        self._ports = list(ports) if ports is not None else None
        self._controller_ports = list(controller_ports) if controller_ports is not None else None
        self.heap = heap
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.extra_config = dict(extra_config or {})
        self.jars_dir = jars_dir
        self.infra_dir = infra_dir or default_infra_dir()
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    # -- files ---------------------------------------------------------------------------------
    @property
    def node_ids(self) -> list[int]:
        return list(range(1, self.node_count + 1))

    @property
    def state_file(self) -> Path:
        return self.data_dir / "cluster.json"

    def node_dir(self, node_id: int) -> Path:
        self._check_id(node_id)
        return self.data_dir / f"node-{node_id}"

    def config_file(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "server.properties"

    def log_file(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "server.log"

    def pid_file(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "node.pid"

    def _node_state_file(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "node.json"

    def _log_dirs(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "data"

    def _check_id(self, node_id: int) -> None:
        if node_id not in range(1, self.node_count + 1):
            raise KafkaBrokerError(f"no node {node_id}: node ids are 1..{self.node_count}")

    # -- state ---------------------------------------------------------------------------------
    def _read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def _stored(self) -> dict[str, Any] | None:
        state = self._read_json(self.state_file)
        if state is None:
            return None
        if state.get("nodes") != self.node_count:
            raise KafkaBrokerError(
                f"{self.data_dir} holds a cluster of {state.get('nodes')} nodes, "
                f"not {self.node_count}: use another data_dir"
            )
        return state

    @property
    def ports(self) -> list[int]:
        """The client port of each node (node 1 first)."""
        if self._ports is None:
            state = self._stored()
            if state is None:
                raise KafkaBrokerError("the cluster ports are chosen at start(): start it first")
            self._ports = [int(p) for p in state["ports"]]
        return list(self._ports)

    @property
    def controller_ports(self) -> list[int]:
        if self._controller_ports is None:
            state = self._stored()
            if state is None:
                raise KafkaBrokerError("the cluster ports are chosen at start(): start it first")
            self._controller_ports = [int(p) for p in state["controller_ports"]]
        return list(self._controller_ports)

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:p1,127.0.0.1:p2,...`` for Kafka clients (aiokafka, Flink, tools)."""
        return ",".join(f"{self.host}:{port}" for port in self.ports)

    def node_bootstrap(self, node_id: int) -> str:
        """``127.0.0.1:<port>`` of one node."""
        self._check_id(node_id)
        return f"{self.host}:{self.ports[node_id - 1]}"

    @property
    def cluster_id(self) -> str:
        state = self._stored()
        if state is None:
            raise KafkaBrokerError("the cluster id is chosen at start(): start it first")
        return str(state["cluster_id"])

    def _prepare_state(self) -> None:
        """Choose (first start) or check the ports and cluster id; write ``cluster.json``."""
        state = self._stored() or {}
        stored_ports = state.get("ports")
        stored_cports = state.get("controller_ports")
        ports = self._ports or stored_ports
        cports = self._controller_ports or stored_cports
        running = [n for n in self.node_ids if self.pid(n) is not None]
        if running and (ports != stored_ports or cports != stored_cports):
            raise KafkaBrokerError(
                f"nodes {running} already run from {self.data_dir} on ports {stored_ports} "
                f"(controllers {stored_cports}), not {ports} ({cports}): stop the cluster first"
            )
        if ports is None or cports is None:
            taken = set(ports or ()) | set(cports or ())
            ports = ports or self._free_ports(taken)
            cports = cports or self._free_ports(taken | set(ports))
        self._ports = [int(p) for p in ports]
        self._controller_ports = [int(p) for p in cports]
        if len(set(self._ports + self._controller_ports)) != 2 * self.node_count:
            raise KafkaBrokerError(
                f"ports must be distinct: {self._ports + self._controller_ports}"
            )
        cluster_id = state.get("cluster_id") or self._formatted_cluster_id() or new_cluster_id()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(
            json.dumps(
                {
                    "nodes": self.node_count,
                    "cluster_id": cluster_id,
                    "ports": self._ports,
                    "controller_ports": self._controller_ports,
                    "bootstrap": self.bootstrap,
                    "kafka_version": KAFKA_VERSION,
                },
                indent=2,
            )
        )

    def _free_ports(self, taken: set[int]) -> list[int]:
        chosen: list[int] = []
        while len(chosen) < self.node_count:
            port = free_port(self.host)
            if port not in taken and port not in chosen:
                chosen.append(port)
        return chosen

    def _formatted_cluster_id(self) -> str | None:
        """The cluster id of an already formatted node (``cluster.json`` was lost)."""
        for node_id in self.node_ids:
            meta = self._log_dirs(node_id) / "meta.properties"
            with contextlib.suppress(OSError):
                for line in meta.read_text().splitlines():
                    key, _, value = line.partition("=")
                    if key.strip() == "cluster.id" and value.strip():
                        return value.strip()
        return None

    # -- processes -----------------------------------------------------------------------------
    def pid(self, node_id: int) -> int | None:
        """The pid of node ``node_id`` if it is alive (checked by command line)."""
        proc = self._procs.get(node_id)
        if proc is not None and proc.poll() is None:
            return proc.pid
        return self._recorded_live_pid(node_id)

    def _recorded_live_pid(self, node_id: int) -> int | None:
        try:
            pid = int(self.pid_file(node_id).read_text().strip())
        except (OSError, ValueError):
            return None
        cmd = proc_cmdline(pid)
        if cmd is None or is_zombie(pid):
            return None
        if KAFKA_MAIN not in cmd or str(self.config_file(node_id)) not in cmd:
            return None  # the pid was recycled by an unrelated process
        return pid

    def is_running(self) -> bool:
        """Whether all nodes run."""
        return all(self.pid(n) is not None for n in self.node_ids)

    def nodes(self) -> list[NodeStatus]:
        """The status of every node, node 1 first."""
        try:
            ports: list[int] | None = self.ports
        except KafkaBrokerError:
            ports = None
        out = []
        for node_id in self.node_ids:
            pid = self.pid(node_id)
            if pid is not None:
                state: NodeState = "running"
            elif self.pid_file(node_id).exists():
                state = "dead"
            else:
                state = "stopped"
            out.append(
                NodeStatus(
                    name=f"kafka-{node_id}",
                    node_id=node_id,
                    role=ROLE,
                    pid=pid,
                    port=ports[node_id - 1] if ports else 0,
                    state=state,
                    log_file=self.log_file(node_id),
                )
            )
        return out

    # -- start ---------------------------------------------------------------------------------
    def _render_config(self, node_id: int) -> None:
        template = (self.infra_dir / TEMPLATE).read_text()
        voters = ",".join(
            f"{n}@{self.host}:{cport}"
            for n, cport in zip(self.node_ids, self.controller_ports, strict=True)
        )
        replication = min(3, self.node_count)
        text = Template(template).substitute(
            host=self.host,
            node_id=node_id,
            nodes=self.node_count,
            port=self.ports[node_id - 1],
            controller_port=self.controller_ports[node_id - 1],
            quorum_voters=voters,
            log_dirs=self._log_dirs(node_id),
            replication_factor=replication,
            min_isr=max(1, replication - 1),
            internal_partitions=INTERNAL_PARTITIONS,
            session_timeout_ms=SESSION_TIMEOUT_MS,
        )
        if self.extra_config:
            text += "\n# --- extra_config ---\n"
            text += "".join(f"{k}={v}\n" for k, v in self.extra_config.items())
        self.node_dir(node_id).mkdir(parents=True, exist_ok=True)
        self.config_file(node_id).write_text(text)

    def _format_storage(self, node_ids: Sequence[int]) -> None:
        """Format the nodes not formatted yet, in parallel, with the one cluster id."""
        todo = [n for n in node_ids if not (self._log_dirs(n) / "meta.properties").exists()]
        runs: list[tuple[int, subprocess.Popen[str]]] = []
        for node_id in todo:
            cmd = kafka_java_command(
                STORAGE_TOOL,
                [
                    "format",
                    "--cluster-id",
                    self.cluster_id,
                    "--config",
                    str(self.config_file(node_id)),
                ],
                jars_dir=self.jars_dir,
                heap="256m",
                log4j2_config=self.infra_dir / "tools-log4j2.properties",
                short_lived=True,
            )
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            runs.append((node_id, proc))
        failures = []
        for node_id, proc in runs:
            try:
                out, err = proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            if proc.returncode != 0:
                failures.append(
                    f"node {node_id} ({self._log_dirs(node_id)}, exit {proc.returncode}):"
                    f"\n{out}\n{err}"
                )
        if failures:
            raise KafkaBrokerError("formatting the Kafka storage failed for " + "\n".join(failures))

    def _launch(self, node_id: int) -> None:
        node_dir = self.node_dir(node_id)
        log_file = self.log_file(node_id)
        cmd = kafka_java_command(
            KAFKA_MAIN,
            [str(self.config_file(node_id))],
            jars_dir=self.jars_dir,
            heap=self.heap,
            log4j2_config=self.infra_dir / "log4j2.properties",
            jvm_opts=[f"-Dkafka.logs.dir={node_dir}"],
        )
        log_offset = log_file.stat().st_size if log_file.exists() else 0
        with log_file.open("ab") as log:
            log.write(f"\n===== pulse: starting node {node_id}: {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=node_dir,
                start_new_session=True,  # Ctrl-C in the calling shell does not hit the node
            )
        self._procs[node_id] = proc
        self.pid_file(node_id).write_text(f"{proc.pid}\n")
        self._node_state_file(node_id).write_text(
            json.dumps(
                {
                    "pid": proc.pid,
                    "node_id": node_id,
                    "port": self.ports[node_id - 1],
                    "controller_port": self.controller_ports[node_id - 1],
                    "log": str(log_file),
                    "log_offset": log_offset,
                },
                indent=2,
            )
        )

    def _start_nodes(self, node_ids: Sequence[int]) -> None:
        kafka_jars_dir(self.jars_dir)  # clear message when `make setup` was not run
        began = time.monotonic()
        self._prepare_state()
        to_start = [n for n in node_ids if self.pid(n) is None]
        for node_id in to_start:
            port = self.ports[node_id - 1]
            cport = self.controller_ports[node_id - 1]
            busy = [p for p in (port, cport) if port_open(self.host, p)]
            if busy:
                raise KafkaBrokerError(
                    f"{self.host}:{busy[0]} (node {node_id}) is already in use by another "
                    f"process: stop it, or use another data_dir / other ports"
                )
            self._render_config(node_id)
        self._format_storage(to_start)
        try:
            for node_id in to_start:
                self._launch(node_id)
            self._wait_ready(node_ids, began)
        except BaseException:
            self._stop_nodes(to_start)
            raise

    def start(self) -> Self:
        """Start the nodes that are not running (idempotent) and wait until all are ready."""
        self._start_nodes(self.node_ids)
        return self

    def start_node(self, node_id: int) -> None:
        """Start node ``node_id`` again (after :meth:`kill_node`) and wait until it is ready."""
        self._check_id(node_id)
        self._start_nodes([node_id])

    def _is_ready(self, node_id: int) -> bool:
        if not port_open(self.host, self.ports[node_id - 1]):
            return False
        state = self._read_json(self._node_state_file(node_id)) or {}
        offset = int(state.get("log_offset", 0))
        try:
            with self.log_file(node_id).open("rb") as f:
                f.seek(offset)
                return READY_LINE.encode() in f.read()
        except OSError:
            return False

    def _wait_ready(self, node_ids: Sequence[int], began: float) -> None:
        deadline = began + self.ready_timeout
        pending = list(node_ids)
        while pending:
            for node_id in list(pending):
                if self.pid(node_id) is None:
                    proc = self._procs.get(node_id)
                    code = proc.poll() if proc is not None else None
                    raise KafkaBrokerError(
                        f"Kafka node {node_id} exited during start (exit code {code}); "
                        f"last lines of {self.log_file(node_id)}:\n"
                        f"{log_tail(self.log_file(node_id))}"
                    )
                if self._is_ready(node_id):
                    pending.remove(node_id)
            if not pending:
                return
            if time.monotonic() > deadline:
                alive = sum(self.pid(n) is not None for n in self.node_ids)
                tails = "\n".join(
                    f"--- last lines of {self.log_file(n)}:\n{log_tail(self.log_file(n))}"
                    for n in pending
                )
                raise KafkaBrokerError(
                    f"Kafka nodes {pending} were not ready within {self.ready_timeout:.0f}s "
                    f"({alive} of {self.node_count} nodes run; a node only becomes ready while "
                    f"a majority of the controllers runs)\n{tails}"
                )
            time.sleep(0.2)

    # -- stop ----------------------------------------------------------------------------------
    def kill_node(self, node_id: int) -> None:
        """SIGKILL (kill -9) node ``node_id``, for fault tests; it shows as ``dead`` after."""
        self._check_id(node_id)
        pid = self.pid(node_id)
        if pid is None:
            raise KafkaBrokerError(f"Kafka node {node_id} is not running")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not self._wait_exit(node_id, pid, 10.0):
            raise KafkaBrokerError(f"Kafka node {node_id} (pid {pid}) survived SIGKILL")
        self._reap(node_id)

    def stop(self) -> bool:
        """SIGTERM all nodes, wait up to ``stop_timeout``, SIGKILL the stragglers.

        Returns whether any node was running. All nodes get SIGTERM at once: a broker's
        controlled shutdown needs the controller quorum, which must not be gone already.
        """
        return self._stop_nodes(self.node_ids)

    def _stop_nodes(self, node_ids: Sequence[int]) -> bool:
        pids = {n: pid for n in node_ids if (pid := self.pid(n)) is not None}
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        left = dict(pids)
        while left and time.monotonic() < deadline:
            left = {n: pid for n, pid in left.items() if not self._wait_exit(n, pid, 0.0)}
            if left:
                time.sleep(0.1)
        for node_id, pid in left.items():
            if self._recorded_or_own(node_id, pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for node_id, pid in left.items():
            if not self._wait_exit(node_id, pid, 10.0):
                raise KafkaBrokerError(f"Kafka node {node_id} (pid {pid}) survived SIGKILL")
        for node_id in node_ids:
            self._reap(node_id)
            self.pid_file(node_id).unlink(missing_ok=True)
        return bool(pids)

    def _recorded_or_own(self, node_id: int, pid: int) -> bool:
        """Whether ``pid`` still is node ``node_id`` (checked again before a SIGKILL)."""
        proc = self._procs.get(node_id)
        if proc is not None and proc.pid == pid:
            return proc.poll() is None
        return self._recorded_live_pid(node_id) == pid

    def _wait_exit(self, node_id: int, pid: int, timeout: float) -> bool:
        return wait_exit(pid, self._procs.get(node_id), timeout)

    def _reap(self, node_id: int) -> None:
        reap(self._procs.pop(node_id, None))

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
        ports = self._ports if self._ports is not None else "?"
        return f"LocalKafkaCluster({str(self.data_dir)!r}, nodes={self.node_count}, ports={ports})"
