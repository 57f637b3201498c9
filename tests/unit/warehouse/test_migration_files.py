"""Migration files: naming, statement splitting, checksum history."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.warehouse.migrations import (
    MIGRATIONS_DIR,
    AppliedMigration,
    MigrationError,
    check_history,
    load_migrations,
    split_statements,
)

# Statements that can run twice: creation and removal guarded by IF (NOT) EXISTS, metadata
# (COMMENT COLUMN), and a table swap (copy + EXCHANGE) in a file that first drops the
# swap table (see 0011_raw_rejected_events_by_line.sql: re-running it from the top is safe).
RERUNNABLE = ("CREATE TABLE IF NOT EXISTS", "DROP TABLE IF EXISTS")
SWAP = ("INSERT INTO", "EXCHANGE TABLES")


def test_shipped_migrations_are_numbered_and_idempotent() -> None:
    migrations = load_migrations(MIGRATIONS_DIR)
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    for migration in migrations:
        assert migration.sql.startswith("-- "), f"{migration.file_name} needs a comment header"
        statements = migration.statements("pulse")
        for statement in statements:
            guarded = statement.startswith(RERUNNABLE) or (
                statement.startswith("ALTER TABLE") and "COMMENT COLUMN" in statement
            )
            swap = statement.startswith(SWAP) and statements[0].startswith("DROP TABLE IF EXISTS")
            assert guarded or swap, f"{migration.file_name}: {statement[:60]}"
            assert "`pulse`." in statement
            assert "{database}" not in statement


def test_split_statements() -> None:
    sql = (
        "-- header\nCREATE TABLE a (x UInt8);\n"
        "-- note\n\nCREATE TABLE b\n(\n  y UInt8\n);\n-- end\n"
    )
    assert split_statements(sql) == ["CREATE TABLE a (x UInt8)", "CREATE TABLE b\n(\n  y UInt8\n)"]
    assert split_statements("-- only comments\n") == []


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    return folder


def _applied(folder: Path) -> dict[int, AppliedMigration]:
    now = datetime.now(UTC)
    return {
        m.version: AppliedMigration(m.version, m.name, m.checksum, now)
        for m in load_migrations(folder)
    }


def test_history_ok(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    check_history(load_migrations(folder), _applied(folder))


def test_changed_file_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    applied = _applied(folder)
    path = next(folder.glob("0003_*.sql"))
    path.write_text(path.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match=r"0003_.*changed after it was applied"):
        check_history(load_migrations(folder), applied)


def test_missing_applied_file_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    applied = _applied(folder)
    next(folder.glob("0002_*.sql")).unlink()
    with pytest.raises(MigrationError, match="its file is missing"):
        check_history(load_migrations(folder), applied)


def test_bad_names_and_duplicate_versions(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_a.sql").write_text("-- a\n")
    (folder / "0001_b.sql").write_text("-- b\n")
    with pytest.raises(MigrationError, match="share version 0001"):
        load_migrations(folder)
    (folder / "0001_b.sql").unlink()
    (folder / "2_Bad.sql").write_text("-- c\n")
    with pytest.raises(MigrationError, match="is not named"):
        load_migrations(folder)
