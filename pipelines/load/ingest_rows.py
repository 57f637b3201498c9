"""Rows ingest routes aside (rejected and late events) as Arrow tables for the warehouse."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from pipelines.ingest.bounded import LateRow, RejectedRow
from pipelines.warehouse.tables import arrow_schema


def _with_binary_raw(schema: pa.Schema) -> pa.Schema:
    """``raw`` is the payload as received: bytes, not necessarily valid UTF-8."""
    index = schema.get_field_index("raw")
    return schema.set(index, pa.field("raw", pa.binary(), nullable=False))


def rejected_table(rows: Sequence[RejectedRow], rejected_at_ms: int) -> pa.Table:
    schema = _with_binary_raw(arrow_schema("raw_rejected_events"))
    columns: dict[str, list[object]] = {
        "stream": [row.stream for row in rows],
        "source": [row.source for row in rows],
        "line": [row.line for row in rows],
        "offset": [None] * len(rows),
        "reason": [row.reason for row in rows],
        "raw": [row.raw for row in rows],
        "detail": [row.detail for row in rows],
        "rejected_at": [rejected_at_ms] * len(rows),
    }
    return _build(schema, columns)


def late_table(rows: Sequence[LateRow]) -> pa.Table:
    schema = _with_binary_raw(arrow_schema("raw_late_events"))
    columns: dict[str, list[object]] = {
        "stream": [row.stream for row in rows],
        "event_id": [row.event_id for row in rows],
        "event_time": [row.event_time_ms for row in rows],
        "watermark": [row.watermark_ms for row in rows],
        "raw": [row.raw for row in rows],
        "reason": ["beyond_allowed_lateness"] * len(rows),
    }
    return _build(schema, columns)


def _build(schema: pa.Schema, columns: dict[str, list[object]]) -> pa.Table:
    arrays = []
    for field in schema:
        values = columns[field.name]
        if pa.types.is_timestamp(field.type):
            arrays.append(pa.array(values, pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
