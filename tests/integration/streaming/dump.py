"""Dump warehouse tables (deduplicated with FINAL) to Parquet, in a subprocess.

chdb serves one folder per process, so the test compares two warehouses by
running ``python -m tests.integration.streaming.dump WAREHOUSE OUT_DIR`` for each.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.tables import TABLES

from .compare import KEYS

COUNTS = "_physical_rows.txt"
REPO = Path(__file__).resolve().parents[3]


def dump_in_subprocess(warehouse: Path, out: Path, env: dict[str, str]) -> None:
    """Run :func:`dump` in its own process (the test process may hold another chdb folder)."""
    cmd = [sys.executable, "-m", "tests.integration.streaming.dump", str(warehouse), str(out)]
    subprocess.run(cmd, cwd=REPO, env=env, check=True, timeout=120, capture_output=True)


def dump(warehouse: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    with Warehouse.connect(warehouse, create_folder=False) as wh:
        for name in KEYS:  # the pipeline's tables (the books are compared elsewhere)
            spec = TABLES[name]
            columns = ", ".join(f"`{c}`" for c in spec.column_names)
            data = wh.query_arrow(
                f"SELECT {columns} FROM {wh.table(name)} FINAL",
                use_strings=not name.startswith("raw_"),  # raw payloads may not be UTF-8
            )
            pq.write_table(data, out / f"{name}.parquet")
            _n, rows = wh.query_rows(f"SELECT count() FROM {wh.table(name)}")
            lines.append(f"{name} {rows[0][0]}")
    (out / COUNTS).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    dump(sys.argv[1], Path(sys.argv[2]))
