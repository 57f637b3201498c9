"""`pulse query` rendering: jsonl, csv and table output of typed values."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from pipelines.commands.query import is_read, json_value, write

NAMES = ["click_id", "event_time", "day", "gross_micros", "reasons", "creator_id", "ok", "rate"]
TYPES = [
    "String",
    "DateTime64(3, 'UTC')",
    "Date",
    "Int64",
    "Array(String)",
    "Nullable(String)",
    "Bool",
    "Nullable(Float64)",
]
ROWS = [
    (
        "c1",
        datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        date(2024, 1, 2),
        9_007_199_254_740_993,
        ["a", "b"],
        None,
        True,
        0.25,
    ),
    ("c22", datetime(2024, 1, 2, tzinfo=UTC), date(2024, 1, 3), -5, [], "cr", False, None),
]


def render(fmt: str) -> str:
    out = io.StringIO()
    write(out, fmt, NAMES, TYPES, ROWS)
    return out.getvalue()


def test_jsonl() -> None:
    lines = render("jsonl").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert list(first) == NAMES
    assert first["event_time"] == "2024-01-02T03:04:05.678Z"
    assert first["day"] == "2024-01-02"
    assert first["gross_micros"] == 9_007_199_254_740_993  # stays an exact integer
    assert first["reasons"] == ["a", "b"]
    assert first["creator_id"] is None
    assert first["ok"] is True
    assert json.loads(lines[1])["event_time"] == "2024-01-02T00:00:00.000Z"


def test_csv() -> None:
    lines = render("csv").splitlines()
    assert lines[0] == ",".join(NAMES)
    assert (
        lines[1]
        == 'c1,2024-01-02T03:04:05.678Z,2024-01-02,9007199254740993,"[""a"", ""b""]",,true,0.25'
    )


def test_table_is_aligned() -> None:
    lines = render("table").splitlines()
    assert lines[0].split() == NAMES
    assert set(lines[1]) <= {"-", " "}
    assert lines[-1] == "(2 rows)"
    # numbers right-aligned: the column ends at the same position
    header_end = lines[0].index("gross_micros") + len("gross_micros")
    assert lines[2][header_end - 1] == "3" and lines[3][header_end - 1] == "5"
    assert "NULL" in lines[2]


@pytest.mark.parametrize(
    ("value", "ch_type", "expected"),
    [
        (float("nan"), "Float64", None),
        (Decimal("1.50"), "Decimal(9, 2)", "1.50"),
        (datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC), "DateTime('UTC')", "2024-01-01T00:00:01Z"),
        (b"\xff", "String", "\ufffd"),
        ((1, "a"), "Tuple(UInt8, String)", [1, "a"]),
    ],
)
def test_json_value(value: object, ch_type: str, expected: object) -> None:
    assert json_value(value, ch_type) == expected


@pytest.mark.parametrize(
    ("sql", "read"),
    [
        ("SELECT 1", True),
        ("  with x as (select 1) select * from x", True),
        ("-- comment\nSELECT 1", True),
        ("(SELECT 1) UNION ALL (SELECT 2)", True),
        ("SHOW TABLES", True),
        ("DESCRIBE TABLE t", True),
        ("OPTIMIZE TABLE t FINAL", False),
        ("INSERT INTO t VALUES (1)", False),
    ],
)
def test_is_read(sql: str, read: bool) -> None:
    assert is_read(sql) is read
