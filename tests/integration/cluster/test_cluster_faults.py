"""The cluster survives what a cluster does to it: every table equal to the bounded run.

One run of ``pulse up --cluster`` (three KRaft nodes with replication factor 3, a Flink session
cluster of one JobManager and two TaskManagers, the job at parallelism 2, two ingest workers)
over the generated set of the streaming fault test, produced in chunks with a real Kafka client
(idempotent, ``acks=all``). Between the chunks, while the stack works:

1. ``kill -9`` of a TaskManager, started again: the job restarts from its last checkpoint;
2. ``kill -9`` of the Kafka node that leads the most raw and result partitions; a chunk is
   produced while it is down (two of three replicas in sync suffice), then it starts again;
3. ``pulse rescale --parallelism 4`` and then ``--parallelism 1``: stop with a savepoint and
   resubmit from it (the state moves between key-group layouts and TaskManagers);
4. ``kill -9`` of the JobManager, then ``pulse up --cluster``: it starts the JobManager and, with
   no job on the new JobManager (no high availability here), resubmits the job from the newest
   retained checkpoint.

Then 0 rows lost, 0 doubled, money identical, every table equal for what the final watermark
closed (``scenarios.judge``), ``pulse status`` showed every node with its role and pid, and
``pulse down`` left no process behind. Faults stop before the last chunk: Flink does not
checkpoint watermarks, a restarted job re-derives its watermark from the records after it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipelines.local import cluster_stack
from pipelines.local.processes import proc_cmdline

from ..streaming.compare import assert_same_tables
from ..streaming.scenarios import (
    CHANGELOGS,
    EVENT_STREAMS,
    Reference,
    aio_produce,
    committed,
    interleaved,
    judge,
    messages_of,
    shared_reference,
    slices_ending_everywhere,
)
from .cluster_run import (
    ClusterDriver,
    ClusterStack,
    busiest_leader,
    job_running,
    left_behind,
    pulse,
    run_cluster,
)

pytestmark = pytest.mark.integration

CREATORS, DAYS, SEED = 10, 10, 41  # the set of the streaming fault test: one bounded run
CHUNKS = 7


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return shared_reference(tmp_path_factory.getbasetemp(), creators=CREATORS, days=DAYS, seed=SEED)


def cluster_faults(ref: Reference) -> ClusterDriver:
    """The driver: the chunks, and after chunk ``i`` the fault of step ``i``."""

    def at_work(live: ClusterStack, stage: str, before: int) -> None:
        live.wait(f"{stage} at work", lambda: committed(live, stage) > before)

    def drive(live: ClusterStack) -> None:
        settings = live.settings()
        flink = cluster_stack.flink_cluster(settings)
        kafka = cluster_stack.kafka_cluster(settings)
        aio_produce(live.bootstrap, [m for s in CHANGELOGS for m in messages_of(ref.raw_dir, s)])
        events = interleaved([messages_of(ref.raw_dir, s) for s in EVENT_STREAMS])
        # the last chunk, after the last restore, reaches every raw (and clean) partition
        parts = slices_ending_everywhere(events, CHUNKS, settings.cluster.partitions)
        down_node: int | None = None
        for i, part in enumerate(parts):
            before = committed(live, "flink")
            aio_produce(live.bootstrap, part)
            live.note(f"chunk {i + 1}/{CHUNKS} produced")
            if i == 0:
                at_work(live, "flink", before)
                flink.kill_taskmanager(1)
                live.note("kill -9 taskmanager-1")
                flink.start_taskmanager(1)
                live.wait("job running again after the TaskManager", lambda: job_running(live))
            elif i == 1:
                at_work(live, "flink", before)
                down_node = busiest_leader(live.bootstrap)
                kafka.kill_node(down_node)
                live.note(f"kill -9 kafka-{down_node}")
            elif i == 2:
                assert down_node is not None
                at_work(live, "flink", before)
                kafka.start_node(down_node)
                live.note(f"kafka-{down_node} started again")
            elif i == 3:
                at_work(live, "flink", before)
                live.note(pulse(live.env, "rescale", "--parallelism", "4").strip())
                live.wait("job running at 4", lambda: job_running(live))
            elif i == 4:
                at_work(live, "flink", before)
                live.note(pulse(live.env, "rescale", "--parallelism", "1").strip())
                live.wait("job running at 1", lambda: job_running(live))
            elif i == 5:
                at_work(live, "flink", before)
                flink.kill_jobmanager()
                live.note("kill -9 jobmanager")
                time.sleep(1.0)
                live.note(pulse(live.env, "up", "--cluster").strip().splitlines()[-1])
                live.wait("job resubmitted", lambda: job_running(live))

    return drive


def test_the_cluster_survives_its_faults_with_the_bounded_tables(
    reference: Reference, tmp_path: Path
) -> None:
    run, pids = run_cluster(
        tmp_path / "cluster-run", cluster_faults(reference), reference.reference_ms
    )
    verdict = judge("cluster faults", run, reference)
    print(verdict.report(), run.events)
    assert verdict.ok, verdict.report()
    assert_same_tables(run.dump, reference.bounded_dump, run.cutoff_ms)
    events = [what for _t, what in run.events]
    assert "kill -9 taskmanager-1" in events and "kill -9 jobmanager" in events, events
    assert any(e.startswith("kill -9 kafka-") for e in events), events
    assert any("parallelism 4 from the savepoint" in e for e in events), events
    assert any("parallelism 1 from the savepoint" in e for e in events), events
    assert any("from " in e and "chk-" in e for e in events), (
        events
    )  # resubmitted from a checkpoint
    # pulse status listed the three nodes, the JobManager, two TaskManagers and the jobs
    assert len(pids) >= 3 + 1 + 2 + 2 + 1, pids
    left = left_behind(pids)
    assert not left, f"pulse down left processes behind: {[proc_cmdline(p) for p in left]}"
