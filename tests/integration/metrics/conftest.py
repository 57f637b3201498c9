"""One real local stack, started the way a user does (``pulse up``), observed from outside.

``pulse up`` (broker on a free port, the ingest, the Flink job, the loader: every metrics port
a free one, so that stacks of colleagues on the same machine do not collide) -> ``pulse produce``
of a small generated set -> ``pulse status --wait`` -> real HTTP scrapes of every ``/metrics``
URL -> one rejected line and the scrapes around it -> ``pulse status`` (text and JSON) -> a real
Prometheus (Debian's ``prometheus``, installed with promtool by
``infra/prometheus/install-promtool.sh``) scraping the three jobs for ~20 s with the alert rules
loaded -> ``pulse down``. Every observation is recorded while the stack runs and asserted by
the tests afterwards, so that a failing assertion never leaves a process behind. The env holds
a distinctive warehouse password and SASL password (the broker is PLAINTEXT, so the SASL one is
configured and unused): the secrets test greps every file the run wrote for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from pipelines.generate.api import generate
from pipelines.local.processes import free_port, free_ports, proc_cmdline
from pipelines.streaming.monitor import Stage, StageLag, stage_lags
from tests.integration.streaming.conftest import require_kafka_jars

REPO = Path(__file__).resolve().parents[3]
INFRA = REPO / "infra"
WAREHOUSE_SECRET = "wh-Pa55-9f3e1c7a-never-logged"
SASL_SECRET = "sasl-Pa55-4b2d8e60-never-logged"
SECRETS = (WAREHOUSE_SECRET, SASL_SECRET)
DATA_START_S = 1_790_812_800  # 2026-10-01T00:00Z, the generator's first day
DAYS = 3
DEADLINE_S = 600
#: the scrape job names of infra/k8s/base/monitoring.yaml (alerts.yml's PulseJobDown)
SCRAPE_JOBS = {"ingest": "pulse-ingest", "loader": "pulse-loader", "flink": "pulse-streaming"}

SampleKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class Scrape:
    url: str
    at: float  # wall time (s) in the middle of the request
    text: str
    samples: dict[SampleKey, float]

    @property
    def names(self) -> set[str]:
        return {name for name, _ in self.samples}

    def value(self, name: str, **labels: str) -> float | None:
        """The one sample of ``name`` whose labels include ``labels`` (None: none)."""
        found = [
            v
            for (n, lbls), v in self.samples.items()
            if n == name and labels.items() <= dict(lbls).items()
        ]
        assert len(found) <= 1, f"{len(found)} samples of {name} {labels}"
        return found[0] if found else None

    def total(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        return sum(
            v
            for (n, lbls), v in self.samples.items()
            if n == name and labels.items() <= dict(lbls).items()
        )


def scrape(url: str, timeout: float = 10.0) -> Scrape:
    began = time.time()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        assert response.status == 200, url
        text = response.read().decode()
    at = (began + time.time()) / 2
    samples: dict[SampleKey, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return Scrape(url, at, text, samples)


@dataclass
class StackRun:
    tmp: Path
    env: dict[str, str]
    urls: dict[str, str]
    raw_dir: Path
    #: after everything produced was stored and the lag collector saw it
    settled: dict[str, Scrape] = field(default_factory=dict)
    #: ingest and loader around ONE rejected line
    before_reject: dict[str, Scrape] = field(default_factory=dict)
    after_reject: dict[str, Scrape] = field(default_factory=dict)
    #: Flink's REST checkpoint counts right after the settled Flink scrape
    rest_checkpoints: dict[str, int] = field(default_factory=dict)
    #: a group that never consumed raw.views, seen by stage_lags(ages=True)
    probe: StageLag | None = None
    produced_between: tuple[float, float] = (0.0, 0.0)
    pid_files: dict[str, int] = field(default_factory=dict)
    broker_pid: int | None = None
    status_text: str = ""
    status_json: dict[str, Any] = field(default_factory=dict)
    status_outputs: list[str] = field(default_factory=list)
    prometheus: dict[str, Any] = field(default_factory=dict)
    newest_event_ms: int | None = None
    started_pids: list[int] = field(default_factory=list)

    @property
    def flink_logs(self) -> list[Path]:
        """PyFlink's JVM log (the JobManager and TaskManager of the mini-cluster)."""
        return sorted((self.tmp / "flink-log").glob("*.log"))

    outputs: list[str] = field(default_factory=list)  # stdout/stderr of every command run


def _pulse(run: StackRun, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=REPO,
        env=run.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    run.outputs += [res.stdout, res.stderr]
    return res


def _wait(what: str, check: Callable[[], bool], timeout: float, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def _answers(url: str) -> bool:
    try:
        scrape(url, timeout=2)
        return True
    except OSError:
        return False


def _env(tmp: Path) -> tuple[dict[str, str], dict[str, int]]:
    names = ("kafka", "ingest", "loader", "flink", "rest")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PULSE_KAFKA__BOOTSTRAP": f"127.0.0.1:{ports['kafka']}",
        "PULSE_KAFKA__DATA_DIR": str(tmp / "kafka"),
        "PULSE_STACK__DIR": str(tmp / "stack"),
        "PULSE_WAREHOUSE": str(tmp / "warehouse"),
        "PULSE_WORK_DIR": str(tmp / "work"),
        "PULSE_INGEST__DATA_DIR": str(tmp / "ingest-data"),
        "PULSE_INGEST__SESSION_TIMEOUT_MS": "6000",
        "PULSE_LOADER__DATA_DIR": str(tmp / "loader-data"),
        "PULSE_LOADER__BATCH": "500",
        "PULSE_LOADER__WITHIN_S": "0.2",
        "PULSE_FLINK__REST_PORT": str(ports["rest"]),
        "PULSE_FLINK__CHECKPOINT_DIR": str(tmp / "checkpoints"),
        "PULSE_FLINK__CHECKPOINT_INTERVAL_S": "1",
        "PULSE_FLINK__CHANGELOG_IDLE_TIMEOUT_S": "8",
        "PULSE_FLINK__JVM_HEAP": "1g",
        "PULSE_METRICS__INGEST_PORT": str(ports["ingest"]),
        "PULSE_METRICS__LOADER_PORT": str(ports["loader"]),
        "PULSE_METRICS__FLINK_PORT": str(ports["flink"]),
        "PULSE_METRICS__LAG_INTERVAL_S": "1",
        "FLINK_LOG_DIR": str(tmp / "flink-log"),  # PyFlink's JVM log, not the shared venv one
        # secrets: configured, never shown (PLAINTEXT broker: the SASL password stays unused)
        "PULSE_WAREHOUSE_PASSWORD": WAREHOUSE_SECRET,
        "PULSE_KAFKA__SASL_PASSWORD": SASL_SECRET,
    }
    for name in [k for k in env if k.startswith("PULSE_METRICS__PORT")]:
        del env[name]
    env.pop("PULSE_METRICS__HOST", None)
    env.pop("PULSE_AS_OF", None)
    return env, ports


def _produce_one(bootstrap: str, topic: str, value: bytes) -> None:
    from aiokafka import AIOKafkaProducer

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, value)
        finally:
            await producer.stop()

    asyncio.run(send())


def _rest(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.loads(response.read())


def _flink_checkpoint_counts(rest_port: int) -> dict[str, int]:
    jobs = [j for j in _rest(rest_port, "/jobs/overview")["jobs"] if j["state"] == "RUNNING"]
    assert len(jobs) == 1, jobs
    counts = _rest(rest_port, f"/jobs/{jobs[0]['jid']}/checkpoints")["counts"]
    return {key: int(value) for key, value in counts.items()}


def _prometheus(run: StackRun, ports: dict[str, int], seconds: float = 20.0) -> dict[str, Any]:
    """A real Prometheus scraping the three jobs (and evaluating the alert rules) for
    ``seconds``; its answers about targets, rules and every name the dashboard/alerts use."""
    from pipelines.deploy.check import used_metric_names

    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: bash infra/prometheus/install-promtool.sh"
    folder = run.tmp / "prometheus"
    folder.mkdir()
    config = {
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "rule_files": [str(INFRA / "prometheus" / "alerts.yml")],
        "scrape_configs": [
            {
                "job_name": SCRAPE_JOBS[name],
                "honor_labels": True,  # as the PodMonitors: the jobs' own `job` label stays
                "static_configs": [{"targets": [f"127.0.0.1:{ports[name]}"]}],
            }
            for name in ("ingest", "loader", "flink")
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    web = free_port()
    base = f"http://127.0.0.1:{web}"
    with (folder / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [binary, f"--config.file={folder / 'prometheus.yml'}",
             f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{web}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    run.started_pids.append(proc.pid)

    def api(path: str, **query: str) -> Any:
        url = f"{base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    try:
        began = time.monotonic()
        _wait("prometheus ready", lambda: _answers_plain(f"{base}/-/ready"), 60)
        time.sleep(max(0.0, seconds - (time.monotonic() - began)))
        targets = api("/api/v1/targets")["activeTargets"]
        up = api("/api/v1/query", query='up{job=~"pulse-ingest|pulse-loader|pulse-streaming"}')
        present = {
            name: len(api("/api/v1/query", query=f'count({{__name__="{name}"}})')["result"]) > 0
            for name in sorted(used_metric_names())
        }
        rules = [r for g in api("/api/v1/rules")["groups"] for r in g["rules"]]
        return {"targets": targets, "up": up["result"], "present": present, "rules": rules}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _answers_plain(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


def _newest_event_ms(run: StackRun) -> int | None:
    """The newest event time of the fact tables, read from the stopped stack's warehouse."""
    code = (
        "from pipelines.config import load_settings\n"
        "from pipelines.connectors.warehouse import Warehouse\n"
        "from pipelines.streaming.freshness import newest_in_warehouse\n"
        "with Warehouse.connect(load_settings(), create_folder=False) as wh:\n"
        "    wh.use_database()\n"
        "    print(newest_in_warehouse(wh))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=run.env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    text = res.stdout.strip().splitlines()[-1]
    return None if text == "None" else int(text)


def _alive(pid: int) -> bool:
    return proc_cmdline(pid) is not None and not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return ") Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


def _record_pids(run: StackRun) -> None:
    stack_dir = run.tmp / "stack"
    for name in ("ingest", "flink", "loader"):
        pid = int((stack_dir / f"{name}.pid").read_text().strip())
        run.pid_files[name] = pid
        run.started_pids.append(pid)
    broker = run.tmp / "kafka" / "broker.pid"
    run.broker_pid = int(broker.read_text().strip())
    run.started_pids.append(run.broker_pid)


def _observe(run: StackRun, ports: dict[str, int]) -> None:
    up = _pulse(run, "up", timeout=400)
    assert up.returncode == 0, up.stdout + up.stderr
    _record_pids(run)
    for name, url in run.urls.items():
        _wait(f"{name} /metrics", functools.partial(_answers, url), 300)

    began = time.time()
    produced = _pulse(run, "produce", "--input", str(run.raw_dir), "--quiet", timeout=400)
    assert produced.returncode == 0, produced.stderr
    run.produced_between = (began, time.time())
    waited = _pulse(run, "status", "--wait", "--settle", "12", "--timeout", "420", timeout=500)
    assert waited.returncode == 0, waited.stdout + waited.stderr

    # the lag collector (every second) has seen the drained stages
    def drained() -> bool:
        loader = scrape(run.urls["loader"])
        stages = ("ingest", "flink", "loader")
        values = [loader.value("pulse_consumer_lag_records", stage=s) for s in stages]
        return all(v == 0 for v in values)

    _wait("consumer lag 0 on every stage", drained, 60)
    for name, url in run.urls.items():
        run.settled[name] = scrape(url)
    run.rest_checkpoints = _flink_checkpoint_counts(ports["rest"])

    # a group that never consumed: the whole topic is its lag, as old as the first record
    probe = Stage("probe", "pulse-metrics-test-never-consumed", ("raw.views",))
    run.probe = asyncio.run(stage_lags(run.env["PULSE_KAFKA__BOOTSTRAP"], (probe,), ages=True))[0]

    # exactly one rejected line
    run.before_reject = {n: scrape(run.urls[n]) for n in ("ingest", "loader")}
    _produce_one(run.env["PULSE_KAFKA__BOOTSTRAP"], "raw.views", b"[]")
    seen = run.before_reject["ingest"].total("pulse_ingest_events_total", stream="view")
    _wait(
        "the ingest decided the line",
        lambda: scrape(run.urls["ingest"]).total("pulse_ingest_events_total", stream="view") > seen,
        120,
    )
    loaded = run.before_reject["loader"].total(
        "pulse_warehouse_rows_loaded_total", table="raw_rejected_events"
    )
    _wait(
        "the loader stored its dead letter",
        lambda: (
            scrape(run.urls["loader"]).total(
                "pulse_warehouse_rows_loaded_total", table="raw_rejected_events"
            )
            > loaded
        ),
        120,
    )
    time.sleep(2.0)  # nothing else may move: scrape again
    run.after_reject = {n: scrape(run.urls[n]) for n in ("ingest", "loader")}

    text = _pulse(run, "status")
    assert text.returncode == 0, text.stdout + text.stderr
    run.status_text = text.stdout
    as_json = _pulse(run, "status", "--format", "json")
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    run.status_json = json.loads(as_json.stdout)
    run.status_outputs = [text.stdout, text.stderr, as_json.stdout, as_json.stderr]

    run.prometheus = _prometheus(run, ports)


@pytest.fixture(scope="package")
def stack_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackRun]:
    require_kafka_jars()
    tmp = tmp_path_factory.mktemp("metrics-stack")
    env, ports = _env(tmp)
    raw_dir = tmp / "raw"
    generate(raw_dir, creators=6, days=DAYS, seed=7)
    urls = {name: f"http://127.0.0.1:{ports[name]}/metrics" for name in SCRAPE_JOBS}
    run = StackRun(tmp, env, urls, raw_dir)
    try:
        _observe(run, ports)
    finally:
        down = _pulse(run, "down", timeout=300)
        for pid in run.started_pids:  # whatever `down` left: never survive the test
            if _alive(pid):
                kill = os.kill if pid == run.broker_pid else os.killpg
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(pid, signal.SIGKILL)
    assert down.returncode == 0, down.stdout + down.stderr
    run.newest_event_ms = _newest_event_ms(run)
    yield run


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
