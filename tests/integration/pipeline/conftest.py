"""End-to-end runs of ``pulse run`` over crafted files, ONCE per data set (session scope).

A Flink run costs 20-40 s, so the suite runs four: the main data set, the same
input again into the same warehouse (idempotency), the main data set with every
line written twice (replays), and a folder with missing files. Each fixture
dumps every output table right after its run (``pulse query`` subprocesses:
chdb serves a folder to one process at a time) and the tests read the dumps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .builder import DataSet
from .scenario import AS_OF, AS_OF_MS, build_main, build_missing_files

REPO = Path(__file__).resolve().parents[3]

Row = dict[str, Any]

# Every contract output table (and the two dimensions) with its key, for ordered dumps.
TABLE_KEYS: dict[str, str] = {
    "raw_rejected_events": "stream, source, line",
    "raw_late_events": "stream, event_id, event_time",
    "fct_attributed_clicks": "click_id",
    "fct_engagement_windows": "creator_id, window_start, window_end",
    "fct_eligibility": "creator_id, as_of",
    "fct_eligibility_transitions": "creator_id, as_of",
    "agg_creator_payouts_daily": "creator_id, day, currency",
    "dim_creator_profiles": "creator_id, updated_at",
    "dim_campaigns": "campaign_id, updated_at",
}


def pulse(*args: str, work_dir: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``pulse ARGS`` in a subprocess (never raises on a non-zero exit)."""
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


def query(warehouse: Path, sql: str, work_dir: Path) -> list[Row]:
    done = pulse(
        "query",
        "--warehouse",
        str(warehouse),
        "--format",
        "jsonl",
        sql,
        work_dir=work_dir,
        timeout=120,
    )
    assert done.returncode == 0, f"pulse query failed: {sql}\n{done.stderr}"
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def dump_tables(warehouse: Path, work_dir: Path) -> dict[str, list[Row]]:
    return {
        table: query(warehouse, f"SELECT * FROM {table} FINAL ORDER BY {key}", work_dir)
        for table, key in TABLE_KEYS.items()
    }


@dataclass(frozen=True)
class RunResult:
    input_dir: Path
    warehouse: Path
    process: subprocess.CompletedProcess[str]
    tables: dict[str, list[Row]]

    def rows(self, table: str, **where: Any) -> list[Row]:
        return [row for row in self.tables[table] if all(row[k] == v for k, v in where.items())]

    def one(self, table: str, **where: Any) -> Row:
        found = self.rows(table, **where)
        assert len(found) == 1, f"{table} {where}: expected one row, got {found}"
        return found[0]

    def click(self, click_id: str) -> Row:
        return self.one("fct_attributed_clicks", click_id=click_id)

    def path(self, file_name: str) -> str:
        return str((self.input_dir / file_name).resolve())


def run_pipeline(input_dir: Path, warehouse: Path, work_dir: Path, as_of: str = AS_OF) -> RunResult:
    done = pulse(
        "run",
        "--input",
        str(input_dir),
        "--warehouse",
        str(warehouse),
        "--as-of",
        as_of,
        "--no-report",
        work_dir=work_dir,
    )
    assert done.returncode == 0, f"pulse run failed ({done.returncode}):\n{done.stderr[-5000:]}"
    return RunResult(input_dir, warehouse, done, dump_tables(warehouse, work_dir))


@pytest.fixture(scope="session")
def e2e_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pipeline-e2e")


@pytest.fixture(scope="session")
def main_data() -> DataSet:
    return build_main()


@pytest.fixture(scope="session")
def main_run(e2e_root: Path, main_data: DataSet) -> RunResult:
    input_dir = e2e_root / "main-input"
    main_data.write(input_dir)
    return run_pipeline(input_dir, e2e_root / "main-warehouse", e2e_root / "work")


@pytest.fixture(scope="session")
def rerun(main_run: RunResult, e2e_root: Path) -> RunResult:
    """The same input again, into the same warehouse (main_run's dump was taken before)."""
    return run_pipeline(main_run.input_dir, main_run.warehouse, e2e_root / "work")


@pytest.fixture(scope="session")
def doubled_run(e2e_root: Path, main_data: DataSet, main_run: RunResult) -> RunResult:
    input_dir = e2e_root / "doubled-input"
    main_data.write(input_dir, double_every_line=True)
    return run_pipeline(input_dir, e2e_root / "doubled-warehouse", e2e_root / "work")


@pytest.fixture(scope="session")
def missing_files_run(e2e_root: Path) -> RunResult:
    """Only views.jsonl and ad_clicks.jsonl; --as-of given as epoch milliseconds."""
    input_dir = e2e_root / "missing-input"
    build_missing_files().write(input_dir, streams=("view", "ad_click"))
    return run_pipeline(
        input_dir, e2e_root / "missing-warehouse", e2e_root / "work", as_of=str(AS_OF_MS)
    )
