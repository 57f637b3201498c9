"""``pulse reconcile``: check every invariant of the books; exit 0 when all hold, 1 when not."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from pipelines.commands.options import add_warehouse_argument
from pipelines.config import load_settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.errors import InputError
from pipelines.warehouse.migrations import migrate
from pipelines.warehouse.reconcile import Scope, render_results, run_checks

DESCRIPTION = """\
Check, and print as a table, every invariant of the books in the warehouse:

  per click        creator + platform = gross; a click that is not valid carries 0;
                   a valid click is payable exactly when its creator has an eligible
                   evaluation in fct_eligibility on the click's day, and then
                   creator = gross * revenue share // 10000
  per payout row   agg_creator_payouts_daily = the sums over fct_attributed_clicks
                   (no payout row without clicks, no valid clicks without a row)
  money            no click id twice, no negative micros, currency (and price) of
                   the campaign version in force at each click
  ingest ledger    per run and source: lines = accepted + rejected + replays + late;
                   the latest run's rejected count = the source's dead letters
  closed months    statement + adjustments = the month's clicks, per creator and
                   currency; statement rows unchanged since the close (hashes);
                   adjustments never booked into a month after it closed

--from/--to (UTC days, inclusive) restrict the click, payout and closed-month
checks; the ledger and statement checks always cover the whole warehouse.
Exit 0 when every check holds; 1 with the offending keys when one does not.
"""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD day: {text!r}") from err


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "reconcile",
        help="check every invariant of the books (exit 1 with the offending keys)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_warehouse_argument(parser)
    parser.add_argument("--from", dest="day_from", type=_day, metavar="DAY", help="first UTC day")
    parser.add_argument("--to", dest="day_to", type=_day, metavar="DAY", help="last UTC day")
    parser.add_argument(
        "--limit", type=int, default=20, metavar="N", help="offending keys shown per check"
    )
    parser.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    if args.day_from and args.day_to and args.day_from > args.day_to:
        raise InputError(f"--from {args.day_from} is after --to {args.day_to}")
    settings = load_settings(warehouse=args.warehouse)
    scope = Scope(args.day_from, args.day_to)
    with Warehouse.connect(settings, create_folder=False) as wh:
        migrate(wh)
        results = run_checks(wh, settings, scope, limit=max(args.limit, 1))
    print(render_results(results, scope))
    return 0 if all(r.ok for r in results) else 1
