-- fct_payout_closes: one row per closed month (`pulse close --month`). A month
-- is closed once: its statements (fct_payout_statements) are frozen at
-- closed_at and later changes of its clicks are booked as adjustments
-- (fct_payout_adjustments) into the next open month. `statement_rows` and
-- `statements_hash` seal the month's statement rows, so `pulse reconcile`
-- notices a statement row added, changed or removed after the close.
-- Plain MergeTree: rows are only ever appended, never replaced.
CREATE TABLE IF NOT EXISTS {database}.fct_payout_closes
(
    month Date COMMENT 'The closed month: its first day',
    closed_at DateTime64(3, 'UTC') COMMENT 'When the month was closed (wall clock)',
    forced Bool COMMENT 'Closed with --force before its data was final',
    final_after DateTime64(3, 'UTC') COMMENT 'Event time the warehouse had to have seen for the month to be final: month end + watermark delay + allowed lateness + attribution hold-back',
    seen_event_time Nullable(DateTime64(3, 'UTC')) COMMENT 'Latest event time the warehouse had seen at the close (ingest ledger and clicks)',
    statement_rows UInt64 COMMENT 'Number of statement rows frozen for the month',
    statements_hash String COMMENT 'SHA-256 over the content_hash of every statement row of the month, in statement_id order',
    gross_micros Int64 COMMENT 'Total gross_micros of the statements, all currencies added (a checksum, not an amount)',
    creator_micros Int64 COMMENT 'Total creator_micros of the statements, all currencies added (a checksum, not an amount)'
)
ENGINE = MergeTree
ORDER BY month
COMMENT 'Closed months: when each was closed, whether forced, and the seal of its statements';
