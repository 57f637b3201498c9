"""File connectors of the bounded run: clean JSON Lines in, JSON Lines results out."""

from __future__ import annotations

from pathlib import Path

from pipelines.flink.tables import SinkTable, SourceTable

JSON_OPTIONS = {
    "format": "json",
    "json.timestamp-format.standard": "ISO-8601",
    "json.fail-on-missing-field": "false",
    "json.ignore-parse-errors": "false",
}


def clean_dir(work_dir: Path, source: SourceTable) -> Path:
    return work_dir / "clean" / source.stream


def results_dir(work_dir: Path, sink: SinkTable) -> Path:
    return work_dir / "results" / sink.warehouse_table


class FileConnector:
    """Where the bounded job reads clean events and writes results."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir

    def source_options(self, source: SourceTable) -> dict[str, str]:
        path = clean_dir(self.work_dir, source).resolve()
        return {"connector": "filesystem", "path": str(path), **JSON_OPTIONS}

    def sink_options(self, sink: SinkTable) -> dict[str, str]:
        path = results_dir(self.work_dir, sink).resolve()
        return {"connector": "filesystem", "path": str(path), **JSON_OPTIONS}
