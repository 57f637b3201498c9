"""Dimension tables from the clean changelog streams (profiles, campaigns)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.json as pajson

from pipelines.load.results import part_files
from pipelines.warehouse.tables import arrow_schema


def read_dimension(clean_dir: Path, table: str) -> pa.Table:
    """Clean JSON (instants as epoch ms) -> the Arrow table of ``table``."""
    target = arrow_schema(table)
    read_schema = pa.schema(
        [
            pa.field(
                f.name,
                pa.int64()
                if pa.types.is_timestamp(f.type)
                else pa.string()
                if pa.types.is_date(f.type)
                else f.type,
            )
            for f in target
        ]
    )
    options = pajson.ParseOptions(explicit_schema=read_schema, unexpected_field_behavior="ignore")
    parts = [pajson.read_json(path, parse_options=options) for path in part_files(clean_dir)]
    if not parts:
        return target.empty_table()
    data = pa.concat_tables(parts).select(target.names)
    return data.cast(target)
