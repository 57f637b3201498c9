"""Ingest of a bounded run: validate, drop replays, route late events, write clean files.

The same steps as the streaming ingest (Faust), over files: every input line
has exactly one outcome — clean, rejected (with file and line), replay, or late.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.config import Settings
from pipelines.domain.events import Stream, event_key, event_time_ms, to_clean_json
from pipelines.ingest.rules import IngestRules, Verdict
from pipelines.ingest.sources import find_stream_file, read_records
from pipelines.validation import Rejection, Validator


@dataclass(frozen=True)
class RejectedRow:
    stream: str
    source: str
    line: int
    reason: str
    detail: str
    raw: bytes


@dataclass(frozen=True)
class LateRow:
    stream: str
    event_id: str
    event_time_ms: int
    watermark_ms: int
    raw: bytes


@dataclass
class StreamIngest:
    """What ingest did with one stream."""

    stream: Stream
    source: str | None
    lines: int = 0
    accepted: int = 0
    replays: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_rows: list[RejectedRow] = field(default_factory=list)
    late_rows: list[LateRow] = field(default_factory=list)
    min_time_ms: int | None = None
    max_time_ms: int | None = None
    seconds: float = 0.0


def ingest_stream(
    stream: Stream, input_dir: Path, clean_dir: Path, settings: Settings, reference_ms: int
) -> StreamIngest:
    """Validate one stream file into ``clean_dir/part-0.jsonl`` (always created)."""
    started = time.perf_counter()
    path = find_stream_file(input_dir, stream)
    clean_dir.mkdir(parents=True, exist_ok=True)
    result = StreamIngest(stream, str(path.resolve()) if path else None)
    validator = Validator(stream, reference_ms, settings.future_tolerance_ms)
    rules = IngestRules(  # a file is the one-partition case of the streaming rules
        dedup_horizon_ms=settings.dedup_horizon_ms,
        watermark_delay_ms=settings.watermark_delay_ms,
        allowed_lateness_ms=settings.allowed_lateness_ms,
    )
    decide = rules.decide
    with (clean_dir / "part-0.jsonl").open("wb", buffering=1 << 20) as out:
        if path is None:
            return result
        source = result.source or ""
        validate = validator.validate
        write = out.write
        lines = accepted = replays = 0
        min_ms = max_ms = None
        for line, raw in read_records(path):
            lines += 1
            outcome = validate(raw)
            if isinstance(outcome, Rejection):
                result.rejected[outcome.reason.value] += 1
                result.rejected_rows.append(
                    RejectedRow(
                        stream.value, source, line, outcome.reason.value, outcome.detail, raw
                    )
                )
                continue
            when = event_time_ms(outcome)
            key = event_key(outcome)
            verdict = decide(key, when)
            if verdict is Verdict.REPLAY:
                replays += 1
                continue
            if verdict is Verdict.LATE:
                watermark = rules.late_watermark_ms
                assert watermark is not None
                result.late_rows.append(LateRow(stream.value, key, when, watermark, raw))
                continue
            accepted += 1
            if min_ms is None or when < min_ms:
                min_ms = when
            if max_ms is None or when > max_ms:
                max_ms = when
            write(to_clean_json(outcome) + b"\n")
        result.lines, result.accepted, result.replays = lines, accepted, replays
        result.min_time_ms, result.max_time_ms = min_ms, max_ms
    result.seconds = time.perf_counter() - started
    return result


def ingest_folder(
    input_dir: Path,
    clean_root: Path,
    settings: Settings,
    reference_ms: int,
    workers: int = 2,
    started: Callable[[], None] | None = None,
) -> list[StreamIngest]:
    """All five streams, in parallel processes (one stream each).

    ``started`` is called once every worker process exists (they are forked first, so a
    thread that ``started`` begins is never copied into a half-held lock of a child), while
    they run: the bounded run starts Flink's JVM and plans the job then.
    """
    streams = list(Stream)
    if workers <= 1:
        if started is not None:
            started()
        return [
            ingest_stream(s, input_dir, clean_root / s.value, settings, reference_ms)
            for s in streams
        ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(ingest_stream, s, input_dir, clean_root / s.value, settings, reference_ms)
            for s in streams
        ]
        if started is not None:
            started()
        return [future.result() for future in futures]
