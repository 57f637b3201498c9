"""A backfill through Kafka needs a reference clock, and its absence must not be silent.

A generated set dated in the past, with three views wrongly dated 1 hour, 26 hours and 30 days
after the newest event of the set (injected early in the views file, as a bad producer would):

* produced into a stack started with the reference clock (``PULSE_AS_OF``, what ``pulse up
  --as-of`` sets) the three are rejected as ``future_event_time`` and every table equals the
  bounded run with ``--as-of`` over the same files;
* produced into an ingest worker on the wall clock, they are accepted (they are in the past of
  *now*), the 30-day one moves its partition's watermark a month ahead, and ``pulse status``
  warns about the jump, naming the event, and about the share of late events.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.commands.status import wait_stored
from pipelines.config import load_settings
from pipelines.connectors.kafka_topics import ensure_topics, pulse_topics
from pipelines.domain.time import DAY_MS, HOUR_MS
from pipelines.local.kafka_broker import LocalKafkaBroker
from pipelines.streaming.monitor import stages

from . import data as dataset
from .compare import assert_same_tables, load
from .conftest import REPO, Proc, require_kafka_jars
from .data import EVENT_STREAMS
from .raw_stack import bounded_reference, pulse_produce, run_stack

pytestmark = pytest.mark.integration

#: how far after the newest event of the set each wrongly dated view is
AHEAD_MS = {"vw_future_1h": HOUR_MS, "vw_future_26h": 26 * HOUR_MS, "vw_future_30d": 30 * DAY_MS}


@dataclass
class Backfill:
    raw_dir: Path
    reference_ms: int
    bounded_dump: Path


def _inject_future_views(raw_dir: Path, newest: int) -> None:
    """Three copies of a view, re-dated after ``newest`` (the newest ACCEPTED event of the set:
    the generator's own malformed lines include events a year ahead), at 20 % of the file."""
    path = raw_dir / "views.jsonl"
    lines = path.read_bytes().splitlines()
    template = json.loads(next(line for line in lines if line.startswith(b'{"event_id"')))
    injected = []
    for event_id, ahead in AHEAD_MS.items():
        injected.append(
            json.dumps({**template, "event_id": event_id, "event_time": newest + ahead}).encode()
        )
    at = len(lines) // 5
    path.write_bytes(b"\n".join([*lines[:at], *injected, *lines[at:]]) + b"\n")


@pytest.fixture(scope="module")
def backfill(tmp_path_factory: pytest.TempPathFactory) -> Backfill:
    tmp = tmp_path_factory.mktemp("backfill")
    data = dataset.build(tmp, load_settings(), creators=10, days=10, seed=23)
    newest = max(data.max_event_ms(stream) for stream in EVENT_STREAMS)
    assert newest < data.reference_ms
    _inject_future_views(data.raw_dir, newest)
    dump = bounded_reference(tmp, data.raw_dir, data.reference_ms)
    rejected = load(dump, "raw_rejected_events").values()
    future = [r for r in rejected if r["reason"] in (b"future_event_time", "future_event_time")]
    raws = b"".join(r["raw"] for r in future)
    assert all(event_id.encode() in raws for event_id in AHEAD_MS), "bounded run must reject them"
    return Backfill(data.raw_dir, data.reference_ms, dump)


def test_a_backfill_with_the_reference_clock_gives_the_bounded_tables(
    backfill: Backfill, tmp_path: Path
) -> None:
    run = run_stack(
        tmp_path / "stack",
        pulse_produce(backfill.raw_dir),
        backfill.reference_ms,
        extra_env={"PULSE_AS_OF": str(backfill.reference_ms)},
    )
    assert_same_tables(run.dump, backfill.bounded_dump, run.cutoff_ms)


@pytest.fixture
def wall_clock_ingest(tmp_path: Path) -> Iterator[tuple[dict[str, str], Proc]]:
    require_kafka_jars()
    broker = LocalKafkaBroker(tmp_path / "kafka", port=None, start_timeout=90.0).start()
    try:
        asyncio.run(ensure_topics(broker.bootstrap, pulse_topics(2)))
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PULSE_KAFKA__BOOTSTRAP": broker.bootstrap,
            "PULSE_INGEST__DATA_DIR": str(tmp_path / "ingest-data"),
            "PULSE_STACK__DIR": str(tmp_path / "stack"),
            "PULSE_FLINK__REST_PORT": "1",  # no Flink here: status says so
        }
        argv = [sys.executable, "-m", "jobs.faust_ingest", "worker", "--without-web", "-l", "info"]
        proc = Proc("ingest", argv, env, tmp_path / "ingest.log")
        yield env, proc
        proc.stop()
    finally:
        broker.stop()


def test_without_the_clock_pulse_status_warns_and_names_the_event(
    backfill: Backfill, wall_clock_ingest: tuple[dict[str, str], Proc]
) -> None:
    env, ingest = wall_clock_ingest
    pulse_produce(backfill.raw_dir)(env["PULSE_KAFKA__BOOTSTRAP"], env)
    settings = load_settings(kafka={"bootstrap": env["PULSE_KAFKA__BOOTSTRAP"]})
    ingest_stage = tuple(s for s in stages(settings) if s.name == "ingest")
    code, reason = asyncio.run(wait_stored(settings, ingest_stage, 180, False))
    assert code == 0, f"{reason}\n{ingest.tail()}"
    time.sleep(2.5)  # the worker writes its health report once a second
    res = subprocess.run(
        [sys.executable, "-m", "pipelines", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    out = res.stdout
    assert "clock   wall clock" in out, out
    jumps = [line for line in out.splitlines() if line.startswith("WARNING watermark jump")]
    assert any("'vw_future_30d'" in line for line in jumps), out
    assert any(
        line.startswith("WARNING stream view:") and "events late" in line
        for line in out.splitlines()
    ), out
