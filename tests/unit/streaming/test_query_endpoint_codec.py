"""The query endpoint's JSON values: a result decoded on the client renders exactly like the
same result read locally, in every `pulse query` format."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipelines.commands.query import FORMATS, write
from pipelines.streaming.query_protocol import (
    Advert,
    decode_result,
    decode_value,
    encode_result,
    encode_value,
    read_advert,
    write_advert,
)

NAMES = ["at", "berlin", "day", "t", "micros", "huge", "price", "rate", "nan", "inf", "ok",
         "raw", "id", "ip4", "ip6", "tags", "pair", "scores", "nothing", "text",
         "span"]  # fmt: skip
TYPES = ["DateTime64(3, 'UTC')", "DateTime64(6, 'Europe/Berlin')", "Date", "Time", "Int64",
         "UInt256", "Decimal(18, 6)", "Float64", "Float64", "Float64", "Bool", "String", "UUID",
         "IPv4", "IPv6", "Array(String)", "Tuple(String, Int8)", "Map(UInt8, Array(Int64))",
         "Nullable(String)", "String", "Time64(3)"]  # fmt: skip
ROW = (
    datetime(2026, 10, 2, 10, 0, 0, 123000, tzinfo=ZoneInfo("UTC")),
    datetime(2026, 10, 2, 12, 0, 0, 5, tzinfo=ZoneInfo("Europe/Berlin")),
    date(2026, 10, 2),
    time(23, 59, 1),
    9_007_199_254_740_993,
    2**200,
    Decimal("12.345600"),
    0.1,
    float("nan"),
    float("-inf"),
    True,
    b"\xff\xfebad utf-8 \x00",
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    IPv4Address("10.1.2.3"),
    IPv6Address("::1"),
    ["a", "b,c", 'q"uote'],
    ("x", -1),
    {1: [1, 2], 2: []},
    None,
    "naïve ✓\ttab",
    timedelta(seconds=1.5),
)


def _render(fmt: str, rows: Sequence[tuple[object, ...]]) -> str:
    out = io.StringIO()
    write(out, fmt, NAMES, TYPES, rows)
    return out.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_result_over_json_renders_like_the_local_one(fmt: str) -> None:
    rows = [ROW, tuple(None for _ in ROW)]
    payload = encode_result(NAMES, TYPES, rows)
    json.loads(payload)  # plain JSON: no NaN or Infinity literals
    assert b"NaN" not in payload and b"Infinity" not in payload
    names, types, decoded = decode_result(payload)
    assert (names, types) == (NAMES, TYPES)
    assert _render(fmt, decoded) == _render(fmt, rows)


def test_values_keep_their_python_types() -> None:
    for value in ROW[:-1]:  # the last one comes back as its text
        back = decode_value(json.loads(json.dumps(encode_value(value))))
        if isinstance(value, float) and value != value:
            assert back != back
            continue
        assert back == value and type(back) is type(value), value
    instant = decode_value(encode_value(ROW[0]))
    assert instant.utcoffset() == timedelta(0) and instant.tzinfo is UTC
    assert decode_value(encode_value(ROW[-1])) == "0:00:01.500000"


def test_the_advert_is_private_and_atomic(tmp_path: Path) -> None:
    advert = Advert(pid=123, port=4567, token="t0k", database="pulse", timeout_s=30.0,
                    started_ms=1)  # fmt: skip
    write_advert(tmp_path, advert)
    (path,) = tmp_path.iterdir()  # no temporary file left behind
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_advert(tmp_path) == advert
    path.write_text("{not json")
    assert read_advert(tmp_path) is None
