"""``pulse run``: the pipeline over a folder of files, into the warehouse."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from pipelines.commands.options import add_warehouse_argument
from pipelines.config import load_settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.errors import InputError
from pipelines.metrics import ROWS_LOADED, write_textfile
from pipelines.run.bounded import JOB as BOUNDED_JOB
from pipelines.run.bounded import run_bounded
from pipelines.run.report import build_report
from pipelines.validation.instants import instant_ms


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="run the pipeline over files into the warehouse (bounded, local Flink)",
        description=(
            "Validate the five stream files in --input (views, comments, ad_clicks, "
            "creator_profiles, campaigns as .jsonl or .parquet; a missing file is an empty "
            "stream), run the Flink job on a local mini-cluster, load every output table "
            "into the warehouse and print a report. Idempotent: re-running over the same "
            "input with the same --as-of leaves every table identical."
        ),
    )
    parser.add_argument("--input", required=True, type=Path, metavar="DIR")
    add_warehouse_argument(parser)
    parser.add_argument(
        "--as-of",
        dest="as_of",
        metavar="T",
        help="reference clock of the future-event rule: epoch ms or RFC 3339 (default: now)",
    )
    parser.add_argument(
        "--parallelism", type=int, help="Flink parallelism (default 1, PULSE_FLINK__PARALLELISM)"
    )
    parser.add_argument("--keep-work-dir", action="store_true", help="keep intermediate files")
    parser.add_argument("--no-report", action="store_true", help="skip the report")
    parser.add_argument(
        "--metrics-file",
        type=Path,
        metavar="PATH",
        help='after a successful run, write its pulse_* metrics (job="bounded") to PATH in '
        "the Prometheus text format of node exporter's textfile collector (name it *.prom), "
        "atomically; a failed run leaves the previous file",
    )
    parser.set_defaults(func=execute)


def parse_as_of(value: str | None, default: int | None = None) -> int:
    """``--as-of``: epoch ms or RFC 3339; absent: ``default`` (the ``as_of`` setting), else now."""
    if value is None:
        return default if default is not None else int(time.time() * 1000)
    text = value.strip()
    parsed = instant_ms(int(text)) if text.lstrip("-").isdigit() else instant_ms(text)
    if parsed is None:
        raise InputError(f"--as-of {value!r} is neither epoch milliseconds nor RFC 3339")
    return parsed


def _progress(step: str, what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {step}: {what}", file=sys.stderr, flush=True)


def execute(args: argparse.Namespace) -> int:
    settings = load_settings(warehouse=args.warehouse, flink={"parallelism": args.parallelism})
    reference_ms = parse_as_of(args.as_of, settings.as_of)
    summary = run_bounded(
        args.input, settings, reference_ms, listener=_progress, keep_work_dir=args.keep_work_dir
    )
    if args.metrics_file is not None:
        # the run recorded its steps and ingest outcomes; the rows it loaded are in the summary
        for table, rows in sorted(summary.loaded.items()):
            ROWS_LOADED.labels(BOUNDED_JOB, table).inc(rows)
        write_textfile(args.metrics_file)
        _progress("metrics", f"written to {args.metrics_file}")
    if not args.no_report:
        with Warehouse.connect(settings) as wh:
            print(build_report(wh, summary))
    return 0
