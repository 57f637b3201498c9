"""ReplacingMergeTree keys: replays and re-runs never change a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.tables import arrow_schema

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 31, 23, 58, tzinfo=UTC)


def click(i: int, **overrides: Any) -> dict[str, Any]:
    valid = i % 4 != 0
    payable = valid and i % 2 == 1
    gross = 250_000 if valid else 0
    creator = gross * 5000 // 10_000 if payable else 0
    row: dict[str, Any] = {
        "click_id": f"click-{i}",
        "event_time": T0 + timedelta(minutes=i),  # crosses a day and a month
        "user_id": f"u{i % 3}",
        "ad_id": "ad-1",
        "campaign_id": "cmp-1",
        "video_id": f"v{i % 2}",
        "creator_id": f"cr{i % 3}" if i % 5 else None,
        "status": "valid" if valid else "bot",
        "currency": "USD",
        "gross_micros": gross,
        "creator_micros": creator,
        "platform_micros": gross - creator,
        "creator_eligible": payable,
        "payable": payable,
        "not_payable_reason": None if payable or not valid else "creator_not_eligible",
        "attributed_view_id": f"view-{i}",
        "attributed_view_time": T0 + timedelta(minutes=i - 1),
    }
    row.update(overrides)
    return row


def clicks_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=arrow_schema("fct_attributed_clicks"))


def snapshot(wh: Warehouse, table: str, order: str) -> list[tuple[Any, ...]]:
    return wh.query_rows(f"SELECT * FROM {wh.table(table)} FINAL ORDER BY {order}")[1]


def test_clicks_loaded_twice_are_identical(warehouse: Warehouse) -> None:
    data = clicks_table([click(i) for i in range(20)])
    warehouse.insert_arrow("fct_attributed_clicks", data)
    once = snapshot(warehouse, "fct_attributed_clicks", "click_id")
    warehouse.insert_arrow("fct_attributed_clicks", data)
    assert snapshot(warehouse, "fct_attributed_clicks", "click_id") == once
    assert len(once) == 20
    warehouse.optimize_final("fct_attributed_clicks")
    plain = warehouse.query_rows(
        f"SELECT * FROM {warehouse.table('fct_attributed_clicks')} ORDER BY click_id"
    )[1]
    assert plain == once
    # values round-trip exactly: instants in UTC, money as integers
    first = once[0]
    assert first[1] == T0 and first[1].tzinfo is not None
    assert isinstance(first[9], int)


def test_last_load_of_a_click_wins(warehouse: Warehouse) -> None:
    warehouse.insert_arrow("fct_attributed_clicks", clicks_table([click(1)]))
    rerun = click(1, status="bot", gross_micros=0, creator_micros=0, platform_micros=0)
    rerun.update(payable=False, creator_eligible=False, not_payable_reason=None)
    warehouse.insert_arrow("fct_attributed_clicks", clicks_table([rerun]))
    rows = snapshot(warehouse, "fct_attributed_clicks", "click_id")
    assert [(r[0], r[7]) for r in rows] == [("click-1", "bot")]


def rejected(line: int | None, raw: str, offset: int | None = None) -> dict[str, Any]:
    return {
        "stream": "view",
        "source": "views.jsonl" if offset is None else "views/0",
        "line": line,
        "offset": offset,
        "reason": "invalid_json",
        "raw": raw,
        "detail": "",
        "rejected_at": T0,
    }


def test_rejected_events_are_one_row_per_line_or_offset(warehouse: Warehouse) -> None:
    """The key is where a line was read: identical bad lines stay apart, a re-read
    of the same line (or a redelivered Kafka offset) replaces itself."""
    schema = arrow_schema("raw_rejected_events")
    warehouse.insert_arrow(
        "raw_rejected_events",
        pa.Table.from_pylist([rejected(9, "{bad"), rejected(None, "{bad", offset=70)], schema),
    )
    warehouse.insert_arrow(
        "raw_rejected_events",
        pa.Table.from_pylist(
            [rejected(4, "{bad"), rejected(5, "[1]"), rejected(None, "{bad", offset=12)], schema
        ),
    )
    warehouse.insert_arrow(  # the same line again, and the same offset again
        "raw_rejected_events",
        pa.Table.from_pylist([rejected(4, "{bad"), rejected(None, "{bad", offset=70)], schema),
    )
    rows = warehouse.query_rows(
        "SELECT source, line, offset, raw FROM "
        f"{warehouse.table('raw_rejected_events')} FINAL ORDER BY source, line, offset"
    )[1]
    assert rows == [
        ("views.jsonl", 4, None, "{bad"),
        ("views.jsonl", 5, None, "[1]"),
        ("views.jsonl", 9, None, "{bad"),
        ("views/0", None, 12, "{bad"),
        ("views/0", None, 70, "{bad"),
    ]


def test_late_events_dedup(warehouse: Warehouse) -> None:
    row = {
        "stream": "view",
        "event_id": "e1",
        "event_time": T0,
        "watermark": T0 + timedelta(hours=2),
        "raw": "{}",
        "reason": "beyond_allowed_lateness",
    }
    data = pa.Table.from_pylist([row, {**row, "event_id": "e2"}], arrow_schema("raw_late_events"))
    warehouse.insert_arrow("raw_late_events", data)
    warehouse.insert_arrow("raw_late_events", data)
    assert len(snapshot(warehouse, "raw_late_events", "event_id")) == 2
