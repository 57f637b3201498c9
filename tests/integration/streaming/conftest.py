"""The streaming scenario, run once per module against REAL services (no mocks).

A local Kafka broker (random loopback port), the Flink job on its mini-cluster
(``jobs/flink_streaming.py``), the Faust loader (``jobs/faust_loader.py``) and
embedded chdb warehouses; the bounded ``pulse run`` over the same raw files
into another warehouse folder is the reference.

Timeline: produce the first 60 % of the clean records (ingest's output,
computed by the bounded ingest) -> start loader and Flink -> ``kill -9`` the
loader right after its first click batch is in the warehouse (before its
offsets are committed, so the batch is redelivered) -> restart it -> ``kill
-9`` Flink (Python and its JVM) once a checkpoint completed, and restart it:
it resumes from that checkpoint (state of the open windows included) and
re-emits what came after it -> produce the other 40 % (Flink does not
checkpoint watermarks: a restored job re-derives its watermark from new
records) -> wait until everything is stored and the results topics are quiet
-> stop both -> dump both warehouses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.commands.status import wait_stored
from pipelines.config import load_settings
from pipelines.connectors.kafka_topics import ensure_topics, pulse_topics
from pipelines.domain.events import Stream
from pipelines.local.kafka_broker import LocalKafkaBroker
from pipelines.local.kafka_command import KafkaJarsMissingError, kafka_jars_dir
from pipelines.local.processes import free_port
from pipelines.streaming.checkpoints import latest_checkpoint
from pipelines.streaming.monitor import flink_job_state, stage_lags, stages

from . import data as dataset
from .dump import dump_in_subprocess

REPO = Path(__file__).resolve().parents[3]
IDLE_TIMEOUT_S = 8
CHECKPOINT_S = 1
QUIET_S = IDLE_TIMEOUT_S + 4  # no new results for this long = the final watermark was reached
DEADLINE_S = 600  # a limit, not a wait: Flink starts slowly on a loaded 2-core machine


@dataclass
class Scenario:
    streaming_dump: Path
    bounded_dump: Path
    cutoff_ms: int  # every window/click closed by this watermark must be there
    loader_killed_after_rows: int
    logs: dict[str, Path]
    seconds: dict[str, float]


def flink_command(checkpoints: Path, rest_port: str) -> list[str]:
    """The streaming Flink job as the tests run it: frequent checkpoints, short idle timeout."""
    return [
        sys.executable, "-m", "jobs.flink_streaming",
        "--checkpoint-dir", str(checkpoints),
        "--checkpoint-interval", str(CHECKPOINT_S),
        "--changelog-idle-timeout", str(IDLE_TIMEOUT_S),
        "--rest-port", rest_port,
    ]  # fmt: skip


class Proc:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv,
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout: float = 60) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        # whatever is left of its process group (PyFlink's JVM)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        if self.popen.poll() is None:
            self.popen.wait(timeout=30)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _journal_rows(journal: Path, topic: str) -> int:
    if not journal.exists():
        return 0
    rows = 0
    for line in journal.read_text().splitlines():
        entry = json.loads(line)
        if entry["topic"] == topic:
            rows += entry["rows"]
    return rows


def _results_state(bootstrap: str) -> tuple[int, int]:
    """(records in the loader's topics, loader lag)."""
    loader = next(s for s in stages(load_settings()) if s.name == "loader")
    lag = asyncio.run(stage_lags(bootstrap, (loader,)))[0]
    return sum(t.end for t in lag.topics), lag.lag


def finish_and_dump(
    bounded: Proc,
    streaming_wh: Path,
    bounded_wh: Path,
    tmp: Path,
    env: dict[str, str],
    deadline: float,
) -> None:
    """Wait for the bounded reference run, then dump both warehouses under ``tmp``."""
    bounded.popen.wait(timeout=max(10.0, deadline - time.monotonic()))
    assert bounded.popen.returncode == 0, bounded.tail()
    dump_in_subprocess(streaming_wh, tmp / "dump-streaming", env)
    dump_in_subprocess(bounded_wh, tmp / "dump-bounded", env)


def require_kafka_jars() -> None:
    """Fail (never skip) with a clear message when `make setup` has not fetched the jars."""
    try:
        kafka_jars_dir()
    except KafkaJarsMissingError as exc:
        pytest.fail(f"cannot start the Kafka test broker: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    require_kafka_jars()
    tmp = tmp_path_factory.mktemp("streaming")
    seconds: dict[str, float] = {}
    began = time.monotonic()
    settings = load_settings()
    data = dataset.build(tmp, settings, creators=6, days=12, seed=3)
    cutoff = data.final_watermark_cutoff(settings)
    assert data.clean[Stream.AD_CLICK] and data.dead_letters and data.late_events

    broker = LocalKafkaBroker(tmp / "kafka", port=None, start_timeout=90.0).start()
    procs: list[Proc] = []
    try:
        asyncio.run(ensure_topics(broker.bootstrap, pulse_topics()))
        head, tail = data.messages(split=0.6)
        dataset.produce(broker.bootstrap, head)
        seconds["setup"] = time.monotonic() - began

        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PULSE_KAFKA__BOOTSTRAP": broker.bootstrap,
            "PULSE_WORK_DIR": str(tmp / "work"),
            "PULSE_FLINK__REST_PORT": str(free_port()),
        }
        bounded_wh, streaming_wh = tmp / "wh-bounded", tmp / "wh-streaming"
        bounded = Proc(
            "bounded",
            [sys.executable, "-m", "pipelines", "run", "--input", str(data.raw_dir),
             "--warehouse", str(bounded_wh), "--as-of", str(data.reference_ms), "--no-report"],
            env, tmp / "bounded.log",
        )  # fmt: skip
        procs.append(bounded)
        journal = tmp / "loader-journal.jsonl"
        loader_env = {
            **env,
            "PULSE_WAREHOUSE": str(streaming_wh),
            "PULSE_LOADER__DATA_DIR": str(tmp / "loader-data"),
            "PULSE_LOADER__JOURNAL": str(journal),
            "PULSE_LOADER__BATCH": "40",
            "PULSE_LOADER__WITHIN_S": "0.2",
        }
        loader_argv = [sys.executable, "-m", "jobs.faust_loader"]
        loader = Proc("loader", loader_argv, loader_env, tmp / "loader.log")
        procs.append(loader)
        flink_argv = flink_command(tmp / "checkpoints", env["PULSE_FLINK__REST_PORT"])
        flink = Proc("flink", flink_argv, env, tmp / "flink.log")
        procs.append(flink)
        deadline = time.monotonic() + DEADLINE_S

        # kill -9 the loader as soon as a click batch is in the warehouse
        clicks = "results.attributed_clicks"
        while _journal_rows(journal, clicks) == 0:
            assert time.monotonic() < deadline, f"no clicks loaded:\n{flink.tail()}"
            assert flink.alive(), flink.tail()
            assert loader.alive(), loader.tail()
            time.sleep(0.02)
        killed_after = _journal_rows(journal, clicks)
        loader.kill9()
        seconds["first_clicks_stored"] = time.monotonic() - began
        loader = Proc("loader", loader_argv, loader_env, tmp / "loader.log")
        procs.append(loader)
        while latest_checkpoint(tmp / "checkpoints") is None:  # a state to resume from
            assert time.monotonic() < deadline, f"no checkpoint completed:\n{flink.tail()}"
            time.sleep(0.2)
        flink.kill9()
        seconds["flink_killed"] = time.monotonic() - began
        flink = Proc("flink", flink_argv, env, tmp / "flink.log")
        procs.append(flink)

        # wait: the restarted job runs (a checkpoint completed: all tasks are up), Flink
        # has committed all clean offsets, the results are quiet, the loader stored them
        rest_port = int(env["PULSE_FLINK__REST_PORT"])
        while (job := flink_job_state(rest_port)) is None or job.last_checkpoint_ms is None:
            assert time.monotonic() < deadline, f"the job did not restart:\n{flink.tail()}"
            assert flink.alive(), flink.tail()
            time.sleep(0.5)
        dataset.produce(broker.bootstrap, tail)
        watched = load_settings(kafka={"bootstrap": broker.bootstrap})
        flink_stage = tuple(s for s in stages(watched) if s.name == "flink")
        code, reason = asyncio.run(
            wait_stored(watched, flink_stage, deadline - time.monotonic(), False)
        )
        assert code == 0, f"{reason}\n{flink.tail()}"
        last, quiet_since = -1, time.monotonic()
        while True:
            assert time.monotonic() < deadline, f"not done in time:\n{flink.tail()}"
            assert flink.alive(), flink.tail()
            assert loader.alive(), loader.tail()
            total, lag = _results_state(broker.bootstrap)
            if total != last:
                last, quiet_since = total, time.monotonic()
            elif lag == 0 and time.monotonic() - quiet_since > QUIET_S:
                break
            time.sleep(0.5)
        seconds["streaming_done"] = time.monotonic() - began
        flink.stop()
        loader.stop()  # graceful: the warehouse folder is closed and unlocked
        finish_and_dump(bounded, streaming_wh, bounded_wh, tmp, env, deadline)
        seconds["total"] = time.monotonic() - began
        yield Scenario(
            tmp / "dump-streaming",
            tmp / "dump-bounded",
            cutoff,
            killed_after,
            {p.name: p.log for p in procs},
            seconds,
        )
    finally:
        for proc in reversed(procs):
            proc.stop(timeout=30)
        broker.stop()
