"""The series computed at scrape time (watermark lag, consumer lag, freshness), where each job
serves them, and the textfile of bounded runs."""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from pipelines import metrics
from pipelines.config import load_settings
from pipelines.settings_sections import MetricsSettings
from pipelines.streaming.freshness import EVENT_TIME_COLUMNS, newest_in_batch, newest_sql
from pipelines.streaming.monitor import Stage, StageLag, TopicLag
from pipelines.warehouse.tables import arrow_schema


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- computed at scrape ----------------------------------------------------------------------


def test_watermark_lag_is_wall_time_minus_the_watermark_at_each_scrape() -> None:
    watermark_s = time.time() - 3600.0
    metrics.INGEST_WATERMARK.labels("unit-wm", "view").set(watermark_s)
    first = _value("pulse_watermark_lag_seconds", job="unit-wm", stream="view")
    assert first is not None and 3600.0 <= first < 3600.0 + 5
    time.sleep(1.1)  # nothing moved: the lag grows by itself (a stalled watermark)
    second = _value("pulse_watermark_lag_seconds", job="unit-wm", stream="view")
    assert second is not None and second >= first + 1.0


def test_consumer_lag_records_and_age_of_the_oldest_uncommitted_record() -> None:
    now_ms = int(time.time() * 1000)
    metrics.set_consumer_lag("unit-lag", "flink", 42, now_ms - 90_000)
    assert _value("pulse_consumer_lag_records", job="unit-lag", stage="flink") == 42
    seconds = _value("pulse_consumer_lag_seconds", job="unit-lag", stage="flink")
    assert seconds is not None and 90.0 <= seconds < 95.0
    # caught up: 0 s, whatever instant was passed
    metrics.set_consumer_lag("unit-lag", "flink", 0, now_ms - 90_000)
    assert _value("pulse_consumer_lag_records", job="unit-lag", stage="flink") == 0
    assert _value("pulse_consumer_lag_seconds", job="unit-lag", stage="flink") == 0


def test_freshness_counts_from_the_newest_event_time_ever_stored() -> None:
    now_ms = int(time.time() * 1000)
    metrics.observe_warehouse_event_time("unit-fresh", now_ms - 7_200_000)
    metrics.observe_warehouse_event_time("unit-fresh", now_ms - 9_000_000)  # older: ignored
    fresh = _value("pulse_warehouse_freshness_seconds", job="unit-fresh")
    assert fresh is not None and 7200.0 <= fresh < 7205.0
    assert metrics.warehouse_newest_event_ms("unit-fresh") == now_ms - 7_200_000
    metrics.observe_warehouse_event_time("unit-fresh", now_ms + 60_000)  # ahead of the clock
    assert _value("pulse_warehouse_freshness_seconds", job="unit-fresh") == 0.0
    assert _value("pulse_warehouse_freshness_seconds", job="unit-never-stored") is None


def test_stage_lag_seconds() -> None:
    stage = StageLag(
        Stage("loader", "g", ("a", "b")),
        [TopicLag("a", 10, 7, 3, oldest_ms=5_000), TopicLag("b", 4, 4, 0)],
    )
    assert stage.lag == 3
    assert stage.oldest_ms == 5_000
    assert stage.seconds(65_000) == 60.0
    caught_up = StageLag(Stage("loader", "g", ("a",)), [TopicLag("a", 10, 10, 0)])
    assert caught_up.seconds(65_000) == 0.0


def test_freshness_of_a_batch_uses_the_event_time_column() -> None:
    day = 86_400_000
    window_end = arrow_schema("fct_engagement_windows").field("window_end").type
    data = pa.table({"window_end": pa.array([7 * day, 8 * day]).cast(window_end)})
    assert newest_in_batch("fct_engagement_windows", data) == 8 * day
    assert newest_in_batch("fct_engagement_windows", data.slice(0, 0)) is None
    assert newest_in_batch("raw_rejected_events", data) is None  # not a fact table
    sql = newest_sql("pulse")
    for table, column in EVENT_TIME_COLUMNS.items():
        assert f"toUnixTimestamp64Milli(maxOrNull({column})) AS ms FROM pulse.{table}" in sql


# --- where ------------------------------------------------------------------------------------


def test_each_job_has_its_own_port_and_url() -> None:
    default = MetricsSettings()
    assert [metrics.job_port(default, c) for c in ("ingest", "loader", "flink")] == [
        9401,
        9402,
        9249,
    ]
    assert metrics.metrics_url(default, "loader") == "http://127.0.0.1:9402/metrics"
    # a container runs one job: PULSE_METRICS__PORT is its port, whatever the job
    one = MetricsSettings(host="0.0.0.0", port=9500)
    assert metrics.job_port(one, "ingest") == metrics.job_port(one, "flink") == 9500
    assert metrics.metrics_url(one, "ingest") == "http://127.0.0.1:9500/metrics"
    assert metrics.metrics_url(MetricsSettings(host="::1"), "flink") == "http://[::1]:9249/metrics"
    off = MetricsSettings(ingest_port=0)
    assert metrics.job_port(off, "ingest") is None and metrics.metrics_url(off, "ingest") is None
    with pytest.raises(ValueError):
        metrics.job_port(default, "kafka")


def test_ports_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_METRICS__INGEST_PORT", "19401")
    monkeypatch.setenv("PULSE_METRICS__FLINK_PORT", "0")
    monkeypatch.setenv("PULSE_METRICS__LAG_INTERVAL_S", "2.5")
    settings = load_settings().metrics
    assert metrics.job_port(settings, "ingest") == 19401
    assert metrics.job_port(settings, "loader") == 9402
    assert metrics.job_port(settings, "flink") is None
    assert settings.lag_interval_s == 2.5


def test_serve_a_component_once_and_survive_a_taken_port(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _free_port()
    settings = MetricsSettings(loader_port=port)
    assert metrics.serve(settings, "loader") is True
    assert metrics.serve(settings, "loader") is True  # the same address again: no-op
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        assert "pulse_consumer_lag_records" in response.read().decode()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="pipelines.metrics"):
            assert metrics.serve(MetricsSettings(ingest_port=busy), "ingest") is False
    assert any(
        f"127.0.0.1:{busy}" in r.getMessage() and "WITHOUT its endpoint" in r.getMessage()
        for r in caplog.records
    )


# --- the textfile of bounded runs --------------------------------------------------------------


def test_textfile_has_the_pulse_series_only_and_replaces_the_file(tmp_path: Path) -> None:
    metrics.count_events("unit-file", "view", "rejected", 3)
    metrics.count_rejected("unit-file", "view", "not_object", 3)
    path = tmp_path / "textfile" / "pulse.prom"
    path.parent.mkdir()
    path.write_text("stale\n")
    metrics.write_textfile(path)
    text = path.read_text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families, text
    assert all(name.startswith("pulse_") for name in families), sorted(families)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    key = (
        "pulse_ingest_rejected_events_total",
        (("job", "unit-file"), ("reason", "not_object"), ("stream", "view")),
    )
    assert samples[key] == 3
    assert any(name == "pulse_build_info" for name, _ in samples)
    assert "stale" not in text
    assert os.listdir(path.parent) == ["pulse.prom"]  # the temporary file was renamed
    assert all(math.isfinite(v) for v in samples.values())


def test_loader_series_exist_at_zero_before_the_first_error() -> None:
    metrics.declare_loader("unit-loader", ["fct_attributed_clicks"])
    labels = {"job": "unit-loader", "table": "fct_attributed_clicks"}
    assert _value("pulse_warehouse_insert_errors_total", **labels) == 0
    assert _value("pulse_warehouse_rows_loaded_total", **labels) == 0
    assert _value("pulse_loader_batch_duration_seconds_count", job="unit-loader") == 0
