"""Valid sample events per stream and helpers shared by the validation tests."""

from __future__ import annotations

import json
from typing import Any

from pipelines.config import Settings
from pipelines.domain.events import Stream

REFERENCE_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z
TOLERANCE_MS: int = Settings.model_fields["future_tolerance_ms"].default

SAMPLES: dict[Stream, dict[str, Any]] = {
    Stream.VIEW: {
        "event_id": "e-1",
        "event_time": "2026-02-28T12:00:00Z",
        "user_id": "u-1",
        "video_id": "v-1",
        "creator_id": "c-1",
        "watch_time_ms": 1500,
        "country": "US",
        "user_agent": "Mozilla/5.0",
    },
    Stream.COMMENT: {
        "event_id": "e-2",
        "event_time": 1_772_280_000_000,
        "user_id": "u-1",
        "video_id": "v-1",
        "creator_id": "c-1",
        "comment_id": "cm-1",
        "text_length": 42,
        "user_agent": "Mozilla/5.0",
    },
    Stream.AD_CLICK: {
        "event_id": "k-1",
        "event_time": "2026-02-28T13:00:00.250+01:00",
        "user_id": "u-1",
        "video_id": "v-1",
        "ad_id": "a-1",
        "campaign_id": "cp-1",
        "user_agent": "Mozilla/5.0",
    },
    Stream.CREATOR_PROFILE: {
        "creator_id": "c-1",
        "updated_at": "2026-02-01T00:00:00Z",
        "followers": 30_000,
        "lifetime_views": 2_000_000,
        "birth_date": "1990-04-12",
        "country": "GB",
    },
    Stream.CAMPAIGN: {
        "campaign_id": "cp-1",
        "advertiser_id": "adv-1",
        "updated_at": 1_769_904_000_000,
        "cpc_micros": 250_000,
        "currency": "USD",
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2027-01-01T00:00:00Z",
        "status": "active",
    },
}


def line(obj: object) -> bytes:
    """Serialize like a producer would (big ints kept exact)."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def with_(stream: Stream, **changes: Any) -> dict[str, Any]:
    """The sample of ``stream`` with fields replaced; a value of ``...`` removes the field."""
    obj = dict(SAMPLES[stream])
    for name, value in changes.items():
        if value is ...:
            obj.pop(name, None)
        else:
            obj[name] = value
    return obj
