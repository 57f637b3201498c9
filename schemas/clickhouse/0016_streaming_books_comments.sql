-- streaming_books_comments: the streaming ingest writes raw_ingest_ledger rows
-- (one per ingest batch and raw topic/partition) and the streaming loader books
-- adjustments of closed months; the column texts that named only `pulse run`
-- and `pulse close` say so. Metadata only (COMMENT COLUMN), re-runnable; see
-- 0010_column_comments.sql for why texts change through new migrations.
ALTER TABLE {database}.raw_ingest_ledger
    COMMENT COLUMN run_id 'The ingest run: the id of a pulse run (also in its report), or of one streaming ingest batch of a topic/partition: topic/partition@first offset (a batch redone after an ingest crash has the same id and replaces the row)',
    COMMENT COLUMN reference_time 'Reference clock of the future-event rule (pulse run --as-of; for streaming, the clock of the ingest batch)';

ALTER TABLE {database}.fct_payout_adjustments
    COMMENT COLUMN run_id 'What booked it: a pulse run id, close-YYYY-MM when booked by pulse close, or loader:topic/partition@first-last offsets of the streaming loader batch that brought the change';
