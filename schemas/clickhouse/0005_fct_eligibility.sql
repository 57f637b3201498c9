-- fct_eligibility: one row per creator evaluation, at each window end (as_of)
-- for which the creator has a window row. The result is in force for clicks
-- with as_of <= t < as_of + 1 day (never carried forward). reasons lists every
-- failed criterion, sorted (low_engagement, insufficient_followers,
-- insufficient_lifetime_views, underage, unsupported_country,
-- unknown_profile); empty when eligible. The profile values used (latest
-- profile version with updated_at <= as_of) are kept for audit; all null for
-- unknown_profile. birth_date is Date32 because Date cannot hold days before
-- 1970.
--
-- Dedup: ReplacingMergeTree on (creator_id, as_of); read with FINAL.
CREATE TABLE IF NOT EXISTS {database}.fct_eligibility
(
    creator_id String,
    as_of DateTime64(3, 'UTC') COMMENT 'window end W of the evaluation',
    consistently_high Bool COMMENT '>= 5 of the 7 windows ending at W .. W-6d are high',
    eligible Bool,
    high_windows UInt8 COMMENT 'how many of those 7 windows are high',
    reasons Array(String) COMMENT 'failed criteria, sorted; empty when eligible',
    followers Nullable(Int64),
    lifetime_views Nullable(Int64),
    country Nullable(String),
    birth_date Nullable(Date32),
    profile_updated_at Nullable(DateTime64(3, 'UTC')) COMMENT 'version of the profile used'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(as_of)
ORDER BY (creator_id, as_of)
COMMENT 'Creator eligibility evaluations with reasons and the profile used';
