"""``pulse run --metrics-file``: a bounded run leaves its metrics in a node-exporter textfile,
with the values of that run (the dead letters and rows the warehouse has)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipelines.generate.api import generate
from tests.integration.streaming.conftest import require_kafka_jars

from .conftest import REPO

pytestmark = pytest.mark.integration

AS_OF = "2026-10-04T00:00:00Z"
TABLES = ("raw_rejected_events", "fct_attributed_clicks", "fct_engagement_windows")


def _pulse(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_a_bounded_run_writes_its_metrics_to_a_textfile(tmp_path: Path) -> None:
    require_kafka_jars()
    raw = tmp_path / "raw"
    generate(raw, creators=4, days=3, seed=11)
    env = {
        **os.environ,
        "PULSE_WAREHOUSE": str(tmp_path / "warehouse"),
        "PULSE_WORK_DIR": str(tmp_path / "work"),
        "FLINK_LOG_DIR": str(tmp_path / "flink-log"),
    }
    textfile = tmp_path / "textfile" / "pulse_run.prom"
    textfile.parent.mkdir()
    res = _pulse(env, "run", "--input", str(raw), "--as-of", AS_OF, "--no-report",
                 "--metrics-file", str(textfile))  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(os.listdir(textfile.parent)) == ["pulse_run.prom"]  # no temporary left

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    names = set()
    for family in text_string_to_metric_families(textfile.read_text()):
        names.add(family.name)
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    assert names and all(name.startswith("pulse_") for name in names), sorted(names)

    def total(name: str, **labels: str) -> float:
        return sum(
            v for (n, lbls), v in samples.items()
            if n == name and labels.items() <= dict(lbls).items()
        )  # fmt: skip

    assert total("pulse_build_info") == 1
    assert total("pulse_step_duration_seconds_count", job="bounded") > 0

    # the values: what the warehouse of that run holds
    query = (
        "SELECT 'rejected' AS what, reason AS k, count() AS n FROM raw_rejected_events FINAL "
        "GROUP BY reason UNION ALL "
        + " UNION ALL ".join(f"SELECT 'rows', '{t}', count() FROM {t}" for t in TABLES)
    )
    answer = _pulse(env, "query", "--format", "jsonl", query)
    assert answer.returncode == 0, answer.stderr
    rows = [json.loads(line) for line in answer.stdout.splitlines() if line.strip()]
    by_reason = {r["k"]: r["n"] for r in rows if r["what"] == "rejected"}
    assert by_reason, "the generated set has malformed lines"
    for reason, n in by_reason.items():
        assert total("pulse_ingest_rejected_events_total", job="bounded", reason=reason) == n
    assert total("pulse_ingest_events_total", job="bounded", outcome="rejected") == sum(
        by_reason.values()
    )
    for r in rows:
        if r["what"] == "rows":
            loaded = total("pulse_warehouse_rows_loaded_total", job="bounded", table=r["k"])
            assert loaded == r["n"], r
