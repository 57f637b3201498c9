"""The fast path: decode straight into a strict msgspec struct, then a few cheap checks.

It only ever returns an event, never a rejection: whenever it is not sure
(decode error, unknown extra field, bad code, bad instant, future time) it
returns ``None`` and the caller asks the exact path. Unknown fields are
forbidden HERE so that every byte of an accepted line has been decoded and
checked by msgspec (skipped values are not fully checked); such lines still
pass through the exact path, which allows extra fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from pipelines.domain.events import EVENT_TYPES, Event, Stream
from pipelines.validation.checks import is_birth_date
from pipelines.validation.codes import COUNTRY_CODES, CURRENCY_CODES
from pipelines.validation.fields import CAMPAIGN_STATUSES, INT64_MAX, STREAM_FIELDS, Kind
from pipelines.validation.instants import MAX_INSTANT_MS, MIN_INSTANT_MS, parse_rfc3339_ms

__all__ = ["FastPath"]

_WIRE_TYPES: dict[Kind, Any] = {
    Kind.ID: Annotated[str, msgspec.Meta(min_length=1)],
    Kind.TEXT: str,
    Kind.COUNT: Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)],
    Kind.MICROS: Annotated[int, msgspec.Meta(ge=1, le=INT64_MAX)],
    Kind.INSTANT: str | Annotated[int, msgspec.Meta(ge=MIN_INSTANT_MS, le=MAX_INSTANT_MS)],
    Kind.DATE: str,
    Kind.STATUS: Literal[CAMPAIGN_STATUSES],
    Kind.COUNTRY: str,
    Kind.CURRENCY: str,
}


def _wire_struct(stream: Stream) -> type[msgspec.Struct]:
    """A strict struct mirroring the stream's fields in the same order (see fields.py)."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for spec in STREAM_FIELDS[stream]:
        wire_type = _WIRE_TYPES[spec.kind]
        if spec.required:
            fields.append((spec.name, wire_type))
        else:
            fields.append((spec.name, wire_type | None, None))
    return msgspec.defstruct(f"{stream.value}_wire", fields, forbid_unknown_fields=True, gc=False)


class FastPath:
    """Fast acceptance of well-formed lines of one stream; ``None`` means "ask the exact path"."""

    def __init__(self, stream: Stream, limit_ms: int) -> None:
        self.limit_ms = limit_ms
        specs = STREAM_FIELDS[stream]
        self._decode = msgspec.json.Decoder(_wire_struct(stream)).decode
        self._event_cls = EVENT_TYPES[stream]
        self._instants = tuple(i for i, s in enumerate(specs) if s.kind is Kind.INSTANT)
        self._event_time = next(i for i, s in enumerate(specs) if s.event_time)
        self._countries = tuple(i for i, s in enumerate(specs) if s.kind is Kind.COUNTRY)
        self._currencies = tuple(i for i, s in enumerate(specs) if s.kind is Kind.CURRENCY)
        self._dates = tuple(i for i, s in enumerate(specs) if s.kind is Kind.DATE)

    def __call__(self, raw: bytes) -> Event | None:
        try:
            wire = self._decode(raw)
        except Exception:  # any decode problem, even UnicodeDecodeError: the exact path decides
            return None
        values = list(msgspec.structs.astuple(wire))
        for i in self._instants:
            value = values[i]
            if type(value) is str:
                millis = parse_rfc3339_ms(value)
                if millis is None:
                    return None
                values[i] = millis
        if values[self._event_time] > self.limit_ms:
            return None
        for i in self._countries:
            if values[i] not in COUNTRY_CODES:
                return None
        for i in self._currencies:
            if values[i] not in CURRENCY_CODES:
                return None
        for i in self._dates:
            if not is_birth_date(values[i]):
                return None
        return self._event_cls(*values)
