"""``pulse status [--wait] [--timeout S]``: is the streaming stack alive, and caught up?

Prints each component (broker, ingest, flink, loader: pid alive), the
consumer lag of each stage's group per topic, and Flink's current watermark
(from the REST API of its mini-cluster, ``PULSE_FLINK__REST_PORT``, default
8081). ``--wait`` blocks until everything produced so far has been processed
and stored: stage by stage, the end offsets at that moment must be committed
by the stage's group (ingest: raw.*; flink: clean.*, committed on completed
checkpoints, after its results were flushed; loader: results.*, committed
after the rows are in the warehouse). Exit 0 when caught up; 1 on timeout; 3
when a component is dead (its pid file remains but the process is gone).

It also prints the reference clock of the ingest (wall clock, or the instant of ``pulse up
--as-of``) and WARNING lines from the ingest workers' health reports: an event stream that holds
the event-time watermark (and for how long), an event that made a watermark jump ahead (named),
a share of late events above ``late_share_warn``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Any

from pipelines.config import Settings, load_settings
from pipelines.local import stack
from pipelines.local.processes import port_open
from pipelines.streaming import health
from pipelines.streaming.monitor import (
    Stage,
    StageLag,
    flink_job_state,
    stage_lags,
    stages,
)

EXIT_TIMEOUT = 1
EXIT_DEAD = 3
POLL_S = 0.5


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "status",
        help="state of the streaming stack: components, consumer lag, watermark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--wait", action="store_true", help="block until all input so far is stored"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=45.0,
        metavar="S",
        help=(
            "--wait: after every stage drained, the results must stay unchanged this long "
            "(default 45 s = Flink's source idle timeout 30 s + a checkpoint + margin: quiet "
            "changelog topics only stop holding the watermark after the idle timeout)"
        ),
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, metavar="S", help="--wait limit (default 300 s)"
    )
    parser.set_defaults(func=execute)


def _fmt_ms(ms: int | None) -> str:
    if ms is None:
        return "none yet"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def dead_components(settings: Settings) -> list[str]:
    """Jobs whose pid file remains but whose process is gone."""
    where = stack.stack_dir(settings)
    return [job.name for job in stack.jobs(settings) if stack.job_state(job, where) == "dead"]


def print_status(settings: Settings, lags: list[StageLag] | None) -> None:
    bootstrap = settings.kafka.bootstrap
    host, port = bootstrap.split(":")
    alive = port_open(host, int(port))
    print(f"kafka   {'running' if alive else 'NOT REACHABLE'} ({bootstrap})")
    where = stack.stack_dir(settings)
    for job in stack.jobs(settings):
        pid = stack.job_pid(job, where)
        state = stack.job_state(job, where)
        print(f"{job.name:<7} {state}{f' (pid {pid})' if pid else ''}")
    flink = flink_job_state(settings.flink.rest_port)
    if flink is None:
        print("watermark: unknown (no Flink REST answer)")
    else:
        print(f"flink job {flink.job_id} {flink.state}; watermark {_fmt_ms(flink.watermark_ms)}")
        for sink, mark in sorted(flink.sink_watermarks.items()):
            print(f"    {sink:<34} watermark {_fmt_ms(mark)}")
    for stage_lag in lags or []:
        print(f"lag {stage_lag.stage.name} (group {stage_lag.stage.group}): {stage_lag.lag}")
        for topic in stage_lag.topics:
            print(f"    {topic.topic:<34} end {topic.end:>10}  lag {topic.lag:>10}")
    as_of = stack.recorded_as_of(settings)
    print(
        "clock   "
        + (f"as of {_fmt_ms(as_of)} (backfill, pulse up --as-of)" if as_of else "wall clock")
    )
    for warning in event_time_warnings(settings):
        print(f"WARNING {warning}")


def event_time_warnings(settings: Settings) -> list[str]:
    """What the ingest workers' health reports say an operator must know (see
    :mod:`pipelines.streaming.health`): streams holding the watermark, jumps, late shares."""
    return health.warnings(
        health.read_reports(settings.stack.dir),
        int(time.time() * 1000),
        hold_ms=settings.watermark_delay_ms + settings.allowed_lateness_ms,
        late_share_warn=settings.late_share_warn,
    )


async def wait_stored(
    settings: Settings,
    wanted: tuple[Stage, ...],
    timeout: float,
    check_alive: bool = True,
    settle: float = 0.0,
) -> tuple[int, str]:
    """Drain the stages in order, then let the results settle; ``(exit code, reason)``.

    The broker is ``kafka.bootstrap``, Flink's REST API ``flink.rest_port`` of ``settings``.
    """
    bootstrap = settings.kafka.bootstrap
    deadline = time.monotonic() + timeout
    for stage in wanted:
        target = (await stage_lags(bootstrap, (stage,)))[0]
        ends = {t.topic: t.end for t in target.topics}
        while True:
            if check_alive:
                dead = dead_components(settings)
                if dead:
                    return EXIT_DEAD, f"component(s) dead: {', '.join(dead)}"
            now = (await stage_lags(bootstrap, (stage,)))[0]
            behind = [t for t in now.topics if t.committed < ends.get(t.topic, 0)]
            if not behind:
                break
            if time.monotonic() > deadline:
                worst = ", ".join(f"{t.topic} {ends[t.topic] - t.committed} behind" for t in behind)
                return EXIT_TIMEOUT, (
                    f"timeout after {timeout:.0f}s: {stage.name} (group {stage.group}): {worst}"
                )
            await asyncio.sleep(POLL_S)
    return await _settle(settings, wanted[-1], deadline, settle, check_alive)


async def _settle(
    settings: Settings, last: Stage, deadline: float, settle: float, check_alive: bool
) -> tuple[int, str]:
    """Wait until the last stage's input (the results) and Flink's watermark stop moving.

    Draining the lags is not enough: windows and joins emit when the watermark
    advances, which for quiet inputs happens only after Flink's idle timeout.
    """
    bootstrap, rest_port = settings.kafka.bootstrap, settings.flink.rest_port
    quiet_since = time.monotonic()
    previous: tuple[object, ...] | None = None
    while True:
        if check_alive:
            dead = dead_components(settings)
            if dead:
                return EXIT_DEAD, f"component(s) dead: {', '.join(dead)}"
        lag = (await stage_lags(bootstrap, (last,)))[0]
        flink = flink_job_state(rest_port)
        marks = tuple(sorted(flink.sink_watermarks.items())) if flink else ()
        snapshot = (tuple((t.topic, t.end) for t in lag.topics), marks)
        stored = all(t.committed >= t.end for t in lag.topics)
        if snapshot != previous or not stored:
            previous, quiet_since = snapshot, time.monotonic()
        elif time.monotonic() - quiet_since >= settle:
            return 0, "all input so far is stored"
        if time.monotonic() > deadline:
            return EXIT_TIMEOUT, f"timeout: results still changing after {settle:.0f}s settle"
        await asyncio.sleep(POLL_S)


def execute(args: argparse.Namespace) -> int:
    settings = load_settings()
    bootstrap = settings.kafka.bootstrap
    host, port = bootstrap.split(":")
    if not port_open(host, int(port)):
        print_status(settings, None)
        print(f"pulse status: no Kafka broker at {bootstrap}", file=sys.stderr)
        return EXIT_DEAD
    wanted = stages(settings)
    if not args.wait:
        print_status(settings, asyncio.run(stage_lags(bootstrap, wanted)))
        return EXIT_DEAD if dead_components(settings) else 0
    code, reason = asyncio.run(wait_stored(settings, wanted, args.timeout, settle=args.settle))
    print_status(settings, asyncio.run(stage_lags(bootstrap, wanted)))
    print(f"pulse status: {reason}", file=sys.stderr if code else sys.stdout)
    return code
