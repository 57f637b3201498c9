"""`pulse migrate` and `pulse query` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.warehouse.tables import TABLES
from tests.conftest import REPO, PulseCli

pytestmark = pytest.mark.integration


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("pulse: error: ")
    return lines[0]


def test_migrate_then_query(pulse_cli: PulseCli) -> None:
    first = pulse_cli("migrate")
    assert first.returncode == 0, first.stderr
    assert "applied 0003_fct_attributed_clicks.sql" in first.stdout
    again = pulse_cli("migrate")
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout and "applied 0" not in again.stdout

    sql = """SELECT toDateTime64('2024-05-01 12:00:00.250', 3, 'UTC') AS at,
                    toDate('2024-05-01') AS day, toInt64(9007199254740993) AS micros,
                    ['low_engagement', 'underage'] AS reasons,
                    CAST(NULL AS Nullable(String)) AS creator_id,
                    count() AS tables
             FROM system.tables WHERE database = currentDatabase()"""
    result = pulse_cli("query", "--format", "jsonl", sql)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line) == {
        "at": "2024-05-01T12:00:00.250Z",
        "day": "2024-05-01",
        "micros": 9007199254740993,
        "reasons": ["low_engagement", "underage"],
        "creator_id": None,
        "tables": len(TABLES) + 1,  # unqualified names resolve in the pulse database
    }

    table = pulse_cli(
        "query", "SELECT name FROM system.tables WHERE database = 'pulse' ORDER BY name LIMIT 2"
    )
    assert table.stdout.splitlines() == [
        "name",
        "-" * len("agg_creator_payouts_daily"),
        "agg_creator_payouts_daily",
        "dim_campaigns",
        "(2 rows)",
    ]
    csv = pulse_cli("query", "--format", "csv", "SELECT 1 AS a, 'x,y' AS b")
    assert csv.stdout == 'a,b\n1,"x,y"\n'

    error = one_line_error(pulse_cli("query", "SELECT * FROM no_such_table"))
    assert "UNKNOWN_TABLE" in error and "no_such_table" in error


def test_help_texts(pulse_cli: PulseCli) -> None:
    for command in ("migrate", "query"):
        result = pulse_cli(command, "--help")
        assert result.returncode == 0
        assert "--warehouse" in result.stdout
    assert "jsonl" in pulse_cli("query", "--help").stdout


@pytest.mark.parametrize(
    ("warehouse", "message"),
    [
        ("ftp://bob:hunter22@h/", "unknown scheme 'ftp'"),
        ("clickhouse://bob:hunter22@127.0.0.1:1/", "Connection refused"),
        ("clickhouse://bob:hunter22@no-such-host.invalid:8123/", "cannot resolve host"),
        ("/etc/hostname", "is a file, not a folder"),
    ],
)
def test_bad_warehouse_values(pulse_cli: PulseCli, warehouse: str, message: str) -> None:
    result = pulse_cli("query", "--warehouse", warehouse, "SELECT 1")
    error = one_line_error(result)
    assert message in error
    assert "hunter22" not in result.stderr + result.stdout


def test_query_on_missing_folder(pulse_cli: PulseCli, tmp_path: Path) -> None:
    error = one_line_error(pulse_cli("query", "--warehouse", str(tmp_path / "nope"), "SELECT 1"))
    assert "does not exist" in error


def test_locked_folder_gives_one_sentence(pulse_cli: PulseCli, warehouse_dir: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pipelines.connectors.warehouse import Warehouse\n"
            f"wh = Warehouse.connect({str(warehouse_dir)!r})\n"
            "print('ready', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = pulse_cli("query", "SELECT 1")
        error = one_line_error(result)
        assert error == (
            f"pulse: error: warehouse folder {warehouse_dir.resolve()} is in use by another "
            f"process (pid {holder.pid}) — stop it or choose another --warehouse"
        )
        assert "Code: 76" not in result.stderr
    finally:
        holder.communicate(timeout=60)  # closing stdin lets the holder exit
    assert pulse_cli("migrate").returncode == 0  # released with the holder
