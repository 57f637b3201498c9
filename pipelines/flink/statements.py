"""The job logic of the rules (docs/rules.md) as Flink SQL, rendered from settings.

Every function returns SQL text; nothing here touches a connector. The views
read the source tables of :mod:`pipelines.flink.tables` and build, step by step
(each step a named view, so plans and logs can be read):

clicks:      click_floods -> clicks_flagged -> clicks_priced -> click_view_pairs
             -> clicks_attributed -> clicks_checked -> (every click through the duplicate
             scan, Python) -> clicks_status -> clicks_paid
engagement:  engagement_events -> engagement_windows -> window_consistency (the windows
             sink reads it too) -> eligibility -> eligibility_transitions
"""

from __future__ import annotations

from pipelines.config import Settings
from pipelines.flink.schemas import AD_CLICKS, CAMPAIGNS, COMMENTS, CREATOR_PROFILES, VIEWS
from pipelines.flink.sql import contains_any_token, in_list, interval

MINUTE = "INTERVAL '1' MINUTE"
MINUTE_MS = 60_000


def click_holdback_ms(s: Settings) -> int:
    """How far behind the source watermark a click's result is emitted (and every result that
    counts clicks: engagement windows, eligibility, payouts).

    A click leaves the plan once the watermark has passed it by the flood minute (the
    ``click_floods`` window and its join) plus the attribution window (the ``click_view_pairs``
    interval join holds its output watermark back by its bound); the 1 ms attribution window
    then fires. A result dated before ``watermark - click_holdback_ms`` is final and emitted.
    """
    return s.attribution_window_ms + MINUTE_MS


def utc(epoch_ms: str) -> str:
    """Epoch milliseconds -> TIMESTAMP(3) wall time in UTC (the session zone is UTC)."""
    return f"CAST(TO_TIMESTAMP_LTZ({epoch_ms}, 3) AS TIMESTAMP(3))"


NUL = "CHR(0)"

# Columns every click carries from clicks_checked on (order matters: the
# duplicate scan receives rows in this order, plus pre_status, and emits them with the status).
CLICK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("click_id", "STRING"),
    ("event_time", "BIGINT"),
    ("user_id", "STRING"),
    ("ad_id", "STRING"),
    ("campaign_id", "STRING"),
    ("video_id", "STRING"),
    ("creator_id", "STRING"),
    ("currency", "STRING"),
    ("cpc_micros", "BIGINT"),
    ("attributed_view_id", "STRING"),
    ("attributed_view_time", "BIGINT"),
)
CLICK_TIME_FIELD = 1
CLICK_ID_FIELD = 0


def click_floods(s: Settings) -> str:
    """Users with more than N raw clicks (bots included) in one UTC minute."""
    return f"""
CREATE TEMPORARY VIEW click_floods AS
SELECT user_id,
       MIN(event_time - MOD(event_time, 60000)) AS minute_ms,
       window_time AS flood_time
FROM TABLE(TUMBLE(TABLE {AD_CLICKS.name}, DESCRIPTOR(rowtime), {MINUTE}))
GROUP BY user_id, window_start, window_end, window_time
HAVING COUNT(*) > {s.click_flood_threshold}"""


def clicks_flagged(s: Settings) -> str:
    bot = contains_any_token("c.user_agent", s.bot_tokens)
    return f"""
CREATE TEMPORARY VIEW clicks_flagged AS
SELECT c.event_id AS click_id, c.event_time, c.user_id, c.video_id, c.ad_id, c.campaign_id,
       c.rowtime,
       {bot} AS is_bot,
       f.user_id IS NOT NULL AS is_flood
FROM {AD_CLICKS.name} c
LEFT JOIN click_floods f
  ON c.user_id = f.user_id
 AND c.event_time - MOD(c.event_time, 60000) = f.minute_ms
 AND c.rowtime BETWEEN f.flood_time - {MINUTE} AND f.flood_time"""


def _versioned_view(name: str, source: str, key: str, columns: str) -> str:
    """A changelog as a versioned table: Flink's deduplication-on-rowtime pattern,
    usable in event-time temporal joins (``FOR SYSTEM_TIME AS OF``)."""
    return f"""
CREATE TEMPORARY VIEW {name} AS
SELECT {columns}, rowtime
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY rowtime DESC) AS rn
  FROM {source}
) WHERE rn = 1"""


def campaign_versions() -> str:
    """Campaign changelog, versioned by ``updated_at``."""
    columns = "campaign_id, cpc_micros, currency, starts_at, ends_at, status"
    return _versioned_view("campaign_versions", CAMPAIGNS.name, "campaign_id", columns)


def clicks_priced() -> str:
    """The campaign version as of the click (``updated_at <= t``)."""
    return """
CREATE TEMPORARY VIEW clicks_priced AS
SELECT c.click_id, c.event_time, c.user_id, c.video_id, c.ad_id, c.campaign_id, c.rowtime,
       c.is_bot, c.is_flood,
       k.campaign_id IS NOT NULL AS campaign_known,
       COALESCE(k.status = 'active' AND c.event_time >= k.starts_at
                AND c.event_time < k.ends_at, FALSE) AS campaign_active,
       k.cpc_micros, k.currency
FROM clicks_flagged c
LEFT JOIN campaign_versions FOR SYSTEM_TIME AS OF c.rowtime AS k
  ON c.campaign_id = k.campaign_id"""


def click_view_pairs(s: Settings) -> str:
    """Every view of the clicked video by the same user in [t - 30 min, t]."""
    return f"""
CREATE TEMPORARY VIEW click_view_pairs AS
SELECT c.*, v.event_id AS view_id, v.event_time AS view_time, v.creator_id AS view_creator
FROM clicks_priced c
LEFT JOIN {VIEWS.name} v
  ON c.user_id = v.user_id AND c.video_id = v.video_id
 AND v.rowtime BETWEEN c.rowtime - {interval(s.attribution_window_ms)} AND c.rowtime"""


def clicks_attributed() -> str:
    """One row per click with its latest candidate view (ties: larger event_id).

    The pairs of one click are grouped in a 1 ms event-time window at the
    click's time (an insert-only, final result); the best view is the MAX of a
    sort key: zero-padded view time, view id, NUL, creator id.
    """
    best = (
        f"MAX(CASE WHEN view_id IS NULL THEN CAST(NULL AS STRING) ELSE "
        f"CONCAT(LPAD(CAST(view_time AS STRING), 15, '0'), view_id, {NUL}, view_creator) END)"
    )
    return f"""
CREATE TEMPORARY VIEW clicks_attributed AS
SELECT click_id, event_time, user_id, video_id, ad_id, campaign_id, is_bot, is_flood,
       campaign_known, campaign_active, cpc_micros, currency,
       {best} AS best_view,
       window_time AS rowtime
FROM TABLE(TUMBLE(TABLE click_view_pairs, DESCRIPTOR(rowtime), INTERVAL '0.001' SECOND))
GROUP BY window_start, window_end, window_time, click_id, event_time, user_id, video_id,
         ad_id, campaign_id, is_bot, is_flood, campaign_known, campaign_active, cpc_micros,
         currency"""


def clicks_checked() -> str:
    """Statuses 1-5 in contract order; NULL = candidate for the duplicate scan."""
    view_part = "SUBSTRING(best_view FROM 16)"
    nul_at = f"POSITION({NUL} IN {view_part})"
    return f"""
CREATE TEMPORARY VIEW clicks_checked AS
SELECT click_id, event_time, user_id, ad_id, campaign_id, video_id,
       CASE WHEN best_view IS NULL THEN CAST(NULL AS STRING)
            ELSE SUBSTRING({view_part} FROM {nul_at} + 1) END AS creator_id,
       currency, cpc_micros,
       CASE WHEN best_view IS NULL THEN CAST(NULL AS STRING)
            ELSE SUBSTRING({view_part} FROM 1 FOR {nul_at} - 1) END AS attributed_view_id,
       CAST(SUBSTRING(best_view FROM 1 FOR 15) AS BIGINT) AS attributed_view_time,
       CASE WHEN is_bot THEN 'bot'
            WHEN is_flood THEN 'click_flood'
            WHEN NOT campaign_known THEN 'unknown_campaign'
            WHEN NOT campaign_active THEN 'campaign_inactive'
            WHEN best_view IS NULL THEN 'no_prior_view'
            ELSE CAST(NULL AS STRING) END AS pre_status,
       rowtime
FROM clicks_attributed"""


def checked_clicks() -> str:
    """Every checked click, in :data:`CLICK_COLUMNS` order plus ``pre_status``: the rows the
    duplicate scan receives. The decided ones pass it unchanged; the undecided ones (NULL) are
    scanned. One stream for both keeps the clicks pipeline in ONE plan: a second reader of
    ``clicks_checked`` beside the scan made the planner run attribution twice."""
    columns = ", ".join(name for name, _ in CLICK_COLUMNS)
    return f"SELECT {columns}, pre_status FROM clicks_checked"


def clicks_status(scanned_view: str) -> str:
    """All clicks with exactly one status (the duplicate scan's output)."""
    columns = ", ".join(name for name, _ in CLICK_COLUMNS)
    return f"""
CREATE TEMPORARY VIEW clicks_status AS
SELECT {columns}, status, rowtime FROM {scanned_view}"""


def engagement_events(s: Settings) -> str:
    """Counted events: non-bot views, non-bot comments, valid attributed clicks."""
    view_bot = contains_any_token("user_agent", s.bot_tokens)
    return f"""
CREATE TEMPORARY VIEW engagement_events AS
SELECT creator_id, user_id, 1 AS is_view, 0 AS is_comment, 0 AS is_click, rowtime
FROM {VIEWS.name} WHERE NOT {view_bot}
UNION ALL
SELECT creator_id, user_id, 0, 1, 0, rowtime
FROM {COMMENTS.name} WHERE NOT {view_bot}
UNION ALL
SELECT creator_id, user_id, 0, 0, 1, rowtime
FROM clicks_status WHERE status = 'valid'"""


def engagement_windows(s: Settings) -> str:
    num, den = s.high_rate_ratio
    return f"""
CREATE TEMPORARY VIEW engagement_windows AS
SELECT creator_id, window_start, window_end, window_time, `views`, unique_viewers, comments,
       valid_clicks,
       CASE WHEN `views` >= {s.min_views_for_rate}
            THEN CAST(comments + valid_clicks AS DOUBLE) / `views` END AS engagement_rate,
       `views` >= {s.min_views_for_rate}
         AND (comments + valid_clicks) * {den} >= `views` * {num} AS high
FROM (
  SELECT creator_id, window_start, window_end, window_time,
         CAST(SUM(is_view) AS BIGINT) AS `views`,
         COUNT(DISTINCT CASE WHEN is_view = 1 THEN user_id END) AS unique_viewers,
         CAST(SUM(is_comment) AS BIGINT) AS comments,
         CAST(SUM(is_click) AS BIGINT) AS valid_clicks
  FROM TABLE(HOP(TABLE engagement_events, DESCRIPTOR(rowtime),
                 {interval(s.window_slide_ms)}, {interval(s.window_size_ms)}))
  GROUP BY creator_id, window_start, window_end, window_time
)"""


def window_consistency(s: Settings) -> str:
    """HIGH windows among the last N window ends (a window without activity has no row).

    Every column of ``engagement_windows`` is carried along and the windows sink reads them
    here: with one reader, the planner keeps the HOP window one slicing aggregation (two
    readers that need different columns got two aggregations over a shared, exploded window
    assignment: every event copied into each of its windows)."""
    span = interval((s.consistency_windows - 1) * s.window_slide_ms)
    return f"""
CREATE TEMPORARY VIEW window_consistency AS
SELECT creator_id, window_start, window_end, window_time, `views`, unique_viewers, comments,
       valid_clicks, engagement_rate, high,
       CAST(SUM(CASE WHEN high THEN 1 ELSE 0 END) OVER (
         PARTITION BY creator_id ORDER BY window_time
         RANGE BETWEEN {span} PRECEDING AND CURRENT ROW) AS INT) AS high_windows
FROM engagement_windows"""


def profile_versions() -> str:
    """Creator profile changelog, versioned by ``updated_at`` - 1 ms (see tables.py)."""
    columns = "creator_id, updated_at, followers, lifetime_views, birth_date, country"
    return _versioned_view("profile_versions", CREATOR_PROFILES.name, "creator_id", columns)


def eligibility(s: Settings) -> str:
    """Evaluation at each window end W with the profile as of W; reasons sorted."""
    ymd = "(YEAR({d}) * 10000 + MONTH({d}) * 100 + DAYOFMONTH({d}))"
    w_ymd = ymd.format(d="w.window_end")
    b_ymd = ymd.format(d="CAST(p.birth_date AS DATE)")
    known = "p.creator_id IS NOT NULL"
    checks = {
        # alphabetical: the reasons array is sorted by construction
        "insufficient_followers": f"{known} AND p.followers < {s.min_followers}",
        "insufficient_lifetime_views": f"{known} AND p.lifetime_views < {s.min_lifetime_views}",
        "low_engagement": f"w.high_windows < {s.consistency_min_high}",
        "underage": f"{known} AND {w_ymd} - {b_ymd} < {s.min_age_years * 10000}",
        "unknown_profile": f"NOT ({known})",
        "unsupported_country": f"{known} AND NOT {in_list('p.country', s.eligible_countries)}",
    }
    reasons = ", ".join(
        f"CASE WHEN {condition} THEN '{code}' END" for code, condition in checks.items()
    )
    return f"""
CREATE TEMPORARY VIEW eligibility AS
SELECT creator_id, as_of, consistently_high, reasons, CARDINALITY(reasons) = 0 AS eligible,
       high_windows, followers, lifetime_views, country, birth_date, profile_updated_at, rowtime
FROM (
  SELECT w.creator_id, w.window_end AS as_of,
         w.high_windows >= {s.consistency_min_high} AS consistently_high,
         w.high_windows,
         ARRAY_REMOVE(SPLIT(CONCAT_WS(',', {reasons}), ','), '') AS reasons,
         p.followers, p.lifetime_views, p.country, p.birth_date,
         p.updated_at AS profile_updated_at,
         w.window_time AS rowtime
  FROM window_consistency w
  LEFT JOIN profile_versions FOR SYSTEM_TIME AS OF w.window_time AS p
    ON w.creator_id = p.creator_id
)"""


def eligibility_transitions() -> str:
    """A change of ``eligible`` between consecutive evaluations (before the first: not)."""
    return """
CREATE TEMPORARY VIEW eligibility_transitions AS
SELECT creator_id, as_of,
       CASE WHEN eligible THEN 'granted' ELSE 'revoked' END AS `transition`, reasons
FROM (
  SELECT creator_id, as_of, eligible, reasons,
         LAG(eligible, 1, FALSE) OVER (PARTITION BY creator_id ORDER BY rowtime) AS previous
  FROM eligibility
) WHERE eligible <> previous"""


def clicks_paid(s: Settings) -> str:
    """Revenue: the eligibility evaluated at the start of the click's UTC day is in force."""
    day = s.window_slide_ms  # evaluations happen at each window end, one slide apart
    return f"""
CREATE TEMPORARY VIEW clicks_paid AS
SELECT c.click_id, c.event_time, c.user_id, c.ad_id, c.campaign_id, c.video_id, c.creator_id,
       c.status, c.currency, c.attributed_view_id, c.attributed_view_time,
       CASE WHEN c.status = 'valid' THEN c.cpc_micros ELSE 0 END AS gross_micros,
       COALESCE(e.eligible, FALSE) AS creator_eligible
FROM clicks_status c
LEFT JOIN eligibility e
  ON c.creator_id = e.creator_id
 AND e.as_of = {utc(f"c.event_time - MOD(c.event_time, {day})")}
 AND e.rowtime BETWEEN c.rowtime - {interval(day)} AND c.rowtime"""


def insert_attributed_clicks(s: Settings, sink: str) -> str:
    share = s.revenue_share_bp
    return f"""
INSERT INTO {sink}
SELECT click_id, {utc("event_time")}, user_id, ad_id, campaign_id, video_id, creator_id,
       status, currency, gross_micros, creator_micros, gross_micros - creator_micros,
       creator_eligible, payable,
       CASE WHEN status = 'valid' AND NOT payable THEN 'creator_not_eligible' END,
       attributed_view_id, {utc("attributed_view_time")}
FROM (
  SELECT *,
         CASE WHEN status = 'valid' AND creator_eligible
              THEN gross_micros * {share} / 10000 ELSE CAST(0 AS BIGINT) END AS creator_micros,
         status = 'valid' AND creator_eligible AS payable
  FROM clicks_paid
)"""


def insert_engagement_windows(sink: str) -> str:
    return f"""
INSERT INTO {sink}
SELECT creator_id, window_start, window_end, `views`, unique_viewers, comments, valid_clicks,
       engagement_rate, high
FROM window_consistency"""


def insert_eligibility(sink: str) -> str:
    return f"""
INSERT INTO {sink}
SELECT creator_id, as_of, consistently_high, eligible, high_windows, reasons, followers,
       lifetime_views, country, birth_date, {utc("profile_updated_at")}
FROM eligibility"""


def insert_eligibility_transitions(sink: str) -> str:
    return f"""
INSERT INTO {sink}
SELECT creator_id, as_of, `transition`, reasons FROM eligibility_transitions"""
