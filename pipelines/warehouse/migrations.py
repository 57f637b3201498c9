"""Numbered, idempotent DDL migrations: ``schemas/clickhouse/NNNN_name.sql``.

``migrate`` creates the database, then applies every file whose version is not
yet in ``<database>.schema_migrations`` (version, name, checksum, applied_at),
in version order, and records it. An applied file is immutable: if its
SHA-256 changed, ``migrate`` refuses before applying anything (add a new
migration instead). Files write ``{database}`` where the database name goes.
Every statement is ``CREATE ... IF NOT EXISTS`` (or otherwise re-runnable),
so a run interrupted between applying a file and recording it is safe to
repeat.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from pipelines.connectors.warehouse import Warehouse
from pipelines.connectors.warehouse_target import quote_identifier
from pipelines.errors import WarehouseError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse"
FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
BOOKKEEPING_TABLE = "schema_migrations"


class MigrationError(WarehouseError):
    """The migration files or their recorded history are inconsistent."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str
    checksum: str

    @property
    def file_name(self) -> str:
        return self.path.name

    def statements(self, database: str) -> list[str]:
        rendered = self.sql.replace("{database}", quote_identifier(database))
        return split_statements(rendered)


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str
    applied_at: datetime


def split_statements(sql: str) -> list[str]:
    """Split a migration file into statements at ``;`` line ends.

    A statement ends with ``;`` at the end of a line; leading ``--`` comment
    lines of a statement are dropped (comments inside it are kept).
    Enough for our DDL files, not a general SQL parser.
    """
    chunks: list[list[str]] = [[]]
    for line in sql.splitlines():
        chunks[-1].append(line)
        if line.rstrip().endswith(";"):
            chunks.append([])
    statements = []
    for chunk in chunks:
        while chunk and (not chunk[0].strip() or chunk[0].lstrip().startswith("--")):
            chunk.pop(0)  # leading blank and comment lines
        body = "\n".join(chunk).strip().rstrip(";").strip()
        if body:
            statements.append(body)
    return statements


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read every ``NNNN_name.sql`` of ``directory``, in version order."""
    if not directory.is_dir():
        raise MigrationError(f"migrations folder {directory} does not exist")
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNNN_lowercase_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(
                f"migrations {migrations[version].file_name} and {path.name} share version "
                f"{version:04d}"
            )
        data = path.read_bytes()
        migrations[version] = Migration(
            version=version,
            name=match.group(2),
            path=path,
            sql=data.decode("utf-8"),
            checksum=hashlib.sha256(data).hexdigest(),
        )
    return [migrations[version] for version in sorted(migrations)]


def _ensure_bookkeeping(wh: Warehouse) -> None:
    wh.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(wh.database)}")
    wh.command(
        f"""CREATE TABLE IF NOT EXISTS {wh.table(BOOKKEEPING_TABLE)}
(
    version UInt32,
    name String,
    checksum String COMMENT 'sha256 of the migration file',
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY version
COMMENT 'Applied schema migrations (pulse migrate)'"""
    )


def applied_migrations(wh: Warehouse) -> dict[int, AppliedMigration]:
    """What ``schema_migrations`` records (empty when the database is new)."""
    if not wh.database_exists():
        return {}
    exists = wh.command(f"EXISTS TABLE {wh.table(BOOKKEEPING_TABLE)}")
    if str(exists).strip() != "1":
        return {}
    _names, rows = wh.query_rows(
        f"SELECT version, name, checksum, applied_at FROM {wh.table(BOOKKEEPING_TABLE)} FINAL "
        "ORDER BY version"
    )
    return {
        int(version): AppliedMigration(int(version), str(name), str(checksum), applied_at)
        for version, name, checksum, applied_at in rows
    }


def check_history(migrations: list[Migration], applied: dict[int, AppliedMigration]) -> None:
    """Refuse when an applied migration's file changed or disappeared."""
    by_version = {migration.version: migration for migration in migrations}
    for version, record in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"migration {version:04d}_{record.name}.sql was applied to this warehouse "
                "but its file is missing; restore it (applied migrations are never removed)"
            )
        if migration.checksum != record.checksum:
            raise MigrationError(
                f"migration {migration.file_name} changed after it was applied "
                f"(checksum {record.checksum[:12]} recorded, {migration.checksum[:12]} now); "
                "applied migrations are immutable: revert the file and add a new migration"
            )


def pending_migrations(
    wh: Warehouse, directory: Path = MIGRATIONS_DIR
) -> tuple[list[Migration], list[Migration]]:
    """``(all migrations, not yet applied)``, after checking the applied history."""
    migrations = load_migrations(directory)
    applied = applied_migrations(wh)
    check_history(migrations, applied)
    return migrations, [m for m in migrations if m.version not in applied]


def migrate(wh: Warehouse, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Create the database and apply pending migrations; return what was applied.

    On a ClickHouse cluster (``Warehouse.cluster``) a pending migration is refused instead:
    its single-node DDL would run on the one host this connection reached
    (docs/warehouse-cluster.md); its cluster form is applied first, and records it.
    """
    _all, pending = pending_migrations(wh, directory)
    if wh.cluster and pending:
        raise MigrationError(
            f"{len(pending)} migration(s) not applied on the ClickHouse cluster, from "
            f"{pending[0].file_name}: apply their cluster form first (python -m "
            f"pipelines.warehouse.cluster_ddl --database {wh.database} --since "
            f"{pending[0].version} | clickhouse-client --multiquery, docs/warehouse-cluster.md); "
            "pulse never runs single-node DDL on one host of a cluster"
        )
    _ensure_bookkeeping(wh)
    applied: list[Migration] = []
    for migration in pending:
        for statement in migration.statements(wh.database):
            try:
                wh.command(statement)
            except WarehouseError as err:
                raise MigrationError(f"migration {migration.file_name} failed: {err}") from None
        record = pa.table(
            {
                "version": pa.array([migration.version], pa.uint32()),
                "name": [migration.name],
                "checksum": [migration.checksum],
                "applied_at": pa.array([datetime.now(UTC)], pa.timestamp("ms", tz="UTC")),
            }
        )
        wh.insert_arrow(BOOKKEEPING_TABLE, record)
        applied.append(migration)
    return applied
