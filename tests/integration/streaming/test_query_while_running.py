"""`pulse query --warehouse W` while the streaming stack runs and its loader holds W.

A small generated set goes through a real stack (broker, ingest, Flink, loader: ``run_stack``);
while every job runs, the test runs the ``pulse`` command as a user would, on the embedded
warehouse the loader holds: the loader answers, read-only, in every format, and the counts it
gives are those of the batches stored so far (never more than the final tables hold).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.config import load_settings
from pipelines.local.processes import proc_cmdline
from pipelines.streaming.query_protocol import ADVERT_NAME, live_advert

from . import data as dataset
from .compare import load
from .raw_stack import run_stack

pytestmark = pytest.mark.integration

PULSE = str(Path(sys.executable).parent / "pulse")
COUNT_SQL = "SELECT count() FROM pulse.fct_attributed_clicks"
FINAL_SQL = """SELECT count() AS clicks, countIf(status = 'valid') AS valid
               FROM pulse.fct_attributed_clicks FINAL"""
PAYOUTS_SQL = """SELECT currency, sum(creator_micros) AS creator_micros
                 FROM pulse.agg_creator_payouts_daily GROUP BY currency ORDER BY currency"""
WAIT_S = 600  # Flink alone may take minutes to start on a loaded 2-core machine


def pulse(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PULSE, *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_pulse_query_while_the_loader_writes(tmp_path: Path) -> None:
    data = dataset.build(tmp_path, load_settings(), creators=4, days=8, seed=23)
    raw_clicks = len((data.raw_dir / "ad_clicks.jsonl").read_bytes().splitlines())
    seen: dict[str, object] = {}

    def produce(bootstrap: str, env: dict[str, str]) -> None:
        result = pulse(env, "produce", "--input", str(data.raw_dir))
        assert result.returncode == 0, result.stderr

    def during(env: dict[str, str]) -> None:
        warehouse = Path(env["PULSE_WAREHOUSE"])
        deadline = time.monotonic() + WAIT_S
        while (advert := live_advert(warehouse)) is None:  # the loader is starting
            assert time.monotonic() < deadline, "the loader never advertised its endpoint"
            time.sleep(1)
        loader = " ".join(proc_cmdline(advert.pid) or [])
        assert "jobs.faust_loader" in loader, loader
        note = f"pulse query: answered by the running loader (pid {advert.pid})"
        counts = []
        while True:  # every query answers; wait until clicks are stored
            result = pulse(env, "query", "--warehouse", str(warehouse), COUNT_SQL)
            assert result.returncode == 0, result.stderr
            assert note in result.stderr, result.stderr
            header, rule, value, footer = result.stdout.splitlines()
            assert (header, rule, footer) == ("count()", "-------", "(1 row)")
            counts.append(int(value))
            if counts[-1] > 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert counts[-1] > 0, "no click was stored while the stack ran"
        assert counts == sorted(counts) and counts[-1] <= raw_clicks, counts

        jsonl = pulse(env, "query", "--warehouse", str(warehouse), "--format", "jsonl", FINAL_SQL)
        assert jsonl.returncode == 0 and note in jsonl.stderr, jsonl.stderr
        (row,) = [json.loads(line) for line in jsonl.stdout.splitlines()]
        assert counts[-1] <= row["clicks"] <= raw_clicks and 0 <= row["valid"] <= row["clicks"]
        csv = pulse(env, "query", "--warehouse", str(warehouse), "--format", "csv", PAYOUTS_SQL)
        assert csv.returncode == 0 and note in csv.stderr, csv.stderr
        lines = csv.stdout.splitlines()
        assert lines[0] == "currency,creator_micros"
        assert all(int(line.rsplit(",", 1)[1]) >= 0 for line in lines[1:]), lines

        refused = pulse(env, "query", "--warehouse", str(warehouse), "TRUNCATE TABLE "
                        "pulse.fct_attributed_clicks")  # fmt: skip
        assert refused.returncode == 2 and "(READONLY)" in refused.stderr, refused.stderr
        seen.update(warehouse=warehouse, env=env, clicks=row["clicks"], loader=advert.pid)

    began = time.monotonic()
    run = run_stack(tmp_path / "stack", produce, data.reference_ms, during=during)
    assert seen, "the hook did not run"
    warehouse = seen["warehouse"]
    assert isinstance(warehouse, Path)
    assert not (warehouse / ADVERT_NAME).exists()  # the loader withdrew it when it stopped
    loader_log = run.logs["loader"].read_text(errors="replace")
    assert "serving read-only queries of" in loader_log and "served a query" in loader_log

    env = seen["env"]
    assert isinstance(env, dict)
    after = pulse(env, "query", "--warehouse", str(warehouse), "--format", "jsonl", FINAL_SQL)
    assert after.returncode == 0 and "pulse query:" not in after.stderr, after.stderr
    final = json.loads(after.stdout)
    assert final["clicks"] == len(load(run.dump, "fct_attributed_clicks"))
    assert isinstance(seen["clicks"], int) and 0 < seen["clicks"] <= final["clicks"]
    print(
        f"while running: {seen['clicks']} of {final['clicks']} clicks stored "
        f"(loader pid {seen['loader']}); run {time.monotonic() - began:.0f} s"
    )
