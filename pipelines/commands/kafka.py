"""``pulse kafka``: the local single-node Kafka broker (KRaft) and the pulse topics.

    pulse kafka start [--data-dir D] [--bootstrap H:P | --random-port] [--heap 512m]
    pulse kafka stop|status [--data-dir D]
    pulse kafka topics [--bootstrap H:P] [--partitions 2] [--results-partitions 1] [--markdown]

``start`` and ``stop`` are safe to repeat. Defaults come from the ``kafka`` settings section
(``PULSE_KAFKA__BOOTSTRAP``, ``PULSE_KAFKA__DATA_DIR``). ``infra/kafka/*.sh`` call these.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from pipelines.config import load_settings
from pipelines.connectors.kafka_topics import (
    TopicSetupError,
    ensure_topics,
    pulse_topics,
    topics_markdown,
)
from pipelines.errors import PulseError
from pipelines.kafka_clients import aiokafka_options
from pipelines.local.kafka_broker import DEFAULT_HEAP, LocalKafkaBroker, parse_bootstrap
from pipelines.local.kafka_command import KAFKA_VERSION, KafkaBrokerError


class KafkaCommandError(PulseError):
    """The broker could not be started, reached or stopped, or a topic not created."""

    exit_code = 1


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "kafka",
        help="the local Kafka broker (start/stop/status) and the pulse topics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="kafka_command", metavar="ACTION", required=True)
    for name, help_ in (
        ("start", "start the broker in the background and wait until it is ready"),
        ("stop", "stop the broker (SIGTERM, then SIGKILL after --timeout)"),
        ("status", "print the broker state; exit 1 when it is not running"),
        ("topics", "create the pulse topics that do not exist yet"),
    ):
        sp = actions.add_parser(name, help=help_, description=help_)
        sp.add_argument("--data-dir", type=Path, default=None, help="broker data folder")
        if name in ("start", "topics"):
            sp.add_argument("--bootstrap", default=None, help="host:port (default: settings)")
        if name == "start":
            sp.add_argument("--random-port", action="store_true", help="pick a free port")
            sp.add_argument("--heap", default=DEFAULT_HEAP, help=f"JVM -Xmx ({DEFAULT_HEAP})")
            sp.add_argument("--timeout", type=float, default=60.0, help="start timeout (s)")
            sp.add_argument(
                "--auto-create-topics", action="store_true", help="auto.create.topics.enable"
            )
        if name == "stop":
            sp.add_argument("--timeout", type=float, default=30.0, help="SIGTERM grace (s)")
        if name == "topics":
            sp.add_argument(
                "--partitions",
                type=int,
                default=2,
                help="partitions of every raw and clean topic (a clean topic keeps its raw "
                "topic's count)",
            )
            sp.add_argument("--results-partitions", type=int, default=1)
            sp.add_argument(
                "--markdown", action="store_true", help="print the topic table, create nothing"
            )
    parser.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    try:
        return _execute(args)
    except (KafkaBrokerError, TopicSetupError) as exc:
        raise KafkaCommandError(str(exc)) from exc


def _execute(args: argparse.Namespace) -> int:
    kafka = load_settings().kafka
    data_dir = args.data_dir or Path(kafka.data_dir)
    if args.kafka_command == "topics" and args.markdown:
        print(topics_markdown(pulse_topics(args.partitions, args.results_partitions)), end="")
        return 0
    if args.kafka_command == "start":
        port = None if args.random_port else parse_bootstrap(args.bootstrap or kafka.bootstrap)[1]
        broker = LocalKafkaBroker(
            data_dir,
            port,
            heap=args.heap,
            start_timeout=args.timeout,
            auto_create_topics=args.auto_create_topics,
        )
        was_running = broker.is_running()
        broker.start()
        if was_running:
            print(f"kafka: already running on {broker.bootstrap} (pid {broker.pid()})")
        else:
            print(
                f"kafka {KAFKA_VERSION}: started on {broker.bootstrap} (pid {broker.pid()}) "
                f"in {broker.start_seconds:.1f}s; data {broker.data_dir}, log {broker.log_file}"
            )
        return 0
    broker = LocalKafkaBroker(data_dir)
    if args.kafka_command == "stop":
        broker.stop_timeout = args.timeout
        pid = broker.pid()
        print(f"kafka: stopped (pid {pid})" if broker.stop() else "kafka: not running")
        return 0
    if args.kafka_command == "status":
        if broker.is_running():
            ready = "ready" if broker.is_ready() else "NOT accepting connections"
            print(f"kafka: running on {broker.bootstrap} (pid {broker.pid()}), {ready}")
            return 0
        print(f"kafka: not running (data dir {broker.data_dir})")
        return 1
    bootstrap = args.bootstrap or (broker.bootstrap if broker.is_running() else kafka.bootstrap)
    specs = pulse_topics(args.partitions, args.results_partitions, kafka.topic_prefix)
    report = asyncio.run(ensure_topics(bootstrap, specs, client_options=aiokafka_options(kafka)))
    print(
        f"kafka topics on {bootstrap}: {len(report.created)} created, "
        f"{len(report.existing)} already present"
    )
    for name in report.created:
        print(f"  + {name}")
    for name, (have, want) in sorted(report.mismatched.items()):
        print(f"  ! {name}: has {have} partitions, spec says {want} (left unchanged)")
    return 0
