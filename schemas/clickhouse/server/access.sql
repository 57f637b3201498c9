-- Access control of a pulse ClickHouse SERVER: roles, a read-only settings profile and a quota.
--
-- Not a numbered migration: `pulse migrate` reads schemas/clickhouse/*.sql only (not this
-- folder), and the embedded warehouse (chdb) refuses access-control statements. Apply it on a
-- server, after `pulse migrate`, as a user with access management (pulse_admin):
--     python -m pipelines.deploy.access --apply      # PULSE_WAREHOUSE=clickhouse://pulse_admin@...
--     python -m pipelines.deploy.access | clickhouse-client --user pulse_admin --multiquery
-- Re-applying is safe and makes the roles exactly what this file says (each role's grants are
-- revoked, then granted again). `{database}` is the pulse database (settings: database).
-- Users (and their passwords, from Secrets) are defined by the server's configuration
-- (infra/k8s/base/clickhouse.yaml), which grants each user its role.
--
-- Tables by layer (pipelines/warehouse/tables.py, a test keeps this file equal to it):
--   raw_*  rejected and late input lines with their raw payloads (loader writes, nobody
--          reads), and the ingest ledger (counts only; finance's close reads it)
--   fct_*  one row per business event;  agg_*  rollups;  dim_*  dimensions

CREATE ROLE IF NOT EXISTS pulse_analyst;
CREATE ROLE IF NOT EXISTS pulse_finance;
CREATE ROLE IF NOT EXISTS pulse_loader;

REVOKE ALL ON *.* FROM pulse_analyst;
REVOKE ALL ON *.* FROM pulse_finance;
REVOKE ALL ON *.* FROM pulse_loader;

-- pulse_analyst: read facts, rollups and dimensions; never the raw_* payloads.
GRANT SELECT ON {database}.fct_attributed_clicks TO pulse_analyst;
GRANT SELECT ON {database}.fct_engagement_windows TO pulse_analyst;
GRANT SELECT ON {database}.fct_eligibility TO pulse_analyst;
GRANT SELECT ON {database}.fct_eligibility_transitions TO pulse_analyst;
GRANT SELECT ON {database}.agg_creator_payouts_daily TO pulse_analyst;
GRANT SELECT ON {database}.dim_creator_profiles TO pulse_analyst;
GRANT SELECT ON {database}.dim_campaigns TO pulse_analyst;
GRANT SELECT ON {database}.fct_payout_statements TO pulse_analyst;
GRANT SELECT ON {database}.fct_payout_adjustments TO pulse_analyst;
GRANT SELECT ON {database}.fct_payout_closes TO pulse_analyst;

-- pulse_finance: read the payouts, the monthly statements and adjustments, and what they trace
-- back to (clicks, the eligibility evaluations in force); run the monthly close (`pulse
-- close`: reads the ingest ledger for finality, writes statements, closes and adjustments,
-- and drops the orphan statement rows of an interrupted close).
GRANT SELECT ON {database}.agg_creator_payouts_daily TO pulse_finance;
GRANT SELECT ON {database}.fct_attributed_clicks TO pulse_finance;
GRANT SELECT ON {database}.fct_eligibility TO pulse_finance;
GRANT SELECT ON {database}.raw_ingest_ledger TO pulse_finance;
GRANT SELECT, INSERT ON {database}.fct_payout_statements TO pulse_finance;
GRANT SELECT, INSERT ON {database}.fct_payout_closes TO pulse_finance;
GRANT SELECT, INSERT ON {database}.fct_payout_adjustments TO pulse_finance;
GRANT ALTER DELETE ON {database}.fct_payout_statements TO pulse_finance;

-- pulse_loader: INSERT on exactly the tables the streaming loader loads (jobs/faust_loader.py).
GRANT INSERT ON {database}.raw_rejected_events TO pulse_loader;
GRANT INSERT ON {database}.raw_late_events TO pulse_loader;
GRANT INSERT ON {database}.fct_attributed_clicks TO pulse_loader;
GRANT INSERT ON {database}.fct_engagement_windows TO pulse_loader;
GRANT INSERT ON {database}.fct_eligibility TO pulse_loader;
GRANT INSERT ON {database}.fct_eligibility_transitions TO pulse_loader;
GRANT INSERT ON {database}.dim_creator_profiles TO pulse_loader;
GRANT INSERT ON {database}.dim_campaigns TO pulse_loader;
GRANT INSERT ON {database}.raw_ingest_ledger TO pulse_loader;
-- ...and what rebuilding the payouts of the touched days needs (pipelines/warehouse/rollups.py):
-- read the clicks, build a month in a staging table, swap it in (REPLACE/DROP PARTITION).
GRANT SELECT ON {database}.fct_attributed_clicks TO pulse_loader;
GRANT SELECT, INSERT, ALTER DELETE ON {database}.agg_creator_payouts_daily TO pulse_loader;
GRANT CREATE TABLE, INSERT, SELECT, DROP TABLE ON {database}._stage_agg_creator_payouts_daily_* TO pulse_loader;
-- ...and what booking the adjustments of closed months needs when a click batch touched one
-- (pipelines/warehouse/close.py book_adjustments): read the closes, statements and adjustments,
-- write adjustments.
GRANT SELECT ON {database}.fct_payout_closes TO pulse_loader;
GRANT SELECT ON {database}.fct_payout_statements TO pulse_loader;
GRANT SELECT, INSERT ON {database}.fct_payout_adjustments TO pulse_loader;
-- ...and the migration bookkeeping the loader checks at start (migrations are applied by
-- pulse_admin beforehand: the loader's own run finds nothing pending).
GRANT CREATE DATABASE ON {database}.* TO pulse_loader;
GRANT SELECT, INSERT, CREATE TABLE ON {database}.schema_migrations TO pulse_loader;

-- Read-only (no writes, no DDL; settings may change within bounds, which Grafana's ClickHouse
-- data source needs) with limits, for people and dashboards.
CREATE SETTINGS PROFILE OR REPLACE pulse_readonly SETTINGS
    readonly = 2 CONST,
    max_execution_time = 60 MAX 600,
    max_memory_usage = 8000000000 MAX 16000000000,
    max_result_rows = 1000000,
    result_overflow_mode = 'throw'
TO pulse_analyst, pulse_finance;

-- Analysts share the cluster: per user and hour, at most 2000 queries, 50 billion rows read
-- and one hour of query time.
CREATE QUOTA OR REPLACE pulse_analyst_quota KEYED BY user_name
FOR INTERVAL 1 hour MAX queries = 2000, read_rows = 50000000000, execution_time = 3600
TO pulse_analyst;
