"""``pulse status``: every component with its metrics URL, in text and as JSON for scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipelines.commands.status import render_text

REPO = Path(__file__).resolve().parents[3]


def _snapshot() -> dict[str, Any]:
    job = {"log": "x.log", "metrics_answering": True}
    return {
        "components": {
            "kafka": {
                "state": "running",
                "pid": 11,
                "address": "127.0.0.1:9092",
                "security": "PLAINTEXT",
                "metrics_url": None,
                "metrics_answering": None,
            },
            "ingest": {
                **job,
                "state": "running",
                "pid": 12,
                "metrics_url": "http://127.0.0.1:9401/metrics",
            },
            "flink": {
                **job,
                "state": "running",
                "pid": 13,
                "metrics_url": "http://127.0.0.1:9249/metrics",
                "metrics_answering": False,
            },
            "loader": {**job, "state": "stopped", "pid": None, "metrics_url": None},
        },
        "flink_job": None,
        "lag": [
            {
                "stage": "ingest",
                "group": "pulse-ingest",
                "records": 5,
                "seconds": 12.5,
                "topics": [{"topic": "raw.views", "end": 9, "committed": 4, "lag": 5}],
            }
        ],
        "clock": {"mode": "as_of", "as_of_ms": 0, "as_of": "1970-01-01T00:00:00.00Z"},
        "warnings": ["stream view holds the watermark"],
    }


def test_text_lines() -> None:
    lines = render_text(_snapshot()).splitlines()
    assert lines[0] == "kafka   running (127.0.0.1:9092, PLAINTEXT, pid 11)"
    assert lines[1] == "ingest  running (pid 12)  metrics http://127.0.0.1:9401/metrics"
    assert (
        lines[2]
        == "flink   running (pid 13)  metrics http://127.0.0.1:9249/metrics (NOT ANSWERING)"
    )
    assert lines[3] == "loader  stopped  metrics off"
    assert "lag ingest (group pulse-ingest): 5, oldest 12.5 s old" in lines
    assert "clock   as of 1970-01-01T00:00:00.00Z (backfill, pulse up --as-of)" in lines
    assert lines[-1] == "WARNING stream view holds the watermark"


def test_json_for_scripts_without_a_broker(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PULSE_KAFKA__BOOTSTRAP": "127.0.0.1:1",
        "PULSE_KAFKA__SASL_PASSWORD": "never-shown-Zq81",
        "PULSE_STACK__DIR": str(tmp_path / "stack"),
        "PULSE_FLINK__REST_PORT": "1",
        "PULSE_METRICS__HOST": "0.0.0.0",
        "PULSE_METRICS__LOADER_PORT": "19402",
    }
    res = subprocess.run(
        [sys.executable, "-m", "pipelines", "status", "--format", "json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 3, res.stderr
    status = json.loads(res.stdout)
    assert list(status["components"]) == ["kafka", "ingest", "flink", "loader"]
    kafka = status["components"]["kafka"]
    assert (kafka["state"], kafka["pid"], kafka["metrics_url"]) == ("unreachable", None, None)
    urls = {name: c["metrics_url"] for name, c in status["components"].items() if name != "kafka"}
    assert urls == {
        "ingest": "http://127.0.0.1:9401/metrics",
        "flink": "http://127.0.0.1:9249/metrics",
        "loader": "http://127.0.0.1:19402/metrics",
    }
    for name in ("ingest", "flink", "loader"):
        assert status["components"][name]["state"] == "stopped"
        assert status["components"][name]["pid"] is None
    assert status["lag"] is None and status["flink_job"] is None
    assert status["clock"] == {"mode": "wall", "as_of_ms": None, "as_of": None}
    assert status["warnings"] == []
    assert "no Kafka broker at 127.0.0.1:1" in res.stderr
    assert "never-shown-Zq81" not in res.stdout + res.stderr
