"""Soak: the delivery and fault scenarios of the streaming tests on a larger generated set.

Run:  .venv/bin/python bench/soak_streaming.py [--creators 30] [--days 21] [--seed 5]
          [--outage-s 300] [--chunks 24] [--kills 3] [--lock-s 30] [--fault-seed 11]
          [--scenarios console,kcat,outage,restart-after-end,rebalance,faults]
          [--workdir DIR] [--keep]

The same scenarios as ``tests/integration/streaming/test_delivery_order.py`` and
``test_faults.py`` (``tests/integration/streaming/scenarios.py``), each in a fresh local stack
(broker with three raw partitions per stream, ingest, Flink, loader), each compared with ONE
bounded ``pulse run`` over the same files, table by table, for everything the final watermark
closed:

* ``console``    changelogs, then views, comments, clicks, each whole file one after the other,
                 with Kafka's console producer (keyed);
* ``kcat``       changelogs, then clicks, views, comments with kcat (keyed, its partitioner);
* ``console2``   changelogs, then comments, clicks, views with the console producer;
* ``outage``     clicks stop at 40 % for ``--outage-s`` seconds of wall time while views and
                 comments go on, then flush their backlog;
* ``outage-views`` the same with the views stopping (the biggest stream);
* ``restart-after-end`` comments produced whole with half of the views and clicks; Flink
                 killed with ``kill -9`` once it has checkpointed them and started again, then
                 the rest: the restored job gets the comments' watermark from the ingest's
                 watermark markers;
* ``rebalance``  two ingest workers, one killed with ``kill -9`` mid-chunk and started again;
* ``faults``     ``--kills`` x ``kill -9`` of an ingest worker (two in the group, killed in turn:
                 rebalances), of Flink and of the loader, a broker stop and start, the
                 warehouse held by another process for ``--lock-s`` s, at points drawn from
                 ``--fault-seed``.

Prints one row per scenario (tables equal, rows lost, rows doubled, rows different, fault dead
letters, money, seconds) and exits 1 if any scenario differs or fails.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the scenarios live with the streaming tests

import pytest  # noqa: E402

from pipelines.domain.events import Stream  # noqa: E402
from tests.integration.streaming.raw_stack import Driver, run_live  # noqa: E402
from tests.integration.streaming.scenarios import (  # noqa: E402
    FaultPlan,
    Reference,
    Verdict,
    ended_before_restart,
    faults,
    judge,
    prepare_reference,
    producer_outage,
    rebalance,
    topic_by_topic,
)

#: Faust's own settings (environment) for the loader: a killed loader's partitions go to its
#: successor after 6 s instead of Faust's default 60 s session timeout
LOADER_SESSION = {"BROKER_SESSION_TIMEOUT": "6", "BROKER_HEARTBEAT_INTERVAL": "1"}
SCENARIOS = (
    "console",
    "kcat",
    "console2",
    "outage",
    "outage-views",
    "restart-after-end",
    "rebalance",
    "faults",
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--creators", type=int, default=30)
    p.add_argument("--days", type=int, default=21)
    p.add_argument("--seed", type=int, default=5, help="seed of the generated set")
    p.add_argument("--outage-s", type=float, default=300.0, help="wall seconds of the outage")
    p.add_argument("--chunks", type=int, default=24, help="chunks of the faults scenario")
    p.add_argument("--kills", type=int, default=3, help="kill -9 of each job (faults)")
    p.add_argument("--lock-s", type=float, default=30.0, help="warehouse held for (faults)")
    p.add_argument("--fault-seed", type=int, default=11, help="order and points of the faults")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    p.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs, dumps)")
    args = p.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        p.error(f"unknown scenarios {unknown}: choose from {', '.join(SCENARIOS)}")
    if args.kills < 2:
        p.error("--kills must be at least 2")
    return args


def _scenario(name: str, ref: Reference, args: argparse.Namespace) -> tuple[Driver, int]:
    """The driver of ``name`` and the number of ingest workers of its stack."""
    if name == "console":
        return topic_by_topic(ref, (Stream.VIEW, Stream.COMMENT, Stream.AD_CLICK), "console"), 1
    if name == "kcat":
        return topic_by_topic(ref, (Stream.AD_CLICK, Stream.VIEW, Stream.COMMENT), "kcat"), 1
    if name == "console2":
        return topic_by_topic(ref, (Stream.COMMENT, Stream.AD_CLICK, Stream.VIEW), "console"), 1
    if name == "outage":
        return producer_outage(ref, stopped=Stream.AD_CLICK, outage_s=args.outage_s), 1
    if name == "outage-views":
        return producer_outage(ref, stopped=Stream.VIEW, outage_s=args.outage_s), 1
    if name == "restart-after-end":
        return ended_before_restart(ref, ended=Stream.COMMENT), 1
    if name == "rebalance":
        return rebalance(ref, chunks=8, kill_after=3), 2
    plan = FaultPlan(
        seed=args.fault_seed,
        chunks=args.chunks,
        kills=args.kills,
        lock_s=args.lock_s,
        ingest_workers=2,
    )
    return faults(ref, plan), plan.ingest_workers


def _run(name: str, ref: Reference, args: argparse.Namespace, work: Path) -> Verdict:
    began = time.monotonic()
    drive, workers = _scenario(name, ref, args)
    try:
        run = run_live(
            work / name, drive, ref.reference_ms, extra_env=LOADER_SESSION, ingest_workers=workers
        )
        verdict = judge(name, run, ref)
    except (Exception, pytest.fail.Exception) as exc:
        failed = Verdict(name, time.monotonic() - began)
        failed.problems.append(f"the run failed: {exc!s:.2000}")
        traceback.print_exc()
        return failed
    for at, what in run.events:
        print(f"  {name} {at:7.1f}s  {what}", file=sys.stderr)
    return verdict


def _table(verdicts: list[Verdict]) -> str:
    head = ("scenario", "tables equal", "lost", "doubled", "different", "fault DLQ", "money", "s")
    rows = [head]
    for v in verdicts:
        rows.append(
            (
                v.scenario,
                f"{v.tables_equal}/{v.tables}",
                str(v.lost),
                str(v.doubled),
                str(v.different),
                str(v.fault_dead_letters),
                "equal" if v.money and v.money_equal else "DIFFERENT",
                f"{v.seconds:.0f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    line: Callable[[tuple[str, ...]], str] = lambda r: "  ".join(  # noqa: E731
        c.ljust(w) for c, w in zip(r, widths, strict=True)
    )
    return "\n".join([line(rows[0]), "  ".join("-" * w for w in widths), *map(line, rows[1:])])


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pulse-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    try:
        ref = prepare_reference(
            work / "reference", creators=args.creators, days=args.days, seed=args.seed
        )
        lines = sum(n for t, n in ref.expected_records.items() if t.startswith("raw."))
        print(f"soak: {lines:,} raw lines, bounded reference in {time.monotonic() - began:.0f}s")
        verdicts = []
        for name in args.scenarios:
            verdict = _run(name, ref, args, work)
            verdicts.append(verdict)
            print(verdict.report(), flush=True)
        print()
        print(_table(verdicts))
        failed = [v.scenario for v in verdicts if not v.ok]
        print(f"\nsoak: {'FAILED: ' + ', '.join(failed) if failed else 'all scenarios equal'}")
        return 1 if failed else 0
    finally:
        if args.keep or args.workdir is not None:
            print(f"soak: work folder {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
