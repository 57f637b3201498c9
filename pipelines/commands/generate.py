"""`pulse generate` (placeholder: filled in by its owner)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("generate", help="generate (not built yet)")
    parser.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    print("pulse generate: not built yet")
    return 1
