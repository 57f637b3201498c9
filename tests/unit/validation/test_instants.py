"""Instants: RFC 3339 text and epoch ms, offsets, fractions, range, the future rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.domain.events import Stream, ViewEvent
from pipelines.validation import Rejection, RejectReason, Validator
from pipelines.validation.instants import MAX_INSTANT_MS, MIN_INSTANT_MS, parse_rfc3339_ms

from .samples import REFERENCE_MS, TOLERANCE_MS, line, with_

NOON_MS = int(datetime(2026, 2, 28, 12, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-28T12:00:00Z", NOON_MS),
        ("2026-02-28T12:00:00z", NOON_MS),
        ("2026-02-28t12:00:00Z", NOON_MS),
        ("2026-02-28T12:00:00+00:00", NOON_MS),
        ("2026-02-28T12:00:00-00:00", NOON_MS),
        ("2026-02-28T14:00:00+02:00", NOON_MS),
        ("2026-02-28T06:30:00-05:30", NOON_MS),
        ("2026-03-01T11:59:00+23:59", NOON_MS),
        ("2026-02-28T12:00:00.1Z", NOON_MS + 100),
        ("2026-02-28T12:00:00.12Z", NOON_MS + 120),
        ("2026-02-28T12:00:00.123Z", NOON_MS + 123),
        ("2026-02-28T12:00:00.123999999Z", NOON_MS + 123),  # rounded down
        ("2026-02-28T12:00:00.9999Z", NOON_MS + 999),
        ("2026-02-28T14:00:00.5+02:00", NOON_MS + 500),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.9995Z", -1),  # floor, also before the epoch
        ("2024-02-29T00:00:00Z", 1_709_164_800_000),
        ("0001-01-01T00:00:00Z", MIN_INSTANT_MS),
        ("9999-12-31T23:59:59.999Z", MAX_INSTANT_MS),
    ],
)
def test_rfc3339_accepted(text: str, expected: int) -> None:
    assert parse_rfc3339_ms(text) == expected
    assert parse_rfc3339_ms(text) == expected  # memoised result is the same


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-28T12:00:00",  # no offset
        "2026-02-28T12:00Z",  # no seconds
        "2026-02-28 12:00:00Z",  # space instead of T
        "2026-02-28T12:00:00.Z",  # empty fraction
        "2026-02-28T12:00:00,5Z",  # comma fraction
        "2026-02-28T12:00:60Z",  # leap second
        "2026-02-28T24:00:00Z",
        "2026-02-28T12:60:00Z",
        "2026-02-29T12:00:00Z",  # not a leap year
        "2026-13-01T12:00:00Z",
        "2026-00-01T12:00:00Z",
        "2026-01-00T12:00:00Z",
        "2026-02-28T12:00:00+24:00",
        "2026-02-28T12:00:00+02:60",
        "2026-02-28T12:00:00+0200",
        "2026-02-28T12:00:00+02",
        "2026-02-28T12:00:00 Z",
        " 2026-02-28T12:00:00Z",
        "2026-02-28T12:00:00Z ",
        "2026-02-28T12:00:00Z\n",
        "20260228T120000Z",
        "2026-W09-6T12:00:00Z",
        "+2026-02-28T12:00:00Z",
        "٢٠٢٦-02-28T12:00:00Z",  # non-ASCII digits
        "0000-12-31T23:30:00-01:00",  # year 0000 text
        "0001-01-01T00:30:00+01:00",  # before 0001 in UTC
        "9999-12-31T23:30:00-01:00",  # after 9999 in UTC
        "",
        "Z",
    ],
)
def test_rfc3339_rejected(text: str) -> None:
    assert parse_rfc3339_ms(text) is None


def _view(event_time: object, reference_ms: int = REFERENCE_MS) -> ViewEvent | Rejection:
    validator = Validator(Stream.VIEW, reference_ms, TOLERANCE_MS)
    raw = line(with_(Stream.VIEW, event_time=event_time))
    outcome = validator.validate(raw)
    assert outcome == validator.validate_exact(raw)
    assert isinstance(outcome, ViewEvent | Rejection)
    return outcome


def test_both_instant_forms_give_the_same_event() -> None:
    as_text = _view("2026-02-28T14:00:00.000+02:00")
    as_ms = _view(NOON_MS)
    assert isinstance(as_text, ViewEvent) and as_text == as_ms
    assert as_text.event_time == NOON_MS


@pytest.mark.parametrize("value", [MIN_INSTANT_MS - 1, 2**63, -(2**63), 10**20])
def test_epoch_ms_out_of_range_is_wrong_type(value: int) -> None:
    outcome = _view(value, reference_ms=MAX_INSTANT_MS)
    assert isinstance(outcome, Rejection) and outcome.reason is RejectReason.WRONG_TYPE


@pytest.mark.parametrize("as_text", [False, True], ids=["epoch-ms", "rfc3339"])
def test_future_boundary_is_inclusive(as_text: bool) -> None:
    def form(ms: int) -> object:
        if not as_text:
            return ms
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"

    limit = REFERENCE_MS + TOLERANCE_MS
    accepted = _view(form(limit))
    assert isinstance(accepted, ViewEvent) and accepted.event_time == limit
    rejected = _view(form(limit + 1))
    assert isinstance(rejected, Rejection)
    assert rejected.reason is RejectReason.FUTURE_EVENT_TIME
    assert "event_time" in rejected.detail


def test_future_rule_uses_the_offset_corrected_instant() -> None:
    # 00:10:00+02:00 is 22:10 UTC the day before: far in the past, not in the future
    assert isinstance(_view("2026-03-01T00:10:00.001+02:00"), ViewEvent)
    rejected = _view("2026-02-28T19:10:00.001-05:00")  # = 2026-03-01T00:10:00.001Z
    assert isinstance(rejected, Rejection)
    assert rejected.reason is RejectReason.FUTURE_EVENT_TIME


def test_tolerance_and_reference_are_settable() -> None:
    raw = line(with_(Stream.VIEW, event_time=REFERENCE_MS + 1))
    strict = Validator(Stream.VIEW, REFERENCE_MS, future_tolerance_ms=0)
    assert isinstance(strict.validate(raw), Rejection)
    strict.reference_ms = REFERENCE_MS + 1  # a live consumer advances the clock
    assert isinstance(strict.validate(raw), ViewEvent)
    assert strict.reference_ms == REFERENCE_MS + 1
