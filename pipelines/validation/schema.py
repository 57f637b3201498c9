"""Read the JSON Schema files of ``schemas/events/`` and derive their field table.

Used by tests and tooling to prove that the runtime table (``fields.py``) is the
schema. Needs the repository checkout (the schema files are not package data).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.domain.events import Stream
from pipelines.validation.fields import CAMPAIGN_STATUSES, FieldSpec, Kind

__all__ = ["SCHEMA_DIR", "fields_from_schema", "load_schema", "schema_path"]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "events"
_CODE_KINDS = {"iso3166-alpha2": Kind.COUNTRY, "iso4217": Kind.CURRENCY}


def schema_path(stream: Stream, version: int = 1) -> Path:
    return SCHEMA_DIR / f"{stream.value}.v{version}.schema.json"


def load_schema(stream: Stream, version: int = 1) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_path(stream, version).read_text("utf-8"))
    return loaded


def _kind(prop: dict[str, Any]) -> Kind:
    if prop.get("x-pulse-instant"):
        return Kind.INSTANT
    if "x-pulse-code" in prop:
        return _CODE_KINDS[prop["x-pulse-code"]]
    if "enum" in prop:
        if tuple(prop["enum"]) != CAMPAIGN_STATUSES:
            raise ValueError(f"unexpected enum {prop['enum']}")
        return Kind.STATUS
    if prop["type"] == "integer":
        return Kind.MICROS if prop.get("exclusiveMinimum") == 0 else Kind.COUNT
    if prop.get("format") == "date":
        return Kind.DATE
    return Kind.ID if prop.get("minLength") == 1 else Kind.TEXT


def fields_from_schema(schema: dict[str, Any]) -> tuple[FieldSpec, ...]:
    """The field table a schema describes, in the schema's property order."""
    required = set(schema["required"])
    return tuple(
        FieldSpec(
            name=name,
            kind=_kind(prop),
            required=name in required,
            event_time=bool(prop.get("x-pulse-event-time")),
        )
        for name, prop in schema["properties"].items()
    )
