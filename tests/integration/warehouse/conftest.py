"""An in-process, migrated chdb warehouse per test (opened and closed by the fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.migrations import migrate


@pytest.fixture
def warehouse(warehouse_dir: Path) -> Iterator[Warehouse]:
    """A migrated warehouse in a fresh folder. chdb serves one folder per process:
    the fixture closes it at teardown so the next test can open its own."""
    wh = Warehouse.connect(str(warehouse_dir))
    try:
        migrate(wh)
        yield wh
    finally:
        wh.close()
