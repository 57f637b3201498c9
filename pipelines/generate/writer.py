"""Rendering of columns to JSON Lines, and streaming them to files.

Hot paths build no dict per row: values are taken from pools of pre-rendered
strings (ids, escaped user agents, instants assembled from day / second /
millisecond pieces) and a row is one f-string. Files are rendered and written
in chunks, merging the extra lines (replays, malformed) at their positions.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from tqdm import tqdm

from pipelines.domain.time import DAY_MS

CHUNK = 100_000
_MASK64 = (1 << 64) - 1
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def quoted_pool(values: list[str]) -> NDArray[np.object_]:
    """JSON string literals for a pool of values (index it with an int array)."""
    pool = np.empty(len(values), dtype=object)
    pool[:] = [dumps(v) for v in values]
    return pool


def plain_pool(values: list[str]) -> NDArray[np.object_]:
    pool = np.empty(len(values), dtype=object)
    pool[:] = values
    return pool


def pick(pool: NDArray[np.object_], index: NDArray[np.int64]) -> list[Any]:
    out: list[Any] = pool[index].tolist()
    return out


@lru_cache(maxsize=1)
def _clock_pools() -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    hms = np.empty(86_400, dtype=object)
    hms[:] = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86_400)]
    millis = np.empty(1000, dtype=object)
    millis[:] = [f'{m:03d}Z"' for m in range(1000)]
    return hms, millis


def iso_ms(ms: int) -> str:
    """Epoch milliseconds -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC)."""
    return str(np.datetime64(ms, "ms")) + "Z"


def time_fragments(ms: NDArray[np.int64], as_epoch: NDArray[np.bool_]) -> list[str]:
    """Instants as JSON values: RFC 3339 text, or integer epoch ms where ``as_epoch``."""
    if not len(ms):
        return []
    hms, millis = _clock_pools()
    day = ms // DAY_MS
    rem = ms - day * DAY_MS
    first = int(day.min())
    day_pool = np.empty(int(day.max()) - first + 1, dtype=object)
    day_pool[:] = ['"' + str(np.datetime64(first + d, "D")) + "T" for d in range(len(day_pool))]
    out = [
        a + b + c
        for a, b, c in zip(
            day_pool[day - first].tolist(),
            hms[rem // 1000].tolist(),
            millis[rem % 1000].tolist(),
            strict=True,
        )
    ]
    for i in np.flatnonzero(as_epoch).tolist():
        out[i] = str(int(ms[i]))
    return out


def scramble(count: int, key: int) -> NDArray[np.uint64]:
    """``count`` distinct random-looking 64-bit ints: a bijection of ``0..count-1``
    (splitmix64 finaliser), so ids made from them never collide."""
    x = np.arange(count, dtype=np.uint64) + np.uint64(key & _MASK64)
    x ^= x >> np.uint64(30)
    x *= _C1
    x ^= x >> np.uint64(27)
    x *= _C2
    x ^= x >> np.uint64(31)
    return x


@dataclass(frozen=True)
class Lines:
    """``count`` JSON lines in file order, rendered on demand by ``take(indices)``."""

    count: int
    take: Callable[[NDArray[np.int64]], list[str]]

    @staticmethod
    def of(lines: list[str]) -> Lines:
        return Lines(len(lines), lambda idx: [lines[i] for i in idx.tolist()])


class Progress:
    """A tqdm bar on stderr counting lines, silent when not a TTY or when quiet."""

    def __init__(self, total: int, quiet: bool) -> None:
        disable = quiet or not sys.stderr.isatty()
        self._bar = tqdm(
            total=total, unit=" lines", unit_scale=True, disable=disable, file=sys.stderr
        )

    def update(self, n: int) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def write_lines(
    path: Path,
    lines: Lines,
    inserts: list[tuple[int, str]],
    progress: Progress | None,
    chunk: int = CHUNK,
) -> int:
    """Write ``lines`` plus ``inserts`` (``(p, line)``: before original line ``p``).

    Returns the number of lines written.
    """
    extra = sorted(inserts, key=lambda item: item[0])
    k = 0
    written = 0
    with path.open("wb") as fh:
        for lo in range(0, max(lines.count, 1), chunk):
            hi = min(lo + chunk, lines.count)
            part = lines.take(np.arange(lo, hi, dtype=np.int64))
            last = hi >= lines.count
            if k < len(extra) and (extra[k][0] < hi or last):
                merged: list[str] = []
                prev = lo
                while k < len(extra) and (extra[k][0] < hi or last):
                    pos = extra[k][0]
                    merged.extend(part[prev - lo : pos - lo])
                    merged.append(extra[k][1])
                    prev = pos
                    k += 1
                merged.extend(part[prev - lo :])
                part = merged
            count = len(part)
            if count:
                part.append("")  # the last line's newline
                fh.write("\n".join(part).encode())
            written += count
            if progress is not None:
                progress.update(count)
    return written
