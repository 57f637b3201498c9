-- fct_payout_adjustments: corrections of closed months. When the clicks of a
-- closed month change after its close (a re-run over corrected or extended
-- input, streaming results that arrive later), the difference per creator and
-- currency is booked here, into the next open month (booked_month), so that
--   statement(for_month) + sum of its adjustments = the clicks of for_month
-- always. One row per (for_month, booked_month, creator_id, currency): while
-- booked_month is open, a later change REPLACES the row (the newest
-- booked_at wins, read with FINAL), so re-running over the same input books
-- nothing twice. Once booked_month is closed its rows are frozen too and any
-- further change goes to the month after.
CREATE TABLE IF NOT EXISTS {database}.fct_payout_adjustments
(
    creator_id String COMMENT 'Attributed creator',
    currency LowCardinality(String) COMMENT 'ISO 4217 currency of the campaigns',
    booked_month Date COMMENT 'Month whose statement carries the adjustment (first day): the first open month after for_month',
    for_month Date COMMENT 'The closed month being corrected (first day)',
    valid_clicks_delta Int64 COMMENT 'Change of valid clicks of for_month since its statement and earlier adjustments',
    payable_clicks_delta Int64 COMMENT 'Change of payable clicks',
    gross_micros_delta Int64 COMMENT 'Change of gross_micros, micros of currency',
    creator_micros_delta Int64 COMMENT 'Change of creator_micros: added to (or, negative, taken from) the creator payment of booked_month',
    platform_micros_delta Int64 COMMENT 'Change of platform_micros',
    reason LowCardinality(String) COMMENT 'clicks_added, clicks_removed or clicks_restated',
    run_id String COMMENT 'The run that booked it: a pulse run id, or close-YYYY-MM when booked by pulse close',
    booked_at DateTime64(3, 'UTC') COMMENT 'When it was booked (wall clock); the newest version of a row wins'
)
ENGINE = ReplacingMergeTree(booked_at)
ORDER BY (for_month, booked_month, creator_id, currency)
COMMENT 'Adjustments of closed months, booked into the next open month (micros)';
