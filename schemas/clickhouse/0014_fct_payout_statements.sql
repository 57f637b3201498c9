-- fct_payout_statements: what finance pays, frozen per month at its close.
-- One row per creator, month and currency with valid clicks in the month,
-- computed at `pulse close` from fct_attributed_clicks (the same definition
-- as agg_creator_payouts_daily: status valid, creator known). After the close
-- nothing changes these rows; differences found later are booked in
-- fct_payout_adjustments. content_hash is the SHA-256 of the row's values
-- (see docs/finance.md) so any change is detectable. Money is integer micros
-- of `currency`; amounts of different currencies are never added.
-- Plain MergeTree: rows are only ever appended, never replaced.
CREATE TABLE IF NOT EXISTS {database}.fct_payout_statements
(
    creator_id String COMMENT 'Attributed creator',
    month Date COMMENT 'The statement month: its first day',
    currency LowCardinality(String) COMMENT 'ISO 4217 currency of the campaigns',
    valid_clicks UInt64 COMMENT 'Valid clicks attributed to the creator in the month',
    payable_clicks UInt64 COMMENT 'Of those, clicks whose creator was eligible at click time',
    gross_micros Int64 COMMENT 'Sum of gross_micros of the valid clicks, in micros of currency',
    creator_micros Int64 COMMENT 'What the creator is paid for the month, in micros of currency',
    platform_micros Int64 COMMENT 'What the platform keeps, in micros of currency',
    statement_id String COMMENT 'Stable id of this statement line: S-YYYYMM- and 16 hex digits of the creator and currency',
    closed_at DateTime64(3, 'UTC') COMMENT 'When the month was closed',
    content_hash String COMMENT 'SHA-256 (hex) of statement_id, creator_id, month, currency and the counts and amounts'
)
ENGINE = MergeTree
ORDER BY (month, creator_id, currency)
COMMENT 'Monthly creator payout statements, frozen at the month close (micros)';
