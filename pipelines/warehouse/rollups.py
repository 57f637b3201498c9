"""Rollups computed inside ClickHouse from the deduplicated fact tables.

``agg_creator_payouts_daily`` always equals the GROUP BY over
``fct_attributed_clicks FINAL`` (valid clicks with a creator). It is never
written by a streaming job directly: after clicks are loaded, the loader calls
:func:`rebuild_payouts` with the UTC days it touched.

How the rebuild stays correct and idempotent, embedded (chdb) and on a server:

1. the affected MONTH partitions are recomputed into a fresh staging table
   (``CREATE TABLE ... AS`` the rollup: same columns, engine and partitioning)
   from ``fct_attributed_clicks FINAL``, filtered on the partition key only
   (safe with FINAL), then on status;
2. each month is swapped in with ``ALTER TABLE ... REPLACE PARTITION ... FROM``,
   which is atomic: a reader sees the old month or the new one, never a
   half-deleted state (as DELETE-then-INSERT would show). A month with no
   payout rows left is dropped (``DROP PARTITION``), since ClickHouse refuses
   to replace from an empty source;
3. the staging table is dropped.

Running it twice gives the same table; concurrent rebuilds each publish a
complete, consistent month. Recomputing a whole month for one day is cheap:
the clicks table is partitioned by month too, so the read prunes to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.tables import AGG_CREATOR_PAYOUTS_DAILY, FCT_ATTRIBUTED_CLICKS

PAYOUTS = AGG_CREATOR_PAYOUTS_DAILY.name
CLICKS = FCT_ATTRIBUTED_CLICKS.name


@dataclass(frozen=True)
class PayoutRebuild:
    months: tuple[int, ...]  # YYYYMM partitions recomputed
    rows: int  # payout rows now in those months


def payouts_select(wh: Warehouse, months: Iterable[int] | None = None) -> str:
    """The SELECT that defines ``agg_creator_payouts_daily`` (optionally some months)."""
    month_filter = ""
    if months is not None:
        listed = ", ".join(str(int(month)) for month in sorted(set(months)))
        month_filter = f"WHERE toYYYYMM(event_time) IN ({listed})"
    # Inner names differ from the output aliases on purpose: ClickHouse lets an
    # alias shadow a column in WHERE, which would turn `creator_id IS NOT NULL`
    # into a test on assumeNotNull(creator_id).
    return f"""
SELECT
    assumeNotNull(c_creator_id) AS creator_id,
    toDate(c_event_time, 'UTC') AS day,
    ifNull(c_currency, '') AS currency,
    count() AS valid_clicks,
    countIf(c_payable) AS payable_clicks,
    sum(c_gross_micros) AS gross_micros,
    sum(c_creator_micros) AS creator_micros,
    sum(c_platform_micros) AS platform_micros
FROM
(
    SELECT
        creator_id AS c_creator_id,
        event_time AS c_event_time,
        status AS c_status,
        currency AS c_currency,
        payable AS c_payable,
        gross_micros AS c_gross_micros,
        creator_micros AS c_creator_micros,
        platform_micros AS c_platform_micros
    FROM {wh.table(CLICKS)} FINAL
    {month_filter}
)
WHERE c_status = 'valid' AND c_creator_id IS NOT NULL
GROUP BY creator_id, day, currency"""


def _months_in_warehouse(wh: Warehouse) -> set[int]:
    _n, clicks = wh.query_rows(f"SELECT DISTINCT toYYYYMM(event_time) FROM {wh.table(CLICKS)}")
    _n, payouts = wh.query_rows(f"SELECT DISTINCT toYYYYMM(day) FROM {wh.table(PAYOUTS)}")
    return {int(row[0]) for row in clicks} | {int(row[0]) for row in payouts}


def rebuild_payouts(wh: Warehouse, days: Iterable[date] | None = None) -> PayoutRebuild:
    """Recompute the payout rows of ``days`` (UTC) from the clicks, or all when None.

    The whole month of each day is recomputed and swapped in atomically
    (see the module doc). Returns the months rebuilt and their row count.
    """
    if days is None:
        months = _months_in_warehouse(wh)
    else:
        months = {day.year * 100 + day.month for day in days}
    if not months:
        return PayoutRebuild((), 0)
    target = wh.table(PAYOUTS)
    stage_name = f"_stage_{PAYOUTS}_{uuid.uuid4().hex[:12]}"
    stage = wh.table(stage_name)
    columns = ", ".join(AGG_CREATOR_PAYOUTS_DAILY.column_names)
    wh.command(f"CREATE TABLE {stage} AS {target}")
    try:
        wh.command(f"INSERT INTO {stage} ({columns}) {payouts_select(wh, months)}")
        _n, counts = wh.query_rows(
            f"SELECT toYYYYMM(day) AS month, count() FROM {stage} GROUP BY month"
        )
        rows_by_month = {int(month): int(count) for month, count in counts}
        for month in sorted(months):
            if rows_by_month.get(month):
                wh.command(f"ALTER TABLE {target} REPLACE PARTITION ID '{month}' FROM {stage}")
            else:
                wh.command(f"ALTER TABLE {target} DROP PARTITION ID '{month}'")
    finally:
        wh.command(f"DROP TABLE IF EXISTS {stage} SYNC")
    return PayoutRebuild(tuple(sorted(months)), sum(rows_by_month.values()))
