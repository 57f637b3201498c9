"""`pulse produce` keys (no broker)."""

from __future__ import annotations

from pathlib import Path

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


def test_a_folder_is_produced_interleaved_by_relative_position(tmp_path: Path) -> None:
    from pipelines.commands.produce import interleaved

    (tmp_path / "views.jsonl").write_bytes(b"".join(b'{"v":%d}\n' % i for i in range(6)))
    (tmp_path / "ad_clicks.jsonl").write_bytes(b'{"c":0}\n{"c":1}\n')
    (tmp_path / "ignored.txt").write_text("not a stream\n")
    out = [(topic, raw) for topic, _stream, raw in interleaved(tmp_path)]
    assert out == [
        ("raw.views", b'{"v":0}'),
        ("raw.views", b'{"v":1}'),
        ("raw.views", b'{"v":2}'),
        ("raw.ad_clicks", b'{"c":0}'),
        ("raw.views", b'{"v":3}'),
        ("raw.views", b'{"v":4}'),
        ("raw.views", b'{"v":5}'),
        ("raw.ad_clicks", b'{"c":1}'),
    ]
