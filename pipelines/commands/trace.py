"""``pulse trace``: from a statement to its days, clicks, attributed views and eligibility."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipelines.commands.options import add_warehouse_argument
from pipelines.commands.query import json_value, write
from pipelines.config import load_settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.errors import InputError
from pipelines.warehouse.books import month_label, parse_month
from pipelines.warehouse.migrations import migrate
from pipelines.warehouse.trace import resolve_statement, trace

DESCRIPTION = """\
Explain an amount: the statement line (when the month is closed) and its
adjustments, the creator's daily payout rows of the month, and every valid
click behind them with its attributed view (attributed_view_id / _time) and
the eligibility evaluation in force on the click's day (as_of, eligible,
reasons, the profile values used). Name the line by --statement ID, or by
--creator and --month (optionally --currency).
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "trace",
        help="trace a statement to its days, click ids, attributed views and eligibility",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_warehouse_argument(parser)
    parser.add_argument("--statement", metavar="ID", help="a statement_id")
    parser.add_argument("--creator", metavar="ID")
    parser.add_argument("--month", metavar="YYYY-MM")
    parser.add_argument("--currency", metavar="CODE")
    parser.add_argument("--format", choices=("table", "jsonl"), default="table")
    parser.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    if not args.statement and not (args.creator and args.month):
        raise InputError("name a statement line: --statement ID, or --creator ID --month YYYY-MM")
    settings = load_settings(warehouse=args.warehouse)
    with Warehouse.connect(settings, create_folder=False) as wh:
        migrate(wh)
        if args.statement:
            creator, month, currency = resolve_statement(wh, args.statement)
        else:
            creator, month, currency = args.creator, parse_month(args.month), args.currency
        sections = trace(wh, creator, month, currency)
    what = f"{creator} {month_label(month)}" + (f" {currency}" if currency else "")
    for section in sections:
        if args.format == "jsonl":
            for row in section.rows:
                record = {"section": section.title.split(" ")[0]}
                for name, ch_type, value in zip(section.names, section.types, row, strict=True):
                    record[name] = json_value(value, ch_type)
                write_json(record)
            continue
        print(f"\n== {section.title}: {what}")
        if section.rows:
            write(sys.stdout, "table", section.names, section.types, section.rows)
        else:
            print("(none)")
    return 0


def write_json(record: dict[str, Any]) -> None:
    import json

    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
