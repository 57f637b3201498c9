"""The exact (slow) path: decides the outcome of any input, including the reason code.

JSON is decoded with ``orjson``, a strict RFC 8259 parser: UTF-8 only, no BOM,
no NaN/Infinity, no trailing content, nesting depth <= 1024, numbers must fit
a double; duplicate keys: the last one wins (as in JavaScript, Jackson, orjson).
Every field is checked; the rejection with the earliest reason wins, ties go
to the field that comes first in contract order. The future rule applies last.
"""

from __future__ import annotations

from typing import Any

import orjson

from pipelines.domain.events import EVENT_TYPES, Event, Stream
from pipelines.validation.checks import check_field
from pipelines.validation.fields import STREAM_FIELDS
from pipelines.validation.reasons import REASON_ORDER, Rejection, RejectReason

__all__ = ["ExactPath"]

_JSON_TYPE_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


class ExactPath:
    """Exact validation of one stream against a fixed future limit (epoch ms)."""

    def __init__(self, stream: Stream, limit_ms: int) -> None:
        self.limit_ms = limit_ms
        self._fields = STREAM_FIELDS[stream]
        self._event_cls = EVENT_TYPES[stream]

    def __call__(self, raw: bytes) -> Event | Rejection:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            if not raw.strip():
                return Rejection(RejectReason.INVALID_JSON, "blank line")
            return Rejection(RejectReason.INVALID_JSON, f"invalid JSON: {error.msg}")
        if type(obj) is not dict:
            kind = _JSON_TYPE_NAMES.get(type(obj), "null")
            return Rejection(RejectReason.NOT_OBJECT, f"a JSON {kind}, not an object")
        worst: Rejection | None = None
        values: list[Any] = []
        for spec in self._fields:
            rejection, value = check_field(spec, obj.get(spec.name))
            if rejection is None:
                values.append(value)
            elif worst is None or REASON_ORDER[rejection.reason] < REASON_ORDER[worst.reason]:
                worst = rejection
        if worst is not None:
            return worst
        for spec, value in zip(self._fields, values, strict=True):
            if spec.event_time and value > self.limit_ms:
                return Rejection(
                    RejectReason.FUTURE_EVENT_TIME,
                    f"{spec.name} {value} ms is after the limit {self.limit_ms} ms",
                )
        return self._event_cls(*values)
