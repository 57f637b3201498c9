"""The field table of every stream: which fields exist and which rule checks each.

This table is the runtime form of the JSON Schemas in ``schemas/events/``;
``tests/unit/validation/test_schema_contract.py`` asserts the two are equal.
Field order is the order of docs/rules.md, which is also the order of the event
structs and of the clean JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pipelines.domain.events import Stream

__all__ = ["CAMPAIGN_STATUSES", "INT64_MAX", "STREAM_FIELDS", "FieldSpec", "Kind"]

INT64_MAX = 2**63 - 1
CAMPAIGN_STATUSES: tuple[str, ...] = ("active", "paused")


class Kind(StrEnum):
    """The rule a field follows."""

    ID = "id"  # non-empty JSON string
    TEXT = "text"  # any JSON string
    COUNT = "count"  # JSON integer 0..INT64_MAX (negative -> negative_count)
    MICROS = "micros"  # JSON integer 1..INT64_MAX (<= 0 -> invalid_value)
    INSTANT = "instant"  # RFC 3339 text or JSON integer epoch ms
    DATE = "date"  # "YYYY-MM-DD" calendar date
    STATUS = "status"  # one of CAMPAIGN_STATUSES
    COUNTRY = "country"  # ISO 3166-1 alpha-2, upper case
    CURRENCY = "currency"  # active ISO 4217 code


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: Kind
    required: bool = True
    event_time: bool = False  # the instant the future rule applies to


def _f(name: str, kind: Kind, *, required: bool = True, event_time: bool = False) -> FieldSpec:
    return FieldSpec(name, kind, required, event_time)


_ID, _TEXT, _INSTANT = Kind.ID, Kind.TEXT, Kind.INSTANT

STREAM_FIELDS: dict[Stream, tuple[FieldSpec, ...]] = {
    Stream.VIEW: (
        _f("event_id", _ID),
        _f("event_time", _INSTANT, event_time=True),
        _f("user_id", _ID),
        _f("video_id", _ID),
        _f("creator_id", _ID),
        _f("watch_time_ms", Kind.COUNT),
        _f("country", Kind.COUNTRY),
        _f("user_agent", _TEXT),
    ),
    Stream.COMMENT: (
        _f("event_id", _ID),
        _f("event_time", _INSTANT, event_time=True),
        _f("user_id", _ID),
        _f("video_id", _ID),
        _f("creator_id", _ID),
        _f("comment_id", _ID),
        _f("text_length", Kind.COUNT),
        _f("user_agent", _TEXT, required=False),
    ),
    Stream.AD_CLICK: (
        _f("event_id", _ID),
        _f("event_time", _INSTANT, event_time=True),
        _f("user_id", _ID),
        _f("video_id", _ID),
        _f("ad_id", _ID),
        _f("campaign_id", _ID),
        _f("user_agent", _TEXT),
    ),
    Stream.CREATOR_PROFILE: (
        _f("creator_id", _ID),
        _f("updated_at", _INSTANT, event_time=True),
        _f("followers", Kind.COUNT),
        _f("lifetime_views", Kind.COUNT),
        _f("birth_date", Kind.DATE),
        _f("country", Kind.COUNTRY),
    ),
    Stream.CAMPAIGN: (
        _f("campaign_id", _ID),
        _f("advertiser_id", _ID),
        _f("updated_at", _INSTANT, event_time=True),
        _f("cpc_micros", Kind.MICROS),
        _f("currency", Kind.CURRENCY),
        _f("starts_at", _INSTANT),
        _f("ends_at", _INSTANT),
        _f("status", Kind.STATUS),
    ),
}
