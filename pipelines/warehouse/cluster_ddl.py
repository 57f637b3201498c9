"""The warehouse at cluster scale: a cluster form of every migration, generated.

``pulse migrate`` applies ``schemas/clickhouse/NNNN_name.sql`` to ONE server (or the embedded
chdb). A sharded, replicated ClickHouse cluster needs other DDL: this module derives it, by
code, from those same migrations, so a new migration gets its cluster form automatically.
Each ``schemas/clickhouse/NNNN_name.sql`` becomes ``schemas/clickhouse/cluster/NNNN_name.sql``:

* ``CREATE TABLE t`` -> a LOCAL table ``t_local ON CLUSTER '{cluster}'`` whose engine is the
  Replicated variant of ``t``'s (``ReplacingMergeTree(v)`` ->
  ``ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/t', '{replica}', v)``),
  with the same columns, PARTITION BY, ORDER BY, SETTINGS and comments (copied verbatim), then
  a ``Distributed('{cluster}', db, t_local, <sharding key>)`` table under the ORIGINAL name
  ``t``, so every query and insert of pulse keeps naming ``t``;
* ``ALTER TABLE t ...`` -> the same ALTER on ``t_local ON CLUSTER`` and, for column metadata
  (``COMMENT COLUMN``, ``ADD/MODIFY/DROP/RENAME COLUMN``, ``MODIFY COMMENT``: all a Distributed
  table supports), on ``t ON CLUSTER`` too;
* ``DROP TABLE t`` -> drops the Distributed ``t`` and the local ``t_local``, ON CLUSTER;
* ``INSERT INTO a SELECT ... FROM b`` -> flush ``b``'s pending background sends, then the insert
  through the Distributed tables in the foreground, rows re-routed by ``a``'s sharding key;
* ``EXCHANGE TABLES a AND b`` -> flush both, exchange ``a_local`` and ``b_local`` ON CLUSTER,
  then re-create both Distributed tables (``CREATE OR REPLACE``) for the structure and sharding
  key of the table each name now holds.

Every file ends by recording its migration in ``schema_migrations`` with the checksum of the
SINGLE-NODE file: ``pulse migrate`` (which the loader runs at start) then finds nothing
pending on the cluster instead of applying single-node DDL to one node. ``0000_schema_migrations
.sql`` creates the database and that bookkeeping table (replicated to every host, no shards).

Sharding keys (:data:`SHARDING_KEYS`) are declared per table with the reason; every column of
a key must be a column of the table's sorting key, so that all copies and versions of a row
(which ReplacingMergeTree collapses only within one shard) land on the same shard. A table
without a declared key gets ``cityHash64`` of its whole sorting key (correct, not tuned).

Files keep pulse's ``{database}`` placeholder where an identifier goes (as migrations do); in
string literals ``{database}``, ``{shard}``, ``{replica}``, ``{cluster}`` and ``{uuid}`` are
ClickHouse's own macros, expanded by each server: :func:`render` replaces only the first.
Every statement is parsed by ClickHouse's parser in chdb (``formatQuery``,
``tests/integration/warehouse/test_cluster_ddl.py``); none was ever run against a server here.
See docs/warehouse-cluster.md.

Regenerate::

    python -m pipelines.warehouse.cluster_ddl --out schemas/clickhouse/cluster

``--check`` compares instead of writing; without ``--out`` the statements are printed,
rendered for ``--database``, ready for ``clickhouse-client --multiquery``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from pipelines.connectors.warehouse import Warehouse
from pipelines.connectors.warehouse_cluster import (
    CLUSTER,
    COPY_SETTINGS,
    LOCAL_SUFFIX,
    ON_CLUSTER,
    REPLICA,
    ZK_PATH,
)
from pipelines.connectors.warehouse_target import IDENTIFIER, quote_identifier
from pipelines.errors import WarehouseError
from pipelines.warehouse.migrations import (
    BOOKKEEPING_TABLE,
    MIGRATIONS_DIR,
    Migration,
    _ensure_bookkeeping,
    load_migrations,
    split_statements,
)

CLUSTER_DIR = MIGRATIONS_DIR / "cluster"
DB = "{database}"  # pulse's placeholder for the database identifier
# CLUSTER, ON_CLUSTER, REPLICA, LOCAL_SUFFIX, ZK_PATH (the Keeper path of a local table's
# replicas: ``{shard}`` and ``{database}`` are macros, the table name is the migration's) and
# COPY_SETTINGS come from pipelines.connectors.warehouse_cluster, their one home, shared with
# the cluster form of pulse's own writes
#: a table a migration creates in order to EXCHANGE it in: its path moves with it to the
#: other name, so a path made of the name alone would collide when the migration is applied
#: again; ``{uuid}`` (the same on every replica of an ON CLUSTER create) makes it unique
SWAP_ZK_PATH = "/clickhouse/tables/{shard}/{database}/%s/{uuid}"
#: the migration bookkeeping: ONE replica set over every host of the cluster (no ``{shard}``),
#: so the loader's ``pulse migrate`` reads the same rows on whichever host it reaches
BOOKKEEPING_ZK_PATH = "/clickhouse/tables/all/{database}/" + BOOKKEEPING_TABLE
BOOKKEEPING_FILE = "0000_schema_migrations.sql"
#: ALTER commands a Distributed table supports (column metadata): applied to it too
DISTRIBUTED_ALTERS = (
    "ADD COLUMN",
    "MODIFY COLUMN",
    "DROP COLUMN",
    "COMMENT COLUMN",
    "RENAME COLUMN",
    "MODIFY COMMENT",
)


class ClusterDDLError(WarehouseError):
    """A migration statement has no cluster form (extend this module), or a key is wrong."""


@dataclass(frozen=True)
class ShardingKey:
    """Columns hashed (``cityHash64``) to pick a row's shard, and why they were chosen."""

    columns: tuple[str, ...]
    why: str

    @property
    def expression(self) -> str:
        return f"cityHash64({', '.join(self.columns)})"


_CREATOR = (
    "every version of a row shares its creator_id, so ReplacingMergeTree replaces it on one "
    "shard; all rows of a creator sit together (per-creator reads stay on one shard)"
)

#: The sharding key of every table, by the name a migration creates it under.
SHARDING_KEYS: dict[str, ShardingKey] = {
    "raw_rejected_events": ShardingKey(
        ("stream", "source"),
        "the dedup key starts with (stream, source) both in 0001 (raw hash) and after 0011 "
        "(line/offset), so copies of a dead letter meet on one shard and the re-keying moves "
        "no row between shards; a bounded run replaces a file's dead letters by (stream, "
        "source), and reconcile counts them per (stream, source) against raw_ingest_ledger, "
        "which is sharded the same way",
    ),
    "raw_rejected_events_by_line": ShardingKey(
        ("stream", "source"),
        "becomes raw_rejected_events in 0011: the same key, so the copy keeps every row on "
        "its shard",
    ),
    "raw_late_events": ShardingKey(
        ("stream", "event_id"),
        "a replayed late event repeats (stream, event_id, event_time) and an event's time "
        "never changes, so (stream, event_id) keeps the copies together and spreads evenly",
    ),
    "fct_attributed_clicks": ShardingKey(
        ("click_id",),
        "the ReplacingMergeTree key itself: every re-emission of a click reaches the shard "
        "holding the earlier ones; clicks spread evenly (rollups read them through the "
        "Distributed table)",
    ),
    "fct_engagement_windows": ShardingKey(
        ("creator_id",),
        "a recomputed (creator_id, window_start, window_end) window replaces the earlier row; "
        + _CREATOR,
    ),
    "fct_eligibility": ShardingKey(
        ("creator_id",), "a re-evaluated (creator_id, as_of) replaces the earlier row; " + _CREATOR
    ),
    "fct_eligibility_transitions": ShardingKey(
        ("creator_id",), "key (creator_id, as_of); " + _CREATOR
    ),
    "agg_creator_payouts_daily": ShardingKey(
        ("creator_id",),
        "key (creator_id, day, currency); " + _CREATOR + "; a month is rebuilt on EVERY shard, "
        "staged by this same key and swapped per shard (pipelines/warehouse/rollups.py)",
    ),
    "dim_creator_profiles": ShardingKey(
        ("creator_id",),
        "every version of a profile is on one shard, so 'the latest version with updated_at "
        "<= T' of a creator is decided on one shard",
    ),
    "dim_campaigns": ShardingKey(
        ("campaign_id",),
        "every version of a campaign is on one shard, so 'the version in force at t' is "
        "decided on one shard",
    ),
    "raw_ingest_ledger": ShardingKey(
        ("stream", "source"),
        "a batch redone after an ingest crash replaces its (stream, source, run_id, "
        "first_position) row on the same shard; the same key as raw_rejected_events, so a "
        "source's ledger rows and dead letters share a shard",
    ),
    "fct_payout_closes": ShardingKey(
        ("month",),
        "plain MergeTree, one row per closed month, only appended: any deterministic key "
        "works; by month, a retried insert of the same close reaches the same shard, where "
        "insert deduplication can drop it",
    ),
    "fct_payout_statements": ShardingKey(
        ("creator_id",),
        "plain MergeTree, appended at the close; pulse close removes a month's orphans with "
        "ALTER DELETE WHERE month, which runs on every shard and needs no co-location; by "
        "creator, a creator's statements sit with their adjustments",
    ),
    "fct_payout_adjustments": ShardingKey(
        ("creator_id",),
        "ReplacingMergeTree(booked_at) on (for_month, booked_month, creator_id, currency): "
        "every version of an adjustment row shares its creator, so the newest booked_at wins "
        "on one shard; co-located with the creator's statements",
    ),
}


@dataclass(frozen=True)
class TableState:
    """What the local table ``<name>_local`` holds after the migrations so far."""

    name: str  # the name of its migration's CREATE (swaps move states between names)
    order_by: str
    comment: str | None  # the table COMMENT literal, quoted as in the migration
    key: ShardingKey
    declared: bool  # the key comes from SHARDING_KEYS (else: hash of the whole sorting key)


@dataclass
class Generated:
    """The cluster files (name -> text) and the tables after the last migration."""

    files: dict[str, str] = field(default_factory=dict)
    tables: dict[str, TableState] = field(default_factory=dict)


# --- SQL text: literals, placeholders ----------------------------------------------------

_TOKEN = re.compile(r"'(?:[^'\\]|\\.|'')*'|`(?:[^`\\]|\\.)*`|--[^\n]*", re.DOTALL)


def _pieces(sql: str) -> Iterator[tuple[str, str]]:
    """``(kind, text)`` pieces: ``code``, ``literal`` ('...'), ``name`` (`...`), ``comment``."""
    position = 0
    for match in _TOKEN.finditer(sql):
        if match.start() > position:
            yield "code", sql[position : match.start()]
        text = match.group(0)
        kind = {"'": "literal", "`": "name"}.get(text[0], "comment")
        yield kind, text
        position = match.end()
    if position < len(sql):
        yield "code", sql[position:]


def _masked(sql: str) -> str:
    """``sql`` with the insides of string literals and comments blanked (same length), so
    clause searches never match inside a comment text."""
    out = []
    for kind, text in _pieces(sql):
        if kind == "literal":
            out.append("'" + " " * (len(text) - 2) + "'")
        elif kind == "comment":
            out.append(" " * len(text))
        else:
            out.append(text)
    return "".join(out)


def render(sql: str, database: str) -> str:
    """Replace pulse's ``{database}`` placeholder outside string literals and comments.

    Inside literals ``{database}`` is ClickHouse's macro (the ZooKeeper paths) and stays.
    """
    quoted = quote_identifier(database)
    return "".join(
        text.replace(DB, quoted) if kind == "code" else text for kind, text in _pieces(sql)
    )


def cluster_statements(text: str, database: str) -> list[str]:
    """The statements of a cluster file, rendered for ``database`` (no trailing ``;``)."""
    return split_statements(render(text, database))


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _local(name: str) -> str:
    return f"{DB}.{name}{LOCAL_SUFFIX}"


def _closing_paren(masked: str, start: int) -> int:
    """Index of the ``)`` matching the ``(`` at ``start``."""
    depth = 0
    for index in range(start, len(masked)):
        if masked[index] == "(":
            depth += 1
        elif masked[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    raise ClusterDDLError(f"unbalanced parentheses in: {masked[start : start + 60]}")


def _top_level_split(masked: str, start: int) -> list[tuple[int, int]]:
    """Spans of the comma-separated items of ``masked[start:]`` at parenthesis depth 0."""
    spans = []
    depth = 0
    begin = start
    for index in range(start, len(masked)):
        char = masked[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            spans.append((begin, index))
            begin = index + 1
    spans.append((begin, len(masked)))
    return spans


# --- CREATE TABLE --------------------------------------------------------------------------

_CREATE = re.compile(r"^CREATE TABLE IF NOT EXISTS \{database\}\.(\w+)(?=\s)")
_ENGINE = re.compile(r"\bENGINE\s*=\s*(?P<name>\w+)(?:\s*\((?P<args>[^()]*)\))?")
_CLAUSE = r"(?:PARTITION BY|PRIMARY KEY|ORDER BY|SAMPLE BY|TTL|SETTINGS|COMMENT)"
_ORDER_BY = re.compile(rf"\bORDER BY\s+(?P<key>.+?)\s*(?=\b{_CLAUSE}\b|\Z)", re.DOTALL)
_TABLE_COMMENT = re.compile(r"\bCOMMENT\s+(?P<literal>'\s*')\s*\Z")


@dataclass(frozen=True)
class _Create:
    name: str
    header_end: int  # end of ``CREATE TABLE IF NOT EXISTS {database}.name``
    engine: tuple[int, int, str, str]  # span, engine name, engine arguments
    order_by: str
    comment: str | None


def _parse_create(statement: str) -> _Create:
    header = _CREATE.match(statement)
    if header is None:
        raise ClusterDDLError(
            "a CREATE TABLE must read `CREATE TABLE IF NOT EXISTS {database}.name (...)`: "
            + statement[:80]
        )
    masked = _masked(statement)
    columns_start = masked.find("(", header.end())
    if columns_start < 0 or masked[header.end() : columns_start].strip():
        raise ClusterDDLError(f"{header.group(1)}: no column list after the name")
    tail_start = _closing_paren(masked, columns_start) + 1
    tail = masked[tail_start:]
    engine = _ENGINE.search(tail)
    order_by = _ORDER_BY.search(tail)
    if engine is None or order_by is None:
        raise ClusterDDLError(f"{header.group(1)}: ENGINE and ORDER BY are needed")
    comment = _TABLE_COMMENT.search(tail)
    literal = comment.span("literal") if comment else None
    return _Create(
        name=header.group(1),
        header_end=header.end(),
        engine=(
            tail_start + engine.start(),
            tail_start + engine.end(),
            engine.group("name"),
            (engine.group("args") or "").strip(),
        ),
        order_by=statement[tail_start + order_by.start("key") : tail_start + order_by.end("key")],
        comment=statement[tail_start + literal[0] : tail_start + literal[1]] if literal else None,
    )


def _replicated_engine(name: str, args: str, zk_path: str) -> str:
    if not name.endswith("MergeTree") or name.startswith("Replicated"):
        raise ClusterDDLError(f"engine {name} has no Replicated variant here: extend cluster_ddl")
    arguments = [_sql_string(zk_path), REPLICA] + ([args] if args else [])
    return f"ENGINE = Replicated{name}({', '.join(arguments)})"


def _local_create(statement: str, create: _Create, target: str, zk_path: str) -> str:
    """The CREATE of ``target`` ON CLUSTER with the Replicated engine, the rest verbatim."""
    start, end, engine, args = create.engine
    return (
        f"CREATE TABLE IF NOT EXISTS {target} {ON_CLUSTER}"
        + statement[create.header_end : start]
        + _replicated_engine(engine, args, zk_path)
        + statement[end:]
    )


def _columns_of(expression: str) -> set[str]:
    masked = _masked(expression)
    return {name.strip("`") for name in re.findall(r"`\w+`|\b[A-Za-z_]\w*\b(?!\s*\()", masked)}


def resolve_key(name: str, order_by: str) -> tuple[ShardingKey, bool]:
    """The declared sharding key of ``name`` (checked against its sorting key), or the hash
    of the whole sorting key when none is declared."""
    declared = SHARDING_KEYS.get(name)
    if declared is None:
        key = order_by.strip()
        if key.startswith("(") and _closing_paren(_masked(key), 0) == len(key) - 1:
            key = key[1:-1].strip()
        if not key or key == "tuple()":
            raise ClusterDDLError(f"{name} has no sorting key: declare its SHARDING_KEYS entry")
        default = ShardingKey((key,), "default: cityHash64 of the whole sorting key")
        return default, False
    sorting_columns = _columns_of(order_by)
    for column in declared.columns:
        if not IDENTIFIER.match(column):
            raise ClusterDDLError(f"{name}: sharding key column {column!r} is not a plain name")
        if column not in sorting_columns:
            raise ClusterDDLError(
                f"{name}: sharding key column {column} is not in the sorting key {order_by}: "
                "ReplacingMergeTree only collapses rows that land on the same shard"
            )
    return declared, True


def _distributed(state: TableState, target: str, *, replace_existing: bool) -> str:
    create = "CREATE OR REPLACE TABLE" if replace_existing else "CREATE TABLE IF NOT EXISTS"
    local = f"{target}{LOCAL_SUFFIX}"
    lines = [
        f"{create} {DB}.{target} {ON_CLUSTER}",
        f"AS {DB}.{local}",
        f"ENGINE = Distributed({CLUSTER}, {DB}, {local}, {state.key.expression})",
    ]
    if state.comment is not None:
        lines.append(f"COMMENT {state.comment}")
    return "\n".join(lines)


def _key_comment(target: str, state: TableState) -> list[str]:
    words = f"{target}: Distributed over every shard, sharding key {state.key.expression}: "
    words += state.key.why + "."
    return _wrap(words)


def _wrap(text: str, width: int = 95) -> list[str]:
    lines: list[str] = []
    line = "--"
    for word in text.split():
        if len(line) + 1 + len(word) > width and line != "--":
            lines.append(line)
            line = "--"
        line += " " + word
    lines.append(line)
    return lines


# --- one migration -------------------------------------------------------------------------


@dataclass
class _Block:
    """One output statement with the comment lines before it."""

    sql: str
    comments: list[str] = field(default_factory=list)


def _swap_tables(statements: Sequence[str]) -> set[str]:
    """Tables this migration creates and also exchanges (their ZooKeeper path needs uuid)."""
    created = {m.group(1) for s in statements if (m := _CREATE.match(s))}
    exchanged = {name for s in statements if (m := _EXCHANGE.match(s)) for name in m.groups()}
    return created & exchanged


_ALTER = re.compile(r"^ALTER TABLE \{database\}\.(\w+)(?=\s)")
_DROP = re.compile(r"^DROP TABLE (IF EXISTS )?\{database\}\.(\w+)( SYNC)?$")
_INSERT = re.compile(r"^INSERT INTO \{database\}\.(\w+)\s*(\([^()]*\))?\s*(?=SELECT\b)", re.DOTALL)
_EXCHANGE = re.compile(r"^EXCHANGE TABLES \{database\}\.(\w+) AND \{database\}\.(\w+)$")
_SOURCE = re.compile(r"\b(?:FROM|JOIN)\s+\{database\}\.(\w+)")


def _need(tables: dict[str, TableState], name: str, statement: str) -> TableState:
    if name not in tables:
        raise ClusterDDLError(f"{name} is not a table of the earlier migrations: {statement[:80]}")
    return tables[name]


def _translate(
    statement: str, tables: dict[str, TableState], swaps: set[str], version: int
) -> list[_Block]:
    """The cluster statements of one migration statement (``tables`` is updated)."""
    if _CREATE.match(statement):
        create = _parse_create(statement)
        path = (SWAP_ZK_PATH if create.name in swaps else ZK_PATH) % create.name
        key, declared = resolve_key(create.name, create.order_by)
        state = TableState(create.name, create.order_by, create.comment, key, declared)
        tables[create.name] = state
        local_note = f"{create.name}{LOCAL_SUFFIX}: this shard's rows, replicated"
        if create.name in swaps:
            local_note += " (a swap table: {uuid} in its path, see the module doc)"
        return [
            _Block(_local_create(statement, create, _local(create.name), path), _wrap(local_note)),
            _Block(
                _distributed(state, create.name, replace_existing=False),
                _key_comment(create.name, state),
            ),
        ]
    if match := _ALTER.match(statement):
        name = match.group(1)
        _need(tables, name, statement)
        masked = _masked(statement)
        heads = [
            " ".join(masked[start:end].split()[:2]).upper()
            for start, end in _top_level_split(masked, match.end())
        ]
        metadata = [head in DISTRIBUTED_ALTERS for head in heads]
        if any(metadata) and not all(metadata):
            raise ClusterDDLError(
                f"ALTER of {name} mixes column metadata and data commands: split it"
            )
        rest = statement[match.end() :]
        local = _Block(f"ALTER TABLE {_local(name)} {ON_CLUSTER}{rest}")
        if not all(metadata):
            return [local]
        front = _Block(f"ALTER TABLE {DB}.{name} {ON_CLUSTER}{rest}")
        return [front, local] if "DROP COLUMN" in heads else [local, front]
    if match := _DROP.match(statement):
        if_exists, name, sync = match.group(1) or "", match.group(2), match.group(3) or ""
        tables.pop(name, None)
        return [
            _Block(f"DROP TABLE {if_exists}{DB}.{name} {ON_CLUSTER}{sync}"),
            _Block(f"DROP TABLE {if_exists}{_local(name)} {ON_CLUSTER}{sync}"),
        ]
    if match := _INSERT.match(statement):
        target = match.group(1)
        _need(tables, target, statement)
        select = statement[match.end() :]
        sources = list(dict.fromkeys(_SOURCE.findall(_masked(select))))
        blocks = []
        for index, source in enumerate(sources):
            _need(tables, source, statement)
            note = [] if index else _wrap("deliver pending background inserts before the copy")
            blocks.append(_Block(f"SYSTEM FLUSH DISTRIBUTED {DB}.{source} {ON_CLUSTER}", note))
        columns = f" {match.group(2)}" if match.group(2) else ""
        blocks.append(
            _Block(
                f"INSERT INTO {DB}.{target}{columns}\nSETTINGS {COPY_SETTINGS}\n{select}",
                _wrap(
                    "through the Distributed tables, in the foreground: every row is routed "
                    f"by {target}'s sharding key and on its shard when the statement returns"
                ),
            )
        )
        return blocks
    if match := _EXCHANGE.match(statement):
        first, second = match.groups()
        state_first = _need(tables, first, statement)
        state_second = _need(tables, second, statement)
        tables[first], tables[second] = state_second, state_first
        return [
            _Block(
                f"SYSTEM FLUSH DISTRIBUTED {DB}.{first} {ON_CLUSTER}",
                _wrap("deliver pending background inserts before the local tables swap"),
            ),
            _Block(f"SYSTEM FLUSH DISTRIBUTED {DB}.{second} {ON_CLUSTER}"),
            _Block(f"EXCHANGE TABLES {_local(first)} AND {_local(second)} {ON_CLUSTER}"),
            _Block(
                _distributed(tables[first], first, replace_existing=True),
                _wrap(
                    "each Distributed table again in front of what its local table now holds "
                    "(structure and sharding key follow the swapped table)"
                ),
            ),
            _Block(_distributed(tables[second], second, replace_existing=True)),
        ]
    raise ClusterDDLError(
        f"migration {version:04d}: no cluster form for this statement (extend "
        f"pipelines/warehouse/cluster_ddl.py): {statement[:80]}"
    )


def _render_file(header: Sequence[str], blocks: Sequence[_Block]) -> str:
    parts = ["\n".join(header)]
    for block in blocks:
        parts.append("\n".join([*block.comments, block.sql + ";"]))
    return "\n\n".join(parts) + "\n"


def _header(source: str, what: str) -> list[str]:
    return [
        "-- Generated by `python -m pipelines.warehouse.cluster_ddl --out schemas/clickhouse/"
        "cluster`",
        *_wrap(f"from {source}: do not edit (docs/warehouse-cluster.md). {what}"),
        "-- Parsed by ClickHouse's parser in chdb, never run against a server here.",
    ]


def _record(migration: Migration) -> _Block:
    return _Block(
        f"INSERT INTO {DB}.{BOOKKEEPING_TABLE} (version, name, checksum, applied_at)\n"
        f"SELECT {migration.version}, {_sql_string(migration.name)}, "
        f"{_sql_string(migration.checksum)}, now64(3, 'UTC')",
        _wrap(
            f"recorded with the checksum of {migration.file_name}: pulse migrate (the loader "
            "runs it at start) then finds it applied and never runs the single-node form"
        ),
    )


def cluster_migration(migration: Migration, tables: dict[str, TableState]) -> str:
    """The cluster file of one migration (``tables``: the state before it; updated)."""
    statements = split_statements(migration.sql)
    swaps = _swap_tables(statements)
    blocks: list[_Block] = []
    for statement in statements:
        blocks.extend(_translate(statement, tables, swaps, migration.version))
    blocks.append(_record(migration))
    header = _header(
        f"schemas/clickhouse/{migration.file_name}",
        "Cluster form: local tables ON CLUSTER with Replicated engines first, then the "
        "Distributed table in front of each under the original name; the last statement "
        "records the migration.",
    )
    return _render_file(header, blocks)


class _RecordingWarehouse:
    """Stands in for a warehouse to read the bookkeeping DDL of ``pulse migrate`` (no I/O)."""

    database = "pulse"

    def __init__(self) -> None:
        self.commands: list[str] = []

    def table(self, name: str) -> str:
        return f"{DB}.{name}"

    def command(self, sql: str) -> None:
        self.commands.append(sql)


def bookkeeping_create() -> str:
    """The ``CREATE TABLE`` of ``schema_migrations`` exactly as ``pulse migrate`` runs it
    (read from :func:`pipelines.warehouse.migrations._ensure_bookkeeping`, so the two never
    differ), with the ``{database}`` placeholder."""
    recorder = _RecordingWarehouse()
    _ensure_bookkeeping(cast(Warehouse, recorder))
    creates = [sql for sql in recorder.commands if sql.startswith("CREATE TABLE")]
    if len(creates) != 1:
        raise ClusterDDLError("pulse migrate's bookkeeping DDL changed: update cluster_ddl")
    return creates[0]


def bookkeeping_file() -> str:
    """``0000_schema_migrations.sql``: the database and the bookkeeping table, on every host."""
    statement = bookkeeping_create()
    create = _parse_create(statement)
    blocks = [
        _Block(f"CREATE DATABASE IF NOT EXISTS {DB} {ON_CLUSTER}"),
        _Block(
            _local_create(statement, create, f"{DB}.{create.name}", BOOKKEEPING_ZK_PATH),
            _wrap(
                f"{create.name}: one replica set over every host (no shard in its path; "
                "{replica} must be unique in the cluster), no Distributed table"
            ),
        ),
    ]
    header = _header(
        "pipelines/warehouse/migrations.py (the bookkeeping of pulse migrate)",
        "Apply first: the database on every host and the table where each cluster file "
        "records its migration.",
    )
    return _render_file(header, blocks)


def generate(directory: Path = MIGRATIONS_DIR) -> Generated:
    """Every cluster file, from the migrations of ``directory`` (pure: reads files only)."""
    generated = Generated()
    generated.files[BOOKKEEPING_FILE] = bookkeeping_file()
    for migration in load_migrations(directory):
        generated.files[migration.file_name] = cluster_migration(migration, generated.tables)
    return generated


def cluster_files(directory: Path = MIGRATIONS_DIR) -> dict[str, str]:
    """File name -> text of every cluster file."""
    return generate(directory).files


def stale_files(out: Path, files: dict[str, str]) -> list[str]:
    """Names of files of ``out`` that differ from ``files``, are missing or are extra."""
    present = {path.name for path in out.glob("*.sql")} if out.is_dir() else set()
    stale = [
        name
        for name, text in files.items()
        if name not in present or (out / name).read_text(encoding="utf-8") != text
    ]
    return sorted(stale + sorted(present - set(files)))


def write_files(out: Path, files: dict[str, str]) -> None:
    """Write ``files`` into ``out`` and remove its other ``*.sql`` files."""
    out.mkdir(parents=True, exist_ok=True)
    for path in out.glob("*.sql"):
        if path.name not in files:
            path.unlink()
    for name, text in files.items():
        path = out / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.warehouse.cluster_ddl",
        description="Generate the cluster form (ON CLUSTER, Replicated*MergeTree, Distributed) "
        "of the warehouse migrations.",
    )
    parser.add_argument("--out", type=Path, help="write the files into this folder")
    parser.add_argument(
        "--check", action="store_true", help="with --out: exit 1 if the folder is not up to date"
    )
    parser.add_argument(
        "--database",
        default="pulse",
        help="without --out: print every statement rendered for this database (default pulse)",
    )
    parser.add_argument(
        "--since",
        type=int,
        default=0,
        help="without --out: only the files of this migration version and later (0000 is the "
        "bookkeeping file)",
    )
    args = parser.parse_args(argv)
    files = cluster_files()
    if args.out is None:
        for name, text in files.items():
            if int(name[:4]) >= args.since:
                sys.stdout.write(f"-- {name}\n")
                for statement in cluster_statements(text, args.database):
                    sys.stdout.write(statement + ";\n\n")
        return 0
    if args.check:
        stale = stale_files(args.out, files)
        if stale:
            print(
                f"{args.out} is out of date ({', '.join(stale)}): run python -m "
                f"pipelines.warehouse.cluster_ddl --out {args.out}",
                file=sys.stderr,
            )
            return 1
        return 0
    write_files(args.out, files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
