"""What the streaming benchmarks share: starting and stopping the jobs of a local stack, a whole
stack started the way a user starts it (``pulse up`` or ``pulse up --cluster`` on free ports and
temporary folders), the CPU seconds of its processes, and reading back when each click became
visible in the warehouse (the loader journal)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from pipelines.local.processes import free_ports

REPO = Path(__file__).resolve().parents[1]
CLICKS_TOPIC = "results.attributed_clicks"
#: the streaming ingest worker, as `pulse up` starts it
INGEST_ARGV = [sys.executable, "-m", "jobs.faust_ingest", "worker", "--without-web", "-l", "info"]
LOADER_ARGV = [sys.executable, "-m", "jobs.faust_loader"]


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A job in its own process group, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL to whatever is left of its process group (PyFlink's JVM)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and the rest of its process group (from /proc)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    with contextlib.suppress(OSError):
        out = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout
        pids = sorted({pid, *(int(p) for p in out.split())})
    for p in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def stack_env(tmp: Path, *, cluster: bool) -> dict[str, str]:
    """The environment of every ``pulse`` command of one stack under ``tmp``: free ports, the
    stack's folders in ``tmp``, every tuning setting at its default. ``cluster``: the settings
    of ``pulse up --cluster`` too (its nodes' ports; the bootstrap names its three nodes)."""
    ports = free_ports(14)  # all at once: never the same port twice
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PULSE_KAFKA__BOOTSTRAP": f"127.0.0.1:{ports[0]}",
        "PULSE_KAFKA__DATA_DIR": str(tmp / "kafka"),
        "PULSE_FLINK__REST_PORT": str(ports[1]),
        "PULSE_FLINK__CHECKPOINT_DIR": str(tmp / "checkpoints"),
        "PULSE_METRICS__FLINK_PORT": str(ports[2]),
        "PULSE_METRICS__INGEST_PORT": str(ports[3]),
        "PULSE_METRICS__LOADER_PORT": str(ports[4]),
        "PULSE_STACK__DIR": str(tmp / "stack"),
        "PULSE_WORK_DIR": str(tmp / "work"),
        "PULSE_WAREHOUSE": str(tmp / "warehouse"),
        "PULSE_INGEST__DATA_DIR": str(tmp / "ingest-data"),
        "PULSE_LOADER__DATA_DIR": str(tmp / "loader-data"),
        "PULSE_LOADER__JOURNAL": str(tmp / "loader-journal.jsonl"),
    }
    if cluster:
        brokers = [ports[0], ports[12], ports[13]]
        env.update(
            {
                "PULSE_CLUSTER__DIR": str(tmp / "cluster"),
                "PULSE_CLUSTER__KAFKA_PORTS": json.dumps(brokers),
                "PULSE_CLUSTER__KAFKA_CONTROLLER_PORTS": json.dumps(ports[5:8]),
                "PULSE_CLUSTER__TASKMANAGER_METRICS_PORTS": json.dumps(ports[8:10]),
                "PULSE_CLUSTER__INGEST_METRICS_PORTS": json.dumps(ports[10:12]),
                "PULSE_KAFKA__BOOTSTRAP": ",".join(f"127.0.0.1:{p}" for p in brokers),
            }
        )
    return env


def pulse(env: dict[str, str], *args: str, timeout: float = 900.0) -> str:
    """``pulse ARGS`` as a user runs it; its output (RuntimeError on a non-zero exit)."""
    res = subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if res.returncode != 0:
        raise RuntimeError(f"pulse {' '.join(args)}: {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res.stdout


def stack_pids(env: dict[str, str]) -> dict[str, int]:
    """name -> pid of every running process of the stack (``pulse status --format json``)."""
    res = subprocess.run(
        [sys.executable, "-m", "pipelines", "status", "--format", "json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    status: dict[str, Any] = json.loads(res.stdout)
    return {
        name: int(c["pid"])
        for name, c in status.get("components", {}).items()
        if c.get("pid") and c.get("state") == "running"
    }


async def click_offsets(bootstrap: str, until: float) -> dict[int, str]:
    """offset -> click id of ``results.attributed_clicks`` (read back after the run)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tp = TopicPartition(CLICKS_TOPIC, 0)
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    end = (await consumer.end_offsets([tp]))[tp]
    out: dict[int, str] = {}
    try:
        while len(out) < end and time.monotonic() < until:
            batch = await consumer.getmany(tp, timeout_ms=500)
            for record in batch.get(tp, []):
                out[record.offset] = json.loads(record.value)["click_id"]
    finally:
        await consumer.stop()
    return out


def visible_clicks(journal: Path, offsets: dict[int, str]) -> dict[str, int]:
    """click id -> wall ms at which the loader's insert of its row returned (loader journal,
    ``PULSE_LOADER__JOURNAL``: only the loader may open an embedded warehouse folder)."""
    visible: dict[str, int] = {}
    if not journal.exists():
        return visible
    for line in journal.read_text().splitlines():
        entry = json.loads(line)
        if entry["topic"] != CLICKS_TOPIC:
            continue
        for _partition, offset in entry["offsets"]:
            cid = offsets.get(offset)
            if cid is not None and cid not in visible:
                visible[cid] = entry["visible_ms"]
    return visible
