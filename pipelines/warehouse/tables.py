"""The warehouse tables as data: names, column order and ClickHouse types.

This registry mirrors ``schemas/clickhouse/*.sql`` (a test compares it with
``system.columns`` after ``pulse migrate``). Loaders build their Arrow tables
from it (:func:`arrow_schema`), so the column order and types a loader sends
are the ones the table has. Key columns come first, in the order of
`the rules (`docs/rules.md`)` "Outputs"; extra columns follow.

Columns computed by ClickHouse itself (``MATERIALIZED``) are not listed: they
are never inserted and ``SELECT *`` does not return them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

INSTANT = "DateTime64(3, 'UTC')"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # exactly as ClickHouse spells it in system.columns


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    order_by: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


def _cols(*pairs: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(name, type_) for name, type_ in pairs)


RAW_REJECTED_EVENTS = Table(
    "raw_rejected_events",
    _cols(
        ("stream", "LowCardinality(String)"),
        ("source", "String"),
        ("line", "Nullable(UInt64)"),
        ("offset", "Nullable(UInt64)"),
        ("reason", "LowCardinality(String)"),
        ("raw", "String"),
        ("detail", "String"),
        ("rejected_at", INSTANT),
    ),
    ("stream", "source", "ifNull(line, 0)", "ifNull(`offset`, 0)"),
)

RAW_LATE_EVENTS = Table(
    "raw_late_events",
    _cols(
        ("stream", "LowCardinality(String)"),
        ("event_id", "String"),
        ("event_time", INSTANT),
        ("watermark", INSTANT),
        ("raw", "String"),
        ("reason", "LowCardinality(String)"),
    ),
    ("stream", "event_id", "event_time"),
)

FCT_ATTRIBUTED_CLICKS = Table(
    "fct_attributed_clicks",
    _cols(
        ("click_id", "String"),
        ("event_time", INSTANT),
        ("user_id", "String"),
        ("ad_id", "String"),
        ("campaign_id", "String"),
        ("video_id", "String"),
        ("creator_id", "Nullable(String)"),
        ("status", "LowCardinality(String)"),
        ("currency", "Nullable(String)"),
        ("gross_micros", "Int64"),
        ("creator_micros", "Int64"),
        ("platform_micros", "Int64"),
        ("creator_eligible", "Bool"),
        ("payable", "Bool"),
        ("not_payable_reason", "Nullable(String)"),
        ("attributed_view_id", "Nullable(String)"),
        ("attributed_view_time", f"Nullable({INSTANT})"),
    ),
    ("click_id",),
)

FCT_ENGAGEMENT_WINDOWS = Table(
    "fct_engagement_windows",
    _cols(
        ("creator_id", "String"),
        ("window_start", INSTANT),
        ("window_end", INSTANT),
        ("views", "UInt64"),
        ("unique_viewers", "UInt64"),
        ("comments", "UInt64"),
        ("valid_clicks", "UInt64"),
        ("engagement_rate", "Nullable(Float64)"),
        ("high", "Bool"),
    ),
    ("creator_id", "window_start", "window_end"),
)

FCT_ELIGIBILITY = Table(
    "fct_eligibility",
    _cols(
        ("creator_id", "String"),
        ("as_of", INSTANT),
        ("consistently_high", "Bool"),
        ("eligible", "Bool"),
        ("high_windows", "UInt8"),
        ("reasons", "Array(String)"),
        ("followers", "Nullable(Int64)"),
        ("lifetime_views", "Nullable(Int64)"),
        ("country", "Nullable(String)"),
        ("birth_date", "Nullable(Date32)"),
        ("profile_updated_at", f"Nullable({INSTANT})"),
    ),
    ("creator_id", "as_of"),
)

FCT_ELIGIBILITY_TRANSITIONS = Table(
    "fct_eligibility_transitions",
    _cols(
        ("creator_id", "String"),
        ("as_of", INSTANT),
        ("transition", "LowCardinality(String)"),
        ("reasons", "Array(String)"),
    ),
    ("creator_id", "as_of"),
)

AGG_CREATOR_PAYOUTS_DAILY = Table(
    "agg_creator_payouts_daily",
    _cols(
        ("creator_id", "String"),
        ("day", "Date"),
        ("currency", "LowCardinality(String)"),
        ("valid_clicks", "UInt64"),
        ("payable_clicks", "UInt64"),
        ("gross_micros", "Int64"),
        ("creator_micros", "Int64"),
        ("platform_micros", "Int64"),
    ),
    ("creator_id", "day", "currency"),
)

DIM_CREATOR_PROFILES = Table(
    "dim_creator_profiles",
    _cols(
        ("creator_id", "String"),
        ("updated_at", INSTANT),
        ("followers", "Int64"),
        ("lifetime_views", "Int64"),
        ("birth_date", "Date32"),
        ("country", "LowCardinality(String)"),
    ),
    ("creator_id", "updated_at"),
)

DIM_CAMPAIGNS = Table(
    "dim_campaigns",
    _cols(
        ("campaign_id", "String"),
        ("updated_at", INSTANT),
        ("advertiser_id", "String"),
        ("cpc_micros", "Int64"),
        ("currency", "LowCardinality(String)"),
        ("starts_at", INSTANT),
        ("ends_at", INSTANT),
        ("status", "LowCardinality(String)"),
    ),
    ("campaign_id", "updated_at"),
)

RAW_INGEST_LEDGER = Table(
    "raw_ingest_ledger",
    _cols(
        ("run_id", "String"),
        ("stream", "LowCardinality(String)"),
        ("source", "String"),
        ("position_kind", "LowCardinality(String)"),
        ("first_position", "UInt64"),
        ("last_position", "UInt64"),
        ("lines", "UInt64"),
        ("accepted", "UInt64"),
        ("rejected", "UInt64"),
        ("replays", "UInt64"),
        ("late", "UInt64"),
        ("min_event_time", f"Nullable({INSTANT})"),
        ("max_event_time", f"Nullable({INSTANT})"),
        ("reference_time", INSTANT),
        ("recorded_at", INSTANT),
    ),
    ("stream", "source", "run_id", "first_position"),
)

FCT_PAYOUT_CLOSES = Table(
    "fct_payout_closes",
    _cols(
        ("month", "Date"),
        ("closed_at", INSTANT),
        ("forced", "Bool"),
        ("final_after", INSTANT),
        ("seen_event_time", f"Nullable({INSTANT})"),
        ("statement_rows", "UInt64"),
        ("statements_hash", "String"),
        ("gross_micros", "Int64"),
        ("creator_micros", "Int64"),
    ),
    ("month",),
)

FCT_PAYOUT_STATEMENTS = Table(
    "fct_payout_statements",
    _cols(
        ("creator_id", "String"),
        ("month", "Date"),
        ("currency", "LowCardinality(String)"),
        ("valid_clicks", "UInt64"),
        ("payable_clicks", "UInt64"),
        ("gross_micros", "Int64"),
        ("creator_micros", "Int64"),
        ("platform_micros", "Int64"),
        ("statement_id", "String"),
        ("closed_at", INSTANT),
        ("content_hash", "String"),
    ),
    ("month", "creator_id", "currency"),
)

FCT_PAYOUT_ADJUSTMENTS = Table(
    "fct_payout_adjustments",
    _cols(
        ("creator_id", "String"),
        ("currency", "LowCardinality(String)"),
        ("booked_month", "Date"),
        ("for_month", "Date"),
        ("valid_clicks_delta", "Int64"),
        ("payable_clicks_delta", "Int64"),
        ("gross_micros_delta", "Int64"),
        ("creator_micros_delta", "Int64"),
        ("platform_micros_delta", "Int64"),
        ("reason", "LowCardinality(String)"),
        ("run_id", "String"),
        ("booked_at", INSTANT),
    ),
    ("for_month", "booked_month", "creator_id", "currency"),
)

TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        RAW_REJECTED_EVENTS,
        RAW_LATE_EVENTS,
        FCT_ATTRIBUTED_CLICKS,
        FCT_ENGAGEMENT_WINDOWS,
        FCT_ELIGIBILITY,
        FCT_ELIGIBILITY_TRANSITIONS,
        AGG_CREATOR_PAYOUTS_DAILY,
        DIM_CREATOR_PROFILES,
        DIM_CAMPAIGNS,
        RAW_INGEST_LEDGER,
        FCT_PAYOUT_CLOSES,
        FCT_PAYOUT_STATEMENTS,
        FCT_PAYOUT_ADJUSTMENTS,
    )
}

# ClickHouse type -> Arrow type of the values a loader sends.
_SCALARS: dict[str, pa.DataType] = {
    "String": pa.string(),
    "Int64": pa.int64(),
    "UInt64": pa.uint64(),
    "UInt8": pa.uint8(),
    "Float64": pa.float64(),
    "Bool": pa.bool_(),
    "Date": pa.date32(),
    "Date32": pa.date32(),
    INSTANT: pa.timestamp("ms", tz="UTC"),
}


def arrow_type(ch_type: str) -> tuple[pa.DataType, bool]:
    """``(arrow type, nullable)`` for a ClickHouse type of this registry."""
    for wrapper in ("LowCardinality(", "Nullable("):
        if ch_type.startswith(wrapper) and ch_type.endswith(")"):
            inner, nullable = arrow_type(ch_type[len(wrapper) : -1])
            return inner, nullable or wrapper == "Nullable("
    if ch_type.startswith("Array(") and ch_type.endswith(")"):
        item, _ = arrow_type(ch_type[len("Array(") : -1])
        return pa.list_(item), False
    try:
        return _SCALARS[ch_type], False
    except KeyError:
        raise ValueError(f"no Arrow mapping for ClickHouse type {ch_type}") from None


def arrow_schema(table: str | Table) -> pa.Schema:
    """The Arrow schema a loader uses to insert into ``table`` (columns in table order)."""
    spec = TABLES[table] if isinstance(table, str) else table
    fields = []
    for column in spec.columns:
        type_, nullable = arrow_type(column.type)
        fields.append(pa.field(column.name, type_, nullable=nullable))
    return pa.schema(fields)
