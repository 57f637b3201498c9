"""The stream catalog is the one home of names: every layer agrees with it."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from pipelines.connectors.flink_kafka import SINK_TOPICS, SOURCE_TOPICS
from pipelines.connectors.kafka_topics import pulse_topics, topics_markdown
from pipelines.domain.events import EVENT_TYPES, Stream
from pipelines.domain.streams import RESULTS, STREAMS, Topics, result_for_table, spec_of
from pipelines.flink.schemas import SINKS, SOURCES
from pipelines.ingest.sources import FILE_STEMS
from pipelines.load.kafka_records import TOPIC_TABLES
from pipelines.warehouse.tables import TABLES

REPO = Path(__file__).resolve().parents[3]
#: how each Flink sink type may land in ClickHouse (the loader casts through Arrow)
FLINK_TO_CLICKHOUSE = {
    "STRING": {"String", "LowCardinality(String)", "Nullable(String)", "Nullable(Date32)"},
    "BIGINT": {"Int64", "UInt64", "Nullable(Int64)"},
    "INT": {"UInt8"},
    "BOOLEAN": {"Bool"},
    "DOUBLE": {"Nullable(Float64)"},  # engagement_rate: a ratio, never money
    "TIMESTAMP(3)": {"DateTime64(3, 'UTC')", "Nullable(DateTime64(3, 'UTC'))"},
    "ARRAY<STRING>": {"Array(String)"},
}


def test_one_entry_per_stream_with_unique_names() -> None:
    assert [spec.stream for spec in STREAMS] == list(Stream)
    for attr in ("stem", "source_table"):
        values = [getattr(spec, attr) for spec in STREAMS]
        assert len(set(values)) == len(values), attr
    assert spec_of("ad_click").raw_topic == "raw.ad_clicks"
    assert spec_of(Stream.CAMPAIGN).clean_topic == "clean.campaigns"
    assert Topics("t.").raw(Stream.VIEW) == "t.raw.views"
    assert Topics("t.").deadletter == "t.deadletter.rejected"


def test_every_stream_has_its_schema_and_its_key_field_is_a_required_string() -> None:
    for spec in STREAMS:
        schema = json.loads((REPO / "schemas" / "events" / spec.schema_file).read_text())
        assert spec.key_field in schema["required"], spec.stream
        assert schema["properties"][spec.key_field]["type"] == "string"


def test_flink_sources_follow_the_catalog_and_the_event_schemas() -> None:
    sources = {s.name: s for s in SOURCES}
    assert set(sources) == {spec.source_table for spec in STREAMS}
    for spec in STREAMS:
        source = sources[spec.source_table]
        assert source.stream == spec.stream.value
        schema = json.loads((REPO / "schemas" / "events" / spec.schema_file).read_text())
        assert [name for name, _ in source.columns] == list(schema["properties"])
        fields = msgspec.structs.fields(EVENT_TYPES[spec.stream])
        assert [name for name, _ in source.columns] == [f.name for f in fields]
    assert {spec.source_table: spec.clean_topic for spec in STREAMS} == SOURCE_TOPICS


def test_flink_sinks_follow_the_catalog_and_the_warehouse_registry() -> None:
    sinks = {s.name: s for s in SINKS}
    job_results = [r for r in RESULTS if r.sink_table is not None]
    assert set(sinks) == {r.sink_table for r in job_results}
    for result in job_results:
        assert result.sink_table is not None
        sink = sinks[result.sink_table]
        assert sink.warehouse_table == result.table
        assert SINK_TOPICS[sink.name] == (result.topic, result.key)
        warehouse = {c.name: c.type for c in TABLES[result.table].columns}
        for quoted, flink_type in sink.columns:
            name = quoted.strip("`")
            assert name in warehouse, f"{sink.name}.{name} is not a column of {result.table}"
            assert warehouse[name] in FLINK_TO_CLICKHOUSE[flink_type], (sink.name, name)


def test_every_result_topic_fills_a_registered_table_once() -> None:
    tables = [r.table for r in RESULTS]
    assert len(set(tables)) == len(tables)
    assert all(table in TABLES for table in tables)
    assert {r.topic: r.table for r in RESULTS} == TOPIC_TABLES
    assert result_for_table("raw_late_events").topic == "results.late_events"
    dims = {r.table for r in RESULTS if r.topic.startswith("clean.")}
    assert dims == {"dim_creator_profiles", "dim_campaigns"}


def test_file_stems_are_the_catalog_stems() -> None:
    assert {spec.stream: spec.stem for spec in STREAMS} == FILE_STEMS


def test_topics_md_shows_the_topics_of_the_code() -> None:
    text = (REPO / "infra" / "kafka" / "TOPICS.md").read_text()
    begin = text.index("<!-- generated: pulse kafka topics --markdown -->\n")
    end = text.index("<!-- end generated -->")
    generated = text[begin:end].split("\n", 1)[1]
    assert generated == topics_markdown(), "regenerate with `pulse kafka topics --markdown`"


def test_every_stream_and_result_has_its_topic_and_clean_keeps_the_raw_count() -> None:
    specs = {spec.name: spec for spec in pulse_topics(5, results_partitions=2)}
    for stream in STREAMS:
        assert specs[stream.raw_topic].partitions == specs[stream.clean_topic].partitions == 5
        assert specs[stream.clean_topic].key == stream.key_field
    for result in RESULTS:
        assert result.topic in specs
    assert {n for n in specs if n.startswith(("results.", "deadletter."))} == {
        r.topic for r in RESULTS if not r.topic.startswith("clean.")
    }
