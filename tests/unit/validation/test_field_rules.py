"""One test per field rule of every stream, and one per reason code."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.domain.events import EVENT_TYPES, CommentEvent, Stream
from pipelines.validation import Rejection, RejectReason, Validator
from pipelines.validation.fields import STREAM_FIELDS, FieldSpec, Kind

from .samples import REFERENCE_MS, SAMPLES, TOLERANCE_MS, line, with_

R = RejectReason
ABSENT = ...

# (bad or edge value, expected reason or None for accepted) per field kind
KIND_CASES: dict[Kind, list[tuple[Any, RejectReason | None]]] = {
    Kind.ID: [
        (ABSENT, R.MISSING_FIELD),
        (None, R.MISSING_FIELD),
        (5, R.WRONG_TYPE),
        (True, R.WRONG_TYPE),
        (["x"], R.WRONG_TYPE),
        ({"id": "x"}, R.WRONG_TYPE),
        ("", R.INVALID_VALUE),
        (" ", None),
        ("ünïcødé-✓", None),
    ],
    Kind.TEXT: [
        (ABSENT, R.MISSING_FIELD),
        (None, R.MISSING_FIELD),
        (5, R.WRONG_TYPE),
        (False, R.WRONG_TYPE),
        ("", None),
        ("Googlebot/2.1", None),
    ],
    Kind.COUNT: [
        (ABSENT, R.MISSING_FIELD),
        (None, R.MISSING_FIELD),
        (-1, R.NEGATIVE_COUNT),
        (-(2**63), R.NEGATIVE_COUNT),
        (1.0, R.WRONG_TYPE),
        (1.5, R.WRONG_TYPE),
        (True, R.WRONG_TYPE),
        ("5", R.WRONG_TYPE),
        (2**63, R.WRONG_TYPE),
        (-(2**63) - 1, R.WRONG_TYPE),
        (2**63 - 1, None),
        (0, None),
    ],
    Kind.MICROS: [
        (ABSENT, R.MISSING_FIELD),
        (None, R.MISSING_FIELD),
        (0, R.INVALID_VALUE),
        (-5, R.INVALID_VALUE),
        (1.0, R.WRONG_TYPE),
        (True, R.WRONG_TYPE),
        ("250000", R.WRONG_TYPE),
        (2**63, R.WRONG_TYPE),
        (1, None),
    ],
    Kind.INSTANT: [
        (ABSENT, R.MISSING_FIELD),
        (None, R.MISSING_FIELD),
        ("2026-02-28", R.WRONG_TYPE),
        ("2026-02-28T12:00:00", R.WRONG_TYPE),
        ("2026-02-28 12:00:00Z", R.WRONG_TYPE),
        ("2026-02-30T12:00:00Z", R.WRONG_TYPE),
        ("yesterday", R.WRONG_TYPE),
        (1.772e12, R.WRONG_TYPE),
        (True, R.WRONG_TYPE),
        ([1], R.WRONG_TYPE),
        ("2026-02-28T12:00:00.5-05:00", None),
        (0, None),
    ],
    Kind.DATE: [
        (ABSENT, R.MISSING_FIELD),
        (None, R.MISSING_FIELD),
        ("1990-02-30", R.WRONG_TYPE),
        ("1900-02-29", R.WRONG_TYPE),
        ("1990-4-12", R.WRONG_TYPE),
        ("19900412", R.WRONG_TYPE),
        ("1990-04-12T00:00:00Z", R.WRONG_TYPE),
        ("1990-04-12\n", R.WRONG_TYPE),
        ("\uff11\uff19\uff19\uff10-04-12", R.WRONG_TYPE),  # fullwidth digits
        (19900412, R.WRONG_TYPE),
        ("2000-02-29", None),
    ],
    Kind.STATUS: [
        (ABSENT, R.MISSING_FIELD),
        (None, R.MISSING_FIELD),
        (1, R.WRONG_TYPE),
        ("ACTIVE", R.INVALID_VALUE),
        ("deleted", R.INVALID_VALUE),
        ("paused", None),
    ],
    Kind.COUNTRY: [
        (ABSENT, R.MISSING_FIELD),
        (None, R.MISSING_FIELD),
        (840, R.WRONG_TYPE),
        ("us", R.UNKNOWN_COUNTRY),
        ("USA", R.UNKNOWN_COUNTRY),
        ("ZZ", R.UNKNOWN_COUNTRY),
        ("XK", R.UNKNOWN_COUNTRY),
        ("", R.UNKNOWN_COUNTRY),
        ("DE", None),
    ],
    Kind.CURRENCY: [
        (ABSENT, R.MISSING_FIELD),
        (None, R.MISSING_FIELD),
        (840, R.WRONG_TYPE),
        ("usd", R.UNKNOWN_CURRENCY),
        ("DEM", R.UNKNOWN_CURRENCY),
        ("XYZ", R.UNKNOWN_CURRENCY),
        ("EUR", None),
    ],
}
OPTIONAL_TEXT_CASES: list[tuple[Any, RejectReason | None]] = [
    (ABSENT, None),
    (None, None),
    (5, R.WRONG_TYPE),
    ("", None),
]


def _cases() -> list[Any]:
    cases = []
    for stream, specs in STREAM_FIELDS.items():
        for spec in specs:
            table = KIND_CASES[spec.kind] if spec.required else OPTIONAL_TEXT_CASES
            for value, reason in table:
                label = f"{stream}-{spec.name}-{value!r}-{reason}"
                cases.append(pytest.param(stream, spec, value, reason, id=label))
    return cases


def _outcome(stream: Stream, raw: bytes) -> Any:
    validator = Validator(stream, REFERENCE_MS, TOLERANCE_MS)
    outcome = validator.validate(raw)
    assert outcome == validator.validate_exact(raw)
    return outcome


@pytest.mark.parametrize(("stream", "spec", "value", "reason"), _cases())
def test_field_rule(stream: Stream, spec: FieldSpec, value: Any, reason: R | None) -> None:
    outcome = _outcome(stream, line(with_(stream, **{spec.name: value})))
    if reason is None:
        assert isinstance(outcome, EVENT_TYPES[stream])
    else:
        assert isinstance(outcome, Rejection)
        assert outcome.reason is reason
        assert spec.name in outcome.detail


@pytest.mark.parametrize("stream", list(Stream))
def test_valid_sample_is_accepted(stream: Stream) -> None:
    assert isinstance(_outcome(stream, line(SAMPLES[stream])), EVENT_TYPES[stream])


@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b"\n", b"\r\n", b"\t \n", b"{", b'{"a":1,}', b"{'a':1}", b"nul", b"{}{}"],
)
def test_invalid_json(raw: bytes) -> None:
    outcome = _outcome(Stream.VIEW, raw)
    assert isinstance(outcome, Rejection) and outcome.reason is R.INVALID_JSON


def test_blank_line_detail() -> None:
    assert _outcome(Stream.VIEW, b"  \r\n") == Rejection(R.INVALID_JSON, "blank line")


@pytest.mark.parametrize(
    "raw",
    [
        b"\xef\xbb\xbf" + line(SAMPLES[Stream.VIEW]),  # UTF-8 BOM
        line(with_(Stream.VIEW, extra=1)).replace(b"1}", b"NaN}"),
        line(with_(Stream.VIEW, extra=1)).replace(b"1}", b"Infinity}"),
        line(with_(Stream.VIEW, user_agent="ab")).replace(b"ab", b"a\xffb"),  # invalid UTF-8
        line(with_(Stream.VIEW, extra="ab")).replace(b"ab", b"a\xc0\x80"),  # overlong
        line(with_(Stream.VIEW, user_agent="ab")).replace(b"ab", b"\\ud800"),  # lone surrogate
        line(with_(Stream.VIEW, extra=1)).replace(b"1}", b"1e400}"),  # beyond a double
        line(with_(Stream.VIEW, extra=1)).replace(b"1}", b"[" * 2000 + b"]" * 2000 + b"}"),
        line(SAMPLES[Stream.VIEW]) + b"\x00",
    ],
)
def test_invalid_json_edge_cases(raw: bytes) -> None:
    outcome = _outcome(Stream.VIEW, raw)
    assert isinstance(outcome, Rejection) and outcome.reason is R.INVALID_JSON


@pytest.mark.parametrize(
    "raw", [b"[]", b"[{}]", b'"view"', b"42", b"-1.5", b"true", b"null", b" [1, 2] \n"]
)
def test_not_object(raw: bytes) -> None:
    outcome = _outcome(Stream.VIEW, raw)
    assert isinstance(outcome, Rejection) and outcome.reason is R.NOT_OBJECT


@pytest.mark.parametrize(
    ("stream", "changes", "reason"),
    [
        # missing anywhere beats wrong_type anywhere (earlier field or not)
        (Stream.VIEW, {"event_id": 5, "user_agent": ...}, R.MISSING_FIELD),
        (Stream.VIEW, {"event_id": None, "watch_time_ms": "x"}, R.MISSING_FIELD),
        (Stream.VIEW, {"watch_time_ms": -1, "country": 5}, R.WRONG_TYPE),
        (Stream.VIEW, {"event_id": "", "watch_time_ms": -1}, R.NEGATIVE_COUNT),
        (Stream.VIEW, {"event_id": "", "country": "ZZ"}, R.INVALID_VALUE),
        (Stream.VIEW, {"country": "ZZ", "event_time": REFERENCE_MS * 2}, R.UNKNOWN_COUNTRY),
        (Stream.CAMPAIGN, {"cpc_micros": 0, "currency": "XYZ"}, R.INVALID_VALUE),
        (Stream.CAMPAIGN, {"status": "off", "updated_at": 1.5}, R.WRONG_TYPE),
        (Stream.CAMPAIGN, {"currency": "XYZ", "updated_at": REFERENCE_MS * 2}, R.UNKNOWN_CURRENCY),
        (Stream.CREATOR_PROFILE, {"followers": -1, "birth_date": "x"}, R.WRONG_TYPE),
        (Stream.CREATOR_PROFILE, {"lifetime_views": -1, "country": "zz"}, R.NEGATIVE_COUNT),
    ],
)
def test_first_reason_wins_across_the_object(
    stream: Stream, changes: dict[str, Any], reason: R
) -> None:
    outcome = _outcome(stream, line(with_(stream, **changes)))
    assert isinstance(outcome, Rejection) and outcome.reason is reason


def test_tie_names_the_first_field_in_domain_order() -> None:
    outcome = _outcome(Stream.VIEW, line(with_(Stream.VIEW, user_agent=1, event_id=2)))
    assert outcome == Rejection(R.WRONG_TYPE, "event_id must be a string")


def test_unknown_extra_fields_are_accepted_and_dropped() -> None:
    plain = _outcome(Stream.VIEW, line(SAMPLES[Stream.VIEW]))
    extra = {"schema_version": 2, "nested": {"a": [1, 2.5, None]}, "big": 10**30}
    assert _outcome(Stream.VIEW, line(with_(Stream.VIEW, **extra))) == plain


def test_duplicate_keys_last_wins() -> None:
    raw = line(SAMPLES[Stream.VIEW])[:-1] + b', "watch_time_ms": 7, "country": "FR"}'
    first_bad = b'{"watch_time_ms": "x", ' + line(SAMPLES[Stream.VIEW])[1:]
    event = _outcome(Stream.VIEW, raw)
    assert (event.watch_time_ms, event.country) == (7, "FR")
    assert _outcome(Stream.VIEW, first_bad).watch_time_ms == 1500


def test_comment_user_agent_absent_or_null_is_none() -> None:
    for value in (ABSENT, None):
        outcome = _outcome(Stream.COMMENT, line(with_(Stream.COMMENT, user_agent=value)))
        assert isinstance(outcome, CommentEvent) and outcome.user_agent is None


def test_whitespace_around_the_object_is_fine() -> None:
    raw = b" \t" + line(SAMPLES[Stream.VIEW]) + b"\r\n"
    assert isinstance(_outcome(Stream.VIEW, raw), EVENT_TYPES[Stream.VIEW])


def test_future_rule_applies_to_updated_at_not_to_campaign_interval() -> None:
    far = "9999-12-31T23:59:59.999Z"
    ok = _outcome(Stream.CAMPAIGN, line(with_(Stream.CAMPAIGN, starts_at=far, ends_at=far)))
    assert isinstance(ok, EVENT_TYPES[Stream.CAMPAIGN])
    for stream in (Stream.CAMPAIGN, Stream.CREATOR_PROFILE):
        late = _outcome(stream, line(with_(stream, updated_at=far)))
        assert isinstance(late, Rejection) and late.reason is R.FUTURE_EVENT_TIME
        assert "updated_at" in late.detail


def test_every_reason_code_is_reachable() -> None:
    seen = set()
    for raw, stream in [
        (b"", Stream.VIEW),
        (b"[]", Stream.VIEW),
        (line(with_(Stream.VIEW, event_id=...)), Stream.VIEW),
        (line(with_(Stream.VIEW, event_id=1)), Stream.VIEW),
        (line(with_(Stream.VIEW, watch_time_ms=-1)), Stream.VIEW),
        (line(with_(Stream.CAMPAIGN, status="x")), Stream.CAMPAIGN),
        (line(with_(Stream.VIEW, country="QQ")), Stream.VIEW),
        (line(with_(Stream.CAMPAIGN, currency="QQQ")), Stream.CAMPAIGN),
        (line(with_(Stream.VIEW, event_time=REFERENCE_MS + 600_001)), Stream.VIEW),
    ]:
        outcome = _outcome(stream, raw)
        assert isinstance(outcome, Rejection)
        seen.add(outcome.reason)
    assert seen == set(RejectReason)


def test_reason_values_are_the_domain_codes_in_order() -> None:
    assert [r.value for r in RejectReason] == [
        "invalid_json",
        "not_object",
        "missing_field",
        "wrong_type",
        "negative_count",
        "invalid_value",
        "unknown_country",
        "unknown_currency",
        "future_event_time",
    ]
