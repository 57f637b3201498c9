"""``docs/tables.md``, generated from the warehouse's own comments.

The meaning of every table and column lives in ONE place: the ClickHouse
``COMMENT`` of the migrations in ``schemas/clickhouse/``. This module migrates
a fresh, temporary embedded warehouse with those files (the same
:func:`~pipelines.warehouse.migrations.migrate` as ``pulse migrate``), reads
``system.tables`` and ``system.columns`` and renders Markdown for analysts and
finance, with one example query per table from :data:`EXAMPLE_QUERIES`.

Regenerate with ``make docs``, i.e.::

    python -m pipelines.warehouse.table_docs --out docs/tables.md

``--check`` compares instead of writing (exit 1 when the file is stale).
``tests/integration/warehouse/test_table_docs.py`` fails when the file is out of
date, a column has no comment, or a table has no example query.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipelines.connectors.warehouse import Warehouse
from pipelines.warehouse.migrations import MIGRATIONS_DIR, load_migrations, migrate

DATABASE = "pulse"

#: tables are listed layer by layer, in this order
LAYERS = ("raw_", "fct_", "agg_", "dim_")

#: pulse's own bookkeeping, not a table for analysts (see ``migrations.py``)
BOOKKEEPING_TABLES = frozenset({"schema_migrations"})

#: One example per table: what an analyst or finance reader typically asks of it.
EXAMPLE_QUERIES: dict[str, str] = {
    "raw_rejected_events": """\
-- Rejected input per stream and reason code
SELECT stream, reason, count() AS rejected
FROM pulse.raw_rejected_events FINAL
GROUP BY stream, reason
ORDER BY rejected DESC""",
    "raw_late_events": """\
-- Late events per stream and UTC day, and how far behind the watermark they were
SELECT stream, toDate(event_time) AS day, count() AS late_events,
       max(dateDiff('minute', event_time, watermark)) AS max_minutes_behind
FROM pulse.raw_late_events FINAL
GROUP BY stream, day
ORDER BY day, stream""",
    "fct_attributed_clicks": """\
-- Clicks and money per status and currency (money stays integer micros)
SELECT status, currency, count() AS clicks, countIf(payable) AS payable_clicks,
       sum(gross_micros) AS gross_micros, sum(creator_micros) AS creator_micros,
       sum(platform_micros) AS platform_micros
FROM pulse.fct_attributed_clicks FINAL
GROUP BY status, currency
ORDER BY clicks DESC""",
    "fct_engagement_windows": """\
-- The most engaging high windows
SELECT creator_id, window_start, window_end, views, unique_viewers, comments,
       valid_clicks, round(engagement_rate, 4) AS rate
FROM pulse.fct_engagement_windows FINAL
WHERE high
ORDER BY engagement_rate DESC, creator_id
LIMIT 20""",
    "fct_eligibility": """\
-- Why creators were not eligible at the latest evaluation time
SELECT arrayJoin(reasons) AS reason, count() AS creators
FROM pulse.fct_eligibility FINAL
WHERE as_of = (SELECT max(as_of) FROM pulse.fct_eligibility)
GROUP BY reason
ORDER BY creators DESC""",
    "fct_eligibility_transitions": """\
-- Eligibility history of one creator
SELECT as_of, transition, reasons
FROM pulse.fct_eligibility_transitions FINAL
WHERE creator_id = 'cr_00001'
ORDER BY as_of""",
    "agg_creator_payouts_daily": """\
-- Monthly payouts per creator and currency (micros; 1 unit = 1,000,000 micros)
SELECT creator_id, toStartOfMonth(day) AS month, currency,
       sum(payable_clicks) AS payable_clicks, sum(creator_micros) AS creator_micros
FROM pulse.agg_creator_payouts_daily
GROUP BY creator_id, month, currency
ORDER BY month, creator_micros DESC""",
    "dim_creator_profiles": """\
-- Each creator's profile as of a given instant (latest version with updated_at <= T)
SELECT creator_id, max(updated_at) AS version,
       argMax(followers, updated_at) AS followers,
       argMax(lifetime_views, updated_at) AS lifetime_views,
       argMax(country, updated_at) AS country
FROM pulse.dim_creator_profiles FINAL
WHERE updated_at <= toDateTime64('2026-01-01 00:00:00', 3, 'UTC')
GROUP BY creator_id""",
    "raw_ingest_ledger": """\
-- Where every input line went, per run and source (lines = the four outcomes)
SELECT run_id, stream, source, lines, accepted, rejected, replays, late,
       lines = accepted + rejected + replays + late AS balanced
FROM pulse.raw_ingest_ledger FINAL
ORDER BY recorded_at DESC, stream, source
LIMIT 20""",
    "fct_payout_closes": """\
-- Closed months, and whether any was closed before its data was final
SELECT month, closed_at, forced, final_after, seen_event_time, statement_rows
FROM pulse.fct_payout_closes
ORDER BY month""",
    "fct_payout_statements": """\
-- What to pay each creator for one closed month, per currency (micros)
SELECT statement_id, creator_id, currency, payable_clicks, creator_micros
FROM pulse.fct_payout_statements
WHERE month = toDate('2026-10-01')
ORDER BY currency, creator_micros DESC""",
    "fct_payout_adjustments": """\
-- Corrections of earlier months carried by one month's payment
SELECT creator_id, currency, for_month, reason, creator_micros_delta
FROM pulse.fct_payout_adjustments FINAL
WHERE booked_month = toDate('2026-11-01')
ORDER BY creator_id, currency, for_month""",
    "dim_campaigns": """\
-- The campaign version in force at each click (price, status, billable period)
SELECT c.click_id, c.event_time, k.updated_at AS version, k.cpc_micros, k.currency,
       k.status, k.starts_at, k.ends_at
FROM (SELECT * FROM pulse.fct_attributed_clicks FINAL) AS c
ASOF LEFT JOIN (SELECT * FROM pulse.dim_campaigns FINAL) AS k
  ON c.campaign_id = k.campaign_id AND c.event_time >= k.updated_at
ORDER BY c.event_time
LIMIT 20""",
}

INTRO = """\
<!-- Generated by `make docs` (pipelines/warehouse/table_docs.py) from the column
comments of schemas/clickhouse/*.sql. Do not edit by hand: change the comments
with a new migration, then run `make docs`. -->

# Warehouse tables

Every table of the ClickHouse database `pulse`, for analysts and finance. Names
follow layers: `raw_*` (input set aside: rejected or late), `fct_*` (one row per
business event or evaluation), `agg_*` (rollups), `dim_*` (dimensions). The rules
behind each value are in [rules.md](rules.md).

Conventions:

- Instants are `DateTime64(3, 'UTC')` (millisecond precision, UTC); `day` is a
  UTC `Date`.
- Money is `Int64` **micros** of the row's `currency` (1 unit = 1,000,000
  micros). Sum micros as integers; never add different currencies.
- In a `ReplacingMergeTree` table (the engine of each table is given below) rows
  with the same sorting key replace each other when ClickHouse merges parts, which
  is how replays and re-runs never double-count. After `pulse run` the tables are
  fully merged and plain `SELECT`s are exact; while a streaming loader is writing,
  add `FINAL` after the table name, as the examples do.
  `agg_creator_payouts_daily` needs no `FINAL`: it is rebuilt a whole month at a
  time and swapped in atomically. Plain `MergeTree` tables are append-only.
- The key columns of the public contract come first, in order; more columns may
  be added later, so name the columns you select rather than relying on `*`.
"""


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str
    comment: str
    default_kind: str  # "" or "MATERIALIZED", "DEFAULT", "ALIAS", ...
    in_sorting_key: bool
    in_partition_key: bool


@dataclass(frozen=True)
class TableDoc:
    name: str
    comment: str
    engine: str  # e.g. "ReplacingMergeTree(keep_first_version)"
    sorting_key: str
    partition_key: str
    columns: tuple[ColumnDoc, ...]


def _sql_text(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _engine(engine_full: str, engine: str) -> str:
    """The engine with its parameters, without PARTITION BY / ORDER BY / SETTINGS."""
    head = re.split(r" (?:PARTITION BY|PRIMARY KEY|ORDER BY|SAMPLE BY|TTL|SETTINGS) ", engine_full)
    return head[0].strip() or engine


def _creation_order(directory: Path) -> dict[str, int]:
    """Table name -> version of the migration that creates it (tables in contract order)."""
    pattern = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?\{database\}\.`?(\w+)`?")
    order: dict[str, int] = {}
    for migration in load_migrations(directory):
        for name in pattern.findall(migration.sql):
            order.setdefault(name, migration.version)
    return order


def _layer(name: str) -> int:
    """Position of the table's layer: raw_, fct_, agg_, dim_, then anything else."""
    prefix = name.split("_", 1)[0] + "_"
    return LAYERS.index(prefix) if prefix in LAYERS else len(LAYERS)


def read_table_docs(wh: Warehouse, directory: Path = MIGRATIONS_DIR) -> list[TableDoc]:
    """Tables and columns of the warehouse database with their comments.

    Skips pulse's bookkeeping and transient tables (names starting with ``_``).
    Tables come layer by layer (:data:`LAYERS`), within a layer in the order of
    the migrations that create them.
    """
    db = _sql_text(wh.database)
    _names, table_rows = wh.query_rows(
        "SELECT name, comment, engine, engine_full, sorting_key, partition_key "
        f"FROM system.tables WHERE database = {db} AND NOT startsWith(name, '_')"
    )
    _names, column_rows = wh.query_rows(
        "SELECT table, name, type, comment, default_kind, is_in_sorting_key, "
        f"is_in_partition_key FROM system.columns WHERE database = {db} "
        "ORDER BY table, position"
    )
    columns: dict[str, list[ColumnDoc]] = {}
    for table, name, type_, comment, kind, in_sorting, in_partition in column_rows:
        columns.setdefault(str(table), []).append(
            ColumnDoc(
                str(name), str(type_), str(comment), str(kind), bool(in_sorting), bool(in_partition)
            )
        )
    order = _creation_order(directory)
    docs = [
        TableDoc(
            name=str(name),
            comment=str(comment),
            engine=_engine(str(engine_full), str(engine)),
            sorting_key=str(sorting_key),
            partition_key=str(partition_key),
            columns=tuple(columns.get(str(name), [])),
        )
        for name, comment, engine, engine_full, sorting_key, partition_key in table_rows
        if str(name) not in BOOKKEEPING_TABLES
    ]
    return sorted(docs, key=lambda t: (_layer(t.name), order.get(t.name, 1 << 30), t.name))


def collect(directory: Path = MIGRATIONS_DIR) -> list[TableDoc]:
    """Migrate a fresh temporary embedded warehouse and read its table docs.

    chdb serves one warehouse folder per process: call this where no other
    embedded warehouse is open.
    """
    with (
        tempfile.TemporaryDirectory(prefix="pulse-table-docs-") as tmp,
        Warehouse.connect(str(Path(tmp) / "warehouse"), database=DATABASE) as wh,
    ):
        migrate(wh, directory)
        return read_table_docs(wh, directory)


def missing_comments(tables: Sequence[TableDoc]) -> list[str]:
    """``table.column`` of every column without a comment (and ``table`` without one)."""
    missing = [t.name for t in tables if not t.comment.strip()]
    missing += [f"{t.name}.{c.name}" for t in tables for c in t.columns if not c.comment.strip()]
    return missing


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _key_summary(table: TableDoc) -> str:
    parts = [f"Engine `{table.engine}`"]
    if table.sorting_key:
        parts.append(f"sorting key (one row per key) `({table.sorting_key})`")
    if table.partition_key:
        parts.append(f"partitioned by `{table.partition_key}`")
    return ", ".join(parts) + "."


def render_table(table: TableDoc) -> str:
    lines = [f"## `{table.name}`", "", _cell(table.comment) + ".", "", _key_summary(table), ""]
    lines += ["| column | type | key | meaning |", "| --- | --- | --- | --- |"]
    for column in table.columns:
        type_ = f"`{_cell(column.type)}`"
        if column.default_kind:
            type_ += f" {column.default_kind}"
        key = ", ".join(
            label
            for label, flag in (
                ("sort", column.in_sorting_key),
                ("partition", column.in_partition_key),
            )
            if flag
        )
        lines.append(f"| `{column.name}` | {type_} | {key} | {_cell(column.comment)} |")
    example = EXAMPLE_QUERIES.get(table.name)
    if example is not None:
        lines += ["", "Example:", "", "```sql", example.strip(), "```"]
    return "\n".join(lines)


def render(tables: Sequence[TableDoc]) -> str:
    """The whole Markdown document."""
    index = ["| table | what it holds |", "| --- | --- |"]
    index += [f"| [`{t.name}`](#{t.name}) | {_cell(t.comment)} |" for t in tables]
    sections = [INTRO.rstrip(), "\n".join(index), *(render_table(t) for t in tables)]
    return "\n\n".join(sections) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.warehouse.table_docs",
        description="Render docs/tables.md from the comments of the warehouse migrations.",
    )
    parser.add_argument("--out", type=Path, help="write here (default: standard output)")
    parser.add_argument(
        "--check", action="store_true", help="with --out: exit 1 if the file is not up to date"
    )
    args = parser.parse_args(argv)
    text = render(collect())
    if args.out is None:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
        if current != text:
            print(f"{args.out} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
