"""The streaming run stores exactly the bounded run's results, for everything its
final watermark closed, even with the loader killed (-9) mid-stream."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow.parquet as pq
import pytest

from .compare import compare, load, report
from .conftest import Scenario

pytestmark = pytest.mark.integration


def _physical(scenario: Scenario) -> dict[str, int]:
    text = (scenario.streaming_dump / "_physical_rows.txt").read_text()
    return {name: int(n) for name, n in (line.split() for line in text.splitlines())}


def test_tables_equal_bounded_run_up_to_the_watermark(scenario: Scenario) -> None:
    diffs = compare(scenario.streaming_dump, scenario.bounded_dump, scenario.cutoff_ms)
    assert not report(diffs), report(diffs)
    by_table = {d.table: d for d in diffs}
    # the data set exercises every table, and the watermark closed most of it
    for table in ("fct_attributed_clicks", "fct_engagement_windows", "fct_eligibility"):
        assert by_table[table].expected > 0, table
    assert by_table["raw_rejected_events"].streaming > 0
    assert by_table["raw_late_events"].streaming > 0


def test_flink_kill9_resumes_from_its_checkpoint(scenario: Scenario) -> None:
    log = scenario.logs["flink"].read_text(errors="replace")
    assert log.count("no checkpoint in") == 1, log[-3000:]
    assert "resuming from checkpoint" in log, log[-3000:]
    # (that the restored run's results equal the bounded run's is checked above)


def test_loader_kill9_loses_nothing_and_double_counts_nothing(scenario: Scenario) -> None:
    assert scenario.loader_killed_after_rows > 0
    clicks = load(scenario.streaming_dump, "fct_attributed_clicks")
    bounded = load(scenario.bounded_dump, "fct_attributed_clicks")
    # no row lost: every click the streaming run emitted is stored once (keyed), equal
    assert clicks and all(bounded[key] == row for key, row in clicks.items())
    # money: payouts == sum over the stored clicks, per creator/day/currency
    sums: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in clicks.values():
        assert row["creator_micros"] + row["platform_micros"] == row["gross_micros"]
        if row["status"] == "valid" and row["creator_id"] is not None:
            key = (row["creator_id"], row["event_time"].date(), row["currency"])
            acc = sums[key]
            acc[0] += 1
            acc[1] += row["gross_micros"]
            acc[2] += row["creator_micros"]
            acc[3] += row["platform_micros"]
    payouts = {
        (r["creator_id"], r["day"], r["currency"]): [
            r["valid_clicks"], r["gross_micros"], r["creator_micros"], r["platform_micros"]
        ]
        for r in pq.read_table(scenario.streaming_dump / "agg_creator_payouts_daily.parquet")
        .to_pylist()
    }  # fmt: skip
    assert payouts == dict(sums)
    # redelivered rows are replaced, never added: FINAL has one row per click id
    physical = _physical(scenario)["fct_attributed_clicks"]
    assert physical >= len(clicks)
