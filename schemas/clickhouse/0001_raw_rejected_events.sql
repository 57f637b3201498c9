-- raw_rejected_events: the dead-letter table. Every input event that failed
-- validation, with the payload exactly as received, where it came from
-- (`source` = file path or topic/partition; `line` 1-based for files, `offset`
-- for Kafka) and the first reason code that applied (invalid_json, not_object,
-- missing_field, wrong_type, negative_count, invalid_value, unknown_country,
-- unknown_currency, future_event_time). `detail` is a human hint (which field).
-- Analysts: count bad input per stream/source/reason here; nothing is dropped
-- silently.
--
-- Dedup: the SAME bad payload from the same stream and source is one row,
-- whether a file is loaded twice or a Kafka partition is replayed. Key =
-- (stream, source, cityHash64(raw)): hashing keeps the sort key small even for
-- large payloads (a 64-bit collision inside one source is negligible). Of the
-- copies, the one with the FIRST position is kept: ReplacingMergeTree keeps the
-- row with the largest version, and the version is max(UInt64) - position, so
-- the smallest line/offset wins regardless of insert order. The version is a
-- MATERIALIZED column: loaders never send it and SELECT * does not show it.
-- Consequence to know: identical bad lines inside ONE file (e.g. several blank
-- lines) are one row here (metrics still count each occurrence).
-- Read with FINAL (or after OPTIMIZE ... FINAL) for exact counts.
CREATE TABLE IF NOT EXISTS {database}.raw_rejected_events
(
    stream LowCardinality(String) COMMENT 'view, comment, ad_click, creator_profile, campaign',
    source String COMMENT 'file path, or topic/partition',
    line Nullable(UInt64) COMMENT 'file line, 1-based (null for Kafka)',
    `offset` Nullable(UInt64) COMMENT 'Kafka offset (null for files)',
    reason LowCardinality(String) COMMENT 'first rejection reason code that applied',
    raw String COMMENT 'the payload as received',
    detail String COMMENT 'human hint, e.g. the offending field',
    rejected_at DateTime64(3, 'UTC') COMMENT 'reference clock of the run that rejected it',
    keep_first_version UInt64 MATERIALIZED
        toUInt64(18446744073709551615) - coalesce(line, `offset`, 0)
        COMMENT 'ReplacingMergeTree version: the smallest line/offset wins'
)
ENGINE = ReplacingMergeTree(keep_first_version)
ORDER BY (stream, source, cityHash64(raw))
COMMENT 'Dead letters: rejected input with source, position and reason';
