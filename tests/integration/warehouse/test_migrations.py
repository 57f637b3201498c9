"""`migrate` against a real embedded warehouse: tables, exact types, idempotence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.migrations import (
    MIGRATIONS_DIR,
    MigrationError,
    load_migrations,
    migrate,
)
from pipelines.warehouse.tables import TABLES

pytestmark = pytest.mark.integration

INSTANT = "DateTime64(3, 'UTC')"
# docs/rules.md "Outputs" with the types of the contract: (column, type), key columns first.
CONTRACT_TYPES: dict[str, list[tuple[str, str]]] = {
    "raw_rejected_events": [
        ("stream", "LowCardinality(String)"),
        ("source", "String"),
        ("line", "Nullable(UInt64)"),
        ("offset", "Nullable(UInt64)"),
        ("reason", "LowCardinality(String)"),
        ("raw", "String"),
    ],
    "raw_late_events": [
        ("stream", "LowCardinality(String)"),
        ("event_id", "String"),
        ("event_time", INSTANT),
        ("watermark", INSTANT),
        ("raw", "String"),
    ],
    "fct_attributed_clicks": [
        ("click_id", "String"),
        ("event_time", INSTANT),
        ("user_id", "String"),
        ("ad_id", "String"),
        ("campaign_id", "String"),
        ("video_id", "String"),
        ("creator_id", "Nullable(String)"),
        ("status", "LowCardinality(String)"),
        ("currency", "Nullable(String)"),
        ("gross_micros", "Int64"),
        ("creator_micros", "Int64"),
        ("platform_micros", "Int64"),
        ("creator_eligible", "Bool"),
        ("payable", "Bool"),
    ],
    "fct_engagement_windows": [
        ("creator_id", "String"),
        ("window_start", INSTANT),
        ("window_end", INSTANT),
        ("views", "UInt64"),
        ("unique_viewers", "UInt64"),
        ("comments", "UInt64"),
        ("valid_clicks", "UInt64"),
        ("engagement_rate", "Nullable(Float64)"),
        ("high", "Bool"),
    ],
    "fct_eligibility": [
        ("creator_id", "String"),
        ("as_of", INSTANT),
        ("consistently_high", "Bool"),
        ("eligible", "Bool"),
        ("high_windows", "UInt8"),
        ("reasons", "Array(String)"),
    ],
    "fct_eligibility_transitions": [
        ("creator_id", "String"),
        ("as_of", INSTANT),
        ("transition", "LowCardinality(String)"),
        ("reasons", "Array(String)"),
    ],
    "agg_creator_payouts_daily": [
        ("creator_id", "String"),
        ("day", "Date"),
        ("currency", "LowCardinality(String)"),
        ("valid_clicks", "UInt64"),
        ("payable_clicks", "UInt64"),
        ("gross_micros", "Int64"),
        ("creator_micros", "Int64"),
        ("platform_micros", "Int64"),
    ],
}

SORTING_KEYS = {
    "raw_rejected_events": "stream, source, ifNull(line, 0), ifNull(offset, 0)",
    "raw_late_events": "stream, event_id, event_time",
    "fct_attributed_clicks": "click_id",
    "fct_engagement_windows": "creator_id, window_start, window_end",
    "fct_eligibility": "creator_id, as_of",
    "fct_eligibility_transitions": "creator_id, as_of",
    "agg_creator_payouts_daily": "creator_id, day, currency",
    "dim_creator_profiles": "creator_id, updated_at",
    "dim_campaigns": "campaign_id, updated_at",
}


def columns(wh: Warehouse, table: str) -> list[tuple[str, str]]:
    _names, rows = wh.query_rows(
        "SELECT name, type FROM system.columns "
        f"WHERE database = '{wh.database}' AND table = '{table}' "
        "AND default_kind != 'MATERIALIZED' ORDER BY position"
    )
    return [(str(name), str(type_)) for name, type_ in rows]


def test_domain_tables_and_exact_types(warehouse: Warehouse) -> None:
    for table, expected in CONTRACT_TYPES.items():
        assert columns(warehouse, table)[: len(expected)] == expected, table


def test_registry_matches_the_warehouse(warehouse: Warehouse) -> None:
    for table in TABLES.values():
        actual = columns(warehouse, table.name)
        assert actual == [(c.name, c.type) for c in table.columns], table.name


def test_engines_and_sorting_keys(warehouse: Warehouse) -> None:
    _n, rows = warehouse.query_rows(
        "SELECT name, engine, sorting_key FROM system.tables "
        f"WHERE database = '{warehouse.database}' AND name NOT LIKE '\\_%'"
    )
    found = {str(name): (str(engine), str(key)) for name, engine, key in rows}
    assert set(found) == set(TABLES) | {"schema_migrations"}
    for table, key in SORTING_KEYS.items():
        assert found[table] == ("ReplacingMergeTree", key), table
    # append-only books: nothing may replace a frozen statement or close record
    assert found["fct_payout_statements"][0] == "MergeTree"
    assert found["fct_payout_closes"][0] == "MergeTree"


def test_migrate_twice_is_a_no_op(warehouse: Warehouse) -> None:
    assert migrate(warehouse) == []
    _n, rows = warehouse.query_rows(
        f"SELECT version, name FROM {warehouse.table('schema_migrations')} ORDER BY version"
    )
    assert [int(r[0]) for r in rows] == [m.version for m in load_migrations()]  # once each


def test_changed_checksum_is_refused_and_new_files_apply(
    warehouse_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    shipped = len(load_migrations(folder))
    extra, more = f"{shipped + 1:04d}_extra.sql", f"{shipped + 2:04d}_more.sql"
    with Warehouse.connect(str(warehouse_dir)) as wh:
        assert len(migrate(wh, folder)) == shipped
        (folder / extra).write_text(
            "-- extra: a test table\n"
            "CREATE TABLE IF NOT EXISTS {database}.extra (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
        )
        assert [m.file_name for m in migrate(wh, folder)] == [extra]
        path = folder / "0003_fct_attributed_clicks.sql"
        path.write_text(path.read_text().replace("click_id String", "click_id String "))
        (folder / more).write_text(
            "CREATE TABLE IF NOT EXISTS {database}.more (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
        )
        with pytest.raises(MigrationError, match=r"0003_fct_attributed_clicks\.sql changed"):
            migrate(wh, folder)
        assert str(wh.command(f"EXISTS TABLE {wh.table('more')}")) == "0"  # nothing applied


def test_database_comes_from_settings(warehouse_dir: Path) -> None:
    with Warehouse.connect(str(warehouse_dir), database="pulse_other") as wh:
        migrate(wh)
        assert wh.database_exists()
        assert str(wh.command("EXISTS TABLE `pulse_other`.`fct_attributed_clicks`")) == "1"
