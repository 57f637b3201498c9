"""Hostile input lines for the file ingest: valid records of every stream and the ways
real files break them (bytes, nesting, sizes, numbers, dates, BOM, line endings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.config import load_settings
from pipelines.domain.events import Stream
from pipelines.ingest.files import StreamIngest, ingest_stream
from pipelines.ingest.sources import FILE_STEMS
from pipelines.run.bounded import RunSummary, ledger_entries
from pipelines.warehouse.books import LedgerCounts

DAY = 86_400_000
REFERENCE_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z: the run's --as-of
START_MS = REFERENCE_MS - 20 * DAY
BOM = b"\xef\xbb\xbf"
TOKEN = "\u2063TOKEN\u2063"  # replaced by raw bytes after json.dumps


def record(stream: Stream, n: int, when_ms: int) -> dict[str, Any]:
    """A valid record of ``stream`` with key ``n`` at ``when_ms``."""
    instant: Any = when_ms if n % 2 else _rfc3339(when_ms)
    if stream is Stream.VIEW:
        return {
            "event_id": f"v{n}",
            "event_time": instant,
            "user_id": "u1",
            "video_id": "vid1",
            "creator_id": "c1",
            "watch_time_ms": 1500,
            "country": "US",
            "user_agent": "Mozilla/5.0",
        }
    if stream is Stream.COMMENT:
        return {
            "event_id": f"cm{n}",
            "event_time": instant,
            "user_id": "u1",
            "video_id": "vid1",
            "creator_id": "c1",
            "comment_id": f"c{n}",
            "text_length": 12,
        }
    if stream is Stream.AD_CLICK:
        return {
            "event_id": f"k{n}",
            "event_time": instant,
            "user_id": "u1",
            "video_id": "vid1",
            "ad_id": "ad1",
            "campaign_id": "cmp1",
            "user_agent": "Mozilla/5.0",
        }
    if stream is Stream.CREATOR_PROFILE:
        return {
            "creator_id": f"c{n}",
            "updated_at": instant,
            "followers": 30_000,
            "lifetime_views": 2_000_000,
            "birth_date": "1990-05-17",
            "country": "GB",
        }
    return {
        "campaign_id": f"cmp{n}",
        "advertiser_id": "adv1",
        "updated_at": instant,
        "cpc_micros": 123_457,
        "currency": "EUR",
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2026-12-31T00:00:00Z",
        "status": "active",
    }


def _rfc3339(epoch_ms: int) -> str:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def dumps(obj: Any, token: bytes | None = None) -> bytes:
    """Compact JSON; a value ``TOKEN`` (quoted) becomes the raw bytes ``token``."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    if token is not None:
        text = text.replace(json.dumps(TOKEN, ensure_ascii=False).encode(), token)
    return text


# Fields whose value a mutation replaces, per stream: (count-like field, time field, string field)
MUTABLE: dict[Stream, tuple[str, str, str]] = {
    Stream.VIEW: ("watch_time_ms", "event_time", "user_agent"),
    Stream.COMMENT: ("text_length", "event_time", "user_id"),
    Stream.AD_CLICK: ("event_id", "event_time", "user_agent"),
    Stream.CREATOR_PROFILE: ("followers", "updated_at", "country"),
    Stream.CAMPAIGN: ("cpc_micros", "updated_at", "advertiser_id"),
}


def physical(content: bytes, terminator: bytes, first: bool) -> bytes:
    """What ``read_records`` gives back for a line written as ``content + terminator``."""
    data = content + terminator
    if first and data.startswith(BOM):
        data = data[len(BOM) :]
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith(b"\n"):
        return data[:-1]
    return data


def run_ingest(stream: Stream, folder: Path, data: bytes) -> tuple[StreamIngest, LedgerCounts]:
    """Write ``data`` as the stream's file, ingest it, return the result and its ledger row."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{FILE_STEMS[stream]}.jsonl").write_bytes(data)
    settings = load_settings()
    result = ingest_stream(stream, folder, folder / "clean", settings, REFERENCE_MS)
    summary = RunSummary(folder, REFERENCE_MS, streams=[result], run_id="test")
    (entry,) = ledger_entries(summary, REFERENCE_MS)
    return result, entry.counts


def clean_lines(folder: Path) -> list[bytes]:
    return (folder / "clean" / "part-0.jsonl").read_bytes().splitlines()
