"""The ingest ledger and the dead letters of a bounded run, in the warehouse.

A bounded run reads each input file whole. Its dead letters REPLACE those of
earlier runs over the same file (same stream and source): a corrected file
whose bad line was fixed leaves no stale row behind, and a re-run over the same
file leaves the table as it was. Its ledger rows are appended (one per run and
source), so the ledger is the history of every read; the latest row of a
source is the one whose ``rejected`` count equals that source's rows in
``raw_rejected_events``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa

from pipelines.connectors.warehouse import Warehouse
from pipelines.connectors.warehouse_cluster import delete_sql
from pipelines.load.ingest_rows import LedgerEntry, ledger_table

LEDGER = "raw_ingest_ledger"
REJECTED = "raw_rejected_events"
EVENT_STREAMS = ("view", "comment", "ad_click")


def sql_string(value: str) -> str:
    """A ClickHouse string literal (quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def rejected_delete_sql(database: str, pairs: Sequence[tuple[str, str]], cluster: bool) -> str:
    """Delete the dead letters of (stream, source) ``pairs``; on a cluster from the local
    tables of every shard, ON CLUSTER (a Distributed table refuses mutations)."""
    condition = " OR ".join(
        f"(stream = {sql_string(stream)} AND source = {sql_string(source)})"
        for stream, source in pairs
    )
    return delete_sql(database, REJECTED, condition, cluster)


def replace_rejected(wh: Warehouse, sources: Iterable[tuple[str, str]], rows: pa.Table) -> int:
    """Delete the dead letters of ``sources`` ((stream, source) pairs), then insert ``rows``."""
    pairs = sorted(set(sources))
    if pairs:
        wh.command(rejected_delete_sql(wh.database, pairs, wh.cluster))
    return wh.insert_arrow(REJECTED, rows)


def write_ledger(wh: Warehouse, entries: Sequence[LedgerEntry]) -> int:
    return wh.insert_arrow(LEDGER, ledger_table(entries))


def seen_event_time_ms(wh: Warehouse) -> int | None:
    """The latest event time the warehouse has seen, in epoch ms (None when nothing).

    The greatest of: accepted event times of the event streams in the ingest
    ledger (bounded runs), and click times in ``fct_attributed_clicks`` (any
    run, streaming included).
    """
    streams = ", ".join(sql_string(s) for s in EVENT_STREAMS)
    _n, rows = wh.query_rows(
        "SELECT greatest("
        f"  (SELECT toInt64(ifNull(maxOrNull(toUnixTimestamp64Milli(max_event_time)), -1)) "
        f"   FROM {wh.table(LEDGER)} WHERE stream IN ({streams})),"
        f"  (SELECT toInt64(ifNull(maxOrNull(toUnixTimestamp64Milli(event_time)), -1)) "
        f"   FROM {wh.table('fct_attributed_clicks')}))"
    )
    seen = int(rows[0][0])
    return None if seen < 0 else seen
