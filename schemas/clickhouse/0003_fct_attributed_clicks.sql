-- fct_attributed_clicks: one row per ad click (click_id = the click's
-- event_id), with its attribution (creator of the latest view of the same
-- video by the same user within 30 minutes before the click), its single
-- status (bot, click_flood, unknown_campaign, campaign_inactive,
-- no_prior_view, duplicate, valid) and its money in integer micros of the
-- campaign currency. Finance: creator_micros + platform_micros = gross_micros
-- on every row; invalid clicks carry 0; a valid click whose creator was not
-- eligible at click time has creator_micros = 0, payable = false and
-- not_payable_reason = 'creator_not_eligible'. currency is null only when the
-- campaign is unknown.
--
-- Dedup: ReplacingMergeTree keyed by click_id, so loading the same clicks
-- twice (replays beyond the dedup horizon, job restarts, re-runs) never
-- double-counts: read with FINAL (or after OPTIMIZE ... FINAL). A click's
-- event_time never changes, so all copies of a click_id share one monthly
-- partition and always merge. Without a version column the last insert
-- wins, i.e. a re-run's recomputation replaces the earlier row.
CREATE TABLE IF NOT EXISTS {database}.fct_attributed_clicks
(
    click_id String COMMENT 'event_id of the ad_click event',
    event_time DateTime64(3, 'UTC'),
    user_id String,
    ad_id String,
    campaign_id String,
    video_id String COMMENT 'the post the ad ran after',
    creator_id Nullable(String) COMMENT 'attributed creator; null if no matching view',
    status LowCardinality(String),
    currency Nullable(String) COMMENT 'ISO 4217 of the campaign; null if campaign unknown',
    gross_micros Int64,
    creator_micros Int64,
    platform_micros Int64,
    creator_eligible Bool COMMENT 'attributed creator eligible at click time',
    payable Bool COMMENT 'valid and creator eligible: counts for the creator payout',
    not_payable_reason Nullable(String) COMMENT 'e.g. creator_not_eligible; null when payable',
    attributed_view_id Nullable(String) COMMENT 'event_id of the attributed view',
    attributed_view_time Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY click_id
COMMENT 'One row per ad click: attribution, status and revenue split (micros)';
