"""Proven under faults: one run through every fault, then every table equals the bounded run.

One generated set and its bounded ``pulse run`` are the reference (the set of
``test_delivery_order.py``, without its partition-dependent lines). The events are produced in
chunks into a fresh stack (three raw partitions per stream); between chunks, in an order and at
points drawn from a seed (``scenarios.FaultPlan``), each of these happens while the stack works:

* ``kill -9`` of an ingest worker (two run in one group: each kill is a rebalance, the other
  worker takes the partitions over, and another when the killed one starts again), of the
  Flink job (its process group: Python and the JVM) and of the loader, each twice, each
  started again right away as ``pulse up`` would;
* the broker stopped and started again on the same data folder and port;
* the embedded warehouse held by another process for 30 s while the loader is (re)started: the
  loader waits for the folder (it must neither exit nor lose a batch).

After the run: 0 rows lost, 0 rows doubled, money totals identical, every table equal for
what the final watermark closed, exactly one ingest output per raw message (a crash never
produces an output twice or not at all) and no dead letter that the bounded run does not have
(a fault never turns into a rejection): ``scenarios.judge``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .compare import assert_same_tables
from .raw_stack import run_live
from .scenarios import (
    FaultPlan,
    Reference,
    ended_before_restart,
    faults,
    judge,
    shared_reference,
)

pytestmark = pytest.mark.integration

CREATORS, DAYS, SEED = 10, 10, 41  # the set of test_delivery_order.py: one bounded run
PLAN = FaultPlan(seed=7, chunks=10, kills=2, lock_s=30.0, ingest_workers=2)
#: Faust's own settings (environment) for the loader: a killed loader's partitions go to its
#: successor after 6 s instead of Faust's default 60 s session timeout
LOADER_SESSION = {"BROKER_SESSION_TIMEOUT": "6", "BROKER_HEARTBEAT_INTERVAL": "1"}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The set and its bounded run, shared with the other scenario module of the session."""
    return shared_reference(tmp_path_factory.getbasetemp(), creators=CREATORS, days=DAYS, seed=SEED)


def test_every_fault_in_one_run_gives_the_bounded_tables(
    reference: Reference, tmp_path: Path
) -> None:
    drive = faults(reference, PLAN)
    run = run_live(
        tmp_path / "stack",
        drive,
        reference.reference_ms,
        extra_env=LOADER_SESSION,
        ingest_workers=PLAN.ingest_workers,
    )
    verdict = judge("faults", run, reference)
    print(verdict.report(), run.events)
    assert verdict.ok, verdict.report()
    assert_same_tables(run.dump, reference.bounded_dump, run.cutoff_ms)
    events = [what for _t, what in run.events]
    for job in ("flink", "loader"):
        assert events.count(f"kill -9 {job}") == PLAN.kills, events
    for worker in ("ingest", "ingest-2"):  # the ingest kills alternate between the workers
        assert events.count(f"kill -9 {worker}") == PLAN.kills // 2, events
        assert events.count(f"rebalanced: {worker} back in the group") == PLAN.kills // 2
    assert "broker started again" in events and "warehouse released" in events, events


def test_a_stream_that_ended_before_a_flink_restart_does_not_hold_the_results(
    reference: Reference, tmp_path: Path
) -> None:
    """Comments end, Flink is killed and restored, views and clicks go on: the restored job
    gets the comment partitions' watermark from the ingest's markers, not from new comments."""
    run = run_live(tmp_path / "stack", ended_before_restart(reference), reference.reference_ms)
    verdict = judge("ended before a restart", run, reference)
    print(verdict.report(), run.events)
    assert verdict.ok, verdict.report()
    assert_same_tables(run.dump, reference.bounded_dump, run.cutoff_ms)
