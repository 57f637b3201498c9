"""``pulse generate``: write a realistic, deterministic synthetic input data set."""

from __future__ import annotations

import argparse
import time
from datetime import date
from typing import Any

from pipelines.errors import PulseError
from pipelines.generate import api


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from err


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "generate",
        help="write a synthetic input data set (views, comments, clicks, profiles, campaigns)",
        description=(
            "Write views.jsonl, comments.jsonl, ad_clicks.jsonl, creator_profiles.jsonl and "
            "campaigns.jsonl into --out: power-law popularity, bots, click floods, duplicate "
            "clicks, replays, malformed and late lines. Same arguments, same bytes."
        ),
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    parser.add_argument(
        "--creators", type=_positive, default=api.DEFAULT_CREATORS, help="number of creators"
    )
    parser.add_argument("--days", type=_positive, default=api.DEFAULT_DAYS, help="days of traffic")
    parser.add_argument("--seed", type=_seed, default=api.DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--start",
        type=_day,
        default=api.DEFAULT_START,
        metavar="YYYY-MM-DD",
        help=f"first UTC day of traffic (default {api.DEFAULT_START.isoformat()})",
    )
    parser.add_argument("--format", choices=["jsonl"], default="jsonl", help="file format")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    began = time.perf_counter()  # reporting only; the data never depends on the clock

    try:
        counts = api.generate(
            args.out,
            creators=args.creators,
            days=args.days,
            seed=args.seed,
            start=args.start,
            quiet=args.quiet,
        )
    except OSError as err:
        raise PulseError(f"cannot write to {args.out}: {err}") from err
    elapsed = time.perf_counter() - began
    for name, lines in counts.items():  # after the progress bar is gone
        print(f"{name}: {lines:,} lines")
    total = sum(counts.values())
    print(f"total: {total:,} lines in {elapsed:.1f}s into {args.out}")
    return 0
