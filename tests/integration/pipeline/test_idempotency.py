"""Re-runs and replays change no table.

- ``rerun``: the same input again into the same warehouse: every table identical.
- ``doubled_run``: every line of every file written twice in a row, into a new
  warehouse. Every second copy is an exact replay (same event_id, or same
  changelog key) and is dropped, so every result table is identical. What
  happens to ``raw_rejected_events``: a rejection is keyed by where it was read
  (stream, source, line), so each bad line and its copy are TWO rows, at lines
  2n-1 and 2n for original line n, with the same payload and reason;
  ``source`` is the path of the file that was read.
"""

from __future__ import annotations

import pytest

from .builder import FILES
from .conftest import TABLE_KEYS, RunResult

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
def test_rerun_leaves_every_table_identical(
    main_run: RunResult, rerun: RunResult, table: str
) -> None:
    assert rerun.tables[table] == main_run.tables[table]


@pytest.mark.parametrize("table", sorted(set(TABLE_KEYS) - {"raw_rejected_events"}))
def test_every_line_twice_gives_the_same_tables(
    main_run: RunResult, doubled_run: RunResult, table: str
) -> None:
    assert doubled_run.tables[table] == main_run.tables[table]


def test_every_line_twice_rejected_rows(main_run: RunResult, doubled_run: RunResult) -> None:
    expected = sorted(
        (
            r["stream"],
            doubled_run.path(FILES[r["stream"]]),
            2 * r["line"] - copy,
            r["reason"],
            r["raw"],
        )
        for r in main_run.tables["raw_rejected_events"]
        for copy in (1, 0)
    )
    got = sorted(
        (r["stream"], r["source"], r["line"], r["reason"], r["raw"])
        for r in doubled_run.tables["raw_rejected_events"]
    )
    assert got == expected


def test_main_run_is_not_trivial(main_run: RunResult) -> None:
    """The comparisons above compare real data."""
    for table in TABLE_KEYS:
        assert main_run.tables[table], table
