"""The cluster form of the migrations (pipelines/warehouse/cluster_ddl.py): generated, in sync
with schemas/clickhouse/cluster/, one Distributed table over a Replicated local table per
table of the registry, sharding keys inside the sorting keys. Pure: no warehouse here (the
parse check by ClickHouse's parser is tests/integration/warehouse/test_cluster_ddl.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.warehouse import cluster_ddl
from pipelines.warehouse.cluster_ddl import (
    BOOKKEEPING_FILE,
    CLUSTER_DIR,
    ClusterDDLError,
    ShardingKey,
    cluster_files,
    cluster_statements,
    generate,
    main,
    render,
    stale_files,
)
from pipelines.warehouse.migrations import MIGRATIONS_DIR, load_migrations
from pipelines.warehouse.tables import TABLES

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "warehouse-cluster.md"
ON_CLUSTER = "ON CLUSTER '{cluster}'"
LOCAL_ENGINE = re.compile(
    r"CREATE TABLE IF NOT EXISTS `pulse`\.(\w+) ON CLUSTER '\{cluster\}'.*?\n"
    r"ENGINE = Replicated(\w+)\('([^']*)', '\{replica\}'(?:, ([^)]*))?\)",
    re.DOTALL,
)
ENGINE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS `pulse`\.(\w+).*?\nENGINE = (\w+)(?:\(([^)]*)\))?", re.DOTALL
)


def _statements(name: str) -> list[str]:
    return cluster_statements(cluster_files()[name], "pulse")


def _all_statements() -> list[str]:
    return [s for name in cluster_files() for s in _statements(name)]


def _key_parts(order_by: str) -> list[str]:
    """Top-level items of a sorting key, ``(a, f(b, c))`` -> ``['a', 'f(b, c)']``."""
    text = order_by.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()]


def test_committed_files_equal_the_generator_output() -> None:
    assert stale_files(CLUSTER_DIR, cluster_files()) == [], (
        "schemas/clickhouse/cluster is out of date: run "
        "python -m pipelines.warehouse.cluster_ddl --out schemas/clickhouse/cluster"
    )


def test_one_cluster_file_per_migration_plus_the_bookkeeping() -> None:
    migrations = load_migrations()
    assert list(cluster_files()) == [BOOKKEEPING_FILE] + [m.file_name for m in migrations]


def test_each_file_ends_by_recording_its_migration_with_the_single_node_checksum() -> None:
    for migration in load_migrations():
        last = _statements(migration.file_name)[-1]
        assert last.startswith("INSERT INTO `pulse`.schema_migrations"), migration.file_name
        assert f"SELECT {migration.version}, '{migration.name}', '{migration.checksum}'" in last
    bookkeeping = _statements(BOOKKEEPING_FILE)
    assert bookkeeping[0] == "CREATE DATABASE IF NOT EXISTS `pulse` ON CLUSTER '{cluster}'"
    assert (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/schema_migrations'"
        in (bookkeeping[1])
    )


def test_every_statement_runs_on_the_cluster() -> None:
    for statement in _all_statements():
        if statement.startswith("INSERT INTO"):
            # one query: into the bookkeeping (replicated to every host by its engine) or
            # through a Distributed table (routed to every shard)
            continue
        assert ON_CLUSTER in statement, statement[:90]
        assert "{database}." not in statement


def test_every_registry_table_ends_as_a_distributed_table_over_a_replicated_local_one() -> None:
    tables = generate().tables
    assert set(tables) == set(TABLES)
    for name, state in tables.items():
        # the state followed 0011's swap: the sorting key is the registry's (the final one)
        assert _key_parts(state.order_by) == list(TABLES[name].order_by), name
        assert state.declared, f"declare the sharding key of {name} in SHARDING_KEYS"
        assert set(state.key.columns) <= set(TABLES[name].column_names)


def test_local_engines_are_the_replicated_variants_with_unique_paths() -> None:
    originals: dict[str, tuple[str, str]] = {}
    for migration in load_migrations():
        for statement in migration.statements("pulse"):
            if match := ENGINE.match(statement):
                originals[match.group(1)] = (match.group(2), (match.group(3) or "").strip())
    locals_: dict[str, tuple[str, str, str]] = {}
    for statement in _all_statements():
        if match := LOCAL_ENGINE.match(statement):
            table, engine, path, args = match.groups()
            locals_[table] = (engine, path, (args or "").strip())
    assert set(locals_) == {f"{name}_local" for name in originals} | {"schema_migrations"}
    for name, (engine, args) in originals.items():
        local_engine, path, local_args = locals_[f"{name}_local"]
        assert (local_engine, local_args) == (engine, args), name
        assert path.startswith(f"/clickhouse/tables/{{shard}}/{{database}}/{name}"), path
    assert locals_["raw_rejected_events_local"][2] == "keep_first_version"
    assert locals_["fct_payout_adjustments_local"][2] == "booked_at"
    # 0011 exchanges its new table in: its path must not be reused by a second application
    assert locals_["raw_rejected_events_by_line_local"][1].endswith("/{uuid}")
    paths = [path for _engine, path, _args in locals_.values()]
    assert len(paths) == len(set(paths))


def test_distributed_tables_keep_the_original_names_and_their_sharding_keys() -> None:
    tables = generate().tables
    distributed = {}
    for statement in _all_statements():
        match = re.search(
            r"^CREATE (?:OR REPLACE TABLE|TABLE IF NOT EXISTS) `pulse`\.(\w+) "
            r"ON CLUSTER '\{cluster\}'\nAS `pulse`\.(\w+)\n"
            r"ENGINE = Distributed\('\{cluster\}', `pulse`, (\w+), (.+)\)",
            statement,
        )
        if match:
            name, local, engine_local, key = match.groups()
            assert local == engine_local == f"{name}_local"
            distributed[name] = key  # the last statement of a table wins
    for name, state in tables.items():
        assert distributed[name] == state.key.expression


def test_alters_reach_the_local_and_the_distributed_tables() -> None:
    statements = _statements("0016_streaming_books_comments.sql")
    heads = [s.split("\n", 1)[0] for s in statements[:-1]]
    assert heads == [
        f"ALTER TABLE `pulse`.raw_ingest_ledger_local {ON_CLUSTER}",
        f"ALTER TABLE `pulse`.raw_ingest_ledger {ON_CLUSTER}",
        f"ALTER TABLE `pulse`.fct_payout_adjustments_local {ON_CLUSTER}",
        f"ALTER TABLE `pulse`.fct_payout_adjustments {ON_CLUSTER}",
    ]


def test_the_swap_migration_copies_in_the_foreground_and_fronts_the_swapped_table() -> None:
    statements = _statements("0011_raw_rejected_events_by_line.sql")
    kinds = [" ".join(s.split()[:3]) for s in statements]
    assert kinds.index("INSERT INTO `pulse`.raw_rejected_events_by_line") > kinds.index(
        "SYSTEM FLUSH DISTRIBUTED"
    )
    copy = next(s for s in statements if s.startswith("INSERT INTO `pulse`.raw_rejected"))
    assert "distributed_foreground_insert = 1" in copy
    assert "parallel_distributed_insert_select = 0" in copy
    exchange = kinds.index("EXCHANGE TABLES `pulse`.raw_rejected_events_local")
    refronted = statements[exchange + 1]
    assert refronted.startswith("CREATE OR REPLACE TABLE `pulse`.raw_rejected_events ON")
    assert "one row per rejected input line" in refronted  # the comment of the swapped table
    assert statements[-3:-1] == [
        f"DROP TABLE IF EXISTS `pulse`.raw_rejected_events_by_line {ON_CLUSTER} SYNC",
        f"DROP TABLE IF EXISTS `pulse`.raw_rejected_events_by_line_local {ON_CLUSTER} SYNC",
    ]


def test_render_replaces_the_placeholder_only_outside_literals_and_comments() -> None:
    sql = "CREATE {database}.t ENGINE = X('/p/{database}/t', '{replica}') -- {database}\n"
    assert render(sql, "books") == (
        "CREATE `books`.t ENGINE = X('/p/{database}/t', '{replica}') -- {database}\n"
    )
    assert render("SELECT 'it\\'s {database}', {database}.x", "b") == (
        "SELECT 'it\\'s {database}', `b`.x"
    )


def _migrations_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("cluster", "server"))
    return folder


def test_a_new_migration_gets_its_cluster_form_automatically(tmp_path: Path) -> None:
    folder = _migrations_copy(tmp_path)
    (folder / "0099_fct_shares.sql").write_text(
        "-- fct_shares: a table the generator has never seen\n"
        "CREATE TABLE IF NOT EXISTS {database}.fct_shares\n(\n"
        "    share_id String COMMENT 'id',\n    user_id String,\n"
        "    sign Int8,\n    version UInt32\n)\n"
        "ENGINE = VersionedCollapsingMergeTree(sign, version)\n"
        "ORDER BY (share_id, user_id)\nSETTINGS index_granularity = 1024;\n\n"
        "ALTER TABLE {database}.fct_shares\n"
        "    ADD COLUMN note String, COMMENT COLUMN note 'x';\n\n"
        "ALTER TABLE {database}.fct_shares\n    DELETE WHERE share_id = '';\n",
        encoding="utf-8",
    )
    text = generate(folder).files["0099_fct_shares.sql"]
    statements = cluster_statements(text, "pulse")
    assert statements[0].startswith(
        f"CREATE TABLE IF NOT EXISTS `pulse`.fct_shares_local {ON_CLUSTER}"
    )
    assert (
        "ENGINE = ReplicatedVersionedCollapsingMergeTree('/clickhouse/tables/{shard}/{database}/"
        "fct_shares', '{replica}', sign, version)\nORDER BY (share_id, user_id)\n"
        "SETTINGS index_granularity = 1024"
    ) in statements[0]
    assert "cityHash64(share_id, user_id)" in statements[1]  # default: the whole sorting key
    assert "default: cityHash64 of the whole sorting key" in text
    # column metadata on both tables (local first); a mutation on the local table only
    assert [s.split("\n", 1)[0] for s in statements[2:5]] == [
        f"ALTER TABLE `pulse`.fct_shares_local {ON_CLUSTER}",
        f"ALTER TABLE `pulse`.fct_shares {ON_CLUSTER}",
        f"ALTER TABLE `pulse`.fct_shares_local {ON_CLUSTER}",
    ]
    assert "DELETE WHERE" in statements[4]


def test_statements_without_a_cluster_form_are_refused(tmp_path: Path) -> None:
    folder = _migrations_copy(tmp_path)
    (folder / "0099_rename.sql").write_text(
        "-- rename\nRENAME TABLE {database}.dim_campaigns TO {database}.dim_campaign_versions;\n",
        encoding="utf-8",
    )
    with pytest.raises(ClusterDDLError, match="no cluster form for this statement"):
        generate(folder)


def test_a_sharding_key_outside_the_sorting_key_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = dict(cluster_ddl.SHARDING_KEYS)
    keys["fct_attributed_clicks"] = ShardingKey(("creator_id",), "wrong: not the click key")
    monkeypatch.setattr(cluster_ddl, "SHARDING_KEYS", keys)
    with pytest.raises(ClusterDDLError, match="creator_id is not in the sorting key click_id"):
        generate()


def test_command_line_writes_checks_and_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cluster"
    assert main(["--out", str(out), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["--out", str(out)]) == 0
    assert main(["--out", str(out), "--check"]) == 0
    (out / "9999_stale.sql").write_text("-- left over\n", encoding="utf-8")
    assert main(["--out", str(out), "--check"]) == 1
    assert "9999_stale.sql" in capsys.readouterr().err
    assert main(["--database", "analytics", "--since", "15"]) == 0
    printed = capsys.readouterr().out
    assert "-- 0015_fct_payout_adjustments.sql" in printed
    assert "0014_" not in printed
    assert "CREATE TABLE IF NOT EXISTS `analytics`.fct_payout_adjustments_local" in printed
    assert "'/clickhouse/tables/{shard}/{database}/fct_payout_adjustments'" in printed


def test_module_entry_point_agrees_with_the_committed_files() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.warehouse.cluster_ddl",
            "--check",
            "--out",
            str(CLUSTER_DIR),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_documentation_names_every_sharding_key() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name, state in generate().tables.items():
        assert f"`{name}`" in text and f"`{state.key.expression}`" in text, name
