"""The monthly close: frozen statements and the adjustments of closed months.

* :func:`close_month` (``pulse close --month``) freezes a month's totals per
  creator and currency into ``fct_payout_statements`` and records the close in
  ``fct_payout_closes``. A closed month is never closed again (a no-op); a
  month whose data is not final yet is refused unless forced.
* :func:`book_adjustments` (after every ``pulse run``, and by ``pulse close``
  before it freezes a month) compares each closed month's clicks now with its
  statement and the adjustments booked so far, and books the difference into
  the first open month after it (``fct_payout_adjustments``), so that
  statement + adjustments = the month's clicks. Rows of an open booked month
  are replaced, never added to: running again over the same data books nothing.

The month's totals are computed with the definition of the daily payout rollup
(:func:`pipelines.warehouse.rollups.payouts_select`), from the deduplicated clicks.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyarrow as pa

from pipelines.config import Settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.connectors.warehouse_cluster import delete_sql
from pipelines.errors import PulseError
from pipelines.flink.statements import click_holdback_ms
from pipelines.warehouse.books import (
    ZERO,
    Finality,
    Key,
    Totals,
    adjustment_reason,
    adjustments_to_book,
    finality,
    first_open_month,
    month_label,
    statement_hash,
    statement_id,
    statements_hash,
)
from pipelines.warehouse.ledger import seen_event_time_ms
from pipelines.warehouse.rollups import payouts_select
from pipelines.warehouse.tables import arrow_schema

CLOSES = "fct_payout_closes"
STATEMENTS = "fct_payout_statements"
ADJUSTMENTS = "fct_payout_adjustments"
_TOTALS = "valid_clicks, payable_clicks, gross_micros, creator_micros, platform_micros"


class MonthNotFinalError(PulseError):
    """``pulse close`` refused a month whose data is not final (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class CloseRecord:
    month: date
    closed_at: datetime
    forced: bool
    statement_rows: int
    statements_hash: str


@dataclass(frozen=True)
class Adjustment:
    creator_id: str
    currency: str
    booked_month: date
    for_month: date
    delta: Totals
    reason: str
    run_id: str
    booked_at_ms: int


@dataclass
class CloseOutcome:
    month: date
    already_closed: bool
    record: CloseRecord
    finality: Finality | None = None
    booked: list[Adjustment] = field(default_factory=list)


def orphan_statements_sql(database: str, month: date, cluster: bool) -> str:
    """Delete the statement rows of ``month`` (orphans of a close that died before it was
    recorded); on a cluster from the local tables of every shard, ON CLUSTER."""
    return delete_sql(database, STATEMENTS, f"month = '{month.isoformat()}'", cluster)


def _yyyymm(months: Iterable[date]) -> list[int]:
    return sorted({m.year * 100 + m.month for m in months})


def holdback_ms(settings: Settings) -> int:
    """The hold-back of the finality rule (see :class:`books.Finality`): how far behind the
    watermark the streaming job emits a click (``flink.statements.click_holdback_ms``)."""
    return click_holdback_ms(settings)


def month_finality(wh: Warehouse, settings: Settings, month: date) -> Finality:
    return finality(
        month,
        seen_event_time_ms(wh),
        watermark_delay_ms=settings.watermark_delay_ms,
        allowed_lateness_ms=settings.allowed_lateness_ms,
        holdback_ms=holdback_ms(settings),
    )


# --- reads ---------------------------------------------------------------------------------


def closed_months(wh: Warehouse) -> dict[date, CloseRecord]:
    """Every closed month (its first close, should there be two records)."""
    _n, rows = wh.query_rows(
        f"SELECT month, closed_at, forced, statement_rows, statements_hash "
        f"FROM {wh.table(CLOSES)} ORDER BY month, closed_at"
    )
    closes: dict[date, CloseRecord] = {}
    for month, closed_at, forced, count, digest in rows:
        closes.setdefault(month, CloseRecord(month, closed_at, bool(forced), int(count), digest))
    return closes


def month_totals(wh: Warehouse, months: Iterable[date]) -> dict[date, dict[Key, Totals]]:
    """Totals per month and (creator, currency) from the deduplicated clicks now."""
    wanted = _yyyymm(months)
    result: dict[date, dict[Key, Totals]] = defaultdict(dict)
    if not wanted:
        return result
    _n, rows = wh.query_rows(
        f"SELECT toStartOfMonth(day) AS month, creator_id, currency, sum(valid_clicks), "
        f"sum(payable_clicks), sum(gross_micros), sum(creator_micros), sum(platform_micros) "
        f"FROM ({payouts_select(wh, wanted)}) GROUP BY month, creator_id, currency"
    )
    for month, creator, currency, *values in rows:
        result[month][(creator, currency)] = Totals(*map(int, values))
    return result


def statement_totals(wh: Warehouse, months: Iterable[date]) -> dict[date, dict[Key, Totals]]:
    wanted = _yyyymm(months)
    result: dict[date, dict[Key, Totals]] = defaultdict(dict)
    if not wanted:
        return result
    _n, rows = wh.query_rows(
        f"SELECT month, creator_id, currency, {_TOTALS} FROM {wh.table(STATEMENTS)} "
        f"WHERE toYYYYMM(month) IN ({', '.join(map(str, wanted))})"
    )
    for month, creator, currency, *values in rows:
        key = (creator, currency)
        result[month][key] = result[month].get(key, ZERO) + Totals(*map(int, values))
    return result


def adjustments(wh: Warehouse) -> list[Adjustment]:
    """Every adjustment row in force (FINAL: the newest version of each row)."""
    _n, rows = wh.query_rows(
        f"SELECT creator_id, currency, booked_month, for_month, valid_clicks_delta, "
        f"payable_clicks_delta, gross_micros_delta, creator_micros_delta, "
        f"platform_micros_delta, reason, run_id, toUnixTimestamp64Milli(booked_at) "
        f"FROM {wh.table(ADJUSTMENTS)} FINAL ORDER BY for_month, booked_month, creator_id, currency"
    )
    return [
        Adjustment(
            creator,
            currency,
            booked,
            for_month,
            Totals(int(a), int(b), int(c), int(d), int(e)),
            reason,
            run_id,
            int(booked_at),
        )
        for creator, currency, booked, for_month, a, b, c, d, e, reason, run_id, booked_at in rows
    ]


# --- adjustments ------------------------------------------------------------------------------


def book_adjustments(wh: Warehouse, run_id: str, now_ms: int | None = None) -> list[Adjustment]:
    """Book the differences of every closed month into its open booked month.

    Returns the rows written (new or replaced); none when nothing changed.
    """
    closes = closed_months(wh)
    if not closes:
        return []
    current = month_totals(wh, closes)
    statements = statement_totals(wh, closes)
    existing = adjustments(wh)
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    if existing:  # the new version of a replaced row must be newer than the old one
        stamp = max(stamp, max(a.booked_at_ms for a in existing) + 1)
    written: list[Adjustment] = []
    for month in sorted(closes):
        booked_month = first_open_month(month, closes)
        frozen: dict[Key, Totals] = dict(statements.get(month, {}))
        booked_open: dict[Key, Totals] = {}
        for adj in existing:
            if adj.for_month != month:
                continue
            key = (adj.creator_id, adj.currency)
            target = booked_open if adj.booked_month == booked_month else frozen
            target[key] = target.get(key, ZERO) + adj.delta
        plan = adjustments_to_book(current.get(month, {}), frozen, booked_open)
        for (creator, currency), delta in plan.items():
            written.append(
                Adjustment(
                    creator,
                    currency,
                    booked_month,
                    month,
                    delta,
                    adjustment_reason(delta),
                    run_id,
                    stamp,
                )
            )
    if written:
        _insert_adjustments(wh, written)
    return written


def _insert_adjustments(wh: Warehouse, rows: list[Adjustment]) -> None:
    schema = arrow_schema(ADJUSTMENTS)
    data: dict[str, list[object]] = {
        "creator_id": [r.creator_id for r in rows],
        "currency": [r.currency for r in rows],
        "booked_month": [r.booked_month for r in rows],
        "for_month": [r.for_month for r in rows],
        "valid_clicks_delta": [r.delta.valid_clicks for r in rows],
        "payable_clicks_delta": [r.delta.payable_clicks for r in rows],
        "gross_micros_delta": [r.delta.gross_micros for r in rows],
        "creator_micros_delta": [r.delta.creator_micros for r in rows],
        "platform_micros_delta": [r.delta.platform_micros for r in rows],
        "reason": [r.reason for r in rows],
        "run_id": [r.run_id for r in rows],
        "booked_at": [r.booked_at_ms for r in rows],
    }
    wh.insert_arrow(ADJUSTMENTS, _table(schema, data))


def _table(schema: pa.Schema, data: dict[str, list[object]]) -> pa.Table:
    arrays = []
    for f in schema:
        if pa.types.is_timestamp(f.type):
            arrays.append(pa.array(data[f.name], pa.int64()).cast(f.type))
        else:
            arrays.append(pa.array(data[f.name], f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


# --- the close ----------------------------------------------------------------------------------


def close_month(
    wh: Warehouse,
    settings: Settings,
    month: date,
    *,
    force: bool = False,
    now_ms: int | None = None,
) -> CloseOutcome:
    """Freeze ``month`` (its first day) into statements; a no-op when already closed.

    Raises :class:`MonthNotFinalError` when the month is not final and not ``force``.
    Before freezing, pending differences of earlier closed months are booked
    (possibly into this month, which is then frozen with them).
    """
    closes = closed_months(wh)
    if month in closes:
        return CloseOutcome(month, True, closes[month])
    verdict = month_finality(wh, settings, month)
    if not verdict.is_final and not force:
        raise MonthNotFinalError(
            f"{verdict.explain()}. Load more data, or pass --force to close it anyway"
        )
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    booked = book_adjustments(wh, f"close-{month_label(month)}", stamp)
    # the close comes after every adjustment booked so far (their versions may run ahead)
    stamp = max([stamp, *(a.booked_at_ms for a in adjustments(wh))])
    totals = month_totals(wh, [month]).get(month, {})
    hashes: list[tuple[str, str]] = []
    rows: dict[str, list[object]] = defaultdict(list)
    for (creator, currency), values in sorted(totals.items()):
        sid = statement_id(month, creator, currency)
        digest = statement_hash(sid, creator, month, currency, values)
        hashes.append((sid, digest))
        for name, value in zip(_TOTALS.split(", "), values.values(), strict=True):
            rows[name].append(value)
        rows["creator_id"].append(creator)
        rows["month"].append(month)
        rows["currency"].append(currency)
        rows["statement_id"].append(sid)
        rows["closed_at"].append(stamp)
        rows["content_hash"].append(digest)
    # statement rows of a close that died before it was recorded are orphans: drop them
    wh.command(orphan_statements_sql(wh.database, month, wh.cluster))
    if hashes:
        schema = arrow_schema(STATEMENTS)
        wh.insert_arrow(STATEMENTS, _table(schema, {f.name: rows[f.name] for f in schema}))
    seal = statements_hash(hashes)
    record: dict[str, list[object]] = {
        "month": [month],
        "closed_at": [stamp],
        "forced": [not verdict.is_final],
        "final_after": [verdict.final_after_ms],
        "seen_event_time": [verdict.seen_ms],
        "statement_rows": [len(hashes)],
        "statements_hash": [seal],
        "gross_micros": [sum(t.gross_micros for t in totals.values())],
        "creator_micros": [sum(t.creator_micros for t in totals.values())],
    }
    wh.insert_arrow(CLOSES, _table(arrow_schema(CLOSES), record))
    closed_at = datetime.fromtimestamp(stamp / 1000, UTC)
    return CloseOutcome(
        month,
        False,
        CloseRecord(month, closed_at, not verdict.is_final, len(hashes), seal),
        verdict,
        booked,
    )
