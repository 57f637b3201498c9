-- dim_campaigns: the campaign changelog, one row per version. The version in
-- force for a click at t is the latest with updated_at <= t; a click is
-- billable only while status = 'active' and starts_at <= t < ends_at.
-- cpc_micros is the price of one valid click in micros of `currency`.
--
-- Dedup: ReplacingMergeTree on (campaign_id, updated_at); read with FINAL.
CREATE TABLE IF NOT EXISTS {database}.dim_campaigns
(
    campaign_id String,
    updated_at DateTime64(3, 'UTC'),
    advertiser_id String,
    cpc_micros Int64,
    currency LowCardinality(String) COMMENT 'ISO 4217',
    starts_at DateTime64(3, 'UTC'),
    ends_at DateTime64(3, 'UTC') COMMENT 'exclusive',
    status LowCardinality(String) COMMENT 'active or paused'
)
ENGINE = ReplacingMergeTree
ORDER BY (campaign_id, updated_at)
COMMENT 'Campaign versions (changelog)';
