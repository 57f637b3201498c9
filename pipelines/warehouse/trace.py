"""Trace an amount: statement -> days -> click ids -> attributed view and eligibility in force.

Each section is one query (see docs/finance.md, "Tracing an amount", for the
same SQL to run by hand with ``pulse query``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pipelines.connectors.warehouse import Warehouse
from pipelines.errors import PulseError
from pipelines.warehouse.close import ADJUSTMENTS, STATEMENTS
from pipelines.warehouse.ledger import sql_string


class StatementNotFoundError(PulseError):
    exit_code = 1


@dataclass(frozen=True)
class Section:
    title: str
    names: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


def resolve_statement(wh: Warehouse, statement: str) -> tuple[str, date, str]:
    """``(creator_id, month, currency)`` of a statement id."""
    _n, rows = wh.query_rows(
        f"SELECT creator_id, month, currency FROM {wh.table(STATEMENTS)} "
        f"WHERE statement_id = {sql_string(statement)} LIMIT 1"
    )
    if not rows:
        raise StatementNotFoundError(f"no statement {statement!r} in the warehouse")
    creator, month, currency = rows[0]
    return str(creator), month, str(currency)


def trace(
    wh: Warehouse, creator_id: str, month: date, currency: str | None = None
) -> list[Section]:
    """The sections that explain a creator's amounts of one month (one currency or all)."""
    t = wh.table
    creator = sql_string(creator_id)
    first = f"'{month.isoformat()}'"
    yyyymm = month.year * 100 + month.month
    cur = f" AND currency = {sql_string(currency)}" if currency else ""
    click_cur = f" AND c_currency = {sql_string(currency)}" if currency else ""
    queries = [
        (
            "statement (frozen at the close)",
            f"SELECT statement_id, creator_id, month, currency, valid_clicks, payable_clicks, "
            f"gross_micros, creator_micros, platform_micros, closed_at, content_hash "
            f"FROM {t(STATEMENTS)} WHERE creator_id = {creator} AND month = {first}{cur} "
            f"ORDER BY currency",
        ),
        (
            "adjustments of this month (booked later, into booked_month)",
            f"SELECT for_month, booked_month, currency, valid_clicks_delta, payable_clicks_delta, "
            f"gross_micros_delta, creator_micros_delta, platform_micros_delta, reason, run_id, "
            f"booked_at FROM {t(ADJUSTMENTS)} FINAL "
            f"WHERE creator_id = {creator} AND for_month = {first}{cur} "
            f"ORDER BY booked_month, currency",
        ),
        (
            "days (agg_creator_payouts_daily)",
            f"SELECT day, currency, valid_clicks, payable_clicks, gross_micros, creator_micros, "
            f"platform_micros FROM {t('agg_creator_payouts_daily')} FINAL "
            f"WHERE creator_id = {creator} AND toYYYYMM(day) = {yyyymm}{cur} "
            f"ORDER BY day, currency",
        ),
        (
            "valid clicks with their attributed view and the eligibility evaluation in force",
            f"""SELECT c_click_id AS click_id, c_event_time AS event_time,
    toDate(c_event_time, 'UTC') AS day, c_currency AS currency, c_payable AS payable,
    c_gross AS gross_micros, c_creator AS creator_micros, c_platform AS platform_micros,
    c_campaign AS campaign_id, c_view_id AS attributed_view_id,
    c_view_time AS attributed_view_time, e.as_of AS eligibility_as_of,
    e.eligible AS eligible, e.reasons AS eligibility_reasons, e.high_windows AS high_windows,
    e.followers AS followers, e.lifetime_views AS lifetime_views, e.country AS country
FROM
(
    SELECT click_id AS c_click_id, event_time AS c_event_time, currency AS c_currency,
        payable AS c_payable, gross_micros AS c_gross, creator_micros AS c_creator,
        platform_micros AS c_platform, campaign_id AS c_campaign,
        attributed_view_id AS c_view_id, attributed_view_time AS c_view_time,
        status AS c_status, creator_id AS c_creator_id
    FROM {t("fct_attributed_clicks")} FINAL
    WHERE toYYYYMM(event_time) = {yyyymm}
) AS c
LEFT JOIN
(
    SELECT as_of, toDate(as_of, 'UTC') AS e_day, eligible, reasons, high_windows, followers,
        lifetime_views, country
    FROM {t("fct_eligibility")} FINAL WHERE creator_id = {creator}
) AS e ON toDate(c.c_event_time, 'UTC') = e.e_day
WHERE c_status = 'valid' AND c_creator_id = {creator}{click_cur}
ORDER BY event_time, click_id
SETTINGS join_use_nulls = 1""",
        ),
    ]
    sections = []
    for title, sql in queries:
        names, types, rows = wh.query_typed(sql)
        sections.append(Section(title, names, types, rows))
    return sections
