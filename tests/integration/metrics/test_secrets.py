"""No configured secret appears in anything the stack wrote or showed: logs, health reports,
Flink's own log, the broker's log, /metrics, ``pulse status`` (text and JSON), command output;
nor in the error of a failed connection to a warehouse server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, SECRETS, StackRun

pytestmark = pytest.mark.integration


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_no_secret_in_any_file_or_output_of_the_stack_run(stack_run: StackRun) -> None:
    files = _files(stack_run.tmp)
    logs = [p for p in files if p.suffix == ".log"]
    names = {p.name for p in logs}
    # the logs that must be there, so that the grep means something
    assert {"ingest.log", "flink.log", "loader.log", "server.log"} <= names, sorted(names)
    assert any(p.parent.name == "flink-log" for p in logs), "PyFlink's JVM log"
    leaks = [
        (str(path.relative_to(stack_run.tmp)), secret)
        for path in files
        for secret in SECRETS
        if secret.encode() in path.read_bytes()
    ]
    assert not leaks, leaks
    shown = [
        *stack_run.outputs,
        *stack_run.status_outputs,
        *(s.text for s in stack_run.settled.values()),
        *(s.text for s in stack_run.after_reject.values()),
    ]
    assert stack_run.status_text and stack_run.status_json and len(stack_run.outputs) >= 10
    assert all(s.text for s in stack_run.settled.values()), "every scrape was captured"
    for secret in SECRETS:
        assert not [text for text in shown if secret in text], secret


def test_no_password_in_the_error_of_a_failed_warehouse_connection(tmp_path: Path) -> None:
    password = "dsn-Pa55-77c1d0e2-never-shown"
    env = {**os.environ, "PULSE_WAREHOUSE_PASSWORD": password}
    res = subprocess.run(
        [sys.executable, "-m", "pipelines", "query", "--warehouse",
         f"clickhouse://pulse:{password}@127.0.0.1:1/", "SELECT 1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode != 0
    assert res.stderr.strip(), "an error is reported"
    assert password not in res.stdout + res.stderr
