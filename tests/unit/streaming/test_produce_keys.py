"""`pulse produce` keys (no broker)."""

from __future__ import annotations

from pipelines.commands.produce import message_key, raw_topic
from pipelines.domain.events import Stream


def test_keys_follow_the_recommended_ids() -> None:
    assert message_key(Stream.VIEW, b'{"user_id":"u1"}') == b"u1"
    assert message_key(Stream.CAMPAIGN, b'{"campaign_id":"k7"}') == b"k7"
    assert message_key(Stream.CREATOR_PROFILE, b'{"creator_id":"c1"}') == b"c1"
    assert message_key(Stream.VIEW, b"not json") is None
    assert message_key(Stream.VIEW, b'{"user_id": 5}') is None
    assert message_key(Stream.VIEW, b"[]") is None
    assert raw_topic(Stream.AD_CLICK) == "raw.ad_clicks"
