"""End-to-end benchmark of ``pulse run`` against an analyst's single chdb query.

    .venv/bin/python bench/bench_run.py [--creators 1000] [--days 28] [--seed 7]

1. Generates a data set (>= 2M lines with the defaults) into .pulse/bench/data-*.
2. Runs ``pulse run`` on it in a subprocess (fresh warehouse), sampling the RSS
   of the whole process tree (Python driver + Flink JVM + Python workers).
3. Measures the JVM/mini-cluster start-up alone (a trivial Flink job).
4. Baseline, same run: the engagement-window counts (views, unique viewers,
   comments per creator and 7-day window, bots excluded) as ONE ClickHouse SQL
   query in chdb over the same raw files — what an analyst would write instead.
Prints events/s, wall time, peak RSS, start-up share and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pipelines.generate.api import DEFAULT_START, generate

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tree_rss(root_pid: int) -> dict[str, int]:
    """RSS bytes of a process and all its descendants (from /proc), by kind: ``driver`` (the
    process itself), ``jvm`` (java processes) and ``workers`` (every other descendant)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                head, tail = handle.read().rsplit(")", 1)
        except OSError:
            continue
        fields = tail.split()
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        names[pid] = head.split("(", 1)[1]
    kinds = {"driver": 0, "jvm": 0, "workers": 0}
    stack = [root_pid]
    while stack:
        pid = stack.pop()
        kind = "driver" if pid == root_pid else "jvm" if names.get(pid) == "java" else "workers"
        kinds[kind] += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return kinds


@dataclass
class Peak:
    """The sample with the largest RSS of the whole tree, and when it was taken."""

    total: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    clock: str = ""  # HH:MM:SS, as in the run's log


def step_at(log: str, clock: str) -> str:
    """The step of the run's log that had started last at ``clock`` (HH:MM:SS)."""
    started = [name for at, name in re.findall(r"\[([0-9:]{8})\] (\S+): start", log) if at <= clock]
    return started[-1] if started else "start-up"


def run_sampled(cmd: list[str], log: Path) -> tuple[float, Peak, str]:
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=out, text=True, cwd=ROOT)
        peak = Peak()
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                kinds = tree_rss(proc.pid)
                total = sum(kinds.values())
                if total > peak.total:
                    peak = Peak(total, kinds, datetime.now().strftime("%H:%M:%S"))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stdout, _ = proc.communicate()
        done.set()
        sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}); see {log}")
    return time.perf_counter() - started, peak, stdout


BASELINE_SQL = """
SELECT creator_id, window_start, count() AS views, uniqExact(user_id) AS unique_viewers
FROM (
  SELECT JSONExtractString(line, 'creator_id') AS creator_id,
         JSONExtractString(line, 'user_id') AS user_id,
         JSONExtractString(line, 'user_agent') AS ua,
         JSONExtractRaw(line, 'event_time') AS t_raw,
         if(startsWith(t_raw, '"'),
            toUnixTimestamp64Milli(parseDateTime64BestEffortOrNull(
              JSONExtractString(line, 'event_time'), 3, 'UTC')),
            toInt64OrNull(t_raw)) AS t_ms,
         arrayJoin(range(0, 7)) AS k,
         toDateTime(intDiv(t_ms, 86400000) * 86400 - k * 86400, 'UTC') AS window_start
  FROM file('{views}', 'LineAsString')
  WHERE isValidJSON(line) AND t_ms IS NOT NULL
    AND NOT multiSearchAnyCaseInsensitive(ua, ['bot', 'crawler', 'spider', 'headless'])
)
GROUP BY creator_id, window_start
FORMAT Null
"""


def chdb_baseline(data: Path) -> float:
    code = (
        "import chdb, sys, time\n"
        "sql = sys.stdin.read()\n"
        "t = time.perf_counter(); chdb.query(sql)\n"
        "print(time.perf_counter() - t)\n"
    )
    sql = BASELINE_SQL.format(views=(data / "views.jsonl").resolve())
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], input=sql, capture_output=True, text=True, check=True
    )
    del out
    return time.perf_counter() - started


def flink_startup_seconds() -> float:
    code = (
        "import time; t = time.perf_counter()\n"
        "from pipelines.flink.job import FlinkOptions, create_table_environment\n"
        "env = create_table_environment(FlinkOptions(parallelism=1))\n"
        "env.execute_sql(\"CREATE TEMPORARY TABLE s (x INT) WITH ('connector'='datagen',"
        " 'number-of-rows'='1')\")\n"
        "env.execute_sql(\"CREATE TEMPORARY TABLE b (x INT) WITH ('connector'='blackhole')\")\n"
        "env.execute_sql('INSERT INTO b SELECT x FROM s').wait()\n"
        "print(time.perf_counter() - t)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(out.stdout.strip().splitlines()[-1])


def bench_data(creators: int, days: int, seed: int) -> Path:
    """The generated data set ``.pulse/bench/data-CREATORS-DAYS-SEED``, made on first use."""
    data = ROOT / ".pulse" / "bench" / f"data-{creators}-{days}-{seed}"
    if not (data / "views.jsonl").exists():
        generate(data, creators=creators, days=days, seed=seed)
    return data


def pulse_run_command(data: Path, warehouse: Path, days: int) -> list[str]:
    """``pulse run`` over a generated data set of ``days`` days into a fresh ``warehouse``."""
    return [
        str(BIN / "pulse"),
        "run",
        "--input",
        str(data),
        "--warehouse",
        str(warehouse),
        "--as-of",
        # the day after the data ends: the generator's deliberately "future"
        # lines (a year ahead) must stay rejected, as in a real run
        (DEFAULT_START + timedelta(days=days + 1)).isoformat() + "T00:00:00Z",
        "--no-report",
    ]


def step_seconds(log: str) -> dict[str, str]:
    """The seconds of each step in a ``pulse run`` log (``[hh:mm:ss] step: done in 1.2s``)."""
    return dict(re.findall(r"\] (\S+): done in ([0-9.]+)s", log))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=1000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    data = bench_data(args.creators, args.days, args.seed)
    lines = sum(1 for path in data.glob("*.jsonl") for _ in path.open("rb"))
    size = sum(path.stat().st_size for path in data.glob("*.jsonl"))
    print(f"data set: {data} — {lines:,} lines, {size / 1e6:,.0f} MB")

    warehouse = Path(tempfile.mkdtemp(prefix="pulse-bench-wh-"))
    log = ROOT / ".pulse" / "bench" / "run.log"
    try:
        wall, peak, _ = run_sampled(pulse_run_command(data, warehouse / "wh", args.days), log)
    finally:
        shutil.rmtree(warehouse, ignore_errors=True)
    steps = step_seconds(log.read_text())
    startup = flink_startup_seconds()
    baseline = chdb_baseline(data)

    print(f"pulse run:        {wall:8.1f} s wall, {lines / wall:10,.0f} events/s end to end")
    print(f"  steps:          {', '.join(f'{k} {v}s' for k, v in steps.items())}")
    kinds = ", ".join(f"{kind} {size / 2**30:.2f}" for kind, size in peak.kinds.items())
    print(f"  peak RSS:       {peak.total / 2**30:8.2f} GiB (process tree: {kinds} GiB)")
    during = step_at(log.read_text(), peak.clock)
    print(f"                  at {peak.clock}, during the {during} step")
    planned = re.search(r"flink: planned in ([0-9.]+)s", log.read_text())
    if planned:
        plan = float(planned.group(1))
        print(f"  flink plan:     {plan:8.1f} s (JVM start + planning, during the ingest)")
    print(f"  JVM start-up:   {startup:8.1f} s (a trivial job alone: JVM + mini-cluster)")
    print(f"baseline (chdb):  {baseline:8.1f} s for the window counts alone (one SQL query)")
    print(f"ratio:            {wall / baseline:8.1f}x the baseline's time")


if __name__ == "__main__":
    main()
