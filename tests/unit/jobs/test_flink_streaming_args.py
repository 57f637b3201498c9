"""The streaming Flink job's checkpoint location: a local folder (restored by this process) or
a URI on a cluster (restored by the operator, never looked up on local disk)."""

from __future__ import annotations

from pathlib import Path

from jobs.flink_streaming import checkpoint_uri, flink_config, local_checkpoint_dir, parse_args
from pipelines.config import load_settings


def test_a_uri_is_used_as_given_and_never_read_locally() -> None:
    args = parse_args(load_settings().flink, ["--checkpoint-dir", "s3://pulse/checkpoints"])
    assert local_checkpoint_dir(args.checkpoint_dir) is None
    config = dict(flink_config(args, None))
    assert config["execution.checkpointing.dir"] == "s3://pulse/checkpoints"


def test_a_local_folder_becomes_a_file_uri(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    assert local_checkpoint_dir(str(folder)) == folder
    assert checkpoint_uri(str(folder)) == folder.resolve().as_uri()
    args = parse_args(load_settings().flink, ["--checkpoint-dir", str(folder)])
    assert dict(flink_config(args, None))["execution.checkpointing.dir"].startswith("file://")


def test_the_streaming_job_reuses_objects_locally_and_on_a_cluster(tmp_path: Path) -> None:
    local = parse_args(load_settings().flink, ["--checkpoint-dir", str(tmp_path)])
    submitted = parse_args(load_settings().flink, ["--submit"])
    for args in (local, submitted):
        assert dict(flink_config(args, None))["pipeline.object-reuse"] == "true"
