"""`pulse migrate`: create the warehouse database and apply pending migrations."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.commands.options import add_warehouse_argument
from pipelines.config import load_settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.migrations import MIGRATIONS_DIR, migrate

DESCRIPTION = """\
Create the warehouse database (default `pulse`, setting PULSE_DATABASE) and
apply, in order, every migration of schemas/clickhouse/ not applied yet.
Each file is applied once and recorded with its checksum in
<database>.schema_migrations; running migrate again is a no-op. A migration
file changed after it was applied is refused: add a new numbered file instead.

The warehouse is a folder (embedded chdb, created if missing) or a ClickHouse
server: clickhouse://user:password@host:8123/ (password also PULSE_WAREHOUSE_PASSWORD).
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "migrate",
        help="create the warehouse tables (idempotent)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_warehouse_argument(parser)
    parser.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    settings = load_settings(warehouse=args.warehouse)
    with Warehouse.connect(settings) as wh:
        applied = migrate(wh, MIGRATIONS_DIR)
        where = f"{wh.target.display} (database {wh.database})"
    if not applied:
        print(f"warehouse {where} is up to date")
        return 0
    for migration in applied:
        print(f"applied {migration.file_name}")
    print(f"warehouse {where}: {len(applied)} migration(s) applied")
    return 0
