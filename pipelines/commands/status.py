"""``pulse status [--wait] [--timeout S] [--format json]``: is the streaming stack alive, and
caught up?

Prints each component (broker, ingest, flink, loader: pid alive; for each job the URL of its
Prometheus ``/metrics``, flagged when it does not answer), the consumer lag of each stage's
group per topic (records, and the age of the oldest uncommitted record), and Flink's current
watermark (from the REST API of its mini-cluster, ``PULSE_FLINK__REST_PORT``, default
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

``--format json`` prints the same as one JSON object, for scripts: ``components`` (``kafka``,
``ingest``, ``flink``, ``loader``: ``state``, ``pid``, ``metrics_url`` =
``http://host:port/metrics`` or null, ``metrics_answering``), ``flink_job``, ``lag`` (per stage:
``records``, ``seconds``, topics), ``clock`` (``mode`` wall / as_of, ``as_of_ms``), ``warnings``
(the WARNING lines) and, with ``--wait``, ``wait`` (``exit_code``, ``reason``). Exit codes as
in text mode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

from pipelines import kafka_clients, metrics
from pipelines.config import Settings, load_settings
from pipelines.local import cluster_stack, stack
from pipelines.local.kafka_command import KafkaBrokerError
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
        help="state of the streaming stack: components, metrics URLs, consumer lag, watermark",
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
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: one JSON object on stdout, for scripts (components with state, pid and "
        "metrics URL; Flink job; lag per stage; clock; warnings)",
    )
    parser.set_defaults(func=execute)


def _fmt_ms(ms: int | None) -> str:
    if ms is None:
        return "none yet"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _iso(ms: int | None) -> str | None:
    return None if ms is None else _fmt_ms(ms)


def stack_jobs(settings: Settings) -> list[stack.Job]:
    """The job processes of the running stack: the cluster's (``pulse up --cluster``) or the
    single-process stack's."""
    if cluster_stack.is_cluster_stack(settings):
        return cluster_stack.cluster_jobs(settings)
    return stack.jobs(settings)


def dead_components(settings: Settings) -> list[str]:
    """Jobs (and, on the cluster, nodes) whose pid file remains but whose process is gone."""
    where = stack.stack_dir(settings)
    dead = [job.name for job in stack_jobs(settings) if stack.job_state(job, where) == "dead"]
    if cluster_stack.is_cluster_stack(settings):
        nodes = cluster_stack.cluster_components(settings)
        dead += [name for name, node in nodes.items() if node["state"] == "dead"]
    return dead


def _broker_addresses(bootstrap: str) -> list[tuple[str, int]]:
    """Host and port of each bootstrap server (unreadable entries left out)."""
    out = []
    for entry in bootstrap.split(","):
        entry = entry.strip()
        if "://" in entry:
            entry = entry.split("://", 1)[1]
        host, sep, port = entry.rpartition(":")
        if sep and port.isdigit():
            out.append((host.strip("[]"), int(port)))
    return out


def kafka_reachable(settings: Settings) -> bool:
    """Whether one of the bootstrap servers accepts connections (a cluster with a node down
    still answers)."""
    return any(port_open(*address) for address in _broker_addresses(settings.kafka.bootstrap))


def _local_broker_pid(settings: Settings) -> int | None:
    """The pid of the LOCAL broker of ``pulse up`` (None: none, or a remote cluster)."""
    try:
        return stack.broker(settings).pid()
    except KafkaBrokerError:  # not a loopback bootstrap: a cluster pulse does not run
        return None


def metrics_answering(url: str, timeout: float = 1.0) -> bool:
    """Whether ``url`` answers a GET with 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status) == 200
    except (OSError, ValueError):
        return False


def components(settings: Settings) -> dict[str, dict[str, Any]]:
    """kafka, ingest, flink, loader: state, pid and metrics URL (None: the component serves
    none), and whether that URL answers (None: not asked, the component does not run)."""
    out: dict[str, dict[str, Any]] = {
        "kafka": {
            "state": "running" if kafka_reachable(settings) else "unreachable",
            "pid": _local_broker_pid(settings),
            "address": settings.kafka.bootstrap,
            "security": kafka_clients.describe(settings.kafka),
            "metrics_url": None,
            "metrics_answering": None,
        }
    }
    where = stack.stack_dir(settings)
    cluster = cluster_stack.is_cluster_stack(settings)
    if cluster:
        for name, node in cluster_stack.cluster_components(settings).items():
            url = node["metrics_url"]
            out[name] = {
                **node,
                "metrics_answering": metrics_answering(url)
                if url is not None and node["state"] == "running"
                else None,
            }
    for job in stack_jobs(settings):
        state = stack.job_state(job, where)
        url = (
            cluster_stack.job_metrics_url(settings, job)
            if cluster
            else metrics.metrics_url(settings.metrics, job.name)
        )
        out[job.name] = {
            "state": state,
            "pid": stack.job_pid(job, where),
            "log": str(job.log_file(where)),
            "metrics_url": url,
            "metrics_answering": metrics_answering(url)
            if url is not None and state == "running"
            else None,
        }
    for name in () if cluster else metrics.COMPONENTS:  # a job `pulse up` does not start
        if name not in out:
            out[name] = {
                "state": "not configured",
                "pid": None,
                "log": None,
                "metrics_url": metrics.metrics_url(settings.metrics, name),
                "metrics_answering": None,
            }
    return out


def status_snapshot(settings: Settings, lags: list[StageLag] | None) -> dict[str, Any]:
    """Everything ``pulse status`` shows, as JSON types (``--format json`` prints it)."""
    flink = flink_job_state(settings.flink.rest_port)
    now_ms = int(time.time() * 1000)
    as_of = stack.recorded_as_of(settings)
    return {
        "components": components(settings),
        "flink_job": None
        if flink is None
        else {
            "job_id": flink.job_id,
            "state": flink.state,
            "watermark_ms": flink.watermark_ms,
            "watermark": _iso(flink.watermark_ms),
            "sink_watermarks_ms": dict(sorted(flink.sink_watermarks.items())),
            "last_checkpoint_ms": flink.last_checkpoint_ms,
        },
        "lag": None
        if lags is None
        else [
            {
                "stage": stage_lag.stage.name,
                "group": stage_lag.stage.group,
                "records": stage_lag.lag,
                "seconds": stage_lag.seconds(now_ms),
                "topics": [
                    {"topic": t.topic, "end": t.end, "committed": t.committed, "lag": t.lag}
                    for t in stage_lag.topics
                ],
            }
            for stage_lag in lags
        ],
        "clock": {"mode": "as_of" if as_of else "wall", "as_of_ms": as_of, "as_of": _iso(as_of)},
        "warnings": event_time_warnings(settings),
    }


def render_text(snapshot: dict[str, Any]) -> str:
    """The text of ``pulse status`` from a :func:`status_snapshot`."""
    lines = []
    for name, comp in snapshot["components"].items():
        if name == "kafka":
            state = "running" if comp["state"] == "running" else "NOT REACHABLE"
            pid = f", pid {comp['pid']}" if comp["pid"] else ""
            lines.append(f"kafka   {state} ({comp['address']}, {comp['security']}{pid})")
            continue
        pid = f" (pid {comp['pid']})" if comp["pid"] else ""
        width = 7 if len(snapshot["components"]) <= 4 else 13
        text = f"{name:<{width}} {comp['state']}{pid}"
        if comp.get("role"):
            text += f"  {comp['role']}" + (f" {comp['address']}" if comp.get("address") else "")
        url = comp["metrics_url"]
        if url is None:
            text += "  metrics off"
        else:
            text += f"  metrics {url}"
            if comp["metrics_answering"] is False:
                text += " (NOT ANSWERING)"
        lines.append(text)
    flink = snapshot["flink_job"]
    if flink is None:
        lines.append("watermark: unknown (no Flink REST answer)")
    else:
        lines.append(
            f"flink job {flink['job_id']} {flink['state']}; "
            f"watermark {_fmt_ms(flink['watermark_ms'])}"
        )
        for sink, mark in flink["sink_watermarks_ms"].items():
            lines.append(f"    {sink:<34} watermark {_fmt_ms(mark)}")
    for stage in snapshot["lag"] or []:
        behind = f", oldest {stage['seconds']:.1f} s old" if stage["records"] else ""
        lines.append(f"lag {stage['stage']} (group {stage['group']}): {stage['records']}{behind}")
        for topic in stage["topics"]:
            lines.append(f"    {topic['topic']:<34} end {topic['end']:>10}  lag {topic['lag']:>10}")
    clock = snapshot["clock"]
    lines.append(
        "clock   "
        + (
            f"as of {clock['as_of']} (backfill, pulse up --as-of)"
            if clock["mode"] == "as_of"
            else "wall clock"
        )
    )
    lines += [f"WARNING {warning}" for warning in snapshot["warnings"]]
    return "\n".join(lines)


def print_status(settings: Settings, lags: list[StageLag] | None) -> None:
    print(render_text(status_snapshot(settings, lags)))


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
    security = kafka_clients.aiokafka_options(settings.kafka)
    deadline = time.monotonic() + timeout
    for stage in wanted:
        target = (await stage_lags(bootstrap, (stage,), client_options=security))[0]
        ends = {t.topic: t.end for t in target.topics}
        while True:
            if check_alive:
                dead = dead_components(settings)
                if dead:
                    return EXIT_DEAD, f"component(s) dead: {', '.join(dead)}"
            now = (await stage_lags(bootstrap, (stage,), client_options=security))[0]
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
    security = kafka_clients.aiokafka_options(settings.kafka)
    quiet_since = time.monotonic()
    previous: tuple[object, ...] | None = None
    while True:
        if check_alive:
            dead = dead_components(settings)
            if dead:
                return EXIT_DEAD, f"component(s) dead: {', '.join(dead)}"
        lag = (await stage_lags(bootstrap, (last,), client_options=security))[0]
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


def _lags(settings: Settings) -> list[StageLag]:
    return asyncio.run(
        stage_lags(
            settings.kafka.bootstrap,
            stages(settings),
            client_options=kafka_clients.aiokafka_options(settings.kafka),
            ages=True,
        )
    )


def execute(args: argparse.Namespace) -> int:
    settings = load_settings()
    if cluster_stack.is_cluster_stack(settings):  # pulse up --cluster: its nodes' bootstrap
        settings = cluster_stack.cluster_settings(settings)
    as_json = args.format == "json"

    def show(lags: list[StageLag] | None, wait: tuple[int, str] | None = None) -> None:
        snapshot = status_snapshot(settings, lags)
        if not as_json:
            print(render_text(snapshot))
            return
        if wait is not None:
            snapshot["wait"] = {"exit_code": wait[0], "reason": wait[1]}
        print(json.dumps(snapshot, indent=2))

    if not kafka_reachable(settings):
        show(None)
        print(f"pulse status: no Kafka broker at {settings.kafka.bootstrap}", file=sys.stderr)
        return EXIT_DEAD
    if not args.wait:
        show(_lags(settings))
        return EXIT_DEAD if dead_components(settings) else 0
    code, reason = asyncio.run(
        wait_stored(settings, stages(settings), args.timeout, settle=args.settle)
    )
    show(_lags(settings), (code, reason))
    if not as_json:
        print(f"pulse status: {reason}", file=sys.stderr if code else sys.stdout)
    elif code:
        print(f"pulse status: {reason}", file=sys.stderr)
    return code
