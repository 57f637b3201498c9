"""The streaming ingest keeps the books: one ledger row per ingest batch and raw partition.

Real services only (``raw_stack.run_live``): a fresh broker with two partitions per raw topic,
the ingest worker (small batches, so there are many), the Flink job and the loader. A small
generated set (malformed, replayed and late lines included) is produced raw in two halves; the
ingest worker is killed (``kill -9``) after it committed some of the first half and started
again, so part of a batch may be redone (its ledger record must replace the crashed one's, not
add to it). Then, in the stored warehouse: ``pulse reconcile`` is green, every ledger row and
every source balances, the summed lines per raw topic are the messages produced, and the summed
rejected per source are its dead letters.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines.config import load_settings
from pipelines.domain.events import Stream
from pipelines.domain.streams import spec_of

from . import data as dataset
from .raw_stack import LiveRun, LiveStack, run_live
from .scenarios import aio_produce, interleaved, messages_of, progressed, slices, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
PARTITIONS = 2
EVENTS = (Stream.VIEW, Stream.COMMENT, Stream.AD_CLICK)
CHANGELOGS = (Stream.CREATOR_PROFILE, Stream.CAMPAIGN)


@dataclass
class LedgerRun:
    run: LiveRun
    warehouse: Path
    env: dict[str, str]

    def pulse(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipelines", *args, "--warehouse", str(self.warehouse)],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def query(self, sql: str) -> list[dict[str, Any]]:
        done = self.pulse("query", "--format", "jsonl", sql)
        assert done.returncode == 0, f"{sql}\n{done.stderr}"
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def ledger_run(tmp_path_factory: pytest.TempPathFactory) -> LedgerRun:
    tmp = tmp_path_factory.mktemp("ingest-ledger")
    data = dataset.build(tmp, load_settings(), creators=4, days=4, seed=11)
    assert data.dead_letters and data.late_events
    changelogs = [m for s in CHANGELOGS for m in messages_of(data.raw_dir, s)]
    events = interleaved([messages_of(data.raw_dir, s) for s in EVENTS])
    first, second = slices(events, 2)

    def drive(live: LiveStack) -> None:
        aio_produce(live.bootstrap, changelogs + first)
        live.note("first half produced")
        wait_for(live, "ingest under way", progressed(live, "ingest", 0))
        live.kill9("ingest")
        live.restart("ingest")
        aio_produce(live.bootstrap, second)
        live.note("second half produced")

    run = run_live(
        tmp / "stack",
        drive,
        data.reference_ms,
        partitions=PARTITIONS,
        extra_env={"PULSE_AS_OF": str(data.reference_ms), "PULSE_INGEST__MAX_BATCH": "150"},
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PULSE_WORK_DIR": str(tmp / "work")}
    env.pop("PULSE_WAREHOUSE", None)
    return LedgerRun(run, tmp / "stack" / "wh-streaming", env)


def test_reconcile_is_green_after_a_streaming_run(ledger_run: LedgerRun) -> None:
    done = ledger_run.pulse("reconcile")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ledger_rejected_rows" in done.stdout and "ledger_balances" in done.stdout


def test_every_batch_and_every_source_balances(ledger_run: LedgerRun) -> None:
    rows = ledger_run.query(
        "SELECT stream, source, run_id, position_kind, first_position, last_position, lines, "
        "accepted, rejected, replays, late FROM raw_ingest_ledger FINAL"
    )
    assert rows
    sources: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        assert row["position_kind"] == "offset"
        assert row["run_id"] == f"{row['source']}@{row['first_position']}"
        assert row["lines"] == row["accepted"] + row["rejected"] + row["replays"] + row["late"]
        assert row["lines"] <= row["last_position"] - row["first_position"] + 1
        sources[row["source"]].append(row)
    assert len(sources) == len(Stream) * PARTITIONS
    assert max(len(batches) for batches in sources.values()) > 1  # several batches per source
    for source, batches in sources.items():
        batches.sort(key=lambda r: r["first_position"])
        for before, after in itertools.pairwise(batches):
            # a redone batch replaced the crashed one's row: no two rows cover one offset
            assert before["last_position"] < after["first_position"], (source, before, after)


def test_ledger_lines_are_the_messages_produced(ledger_run: LedgerRun) -> None:
    rows = ledger_run.query(
        "SELECT splitByChar('/', source)[1] AS topic, sum(lines) AS lines, "
        "sum(accepted) AS accepted, sum(rejected) AS rejected, sum(replays) AS replays, "
        "sum(late) AS late FROM raw_ingest_ledger FINAL GROUP BY topic"
    )
    lines = {r["topic"]: int(r["lines"]) for r in rows}
    produced = {spec_of(s).raw_topic: ledger_run.run.records[spec_of(s).raw_topic] for s in Stream}
    assert lines == produced
    totals = {k: sum(int(r[k]) for r in rows) for k in ("rejected", "replays", "late")}
    assert totals["rejected"] > 0 and totals["late"] > 0


def test_rejected_sums_are_the_dead_letters_of_each_source(ledger_run: LedgerRun) -> None:
    ledger = ledger_run.query(
        "SELECT stream, source, sum(rejected) AS n FROM raw_ingest_ledger FINAL "
        "GROUP BY stream, source"
    )
    letters = ledger_run.query(
        "SELECT stream, source, count() AS n FROM raw_rejected_events FINAL GROUP BY stream, source"
    )
    counted = {(r["stream"], r["source"]): int(r["n"]) for r in ledger if int(r["n"])}
    assert counted == {(r["stream"], r["source"]): int(r["n"]) for r in letters}
    dead = ledger_run.run.records["deadletter.rejected"]
    assert sum(counted.values()) == dead  # one dead letter per rejected message, none twice
