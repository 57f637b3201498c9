"""Where pulse's writes go when the warehouse is a ClickHouse cluster: the SQL text, pure.

On one server (or the embedded chdb) every statement names the table itself. On a cluster
(``warehouse_cluster`` on, tables of ``schemas/clickhouse/cluster/``) the original names are
Distributed tables: reads and inserts keep naming them, but a Distributed table refuses
mutations (``ALTER TABLE ... DELETE``), partition commands (``REPLACE``/``DROP PARTITION``) and
``OPTIMIZE``; those must name the replicated ``<name>_local`` tables ``ON CLUSTER '{cluster}'``
(``{cluster}`` is ClickHouse's macro, expanded by the server: pulse needs no cluster name).
This module is the one home of that choice: every function takes the database, the table
name and the ``cluster`` flag and returns the statement, byte for byte the single-node one
when the flag is off. It runs nothing (:class:`~pipelines.connectors.warehouse.Warehouse`
and the warehouse modules do), so tests check the text without a warehouse and parse every
cluster form with chdb's ``formatQuery``. None of the cluster forms ever ran against a
ClickHouse server here (docs/warehouse-cluster.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.connectors.warehouse_target import quote_identifier

CLUSTER = "'{cluster}'"  # ClickHouse macro: the cluster of remote_servers
ON_CLUSTER = f"ON CLUSTER {CLUSTER}"
REPLICA = "'{replica}'"  # ClickHouse macro: this host's replica name
LOCAL_SUFFIX = "_local"
#: Keeper path of a local table's replicas; ``{shard}`` and ``{database}`` are ClickHouse
#: macros, the table name is written out
ZK_PATH = "/clickhouse/tables/{shard}/{database}/%s"
#: an INSERT ... SELECT into a Distributed table: wait until every shard has the rows, and
#: never run it shard by shard (the rows must be routed again by the destination's key)
COPY_SETTINGS = "distributed_foreground_insert = 1, parallel_distributed_insert_select = 0"
#: partition commands and OPTIMIZE on a replicated table wait for EVERY replica, so a read
#: that reaches any replica afterwards sees the result (the default waits for one)
REPLICAS_SYNC = "alter_sync = 2"
#: ClickHouse 26.6+ refuses ``REPLACE PARTITION`` from a source with no part in the partition
#: unless this is set; older servers (the deployment's 25.8) do not know it and replace with
#: nothing, which is what a shard whose stage has no row of the month needs
EMPTY_SOURCE_SETTING = "allow_replace_partition_from_empty_source"


def qualified(database: str, name: str) -> str:
    """``database.name``, quoted (what reads and inserts name, Distributed on a cluster)."""
    return f"{quote_identifier(database)}.{quote_identifier(name)}"


def local_name(name: str) -> str:
    """The replicated table behind the Distributed table ``name`` on a cluster."""
    return f"{name}{LOCAL_SUFFIX}"


def data_target(database: str, name: str, cluster: bool) -> str:
    """What a mutation, partition command or OPTIMIZE names: the table itself on one node;
    ``database.name_local ON CLUSTER '{cluster}'`` on a cluster."""
    if not cluster:
        return qualified(database, name)
    return f"{qualified(database, local_name(name))} {ON_CLUSTER}"


def client_settings(insert_quorum: int | str) -> dict[str, int | str]:
    """ClickHouse settings of every statement of a cluster connection (docs/warehouse-cluster.md):
    inserts through Distributed tables return when every shard has its rows, on
    ``insert_quorum`` replicas of it, and are never buffered across batches."""
    return {
        "distributed_foreground_insert": 1,
        "insert_quorum": insert_quorum,
        "async_insert": 0,
    }


def insert_settings(cluster: bool, dedup_token: str | None) -> dict[str, int | str] | None:
    """Settings of one Arrow insert. One node: none (unchanged). A cluster: the batch's
    ``insert_deduplication_token`` (a retry of the same records is dropped by the replicas),
    and without a token no block deduplication at all (``insert_deduplicate = 0``): a hash of
    the content would drop a result restated back to an earlier value within the window;
    ReplacingMergeTree by key stays the guarantee."""
    if not cluster:
        return None
    if dedup_token is None:
        return {"insert_deduplicate": 0}
    return {"insert_deduplication_token": dedup_token}


def _settings_clause(settings: Sequence[str]) -> str:
    return f" SETTINGS {', '.join(settings)}" if settings else ""


def optimize_final_sql(database: str, name: str, cluster: bool) -> str:
    """Merge a table completely (``OPTIMIZE ... FINAL``), every shard and replica on a cluster."""
    sync = [REPLICAS_SYNC] if cluster else []
    return f"OPTIMIZE TABLE {data_target(database, name, cluster)} FINAL{_settings_clause(sync)}"


def delete_sql(database: str, name: str, condition: str, cluster: bool) -> str:
    """``ALTER TABLE ... DELETE WHERE condition``, waiting for every replica (mutations_sync 2)."""
    return (
        f"ALTER TABLE {data_target(database, name, cluster)} DELETE WHERE {condition} "
        "SETTINGS mutations_sync = 2"
    )


def replace_partition_sql(
    database: str,
    name: str,
    partition_id: str,
    stage: str,
    cluster: bool,
    *,
    allow_empty_source: bool = False,
) -> str:
    """Swap partition ``partition_id`` of ``name`` for the stage's (atomic per table: per
    shard on a cluster, where the stage named is ``stage``'s local table)."""
    source = qualified(database, local_name(stage) if cluster else stage)
    settings = [REPLICAS_SYNC] if cluster else []
    if cluster and allow_empty_source:
        settings.append(f"{EMPTY_SOURCE_SETTING} = 1")
    return (
        f"ALTER TABLE {data_target(database, name, cluster)} "
        f"REPLACE PARTITION ID '{_partition_id(partition_id)}' FROM {source}"
        + _settings_clause(settings)
    )


def drop_partition_sql(database: str, name: str, partition_id: str, cluster: bool) -> str:
    """Drop partition ``partition_id`` of ``name`` (on every shard on a cluster)."""
    sync = [REPLICAS_SYNC] if cluster else []
    return (
        f"ALTER TABLE {data_target(database, name, cluster)} "
        f"DROP PARTITION ID '{_partition_id(partition_id)}'" + _settings_clause(sync)
    )


def _partition_id(partition_id: str) -> str:
    if not partition_id.isalnum():
        raise ValueError(f"partition id {partition_id!r} is not alphanumeric")
    return partition_id


def stage_create_sql(
    database: str,
    stage: str,
    like: str,
    cluster: bool,
    *,
    replicated_engine: str = "",
    storage: str = "",
    sharding_key: str = "",
) -> list[str]:
    """Create a staging table shaped like ``like``.

    One node: ``CREATE TABLE stage AS like`` (same columns, engine, partitioning). A cluster:
    a replicated ``stage_local`` ON CLUSTER with the columns of ``like_local``, the engine
    ``Replicated<replicated_engine>`` on the stage's own Keeper path and ``storage`` (its
    PARTITION BY / ORDER BY, which must equal ``like``'s for a partition swap; copying the
    engine of ``like_local`` would reuse its Keeper path), then a Distributed ``stage`` in
    front of it with ``like``'s ``sharding_key``, so every row lands on the shard whose
    ``like_local`` holds its key.
    """
    if not cluster:
        return [f"CREATE TABLE {qualified(database, stage)} AS {qualified(database, like)}"]
    if not (replicated_engine and storage and sharding_key):
        raise ValueError("a cluster stage needs its engine, storage clause and sharding key")
    local = local_name(stage)
    path = ZK_PATH % stage
    return [
        f"CREATE TABLE {qualified(database, local)} {ON_CLUSTER} "
        f"AS {qualified(database, local_name(like))} "
        f"ENGINE = Replicated{replicated_engine}('{path}', {REPLICA}) {storage}",
        f"CREATE TABLE {qualified(database, stage)} {ON_CLUSTER} "
        f"AS {qualified(database, local)} "
        f"ENGINE = Distributed({CLUSTER}, {quote_identifier(database)}, "
        f"{quote_identifier(local)}, {sharding_key})",
    ]


def stage_insert_sql(database: str, stage: str, columns: str, select: str, cluster: bool) -> str:
    """Fill a staging table from a SELECT; on a cluster in the foreground, routed by the
    stage's sharding key."""
    settings = f"SETTINGS {COPY_SETTINGS} " if cluster else ""
    return f"INSERT INTO {qualified(database, stage)} ({columns}) {settings}{select}"


def stage_sync_sql(database: str, stage: str, cluster: bool) -> list[str]:
    """Before a swap on a cluster: every replica of the stage fetches its shard's parts (the
    swap runs on one replica per shard and takes the parts that replica has)."""
    if not cluster:
        return []
    return [f"SYSTEM SYNC REPLICA {ON_CLUSTER} {qualified(database, local_name(stage))}"]


def stage_drop_sql(database: str, stage: str, cluster: bool) -> list[str]:
    """Drop a staging table (on a cluster: its Distributed table, then the local tables)."""
    if not cluster:
        return [f"DROP TABLE IF EXISTS {qualified(database, stage)} SYNC"]
    return [
        f"DROP TABLE IF EXISTS {qualified(database, name)} {ON_CLUSTER} SYNC"
        for name in (stage, local_name(stage))
    ]
