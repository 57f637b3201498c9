"""``pulse close --month YYYY-MM``: freeze a month's payouts into statements."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.commands.options import add_warehouse_argument
from pipelines.config import load_settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.run.report import format_micros, render_table
from pipelines.warehouse.books import month_label, parse_month
from pipelines.warehouse.close import close_month
from pipelines.warehouse.migrations import migrate

DESCRIPTION = """\
Freeze the month's totals per creator and currency (from fct_attributed_clicks,
as agg_creator_payouts_daily sums them) into fct_payout_statements and record
the close in fct_payout_closes. After the close nothing changes those rows:
later changes of the month's clicks are booked by every `pulse run` into
fct_payout_adjustments, in the first open month after it.

Closing a closed month is a no-op. A month is final when the warehouse has seen
event time past the month end + watermark delay + allowed lateness + the
click hold-back (the attribution window + the click-flood minute); before that the close is
refused (exit 1) and says why, unless --force.

Before freezing, differences of earlier closed months not booked yet are booked
(into this month, when it is their first open month).
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "close",
        help="close a month: freeze its creator statements (fct_payout_statements)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--month", required=True, metavar="YYYY-MM", help="the month to close")
    add_warehouse_argument(parser)
    parser.add_argument(
        "--force", action="store_true", help="close even though the month is not final yet"
    )
    parser.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    month = parse_month(args.month)
    label = month_label(month)
    settings = load_settings(warehouse=args.warehouse)
    with Warehouse.connect(settings, create_folder=False) as wh:
        migrate(wh)
        outcome = close_month(wh, settings, month, force=args.force)
    record = outcome.record
    if outcome.already_closed:
        print(
            f"month {label} is already closed (at {record.closed_at:%Y-%m-%dT%H:%M:%SZ}, "
            f"{record.statement_rows} statement rows): nothing to do"
        )
        return 0
    if outcome.booked:
        print(f"booked {len(outcome.booked)} adjustment row(s) of earlier closed months first:")
        rows = [
            (
                month_label(a.for_month),
                month_label(a.booked_month),
                a.creator_id,
                a.currency,
                a.delta.valid_clicks,
                format_micros(a.delta.creator_micros),
            )
            for a in outcome.booked
        ]
        print(render_table(("for", "booked in", "creator", "currency", "valid", "creator"), rows))
    verdict = outcome.finality
    how = "FORCED: " if record.forced else ""
    why = f" ({verdict.explain()})" if verdict is not None else ""
    print(
        f"{how}closed {label}: {record.statement_rows} statement rows{why}\n"
        f"read them with: pulse statements --month {label}"
    )
    return 0
