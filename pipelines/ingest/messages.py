"""The dead-letter and late-event message formats of the streaming ingest (JSON values).

Both carry the raw payload as received: ``raw_b64`` always (a payload may not be UTF-8) and
``raw`` as text when it is valid UTF-8 (else null), so an operator can read most of them
directly and still recover every byte.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

LATE_REASON = "beyond_allowed_lateness"


def raw_fields(raw: bytes) -> dict[str, str | None]:
    """``{"raw_b64": ..., "raw": text or None}`` for a payload as received."""
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {"raw_b64": base64.b64encode(raw).decode("ascii"), "raw": text}


def rejected_value(
    stream: str, topic: str, partition: int, offset: int, reason: str, detail: str, raw: bytes
) -> bytes:
    """A ``deadletter.rejected`` value: where the message came from, why it was rejected."""
    body: dict[str, Any] = {
        "stream": stream,
        "source": f"{topic}/{partition}",
        "offset": offset,
        "reason": reason,
        "detail": detail,
        **raw_fields(raw),
    }
    return orjson.dumps(body)


def late_value(
    stream: str, event_id: str, event_time_ms: int, watermark_ms: int, raw: bytes
) -> bytes:
    """A ``results.late_events`` value (instants in epoch ms)."""
    body: dict[str, Any] = {
        "stream": stream,
        "event_id": event_id,
        "event_time": event_time_ms,
        "watermark": watermark_ms,
        **raw_fields(raw),
        "reason": LATE_REASON,
    }
    return orjson.dumps(body)


def raw_payload(value: dict[str, Any]) -> bytes:
    """The raw bytes back from a dead-letter or late-event value."""
    return base64.b64decode(value["raw_b64"])
