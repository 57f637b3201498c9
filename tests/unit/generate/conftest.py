"""One small generated data set shared by the generator tests, and a loader."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipelines.generate import generate

START = date(2026, 10, 1)
CREATORS = 40
DAYS = 14
SEED = 11


@dataclass(frozen=True)
class Parsed:
    """The lines of one file: parsed objects (``None`` if not a JSON object) and raw text."""

    raw: list[bytes]
    rows: list[dict[str, Any] | None]


@dataclass(frozen=True)
class DataSet:
    path: Path
    counts: dict[str, int]
    files: dict[str, Parsed]


def parse_file(path: Path) -> Parsed:
    raw = path.read_bytes().split(b"\n")
    assert raw[-1] == b"", "files end with a newline"
    raw = raw[:-1]
    rows: list[dict[str, Any] | None] = []
    for line in raw:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        rows.append(obj if isinstance(obj, dict) else None)
    return Parsed(raw, rows)


def instant_ms(value: Any) -> int | None:
    """RFC 3339 text with ``Z`` or integer epoch ms -> epoch ms; anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return int(datetime.fromisoformat(value).timestamp() * 1000)
        except ValueError:
            return None
    return None


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> DataSet:
    out = tmp_path_factory.mktemp("generated")
    counts = generate(out, creators=CREATORS, days=DAYS, seed=SEED, start=START)
    files = {name: parse_file(out / name) for name in counts}
    return DataSet(out, counts, files)
