"""The Grafana dashboard, and the metric names the dashboard and the alerts use."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pipelines.deploy.check import used_metric_names
from pipelines.deploy.monitoring import (
    CLICKHOUSE_TYPE,
    PROMETHEUS_TYPE,
    check_dashboard,
    dashboard_panels,
    metric_names,
)
from tests.unit.deploy.conftest import INFRA

DASHBOARD = INFRA / "grafana" / "pulse.json"
#: what the issue's operators need to see (base units, names of the metrics consolidation)
EXPECTED = {
    "pulse_ingest_events_total",
    "pulse_ingest_rejected_events_total",
    "pulse_consumer_lag_records",
    "pulse_consumer_lag_seconds",
    "pulse_watermark_lag_seconds",
    "pulse_warehouse_freshness_seconds",
    "pulse_loader_batch_duration_seconds_bucket",
    "pulse_loader_batch_duration_seconds_count",
    "pulse_warehouse_insert_errors_total",
    "pulse_build_info",
    "flink_jobmanager_job_numberOfFailedCheckpoints",
    "flink_jobmanager_job_numberOfCompletedCheckpoints",
    "flink_jobmanager_job_lastCheckpointDuration",
    "flink_jobmanager_job_uptime",
    "flink_taskmanager_job_task_numRecordsInPerSecond",
    "flink_taskmanager_job_task_numRecordsOutPerSecond",
}


def test_valid_json_every_panel_with_datasource_and_targets() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = list(dashboard_panels(dashboard))
    assert len(panels) >= 10
    for panel in panels:
        assert panel["datasource"]["type"] in (PROMETHEUS_TYPE, CLICKHOUSE_TYPE), panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target.get("expr") or target.get("rawSql"), panel["title"]
    assert check_dashboard(INFRA / "grafana") == []


def test_payouts_per_currency_from_clickhouse() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    sql = [
        target["rawSql"]
        for panel in dashboard_panels(dashboard)
        for target in panel["targets"]
        if panel["datasource"]["type"] == CLICKHOUSE_TYPE
    ]
    assert sql and all("FROM pulse.agg_creator_payouts_daily" in s for s in sql)
    assert any("GROUP BY currency" in s for s in sql)


def test_used_metric_names() -> None:
    names = used_metric_names()
    assert names == EXPECTED
    assert "up" not in names  # made by Prometheus, not exported by a job
    assert metric_names('sum(rate({__name__="a_total", job="x"}[5m])) / b') == {"a_total", "b"}


def test_a_broken_panel_fails(tmp_path: Path) -> None:
    grafana = tmp_path / "grafana"
    shutil.copytree(INFRA / "grafana", grafana)
    dashboard = json.loads((grafana / "pulse.json").read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    panels[0]["targets"][0]["expr"] = "sum(rate(pulse_ingest_events_total[5m])"
    del panels[1]["datasource"]
    panels[1]["targets"] = []
    (grafana / "pulse.json").write_text(json.dumps(dashboard))
    text = "\n".join(map(str, check_dashboard(grafana)))
    assert "PromQL does not parse" in text
    assert "needs a datasource and targets" in text


def test_provisioned_passwords_come_from_the_environment(tmp_path: Path) -> None:
    grafana = tmp_path / "grafana"
    shutil.copytree(INFRA / "grafana", grafana)
    path = grafana / "provisioning" / "datasources.yaml"
    path.write_text(path.read_text().replace("$PULSE_GRAFANA_CLICKHOUSE_PASSWORD", "hunter2"))
    assert "password: use $ENV_VAR" in "\n".join(map(str, check_dashboard(grafana)))
