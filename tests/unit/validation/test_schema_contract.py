"""The JSON Schemas are the contract: the validator's field table and behaviour match them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.validators import extend

from pipelines.domain.events import Stream
from pipelines.validation import Rejection, RejectReason, Validator
from pipelines.validation.fields import STREAM_FIELDS, Kind
from pipelines.validation.instants import MAX_INSTANT_MS
from pipelines.validation.schema import fields_from_schema, load_schema, schema_path

from .samples import SAMPLES, TOLERANCE_MS, line
from .strategies import event_objects

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)
_NOT_CHECKED_BY_JSON_SCHEMA = {
    RejectReason.UNKNOWN_COUNTRY,
    RejectReason.UNKNOWN_CURRENCY,
    RejectReason.FUTURE_EVENT_TIME,
}


def _is_rfc3339(instance: object) -> bool:
    """Independent check of the "date-time" format (stdlib datetime, not our parser)."""
    if not isinstance(instance, str):
        return True
    if _RFC3339.fullmatch(instance) is None:
        return False
    text = re.sub(r"[Zz]$", "+00:00", instance.upper())
    text = re.sub(r"\.([0-9]+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), text)
    try:
        datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return True


_FORMATS = FormatChecker()
_FORMATS.checks("date-time")(_is_rfc3339)
# JSON integers only: 1.0 is a number, not an integer (stricter than JSON Schema).
_SchemaValidator = extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, instance: type(instance) is int
    ),
)


def _schema_validator(stream: Stream) -> Any:
    return _SchemaValidator(load_schema(stream), format_checker=_FORMATS)


@pytest.mark.parametrize("stream", list(Stream))
def test_schema_file_is_valid_draft_2020_12(stream: Stream) -> None:
    schema = load_schema(stream)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{schema_path(stream).name}")
    assert schema["x-pulse-stream"] == stream.value
    assert schema.get("additionalProperties", True) is True


@pytest.mark.parametrize("stream", list(Stream))
def test_field_table_is_the_schema(stream: Stream) -> None:
    assert fields_from_schema(load_schema(stream)) == STREAM_FIELDS[stream]


@pytest.mark.parametrize("stream", list(Stream))
def test_samples_are_valid_for_both(stream: Stream) -> None:
    assert not list(_schema_validator(stream).iter_errors(SAMPLES[stream]))
    assert not isinstance(
        Validator(stream, MAX_INSTANT_MS, TOLERANCE_MS).validate(line(SAMPLES[stream])), Rejection
    )


def _code_fields(stream: Stream) -> set[str]:
    return {
        spec.name for spec in STREAM_FIELDS[stream] if spec.kind in {Kind.COUNTRY, Kind.CURRENCY}
    }


@settings(max_examples=1500)
@given(data=st.data(), stream=st.sampled_from(list(Stream)))
def test_jsonschema_accepts_exactly_what_the_validator_accepts(
    data: st.DataObject, stream: Stream
) -> None:
    raw = line(data.draw(event_objects(stream)))
    outcome = Validator(stream, MAX_INSTANT_MS, TOLERANCE_MS).validate(raw)
    errors = list(_schema_validator(stream).iter_errors(orjson.loads(raw)))
    if isinstance(outcome, Rejection) and outcome.reason in _NOT_CHECKED_BY_JSON_SCHEMA:
        # only the code patterns may fail: the code lists themselves are beyond JSON Schema
        assert all(err.path and err.path[0] in _code_fields(stream) for err in errors), errors
    else:
        accepted = not isinstance(outcome, Rejection)
        assert accepted == (not errors), (outcome, [e.message for e in errors])
