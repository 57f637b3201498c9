-- raw_ingest_ledger: where every input line went. One row per ingest run (a
-- `pulse run`, or one ingest batch) and source (an input file, or a Kafka
-- topic/partition with the offset range read), with the number of lines or
-- messages read and how each one ended:
--   lines = accepted + rejected + replays + late      (always)
-- `lines` is counted from the source itself (line terminators in the file,
-- rows in a Parquet file), independently of the ingest that decided each
-- line's outcome, so the equation proves that no line was skipped.
-- `rejected` equals the rows of raw_rejected_events for that stream and
-- source (a bounded run replaces the dead letters of each file it reads).
-- `pulse reconcile` checks both.
--
-- Several runs over the same file leave several rows (one per run_id): the
-- ledger is a log. The latest run of a source (recorded_at) is the one whose
-- dead letters are in raw_rejected_events.
CREATE TABLE IF NOT EXISTS {database}.raw_ingest_ledger
(
    run_id String COMMENT 'The ingest run: the id of a pulse run (also in its report), or of one streaming ingest batch',
    stream LowCardinality(String) COMMENT 'Input stream: view, comment, ad_click, creator_profile or campaign',
    source String COMMENT 'The input file path, or topic/partition for Kafka; empty when the stream had no file in the run',
    position_kind LowCardinality(String) COMMENT 'What first_position and last_position count: line (files, 1-based) or offset (Kafka)',
    first_position UInt64 COMMENT 'First line (or offset) read; 0 when nothing was read',
    last_position UInt64 COMMENT 'Last line (or offset) read; 0 when nothing was read',
    lines UInt64 COMMENT 'Lines (or messages) in the source, counted independently of their outcome',
    accepted UInt64 COMMENT 'Lines that passed validation, were not replays and were on time: sent on to the job',
    rejected UInt64 COMMENT 'Lines rejected by validation: one row each in raw_rejected_events',
    replays UInt64 COMMENT 'Exact replays (event key seen within the dedup horizon): dropped, counted here',
    late UInt64 COMMENT 'Events beyond the allowed lateness: kept in raw_late_events',
    min_event_time Nullable(DateTime64(3, 'UTC')) COMMENT 'Earliest event time of the accepted events; null when none',
    max_event_time Nullable(DateTime64(3, 'UTC')) COMMENT 'Latest event time of the accepted events; null when none (pulse close uses it to tell whether a month is final)',
    reference_time DateTime64(3, 'UTC') COMMENT 'Reference clock of the future-event rule (pulse run --as-of)',
    recorded_at DateTime64(3, 'UTC') COMMENT 'Wall-clock time the ledger row was written'
)
ENGINE = ReplacingMergeTree
ORDER BY (stream, source, run_id, first_position)
COMMENT 'Ingest ledger: per run and source, lines read = accepted + rejected + replays + late';
