"""schemas/clickhouse/cluster/: every statement parsed by ClickHouse's own parser (chdb).

chdb cannot run ON CLUSTER DDL or ReplicatedMergeTree (no Keeper, no remote_servers), so, as
for schemas/clickhouse/server/access.sql, each statement goes through ``formatQuery`` (the
parser and formatter of the real engine). What chdb CAN run is checked for real against the
single-node tables of the migrated warehouse: the sharding keys' types, and that the
bookkeeping rows of the cluster files leave ``pulse migrate`` nothing to apply. Nothing here
ran against a ClickHouse server.
"""

from __future__ import annotations

import re

import pytest

from pipelines.connectors.warehouse import Warehouse
from pipelines.errors import WarehouseError
from pipelines.warehouse.cluster_ddl import (
    BOOKKEEPING_FILE,
    bookkeeping_create,
    cluster_files,
    cluster_statements,
    generate,
    render,
)
from pipelines.warehouse.migrations import load_migrations, migrate, pending_migrations

pytestmark = pytest.mark.integration

DATABASE = "pulse"
FORMATTED_ON_CLUSTER = " ON CLUSTER `{cluster}`"
REPLICATED = re.compile(r"ENGINE = Replicated(\w+)\('[^']*', '\{replica\}'(?:, ([^\n]*))?\)\n")
KINDS = (
    "CREATE DATABASE",
    "CREATE TABLE",
    "CREATE OR REPLACE",
    "ALTER TABLE",
    "DROP TABLE",
    "INSERT INTO",
    "EXCHANGE TABLES",
    "SYSTEM FLUSH DISTRIBUTED",
)
CREATE_NAME = re.compile(r"^CREATE TABLE IF NOT EXISTS pulse\.(\w+)")


def _literal(sql: str) -> str:
    return "'" + sql.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _format(wh: Warehouse, statement: str) -> str:
    _names, rows = wh.query_rows(f"SELECT formatQuery({_literal(statement)})")
    return str(rows[0][0])


def _cluster_statements() -> list[str]:
    return [
        statement
        for text in cluster_files().values()
        for statement in cluster_statements(text, DATABASE)
    ]


@pytest.fixture
def formatted(warehouse: Warehouse) -> list[str]:
    """Every statement of schemas/clickhouse/cluster as ClickHouse formats it (it parses)."""
    return [_format(warehouse, statement) for statement in _cluster_statements()]


def test_every_generated_statement_parses_in_clickhouse(formatted: list[str]) -> None:
    assert len(formatted) == len(_cluster_statements())
    kinds = {next(k for k in KINDS if s.startswith(k)) for s in formatted}
    assert kinds == set(KINDS)
    for statement in formatted:
        if not statement.startswith("INSERT INTO"):
            assert FORMATTED_ON_CLUSTER in statement, statement[:90]


def test_the_parser_is_real(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError):
        _format(
            warehouse,
            "CREATE TABLE pulse.t_local ON CLUSTER '{cluster}' (x String) "
            "ENGINE = ReplicatedMergeTree('/p', '{replica}') ORDER BY",
        )


def _single_node_form(formatted_local: str) -> str:
    """A formatted local CREATE turned back into the single-node CREATE it was made from."""
    text = formatted_local.replace(FORMATTED_ON_CLUSTER, "", 1)
    text = re.sub(r"^(CREATE TABLE IF NOT EXISTS pulse\.\w+)_local\b", r"\1", text)

    def engine(match: re.Match[str]) -> str:
        args = match.group(2)
        return f"ENGINE = {match.group(1)}" + (f"({args})" if args else "") + "\n"

    return REPLICATED.sub(engine, text, count=1)


def test_local_tables_keep_the_columns_keys_settings_and_comments(
    warehouse: Warehouse, formatted: list[str]
) -> None:
    """Formatted by ClickHouse, each local table equals its migration's CREATE once ON CLUSTER,
    ``_local`` and the Replicated engine's path and replica are taken away."""
    local = {}
    for statement in formatted:
        match = CREATE_NAME.match(statement)
        if match and "\nENGINE = Replicated" in statement:
            local[match.group(1)] = statement
    originals: dict[str, str] = {}
    for migration in load_migrations():
        for statement in migration.statements(DATABASE):
            if statement.startswith("CREATE TABLE"):
                text = _format(warehouse, statement)
                match = CREATE_NAME.match(text)
                assert match is not None
                originals[match.group(1)] = text
    originals["schema_migrations"] = _format(warehouse, render(bookkeeping_create(), DATABASE))
    assert set(local) == {f"{name}_local" for name in originals if name != "schema_migrations"} | {
        "schema_migrations"
    }
    for name, original in originals.items():
        cluster = local[name if name == "schema_migrations" else f"{name}_local"]
        assert _single_node_form(cluster) == original, name
        assert "COMMENT '" in cluster, name


def test_distributed_tables_front_the_local_tables_with_their_sharding_keys(
    formatted: list[str],
) -> None:
    distributed = {}
    for statement in formatted:
        match = re.match(
            r"^CREATE (?:OR REPLACE TABLE|TABLE IF NOT EXISTS) pulse\.(\w+)"
            r" ON CLUSTER `\{cluster\}` AS pulse\.(\w+)\n"
            r"ENGINE = Distributed\('\{cluster\}', pulse, (\w+), (.+)\)\n"
            r"COMMENT '",
            statement,
        )
        if match:
            name, source, target, key = match.groups()
            assert source == target == f"{name}_local"
            distributed[name] = key
    for name, state in generate().tables.items():
        assert distributed[name] == state.key.expression, name


def test_sharding_keys_are_uint64_over_the_real_tables(warehouse: Warehouse) -> None:
    """Each key, evaluated by chdb over the single-node table it shards: a UInt64 (never
    Nullable: the Distributed engine needs an integer for every row)."""
    for name, state in generate().tables.items():
        _names, types = warehouse.query_rows(
            f"DESCRIBE (SELECT {state.key.expression} AS k FROM {warehouse.table(name)})"
        )
        assert types[0][1] == "UInt64", (name, types)


def test_the_recorded_migrations_leave_pulse_migrate_nothing_to_apply(
    warehouse: Warehouse,
) -> None:
    """On a cluster the bookkeeping holds only what the cluster files recorded: with those
    rows (and no others), pulse migrate — which the loader runs at start — accepts the history
    (same checksums) and applies nothing."""
    warehouse.command(f"TRUNCATE TABLE {warehouse.table('schema_migrations')}")
    assert len(pending_migrations(warehouse)[1]) == len(load_migrations())
    for name, text in cluster_files().items():
        if name == BOOKKEEPING_FILE:
            continue
        record = cluster_statements(text, DATABASE)[-1]
        assert record.startswith("INSERT INTO `pulse`.schema_migrations")
        warehouse.command(record)
    _all, pending = pending_migrations(warehouse)
    assert pending == []
    assert migrate(warehouse) == []
