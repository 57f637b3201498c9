"""CPU per line of the bounded run's file ingest (one stream, one process), with a baseline.

Run:  .venv/bin/python bench/bench_ingest_file.py [--creators N] [--days D] [--seed S] [--runs R]

Generates (once) a data set into ``.pulse/bench/data-N-D-S`` and times, best of R, over its
views file: the baseline (read every line and ``orjson.loads`` it, nothing else) and
``ingest_stream`` as ``pulse run`` calls it (validate, replay and lateness rules, the clean
file), with the clock the day after the data. Prints microseconds per line of each and their
ratio. Compare builds by running it from each checkout in turn, interleaved.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from bench_run import bench_data

from pipelines.config import load_settings
from pipelines.domain.events import Stream
from pipelines.generate.api import DEFAULT_START
from pipelines.ingest.files import ingest_stream


def baseline_seconds(path: Path) -> tuple[float, int]:
    """Seconds to read and parse every line, and how many lines were not JSON."""
    started = time.perf_counter()
    bad = 0
    with path.open("rb") as handle:
        for line in handle:
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError:
                bad += 1
    return time.perf_counter() - started, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=100)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    data = bench_data(args.creators, args.days, args.seed)
    as_of = datetime.combine(DEFAULT_START + timedelta(days=args.days + 1), datetime.min.time())
    reference_ms = int(as_of.replace(tzinfo=UTC).timestamp() * 1000)
    settings = load_settings()

    base = ingest = float("inf")
    lines = accepted = 0
    with tempfile.TemporaryDirectory(prefix="pulse-bench-ingest-") as tmp:
        for _ in range(args.runs):
            seconds, _bad = baseline_seconds(data / "views.jsonl")
            base = min(base, seconds)
            started = time.perf_counter()
            result = ingest_stream(Stream.VIEW, data, Path(tmp) / "views", settings, reference_ms)
            ingest = min(ingest, time.perf_counter() - started)
            lines, accepted = result.lines, result.accepted
    print(f"views file:   {data / 'views.jsonl'} — {lines:,} lines, {accepted:,} accepted")
    best = f"best of {args.runs}"
    print(f"baseline:     {base / lines * 1e6:6.2f} us/line (read + orjson.loads, {best})")
    print(f"ingest:       {ingest / lines * 1e6:6.2f} us/line (ingest_stream, {best})")
    print(f"ratio:        {ingest / base:6.1f}x the baseline")


if __name__ == "__main__":
    main()
