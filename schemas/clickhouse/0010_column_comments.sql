-- column_comments: a ClickHouse COMMENT on every column of the tables of
-- 0001-0009, in words an analyst or finance reader can use. This file is the
-- one home of those texts: docs/tables.md is generated from them
-- (`make docs`, pipelines/warehouse/table_docs.py).
--
-- Why a new migration and not edits of 0001-0009: applied migrations are
-- immutable (pulse migrate stores each file's SHA-256 and refuses a changed
-- file), so editing them would stop every existing warehouse from migrating.
-- COMMENT COLUMN changes metadata only (no data is rewritten, no type, key or
-- engine changes) and is re-runnable: running a statement twice leaves the
-- same comment. It replaces the few shorter comments 0001-0009 had.
-- Numbers are defaults; the setting that holds each is named (see
-- pipelines/config.py and docs/rules.md). A later change of a text is a new
-- migration with new COMMENT COLUMN statements.
ALTER TABLE {database}.raw_rejected_events
    COMMENT COLUMN stream 'Input stream: view, comment, ad_click, creator_profile or campaign',
    COMMENT COLUMN source 'Where the event came from: the input file path, or topic/partition for Kafka',
    COMMENT COLUMN line 'Line of the input file, 1-based (row number for Parquet); null for Kafka',
    COMMENT COLUMN `offset` 'Offset of the message in its Kafka partition; null for files',
    COMMENT COLUMN reason 'The first rejection reason code that applied: invalid_json, not_object, missing_field, wrong_type, negative_count, invalid_value, unknown_country, unknown_currency, future_event_time',
    COMMENT COLUMN raw 'The payload exactly as received',
    COMMENT COLUMN detail 'Human hint about the reason, e.g. the offending field',
    COMMENT COLUMN rejected_at 'When it was rejected: the reference clock of the run (pulse run --as-of) for files; the dead-letter message time for Kafka',
    COMMENT COLUMN keep_first_version 'Internal ReplacingMergeTree version, computed (not returned by SELECT *): of identical rejected payloads the smallest line/offset is kept';

ALTER TABLE {database}.raw_late_events
    COMMENT COLUMN stream 'Input stream: view, comment, ad_click, creator_profile or campaign',
    COMMENT COLUMN event_id 'The event key: event_id, or creator_id|updated_at / campaign_id|updated_at (epoch ms) for the changelog streams',
    COMMENT COLUMN event_time 'Event time of the event (updated_at for the changelog streams), UTC',
    COMMENT COLUMN watermark 'Watermark of the stream when the event arrived (max event time seen minus watermark_delay_ms, default 5 min); the event was more than allowed_lateness_ms (default 1 h) behind it',
    COMMENT COLUMN raw 'The payload exactly as received',
    COMMENT COLUMN reason 'Why it is late: beyond_allowed_lateness';

ALTER TABLE {database}.fct_attributed_clicks
    COMMENT COLUMN click_id 'Click id: the event_id of the ad_click event (one row per click)',
    COMMENT COLUMN event_time 'Time of the click, UTC',
    COMMENT COLUMN user_id 'User who clicked',
    COMMENT COLUMN ad_id 'Ad that was clicked',
    COMMENT COLUMN campaign_id 'Campaign of the ad; its version in force at the click sets price and currency',
    COMMENT COLUMN video_id 'The video (post) the ad ran after',
    COMMENT COLUMN creator_id 'Attributed creator: creator of the latest view of video_id by user_id at most attribution_window_ms (default 30 min) before the click; null when there is no such view',
    COMMENT COLUMN status 'Exactly one status, the first that applies: bot, click_flood, unknown_campaign, campaign_inactive, no_prior_view, duplicate, valid',
    COMMENT COLUMN currency 'ISO 4217 currency of the campaign version in force; null when the campaign is unknown',
    COMMENT COLUMN gross_micros 'Price of the click in micros of currency (cpc_micros of the campaign version in force); 0 unless status is valid',
    COMMENT COLUMN creator_micros 'Creator share in micros: gross_micros * revenue_share_bp // 10000 (default 50 %, rounded down) when payable, else 0',
    COMMENT COLUMN platform_micros 'Platform share in micros: gross_micros - creator_micros',
    COMMENT COLUMN creator_eligible 'Whether the attributed creator was eligible at click time (the evaluation at the start of the UTC day of the click); false without creator or evaluation',
    COMMENT COLUMN payable 'status is valid and the creator was eligible: counts toward the creator payout',
    COMMENT COLUMN not_payable_reason 'creator_not_eligible for a valid click whose creator was not eligible; null otherwise',
    COMMENT COLUMN attributed_view_id 'event_id of the attributed view; null when there is none',
    COMMENT COLUMN attributed_view_time 'Time of the attributed view, UTC; null when there is none';

ALTER TABLE {database}.fct_engagement_windows
    COMMENT COLUMN creator_id 'Creator the window belongs to',
    COMMENT COLUMN window_start 'Start of the window (inclusive), a UTC midnight',
    COMMENT COLUMN window_end 'End of the window (exclusive): window_start + window_size_ms (default 7 days)',
    COMMENT COLUMN views 'Views by non-bot users in the window',
    COMMENT COLUMN unique_viewers 'Distinct non-bot viewers in the window (exact count)',
    COMMENT COLUMN comments 'Comments by non-bot users in the window',
    COMMENT COLUMN valid_clicks 'Clicks with status valid attributed to the creator in the window',
    COMMENT COLUMN engagement_rate '(comments + valid_clicks) / views; null when views < min_views_for_rate (default 1000: insufficient volume)',
    COMMENT COLUMN high 'engagement_rate is defined and >= high_engagement_rate (default 0.02), compared exactly';

ALTER TABLE {database}.fct_eligibility
    COMMENT COLUMN creator_id 'Creator evaluated',
    COMMENT COLUMN as_of 'Evaluation time W, the end of one of the creator windows; the result is in force for clicks from W to W + 1 day (exclusive)',
    COMMENT COLUMN consistently_high 'At least consistency_min_high (default 5) of the consistency_windows (default 7) windows ending at W, W - 1 day, ... are high',
    COMMENT COLUMN eligible 'Consistently high and every profile criterion met (reasons is empty)',
    COMMENT COLUMN high_windows 'How many of the windows ending at W, W - 1 day, ... (consistency_windows of them) are high',
    COMMENT COLUMN reasons 'Every failed criterion, sorted: insufficient_followers, insufficient_lifetime_views, low_engagement, underage, unknown_profile, unsupported_country; empty when eligible',
    COMMENT COLUMN followers 'Followers in the profile version used; null for unknown_profile',
    COMMENT COLUMN lifetime_views 'Lifetime views in the profile version used; null for unknown_profile',
    COMMENT COLUMN country 'ISO 3166-1 alpha-2 country in the profile version used; null for unknown_profile',
    COMMENT COLUMN birth_date 'Birth date in the profile version used (may be before 1970); null for unknown_profile',
    COMMENT COLUMN profile_updated_at 'updated_at of the profile version used (the latest with updated_at <= as_of); null for unknown_profile';

ALTER TABLE {database}.fct_eligibility_transitions
    COMMENT COLUMN creator_id 'Creator whose eligibility changed',
    COMMENT COLUMN as_of 'Evaluation time W at which eligible differs from the previous evaluation',
    COMMENT COLUMN transition 'granted (not eligible before, eligible now) or revoked (eligible before, not now)',
    COMMENT COLUMN reasons 'Failed criteria of the evaluation at as_of, sorted; empty for granted';

ALTER TABLE {database}.agg_creator_payouts_daily
    COMMENT COLUMN creator_id 'Attributed creator',
    COMMENT COLUMN day 'UTC day of the clicks',
    COMMENT COLUMN currency 'ISO 4217 currency of the campaigns; amounts in different currencies are never added',
    COMMENT COLUMN valid_clicks 'Clicks with status valid attributed to the creator that day',
    COMMENT COLUMN payable_clicks 'Valid clicks whose creator was eligible at click time',
    COMMENT COLUMN gross_micros 'Sum of gross_micros of the valid clicks, in micros of currency',
    COMMENT COLUMN creator_micros 'Sum of creator_micros: what the creator earned, in micros of currency',
    COMMENT COLUMN platform_micros 'Sum of platform_micros: what the platform kept, in micros of currency';

ALTER TABLE {database}.dim_creator_profiles
    COMMENT COLUMN creator_id 'Creator',
    COMMENT COLUMN updated_at 'Version time: this version is in force from updated_at until the next version',
    COMMENT COLUMN followers 'Followers',
    COMMENT COLUMN lifetime_views 'Lifetime views of all the creator content',
    COMMENT COLUMN birth_date 'Birth date (may be before 1970)',
    COMMENT COLUMN country 'ISO 3166-1 alpha-2 country code';

ALTER TABLE {database}.dim_campaigns
    COMMENT COLUMN campaign_id 'Campaign',
    COMMENT COLUMN updated_at 'Version time: this version is in force from updated_at until the next version',
    COMMENT COLUMN advertiser_id 'Advertiser who runs the campaign',
    COMMENT COLUMN cpc_micros 'Price of one valid click in micros of currency (> 0)',
    COMMENT COLUMN currency 'ISO 4217 currency code of the price',
    COMMENT COLUMN starts_at 'Start of the billable period (inclusive), UTC',
    COMMENT COLUMN ends_at 'End of the billable period (exclusive), UTC',
    COMMENT COLUMN status 'active or paused; a click while paused or outside [starts_at, ends_at) is campaign_inactive';
