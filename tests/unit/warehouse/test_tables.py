"""The table registry against the contract (docs/rules.md) and the migration files."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipelines.warehouse.migrations import MIGRATIONS_DIR, load_migrations
from pipelines.warehouse.tables import TABLES, arrow_schema, arrow_type

# docs/rules.md "Outputs": key columns, in this order, then the rest.
CONTRACT_OUTPUTS: dict[str, tuple[str, ...]] = {
    "raw_rejected_events": ("stream", "source", "line", "offset", "reason", "raw"),
    "raw_late_events": ("stream", "event_id", "event_time", "watermark", "raw"),
    "fct_attributed_clicks": (
        "click_id",
        "event_time",
        "user_id",
        "ad_id",
        "campaign_id",
        "video_id",
        "creator_id",
        "status",
        "currency",
        "gross_micros",
        "creator_micros",
        "platform_micros",
        "creator_eligible",
        "payable",
    ),
    "fct_engagement_windows": (
        "creator_id",
        "window_start",
        "window_end",
        "views",
        "unique_viewers",
        "comments",
        "valid_clicks",
        "engagement_rate",
        "high",
    ),
    "fct_eligibility": (
        "creator_id",
        "as_of",
        "consistently_high",
        "eligible",
        "high_windows",
        "reasons",
    ),
    "fct_eligibility_transitions": ("creator_id", "as_of", "transition", "reasons"),
    "agg_creator_payouts_daily": (
        "creator_id",
        "day",
        "currency",
        "valid_clicks",
        "payable_clicks",
        "gross_micros",
        "creator_micros",
        "platform_micros",
    ),
}


@pytest.mark.parametrize("table", sorted(CONTRACT_OUTPUTS))
def test_domain_columns_come_first_in_order(table: str) -> None:
    names = TABLES[table].column_names
    assert names[: len(CONTRACT_OUTPUTS[table])] == CONTRACT_OUTPUTS[table]


def test_contract_types() -> None:
    types = {(t.name, c.name): c.type for t in TABLES.values() for c in t.columns}
    instant = "DateTime64(3, 'UTC')"
    for key in [
        ("raw_late_events", "event_time"),
        ("raw_late_events", "watermark"),
        ("fct_attributed_clicks", "event_time"),
        ("fct_engagement_windows", "window_start"),
        ("fct_engagement_windows", "window_end"),
        ("fct_eligibility", "as_of"),
        ("fct_eligibility_transitions", "as_of"),
    ]:
        assert types[key] == instant, key
    for column in ("gross_micros", "creator_micros", "platform_micros"):
        assert types[("fct_attributed_clicks", column)] == "Int64"
        assert types[("agg_creator_payouts_daily", column)] == "Int64"
    assert types[("agg_creator_payouts_daily", "day")] == "Date"
    assert types[("fct_eligibility", "reasons")] == "Array(String)"
    assert types[("fct_eligibility_transitions", "reasons")] == "Array(String)"
    assert types[("fct_attributed_clicks", "creator_id")] == "Nullable(String)"
    assert types[("fct_engagement_windows", "engagement_rate")] == "Nullable(Float64)"


def test_every_table_has_a_migration() -> None:
    sql = "\n".join(m.sql for m in load_migrations(MIGRATIONS_DIR))
    for name in TABLES:
        assert f"CREATE TABLE IF NOT EXISTS {{database}}.{name}\n" in sql, name


def test_arrow_schema_follows_the_registry() -> None:
    schema = arrow_schema("fct_attributed_clicks")
    assert schema.names == list(TABLES["fct_attributed_clicks"].column_names)
    assert schema.field("event_time").type == pa.timestamp("ms", tz="UTC")
    assert not schema.field("event_time").nullable
    assert schema.field("creator_id").nullable
    assert schema.field("gross_micros").type == pa.int64()
    assert arrow_schema("fct_eligibility").field("reasons").type == pa.list_(pa.string())


def test_arrow_type_unwraps() -> None:
    assert arrow_type("LowCardinality(Nullable(String))") == (pa.string(), True)
    assert arrow_type("Nullable(DateTime64(3, 'UTC'))") == (pa.timestamp("ms", tz="UTC"), True)
    with pytest.raises(ValueError, match="no Arrow mapping"):
        arrow_type("Map(String, UInt8)")
