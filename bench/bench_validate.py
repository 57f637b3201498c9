"""Throughput of the input validator on realistic view lines, single process.

Run:  .venv/bin/python bench/bench_validate.py [--lines N] [--seed S]

Generates N view lines in memory (RFC 3339 with Z / offsets / fractions and
epoch-ms instants, realistic ids and user agents, ~1 % bad lines), then times
over the same lines: ``json.loads`` per line, ``orjson.loads`` per line, and
``Validator.validate_many``. Prints lines/s of each and the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone

import orjson

from pipelines.config import load_settings
from pipelines.domain.events import Stream
from pipelines.validation import Rejection, Validator

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
AS_OF_MS = int(AS_OF.timestamp() * 1000)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "pulse-app/3.2.1 (Android 13; SM-S911B)",
)
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN", "JP", "CA", "MX", "ES")
BAD_LINES = (
    b"",
    b"{not json",
    b"[1, 2, 3]",
    b'{"event_id": "x"}',
    b'{"event_id": "e", "event_time": "yesterday", "user_id": "u", "video_id": "v", '
    b'"creator_id": "c", "watch_time_ms": 1, "country": "US", "user_agent": "ua"}',
    b'{"event_id": "e", "event_time": 0, "user_id": "u", "video_id": "v", '
    b'"creator_id": "c", "watch_time_ms": -1, "country": "US", "user_agent": "ua"}',
    b'{"event_id": "e", "event_time": 0, "user_id": "u", "video_id": "v", '
    b'"creator_id": "c", "watch_time_ms": 1, "country": "ZZ", "user_agent": "ua"}',
)


def _instant(rng: random.Random, moment: datetime) -> str | int:
    form = rng.random()
    if form < 0.4:
        return int(moment.timestamp() * 1000)
    if form < 0.7:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if form < 0.85:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    local = moment.astimezone(timezone(timedelta(hours=rng.choice((-5, 1, 2, 9)))))
    return local.isoformat(timespec="milliseconds")


def make_lines(count: int, seed: int) -> list[bytes]:
    """``count`` realistic view lines over the day before AS_OF, ~1 % bad."""
    rng = random.Random(seed)
    start = AS_OF - timedelta(days=1)
    lines: list[bytes] = []
    for n in range(count):
        if rng.random() < 0.01:
            lines.append(rng.choice(BAD_LINES))
            continue
        moment = start + timedelta(milliseconds=n * 86_400_000 // count + rng.randrange(1000))
        view = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "event_time": _instant(rng, moment),
            "user_id": f"u{rng.randrange(2_000_000):07d}",
            "video_id": f"v{rng.randrange(300_000):06d}",
            "creator_id": f"c{rng.randrange(20_000):05d}",
            "watch_time_ms": rng.randrange(600_000),
            "country": rng.choice(COUNTRIES),
            "user_agent": rng.choice(USER_AGENTS),
        }
        lines.append(orjson.dumps(view))
    return lines


def _time(label: str, run: Callable[[list[bytes]], object], lines: list[bytes]) -> float:
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        run(lines)
        best = min(best, time.perf_counter() - began)
    rate = len(lines) / best
    print(f"{label:<34} {rate:>12,.0f} lines/s  ({best:.3f} s, best of 3)")
    return rate


def _json_loads(lines: Iterable[bytes]) -> None:
    for line in lines:
        with contextlib.suppress(ValueError):
            json.loads(line)


def _orjson_loads(lines: Iterable[bytes]) -> None:
    for line in lines:
        with contextlib.suppress(orjson.JSONDecodeError):
            orjson.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    lines = make_lines(args.lines, args.seed)
    size = sum(map(len, lines)) / len(lines)
    print(f"{len(lines):,} view lines, {size:.0f} bytes/line on average")
    validator = Validator(Stream.VIEW, AS_OF_MS, load_settings().future_tolerance_ms)
    outcomes = Counter(
        r.reason.value if isinstance(r, Rejection) else "accepted"
        for r in validator.validate_many(lines)
    )
    print("outcomes:", dict(outcomes.most_common()))

    json_rate = _time("json.loads per line", _json_loads, lines)
    orjson_rate = _time("orjson.loads per line", _orjson_loads, lines)
    rate = _time("Validator.validate_many", lambda ls: list(validator.validate_many(ls)), lines)
    one_by_one = _time(
        "Validator.validate per line", lambda ls: [validator.validate(x) for x in ls], lines
    )
    print(f"validator / json.loads   = {rate / json_rate:.2f}x")
    print(f"validator / orjson.loads = {rate / orjson_rate:.2f}x")
    print(f"validate per line / validate_many = {one_by_one / rate:.2f}x")


if __name__ == "__main__":
    main()
