"""``pulse up --cluster`` wiring, without processes: settings, the jobs' environments, the
restore point after a JobManager loss."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.config import load_settings
from pipelines.local import cluster_stack


def test_the_jobs_get_all_three_nodes_and_a_folder_and_port_each(tmp_path: Path) -> None:
    settings = load_settings(
        cluster={"kafka_ports": (19092, 19093, 19094), "ingest_metrics_ports": (19401, 0)},
        ingest={"data_dir": str(tmp_path / "ingest")},
    )
    clustered = cluster_stack.cluster_settings(settings)
    assert clustered.kafka.bootstrap == "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
    jobs = cluster_stack.cluster_jobs(clustered)
    assert [job.name for job in jobs] == ["ingest-1", "ingest-2", "loader"]
    first, second = (dict(job.env) for job in jobs[:2])
    assert first["PULSE_INGEST__DATA_DIR"] == str(tmp_path / "ingest" / "ingest-1")
    assert second["PULSE_INGEST__DATA_DIR"] == str(tmp_path / "ingest" / "ingest-2")
    assert cluster_stack.job_metrics_url(clustered, jobs[0]) == "http://127.0.0.1:19401/metrics"
    assert cluster_stack.job_metrics_url(clustered, jobs[1]) is None  # 0: not served
    environment = cluster_stack.cluster_environment(clustered)
    assert environment["PULSE_KAFKA__BOOTSTRAP"] == clustered.kafka.bootstrap
    # the jobs' own topics (ingest state changelogs, Faust's) get the cluster's replicas
    assert environment["PULSE_KAFKA__REPLICATION_FACTOR"] == "3"


@pytest.mark.parametrize(
    "section",
    [
        {"taskmanagers": 3},  # two metrics ports for three TaskManagers
        {"ingest_workers": 1},  # two metrics ports for one worker
        {"kafka_ports": (9092, 9093)},
    ],
)
def test_a_port_per_process_or_a_clear_error(section: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=r"port|at least 3"):
        load_settings(cluster=section)


def _checkpoint(folder: Path, mtime: float) -> Path:
    folder.mkdir(parents=True)
    meta = folder / "_metadata"
    meta.write_bytes(b"x")
    os.utime(meta, (mtime, mtime))
    return folder


class _Flink:
    def __init__(self, checkpoints: Path) -> None:
        self.checkpoints = checkpoints

    def latest_checkpoint(self) -> Path | None:
        from pipelines.streaming.checkpoints import latest_checkpoint

        return latest_checkpoint(self.checkpoints)


def test_the_restore_point_is_the_newest_savepoint_or_checkpoint(tmp_path: Path) -> None:
    now = time.time()
    savepoints, checkpoints = tmp_path / "savepoints", tmp_path / "checkpoints"
    flink = _Flink(checkpoints)
    savepoints.mkdir()
    assert cluster_stack.restore_point(flink, savepoints) is None  # type: ignore[arg-type]
    old = _checkpoint(checkpoints / "job-a" / "chk-9", now - 300)
    rescaled = _checkpoint(savepoints / "savepoint-a-1", now - 200)
    assert cluster_stack.restore_point(flink, savepoints) == rescaled  # type: ignore[arg-type]
    newest = _checkpoint(checkpoints / "job-b" / "chk-2", now - 100)
    assert cluster_stack.restore_point(flink, savepoints) == newest  # type: ignore[arg-type]
    (savepoints / "savepoint-b-incomplete").mkdir()  # no _metadata: being written
    assert cluster_stack.restore_point(flink, savepoints) == newest  # type: ignore[arg-type]
    assert old.exists()
