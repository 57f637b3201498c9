"""Where the streaming Flink job keeps its checkpoints, and which one to resume from.

Flink writes ``<dir>/<job-id>/chk-<n>/_metadata`` for each completed
checkpoint (retained on cancellation, ``num-retained`` kept per job). A
restart resumes from the newest COMPLETE one (its ``_metadata`` exists); a
checkpoint being written when the process died has no ``_metadata`` yet and is
skipped.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_DIR = Path(".pulse/flink/checkpoints")
METADATA = "_metadata"


def completed_checkpoints(directory: Path) -> list[Path]:
    """Completed checkpoint folders under ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    found = [meta.parent for meta in directory.glob(f"*/chk-*/{METADATA}") if meta.is_file()]
    return sorted(found, key=lambda path: (path.joinpath(METADATA).stat().st_mtime, path.name))


def latest_checkpoint(directory: Path) -> Path | None:
    """The newest completed checkpoint, or None (then the job starts from group offsets)."""
    found = completed_checkpoints(directory)
    return found[-1] if found else None


def prune_checkpoints(directory: Path, keep: Path | None) -> list[Path]:
    """Delete the checkpoint folders of earlier jobs, except the job of ``keep``.

    Each (re)start is a new Flink job with its own ``<job-id>`` folder; Flink
    trims checkpoints within a job (``num-retained``) but never those of jobs
    before it. The job being restored from is kept (its checkpoint is the
    state being resumed; with the default NO_CLAIM mode Flink never deletes
    it). Returns the folders removed.
    """
    import shutil

    if not directory.is_dir():
        return []
    keep_job = keep.parent.resolve() if keep is not None else None
    removed = []
    for job_dir in directory.iterdir():
        if job_dir.is_dir() and job_dir.resolve() != keep_job:
            shutil.rmtree(job_dir, ignore_errors=True)
            removed.append(job_dir)
    return removed
