"""The ``pulse`` command: one sub-command per module in :mod:`pipelines.commands`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pipelines.commands import (
    close,
    generate,
    kafka,
    migrate,
    produce,
    query,
    reconcile,
    run,
    stack,
    statements,
    status,
    trace,
)
from pipelines.config import CONFIG_FILE_ENV, use_config_file
from pipelines.errors import PulseError

COMMANDS = (
    generate,
    migrate,
    query,
    run,
    produce,
    stack,
    status,
    kafka,
    reconcile,
    close,
    statements,
    trace,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pulse",
        description="Creator engagement and attributed ad-click revenue, on Flink and ClickHouse.",
    )
    parser.add_argument(
        "--config", metavar="FILE", help=f"TOML settings file (also ${CONFIG_FILE_ENV})"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    if args.config:
        use_config_file(args.config)  # for this process and the jobs it starts
    try:
        code: int = args.func(args)
    except PulseError as err:
        print(f"pulse: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("pulse: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
