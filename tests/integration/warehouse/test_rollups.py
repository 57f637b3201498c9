"""agg_creator_payouts_daily is always the rollup of fct_attributed_clicks FINAL."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.rollups import rebuild_payouts
from pipelines.warehouse.tables import arrow_schema

from .test_dedup import click

pytestmark = pytest.mark.integration

PAYOUTS_SQL = "SELECT * FROM {t} ORDER BY creator_id, day, currency"


def load(wh: Warehouse, rows: list[dict[str, Any]]) -> None:
    wh.insert_arrow(
        "fct_attributed_clicks",
        pa.Table.from_pylist(rows, schema=arrow_schema("fct_attributed_clicks")),
    )


def payouts(wh: Warehouse) -> list[tuple[Any, ...]]:
    return wh.query_rows(PAYOUTS_SQL.format(t=wh.table("agg_creator_payouts_daily")))[1]


def expected(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The contract in Python: per creator/day/currency over valid clicks with a creator."""
    latest = {row["click_id"]: row for row in rows}  # dedup: last load wins
    sums: dict[tuple[str, date, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for row in latest.values():
        if row["status"] != "valid" or row["creator_id"] is None:
            continue
        acc = sums[(row["creator_id"], row["event_time"].date(), row["currency"])]
        acc[0] += 1
        acc[1] += int(row["payable"])
        acc[2] += row["gross_micros"]
        acc[3] += row["creator_micros"]
        acc[4] += row["platform_micros"]
    return [(*key, *values) for key, values in sorted(sums.items())]


def sql_group_by(wh: Warehouse) -> list[tuple[Any, ...]]:
    return wh.query_rows(
        f"""SELECT assumeNotNull(creator_id) AS c, toDate(event_time) AS d,
               assumeNotNull(currency) AS cur, count(), countIf(payable),
               sum(gross_micros), sum(creator_micros), sum(platform_micros)
        FROM {wh.table("fct_attributed_clicks")} FINAL
        WHERE status = 'valid' AND creator_id IS NOT NULL
        GROUP BY c, d, cur ORDER BY c, d, cur"""
    )[1]


def test_rebuild_equals_the_group_by_and_is_idempotent(warehouse: Warehouse) -> None:
    rows = [click(i) for i in range(40)]
    load(warehouse, rows)
    load(warehouse, rows[:10])  # a replay
    result = rebuild_payouts(warehouse)
    assert result.months == (202403, 202404)
    first = payouts(warehouse)
    assert first == expected(rows) == sql_group_by(warehouse)
    assert {r[1] for r in first} == {date(2024, 3, 31), date(2024, 4, 1)}
    for row in first:  # money invariant per row
        assert row[6] + row[7] == row[5]
    rebuild_payouts(warehouse)
    rebuild_payouts(warehouse, [date(2024, 4, 1)])
    assert payouts(warehouse) == first


def test_rebuild_of_days_follows_changed_clicks(warehouse: Warehouse) -> None:
    rows = [click(i) for i in range(40)]
    load(warehouse, rows)
    rebuild_payouts(warehouse)
    # a re-run re-classifies every April click as bot: April payouts must vanish
    april = [r for r in rows if r["event_time"].month == 4]
    rerun = [
        {**r, "status": "bot", "gross_micros": 0, "creator_micros": 0, "platform_micros": 0,
         "payable": False, "creator_eligible": False, "not_payable_reason": None}
        for r in april
    ]  # fmt: skip
    load(warehouse, rerun)
    result = rebuild_payouts(warehouse, [date(2024, 4, 1)])
    assert result.months == (202404,) and result.rows == 0
    assert payouts(warehouse) == expected(rows + rerun) == sql_group_by(warehouse)
    assert all(r[1] == date(2024, 3, 31) for r in payouts(warehouse))


def test_rebuild_on_empty_warehouse(warehouse: Warehouse) -> None:
    assert rebuild_payouts(warehouse).months == ()
    assert rebuild_payouts(warehouse, [date(2024, 1, 1)]).rows == 0
    assert payouts(warehouse) == []
    _n, tables = warehouse.query_rows(f"SHOW TABLES FROM `{warehouse.database}` LIKE '\\_stage%'")
    assert tables == []  # staging tables are dropped
