"""The cluster form of pulse's own writes, parsed by ClickHouse's parser (chdb).

chdb has no Keeper, no remote_servers and no ``{cluster}`` macro: ON CLUSTER statements and
Replicated engines cannot run here. Every cluster-mode statement of the loader, the payout
rebuild, ``pulse close`` and the bounded run therefore goes through ``formatQuery`` (a broken
one is refused), and what chdb CAN run is run: the stage's storage against the migrated
rollup, and a partition swap from a stage made like the cluster one. Nothing here ran against
a ClickHouse server or cluster.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.migrations import MigrationError, migrate
from pipelines.warehouse.rollups import PAYOUTS, PAYOUTS_ENGINE, PAYOUTS_STORAGE, stage_statements
from tests.unit.warehouse.test_cluster_writes import STAGE, cluster_write_statements

pytestmark = pytest.mark.integration

FORMATTED_ON_CLUSTER = "ON CLUSTER `{cluster}`"
REPLICATED = re.compile(r"ENGINE = Replicated(\w+)\('[^']*', '\{replica\}'\)")


def _literal(sql: str) -> str:
    return "'" + sql.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _format(wh: Warehouse, statement: str) -> str:
    _names, rows = wh.query_rows(f"SELECT formatQuery({_literal(statement)})")
    return str(rows[0][0])


def test_every_cluster_write_parses_in_clickhouse(warehouse: Warehouse) -> None:
    statements = cluster_write_statements(warehouse.database)
    assert len(statements) >= 20
    for label, statement in statements.items():
        formatted = _format(warehouse, statement)
        if label == "stage insert":  # through the Distributed stage, routed by its key
            assert formatted.startswith(f"INSERT INTO pulse.{STAGE}"), formatted
            assert "distributed_foreground_insert = 1" in formatted
            continue
        assert FORMATTED_ON_CLUSTER in formatted, (label, formatted)
        if formatted.startswith(("ALTER TABLE", "OPTIMIZE TABLE", "SYSTEM SYNC")):
            assert re.search(
                r"pulse\.\w+_local ON CLUSTER|CLUSTER `\{cluster\}` pulse\.\w+_local", formatted
            )


def test_the_stage_storage_is_the_rollups(warehouse: Warehouse) -> None:
    _n, rows = warehouse.query_rows(
        "SELECT engine, partition_key, sorting_key FROM system.tables "
        f"WHERE database = 'pulse' AND name = '{PAYOUTS}'"
    )
    engine, partition_key, sorting_key = rows[0]
    assert engine == PAYOUTS_ENGINE
    assert f"PARTITION BY {partition_key} ORDER BY ({sorting_key})" == PAYOUTS_STORAGE


def _on_one_node(cluster_sql: str) -> str:
    """The cluster stage's CREATE as one node can run it: no ON CLUSTER, the plain engine,
    shaped like the single-node rollup (the cluster names its local table)."""
    sql = cluster_sql.replace(" ON CLUSTER '{cluster}'", "")
    sql = sql.replace(f"`{PAYOUTS}_local`", f"`{PAYOUTS}`").replace(
        f"`{STAGE}_local`", f"`{STAGE}`"
    )
    sql, replaced = REPLICATED.subn(r"ENGINE = \1", sql)
    assert replaced == 1, cluster_sql
    return sql


def test_a_partition_swaps_in_from_a_stage_made_like_the_cluster_one(
    warehouse: Warehouse,
) -> None:
    local_create, _distributed = stage_statements(warehouse.database, STAGE, True)
    warehouse.command(_on_one_node(local_create))
    stage, payouts = warehouse.table(STAGE), warehouse.table(PAYOUTS)
    warehouse.command(
        f"INSERT INTO {payouts} VALUES ('old', '2026-10-01', 'USD', 1, 1, 10, 5, 5), "
        "('old', '2026-11-01', 'USD', 1, 1, 10, 5, 5)"
    )
    warehouse.command(f"INSERT INTO {stage} VALUES ('new', '2026-10-02', 'USD', 2, 2, 20, 10, 10)")
    warehouse.command(f"ALTER TABLE {payouts} REPLACE PARTITION ID '202610' FROM {stage}")
    _n, rows = warehouse.query_rows(f"SELECT creator_id, day FROM {payouts} ORDER BY day")
    assert [(creator, day.isoformat()) for creator, day in rows] == [
        ("new", "2026-10-02"),
        ("old", "2026-11-01"),
    ]


def test_migrate_on_a_cluster_refuses_single_node_ddl(warehouse_dir: Path) -> None:
    """A cluster whose schema lacks a migration: `pulse migrate` (the loader runs it at start)
    stops instead of running single-node DDL on one host; with every migration recorded (as
    the cluster files record them) it applies nothing and passes."""
    wh = Warehouse.connect(str(warehouse_dir))
    try:
        wh.cluster = True  # chdb cannot be a cluster: only the bookkeeping decides here
        with pytest.raises(MigrationError, match=r"0001_.*--since 1 "):
            migrate(wh)
        assert not wh.database_exists()
        wh.cluster = False
        migrate(wh)
        wh.cluster = True
        assert migrate(wh) == []
    finally:
        wh.close()
