"""Hostile input through the file ingest of ``pulse run``: 1M lines, no crash, none lost.

Run:  .venv/bin/python bench/bench_hostile.py [--lines N] [--seed S] [--keep]

Writes one ``views.jsonl`` of N lines (default 1,000,000) in which about half the
lines are hostile: invalid UTF-8, raw control characters, JSON nested 100k deep,
multi-megabyte lines, integers beyond 64 bits, NaN/Infinity, impossible dates,
byte-order marks, blank lines, random bytes, identical bad lines, CRLF endings and
no final newline; the rest are valid views (with replays and late events among
them). Then, over the same file, it times

* the baseline: reading the lines and ``orjson.loads`` on each (what any JSON
  reader must at least do), and
* the ingest itself: :func:`pipelines.ingest.files.ingest_stream` (validate,
  replays, lateness, clean output, dead-letter rows),

prints lines/s of both and their ratio, and checks the ledger equation with
``lines`` counted from the file (``lines = accepted + rejected + replays + late``)
and that every rejected line kept its exact bytes. Exit 1 if a check fails.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson

from pipelines.config import load_settings
from pipelines.domain.events import Stream
from pipelines.ingest.files import ingest_stream
from pipelines.run.bounded import RunSummary, ledger_entries

REFERENCE_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z
START_MS = REFERENCE_MS - 10 * 86_400_000
BOM = b"\xef\xbb\xbf"


def _view(n: int, when_ms: int) -> dict[str, object]:
    return {
        "event_id": f"v{n}",
        "event_time": when_ms,
        "user_id": f"u{n % 5000}",
        "video_id": f"vid{n % 700}",
        "creator_id": f"c{n % 90}",
        "watch_time_ms": 15_000,
        "country": "US",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    }


def _swap(line: bytes, field: bytes, raw: bytes) -> bytes:
    """Replace the value of a known field of a compact view line with raw bytes."""
    start = line.index(b'"' + field + b'":') + len(field) + 3
    end = line.index(b",", start) if field != b"user_agent" else len(line) - 1
    return line[:start] + raw + line[end:]


HOSTILE_VALUES: list[tuple[bytes, bytes]] = [
    (b"watch_time_ms", b"18446744073709551616"),
    (b"watch_time_ms", b"-1180591620717411303424"),
    (b"watch_time_ms", b"NaN"),
    (b"watch_time_ms", b"Infinity"),
    (b"watch_time_ms", b"-Infinity"),
    (b"watch_time_ms", b"1e400"),
    (b"event_time", b'"2026-02-30T00:00:00Z"'),
    (b"event_time", b'"2026-02-10T24:00:00Z"'),
    (b"event_time", b"99999999999999999999999"),
    (b"user_agent", b'"a\xff\xfeb"'),
    (b"user_agent", b'"a\x01b"'),
    (b"user_agent", b'"a\x00b"'),
    (b"user_agent", b'"\xed\xa0\x80"'),
    (b"country", b'"ZZ"'),
    (b"country", b'"us"'),
]


def make_lines(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    lines: list[bytes] = []
    clock = START_MS
    valid: list[bytes] = []
    for n in range(count):
        clock += rng.randrange(0, 1500)
        roll = rng.random()
        if roll < 0.45 or not valid:
            line = orjson.dumps(_view(n, clock))
            valid.append(line)
            if len(valid) > 1000:
                valid.pop(rng.randrange(len(valid)))
        elif roll < 0.50:
            line = rng.choice(valid)  # an exact replay
        elif roll < 0.52:
            line = orjson.dumps(_view(n, clock - 3 * 86_400_000))  # late (or a replay)
        elif roll < 0.72:
            field, raw = rng.choice(HOSTILE_VALUES)
            line = _swap(orjson.dumps(_view(n, clock)), field, raw)
        elif roll < 0.80:
            line = rng.choice((b"", b"42", b"null", b"[]", b" ", b"{", b"}"))  # identical bad
        elif roll < 0.88:
            line = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 60)))
            line = line.replace(b"\n", b"")
        elif roll < 0.94:
            line = BOM + orjson.dumps(_view(n, clock))  # a BOM inside the file
        elif roll < 0.99995:
            line = orjson.dumps(_view(n, clock)).replace(b",", b",\r\t", 3)  # valid whitespace
        elif roll < 0.99998:
            depth = rng.choice((2_000, 100_000))
            line = b"[" * depth + b"]" * rng.choice((depth, 0))
        else:
            line = b'{"event_id":"big","junk":"' + b"z" * rng.randrange(1 << 20, 4 << 20) + b'"}'
        lines.append(line)
    return lines


def write_file(path: Path, lines: list[bytes], seed: int) -> list[bytes]:
    """Write with mixed LF/CRLF endings, a BOM, no final newline; returns the expected
    record of each line as the reader must give it back."""
    rng = random.Random(seed + 1)
    expected: list[bytes] = []
    with path.open("wb") as out:
        out.write(BOM)
        for i, line in enumerate(lines):
            last = i == len(lines) - 1
            ending = b"" if last else (b"\r\n" if rng.random() < 0.3 else b"\n")
            if last and not line:
                line = b"{}"
            out.write(line + ending)
            record = line + ending
            if record.endswith(b"\r\n"):
                record = record[:-2]
            elif record.endswith(b"\n"):
                record = record[:-1]
            expected.append(record)
    return expected


def baseline(path: Path) -> tuple[float, Counter[str]]:
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    with path.open("rb") as handle:
        for raw in handle:
            try:
                orjson.loads(raw)
                counts["parsed"] += 1
            except orjson.JSONDecodeError:
                counts["not JSON"] += 1
    return time.perf_counter() - started, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    try:
        began = time.perf_counter()
        lines = make_lines(args.lines, args.seed)
        path = folder / "views.jsonl"
        expected = write_file(path, lines, args.seed)
        size = path.stat().st_size
        print(
            f"generated {len(lines):,} lines ({size / 1e6:,.0f} MB) in "
            f"{time.perf_counter() - began:.1f}s into {path}"
        )

        base_s, base_counts = baseline(path)
        print(
            f"baseline  read + orjson.loads: {len(lines) / base_s:>10,.0f} lines/s "
            f"({base_s:.1f}s; {dict(base_counts)})"
        )

        settings = load_settings()
        started = time.perf_counter()
        result = ingest_stream(Stream.VIEW, folder, folder / "clean", settings, REFERENCE_MS)
        ingest_s = time.perf_counter() - started
        print(
            f"ingest    validate + rules:    {len(lines) / ingest_s:>10,.0f} lines/s "
            f"({ingest_s:.1f}s; {ingest_s / base_s:.1f}x the baseline's time)"
        )

        summary = RunSummary(folder, REFERENCE_MS, streams=[result], run_id="bench")
        (entry,) = ledger_entries(summary, REFERENCE_MS)
        counts = entry.counts
        print(
            f"ledger    lines {counts.lines:,} = accepted {counts.accepted:,} + rejected "
            f"{counts.rejected:,} + replays {counts.replays:,} + late {counts.late:,}"
            f"  ({'balanced' if counts.balanced else f'{counts.unaccounted:+,} UNACCOUNTED'})"
        )
        reasons = ", ".join(f"{r} {n:,}" for r, n in result.rejected.most_common())
        print(f"rejected  {reasons}")

        problems = []
        if counts.lines != len(lines) or not counts.balanced:
            problems.append("the ledger does not balance")
        wrong = sum(1 for row in result.rejected_rows if row.raw != expected[row.line - 1])
        if wrong:
            problems.append(f"{wrong} rejected rows lost bytes of their line")
        for problem in problems:
            print(f"FAILED: {problem}", file=sys.stderr)
        return 1 if problems else 0
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
