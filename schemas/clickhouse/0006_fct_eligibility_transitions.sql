-- fct_eligibility_transitions: the history of eligibility changes. A row per
-- change of `eligible` between two consecutive evaluations of a creator:
-- 'granted' (not eligible -> eligible) or 'revoked' (eligible -> not
-- eligible), with the reasons of the evaluation at as_of (empty for granted).
--
-- Dedup: ReplacingMergeTree on (creator_id, as_of); read with FINAL.
CREATE TABLE IF NOT EXISTS {database}.fct_eligibility_transitions
(
    creator_id String,
    as_of DateTime64(3, 'UTC'),
    transition LowCardinality(String) COMMENT 'granted or revoked',
    reasons Array(String) COMMENT 'failed criteria at as_of, sorted'
)
ENGINE = ReplacingMergeTree
ORDER BY (creator_id, as_of)
COMMENT 'Eligibility grants and revocations';
