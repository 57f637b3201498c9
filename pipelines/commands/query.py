"""`pulse query`: run one SQL statement against the warehouse and print the result."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any, TextIO

from pipelines.commands.options import add_warehouse_argument
from pipelines.config import Settings, load_settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.connectors.warehouse_target import parse_target
from pipelines.errors import WarehouseLockedError

FORMATS = ("table", "jsonl", "csv")
# Statements that return a result set; anything else runs as a command.
_READS = re.compile(r"^\s*(\(\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN|EXISTS)\b", re.I)
_LEADING_COMMENTS = re.compile(r"^(\s*(--[^\n]*(\n|$)|/\*.*?\*/))*", re.S)

DESCRIPTION = """\
Run one SQL statement against the warehouse and print the result. Unqualified
table names refer to the pulse database (PULSE_DATABASE). Read tables with
FINAL for exact, deduplicated results, e.g.

  pulse query "SELECT status, count() FROM fct_attributed_clicks FINAL GROUP BY status"
  pulse query --format jsonl "SELECT * FROM agg_creator_payouts_daily ORDER BY day"

Formats: table (aligned columns with a header), jsonl (one JSON object per
row: instants as ISO 8601 UTC, dates YYYY-MM-DD, integers as JSON integers,
arrays as JSON arrays, NULL as null), csv (with a header row; NULL as empty).
String values that are not valid UTF-8 (some rejected payloads) print as hex.
A failing statement prints ClickHouse's message on one line and exits 2.

While the stack runs (`make up`), the loader holds an embedded warehouse folder;
pulse query then asks the loader, which answers read-only queries from every
batch stored so far (a note on stderr says so; docs/streaming.md).
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "query",
        help="run SQL against the warehouse and print the result",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_warehouse_argument(parser)
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help="output format (default: table)"
    )
    parser.add_argument("sql", metavar="SQL", help="one SQL statement ('-' reads it from stdin)")
    parser.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    sql = sys.stdin.read() if args.sql == "-" else args.sql
    sql = sql.strip().rstrip(";").strip()
    if not sql:
        print("pulse query: no SQL given", file=sys.stderr)
        return 2
    settings = load_settings(warehouse=args.warehouse)
    try:
        wh = Warehouse.connect(settings, create_folder=False)
    except WarehouseLockedError:
        answer = ask_the_holder(settings, sql)
        if answer is None:  # the holder serves no queries: the one-sentence error stays
            raise
        if not is_read(sql):
            print("ok", file=sys.stderr)
            return 0
        write(sys.stdout, args.format, *answer)
        return 0
    with wh:
        if wh.database_exists():
            wh.use_database()
        if not is_read(sql):
            wh.command(sql)
            print("ok", file=sys.stderr)
            return 0
        names, types, rows = wh.query_typed(sql)
    write(sys.stdout, args.format, names, types, rows)
    return 0


def ask_the_holder(
    settings: Settings, sql: str
) -> tuple[list[str], list[str], list[tuple[Any, ...]]] | None:
    """Run ``sql`` through the query endpoint of the process that holds the embedded warehouse
    folder (the loader of a running stack); None when that process advertises none."""
    from pipelines.streaming.query_endpoint import query_endpoint
    from pipelines.streaming.query_protocol import live_advert

    target = parse_target(settings.warehouse)
    if target.folder is None:
        return None
    advert = live_advert(target.folder)
    if advert is None:
        return None
    print(
        f"pulse query: answered by the running loader (pid {advert.pid}), which holds "
        f"warehouse folder {target.display}: read-only, every batch stored so far",
        file=sys.stderr,
    )
    return query_endpoint(target.folder, advert, sql)


def is_read(sql: str) -> bool:
    """True when ``sql`` returns a result set (SELECT, WITH, SHOW, DESCRIBE, ...)."""
    return bool(_READS.match(_LEADING_COMMENTS.sub("", sql, count=1)))


# --- rendering -------------------------------------------------------------------


def _timespec(ch_type: str) -> str:
    match = re.search(r"DateTime64\((\d+)", ch_type)
    if not match:
        return "seconds"
    precision = int(match.group(1))
    if precision == 0:
        return "seconds"
    return "milliseconds" if precision <= 3 else "microseconds"


def json_value(value: Any, ch_type: str = "") -> Any:
    """A Python value from ClickHouse as a JSON-ready value."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        text = value.isoformat(timespec=_timespec(ch_type))
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, uuid.UUID | IPv4Address | IPv6Address):
        return str(value)
    if isinstance(value, dict):
        return {str(json_value(k)): json_value(v, ch_type) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_value(item, ch_type) for item in value]
    return str(value)


def _text(value: Any, ch_type: str, null: str) -> str:
    if value is None:
        return null
    if isinstance(value, bool):
        return "true" if value else "false"
    converted = json_value(value, ch_type)
    if isinstance(converted, list | dict):
        return json.dumps(converted, ensure_ascii=False)
    if converted is None:  # non-finite float
        return str(value)
    return str(converted)


def _is_numeric(ch_type: str) -> bool:
    inner = re.sub(r"^(LowCardinality\(|Nullable\()+", "", ch_type)
    return inner.startswith(("Int", "UInt", "Float", "Decimal"))


def write_jsonl(
    out: TextIO, names: Sequence[str], types: Sequence[str], rows: Iterable[Any]
) -> None:
    for row in rows:
        record = {
            name: json_value(value, types[i])
            for i, (name, value) in enumerate(zip(names, row, strict=True))
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_csv(out: TextIO, names: Sequence[str], types: Sequence[str], rows: Iterable[Any]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_text(value, types[i], "") for i, value in enumerate(row)])


def write_table(
    out: TextIO, names: Sequence[str], types: Sequence[str], rows: Iterable[Any]
) -> None:
    cells = [[_text(value, types[i], "NULL") for i, value in enumerate(row)] for row in rows]
    widths = [len(name) for name in names]
    for line in cells:
        for i, cell in enumerate(line):
            widths[i] = max(widths[i], len(cell))
    numeric = [_is_numeric(ch_type) for ch_type in types]

    def fmt(line: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        return "  ".join(parts).rstrip()

    out.write(fmt(names) + "\n")
    out.write("  ".join("-" * width for width in widths) + "\n")
    for line in cells:
        out.write(fmt(line) + "\n")
    out.write(f"({len(cells)} row{'s' if len(cells) != 1 else ''})\n")


def write(
    out: TextIO, fmt: str, names: Sequence[str], types: Sequence[str], rows: Iterable[Any]
) -> None:
    writer = {"table": write_table, "jsonl": write_jsonl, "csv": write_csv}[fmt]
    buffer = io.StringIO()
    writer(buffer, names, types, rows)
    out.write(buffer.getvalue())
