"""The books story through the CLI, one Flink run per step (module-shared fixtures):

1. ``first``: ``pulse run`` over the January + early February input;
2. ``closed``: ``pulse close --month 2026-01`` (and the refusals around it);
3. ``superset``: the files overwritten with a superset that adds clicks to the closed
   January and to the open February, ``pulse run`` again;
4. ``superset_again``: the same superset once more.

Each step dumps what the tests read right after it ran (chdb serves a folder to one
process at a time, so everything goes through ``pulse`` subprocesses).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

from . import data

#: the money columns of an adjustment row, in the order of the statement's totals
DELTAS = (
    "valid_clicks_delta",
    "payable_clicks_delta",
    "gross_micros_delta",
    "creator_micros_delta",
    "platform_micros_delta",
)

Row = dict[str, Any]

DUMPS: dict[str, str] = {
    "raw_rejected_events": (
        "SELECT stream, source, line, reason, lower(hex(SHA256(raw))) AS raw_sha, "
        "length(raw) AS raw_len FROM raw_rejected_events FINAL ORDER BY stream, source, line"
    ),
    "raw_ingest_ledger": "SELECT * FROM raw_ingest_ledger FINAL ORDER BY recorded_at, stream",
    "fct_attributed_clicks": "SELECT * FROM fct_attributed_clicks FINAL ORDER BY click_id",
    "agg_creator_payouts_daily": (
        "SELECT * FROM agg_creator_payouts_daily FINAL ORDER BY creator_id, day, currency"
    ),
    "fct_payout_statements": "SELECT * FROM fct_payout_statements ORDER BY month, statement_id",
    "fct_payout_closes": "SELECT * FROM fct_payout_closes ORDER BY month",
    "fct_payout_adjustments": (
        "SELECT * FROM fct_payout_adjustments FINAL ORDER BY for_month, creator_id, currency"
    ),
}


def pulse(*args: str, work_dir: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PULSE_WORK_DIR": str(work_dir)}
    env.pop("PULSE_WAREHOUSE", None)
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Books:
    """A warehouse and the input folder of the story, plus helpers to drive pulse."""

    root: Path
    input_dir: Path
    warehouse: Path

    @property
    def work(self) -> Path:
        return self.root / "work"

    def pulse(self, *args: str, warehouse: Path | None = None) -> subprocess.CompletedProcess[str]:
        return pulse(*args, "--warehouse", str(warehouse or self.warehouse), work_dir=self.work)

    def query(self, sql: str, warehouse: Path | None = None) -> list[Row]:
        done = self.pulse("query", "--format", "jsonl", sql, warehouse=warehouse)
        assert done.returncode == 0, f"{sql}\n{done.stderr}"
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def dump(self) -> dict[str, list[Row]]:
        return {name: self.query(sql) for name, sql in DUMPS.items()}

    def run(self) -> subprocess.CompletedProcess[str]:
        done = self.pulse("run", "--input", str(self.input_dir), "--as-of", data.AS_OF)
        assert done.returncode == 0, f"pulse run failed:\n{done.stderr[-5000:]}"
        return done

    def copy(self, name: str) -> Path:
        """A copy of the warehouse folder (to tamper with)."""
        target = self.root / name
        shutil.copytree(self.warehouse, target, symlinks=True)  # relative links into store/
        return target


@dataclass(frozen=True)
class Step:
    run: subprocess.CompletedProcess[str] | None
    tables: dict[str, list[Row]]
    reconcile: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Books:
    root = tmp_path_factory.mktemp("books")
    return Books(root, root / "input", root / "warehouse")


@pytest.fixture(scope="module")
def first(books: Books) -> Step:
    data.write(books.input_dir, superset=False)
    run = books.run()
    return Step(run, books.dump(), books.pulse("reconcile"))


@dataclass(frozen=True)
class Closing:
    close: subprocess.CompletedProcess[str]
    again: subprocess.CompletedProcess[str]
    not_final: subprocess.CompletedProcess[str]
    statements_jsonl: subprocess.CompletedProcess[str]
    statements_csv: subprocess.CompletedProcess[str]
    statements_table: subprocess.CompletedProcess[str]
    tables: dict[str, list[Row]]
    warehouse_copy: Path  # the warehouse right after the close, for tampering


@pytest.fixture(scope="module")
def closed(books: Books, first: Step) -> Closing:
    close = books.pulse("close", "--month", "2026-01")
    again = books.pulse("close", "--month", "2026-01")
    not_final = books.pulse("close", "--month", "2026-02")
    jsonl = books.pulse("statements", "--month", "2026-01", "--format", "jsonl")
    csv = books.pulse("statements", "--month", "2026-01", "--format", "csv")
    table = books.pulse("statements", "--month", "2026-01")
    tables = books.dump()
    return Closing(close, again, not_final, jsonl, csv, table, tables, books.copy("after-close"))


@pytest.fixture(scope="module")
def superset(books: Books, closed: Closing) -> Step:
    shutil.rmtree(books.input_dir)
    data.write(books.input_dir, superset=True)
    run = books.run()
    return Step(run, books.dump(), books.pulse("reconcile"))


@pytest.fixture(scope="module")
def superset_again(books: Books, superset: Step) -> Step:
    run = books.run()
    return Step(run, books.dump(), books.pulse("reconcile"))
