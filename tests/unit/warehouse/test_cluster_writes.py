"""The cluster form of pulse's own writes (pipelines/connectors/warehouse_cluster.py), as
text: no warehouse. With the flag off every statement is byte for byte the one pulse sent
before cluster mode existed; with it on, whatever a Distributed table refuses names the
``_local`` tables ON CLUSTER. tests/integration/warehouse/test_cluster_writes.py parses every
cluster statement listed here with ClickHouse's parser (chdb); none ran on a cluster."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from pipelines.connectors import warehouse as warehouse_module
from pipelines.connectors.warehouse import Warehouse
from pipelines.connectors.warehouse_cluster import (
    ON_CLUSTER,
    client_settings,
    data_target,
    delete_sql,
    drop_partition_sql,
    insert_settings,
    optimize_final_sql,
    replace_partition_sql,
    stage_drop_sql,
    stage_insert_sql,
    stage_sync_sql,
)
from pipelines.connectors.warehouse_target import Target
from pipelines.errors import WarehouseError
from pipelines.warehouse.close import orphan_statements_sql
from pipelines.warehouse.cluster_ddl import SHARDING_KEYS
from pipelines.warehouse.ledger import rejected_delete_sql
from pipelines.warehouse.rollups import (
    PAYOUTS,
    PAYOUTS_STORAGE,
    stage_statements,
    swap_statement,
)

DB = "pulse"
STAGE = "_stage_agg_creator_payouts_daily_0123456789ab"
SELECT = "\nSELECT creator_id FROM `pulse`.`fct_attributed_clicks` FINAL"
COLUMNS = "creator_id, day"
#: every table whose data commands pulse issues (bounded run's OPTIMIZE, deletes, swaps)
OPTIMIZED = (
    "fct_attributed_clicks",
    "fct_engagement_windows",
    "fct_eligibility",
    "fct_eligibility_transitions",
    "raw_rejected_events",
    "raw_late_events",
    "agg_creator_payouts_daily",
    "dim_creator_profiles",
    "dim_campaigns",
    "raw_ingest_ledger",
    "fct_payout_adjustments",
)


def cluster_write_statements(database: str = DB) -> dict[str, str]:
    """Every statement pulse's writes issue in cluster mode (one per kind and table), by label.

    Shared with the integration test that parses each in chdb."""
    statements: dict[str, str] = {}
    for index, sql in enumerate(stage_statements(database, STAGE, True)):
        statements[f"stage create {index}"] = sql
    statements["stage insert"] = stage_insert_sql(database, STAGE, COLUMNS, SELECT, True)
    for index, sql in enumerate(stage_sync_sql(database, STAGE, True)):
        statements[f"stage sync {index}"] = sql
    statements["swap"] = swap_statement(database, STAGE, 202610, True, True)
    statements["swap, empty source allowed"] = swap_statement(
        database, STAGE, 202610, True, True, empty_ok=True
    )
    statements["drop month"] = swap_statement(database, STAGE, 202610, False, True)
    for index, sql in enumerate(stage_drop_sql(database, STAGE, True)):
        statements[f"stage drop {index}"] = sql
    statements["close: orphan statements"] = orphan_statements_sql(
        database, date(2026, 10, 1), True
    )
    statements["run: dead letters"] = rejected_delete_sql(
        database, [("view", "views.jsonl"), ("ad_click", "it's.jsonl")], True
    )
    for table in OPTIMIZED:
        statements[f"optimize {table}"] = optimize_final_sql(database, table, True)
    return statements


# --- one node: unchanged -------------------------------------------------------------------


def test_single_node_statements_are_unchanged() -> None:
    assert optimize_final_sql(DB, "raw_late_events", False) == (
        "OPTIMIZE TABLE `pulse`.`raw_late_events` FINAL"
    )
    assert orphan_statements_sql(DB, date(2026, 10, 1), False) == (
        "ALTER TABLE `pulse`.`fct_payout_statements` DELETE WHERE month = '2026-10-01' "
        "SETTINGS mutations_sync = 2"
    )
    assert rejected_delete_sql(DB, [("view", "a.jsonl"), ("comment", "b'c")], False) == (
        "ALTER TABLE `pulse`.`raw_rejected_events` DELETE WHERE "
        "(stream = 'view' AND source = 'a.jsonl') OR (stream = 'comment' AND source = 'b\\'c') "
        "SETTINGS mutations_sync = 2"
    )
    stage = f"`pulse`.`{STAGE}`"
    assert stage_statements(DB, STAGE, False) == [
        f"CREATE TABLE {stage} AS `pulse`.`agg_creator_payouts_daily`"
    ]
    assert stage_insert_sql(DB, STAGE, COLUMNS, SELECT, False) == (
        f"INSERT INTO {stage} ({COLUMNS}) {SELECT}"
    )
    assert stage_sync_sql(DB, STAGE, False) == []
    assert swap_statement(DB, STAGE, 202610, True, False, empty_ok=True) == (
        "ALTER TABLE `pulse`.`agg_creator_payouts_daily` "
        f"REPLACE PARTITION ID '202610' FROM {stage}"
    )
    assert swap_statement(DB, STAGE, 202610, False, False) == (
        "ALTER TABLE `pulse`.`agg_creator_payouts_daily` DROP PARTITION ID '202610'"
    )
    assert stage_drop_sql(DB, STAGE, False) == [f"DROP TABLE IF EXISTS {stage} SYNC"]
    assert insert_settings(False, "loader:t/0@1-2#v") is None
    assert insert_settings(False, None) is None


# --- a cluster -----------------------------------------------------------------------------


def test_data_commands_name_the_local_tables_on_cluster() -> None:
    assert data_target(DB, "t", True) == "`pulse`.`t_local` ON CLUSTER '{cluster}'"
    statements = cluster_write_statements()
    for label, sql in statements.items():
        assert ON_CLUSTER in sql or label == "stage insert", label
        if sql.startswith(("ALTER TABLE", "OPTIMIZE TABLE")):
            assert re.match(r"^\w+ TABLE `pulse`\.`\w+_local` ON CLUSTER '\{cluster\}' ", sql), sql
    assert statements["close: orphan statements"] == (
        "ALTER TABLE `pulse`.`fct_payout_statements_local` ON CLUSTER '{cluster}' "
        "DELETE WHERE month = '2026-10-01' SETTINGS mutations_sync = 2"
    )
    assert statements["optimize raw_late_events"] == (
        "OPTIMIZE TABLE `pulse`.`raw_late_events_local` ON CLUSTER '{cluster}' FINAL "
        "SETTINGS alter_sync = 2"
    )


def test_the_payout_swap_is_per_shard_from_the_local_stage() -> None:
    statements = cluster_write_statements()
    local_stage = f"`pulse`.`{STAGE}_local`"
    assert statements["swap"] == (
        "ALTER TABLE `pulse`.`agg_creator_payouts_daily_local` ON CLUSTER '{cluster}' "
        f"REPLACE PARTITION ID '202610' FROM {local_stage} SETTINGS alter_sync = 2"
    )
    assert statements["swap, empty source allowed"].endswith(
        "SETTINGS alter_sync = 2, allow_replace_partition_from_empty_source = 1"
    )
    assert statements["drop month"] == (
        "ALTER TABLE `pulse`.`agg_creator_payouts_daily_local` ON CLUSTER '{cluster}' "
        "DROP PARTITION ID '202610' SETTINGS alter_sync = 2"
    )
    assert (
        statements["stage sync 0"] == f"SYSTEM SYNC REPLICA ON CLUSTER '{{cluster}}' {local_stage}"
    )
    assert [s.split(" ON CLUSTER")[0] for s in stage_drop_sql(DB, STAGE, True)] == [
        f"DROP TABLE IF EXISTS `pulse`.`{STAGE}`",
        f"DROP TABLE IF EXISTS {local_stage}",
    ]


def test_the_cluster_stage_is_shaped_and_sharded_like_the_rollup() -> None:
    local, front = stage_statements(DB, STAGE, True)
    assert local == (
        f"CREATE TABLE `pulse`.`{STAGE}_local` ON CLUSTER '{{cluster}}' "
        "AS `pulse`.`agg_creator_payouts_daily_local` "
        "ENGINE = ReplicatedReplacingMergeTree("
        f"'/clickhouse/tables/{{shard}}/{{database}}/{STAGE}', '{{replica}}') {PAYOUTS_STORAGE}"
    )
    # its own Keeper path: the rollup's (agg_creator_payouts_daily) would be taken
    assert "/agg_creator_payouts_daily'" not in local
    assert PAYOUTS_STORAGE == "PARTITION BY toYYYYMM(day) ORDER BY (creator_id, day, currency)"
    assert front == (
        f"CREATE TABLE `pulse`.`{STAGE}` ON CLUSTER '{{cluster}}' AS `pulse`.`{STAGE}_local` "
        f"ENGINE = Distributed('{{cluster}}', `pulse`, `{STAGE}_local`, "
        f"{SHARDING_KEYS[PAYOUTS].expression})"
    )
    insert = stage_insert_sql(DB, STAGE, COLUMNS, SELECT, True)
    assert insert == (
        f"INSERT INTO `pulse`.`{STAGE}` ({COLUMNS}) SETTINGS distributed_foreground_insert = 1, "
        f"parallel_distributed_insert_select = 0 {SELECT}"
    )


def test_a_cluster_stage_needs_its_storage() -> None:
    from pipelines.connectors.warehouse_cluster import stage_create_sql

    with pytest.raises(ValueError, match="engine, storage"):
        stage_create_sql(DB, STAGE, PAYOUTS, True)
    with pytest.raises(ValueError, match="alphanumeric"):
        drop_partition_sql(DB, PAYOUTS, "2026'; DROP", True)
    with pytest.raises(WarehouseError):
        delete_sql(DB, "bad name", "1", True)
    with pytest.raises(ValueError):
        replace_partition_sql(DB, PAYOUTS, "", STAGE, True)


def test_cluster_connection_and_insert_settings() -> None:
    assert client_settings(2) == {
        "distributed_foreground_insert": 1,
        "insert_quorum": 2,
        "async_insert": 0,
    }
    assert client_settings("auto")["insert_quorum"] == "auto"
    assert insert_settings(True, "loader:t/0@1-2#pulse-1") == {
        "insert_deduplication_token": "loader:t/0@1-2#pulse-1"
    }
    assert insert_settings(True, None) == {"insert_deduplicate": 0}


# --- the Warehouse object, with a stand-in client ---------------------------------------------


class _Client:
    def __init__(self) -> None:
        self.commands: list[str] = []
        self.inserts: list[dict[str, Any]] = []

    def command(self, sql: str) -> None:
        self.commands.append(sql)

    def insert_arrow(self, table: str, data: pa.Table, **kwargs: Any) -> None:
        self.inserts.append({"table": table, **kwargs})


def _connect(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> tuple[Warehouse, list[Any]]:
    from pipelines.config import load_settings

    opened: list[Any] = []

    def connect_server(target: Target, client_settings: Any = None) -> _Client:
        opened.append(client_settings)
        return _Client()

    monkeypatch.setattr(warehouse_module, "connect_server", connect_server)
    return Warehouse.connect(load_settings(**settings)), opened


def test_a_cluster_warehouse_sends_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    wh, opened = _connect(
        monkeypatch,
        warehouse="clickhouse://pulse_loader@ch:8123/",
        warehouse_cluster=True,
        warehouse_insert_quorum=3,
    )
    assert wh.cluster and opened == [client_settings(3)]
    client = wh._client
    data = pa.table({"a": [1]})
    wh.insert_arrow("raw_late_events", data, dedup_token="loader:x/0@5-9#pulse-1")
    wh.insert_arrow("raw_late_events", data)
    wh.optimize_final("raw_late_events")
    assert [i["settings"] for i in client.inserts] == [
        {"insert_deduplication_token": "loader:x/0@5-9#pulse-1"},
        {"insert_deduplicate": 0},
    ]
    assert client.commands == [optimize_final_sql("pulse", "raw_late_events", True)]


def test_a_single_server_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    wh, opened = _connect(monkeypatch, warehouse="clickhouse://pulse_loader@ch:8123/")
    assert not wh.cluster and opened == [None]
    wh.insert_arrow("raw_late_events", pa.table({"a": [1]}), dedup_token="loader:x/0@5-9#v")
    wh.optimize_final("raw_late_events")
    assert wh._client.inserts[0]["settings"] is None
    assert wh._client.commands == ["OPTIMIZE TABLE `pulse`.`raw_late_events` FINAL"]
