"""The streaming Flink job: clean.* topics -> the job logic -> results.* topics.

Thin wiring: settings -> :class:`~pipelines.connectors.flink_kafka.KafkaConnector`
-> :func:`~pipelines.flink.job.build_statements` -> execute on a local
mini-cluster, until SIGTERM/SIGINT (the job is cancelled, its last checkpoint
is retained) or until the job fails (exit 1).

Settings (:mod:`pipelines.config`): the ``flink`` section gives the defaults of
the flags (``PULSE_FLINK__CHECKPOINT_DIR``, ``PULSE_FLINK__CHECKPOINT_INTERVAL_S``,
``PULSE_FLINK__IDLE_TIMEOUT_S``, ``PULSE_FLINK__REST_PORT``, ``PULSE_FLINK__GROUP``,
plus ``PULSE_FLINK__PARALLELISM`` and ``PULSE_FLINK__JVM_HEAP``); a flag wins.

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
windows that were due but not yet fired close as soon as new input flows (a
restart into silent topics closes nothing until data arrives). Records that
arrive after the restart are never older than the old watermark (ingest's late
rule is stricter), so no fired window is re-opened.

Idle sources (``--idle-timeout``, ``table.exec.source.idle-timeout``). A
source partition that has delivered nothing for that long is marked idle and
no longer holds back the watermark. Without it, the changelog topics
(``clean.creator_profiles``, ``clean.campaigns``), which are quiet for hours,
would pin the watermark at their last ``updated_at`` minus the delay, and the
temporal joins (price, profile as of W) would never emit. What it costs: when
an idle partition wakes up with a record older than the watermark the other
partitions have advanced meanwhile, that record is LATE for Flink: a window
or join that already fired is not changed (window aggregates drop it). The
watermark trails the newest event by delay + allowed lateness (65 min), so
this only affects (a) changelog versions whose ``updated_at`` is more than
65 min behind the newest event (a profile/campaign update back-dated, or
delivered over an hour late: clicks and evaluations already emitted keep the
old version), and (b) an event stream that falls silent for longer than the
timeout and then resumes with data over 65 min behind the others. Ingest's
late rule is per stream; cross-stream lag beyond the lateness is not
corrected. When ALL inputs are idle Flink advances to the highest watermark
among them, which closes windows exactly as if the data had ended there.
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

from pipelines.config import FlinkSettings, load_settings
from pipelines.connectors.flink_kafka import KafkaConnector, connector_jar
from pipelines.flink.job import FlinkOptions, build_statements, create_table_environment
from pipelines.streaming.checkpoints import latest_checkpoint, prune_checkpoints

log = logging.getLogger("pulse.flink_streaming")

TERMINAL = ("FAILED", "CANCELED", "FINISHED")


def parse_args(flink: FlinkSettings, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The flags; their defaults are the ``flink`` section of the settings."""
    p = argparse.ArgumentParser(prog="python -m jobs.flink_streaming", description=__doc__)
    p.add_argument(
        "--checkpoint-dir",
        type=Path,
        default=Path(flink.checkpoint_dir),
        help=f"PULSE_FLINK__CHECKPOINT_DIR (default here: {flink.checkpoint_dir})",
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
        "--idle-timeout",
        type=float,
        default=flink.idle_timeout_s,
        metavar="S",
        help="source idle timeout in seconds "
        f"(PULSE_FLINK__IDLE_TIMEOUT_S; default here: {flink.idle_timeout_s:g})",
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
    return p.parse_args(argv)


def flink_config(args: argparse.Namespace, restore: Path | None) -> tuple[tuple[str, str], ...]:
    ckpt_uri = args.checkpoint_dir.resolve().as_uri()
    config = [
        ("execution.checkpointing.dir", ckpt_uri),
        ("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION"),
        ("execution.checkpointing.num-retained", "3"),
        ("execution.checkpointing.mode", "EXACTLY_ONCE"),
        ("execution.checkpointing.min-pause", "500 ms"),
        ("table.exec.source.idle-timeout", f"{int(args.idle_timeout * 1000)} ms"),
        ("restart-strategy.type", "fixed-delay"),
        ("restart-strategy.fixed-delay.attempts", "1000000"),
        ("restart-strategy.fixed-delay.delay", "5 s"),
        ("pipeline.name", "pulse-streaming"),
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
    if settings.kafka.topic_prefix:
        log.error("kafka.topic_prefix is not supported by the Flink job's Kafka connector yet")
        return 2
    args = parse_args(settings.flink, argv)
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    restore = None if args.from_earliest else latest_checkpoint(args.checkpoint_dir)
    connector = KafkaConnector(
        settings.kafka.bootstrap,
        group_id=args.group,
        startup_mode="earliest-offset" if args.from_earliest else "group-offsets",
    )
    for old in prune_checkpoints(args.checkpoint_dir, restore):
        log.info("removed the checkpoints of an earlier job: %s", old)
    if restore is not None:
        log.info("resuming from checkpoint %s", restore)
    else:
        log.info(
            "no checkpoint in %s: starting from %s", args.checkpoint_dir, connector.startup_mode
        )
    options = FlinkOptions(
        parallelism=settings.flink.parallelism,
        jvm_heap=settings.flink.jvm_heap,
        jars=(connector_jar(Path(settings.jars_dir)),),
        checkpoint_interval_ms=int(args.checkpoint_interval * 1000),
        extra=flink_config(args, restore),
    )
    t_env = create_table_environment(options)
    statements = build_statements(t_env, settings, connector.source_options, connector.sink_options)
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


if __name__ == "__main__":
    sys.exit(main())
