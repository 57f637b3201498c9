-- dim_creator_profiles: the creator_profile changelog, one row per version.
-- The profile in force at time T is the latest version with updated_at <= T.
-- birth_date is Date32 (Date cannot hold days before 1970).
--
-- Dedup: ReplacingMergeTree on (creator_id, updated_at); read with FINAL.
CREATE TABLE IF NOT EXISTS {database}.dim_creator_profiles
(
    creator_id String,
    updated_at DateTime64(3, 'UTC'),
    followers Int64,
    lifetime_views Int64,
    birth_date Date32,
    country LowCardinality(String) COMMENT 'ISO 3166-1 alpha-2'
)
ENGINE = ReplacingMergeTree
ORDER BY (creator_id, updated_at)
COMMENT 'Creator profile versions (changelog)';
