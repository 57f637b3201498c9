"""Data freshness: the newest event time visible in the warehouse's fact tables.

``pulse_warehouse_freshness_seconds`` (set by the loader, :mod:`pipelines.metrics`) is the wall
time since that instant. The event-time column of each table the Flink job fills
(:data:`EVENT_TIME_COLUMNS`): a click's ``event_time``, a window's ``window_end`` and the
``as_of`` of an eligibility evaluation (itself a window end): each is at most the job's
watermark when the row is emitted, so the newest of them is how far in event time the
warehouse is complete. Dead letters, late events and dimensions are not results: they do
not count.

The loader reads the newest instant from the warehouse when it opens it (freshness is known
right after a restart) and then takes the maximum of each stored batch.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

#: fact table -> its event-time column
EVENT_TIME_COLUMNS: dict[str, str] = {
    "fct_attributed_clicks": "event_time",
    "fct_engagement_windows": "window_end",
    "fct_eligibility": "as_of",
    "fct_eligibility_transitions": "as_of",
}


def newest_in_batch(table: str, data: pa.Table) -> int | None:
    """The newest event time (epoch ms) of a batch of ``table`` (None: not a fact table, or
    no row)."""
    column = EVENT_TIME_COLUMNS.get(table)
    if column is None or data.num_rows == 0 or column not in data.column_names:
        return None
    newest = pc.max(pc.cast(data.column(column), pa.timestamp("ms", tz="UTC"))).as_py()
    return None if newest is None else int(newest.timestamp() * 1000)


def newest_sql(database: str) -> str:
    """One query: the newest event time (epoch ms, or NULL) over every fact table."""
    parts = [
        f"SELECT toUnixTimestamp64Milli(maxOrNull({column})) AS ms FROM {database}.{table}"
        for table, column in EVENT_TIME_COLUMNS.items()
    ]
    return "SELECT maxOrNull(ms) FROM (" + " UNION ALL ".join(parts) + ")"


def newest_in_warehouse(warehouse: Any) -> int | None:
    """The newest event time (epoch ms) in the fact tables of an open, migrated
    :class:`~pipelines.connectors.warehouse.Warehouse` (None: empty)."""
    _names, rows = warehouse.query_rows(newest_sql(warehouse.database))
    value = rows[0][0] if rows else None
    return None if value is None else int(value)
