"""What finance pays for a closed month: its statements plus the adjustments booked in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pipelines.connectors.warehouse import Warehouse
from pipelines.errors import PulseError
from pipelines.warehouse.books import ZERO, Key, Totals, month_label
from pipelines.warehouse.close import ADJUSTMENTS, STATEMENTS, closed_months
from pipelines.warehouse.ledger import sql_string


class MonthNotClosedError(PulseError):
    """Statements exist only for closed months (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class StatementLine:
    """One creator and currency of a month's payment."""

    creator_id: str
    currency: str
    statement_id: str | None  # None: only adjustments of earlier months this month
    statement: Totals
    adjustments: Totals
    adjusted_months: tuple[date, ...]

    @property
    def total(self) -> Totals:
        return self.statement + self.adjustments

    @property
    def pay_micros(self) -> int:
        """What the creator is paid this month: statement + adjustments, creator share."""
        return self.total.creator_micros


COLUMNS = (
    "month",
    "creator_id",
    "currency",
    "statement_id",
    "valid_clicks",
    "payable_clicks",
    "gross_micros",
    "creator_micros",
    "platform_micros",
    "adj_valid_clicks",
    "adj_payable_clicks",
    "adj_gross_micros",
    "adj_creator_micros",
    "adj_platform_micros",
    "adjusted_months",
    "pay_creator_micros",
)


def statement_lines(
    wh: Warehouse, month: date, creator_id: str | None = None
) -> list[StatementLine]:
    """Every line of a closed month; :class:`MonthNotClosedError` when it is not closed."""
    closes = closed_months(wh)
    if month not in closes:
        closed = ", ".join(month_label(m) for m in sorted(closes)) or "none"
        raise MonthNotClosedError(
            f"month {month_label(month)} is not closed, so it has no statement yet "
            f"(closed months: {closed}); close it with `pulse close --month {month_label(month)}`"
        )
    creator_filter = f" AND creator_id = {sql_string(creator_id)}" if creator_id else ""
    _n, rows = wh.query_rows(
        f"SELECT creator_id, currency, statement_id, valid_clicks, payable_clicks, "
        f"gross_micros, creator_micros, platform_micros FROM {wh.table(STATEMENTS)} "
        f"WHERE month = '{month.isoformat()}'{creator_filter}"
    )
    statements: dict[Key, tuple[str, Totals]] = {
        (creator, currency): (sid, Totals(*map(int, values)))
        for creator, currency, sid, *values in rows
    }
    _n, rows = wh.query_rows(
        f"SELECT creator_id, currency, groupArray(for_month), sum(valid_clicks_delta), "
        f"sum(payable_clicks_delta), sum(gross_micros_delta), sum(creator_micros_delta), "
        f"sum(platform_micros_delta) FROM {wh.table(ADJUSTMENTS)} FINAL "
        f"WHERE booked_month = '{month.isoformat()}'{creator_filter} "
        f"GROUP BY creator_id, currency"
    )
    adjusted: dict[Key, tuple[tuple[date, ...], Totals]] = {
        (creator, currency): (tuple(sorted(set(months))), Totals(*map(int, values)))
        for creator, currency, months, *values in rows
    }
    lines = []
    for key in sorted(set(statements) | set(adjusted)):
        sid, stated = statements.get(key, (None, ZERO))
        months, delta = adjusted.get(key, ((), ZERO))
        if sid is None and delta.is_zero:
            continue  # a correction that was booked and then undone
        lines.append(StatementLine(key[0], key[1], sid, stated, delta, months))
    return lines


def line_record(month: date, line: StatementLine) -> tuple[object, ...]:
    """A line as the values of :data:`COLUMNS` (money as integer micros)."""
    return (
        month_label(month),
        line.creator_id,
        line.currency,
        line.statement_id,
        *line.statement.values(),
        *line.adjustments.values(),
        [month_label(m) for m in line.adjusted_months],
        line.pay_micros,
    )
