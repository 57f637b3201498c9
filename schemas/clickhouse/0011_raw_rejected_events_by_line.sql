-- raw_rejected_events, re-keyed: ONE ROW PER REJECTED LINE OR MESSAGE.
--
-- 0001 keyed the dead letters by (stream, source, cityHash64(raw)), so
-- identical bad lines of one file (blank lines, `42`, `null`, ...) collapsed
-- into one row and the table held fewer rows than the run counted. The
-- contract keys a rejection by where it was read: (stream, source, line) for
-- files, (stream, source = topic/partition, offset) for Kafka. A replayed
-- Kafka message (same topic/partition/offset) or a re-run over the same file
-- still lands on the same key and stays one row (last insert wins).
--
-- How an existing warehouse moves over (the sorting key of a table cannot be
-- changed in place): build the new table beside the old one, copy every row,
-- swap the two atomically with EXCHANGE TABLES, drop the old one. Rows that
-- 0001 already collapsed cannot be split again; re-running `pulse run` over
-- those inputs restores one row per line. Every step is re-runnable: the
-- first statement drops a leftover of an interrupted attempt (which after an
-- interrupted swap is the OLD table, whose rows are already copied), so
-- applying this file again from the top always ends in the same state.
DROP TABLE IF EXISTS {database}.raw_rejected_events_by_line SYNC;

CREATE TABLE IF NOT EXISTS {database}.raw_rejected_events_by_line
(
    stream LowCardinality(String) COMMENT 'Input stream: view, comment, ad_click, creator_profile or campaign',
    source String COMMENT 'Where the event came from: the input file path, or topic/partition for Kafka',
    line Nullable(UInt64) COMMENT 'Line of the input file, 1-based (row number for Parquet); null for Kafka',
    `offset` Nullable(UInt64) COMMENT 'Offset of the message in its Kafka partition; null for files',
    reason LowCardinality(String) COMMENT 'The first rejection reason code that applied: invalid_json, not_object, missing_field, wrong_type, negative_count, invalid_value, unknown_country, unknown_currency, future_event_time',
    raw String COMMENT 'The payload exactly as received (bytes; may be invalid UTF-8)',
    detail String COMMENT 'Human hint about the reason, e.g. the offending field',
    rejected_at DateTime64(3, 'UTC') COMMENT 'When it was rejected: the reference clock of the run (pulse run --as-of) for files; the dead-letter message time for Kafka'
)
ENGINE = ReplacingMergeTree
ORDER BY (stream, source, ifNull(line, 0), ifNull(`offset`, 0))
COMMENT 'Dead letters: one row per rejected input line or Kafka message, with source, position, reason and the raw payload';

INSERT INTO {database}.raw_rejected_events_by_line
    (stream, source, line, `offset`, reason, raw, detail, rejected_at)
SELECT stream, source, line, `offset`, reason, raw, detail, rejected_at
FROM {database}.raw_rejected_events;

EXCHANGE TABLES {database}.raw_rejected_events AND {database}.raw_rejected_events_by_line;

DROP TABLE IF EXISTS {database}.raw_rejected_events_by_line SYNC;
