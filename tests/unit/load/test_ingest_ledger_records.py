"""The streaming ingest ledger: the record the ingest builds, the loader's Arrow conversion, the
run id that makes a redone batch replace the crashed one, and the loader's adjustment helpers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from pipelines.domain.streams import LEDGER_TOPIC, RESULTS, Topics
from pipelines.ingest.ledger import LedgerTally, ledger_run_id, ledger_source
from pipelines.ingest.messages import rejected_value
from pipelines.ingest.step import Outcome
from pipelines.load.kafka_records import (
    TOPIC_TABLES,
    Record,
    batch_run_id,
    batch_to_arrow,
    closed_days,
    ledger_entry,
)
from pipelines.warehouse.tables import arrow_schema

T0 = 1_790_000_000_000


def _tally(first: int = 40, topic: str = "raw.ad_clicks", partition: int = 2) -> LedgerTally:
    tally = LedgerTally("ad_click", topic, partition, first)
    tally.count(Outcome.CLEAN, T0 + 5)
    tally.count(Outcome.CLEAN, T0 - 7)
    tally.count(Outcome.CLEAN, T0 + 1)
    tally.count(Outcome.REJECTED)
    tally.count(Outcome.REPLAY)
    tally.count(Outcome.LATE)
    tally.count(Outcome.LATE)
    tally.finish(first + 6, 7)
    return tally


def _record(value: bytes, offset: int = 0) -> Record:
    return Record(value, T0, LEDGER_TOPIC, 0, offset)


def test_the_tally_counts_each_outcome_and_the_accepted_event_times() -> None:
    tally = _tally()
    assert (tally.accepted, tally.rejected, tally.replays, tally.late) == (3, 1, 1, 2)
    assert tally.lines == 7 and (tally.first_offset, tally.last_offset) == (40, 46)
    assert (tally.min_event_ms, tally.max_event_ms) == (T0 - 7, T0 + 5)
    empty = LedgerTally("view", "raw.views", 0, 3)
    empty.count(Outcome.REJECTED)
    assert empty.min_event_ms is None and empty.max_event_ms is None


def test_the_source_is_the_dead_letters_source() -> None:
    """reconcile compares the ledger's rejected with raw_rejected_events by (stream, source)."""
    letter = json.loads(rejected_value("ad_click", "p.raw.ad_clicks", 2, 41, "x", "d", b"{"))
    tally = LedgerTally("ad_click", "p.raw.ad_clicks", 2, 41)
    assert tally.source == letter["source"] == ledger_source("p.raw.ad_clicks", 2)
    assert letter["stream"] == tally.stream


def test_the_run_id_depends_on_source_and_first_offset_only() -> None:
    crashed, redone = _tally(first=40), _tally(first=40)
    redone.finish(90, 51)  # the batch after the crash ended elsewhere
    redone.count(Outcome.CLEAN, T0)
    assert crashed.run_id == redone.run_id == ledger_run_id("raw.ad_clicks/2", 40)
    assert crashed.key() == redone.key() == b"raw.ad_clicks/2"
    assert _tally(first=41).run_id != crashed.run_id
    assert _tally(partition=1).run_id != crashed.run_id
    assert _tally(topic="raw.views").run_id != crashed.run_id


def test_build_then_parse_gives_the_ledger_row() -> None:
    entry = ledger_entry(_record(_tally().value(reference_ms=T0 + 60_000, recorded_ms=T0 + 9)))
    assert entry.run_id == "raw.ad_clicks/2@40"
    assert (entry.stream, entry.source, entry.position_kind) == (
        "ad_click",
        "raw.ad_clicks/2",
        "offset",
    )
    assert (entry.first_position, entry.last_position) == (40, 46)
    counts = entry.counts
    assert (counts.lines, counts.accepted, counts.rejected, counts.replays, counts.late) == (
        7,
        3,
        1,
        1,
        2,
    )
    assert counts.balanced
    assert (entry.min_event_ms, entry.max_event_ms) == (T0 - 7, T0 + 5)
    assert (entry.reference_ms, entry.recorded_ms) == (T0 + 60_000, T0 + 9)


def test_the_loader_converts_ledger_records_to_the_table_schema() -> None:
    assert TOPIC_TABLES[LEDGER_TOPIC] == "raw_ingest_ledger"
    assert Topics("p.").ledger == "p." + LEDGER_TOPIC
    assert any(r.topic == LEDGER_TOPIC and r.sink_table is None for r in RESULTS)
    empty = LedgerTally("view", "raw.views", 0, 7)
    empty.count(Outcome.REPLAY)
    empty.finish(7, 1)
    records = [_record(_tally().value(T0, T0), 0), _record(empty.value(T0, T0 + 1), 1)]
    out = batch_to_arrow(LEDGER_TOPIC, records)
    assert out.table == "raw_ingest_ledger" and not out.bad
    assert out.data.schema == arrow_schema("raw_ingest_ledger")
    rows = out.data.to_pylist()
    assert [r["run_id"] for r in rows] == ["raw.ad_clicks/2@40", "raw.views/0@7"]
    assert rows[0]["min_event_time"] == datetime.fromtimestamp((T0 - 7) / 1000, UTC)
    assert rows[1]["min_event_time"] is None and rows[1]["max_event_time"] is None
    assert rows[1]["replays"] == 1 and rows[1]["lines"] == 1


def test_a_redone_batch_in_the_same_loader_batch_keeps_the_last_record() -> None:
    crashed = _tally(first=40)
    redone = _tally(first=40)
    redone.count(Outcome.CLEAN, T0)
    redone.finish(47, 8)
    records = [
        _record(crashed.value(T0, T0), 0),
        _record(_tally(first=10).value(T0, T0), 1),
        _record(redone.value(T0, T0 + 5), 2),
    ]
    rows = batch_to_arrow(LEDGER_TOPIC, records).data.to_pylist()
    assert [(r["run_id"], r["lines"]) for r in rows] == [
        ("raw.ad_clicks/2@10", 7),
        ("raw.ad_clicks/2@40", 8),
    ]


def test_unreadable_ledger_records_are_isolated() -> None:
    good = _tally().value(T0, T0)
    negative = json.loads(good)
    negative["lines"] = -1
    floats = json.loads(good)
    floats["accepted"] = 1.5
    no_run = json.loads(good)
    del no_run["run_id"]
    records = [
        _record(b"{not json", 0),
        _record(json.dumps(negative).encode(), 1),
        _record(json.dumps(floats).encode(), 2),
        _record(json.dumps(no_run).encode(), 3),
        _record(good, 4),
    ]
    out = batch_to_arrow(LEDGER_TOPIC, records)
    assert out.data.num_rows == 1
    assert sorted(r.offset for r, _ in out.bad) == [0, 1, 2, 3]


def test_closed_days_and_the_loader_batch_run_id() -> None:
    days = [date(2026, 1, 31), date(2026, 2, 1), date(2026, 3, 4), date(2026, 1, 2)]
    assert closed_days(days, [date(2026, 1, 1)]) == [date(2026, 1, 2), date(2026, 1, 31)]
    assert closed_days(days, []) == []
    assert closed_days(days, [date(2025, 1, 1)]) == []
    records = [
        Record(b"", T0, "results.attributed_clicks", p, o) for p, o in [(1, 9), (0, 5), (1, 3)]
    ]
    run_id = batch_run_id("results.attributed_clicks", records)
    assert run_id == "loader:results.attributed_clicks/0@5-5,results.attributed_clicks/1@3-9"
    assert batch_run_id("results.attributed_clicks", list(reversed(records))) == run_id
