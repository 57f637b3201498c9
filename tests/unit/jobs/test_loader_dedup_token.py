"""The loader hands each batch's deduplication token to the warehouse (sent on a cluster
only: pipelines.connectors.warehouse_cluster.insert_settings). A stand-in warehouse: no
Kafka, no ClickHouse."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from jobs.faust_loader import LOADER_VERSION, WarehouseWriter
from pipelines.config import load_settings
from pipelines.load.kafka_records import Record, dedup_token

TOPIC = "results.late_events"
LATE = {
    "stream": "view",
    "event_id": "e1",
    "event_time": 1_790_900_000_000,
    "watermark": 1_790_900_100_000,
    "raw_b64": "e30=",
    "reason": "late",
}


class _Warehouse:
    def __init__(self) -> None:
        self.inserts: list[tuple[str, int, str | None]] = []

    def insert_arrow(self, table: str, data: pa.Table, *, dedup_token: str | None = None) -> int:
        self.inserts.append((table, data.num_rows, dedup_token))
        return int(data.num_rows)


def _records(first: int) -> list[Record]:
    return [
        Record(json.dumps({**LATE, "event_id": f"e{o}"}).encode(), 1_790_900_000_000, TOPIC, 0, o)
        for o in range(first, first + 3)
    ]


def test_each_batch_is_inserted_with_its_token() -> None:
    writer = WarehouseWriter(load_settings(), None)
    fake: Any = _Warehouse()
    writer._wh = fake
    try:
        batch = _records(40)
        writer.store(TOPIC, batch)
        writer.store(TOPIC, batch)  # the retry of the same records
        writer.store(TOPIC, _records(43))
    finally:
        writer._wh = None
        writer.close()
    tokens = [token for _table, _rows, token in fake.inserts]
    assert tokens[0] == dedup_token(TOPIC, batch, LOADER_VERSION) == tokens[1]
    assert tokens[0] == f"loader:{TOPIC}/0@40-42#{LOADER_VERSION}"
    assert tokens[2] == f"loader:{TOPIC}/0@43-45#{LOADER_VERSION}"
    assert LOADER_VERSION.startswith("pulse-")
