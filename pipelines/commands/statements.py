"""``pulse statements --month YYYY-MM``: what finance pays for a closed month."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipelines.commands.options import add_warehouse_argument
from pipelines.commands.query import write
from pipelines.config import load_settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.run.report import format_micros
from pipelines.warehouse.books import month_label, parse_month
from pipelines.warehouse.migrations import migrate
from pipelines.warehouse.statements import COLUMNS, line_record, statement_lines

DESCRIPTION = """\
Print what finance pays for a CLOSED month, per creator and currency: the
month's statement (frozen at its close) plus the adjustments booked in that
month for earlier closed months. pay_creator_micros = creator_micros +
adj_creator_micros is the amount to pay.

Formats: table (amounts as decimals of the currency), csv and jsonl (amounts as
integer micros, exact). A month that is not closed has no statement (exit 1).
"""

_TYPES = {
    "month": "String",
    "creator_id": "String",
    "currency": "String",
    "statement_id": "Nullable(String)",
    "adjusted_months": "Array(String)",
}


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "statements",
        help="print the creator statements of a closed month, with its adjustments",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--month", required=True, metavar="YYYY-MM")
    add_warehouse_argument(parser)
    parser.add_argument("--creator", metavar="ID", help="one creator only")
    parser.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")
    parser.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    month = parse_month(args.month)
    settings = load_settings(warehouse=args.warehouse)
    with Warehouse.connect(settings, create_folder=False) as wh:
        migrate(wh)
        lines = statement_lines(wh, month, args.creator)
    records = [line_record(month, line) for line in lines]
    types = [_TYPES.get(name, "Int64") for name in COLUMNS]
    if args.format != "table":
        write(sys.stdout, args.format, COLUMNS, types, records)
        return 0
    shown = [
        tuple(_shown(name, value) for name, value in zip(COLUMNS, record, strict=True))
        for record in records
    ]
    write(sys.stdout, "table", COLUMNS, ["String"] * len(COLUMNS), shown)
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.currency] = totals.get(line.currency, 0) + line.pay_micros
    for currency, micros in sorted(totals.items()):
        print(f"to pay for {month_label(month)} in {currency}: {format_micros(micros)}")
    return 0


def _shown(name: str, value: object) -> object:
    """A value as the table shows it: amounts as exact decimals, month lists as text."""
    if name.endswith("_micros") and isinstance(value, int):
        return format_micros(value)
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return value
