"""Options several ``pulse`` sub-commands share."""

from __future__ import annotations

import argparse


def add_warehouse_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse",
        metavar="W",
        help="warehouse folder or clickhouse://user:password@host:8123/ "
        "(default: $PULSE_WAREHOUSE or .pulse/warehouse)",
    )
