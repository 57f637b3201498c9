"""Dimension tables from the clean changelog streams (profiles, campaigns)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.json as pajson

from pipelines.load.results import part_files
from pipelines.warehouse.tables import arrow_schema


def _read_type(target: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(target):
        return pa.int64()  # clean JSON: instants are epoch ms
    if pa.types.is_date(target):
        return pa.string()
    return target


def dimension_read_schema(table: str) -> pa.Schema:
    """How clean changelog JSON is read for ``table`` (files or Kafka values alike)."""
    return pa.schema([pa.field(f.name, _read_type(f.type)) for f in arrow_schema(table)])


def read_dimension(clean_dir: Path, table: str) -> pa.Table:
    """Clean JSON (instants as epoch ms) -> the Arrow table of ``table``."""
    target = arrow_schema(table)
    options = pajson.ParseOptions(
        explicit_schema=dimension_read_schema(table), unexpected_field_behavior="ignore"
    )
    parts = [pajson.read_json(path, parse_options=options) for path in part_files(clean_dir)]
    if not parts:
        return target.empty_table()
    data = pa.concat_tables(parts).select(target.names)
    return data.cast(target)
