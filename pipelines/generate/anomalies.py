"""What a real feed does to clean events: disorder, replays, malformed lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from pipelines.domain.time import DAY_MS, MINUTE_MS
from pipelines.generate.writer import Lines, dumps, iso_ms

REPLAY_SHARE = 0.005

Mutator = Callable[[np.random.Generator, dict[str, Any]], str]


def arrival_order(
    rng: np.random.Generator, event_time: NDArray[np.int64], late: bool = True
) -> NDArray[np.int64]:
    """File order: event time plus an arrival delay.

    Every event gets up to 2 s of transport delay, 3 % up to 4 minutes more
    (slightly out of order), and a handful (``late``) 70 minutes to 8 hours
    more (beyond the watermark's allowed lateness).
    """
    n = len(event_time)
    delay = rng.integers(0, 2_000, n)
    jitter = rng.random(n) < 0.03
    delay[jitter] += rng.integers(0, 4 * MINUTE_MS, int(jitter.sum()))
    if late and n:
        k = min(n, max(3, n // 20_000))
        which = rng.choice(n, size=k, replace=False)
        delay[which] += rng.integers(70 * MINUTE_MS, 8 * 60 * MINUTE_MS, k)
    order: NDArray[np.int64] = np.argsort(event_time + delay, kind="stable").astype(np.int64)
    return order


def replays(
    rng: np.random.Generator, lines: Lines, share: float = REPLAY_SHARE
) -> list[tuple[int, str]]:
    """Exact copies of ~``share`` of the lines, each placed later in the file."""
    n = lines.count
    if n < 2:
        return []
    k = max(1, round(n * share))
    src = np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
    gap = 1 + rng.exponential(max(10.0, n * 0.01), k).astype(np.int64)
    pos = np.minimum(src + gap, n)
    return list(zip(pos.tolist(), lines.take(src), strict=True))


def replay_beyond_horizon(rng: np.random.Generator, lines: Lines) -> list[tuple[int, str]]:
    """One early line replayed at the very end (beyond a 7-day dedup horizon on long runs)."""
    if lines.count < 100:
        return []
    src = rng.integers(0, max(1, lines.count // 100), 1).astype(np.int64)
    return [(lines.count, lines.take(src)[0])]


# --- malformed lines ---------------------------------------------------------------------


def _fresh_id(rng: np.random.Generator, row: dict[str, Any]) -> None:
    if "event_id" in row:
        prefix = str(row["event_id"]).split("_", 1)[0]
        row["event_id"] = f"{prefix}_{int(rng.integers(0, 1 << 62)):016x}"


def _truncated(rng: np.random.Generator, row: dict[str, Any]) -> str:
    text = dumps(row)
    return text[: int(rng.integers(5, len(text) - 2))]


def _set(key: str, value: Any) -> Mutator:
    def mutate(rng: np.random.Generator, row: dict[str, Any]) -> str:
        row[key] = value
        return dumps(row)

    return mutate


def _drop(key: str) -> Mutator:
    def mutate(rng: np.random.Generator, row: dict[str, Any]) -> str:
        row.pop(key, None)
        return dumps(row)

    return mutate


def _as_string(key: str) -> Mutator:
    def mutate(rng: np.random.Generator, row: dict[str, Any]) -> str:
        row[key] = str(row[key])
        return dumps(row)

    return mutate


def _future(key: str, end_ms: int) -> Mutator:
    def mutate(rng: np.random.Generator, row: dict[str, Any]) -> str:
        row[key] = iso_ms(end_ms + int(rng.uniform(365, 730) * DAY_MS))
        return dumps(row)

    return mutate


def _not_object(rng: np.random.Generator, row: dict[str, Any]) -> str:
    return dumps(list(row.values()))


def _blank(rng: np.random.Generator, row: dict[str, Any]) -> str:
    return ""


def _text_time(rng: np.random.Generator, row: dict[str, Any]) -> str:
    row["event_time"] = "2026-13-45 25:61:00"
    return dumps(row)


def mutators(stream: str, end_ms: int) -> list[Mutator]:
    common: list[Mutator] = [_truncated, _not_object]
    if stream == "views":
        return [
            *common,
            _blank,
            _drop("country"),
            _set("user_id", None),
            _as_string("watch_time_ms"),
            _set("watch_time_ms", -1),
            _set("country", "XX"),
            _set("country", "us"),
            _future("event_time", end_ms),
            _text_time,
        ]
    if stream == "comments":
        return [
            *common,
            _drop("comment_id"),
            _set("text_length", 12.5),
            _set("text_length", -3),
            _future("event_time", end_ms),
        ]
    if stream == "ad_clicks":
        return [
            *common,
            _drop("campaign_id"),
            _set("user_id", 123456),
            _future("event_time", end_ms),
            _text_time,
        ]
    if stream == "creator_profiles":
        return [
            *common,
            _set("followers", -250),
            _set("country", "us"),
            _set("birth_date", "03/04/1999"),
            _drop("birth_date"),
        ]
    if stream == "campaigns":
        return [
            *common,
            _set("currency", "XYZ"),
            _set("cpc_micros", 0),
            _set("status", "archived"),
            _as_string("cpc_micros"),
            _drop("ends_at"),
        ]
    raise ValueError(f"unknown stream {stream!r}")


def malformed(
    rng: np.random.Generator, lines: Lines, stream: str, end_ms: int
) -> list[tuple[int, str]]:
    """A few broken lines of every kind, derived from random valid lines."""
    n = lines.count
    if not n:
        return []
    kinds = mutators(stream, end_ms)
    if n < 25 * len(kinds):  # small files (changelogs): a few kinds only, ~4 % at most
        picked = rng.permutation(len(kinds))[: max(2, n // 25)].tolist()
        kinds = [kinds[i] for i in sorted(picked)]
    reps = 1 + n // 250_000
    out: list[tuple[int, str]] = []
    for mutate in kinds:
        for _ in range(reps):
            src = int(rng.integers(0, n))
            row = orjson.loads(lines.take(np.array([src], dtype=np.int64))[0])
            _fresh_id(rng, row)
            out.append((min(n, src + int(rng.integers(1, 50))), mutate(rng, row)))
    return out
