-- fct_engagement_windows: one row per creator and 7-day hopping window
-- [window_start, window_end) (slide 1 day, aligned to UTC midnight) with at
-- least one counted event. Counts exclude bots; valid_clicks are clicks with
-- status 'valid' attributed to the creator. engagement_rate =
-- (comments + valid_clicks) / views, null when views < 1000 (insufficient
-- volume); high = rate defined and >= 0.02.
--
-- Dedup: ReplacingMergeTree on (creator_id, window_start, window_end): a
-- recomputed window replaces the earlier row (read with FINAL).
CREATE TABLE IF NOT EXISTS {database}.fct_engagement_windows
(
    creator_id String,
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC') COMMENT 'exclusive',
    views UInt64 COMMENT 'non-bot views',
    unique_viewers UInt64 COMMENT 'distinct non-bot viewers',
    comments UInt64 COMMENT 'non-bot comments',
    valid_clicks UInt64 COMMENT 'valid clicks attributed to the creator',
    engagement_rate Nullable(Float64) COMMENT 'null when views < 1000',
    high Bool COMMENT 'rate defined and >= 0.02'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (creator_id, window_start, window_end)
COMMENT 'Per creator 7-day sliding engagement windows';
