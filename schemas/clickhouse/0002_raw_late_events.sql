-- raw_late_events: events that arrived after their window had closed (event
-- time older than the watermark minus the allowed lateness). They did NOT
-- change any closed window or payout; they are kept here, raw, with the
-- watermark at the time and the reason, so nothing is lost and a later
-- backfill can use them.
--
-- Dedup: a replayed late event (same stream, event_id, event_time) is one row
-- (ReplacingMergeTree on that key; read with FINAL for exact counts).
CREATE TABLE IF NOT EXISTS {database}.raw_late_events
(
    stream LowCardinality(String),
    event_id String,
    event_time DateTime64(3, 'UTC'),
    watermark DateTime64(3, 'UTC') COMMENT 'watermark when the event was seen',
    raw String COMMENT 'the payload as received',
    reason LowCardinality(String) COMMENT 'why it is late, e.g. beyond_allowed_lateness'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (stream, event_id, event_time)
COMMENT 'Events later than watermark + allowed lateness; excluded from closed windows';
