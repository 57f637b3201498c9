"""One metrics module, one family per concept, the ``job`` label tells the runs apart."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

from prometheus_client import REGISTRY

from pipelines import metrics
from pipelines.config import load_settings
from pipelines.domain.events import Stream
from pipelines.ingest.files import ingest_stream
from pipelines.ingest.step import Outcome
from pipelines.settings_sections import MetricsSettings
from pipelines.streaming.ingest_worker import OUTCOME_LABEL

FAMILIES = {
    "pulse_ingest_events": ("counter", {"job", "stream", "outcome"}),
    "pulse_ingest_rejected_events": ("counter", {"job", "stream", "reason"}),
    "pulse_ingest_redelivered": ("counter", {"job", "stream"}),
    "pulse_ingest_watermark_markers": ("counter", {"job", "stream"}),
    "pulse_ingest_state_restored_records": ("counter", {"job", "stream"}),
    "pulse_ingest_watermark_jumps": ("counter", {"job", "stream"}),
    "pulse_ingest_watermark_seconds": ("gauge", {"job", "stream"}),
    "pulse_step_duration_seconds": ("histogram", {"job", "step"}),
    "pulse_warehouse_rows_loaded": ("counter", {"job", "table"}),
    "pulse_warehouse_insert_errors": ("counter", {"job", "table"}),
    "pulse_loader_bad_records": ("counter", {"job", "table"}),
    "pulse_loader_batch_duration_seconds": ("histogram", {"job"}),
    "pulse_build_info": ("gauge", {"version", "python", "flink"}),
    "pulse_watermark_lag_seconds": ("gauge", {"job", "stream"}),
    "pulse_consumer_lag_records": ("gauge", {"job", "stage"}),
    "pulse_consumer_lag_seconds": ("gauge", {"job", "stage"}),
    "pulse_warehouse_freshness_seconds": ("gauge", {"job"}),
    "pulse_job_restarts": ("counter", {"job", "reason"}),
}
#: labels with a small, known set of values (never an id, a partition or an offset)
LOW_CARDINALITY = {
    *("job", "stream", "stage", "outcome", "reason", "step", "table"),
    *("version", "python", "flink"),
}


def _pulse_families() -> dict[str, tuple[str, str, set[str]]]:
    found = {}
    for family in REGISTRY.collect():
        if family.name.startswith("pulse_"):
            labels: set[str] = set()
            for sample in family.samples:
                labels |= set(sample.labels) - {"le"}
            found[family.name] = (family.type, family.documentation, labels)
    return found


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_one_family_per_concept() -> None:
    # give every labelled family a sample so that its label names show
    metrics.declare_stream("unit", "view")
    metrics.count_rejected("unit", "view", "not_object", 0)
    metrics.INGEST_REDELIVERED.labels("unit", "view")
    metrics.INGEST_MARKERS.labels("unit", "view")
    metrics.INGEST_STATE_RESTORED.labels("unit", "view")
    metrics.INGEST_WATERMARK.labels("unit", "view").set(1.0)
    metrics.STEP_SECONDS.labels("unit", "load")
    metrics.ROWS_LOADED.labels("unit", "t")
    metrics.INSERT_ERRORS.labels("unit", "t")
    metrics.LOADER_BAD_RECORDS.labels("unit", "t")
    metrics.LOADER_BATCH_SECONDS.labels("unit")
    metrics.JOB_RESTARTS.labels("unit", "KafkaConnectionError")
    metrics.set_consumer_lag("unit", "ingest", 0, None)
    metrics.observe_warehouse_event_time("unit", 0)
    found = _pulse_families()
    assert set(found) == set(FAMILIES), "a new family: is it really a new concept?"
    for name, (kind, labels) in FAMILIES.items():
        assert found[name][0] == kind, name
        assert found[name][2] == labels, name
        assert labels <= LOW_CARDINALITY, name
    helps = [help_text for _, help_text, _ in found.values()]
    assert len(set(helps)) == len(helps), "two families describe the same thing"
    assert not [n for n in found if "streaming" in n], "the job label tells streaming apart"


def test_streaming_outcomes_use_the_bounded_names() -> None:
    assert set(OUTCOME_LABEL) == set(Outcome)
    assert OUTCOME_LABEL[Outcome.CLEAN] == "accepted"
    assert sorted(OUTCOME_LABEL.values()) == sorted(metrics.OUTCOMES)


def test_a_rejected_line_moves_the_rejected_counter_by_one(tmp_path: Path) -> None:
    raw = tmp_path / "in"
    raw.mkdir()
    (raw / "views.jsonl").write_bytes(b"[]\n")
    settings = load_settings()
    result = ingest_stream(Stream.VIEW, raw, tmp_path / "clean", settings, 1_772_323_200_000)
    assert dict(result.rejected) == {"not_object": 1}
    labels = {"job": "unit-bounded", "stream": "view"}
    rejected_before = _value("pulse_ingest_rejected_events_total", **labels, reason="not_object")
    outcome_before = _value("pulse_ingest_events_total", **labels, outcome="rejected")
    metrics.record_ingest("unit-bounded", result)
    assert (
        _value("pulse_ingest_rejected_events_total", **labels, reason="not_object")
        == rejected_before + 1
    )
    assert _value("pulse_ingest_events_total", **labels, outcome="rejected") == outcome_before + 1
    assert _value("pulse_ingest_events_total", **labels, outcome="accepted") == 0


def test_build_info() -> None:
    samples = [s for f in REGISTRY.collect() if f.name == "pulse_build_info" for s in f.samples]
    assert len(samples) == 1
    assert samples[0].value == 1
    assert set(samples[0].labels) == {"version", "python", "flink"}
    assert samples[0].labels["version"] != ""


def test_serve_on_host_and_port() -> None:
    assert metrics.serve(MetricsSettings()) is False  # no port: not served
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert metrics.serve(MetricsSettings(host="127.0.0.1", port=port)) is True
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body = response.read().decode()
    assert "pulse_build_info{" in body
