"""ClickHouse access control for servers: ``schemas/clickhouse/server/access.sql``.

    python -m pipelines.deploy.access [--database pulse]   # print, for clickhouse-client
    python -m pipelines.deploy.access --apply              # run it through the settings' warehouse

The file is not a migration (the embedded warehouse refuses access-control statements): apply
it on a server after ``pulse migrate``, as a user with access management. ``--apply`` uses
``PULSE_WAREHOUSE`` / ``PULSE_WAREHOUSE_PASSWORD`` like every pulse command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.connectors.warehouse_target import quote_identifier
from pipelines.warehouse.migrations import split_statements

ACCESS_SQL = (
    Path(__file__).resolve().parents[2] / "schemas" / "clickhouse" / "server" / "access.sql"
)


def access_statements(database: str = "pulse", path: Path = ACCESS_SQL) -> list[str]:
    """The statements of the access file, ``{database}`` replaced (quoted)."""
    return split_statements(path.read_text().replace("{database}", quote_identifier(database)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.deploy.access")
    parser.add_argument("--database", default=None, help="default: the settings' database")
    parser.add_argument("--apply", action="store_true", help="run the statements on the server")
    args = parser.parse_args(argv)
    from pipelines.config import load_settings

    settings = load_settings()
    statements = access_statements(args.database or settings.database)
    if not args.apply:
        print(";\n".join(statements) + ";")
        return 0
    from pipelines.connectors.warehouse import Warehouse

    with Warehouse.connect(settings) as wh:
        if wh.is_embedded:
            print("access control needs a ClickHouse server, not a folder", file=sys.stderr)
            return 2
        for statement in statements:
            wh.command(statement)
    print(f"applied {len(statements)} access statements to {wh.target.display}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
