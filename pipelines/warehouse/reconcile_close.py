"""The reconcile checks of the monthly close (Python over the small statement tables)."""

from __future__ import annotations

from datetime import date

from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.books import (
    ZERO,
    Key,
    Totals,
    first_of_month,
    month_label,
    statement_hash,
    statement_id,
    statements_hash,
)
from pipelines.warehouse.close import (
    CLOSES,
    STATEMENTS,
    adjustments,
    closed_months,
    month_totals,
    statement_totals,
)
from pipelines.warehouse.reconcile_scope import CheckResult, Scope, compare_totals

# --- checks of the monthly close (Python over small tables) -----------------------------------


def closed_months_balance(wh: Warehouse, scope: Scope, limit: int) -> CheckResult:
    closes = [m for m in closed_months(wh) if scope.overlaps(m)]
    current = month_totals(wh, closes)
    stated = statement_totals(wh, closes)
    adjusted: dict[date, dict[Key, Totals]] = {m: {} for m in closes}
    for adj in adjustments(wh):
        if adj.for_month in adjusted:
            key = (adj.creator_id, adj.currency)
            adjusted[adj.for_month][key] = adjusted[adj.for_month].get(key, ZERO) + adj.delta
    offending: list[str] = []
    checked = 0
    for month in sorted(closes):
        books = dict(stated.get(month, {}))
        for key, delta in adjusted[month].items():
            books[key] = books.get(key, ZERO) + delta
        clicks = current.get(month, {})
        checked += len(set(books) | set(clicks))
        for (creator, currency), (booked, actual) in compare_totals(books, clicks).items():
            diff = actual - booked
            offending.append(
                f"{month_label(month)} {creator} {currency}: statement + adjustments "
                f"{_fmt(booked)} != clicks {_fmt(actual)} (difference {_fmt(diff)})"
            )
    return CheckResult(
        "closed_months_balance",
        "per closed month/creator/currency: statement + adjustments = the month's clicks",
        checked,
        len(offending),
        tuple(offending[:limit]),
    )


def _fmt(totals: Totals) -> str:
    return "valid {}, payable {}, gross {}, creator {}, platform {}".format(*totals.values())


def statements_intact(wh: Warehouse, limit: int) -> CheckResult:
    closes = closed_months(wh)
    _n, rows = wh.query_rows(
        f"SELECT statement_id, creator_id, month, currency, valid_clicks, payable_clicks, "
        f"gross_micros, creator_micros, platform_micros, content_hash "
        f"FROM {wh.table(STATEMENTS)} ORDER BY month, statement_id"
    )
    offending: list[str] = []
    by_month: dict[date, list[tuple[str, str]]] = {}
    seen: set[tuple[date, str, str]] = set()
    for sid, creator, month, currency, *values, digest in rows:
        totals = Totals(*map(int, values))
        by_month.setdefault(month, []).append((sid, digest))
        where = f"{month_label(month)} {creator} {currency}"
        if (month, creator, currency) in seen:
            offending.append(f"{where}: statement row twice")
        seen.add((month, creator, currency))
        if sid != statement_id(month, creator, currency):
            offending.append(f"{where}: statement_id {sid} is not the id of this line")
        if digest != statement_hash(sid, creator, month, currency, totals):
            offending.append(f"{where}: content_hash does not match the row ({sid} was changed)")
    _n, records = wh.query_rows(f"SELECT month, count() FROM {wh.table(CLOSES)} GROUP BY month")
    for month, count in records:
        if int(count) > 1:
            offending.append(f"{month_label(month)}: closed {count} times")
    for month in sorted(set(by_month) | set(closes)):
        close = closes.get(month)
        lines = by_month.get(month, [])
        if close is None:
            offending.append(f"{month_label(month)}: statement rows but the month is not closed")
            continue
        if len(lines) != close.statement_rows or statements_hash(lines) != close.statements_hash:
            offending.append(
                f"{month_label(month)}: {len(lines)} statement rows do not match the seal of the "
                f"close ({close.statement_rows} rows): a row was added, changed or removed"
            )
    return CheckResult(
        "statements_intact",
        "statement rows unchanged since the close (content hashes, seal of each month)",
        len(rows),
        len(offending),
        tuple(offending[:limit]),
    )


def adjustments_frozen(wh: Warehouse, limit: int) -> CheckResult:
    closes = closed_months(wh)
    rows = adjustments(wh)
    offending: list[str] = []
    for adj in rows:
        where = (
            f"{month_label(adj.for_month)} {adj.creator_id} {adj.currency} booked in "
            f"{month_label(adj.booked_month)}"
        )
        if adj.for_month not in closes:
            offending.append(f"{where}: adjusts a month that is not closed")
        if adj.booked_month <= first_of_month(adj.for_month):
            offending.append(f"{where}: booked into a month not after the one it adjusts")
        booked_close = closes.get(adj.booked_month)
        if booked_close is not None:
            closed_ms = int(booked_close.closed_at.timestamp() * 1000)
            if adj.booked_at_ms > closed_ms:
                offending.append(f"{where}: booked after {month_label(adj.booked_month)} closed")
    return CheckResult(
        "adjustments_frozen",
        "adjustments only of closed months, into a later month, none after that month closed",
        len(rows),
        len(offending),
        tuple(offending[:limit]),
    )
