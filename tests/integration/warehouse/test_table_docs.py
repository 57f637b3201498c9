"""docs/tables.md is generated from the warehouse comments and is up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.table_docs import (
    EXAMPLE_QUERIES,
    missing_comments,
    read_table_docs,
    render,
)
from pipelines.warehouse.tables import TABLES

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
TABLES_MD = REPO / "docs" / "tables.md"


def test_docs_tables_md_is_up_to_date(warehouse: Warehouse) -> None:
    expected = render(read_table_docs(warehouse))
    assert TABLES_MD.read_text(encoding="utf-8") == expected, (
        "docs/tables.md is out of date: run `make docs`"
    )


def test_every_table_and_column_has_a_comment(warehouse: Warehouse) -> None:
    tables = read_table_docs(warehouse)
    assert {t.name for t in tables} >= set(TABLES)
    assert missing_comments(tables) == []


def test_a_missing_comment_is_caught(warehouse: Warehouse) -> None:
    warehouse.command(
        f"ALTER TABLE {warehouse.table('fct_attributed_clicks')} COMMENT COLUMN ad_id ''"
    )
    tables = read_table_docs(warehouse)
    assert missing_comments(tables) == ["fct_attributed_clicks.ad_id"]
    assert render(tables) != TABLES_MD.read_text(encoding="utf-8")


def test_every_table_has_an_example_query_that_runs(warehouse: Warehouse) -> None:
    names = [t.name for t in read_table_docs(warehouse)]
    missing = [name for name in names if name not in EXAMPLE_QUERIES]
    assert missing == [], "add an example query to table_docs.EXAMPLE_QUERIES"
    for name in names:
        sql = EXAMPLE_QUERIES[name]
        assert f"pulse.{name}" in sql, name
        warehouse.query_rows(sql)  # valid against the real (empty) table


def test_command_line_check(tmp_path: Path) -> None:
    """`python -m pipelines.warehouse.table_docs` (what `make docs` runs) agrees with the file."""
    command = [sys.executable, "-m", "pipelines.warehouse.table_docs"]
    fresh = subprocess.run(
        [*command, "--check", "--out", str(TABLES_MD)], cwd=REPO, capture_output=True, text=True
    )
    assert fresh.returncode == 0, fresh.stderr
    stale = tmp_path / "tables.md"
    stale.write_text("# stale\n", encoding="utf-8")
    result = subprocess.run(
        [*command, "--check", "--out", str(stale)], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "out of date" in result.stderr
