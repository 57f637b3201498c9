"""Every job of a real stack serves /metrics, with values that match what the stack did."""

from __future__ import annotations

import math
import re
import time

import pytest

from pipelines.deploy.check import used_metric_names

from .conftest import DATA_START_S, DAYS, StackRun, finite

pytestmark = pytest.mark.integration


def test_every_name_the_dashboard_and_alerts_use_is_exported(stack_run: StackRun) -> None:
    exported = set().union(*(s.names for s in stack_run.settled.values()))
    missing = sorted(used_metric_names() - exported)
    assert not missing, f"not exported by any job: {missing}"
    # and by the job the docs name
    by_job = {name: s.names for name, s in stack_run.settled.items()}
    assert {"pulse_ingest_events_total", "pulse_watermark_lag_seconds"} <= by_job["ingest"]
    assert {
        "pulse_consumer_lag_records",
        "pulse_consumer_lag_seconds",
        "pulse_warehouse_freshness_seconds",
        "pulse_loader_batch_duration_seconds_count",
        "pulse_warehouse_insert_errors_total",
    } <= by_job["loader"]
    assert "flink_jobmanager_job_numberOfCompletedCheckpoints" in by_job["flink"]
    for name in ("ingest", "loader"):
        assert "pulse_build_info" in by_job[name]


def test_one_rejected_line_moves_the_dead_letter_counters_by_exactly_one(
    stack_run: StackRun,
) -> None:
    before, after = stack_run.before_reject["ingest"], stack_run.after_reject["ingest"]
    labels = {"job": "faust_ingest", "stream": "view"}

    def delta(name: str, **more: str) -> float:
        return after.total(name, **labels, **more) - before.total(name, **labels, **more)

    assert delta("pulse_ingest_rejected_events_total", reason="not_object") == 1
    assert delta("pulse_ingest_rejected_events_total") == 1  # no other reason moved
    assert delta("pulse_ingest_events_total", outcome="rejected") == 1
    for outcome in ("accepted", "replay", "late"):
        assert delta("pulse_ingest_events_total", outcome=outcome) == 0, outcome
    # ... and its dead letter is one more row in the warehouse, counted by the loader
    rows = "pulse_warehouse_rows_loaded_total"
    table = {"job": "faust_loader", "table": "raw_rejected_events"}
    assert (
        stack_run.after_reject["loader"].total(rows, **table)
        - stack_run.before_reject["loader"].total(rows, **table)
        == 1
    )


def test_dead_letters_in_the_warehouse_equal_the_rejected_events_counted_at_ingest(
    stack_run: StackRun,
) -> None:
    ingest, loader = stack_run.settled["ingest"], stack_run.settled["loader"]
    rejected = ingest.total("pulse_ingest_events_total", job="faust_ingest", outcome="rejected")
    assert rejected > 0, "the generated set has malformed lines"
    assert rejected == ingest.total("pulse_ingest_rejected_events_total", job="faust_ingest")
    assert rejected == loader.total(
        "pulse_warehouse_rows_loaded_total", job="faust_loader", table="raw_rejected_events"
    )
    late = ingest.total("pulse_ingest_events_total", job="faust_ingest", outcome="late")
    assert late == loader.total(
        "pulse_warehouse_rows_loaded_total", job="faust_loader", table="raw_late_events"
    )


def test_watermark_is_a_plausible_instant_and_its_lag_is_wall_time_minus_it(
    stack_run: StackRun,
) -> None:
    ingest = stack_run.settled["ingest"]
    for stream in ("view", "comment", "ad_click"):
        mark = ingest.value("pulse_ingest_watermark_seconds", job="faust_ingest", stream=stream)
        assert finite(mark), stream
        assert mark is not None
        assert DATA_START_S <= mark <= DATA_START_S + DAYS * 86_400, (stream, mark)
        lag = ingest.value("pulse_watermark_lag_seconds", job="faust_ingest", stream=stream)
        assert lag is not None
        assert abs(lag - (ingest.at - mark)) < 2.0, (stream, lag, ingest.at - mark)


def test_freshness_is_the_age_of_the_newest_event_time_in_the_warehouse(
    stack_run: StackRun,
) -> None:
    loader = stack_run.settled["loader"]
    fresh = loader.value("pulse_warehouse_freshness_seconds", job="faust_loader")
    assert finite(fresh) and fresh is not None and fresh >= 0
    newest = stack_run.newest_event_ms
    assert newest is not None, "the run stored no fact rows"
    assert abs(fresh - (loader.at - newest / 1000)) < 3.0, (fresh, loader.at - newest / 1000)


def test_consumer_lag_is_zero_once_everything_is_stored(stack_run: StackRun) -> None:
    loader = stack_run.settled["loader"]
    for stage in ("ingest", "flink", "loader"):
        assert loader.value("pulse_consumer_lag_records", job="faust_loader", stage=stage) == 0
        assert loader.value("pulse_consumer_lag_seconds", job="faust_loader", stage=stage) == 0


def test_lag_of_a_group_that_never_consumed_is_the_topic_and_the_age_of_its_first_record(
    stack_run: StackRun,
) -> None:
    probe = stack_run.probe
    assert probe is not None
    views = sum(1 for line in (stack_run.raw_dir / "views.jsonl").read_bytes().splitlines())
    assert probe.lag == views  # `pulse produce` sends every line, malformed ones too
    began, ended = stack_run.produced_between
    assert probe.oldest_ms is not None
    assert began - 1 <= probe.oldest_ms / 1000 <= ended + 1  # broker time of the first record
    seconds = probe.seconds(int(time.time() * 1000))
    assert time.time() - ended - 1 <= seconds


def test_loader_batches_and_rows(stack_run: StackRun) -> None:
    loader = stack_run.settled["loader"]
    batches = loader.total("pulse_loader_batch_duration_seconds_count", job="faust_loader")
    assert batches > 0
    assert loader.total("pulse_loader_batch_duration_seconds_sum", job="faust_loader") > 0
    rows = loader.total("pulse_warehouse_rows_loaded_total", job="faust_loader")
    assert rows >= batches  # a stored batch has at least one row
    assert loader.total("pulse_warehouse_insert_errors_total", job="faust_loader") == 0


def test_flink_checkpoints_from_its_reporter_agree_with_its_rest_api_and_log(
    stack_run: StackRun,
) -> None:
    flink = stack_run.settled["flink"]
    completed = flink.total("flink_jobmanager_job_numberOfCompletedCheckpoints")
    failed = flink.total("flink_jobmanager_job_numberOfFailedCheckpoints")
    duration = flink.total("flink_jobmanager_job_lastCheckpointDuration")
    assert completed >= 1
    assert math.isfinite(duration) and duration >= 0
    rest = stack_run.rest_checkpoints
    # the REST answer came just after the scrape; checkpoints every second. REST serves its
    # checkpoint statistics from a cache (refreshed every few seconds), so it may also show a
    # few fewer than the reporter's live counter (measured: one fewer)
    assert completed - 5 <= rest["completed"] <= completed + 10, (completed, rest)
    # Every failure is one the JobManager logged; measured: only the triggers of the first
    # seconds, before every task ran (Flink counts them as failed checkpoints too). Read in
    # this order (scrape, REST, log), the counts can only grow: a trigger may still fail
    # between the reads on a machine slow to start every task.
    log = "\n".join(p.read_text(errors="replace") for p in stack_run.flink_logs)
    failures = [line for line in log.splitlines() if "Failed to trigger checkpoint" in line]
    assert failed <= rest["failed"] <= len(failures), (failed, rest, failures[:3])
    assert all("Not all required tasks are currently running" in f for f in failures)
    records_in = [
        v
        for (name, _), v in flink.samples.items()
        if name == "flink_taskmanager_job_task_numRecordsInPerSecond"
    ]
    assert records_in and all(math.isfinite(v) and v >= 0 for v in records_in)


def test_status_shows_every_component_with_its_metrics_url(stack_run: StackRun) -> None:
    status = stack_run.status_json
    components = status["components"]
    assert list(components) == ["kafka", "ingest", "flink", "loader"]
    assert components["kafka"]["state"] == "running"
    assert components["kafka"]["pid"] == stack_run.broker_pid
    for name in ("ingest", "flink", "loader"):
        comp = components[name]
        assert comp["state"] == "running", name
        assert comp["pid"] == stack_run.pid_files[name], name
        assert comp["metrics_url"] == stack_run.urls[name], name
        assert comp["metrics_answering"] is True, name
        line = next(ln for ln in stack_run.status_text.splitlines() if ln.startswith(name))
        assert f"(pid {comp['pid']})" in line and f"metrics {stack_run.urls[name]}" in line
    assert [lag["stage"] for lag in status["lag"]] == ["ingest", "flink", "loader"]
    assert status["flink_job"]["state"] == "RUNNING"
    # the reference clock and the warnings: lines in text, fields in JSON
    assert status["clock"] == {"mode": "wall", "as_of_ms": None, "as_of": None}
    assert "clock   wall clock" in stack_run.status_text.splitlines()
    lines = stack_run.status_text.splitlines()
    warnings = [ln.removeprefix("WARNING ") for ln in lines if ln.startswith("WARNING ")]
    # two calls a moment apart: durations in the texts may differ, nothing else
    assert sorted(map(_no_digits, status["warnings"])) == sorted(map(_no_digits, warnings))


def _no_digits(text: str) -> str:
    return re.sub(r"[0-9]+", "#", text)


def test_a_real_prometheus_scrapes_every_job(stack_run: StackRun) -> None:
    prom = stack_run.prometheus
    targets = {t["labels"]["job"]: t for t in prom["targets"]}
    assert set(targets) == {"pulse-ingest", "pulse-loader", "pulse-streaming"}
    for job, target in targets.items():
        assert target["health"] == "up", (job, target.get("lastError"))
    assert sorted((r["metric"]["job"], r["value"][1]) for r in prom["up"]) == [
        ("pulse-ingest", "1"),
        ("pulse-loader", "1"),
        ("pulse-streaming", "1"),
    ]
    missing = [name for name, present in prom["present"].items() if not present]
    assert not missing, f"in no series Prometheus stored: {missing}"
    assert prom["rules"], "the alert rules were loaded"
    for rule in prom["rules"]:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
