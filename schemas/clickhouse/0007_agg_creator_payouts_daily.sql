-- agg_creator_payouts_daily: what each creator earned per UTC day of the
-- click and currency. This is a ROLLUP of fct_attributed_clicks (FINAL),
-- built inside ClickHouse by pipelines.warehouse.rollups.rebuild_payouts
-- over valid clicks that have a creator:
--   valid_clicks   = count of valid clicks
--   payable_clicks = count of valid clicks whose creator was eligible
--   gross/creator/platform_micros = sums of the clicks' micros
-- so for every creator/day/currency it equals the sum over the clicks.
-- Money is integer micros; never convert to floats before summing.
--
-- Rebuild: a month partition is recomputed in a staging table and swapped in
-- with ALTER TABLE ... REPLACE PARTITION (atomic: readers see the old or the
-- new month, never a half-built one). Each key appears once per partition,
-- so plain SELECTs are exact; ReplacingMergeTree on the key is a safety net.
CREATE TABLE IF NOT EXISTS {database}.agg_creator_payouts_daily
(
    creator_id String,
    day Date COMMENT 'UTC day of the click',
    currency LowCardinality(String) COMMENT 'ISO 4217 of the campaign',
    valid_clicks UInt64,
    payable_clicks UInt64,
    gross_micros Int64,
    creator_micros Int64,
    platform_micros Int64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (creator_id, day, currency)
COMMENT 'Daily creator payouts: rollup of fct_attributed_clicks (micros)';
