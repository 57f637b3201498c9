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

On a ClickHouse cluster (``Warehouse.cluster``, docs/warehouse-cluster.md) the rollup is a
Distributed table over replicated ``_local`` tables, which refuse nothing of the above but
``CREATE TABLE ... AS`` (it would copy the Distributed engine, or the local table's Keeper
path) and the partition commands. The same steps then run per shard: a replicated
``<stage>_local`` ON CLUSTER with the rollup's storage and its own Keeper path, a
Distributed stage in front with the rollup's sharding key (each row is staged on the shard
whose local rollup holds its key), the INSERT through it in the foreground, ``SYSTEM SYNC
REPLICA`` (the swap runs on one replica per shard, with the parts that replica has), then
``ALTER TABLE ..._local ON CLUSTER '{cluster}' REPLACE PARTITION ... FROM`` the local stage:
atomic per shard only (a reader may see a month new on one shard and old on another until
every shard swapped). The SQL text: :mod:`pipelines.connectors.warehouse_cluster`, parsed by
ClickHouse's parser in chdb, never run against a cluster here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from pipelines.connectors.warehouse import Warehouse
from pipelines.connectors.warehouse_cluster import (
    EMPTY_SOURCE_SETTING,
    drop_partition_sql,
    replace_partition_sql,
    stage_create_sql,
    stage_drop_sql,
    stage_insert_sql,
    stage_sync_sql,
)
from pipelines.warehouse.cluster_ddl import SHARDING_KEYS
from pipelines.warehouse.tables import AGG_CREATOR_PAYOUTS_DAILY, FCT_ATTRIBUTED_CLICKS

PAYOUTS = AGG_CREATOR_PAYOUTS_DAILY.name
CLICKS = FCT_ATTRIBUTED_CLICKS.name
#: the rollup's engine and storage (schemas/clickhouse/0007): a cluster stage repeats them
#: explicitly, and a partition swap needs them equal (an integration test compares them with
#: the migrated table)
PAYOUTS_ENGINE = "ReplacingMergeTree"
PAYOUTS_STORAGE = "PARTITION BY toYYYYMM(day) ORDER BY ({})".format(
    ", ".join(AGG_CREATOR_PAYOUTS_DAILY.order_by)
)


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


def stage_statements(database: str, stage: str, cluster: bool) -> list[str]:
    """Create the staging table of a rebuild (see the module doc)."""
    return stage_create_sql(
        database,
        stage,
        PAYOUTS,
        cluster,
        replicated_engine=PAYOUTS_ENGINE,
        storage=PAYOUTS_STORAGE,
        sharding_key=SHARDING_KEYS[PAYOUTS].expression,
    )


def swap_statement(
    database: str, stage: str, month: int, has_rows: bool, cluster: bool, empty_ok: bool = False
) -> str:
    """Publish one month: replace it from the stage, or drop it when no payout row is left
    (ClickHouse refuses to replace from an empty source). On a cluster a shard's stage may
    lack a month the others have: ``empty_ok`` (a server that knows
    ``allow_replace_partition_from_empty_source``) lets that shard replace it with nothing."""
    if not has_rows:
        return drop_partition_sql(database, PAYOUTS, str(month), cluster)
    return replace_partition_sql(
        database, PAYOUTS, str(month), stage, cluster, allow_empty_source=empty_ok
    )


def _knows_empty_source_setting(wh: Warehouse) -> bool:
    """Whether the server has ``allow_replace_partition_from_empty_source`` (26.6+), which
    refuses an empty-source REPLACE unless it is set; older servers replace with nothing."""
    _n, rows = wh.query_rows(
        f"SELECT count() FROM system.settings WHERE name = '{EMPTY_SOURCE_SETTING}'"
    )
    return int(rows[0][0]) > 0


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
    db, cluster = wh.database, wh.cluster
    stage_name = f"_stage_{PAYOUTS}_{uuid.uuid4().hex[:12]}"
    stage = wh.table(stage_name)
    columns = ", ".join(AGG_CREATOR_PAYOUTS_DAILY.column_names)
    empty_ok = cluster and _knows_empty_source_setting(wh)
    try:  # a cluster stage is two tables: drop both even when the second was not created
        for statement in stage_statements(db, stage_name, cluster):
            wh.command(statement)
        select = payouts_select(wh, months)
        wh.command(stage_insert_sql(db, stage_name, columns, select, cluster))
        for statement in stage_sync_sql(db, stage_name, cluster):
            wh.command(statement)
        _n, counts = wh.query_rows(
            f"SELECT toYYYYMM(day) AS month, count() FROM {stage} GROUP BY month"
        )
        rows_by_month = {int(month): int(count) for month, count in counts}
        for month in sorted(months):
            has_rows = bool(rows_by_month.get(month))
            wh.command(swap_statement(db, stage_name, month, has_rows, cluster, empty_ok))
    finally:
        for statement in stage_drop_sql(db, stage_name, cluster):
            wh.command(statement)
    return PayoutRebuild(tuple(sorted(months)), sum(rows_by_month.values()))
