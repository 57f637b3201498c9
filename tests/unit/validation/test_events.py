"""Clean JSON, event identity and event time of normalized events."""

from __future__ import annotations

import orjson
import pytest

from pipelines.domain.events import (
    EVENT_TYPES,
    CampaignEvent,
    CommentEvent,
    CreatorProfileEvent,
    Event,
    Stream,
    event_key,
    event_time_ms,
    from_clean_json,
    stream_of,
    to_clean_json,
)
from pipelines.validation import Validator
from pipelines.validation.fields import STREAM_FIELDS

from .samples import REFERENCE_MS, SAMPLES, TOLERANCE_MS, line, with_


def _event(stream: Stream, **changes: object) -> Event:
    outcome = Validator(stream, REFERENCE_MS, TOLERANCE_MS).validate(line(with_(stream, **changes)))
    assert isinstance(outcome, EVENT_TYPES[stream])
    return outcome


@pytest.mark.parametrize("stream", list(Stream))
def test_struct_fields_follow_the_field_table(stream: Stream) -> None:
    names = tuple(spec.name for spec in STREAM_FIELDS[stream])
    assert EVENT_TYPES[stream].__struct_fields__ == names


@pytest.mark.parametrize("stream", list(Stream))
def test_clean_json_round_trips_and_revalidates(stream: Stream) -> None:
    event = _event(stream)
    clean = to_clean_json(event)
    decoded = orjson.loads(clean)
    assert list(decoded) == [spec.name for spec in STREAM_FIELDS[stream]]
    assert from_clean_json(stream, clean) == event
    assert Validator(stream, REFERENCE_MS, TOLERANCE_MS).validate(clean) == event  # idempotent
    assert stream_of(event) is stream


def test_clean_json_has_instants_as_epoch_ms() -> None:
    clean = orjson.loads(to_clean_json(_event(Stream.VIEW)))
    assert clean["event_time"] == 1_772_280_000_000
    campaign = orjson.loads(to_clean_json(_event(Stream.CAMPAIGN)))
    assert campaign["starts_at"] == 1_767_225_600_000
    assert campaign["ends_at"] == 1_798_761_600_000


def test_clean_comment_without_user_agent_has_null() -> None:
    event = _event(Stream.COMMENT, user_agent=...)
    assert isinstance(event, CommentEvent)
    assert orjson.loads(to_clean_json(event))["user_agent"] is None
    assert b'"user_agent":null' in to_clean_json(event)


def test_clean_profile_keeps_birth_date_text() -> None:
    assert orjson.loads(to_clean_json(_event(Stream.CREATOR_PROFILE)))["birth_date"] == "1990-04-12"


def test_event_key_and_time() -> None:
    view = _event(Stream.VIEW)
    assert event_key(view) == "e-1"
    assert event_time_ms(view) == 1_772_280_000_000
    assert event_key(_event(Stream.AD_CLICK)) == "k-1"
    profile = _event(Stream.CREATOR_PROFILE)
    assert isinstance(profile, CreatorProfileEvent)
    assert event_key(profile) == f"c-1|{profile.updated_at}"
    assert event_time_ms(profile) == profile.updated_at == 1_769_904_000_000
    campaign = _event(Stream.CAMPAIGN)
    assert isinstance(campaign, CampaignEvent)
    assert event_key(campaign) == "cp-1|1769904000000"
    assert event_time_ms(campaign) == 1_769_904_000_000


def test_same_instant_in_two_forms_has_one_key() -> None:
    as_text = _event(Stream.CREATOR_PROFILE, updated_at="2026-02-01T01:00:00+01:00")
    as_ms = _event(Stream.CREATOR_PROFILE, updated_at=SAMPLES[Stream.CAMPAIGN]["updated_at"])
    assert event_key(as_text) == event_key(as_ms)
