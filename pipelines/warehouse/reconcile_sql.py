"""The reconcile checks that are one SQL query each: clicks, payouts, currencies, the ledger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipelines.config import Settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.close import (
    STATEMENTS,
)
from pipelines.warehouse.reconcile_scope import (
    CLICKS,
    LEDGER,
    PAYOUTS,
    REJECTED,
    CheckResult,
    Scope,
)
from pipelines.warehouse.rollups import payouts_select

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
    """A file source: its latest run (a bounded run replaces the file's dead letters). A Kafka
    source (topic/partition, position_kind offset): the sum over its rows, one per ingest batch
    (a batch redone after a crash replaced its row; dead letters are one row per offset)."""
    latest = "(recorded_at, run_id)"
    return f"""SELECT concat(stream, ' ', source), concat('ledger (',
    if(l_offsets, concat('sum over ', toString(l_rows), ' ingest batches'),
        concat('run ', l_run)),
    ') counts ', toString(l_rejected), if(l_offsets, ' rejected messages', ' rejected lines'),
    ', raw_rejected_events holds ', toString(r_rows))
FROM
(
    SELECT stream, source, max(position_kind = 'offset') AS l_offsets, count() AS l_rows,
        argMax(run_id, {latest}) AS l_run,
        if(l_offsets, sum(rejected), argMax(rejected, {latest})) AS l_rejected
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
            "per source: rejected of its latest ledger row (a file) or summed over its ingest "
            "batches (a Kafka topic/partition) = its rows in raw_rejected_events",
            _count_ledger_sources,
            _ledger_rejected,
        ),
    ]


def run_sql_check(wh: Warehouse, check: SqlCheck, scope: Scope, limit: int) -> CheckResult:
    _n, counted = wh.query_rows(check.checked(wh, scope))
    _n, rows = wh.query_rows(
        f"SELECT count() OVER () AS total, * FROM ({check.offending(wh, scope)}) LIMIT {limit}"
    )
    total = int(rows[0][0]) if rows else 0
    examples = tuple(f"{key}: {detail}" for _total, key, detail in rows)
    return CheckResult(check.name, check.description, int(counted[0][0]), total, examples)
