"""The alert rules, checked by Prometheus' own promtool (never skipped: CI installs it).

promtool comes from Debian's `prometheus` package via infra/prometheus/install-promtool.sh,
which `make deploy-check` runs (and `make test` must run before the tests).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipelines.deploy.monitoring import alert_rules, check_alerts, metric_names
from tests.unit.deploy.conftest import INFRA

PROM = INFRA / "prometheus"
REQUIRED = {
    "PulseConsumerLagGrowing": "pulse_consumer_lag_records",
    "PulseWatermarkStalled": "pulse_watermark_lag_seconds",
    "PulseWarehouseStale": "pulse_warehouse_freshness_seconds",
    "PulseDeadLetterSpike": "pulse_ingest_events_total",
    "PulseFlinkCheckpointFailures": "flink_jobmanager_job_numberOfFailedCheckpoints",
    "PulseJobDown": "up",
}


def _promtool(*args: str, cwd: Path = PROM) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary is not None, (
        "promtool is missing: run `bash infra/prometheus/install-promtool.sh` "
        "(make deploy-check does; make test must too)"
    )
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def test_promtool_check_rules() -> None:
    run = _promtool("check", "rules", "alerts.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_promtool_unit_tests_fire_and_do_not_fire() -> None:
    run = _promtool("test", "rules", "alerts_test.yml")
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_required_alert_with_its_metric_for_severity_and_summary() -> None:
    rules = {str(rule["alert"]): rule for rule in alert_rules(PROM / "alerts.yml")}
    for alert, metric in REQUIRED.items():
        rule = rules[alert]
        assert metric in metric_names(str(rule["expr"]))
        assert rule["for"]
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert "\n" not in rule["annotations"]["summary"].strip()
    assert check_alerts(PROM) == []


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(PROM, tmp_path / "prometheus")
    return tmp_path / "prometheus"


def test_a_wrong_threshold_fails_the_promtool_tests(tmp_path: Path) -> None:
    prom = _copy(tmp_path)
    alerts = prom / "alerts.yml"
    alerts.write_text(
        alerts.read_text().replace(
            "pulse_warehouse_freshness_seconds) > 1800", "pulse_warehouse_freshness_seconds) > 3600"
        )
    )
    run = _promtool("test", "rules", "alerts_test.yml", cwd=prom)
    assert run.returncode != 0
    assert "PulseWarehouseStale" in run.stdout + run.stderr
    assert any("promtool test rules" in p.where for p in check_alerts(prom))


def test_invalid_promql_and_missing_severity_fail(tmp_path: Path) -> None:
    prom = _copy(tmp_path)
    alerts = prom / "alerts.yml"
    data = yaml.safe_load(alerts.read_text())
    rule = data["groups"][0]["rules"][0]
    rule["expr"] = "rate(pulse_consumer_lag_records[5m]"
    del data["groups"][0]["rules"][1]["labels"]["severity"]
    alerts.write_text(yaml.safe_dump(data, sort_keys=False))
    run = _promtool("check", "rules", "alerts.yml", cwd=prom)
    assert run.returncode != 0
    text = "\n".join(map(str, check_alerts(prom)))
    assert "expr does not parse" in text
    assert "labels.severity must be one of" in text


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_alert_has_a_firing_unit_test(name: str) -> None:
    tests = yaml.safe_load((PROM / "alerts_test.yml").read_text())["tests"]
    cases = [c for t in tests for c in t["alert_rule_test"] if c["alertname"] == name]
    assert any(c["exp_alerts"] for c in cases), f"{name}: no case where it fires"
    assert any(not c["exp_alerts"] for c in cases), f"{name}: no case where it does not fire"
