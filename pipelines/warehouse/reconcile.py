"""``pulse reconcile``: every invariant of the books, checked against the warehouse.

Each check counts what it looked at and returns the keys that break it (with a
short detail), so a red result names what to look at. The checks read the
deduplicated tables (``FINAL``). ``--from/--to`` restrict the click, payout and
closed-month checks to those UTC days (a closed month is checked when it
overlaps them); the ledger and statement-seal checks always cover everything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from pipelines.config import Settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.books import (
    ZERO,
    Key,
    Totals,
    first_of_month,
    month_label,
    next_month,
    statement_hash,
    statement_id,
    statements_hash,
)
from pipelines.warehouse.close import (
    ADJUSTMENTS,
    CLOSES,
    STATEMENTS,
    adjustments,
    closed_months,
    month_totals,
    statement_totals,
)
from pipelines.warehouse.rollups import payouts_select

CLICKS = "fct_attributed_clicks"
PAYOUTS = "agg_creator_payouts_daily"
LEDGER = "raw_ingest_ledger"
REJECTED = "raw_rejected_events"


@dataclass(frozen=True)
class Scope:
    """UTC days to check (both inclusive; None = unbounded)."""

    day_from: date | None = None
    day_to: date | None = None

    def days(self, expr: str) -> str:
        """SQL condition on a Date expression (``1`` when unbounded)."""
        parts = []
        if self.day_from is not None:
            parts.append(f"{expr} >= '{self.day_from.isoformat()}'")
        if self.day_to is not None:
            parts.append(f"{expr} <= '{self.day_to.isoformat()}'")
        return " AND ".join(parts) or "1"

    def overlaps(self, month: date) -> bool:
        end = next_month(month)
        after_start = self.day_from is None or end > self.day_from
        before_end = self.day_to is None or month <= self.day_to
        return after_start and before_end

    def describe(self) -> str:
        if self.day_from is None and self.day_to is None:
            return "all days"
        start = self.day_from.isoformat() if self.day_from else "the beginning"
        end = self.day_to.isoformat() if self.day_to else "the end"
        return f"days {start} to {end}"


@dataclass(frozen=True)
class CheckResult:
    name: str
    description: str
    checked: int  # rows (or keys) examined
    offending: int  # how many break the invariant
    examples: tuple[str, ...]  # offending keys with a detail, at most the limit

    @property
    def ok(self) -> bool:
        return self.offending == 0


# --- pure: verdict and rendering ---------------------------------------------------------------


def verdict_line(results: Sequence[CheckResult]) -> str:
    """One line: all checks hold, or which failed and the first offending key."""
    failed = [r for r in results if not r.ok]
    if not failed:
        return f"reconcile: OK, all {len(results)} checks hold"
    names = ", ".join(f"{r.name} ({r.offending})" for r in failed)
    first = next((r.examples[0] for r in failed if r.examples), "")
    tail = f"; first: {first}" if first else ""
    return f"reconcile: FAILED, {len(failed)} of {len(results)} checks: {names}{tail}"


def render_results(results: Sequence[CheckResult], scope: Scope) -> str:
    """The readable table of every check, then the offending keys of the failed ones."""
    header = ("check", "status", "checked", "offending", "invariant")
    rows = [
        (r.name, "ok" if r.ok else "FAILED", str(r.checked), str(r.offending), r.description)
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header) - 1)]

    def fmt(row: Sequence[str]) -> str:
        cells = [
            row[i].rjust(widths[i]) if i in (2, 3) else row[i].ljust(widths[i])
            for i in range(len(widths))
        ]
        return "  ".join([*cells, row[-1]]).rstrip()

    out = [f"pulse reconcile ({scope.describe()})", fmt(header)]
    out.append("  ".join("-" * w for w in [*widths, len(header[-1])]))
    out.extend(fmt(row) for row in rows)
    for result in results:
        if result.ok:
            continue
        shown = len(result.examples)
        more = f", first {shown} shown" if shown < result.offending else ""
        out.append(f"\n{result.name}: {result.offending} offending{more}")
        out.extend(f"  {example}" for example in result.examples)
    out.append("")
    out.append(verdict_line(results))
    return "\n".join(out)


def compare_totals(
    expected: Mapping[Key, Totals], actual: Mapping[Key, Totals]
) -> dict[Key, tuple[Totals, Totals]]:
    """Keys whose totals differ: ``{key: (expected, actual)}`` (a missing key counts as zero)."""
    return {
        key: (expected.get(key, ZERO), actual.get(key, ZERO))
        for key in sorted(set(expected) | set(actual))
        if expected.get(key, ZERO) != actual.get(key, ZERO)
    }


# --- SQL checks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlCheck:
    name: str
    description: str
    checked: Callable[[Warehouse, Scope], str]  # SQL: one row, one count
    offending: Callable[[Warehouse, Scope], str]  # SQL: rows (key, detail)


def _clicks(wh: Warehouse, scope: Scope) -> str:
    """Clicks in scope, deduplicated; callers append ``AND ...`` conditions."""
    days = scope.days("toDate(event_time, 'UTC')")
    return f"(SELECT * FROM {wh.table(CLICKS)} FINAL) WHERE {days}"


def _count_clicks(wh: Warehouse, scope: Scope) -> str:
    return f"SELECT count() FROM {_clicks(wh, scope)}"


def _count_valid(wh: Warehouse, scope: Scope) -> str:
    return f"SELECT count() FROM {_clicks(wh, scope)} AND status = 'valid'"


def _click_split(wh: Warehouse, scope: Scope) -> str:
    return (
        f"SELECT click_id, concat('creator ', toString(creator_micros), ' + platform ', "
        f"toString(platform_micros), ' != gross ', toString(gross_micros)) "
        f"FROM {_clicks(wh, scope)} "
        f"AND toInt128(creator_micros) + platform_micros != gross_micros ORDER BY click_id"
    )


def _invalid_zero(wh: Warehouse, scope: Scope) -> str:
    return (
        f"SELECT click_id, concat('status ', status, ': gross ', toString(gross_micros), "
        f"', creator ', toString(creator_micros), ', platform ', toString(platform_micros), "
        f"', payable ', toString(payable)) FROM {_clicks(wh, scope)} AND status != 'valid' "
        f"AND (gross_micros != 0 OR creator_micros != 0 OR platform_micros != 0 OR payable) "
        f"ORDER BY click_id"
    )


def _revenue_share(bp: int) -> Callable[[Warehouse, Scope], str]:
    def sql(wh: Warehouse, scope: Scope) -> str:
        expected = f"if(payable, intDiv(toInt128(gross_micros) * {bp}, 10000), 0)"
        return (
            f"SELECT click_id, concat('creator ', toString(creator_micros), ', expected ', "
            f"toString({expected}), ' (payable ', toString(payable), ', creator_eligible ', "
            f"toString(creator_eligible), ')') FROM {_clicks(wh, scope)} AND status = 'valid' "
            f"AND (creator_micros != {expected} OR payable != creator_eligible) ORDER BY click_id"
        )

    return sql


def _count_valid_with_creator(wh: Warehouse, scope: Scope) -> str:
    valid = "status = 'valid' AND creator_id IS NOT NULL"
    return f"SELECT count() FROM {_clicks(wh, scope)} AND {valid}"


def _eligibility(wh: Warehouse, scope: Scope) -> str:
    return f"""SELECT c_click_id, concat('creator ', c_creator, ' on ', toString(c_day),
    ': payable ', toString(c_payable), ', evaluation in force ',
    if(e_eligible IS NULL, 'none (not eligible)', concat(toString(e_as_of), ' eligible ',
        toString(e_eligible))))
FROM
(
    SELECT click_id AS c_click_id, assumeNotNull(creator_id) AS c_creator,
        toDate(event_time, 'UTC') AS c_day, payable AS c_payable,
        creator_eligible AS c_eligible
    FROM {_clicks(wh, scope)} AND status = 'valid' AND creator_id IS NOT NULL
) AS c
LEFT JOIN
(
    SELECT creator_id AS e_creator, toDate(as_of, 'UTC') AS e_day, as_of AS e_as_of,
        eligible AS e_eligible
    FROM {wh.table("fct_eligibility")} FINAL
) AS e ON c.c_creator = e.e_creator AND c.c_day = e.e_day
WHERE c_payable != ifNull(e_eligible, false) OR c_eligible != ifNull(e_eligible, false)
ORDER BY c_click_id
SETTINGS join_use_nulls = 1"""


_PAYOUT_VALUES = (
    "valid_clicks",
    "payable_clicks",
    "gross_micros",
    "creator_micros",
    "platform_micros",
)


def _payouts(wh: Warehouse, scope: Scope) -> str:
    return f"(SELECT * FROM {wh.table(PAYOUTS)} FINAL) WHERE {scope.days('day')}"


def _count_payout_keys(wh: Warehouse, scope: Scope) -> str:
    return f"SELECT count() FROM {_payouts(wh, scope)}"


def _payouts_match(wh: Warehouse, scope: Scope) -> str:
    a_cols = ", ".join(f"{v} AS a_{v}" for v in _PAYOUT_VALUES)
    c_cols = ", ".join(f"{v} AS c_{v}" for v in _PAYOUT_VALUES)
    differs = " OR ".join(f"a_{v} != c_{v}" for v in _PAYOUT_VALUES)
    parts = ", ".join(
        f"if(a_{v} != c_{v}, concat('{v} ', toString(a_{v}), ' but clicks sum to ', "
        f"toString(c_{v})), '')"
        for v in _PAYOUT_VALUES
    )
    return f"""SELECT concat(creator_id, ' ', toString(day), ' ', currency),
    arrayStringConcat(arrayFilter(x -> x != '', [
        if(in_payouts = 0, 'no payout row', ''), if(in_clicks = 0, 'no valid clicks', ''),
        {parts}]), '; ')
FROM
(
    SELECT toString(creator_id) AS creator_id, day, toString(currency) AS currency,
        1 AS in_payouts, {a_cols}
    FROM {_payouts(wh, scope)}
) AS a
FULL OUTER JOIN
(
    SELECT toString(creator_id) AS creator_id, day, toString(currency) AS currency,
        1 AS in_clicks, {c_cols}
    FROM ({payouts_select(wh)}) WHERE {scope.days("day")}
) AS c USING (creator_id, day, currency)
WHERE in_payouts = 0 OR in_clicks = 0 OR {differs}
ORDER BY creator_id, day, currency"""


def _unique_clicks(wh: Warehouse, scope: Scope) -> str:
    return (
        f"SELECT click_id, concat(toString(count()), ' rows, months ', "
        f"arrayStringConcat(arraySort(groupArray(toString(toYYYYMM(event_time)))), ',')) "
        f"FROM {_clicks(wh, scope)} GROUP BY click_id HAVING count() > 1 ORDER BY click_id"
    )


def _count_money_rows(wh: Warehouse, scope: Scope) -> str:
    return (
        f"SELECT (SELECT count() FROM {_clicks(wh, scope)}) + "
        f"(SELECT count() FROM {_payouts(wh, scope)}) + "
        f"(SELECT count() FROM {wh.table(STATEMENTS)})"
    )


def _no_negative(wh: Warehouse, scope: Scope) -> str:
    money = "least(gross_micros, creator_micros, platform_micros) < 0"
    amounts = (
        "concat('gross ', toString(gross_micros), ', creator ', toString(creator_micros), "
        "', platform ', toString(platform_micros))"
    )
    return f"""SELECT concat('{CLICKS} ', click_id), {amounts}
FROM {_clicks(wh, scope)} AND {money}
UNION ALL
SELECT concat('{PAYOUTS} ', creator_id, ' ', toString(day), ' ', currency), {amounts}
FROM {_payouts(wh, scope)} AND {money}
UNION ALL
SELECT concat('{STATEMENTS} ', statement_id), {amounts}
FROM {wh.table(STATEMENTS)} WHERE {money}"""


def _count_priced(wh: Warehouse, scope: Scope) -> str:
    return f"SELECT count() FROM {_clicks(wh, scope)}"


def _currency(wh: Warehouse, scope: Scope) -> str:
    return f"""SELECT c_click_id, multiIf(
        c_currency IS NOT NULL AND d_currency IS NULL,
            concat('currency ', c_currency, ' but no campaign version of ', c_campaign,
                ' at the click'),
        c_currency IS NULL AND d_currency IS NOT NULL,
            concat('no currency but campaign ', c_campaign, ' version ',
                toString(d_updated_at), ' is in ', d_currency),
        c_currency != d_currency,
            concat('currency ', c_currency, ' but campaign ', c_campaign, ' version ',
                toString(d_updated_at), ' is in ', d_currency),
        concat('gross ', toString(c_gross), ' but cpc of campaign ', c_campaign, ' version ',
            toString(d_updated_at), ' is ', toString(d_cpc)))
FROM
(
    SELECT click_id AS c_click_id, event_time AS c_time, campaign_id AS c_campaign,
        currency AS c_currency, status AS c_status, gross_micros AS c_gross
    FROM {_clicks(wh, scope)}
) AS c
ASOF LEFT JOIN
(
    SELECT campaign_id AS d_campaign, updated_at AS d_updated_at, currency AS d_currency,
        cpc_micros AS d_cpc
    FROM {wh.table("dim_campaigns")} FINAL
) AS d ON c.c_campaign = d.d_campaign AND c.c_time >= d.d_updated_at
WHERE (c_currency IS NULL) != (d_currency IS NULL)
    OR ifNull(c_currency != d_currency, false)
    OR (c_status = 'valid' AND ifNull(c_gross != d_cpc, true))
ORDER BY c_click_id
SETTINGS join_use_nulls = 1"""


def _count_ledger(wh: Warehouse, scope: Scope) -> str:
    return f"SELECT count() FROM {wh.table(LEDGER)} FINAL"


def _ledger_balances(wh: Warehouse, scope: Scope) -> str:
    return (
        f"SELECT concat(stream, ' ', source, ' (run ', run_id, ')'), concat('lines ', "
        f"toString(lines), ' != accepted ', toString(accepted), ' + rejected ', "
        f"toString(rejected), ' + replays ', toString(replays), ' + late ', toString(late)) "
        f"FROM {wh.table(LEDGER)} FINAL "
        f"WHERE toInt128(lines) != toInt128(accepted) + rejected + replays + late "
        f"ORDER BY stream, source, run_id"
    )


def _count_ledger_sources(wh: Warehouse, scope: Scope) -> str:
    return f"SELECT count() FROM (SELECT DISTINCT stream, source FROM {wh.table(LEDGER)} FINAL)"


def _ledger_rejected(wh: Warehouse, scope: Scope) -> str:
    latest = "(recorded_at, run_id)"
    return f"""SELECT concat(stream, ' ', source), concat('ledger (run ', l_run, ') counts ',
    toString(l_rejected), ' rejected lines, raw_rejected_events holds ', toString(r_rows))
FROM
(
    SELECT stream, source, argMax(run_id, {latest}) AS l_run,
        argMax(rejected, {latest}) AS l_rejected
    FROM {wh.table(LEDGER)} FINAL GROUP BY stream, source
) AS l
LEFT JOIN
(
    SELECT stream, source, count() AS r_rows FROM {wh.table(REJECTED)} FINAL
    GROUP BY stream, source
) AS r USING (stream, source)
WHERE l_rejected != r_rows
ORDER BY stream, source"""


def sql_checks(settings: Settings) -> list[SqlCheck]:
    return [
        SqlCheck(
            "click_split",
            "per click: creator_micros + platform_micros = gross_micros",
            _count_clicks,
            _click_split,
        ),
        SqlCheck(
            "invalid_clicks_zero",
            "a click whose status is not valid carries 0 and is not payable",
            _count_clicks,
            _invalid_zero,
        ),
        SqlCheck(
            "revenue_share",
            f"valid click: creator = gross * {settings.revenue_share_bp} // 10000 when payable, "
            "else 0; payable = creator eligible",
            _count_valid,
            _revenue_share(settings.revenue_share_bp),
        ),
        SqlCheck(
            "payable_eligible",
            "valid click: payable exactly when fct_eligibility has an eligible evaluation of "
            "its creator on the click's day",
            _count_valid_with_creator,
            _eligibility,
        ),
        SqlCheck(
            "payouts_match_clicks",
            "per creator/day/currency: the payout row = the sums over the valid clicks "
            "(no row without clicks, no clicks without a row)",
            _count_payout_keys,
            _payouts_match,
        ),
        SqlCheck(
            "click_ids_unique",
            "no click id twice (after dedup)",
            _count_clicks,
            _unique_clicks,
        ),
        SqlCheck(
            "no_negative_money",
            "no negative micros in clicks, payouts or statements",
            _count_money_rows,
            _no_negative,
        ),
        SqlCheck(
            "currency_matches_campaign",
            "per click: currency (and, when valid, gross) of the campaign version in force",
            _count_priced,
            _currency,
        ),
        SqlCheck(
            "ledger_balances",
            "per ingest run and source: lines = accepted + rejected + replays + late",
            _count_ledger,
            _ledger_balances,
        ),
        SqlCheck(
            "ledger_rejected_rows",
            "per source: rejected in its latest ledger row = its rows in raw_rejected_events",
            _count_ledger_sources,
            _ledger_rejected,
        ),
    ]


def _run_sql_check(wh: Warehouse, check: SqlCheck, scope: Scope, limit: int) -> CheckResult:
    _n, counted = wh.query_rows(check.checked(wh, scope))
    _n, rows = wh.query_rows(
        f"SELECT count() OVER () AS total, * FROM ({check.offending(wh, scope)}) LIMIT {limit}"
    )
    total = int(rows[0][0]) if rows else 0
    examples = tuple(f"{key}: {detail}" for _total, key, detail in rows)
    return CheckResult(check.name, check.description, int(counted[0][0]), total, examples)


# --- checks of the monthly close (Python over small tables) -----------------------------------


def _closed_months_balance(wh: Warehouse, scope: Scope, limit: int) -> CheckResult:
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


def _statements_intact(wh: Warehouse, limit: int) -> CheckResult:
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


def _adjustments_frozen(wh: Warehouse, limit: int) -> CheckResult:
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


def run_checks(
    wh: Warehouse, settings: Settings, scope: Scope | None = None, limit: int = 20
) -> list[CheckResult]:
    """Every check, in a fixed order."""
    scope = scope or Scope()
    results = [_run_sql_check(wh, check, scope, limit) for check in sql_checks(settings)]
    results.append(_closed_months_balance(wh, scope, limit))
    results.append(_statements_intact(wh, limit))
    results.append(_adjustments_frozen(wh, limit))
    return results


__all__ = [
    "ADJUSTMENTS",
    "CheckResult",
    "Scope",
    "compare_totals",
    "render_results",
    "run_checks",
    "verdict_line",
]
