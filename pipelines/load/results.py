"""Results of the Flink job (JSON Lines part files) as Arrow tables for the warehouse."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.json as pajson

from pipelines.warehouse.tables import arrow_schema


def _read_type(target: pa.DataType) -> pa.DataType:
    """How a column is read from Flink's JSON (timestamps are ISO-8601, zone-less UTC)."""
    if pa.types.is_timestamp(target):
        return pa.timestamp("ms")
    if pa.types.is_date(target):
        return pa.string()
    return target


def part_files(directory: Path) -> list[Path]:
    """Committed part files (Flink keeps in-progress files hidden with a leading dot)."""
    if not directory.is_dir():
        return []
    return sorted(
        path
        for path in directory.rglob("*")
        if path.is_file() and not path.name.startswith((".", "_")) and path.stat().st_size
    )


def result_read_schema(table: str) -> pa.Schema:
    """How the JSON results of ``table`` are read (files or Kafka values alike)."""
    return pa.schema(
        [
            pa.field(field.name, _read_type(field.type), nullable=True)
            for field in arrow_schema(table)
        ]
    )


def read_results(directory: Path, table: str) -> pa.Table:
    """All part files of one result table, typed and ordered as the warehouse table."""
    target = arrow_schema(table)
    options = pajson.ParseOptions(
        explicit_schema=result_read_schema(table), unexpected_field_behavior="error"
    )
    parts = [pajson.read_json(path, parse_options=options) for path in part_files(directory)]
    if not parts:
        return target.empty_table()
    data = pa.concat_tables(parts).select(target.names)
    return data.cast(target)
