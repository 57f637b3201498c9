"""The streaming Flink job: clean.* topics -> the job logic -> results.* topics.

Thin wiring: settings -> :class:`~pipelines.connectors.flink_kafka.KafkaConnector`
-> :func:`~pipelines.flink.job.build_statements` -> execute on a local
mini-cluster, until SIGTERM/SIGINT (the job is cancelled, its last checkpoint
is retained) or until the job fails (exit 1).

Settings (:mod:`pipelines.config`): the ``flink`` section gives the defaults of
the flags (``PULSE_FLINK__CHECKPOINT_DIR``, ``PULSE_FLINK__CHECKPOINT_INTERVAL_S``,
``PULSE_FLINK__CHANGELOG_IDLE_TIMEOUT_S``, ``PULSE_FLINK__REST_PORT``, ``PULSE_FLINK__GROUP``,
plus ``PULSE_FLINK__PARALLELISM`` and ``PULSE_FLINK__JVM_HEAP``); a flag wins.

On a session cluster. ``flink run -d -py jobs/flink_streaming.py -pyexec <python> -p N
[-s <savepoint or checkpoint>] -- --submit`` (what
:meth:`pipelines.local.flink_cluster.LocalFlinkCluster.submit` runs) plans the job in the
``flink`` client and submits it: ``--submit`` sets no mini-cluster option (REST port, heap,
Prometheus reporter, class path: the Kafka connector must be in the cluster's ``lib/``), looks up
and prunes no local checkpoint (``-s`` restores), leaves checkpoint storage, retention and the
restart strategy to the cluster's configuration (``--checkpoint-dir`` is not used), takes the
parallelism of ``-p``, logs the job id and returns 0 (the job keeps running). Its operators get
stable uids (:data:`pipelines.flink.job.STABLE_UID_OPTIONS`: the same statements restore from a
savepoint of an earlier build; a changed statement may not).

Metrics. Flink's own Prometheus reporter serves the ``flink_*`` series (checkpoints, records
in/out per task, watermarks, Kafka source metrics) on ``/metrics`` of
``PULSE_METRICS__FLINK_PORT`` (default 9249; ``PULSE_METRICS__PORT`` wins; 0: off), on every
interface (the reporter has no address option). Its jar comes from the PyFlink wheel and goes
on the mini-cluster's class path (``pipeline.jars``).

Recovery. A checkpoint is taken every ``--checkpoint-interval`` seconds into
``--checkpoint-dir`` (default ``.pulse/flink/checkpoints``) and retained on
cancellation. On start the job resumes from the newest completed checkpoint
(operator state: open windows, joins, the duplicate scan, and the source
offsets it was taken at). Without one it starts from the consumer group's
committed offsets (Flink commits them on each completed checkpoint; a new
group starts at the earliest offset). Resuming from group offsets WITHOUT the
checkpoint loses the state of open windows: only do it on purpose, and then
prefer ``--from-earliest`` (reprocess the retained topics; the loader is
idempotent, so re-emitted rows do not double-count). Results emitted after the
checkpoint and before the crash are emitted again (at-least-once sink, the
loader replaces them). Flink does not checkpoint watermarks: a restored job
re-derives its watermark from the records that arrive after the restart, so
windows that were due but not yet fired close as soon as new input flows; a
partition that has gone quiet gets the ingest's watermark markers (its clock,
every ``ingest.watermark_marker_interval_s``; the event sources drop them right
after reading, ``pipelines/ingest/markers.py``), so a restart into silent
topics closes what is due within seconds. Records that
arrive after the restart are never older than the old watermark (ingest's late
rule is stricter), so no fired window is re-opened.

Watermarks, and why no event stream is ever idle. Each clean partition carries the on-time
events of ONE raw partition (ingest keeps the partition number), and its watermark is the
newest event time seen there less the watermark delay and the allowed lateness (65 min): exactly
the bound below which ingest declares that raw partition's events late. Flink takes the minimum
over all partitions of all sources, so an event that ingest let through is never behind Flink's
watermark, whatever the interleaving of partitions and topics: results do not depend on how the
producers were scheduled. A silent event stream (a producer outage, a topic produced after the
others) therefore HOLDS the watermark of everything that joins with it, and nothing closes until
it delivers. Only the changelog sources (``clean.creator_profiles``, ``clean.campaigns``),
legitimately quiet for days, are marked idle after ``--changelog-idle-timeout`` seconds of
silence (the table option ``scan.watermark.idle-timeout``); a changelog version that then
arrives more than 65 min behind the watermark does not change joins that already emitted, so
changelogs must be produced before or alongside the events they describe (docs/streaming.md).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from pipelines import metrics
from pipelines.config import Settings, load_settings
from pipelines.connectors.flink_kafka import MARKED_SOURCES, KafkaConnector, connector_jar
from pipelines.flink.job import (
    STABLE_UID_OPTIONS,
    FlinkOptions,
    build_statements,
    create_table_environment,
    prometheus_reporter_config,
    prometheus_reporter_jar,
)
from pipelines.kafka_clients import flink_kafka_properties
from pipelines.settings_sections import FlinkSettings
from pipelines.streaming.checkpoints import latest_checkpoint, prune_checkpoints

log = logging.getLogger("pulse.flink_streaming")

TERMINAL = ("FAILED", "CANCELED", "FINISHED")


def parse_args(flink: FlinkSettings, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The flags; their defaults are the ``flink`` section of the settings."""
    p = argparse.ArgumentParser(prog="python -m jobs.flink_streaming", description=__doc__)
    p.add_argument(
        "--checkpoint-dir",
        default=flink.checkpoint_dir,
        help="a local folder, or a URI (s3://bucket/path) on a cluster, where the operator "
        f"restores from (PULSE_FLINK__CHECKPOINT_DIR; default here: {flink.checkpoint_dir})",
    )
    p.add_argument(
        "--checkpoint-interval",
        type=float,
        default=flink.checkpoint_interval_s,
        metavar="S",
        help="seconds between checkpoints "
        f"(PULSE_FLINK__CHECKPOINT_INTERVAL_S; default here: {flink.checkpoint_interval_s:g})",
    )
    p.add_argument(
        "--changelog-idle-timeout",
        type=float,
        default=flink.changelog_idle_timeout_s,
        metavar="S",
        help="seconds after which a quiet changelog source stops holding the watermark "
        "(PULSE_FLINK__CHANGELOG_IDLE_TIMEOUT_S; "
        f"default here: {flink.changelog_idle_timeout_s:g}); event streams never idle",
    )
    p.add_argument(
        "--rest-port",
        type=int,
        default=flink.rest_port,
        help="REST API of the mini-cluster on 127.0.0.1 "
        f"(PULSE_FLINK__REST_PORT; 0: off; default here: {flink.rest_port})",
    )
    p.add_argument(
        "--group",
        default=flink.group,
        help=f"consumer group (PULSE_FLINK__GROUP; default here: {flink.group})",
    )
    p.add_argument(
        "--from-earliest",
        action="store_true",
        help="ignore checkpoints and group offsets: reprocess the topics from the start",
    )
    p.add_argument(
        "--submit",
        action="store_true",
        help="run under `flink run` against a session cluster: submit the job, log its id and "
        "return (no mini-cluster options, no local checkpoint lookup: `flink run -s` restores; "
        "checkpoint storage and restarts are the cluster's)",
    )
    return p.parse_args(argv)


def local_checkpoint_dir(checkpoint_dir: str) -> Path | None:
    """The folder of a local checkpoint directory; None for a URI (``s3://``, ``file://``...)."""
    return None if "://" in checkpoint_dir else Path(checkpoint_dir)


def checkpoint_uri(checkpoint_dir: str) -> str:
    """``execution.checkpointing.dir``: a URI as given, a local folder as ``file://``."""
    local = local_checkpoint_dir(checkpoint_dir)
    return checkpoint_dir if local is None else local.resolve().as_uri()


#: Chained operators hand records over without copying them. The SQL operators are built for
#: it, and the one user function, the Python duplicate scan, gets its rows serialized anyway.
#: Measured: the Flink job's CPU for 1,000,000 events drained from Kafka fell from 49-51 s to
#: 43 s (BENCHMARKS.md, sustained load).
OBJECT_REUSE: tuple[tuple[str, str], ...] = (("pipeline.object-reuse", "true"),)


def flink_config(args: argparse.Namespace, restore: Path | None) -> tuple[tuple[str, str], ...]:
    if args.submit:
        return submit_config()
    ckpt_uri = checkpoint_uri(args.checkpoint_dir)
    config = [
        ("execution.checkpointing.dir", ckpt_uri),
        ("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION"),
        ("execution.checkpointing.num-retained", "3"),
        ("execution.checkpointing.mode", "EXACTLY_ONCE"),
        ("execution.checkpointing.min-pause", "500 ms"),
        ("restart-strategy.type", "fixed-delay"),
        ("restart-strategy.fixed-delay.attempts", "1000000"),
        ("restart-strategy.fixed-delay.delay", "5 s"),
        ("pipeline.name", "pulse-streaming"),
        *OBJECT_REUSE,
    ]
    if args.rest_port:
        config += [
            ("rest.address", "127.0.0.1"),
            ("rest.bind-address", "127.0.0.1"),
            ("rest.port", str(args.rest_port)),
        ]
    if restore is not None:
        config.append(("execution.state-recovery.path", restore.resolve().as_uri()))
    return tuple(config)


def submit_config() -> tuple[tuple[str, str], ...]:
    """The job's configuration under ``flink run`` (``--submit``): checkpoint storage,
    retention, restart strategy and state backend are the cluster's."""
    return (
        ("execution.checkpointing.mode", "EXACTLY_ONCE"),
        ("execution.checkpointing.min-pause", "500 ms"),
        ("pipeline.name", "pulse-streaming"),
        *OBJECT_REUSE,
        *STABLE_UID_OPTIONS,
    )


class _Stop:
    requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: cancelling the job (its last checkpoint is kept)", signum)
        self.requested = True


def _status(job_client: Any) -> str:
    return str(job_client.get_job_status().result())


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # PyFlink's Beam worker module lowers the root logger to WARNING on import.
    log.setLevel(logging.INFO)
    settings = load_settings()
    args = parse_args(settings.flink, argv)
    if args.submit:
        return submit(settings, args)
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    local = local_checkpoint_dir(args.checkpoint_dir)
    # a local folder: this process finds the checkpoint to resume from (a restart by `pulse
    # up`); a URI (object storage on a cluster): the Flink Kubernetes Operator restores the
    # job from its savepoints / HA metadata, so nothing is looked up or pruned here
    restore = None if args.from_earliest or local is None else latest_checkpoint(local)
    connector = KafkaConnector(
        settings.kafka.bootstrap,
        group_id=args.group,
        startup_mode="earliest-offset" if args.from_earliest else "group-offsets",
        topic_prefix=settings.kafka.topic_prefix,
        changelog_idle_timeout_ms=int(args.changelog_idle_timeout * 1000),
        client_properties=flink_kafka_properties(settings.kafka),
    )
    for old in prune_checkpoints(local, restore) if local is not None else ():
        log.info("removed the checkpoints of an earlier job: %s", old)
    if restore is not None:
        log.info("resuming from checkpoint %s", restore)
    else:
        log.info(
            "no checkpoint in %s: starting from %s", args.checkpoint_dir, connector.startup_mode
        )
    jars = [connector_jar(Path(settings.jars_dir))]
    extra = flink_config(args, restore)
    metrics_port = metrics.job_port(settings.metrics, "flink")
    if metrics_port is not None:
        jars.append(prometheus_reporter_jar())
        extra += prometheus_reporter_config(metrics_port)
        log.info("metrics: Flink's Prometheus reporter on port %d (/metrics)", metrics_port)
    options = FlinkOptions(
        parallelism=settings.flink.parallelism,
        jvm_heap=settings.flink.jvm_heap,
        jars=tuple(jars),
        checkpoint_interval_ms=int(args.checkpoint_interval * 1000),
        extra=extra,
    )
    t_env = create_table_environment(options)
    statements = build_statements(
        t_env,
        settings,
        connector.source_options,
        connector.sink_options,
        marked_sources=MARKED_SOURCES,
    )
    result = statements.execute()
    job_client = result.get_job_client()
    log.info("job %s running (bootstrap %s)", job_client.get_job_id(), settings.kafka.bootstrap)
    while not stop.requested:
        time.sleep(0.5)
        status = _status(job_client)
        if status in TERMINAL:
            log.error("the job ended: %s", status)
            return 1
    job_client.cancel().result()
    log.info("job cancelled")
    return 0


def submit(settings: Settings, args: argparse.Namespace) -> int:
    """Plan the job in the ``flink run`` client and submit it to the session cluster; 0 once
    it is submitted (``flink run -d``: the job runs on without this process)."""
    connector = KafkaConnector(
        settings.kafka.bootstrap,
        group_id=args.group,
        startup_mode="earliest-offset" if args.from_earliest else "group-offsets",
        topic_prefix=settings.kafka.topic_prefix,
        changelog_idle_timeout_ms=int(args.changelog_idle_timeout * 1000),
        client_properties=flink_kafka_properties(settings.kafka),
    )
    options = FlinkOptions(
        parallelism=None,  # `flink run -p`
        checkpoint_interval_ms=int(args.checkpoint_interval * 1000),
        extra=flink_config(args, None),
    )
    t_env = create_table_environment(options)
    statements = build_statements(
        t_env,
        settings,
        connector.source_options,
        connector.sink_options,
        stable_uids=True,
        marked_sources=MARKED_SOURCES,
    )
    result = statements.execute()
    log.info(
        "job %s submitted (bootstrap %s, start: %s unless `flink run -s` restores)",
        result.get_job_client().get_job_id(),
        settings.kafka.bootstrap,
        connector.startup_mode,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
