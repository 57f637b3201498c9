"""Typed, normalized input events of the five streams (see docs/rules.md, "Events").

An event here is what survived validation: every instant is an integer count
of milliseconds since the Unix epoch (UTC) and ``birth_date`` stays the
``YYYY-MM-DD`` text. :func:`to_clean_json` gives the canonical "clean" JSON
object that Kafka and Flink carry downstream: the contract field names, in contract
order, instants as integer epoch ms, an absent comment ``user_agent`` as null.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import msgspec

__all__ = [
    "EVENT_TYPES",
    "AdClickEvent",
    "CampaignEvent",
    "CampaignStatus",
    "CommentEvent",
    "CreatorProfileEvent",
    "Event",
    "Stream",
    "ViewEvent",
    "event_key",
    "event_time_ms",
    "from_clean_json",
    "stream_of",
    "to_clean_json",
]


class Stream(StrEnum):
    """The input streams; the value is the name used in topics, files and tables."""

    VIEW = "view"
    COMMENT = "comment"
    AD_CLICK = "ad_click"
    CREATOR_PROFILE = "creator_profile"
    CAMPAIGN = "campaign"


CampaignStatus = Literal["active", "paused"]


class ViewEvent(msgspec.Struct, frozen=True, gc=False):
    event_id: str
    event_time: int
    user_id: str
    video_id: str
    creator_id: str
    watch_time_ms: int
    country: str
    user_agent: str


class CommentEvent(msgspec.Struct, frozen=True, gc=False):
    event_id: str
    event_time: int
    user_id: str
    video_id: str
    creator_id: str
    comment_id: str
    text_length: int
    user_agent: str | None = None


class AdClickEvent(msgspec.Struct, frozen=True, gc=False):
    event_id: str
    event_time: int
    user_id: str
    video_id: str
    ad_id: str
    campaign_id: str
    user_agent: str


class CreatorProfileEvent(msgspec.Struct, frozen=True, gc=False):
    """One version of a creator profile (changelog row)."""

    creator_id: str
    updated_at: int
    followers: int
    lifetime_views: int
    birth_date: str
    country: str


class CampaignEvent(msgspec.Struct, frozen=True, gc=False):
    """One version of a campaign (changelog row); active on ``[starts_at, ends_at)``."""

    campaign_id: str
    advertiser_id: str
    updated_at: int
    cpc_micros: int
    currency: str
    starts_at: int
    ends_at: int
    status: CampaignStatus


Event = ViewEvent | CommentEvent | AdClickEvent | CreatorProfileEvent | CampaignEvent

EVENT_TYPES: dict[Stream, type[Event]] = {
    Stream.VIEW: ViewEvent,
    Stream.COMMENT: CommentEvent,
    Stream.AD_CLICK: AdClickEvent,
    Stream.CREATOR_PROFILE: CreatorProfileEvent,
    Stream.CAMPAIGN: CampaignEvent,
}
_STREAM_OF: dict[type[Event], Stream] = {cls: stream for stream, cls in EVENT_TYPES.items()}

_ENCODER = msgspec.json.Encoder()
_CLEAN_DECODERS: dict[Stream, msgspec.json.Decoder[Event]] = {
    stream: msgspec.json.Decoder(cls) for stream, cls in EVENT_TYPES.items()
}


def stream_of(event: Event) -> Stream:
    """The stream an event belongs to."""
    return _STREAM_OF[type(event)]


def to_clean_json(event: Event) -> bytes:
    """The canonical clean JSON object of an event (compact UTF-8, contract field order)."""
    return _ENCODER.encode(event)


def from_clean_json(stream: Stream, data: bytes) -> Event:
    """Read back a clean JSON object written by :func:`to_clean_json` (trusted input only).

    Raises ``msgspec.DecodeError`` on malformed data; untrusted input goes
    through ``pipelines.validation.Validator`` instead.
    """
    return _CLEAN_DECODERS[stream].decode(data)


def event_key(event: Event) -> str:
    """Identity of an event for replay detection within its stream.

    ``event_id`` for views, comments and clicks; ``creator_id|updated_at`` and
    ``campaign_id|updated_at`` (epoch ms) for the changelogs. ``updated_at`` is a
    number, so splitting the key at its last ``|`` is unambiguous.
    """
    if isinstance(event, CreatorProfileEvent):
        return f"{event.creator_id}|{event.updated_at}"
    if isinstance(event, CampaignEvent):
        return f"{event.campaign_id}|{event.updated_at}"
    return event.event_id


def event_time_ms(event: Event) -> int:
    """Event time in epoch ms: ``event_time``, or ``updated_at`` for changelogs."""
    if isinstance(event, CreatorProfileEvent | CampaignEvent):
        return event.updated_at
    return event.event_time
