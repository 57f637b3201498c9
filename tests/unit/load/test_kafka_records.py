"""The loader's pure conversion: Kafka values -> Arrow tables of the warehouse schema."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.load.kafka_records import (
    Record,
    batch_run_id,
    batch_to_arrow,
    click_days,
    dedup_token,
)
from pipelines.streaming.checkpoints import latest_checkpoint, prune_checkpoints
from pipelines.warehouse.tables import arrow_schema

CLICK = {
    "click_id": "ck_1",
    "event_time": "2026-10-02T10:00:00.123",
    "user_id": "u1",
    "ad_id": "a1",
    "campaign_id": "c1",
    "video_id": "v1",
    "creator_id": "cr1",
    "status": "valid",
    "currency": "USD",
    "gross_micros": 100_000,
    "creator_micros": 50_000,
    "platform_micros": 50_000,
    "creator_eligible": True,
    "payable": True,
    "not_payable_reason": None,
    "attributed_view_id": "vw1",
    "attributed_view_time": "2026-10-02T09:59:00",
}


def _rec(value: object | bytes, offset: int = 0) -> Record:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return Record(raw, 1_790_900_000_000, "t", 0, offset)


def test_result_values_parse_like_the_file_sinks() -> None:
    out = batch_to_arrow(
        "results.attributed_clicks", [_rec(CLICK), _rec({**CLICK, "click_id": "ck_2"})]
    )
    assert out.table == "fct_attributed_clicks" and not out.bad
    assert out.data.schema == arrow_schema("fct_attributed_clicks")
    row = out.data.to_pylist()[0]
    assert row["event_time"] == datetime(2026, 10, 2, 10, 0, 0, 123000, tzinfo=UTC)
    assert row["gross_micros"] == 100_000 and row["not_payable_reason"] is None
    assert click_days(out.data) == [date(2026, 10, 2)]


def test_a_bad_record_is_isolated_not_fatal() -> None:
    records = [_rec(CLICK), _rec(b"{not json", 1), _rec({**CLICK, "surprise": 1}, 2), _rec(b"", 3)]
    out = batch_to_arrow("results.attributed_clicks", records)
    assert out.data.num_rows == 1
    assert sorted(r.offset for r, _ in out.bad) == [1, 2, 3]


def test_dead_letters_and_late_events_keep_the_raw_bytes() -> None:
    raw = b"\xff\xfenot utf-8"
    dead = {
        "stream": "view",
        "source": "raw.views/1",
        "offset": 42,
        "reason": "invalid_json",
        "detail": "x",
        "raw_b64": base64.b64encode(raw).decode(),
        "raw": raw.decode("utf-8", "replace"),
    }
    out = batch_to_arrow("deadletter.rejected", [_rec(dead)])
    row = out.data.to_pylist()[0]
    assert (row["raw"], row["offset"], row["line"]) == (raw, 42, None)
    assert row["rejected_at"] == datetime.fromtimestamp(1_790_900_000, UTC)
    late = {
        "stream": "view",
        "event_id": "e1",
        "event_time": 1_790_812_800_000,
        "watermark": 1_790_900_000_000,
        "raw_b64": base64.b64encode(b"{}").decode(),
        "raw": "{}",
        "reason": "beyond_allowed_lateness",
    }
    out = batch_to_arrow("results.late_events", [_rec(late), _rec({"stream": 1}, 1)])
    assert out.data.num_rows == 1 and len(out.bad) == 1
    assert out.data.column("raw").type == pa.binary()


def test_dimension_changelogs_from_clean_json() -> None:
    profile = {
        "creator_id": "cr1",
        "updated_at": 1_790_812_800_000,
        "followers": 30_000,
        "lifetime_views": 2_000_000,
        "birth_date": "1990-05-01",
        "country": "US",
    }
    out = batch_to_arrow("clean.creator_profiles", [_rec(profile)])
    assert out.data.to_pylist()[0]["birth_date"] == date(1990, 5, 1)


def test_latest_complete_checkpoint_and_pruning(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path) is None
    old = tmp_path / "job-a" / "chk-3"
    new = tmp_path / "job-b" / "chk-7"
    partial = tmp_path / "job-b" / "chk-8"  # still being written: no _metadata
    for folder in (old, new, partial):
        folder.mkdir(parents=True)
    (old / "_metadata").write_bytes(b"a")
    (new / "_metadata").write_bytes(b"b")
    assert latest_checkpoint(tmp_path) in (old, new)  # same mtime resolution: either
    import os

    os.utime(old / "_metadata", (1, 1))
    assert latest_checkpoint(tmp_path) == new
    assert prune_checkpoints(tmp_path, new) == [tmp_path / "job-a"]
    assert latest_checkpoint(tmp_path) == new


# --- the deduplication token of a batch (a cluster's insert_deduplication_token) ----------


def _at(partition: int, offset: int, value: bytes = b"{}") -> Record:
    return Record(value, 1_790_900_000_000, "results.late_events", partition, offset)


def test_the_dedup_token_names_the_offsets_and_the_loader_version() -> None:
    batch = [_at(1, 7), _at(0, 12), _at(0, 10), _at(1, 8), _at(0, 11)]
    token = dedup_token("results.late_events", batch, "pulse-0.1.0")
    assert token == "loader:results.late_events/0@10-12,results.late_events/1@7-8#pulse-0.1.0"
    assert token == f"{batch_run_id('results.late_events', batch)}#pulse-0.1.0"


def test_the_same_records_retried_or_redelivered_get_the_same_token() -> None:
    batch = [_at(0, offset, f'{{"n":{offset}}}'.encode()) for offset in range(100, 110)]
    first = dedup_token("results.late_events", batch, "pulse-0.1.0")
    assert dedup_token("results.late_events", list(reversed(batch)), "pulse-0.1.0") == first
    # the content does not matter, only which records: a redelivery reads the same offsets
    same_offsets = [_at(0, r.offset, b"other") for r in batch]
    assert dedup_token("results.late_events", same_offsets, "pulse-0.1.0") == first


def test_other_records_or_another_loader_get_another_token() -> None:
    batch = [_at(0, offset) for offset in range(100, 110)]
    token = dedup_token("results.late_events", batch, "pulse-0.1.0")
    assert dedup_token("results.late_events", batch[:-1], "pulse-0.1.0") != token
    assert dedup_token("results.late_events", [_at(1, 100)], "pulse-0.1.0") != (
        dedup_token("results.late_events", [_at(0, 100)], "pulse-0.1.0")
    )
    # equal rows at other offsets are other records (a result restated back): not a duplicate
    later = [_at(0, offset + 10) for offset in range(100, 110)]
    assert dedup_token("results.late_events", later, "pulse-0.1.0") != token
    assert dedup_token("results.late_events", batch, "pulse-0.2.0") != token
    assert dedup_token("results.attributed_clicks", batch, "pulse-0.1.0") != token


@pytest.mark.parametrize("version", ["", "a#b"])
def test_a_loader_version_must_be_a_plain_word(version: str) -> None:
    with pytest.raises(ValueError, match="loader version"):
        dedup_token("results.late_events", [_at(0, 1)], version)
