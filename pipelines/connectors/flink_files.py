"""File connectors of the bounded run: clean JSON Lines in, JSON Lines results out."""

from __future__ import annotations

from pathlib import Path

from pipelines.domain.streams import result_of_sink, spec_of_source

JSON_OPTIONS = {
    "format": "json",
    "json.timestamp-format.standard": "ISO-8601",
    "json.fail-on-missing-field": "false",
    "json.ignore-parse-errors": "false",
}


def clean_dir(work_dir: Path, stream: str) -> Path:
    """The folder of a stream's clean events (``stream``: its name, e.g. ``view``)."""
    return work_dir / "clean" / stream


def results_dir(work_dir: Path, table: str) -> Path:
    """The folder of the results loaded into warehouse ``table``."""
    return work_dir / "results" / table


class FileConnector:
    """Where the bounded job reads clean events and writes results (by Flink table name)."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir

    def source_options(self, source_table: str) -> dict[str, str]:
        stream = spec_of_source(source_table).stream.value
        path = clean_dir(self.work_dir, stream).resolve()
        return {"connector": "filesystem", "path": str(path), **JSON_OPTIONS}

    def sink_options(self, sink_table: str) -> dict[str, str]:
        path = results_dir(self.work_dir, result_of_sink(sink_table).table).resolve()
        return {"connector": "filesystem", "path": str(path), **JSON_OPTIONS}
