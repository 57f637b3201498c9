"""Properties: one outcome for any input; the fast path agrees with the exact path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.domain.events import EVENT_TYPES, Stream, to_clean_json
from pipelines.validation import Rejection, RejectReason, Validator
from pipelines.validation.fast import FastPath
from pipelines.validation.instants import MAX_INSTANT_MS

from .samples import REFERENCE_MS, TOLERANCE_MS
from .strategies import event_lines, json_values

streams = st.sampled_from(list(Stream))
references = st.sampled_from([REFERENCE_MS, 0, MAX_INSTANT_MS])


def _check_one_outcome(stream: Stream, reference_ms: int, raw: bytes) -> None:
    validator = Validator(stream, reference_ms, TOLERANCE_MS)
    outcome = validator.validate(raw)
    exact = validator.validate_exact(raw)
    assert outcome == exact
    assert type(outcome) is type(exact)
    if isinstance(outcome, Rejection):
        assert isinstance(outcome.reason, RejectReason) and outcome.detail
    else:
        assert isinstance(outcome, EVENT_TYPES[stream])
        # the clean form is valid input again and gives the same event
        assert validator.validate(to_clean_json(outcome)) == outcome
    assert list(validator.validate_many([raw, raw])) == [outcome, outcome]


@settings(max_examples=300)
@given(stream=streams, raw=st.binary(max_size=300))
def test_arbitrary_bytes_give_exactly_one_outcome(stream: Stream, raw: bytes) -> None:
    _check_one_outcome(stream, REFERENCE_MS, raw)


@settings(max_examples=300)
@given(stream=streams, value=json_values)
def test_arbitrary_json_values_give_exactly_one_outcome(stream: Stream, value: object) -> None:
    import json

    _check_one_outcome(stream, REFERENCE_MS, json.dumps(value).encode())


@settings(max_examples=1500)
@given(data=st.data(), stream=streams, reference_ms=references)
def test_fast_path_equals_exact_path_on_event_like_lines(
    data: st.DataObject, stream: Stream, reference_ms: int
) -> None:
    raw = data.draw(event_lines(stream))
    _check_one_outcome(stream, reference_ms, raw)


@settings(max_examples=500)
@given(data=st.data(), stream=streams)
def test_fast_path_only_accepts_what_the_exact_path_accepts(
    data: st.DataObject, stream: Stream
) -> None:
    raw = data.draw(event_lines(stream))
    validator = Validator(stream, REFERENCE_MS, TOLERANCE_MS)
    fast = FastPath(stream, REFERENCE_MS + TOLERANCE_MS)(raw)
    if fast is not None:
        assert validator.validate_exact(raw) == fast
