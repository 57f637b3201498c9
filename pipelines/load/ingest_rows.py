"""Rows ingest routes aside (rejected and late events) and the ingest ledger, as Arrow
tables for the warehouse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from pipelines.ingest.files import LateRow, RejectedRow
from pipelines.warehouse.books import LedgerCounts
from pipelines.warehouse.tables import arrow_schema


@dataclass(frozen=True)
class LedgerEntry:
    """One row of ``raw_ingest_ledger``: one source read by one run."""

    run_id: str
    stream: str
    source: str
    position_kind: str  # "line" or "offset"
    first_position: int
    last_position: int
    counts: LedgerCounts
    min_event_ms: int | None
    max_event_ms: int | None
    reference_ms: int
    recorded_ms: int


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


def ledger_table(entries: Sequence[LedgerEntry]) -> pa.Table:
    columns: dict[str, list[object]] = {
        "run_id": [e.run_id for e in entries],
        "stream": [e.stream for e in entries],
        "source": [e.source for e in entries],
        "position_kind": [e.position_kind for e in entries],
        "first_position": [e.first_position for e in entries],
        "last_position": [e.last_position for e in entries],
        "lines": [e.counts.lines for e in entries],
        "accepted": [e.counts.accepted for e in entries],
        "rejected": [e.counts.rejected for e in entries],
        "replays": [e.counts.replays for e in entries],
        "late": [e.counts.late for e in entries],
        "min_event_time": [e.min_event_ms for e in entries],
        "max_event_time": [e.max_event_ms for e in entries],
        "reference_time": [e.reference_ms for e in entries],
        "recorded_at": [e.recorded_ms for e in entries],
    }
    return _build(arrow_schema("raw_ingest_ledger"), columns)


def _build(schema: pa.Schema, columns: dict[str, list[object]]) -> pa.Table:
    arrays = []
    for field in schema:
        values = columns[field.name]
        if pa.types.is_timestamp(field.type):
            arrays.append(pa.array(values, pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
