"""What the streaming benchmarks share: starting and stopping the jobs of a local stack, and
reading back when each click became visible in the warehouse (the loader journal)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

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
