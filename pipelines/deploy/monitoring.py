"""Offline checks of the alert rules (``infra/prometheus``) and the dashboard (``infra/grafana``),
and the metric names both use.

PromQL is parsed by ``promql-parser`` (a Python binding of the Rust PromQL parser); the rule
file is also checked and unit-tested by ``promtool`` itself (Prometheus' own parser), which
must be installed (``infra/prometheus/install-promtool.sh``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from pipelines.deploy.manifests import SECRET_NAME
from pipelines.deploy.problems import Problem

ALERTS = "alerts.yml"
ALERTS_TEST = "alerts_test.yml"
DASHBOARD = "pulse.json"
SEVERITIES = ("critical", "warning", "info")
PROMETHEUS_TYPE = "prometheus"
CLICKHOUSE_TYPE = "grafana-clickhouse-datasource"
PAYOUTS_TABLE = "pulse.agg_creator_payouts_daily"
# Grafana's interval variables, replaced by a duration before parsing
GRAFANA_DURATIONS = re.compile(
    r"\$__(rate_interval|interval|range)|\$\{__(rate_interval|interval)}"
)
ENV_REFERENCE = re.compile(r"^\$\{?[A-Z_][A-Z0-9_]*}?$")
#: series Prometheus makes itself: no job exports them
SYNTHETIC_METRICS = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})


def parse_promql(expr: str) -> promql_parser.Expr:
    """Parse PromQL (Grafana's ``$__rate_interval`` & co. read as ``5m``)."""
    return promql_parser.parse(GRAFANA_DURATIONS.sub("5m", expr))


def metric_names(expr: str) -> set[str]:
    """Every metric name a PromQL expression selects (by name or ``__name__="..."``)."""
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal:
                    names.add(matcher.value)

    promql_parser.walk(parse_promql(expr), pre_visit=visit)
    return names


# --- alerts --------------------------------------------------------------------------------------


def alert_rules(path: Path) -> Iterator[dict[str, Any]]:
    data = yaml.safe_load(path.read_text()) or {}
    for group in data.get("groups", []) or []:
        for rule in group.get("rules", []) or []:
            if "alert" in rule:
                yield rule


def alert_expressions(path: Path) -> list[str]:
    return [str(rule.get("expr", "")) for rule in alert_rules(path)]


def promtool_binary() -> str | None:
    return shutil.which("promtool")


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``promtool ARGS`` in ``cwd``; raises FileNotFoundError when promtool is missing."""
    binary = promtool_binary()
    if binary is None:
        raise FileNotFoundError(
            "promtool is not installed: run `bash infra/prometheus/install-promtool.sh` "
            "(make deploy-check does)"
        )
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def check_alerts(prom_dir: Path) -> list[Problem]:
    path = prom_dir / ALERTS
    if not path.is_file():
        return [Problem(str(path), "missing")]
    problems: list[Problem] = []
    names: set[str] = set()
    for rule in alert_rules(path):
        name = str(rule["alert"])
        where = f"{path}: {name}"
        if name in names:
            problems.append(Problem(where, "alert name used twice"))
        names.add(name)
        try:
            parse_promql(str(rule.get("expr", "")))
        except (ValueError, TypeError) as err:
            problems.append(Problem(where, f"expr does not parse: {err}"))
        if "for" not in rule:
            problems.append(Problem(where, "no for: duration"))
        if (rule.get("labels") or {}).get("severity") not in SEVERITIES:
            problems.append(Problem(where, f"labels.severity must be one of {SEVERITIES}"))
        summary = (rule.get("annotations") or {}).get("summary")
        if not summary or "\n" in str(summary).strip():
            problems.append(Problem(where, "annotations.summary must be one line"))
    if not names:
        problems.append(Problem(str(path), "no alerting rules"))
    tested = _tested_alerts(prom_dir / ALERTS_TEST)
    for name in sorted(names - tested):
        problems.append(Problem(str(prom_dir / ALERTS_TEST), f"no unit test for alert {name}"))
    try:
        for args in (("check", "rules", ALERTS), ("test", "rules", ALERTS_TEST)):
            run = run_promtool(*args, cwd=prom_dir)
            if run.returncode != 0:
                output = (run.stdout + run.stderr).strip()
                problems.append(Problem(f"promtool {' '.join(args)}", output))
    except FileNotFoundError as err:
        problems.append(Problem("promtool", str(err)))
    return problems


def _tested_alerts(path: Path) -> set[str]:
    """Alerts that some test expects to fire (a non-empty ``exp_alerts``)."""
    if not path.is_file():
        return set()
    data = yaml.safe_load(path.read_text()) or {}
    return {
        str(case["alertname"])
        for test in data.get("tests", []) or []
        for case in test.get("alert_rule_test", []) or []
        if case.get("exp_alerts")
    }


# --- dashboard ---------------------------------------------------------------------------------


def dashboard_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data (rows excluded, nested row panels included)."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    """The PromQL of every Prometheus target."""
    exprs = []
    for panel in dashboard_panels(dashboard):
        for target in panel.get("targets", []):
            source = target.get("datasource") or panel.get("datasource") or {}
            if source.get("type") == PROMETHEUS_TYPE and "expr" in target:
                exprs.append(str(target["expr"]))
    return exprs


def check_dashboard(grafana_dir: Path) -> list[Problem]:
    path = grafana_dir / DASHBOARD
    try:
        dashboard = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        return [Problem(str(path), f"not a JSON dashboard: {err}")]
    problems: list[Problem] = []
    variables = {
        f"${{{v['name']}}}": v.get("query")
        for v in dashboard.get("templating", {}).get("list", [])
        if v.get("type") == "datasource"
    }
    kinds = {PROMETHEUS_TYPE, CLICKHOUSE_TYPE}
    if set(variables.values()) != kinds:
        problems.append(Problem(str(path), f"needs datasource variables for {sorted(kinds)}"))
    if not dashboard.get("uid") or "__inputs" in dashboard:
        problems.append(Problem(str(path), "provisioning needs a fixed uid and no __inputs"))
    ids = [panel.get("id") for panel in dashboard_panels(dashboard)]
    if len(ids) != len(set(ids)):
        problems.append(Problem(str(path), "panel ids are not unique"))
    payout_sql = False
    for panel in dashboard_panels(dashboard):
        where = f"{path}: panel {panel.get('title')!r}"
        targets = panel.get("targets") or []
        if not panel.get("datasource") or not targets:
            problems.append(Problem(where, "needs a datasource and targets"))
        for target in targets:
            source = target.get("datasource") or panel.get("datasource") or {}
            kind, uid = source.get("type"), source.get("uid")
            if variables.get(str(uid)) != kind:
                problems.append(Problem(where, f"datasource {source} is not a dashboard variable"))
            if kind == PROMETHEUS_TYPE:
                try:
                    parse_promql(str(target.get("expr", "")))
                except (ValueError, TypeError) as err:
                    problems.append(Problem(where, f"PromQL does not parse: {err}"))
            elif kind == CLICKHOUSE_TYPE:
                sql = str(target.get("rawSql", ""))
                payout_sql = payout_sql or PAYOUTS_TABLE in sql
                if not sql.strip():
                    problems.append(Problem(where, "ClickHouse target without rawSql"))
    if not payout_sql:
        problems.append(Problem(str(path), f"no panel reads {PAYOUTS_TABLE}"))
    problems += _check_provisioning(grafana_dir / "provisioning")
    return problems


def _check_provisioning(directory: Path) -> list[Problem]:
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.yaml")):
        stack: list[Any] = [yaml.safe_load(path.read_text())]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for key, value in node.items():
                    if isinstance(value, dict | list):
                        stack.append(value)
                    elif SECRET_NAME.search(str(key)) and not ENV_REFERENCE.match(str(value)):
                        problems.append(Problem(str(path), f"{key}: use $ENV_VAR, not a value"))
            elif isinstance(node, list):
                stack.extend(node)
    return problems


def used_metric_names(prom_dir: Path, grafana_dir: Path) -> set[str]:
    """Metric names in the dashboard's PromQL and the alert expressions (minus ``up`` & co.)."""
    dashboard = json.loads((grafana_dir / DASHBOARD).read_text())
    names: set[str] = set()
    for expr in dashboard_expressions(dashboard) + alert_expressions(prom_dir / ALERTS):
        names |= metric_names(expr)
    return names - SYNTHETIC_METRICS
