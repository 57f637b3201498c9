"""What an operator must be told about the ingest's event time, and where it is written.

Each ingest worker writes a small JSON report (``<stack.dir>/ingest-health/<host>-<pid>.json``,
at most once a second) with, per stream and raw partition, the newest on-time event time (the
partition's clock), when it last moved (wall time), the late share and the recent watermark
jumps. ``pulse status`` reads the fresh reports of all workers and prints :func:`warnings`:

* a stream that HOLDS the event-time watermark: the event streams join each other, so the
  slowest raw partition of any of them holds everything (by design: results never depend on how
  producers were scheduled); the warning says which stream, how far behind the newest stream,
  and for how long its clock has not moved;
* a watermark JUMP: one event moved its partition's clock ahead by more than
  ``watermark_jump_warn_ms`` (named, with the step): typically a wrongly dated event, which turns
  the partition's next events late (a backfill needs ``pulse up --as-of``);
* a LATE share above ``late_share_warn``.

Pure functions build and judge the report; :func:`write_report` / :func:`read_reports` are the
thin file adapters.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines import metrics
from pipelines.domain.events import Stream
from pipelines.domain.streams import spec_of
from pipelines.domain.time import DAY_MS, HOUR_MS, MINUTE_MS
from pipelines.ingest.step import StreamIngestor

log = logging.getLogger(__name__)

#: a report older than this is from a worker that stopped
FRESH_S = 60.0


@dataclass
class PartitionProgress:
    """When each raw partition's clock last moved (wall time), tracked by the worker."""

    clocks: dict[tuple[str, int], int] = field(default_factory=dict)
    moved_at_ms: dict[tuple[str, int], int] = field(default_factory=dict)

    def observe(self, stream: str, partition: int, clock: int, now_ms: int) -> None:
        key = (stream, partition)
        if self.clocks.get(key) != clock:
            self.clocks[key] = clock
            self.moved_at_ms[key] = now_ms


def build_report(
    ingestors: Mapping[Stream, StreamIngestor],
    progress: PartitionProgress,
    now_ms: int,
    as_of: int | None,
) -> dict[str, Any]:
    """The worker's report (JSON types only)."""
    streams: dict[str, Any] = {}
    for stream, ingestor in ingestors.items():
        rules = ingestor.rules
        partitions = {}
        for partition, clock in sorted(rules.lateness.clocks.items()):
            progress.observe(stream.value, partition, clock, now_ms)
            partitions[str(partition)] = {
                "clock_ms": clock,
                "moved_at_ms": progress.moved_at_ms[(stream.value, partition)],
            }
        streams[stream.value] = {
            "watermark_ms": rules.lateness.watermark_ms(),
            "waiting": sorted(rules.lateness.waiting),
            "partitions": partitions,
            "accepted": rules.accepted,
            "late": rules.late,
            "jumps": [
                {
                    "partition": j.partition,
                    "event_key": j.event_key,
                    "from_ms": j.from_ms,
                    "to_ms": j.to_ms,
                }
                for j in rules.jumps
            ],
        }
    return {"written_at_ms": now_ms, "as_of": as_of, "streams": streams}


def report_dir(stack_dir: str | Path) -> Path:
    return Path(stack_dir) / "ingest-health"


def write_report(stack_dir: str | Path, report: Mapping[str, Any]) -> Path:
    """Write atomically (a reader never sees half a file)."""
    folder = report_dir(stack_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{socket.gethostname()}-{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report))
    tmp.replace(path)
    return path


def read_reports(stack_dir: str | Path, fresh_s: float = FRESH_S) -> list[dict[str, Any]]:
    """The reports written in the last ``fresh_s`` seconds (one per live worker)."""
    out = []
    now = time.time()
    for path in sorted(report_dir(stack_dir).glob("*.json")):
        try:
            if now - path.stat().st_mtime > fresh_s:
                continue
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return out


def _span(ms: int) -> str:
    if ms >= DAY_MS:
        return f"{ms / DAY_MS:.1f} d"
    if ms >= HOUR_MS:
        return f"{ms / HOUR_MS:.1f} h"
    return f"{ms / MINUTE_MS:.0f} min"


def _instant(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def warnings(
    reports: Iterable[Mapping[str, Any]],
    now_ms: int,
    *,
    hold_ms: int,
    late_share_warn: float,
) -> list[str]:
    """Readable warnings from the workers' reports (empty: nothing to say).

    ``hold_ms``: how far a stream may trail the newest stream before it is reported as holding
    the watermark (the watermark delay plus the allowed lateness is a natural choice).
    """
    clocks: dict[str, list[tuple[int, int, int]]] = {}  # stream -> (clock, partition, moved)
    late: dict[str, list[int]] = {}
    out: list[str] = []
    for report in reports:
        for name, data in report.get("streams", {}).items():
            for partition, p in data.get("partitions", {}).items():
                clocks.setdefault(name, []).append(
                    (int(p["clock_ms"]), int(partition), int(p["moved_at_ms"]))
                )
            for partition in data.get("waiting", []):
                clocks.setdefault(name, []).append((-1, int(partition), now_ms))
            counts = late.setdefault(name, [0, 0])
            counts[0] += int(data.get("accepted", 0))
            counts[1] += int(data.get("late", 0))
            for jump in data.get("jumps", []):
                step = int(jump["to_ms"]) - int(jump["from_ms"])
                out.append(
                    f"watermark jump: stream {name} partition {jump['partition']}: event "
                    f"{jump['event_key']!r} moved it from {_instant(int(jump['from_ms']))} to "
                    f"{_instant(int(jump['to_ms']))} (+{_span(step)}); later events of that "
                    "partition more than the allowed lateness behind it are late (for a "
                    "backfill, start the stack with `pulse up --as-of`)"
                )
    events = {
        name: min(c for c in values)
        for name, values in clocks.items()
        if not spec_of(name).changelog and values
    }
    if events:
        newest = max(c[0] for c in events.values())
        for name, (clock, partition, moved) in sorted(events.items()):
            if clock < 0:
                out.append(
                    f"stream {name} holds the watermark: partition {partition} has delivered "
                    "no event yet (nothing closes until it does)"
                )
            elif newest - clock > hold_ms:
                out.append(
                    f"stream {name} holds the watermark at {_instant(clock)}, "
                    f"{_span(newest - clock)} behind the newest stream: partition {partition} "
                    f"has not moved for {_span(max(0, now_ms - moved))}"
                )
    for name, (accepted, n_late) in sorted(late.items()):
        total = accepted + n_late
        if total and n_late / total > late_share_warn:
            out.append(
                f"stream {name}: {n_late} of {total} events late ({n_late / total:.1%}, "
                f"threshold {late_share_warn:.1%})"
            )
    return out


def publish(
    ingestors: Mapping[Stream, StreamIngestor],
    progress: PartitionProgress,
    jumps_counted: dict[Stream, int],
    job: str,
    health_dir: str | None,
    as_of: int | None,
) -> None:
    """A worker's event-time metrics, one log warning per new watermark jump, and its report
    (``health_dir``: where, None: no report). Never raises on a report it cannot write."""
    for stream, ingestor in ingestors.items():
        rules = ingestor.rules
        new = rules.jump_count - jumps_counted.get(stream, 0)
        if new:
            jumps_counted[stream] = rules.jump_count
            metrics.INGEST_WATERMARK_JUMPS.labels(job, stream.value).inc(new)
            for jump in list(rules.jumps)[-min(new, len(rules.jumps)) :]:
                log.warning(
                    "ingest: watermark jump in %s partition %d: event %r moved it %s ahead in "
                    "one step (from %s to %s); later events more than the allowed lateness "
                    "behind it are late",
                    stream.value,
                    jump.partition,
                    jump.event_key,
                    _span(jump.step_ms),
                    _instant(jump.from_ms),
                    _instant(jump.to_ms),
                )
        watermark = ingestor.watermark_ms()
        if watermark is not None:
            metrics.INGEST_WATERMARK.labels(job, stream.value).set(watermark / 1000)
    if health_dir is not None:
        report = build_report(ingestors, progress, int(time.time() * 1000), as_of)
        try:
            write_report(health_dir, report)
        except OSError as exc:  # reporting must never stop the ingest
            log.warning("ingest: cannot write the health report: %s", exc)
