"""Hypothesis strategies: JSON-ish values, instants, and mutated event objects/lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from pipelines.domain.events import Stream

from .samples import SAMPLES, line

_INSTANT_SHAPE = (
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{0,10})?([Zz]|[+-][0-9]{2}:[0-9]{2})?\Z"
)


@st.composite
def rfc3339_texts(draw: st.DrawFn) -> str:
    """Mostly valid RFC 3339 date-times in many spellings (offsets, fractions, case)."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    offset_min = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
    local = moment.replace(tzinfo=UTC).astimezone(timezone(timedelta(minutes=offset_min)))
    digits = draw(st.integers(0, 9))
    fraction = f"{local.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
    text = local.strftime("%Y-%m-%d") + draw(st.sampled_from("Tt")) + local.strftime("%H:%M:%S")
    if digits:
        text += "." + fraction
    if offset_min == 0 and draw(st.booleans()):
        return text + draw(st.sampled_from("Zz"))
    sign = "-" if offset_min < 0 else "+"
    return text + f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"


instants = st.one_of(
    rfc3339_texts(),
    st.from_regex(_INSTANT_SHAPE),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.integers(min_value=0, max_value=4_000_000_000_000),
    st.sampled_from(
        ["0000-06-01T00:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"]
    ),
)
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),
    st.from_regex(r"\A[0-9-]{8,11}\Z"),
)
codes = st.one_of(
    st.sampled_from(["US", "GB", "DE", "us", "ZZ", "XK", "USD", "EUR", "usd", "DEM", "XTS", ""]),
    st.from_regex(r"\A[A-Z]{2,3}\Z"),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([0, -1, 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["active", "paused", "ACTIVE", "x"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
field_values = st.one_of(json_values, instants, dates, codes)
_ALL_FIELD_NAMES = sorted({name for sample in SAMPLES.values() for name in sample})


@st.composite
def event_objects(draw: st.DrawFn, stream: Stream) -> dict[str, Any]:
    """The sample of ``stream`` with a few fields replaced, removed or added."""
    obj = dict(SAMPLES[stream])
    names = list(obj)
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(names + _ALL_FIELD_NAMES + ["extra"]))
        if draw(st.integers(0, 5)) == 0:
            obj.pop(name, None)
        else:
            obj[name] = draw(field_values)
    return obj


@st.composite
def event_lines(draw: st.DrawFn, stream: Stream) -> bytes:
    """A serialized event object, sometimes with bytes edited afterwards."""
    raw = line(draw(event_objects(stream)))
    if draw(st.booleans()):
        raw = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(raw)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = draw(
            st.binary(min_size=1, max_size=3)
            | st.sampled_from([b"{", b"}", b'"', b",", b":", b"\\", b" ", b"\\u", b"\xff", b"0"])
        )
        if edit == "insert":
            raw = raw[:at] + chunk + raw[at:]
        elif edit == "delete":
            raw = raw[:at] + raw[at + len(chunk) :]
        else:
            raw = raw[:at] + chunk + raw[at + len(chunk) :]
    return raw
