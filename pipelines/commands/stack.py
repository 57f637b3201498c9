"""``pulse up`` / ``pulse down``: the local streaming stack (``make up`` / ``make down``).

``up`` starts the local Kafka broker, creates the topics, and starts the streaming ingest, the
Flink job and the warehouse loader in the background (logs and pid files in ``stack.dir``,
``.pulse/stack``); whatever already runs is left alone. ``down`` stops the jobs (the loader
last, so the warehouse folder is closed), then the broker. Both are safe to repeat.

``up --as-of INSTANT`` is for a BACKFILL (data dated in the past): the future-event rule of the
ingest then uses that fixed instant instead of the wall clock, like ``pulse run --as-of``, so a
wrongly dated event ahead of the data is rejected instead of moving the watermark. Return to
the wall clock (``pulse down``, then ``pulse up`` without it) before live traffic arrives.

``up --cluster`` starts the same stack on a local CLUSTER instead (three Kafka nodes, a Flink
session cluster, the job submitted with ``flink run``, two ingest workers; settings section
``cluster``, docs/cluster.md); ``down`` then stops the job with a savepoint and every process of
the cluster. ``rescale --parallelism N`` stops the cluster's job with a savepoint and submits it
again from that savepoint at N.
"""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.commands.run import parse_as_of
from pipelines.config import load_settings
from pipelines.connectors.kafka_topics import TopicSetupError
from pipelines.errors import PulseError
from pipelines.local import cluster_stack, stack
from pipelines.local.flink_cluster import FlinkClusterError
from pipelines.local.kafka_command import KafkaBrokerError


class StackError(PulseError):
    """The local broker or a topic could not be set up."""

    exit_code = 1


def register(sub: Any) -> None:
    up = sub.add_parser(
        "up",
        help="start the local streaming stack (broker, topics, ingest, Flink, loader)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument(
        "--as-of",
        dest="as_of",
        metavar="INSTANT",
        help="fixed reference clock for a backfill: epoch ms or RFC 3339 (default: wall clock; "
        "setting as_of, PULSE_AS_OF)",
    )
    up.add_argument(
        "--partitions",
        type=int,
        default=2,
        help="partitions of each raw (and clean) topic when they are created (default 2)",
    )
    up.add_argument(
        "--cluster",
        action="store_true",
        help="a local CLUSTER instead: three Kafka nodes, a Flink session cluster (JobManager "
        "and TaskManagers), the job submitted with `flink run`, two ingest workers, the loader "
        "(settings section cluster; docs/cluster.md)",
    )
    up.set_defaults(func=execute_up)
    rescale = sub.add_parser(
        "rescale",
        help="cluster: stop the streaming job with a savepoint, resubmit it at N",
        description="Stop the streaming job on the local cluster with a savepoint (flink stop "
        "--savepointPath) and submit it again from that savepoint at the given parallelism; "
        "also how a new build of the job is rolled out (docs/cluster.md).",
    )
    rescale.add_argument("--parallelism", type=int, required=True, metavar="N")
    rescale.set_defaults(func=execute_rescale)
    down = sub.add_parser(
        "down",
        help="stop the local streaming stack (jobs, then the broker)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    down.set_defaults(func=execute_down)


def execute_up(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of) if args.as_of is not None else None
    settings = load_settings(as_of=as_of)
    try:
        if args.cluster:
            return cluster_stack.up_cluster(settings)
        return stack.up(settings, partitions=args.partitions)
    except (
        KafkaBrokerError,
        TopicSetupError,
        cluster_stack.ClusterError,
        FlinkClusterError,
    ) as exc:
        raise StackError(str(exc)) from exc


def execute_rescale(args: argparse.Namespace) -> int:
    if args.parallelism < 1:
        raise StackError("--parallelism must be 1 or more")
    try:
        return cluster_stack.rescale(load_settings(), args.parallelism)
    except (cluster_stack.ClusterError, FlinkClusterError) as exc:
        raise StackError(str(exc)) from exc


def execute_down(args: argparse.Namespace) -> int:
    try:
        return stack.down(load_settings())
    except (KafkaBrokerError, cluster_stack.ClusterError) as exc:
        raise StackError(str(exc)) from exc
