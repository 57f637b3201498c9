"""A tiny, independent builder of input folders for end-to-end runs of ``pulse run``.

It knows nothing of the project's code: it writes the five JSON Lines files of
docs/rules.md "Events" with the field names spelled out here. Events are written
sorted by event time (stable, so an event added twice stays adjacent), which
keeps every event on time for the late-data rule; raw lines can be placed
before the events (``head``, so their 1-based line numbers are known by hand)
or after them (``tail``, e.g. late events that must come after the newest one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

FILES: dict[str, str] = {
    "view": "views.jsonl",
    "comment": "comments.jsonl",
    "ad_click": "ad_clicks.jsonl",
    "creator_profile": "creator_profiles.jsonl",
    "campaign": "campaigns.jsonl",
}

NORMAL_UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
BOT_UA = "Googlebot/2.1 (+http://www.google.com/bot.html)"

Record = dict[str, Any]


def ms(text: str) -> int:
    """``2026-01-10T10:00:00.000Z`` (or without millis / ``Z``) -> epoch milliseconds."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def iso(epoch_ms: int) -> str:
    """Epoch ms -> the instant text ``pulse query --format jsonl`` prints."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def day(text: str) -> int:
    """Midnight UTC of ``YYYY-MM-DD`` in epoch ms."""
    return ms(f"{text}T00:00:00.000Z")


def compact(record: Record) -> str:
    return json.dumps(record, separators=(",", ":"))


@dataclass
class DataSet:
    """Input events per stream; ``write`` renders the folder."""

    events: dict[str, list[tuple[int, str]]] = field(
        default_factory=lambda: {stream: [] for stream in FILES}
    )
    head: dict[str, list[str]] = field(default_factory=lambda: {stream: [] for stream in FILES})
    tail: dict[str, list[str]] = field(default_factory=lambda: {stream: [] for stream in FILES})

    # --- events -------------------------------------------------------------------

    def add(self, stream: str, when: int, record: Record) -> Record:
        self.events[stream].append((when, compact(record)))
        return record

    def view(
        self,
        event_id: str,
        t: int,
        user: str,
        video: str,
        creator: str,
        ua: str = NORMAL_UA,
        *,
        epoch_time: bool = False,
    ) -> Record:
        record = {
            "event_id": event_id,
            "event_time": t if epoch_time else iso(t),
            "user_id": user,
            "video_id": video,
            "creator_id": creator,
            "watch_time_ms": 15_000,
            "country": "US",
            "user_agent": ua,
        }
        return self.add("view", t, record)

    def comment(
        self, event_id: str, t: int, user: str, video: str, creator: str, ua: str | None = NORMAL_UA
    ) -> Record:
        record: Record = {
            "event_id": event_id,
            "event_time": iso(t),
            "user_id": user,
            "video_id": video,
            "creator_id": creator,
            "comment_id": f"cm-{event_id}",
            "text_length": 12,
        }
        if ua is not None:
            record["user_agent"] = ua
        return self.add("comment", t, record)

    def click(
        self,
        event_id: str,
        t: int,
        user: str,
        video: str,
        campaign: str,
        ad: str | None = None,
        ua: str = NORMAL_UA,
        *,
        event_time: Any = None,
    ) -> Record:
        record = {
            "event_id": event_id,
            "event_time": iso(t) if event_time is None else event_time,
            "user_id": user,
            "video_id": video,
            "ad_id": ad if ad is not None else f"ad-{event_id}",
            "campaign_id": campaign,
            "user_agent": ua,
        }
        return self.add("ad_click", t, record)

    def profile(
        self,
        creator: str,
        updated_at: int,
        followers: int = 30_000,
        lifetime_views: int = 2_000_000,
        birth_date: str = "1990-05-17",
        country: str = "US",
    ) -> Record:
        record = {
            "creator_id": creator,
            "updated_at": iso(updated_at),
            "followers": followers,
            "lifetime_views": lifetime_views,
            "birth_date": birth_date,
            "country": country,
        }
        return self.add("creator_profile", updated_at, record)

    def campaign(
        self,
        campaign: str,
        updated_at: int,
        cpc_micros: int,
        currency: str = "USD",
        starts_at: int = 0,
        ends_at: int = 0,
        status: str = "active",
    ) -> Record:
        record = {
            "campaign_id": campaign,
            "advertiser_id": f"adv-{campaign}",
            "updated_at": iso(updated_at),
            "cpc_micros": cpc_micros,
            "currency": currency,
            "starts_at": iso(starts_at or day("2025-12-01")),
            "ends_at": iso(ends_at or day("2026-12-31")),
            "status": status,
        }
        return self.add("campaign", updated_at, record)

    # --- bulk -------------------------------------------------------------------------

    def busy_day(
        self,
        creator: str,
        on: int,
        views: int = 1000,
        comments: int = 25,
        viewers: int | None = None,
        bot_views: int = 0,
        bot_comments: int = 0,
    ) -> None:
        """``views`` non-bot views spread over the UTC day ``on`` by ``viewers`` distinct
        users (default: one view each), ``comments`` non-bot comments, plus bot traffic."""
        distinct = viewers or views
        video = f"{creator}-video"
        for i in range(views):
            user = f"{creator}-fan{i % distinct:04d}"
            self.view(f"{creator}-v{i:04d}", on + i * 86_000, user, video, creator)
        spacing = min(3_000_000, 86_000_000 // max(comments, 1))  # all within the day
        for i in range(comments):
            user = f"{creator}-fan{i % distinct:04d}"
            self.comment(f"{creator}-c{i:03d}", on + 1_000 + i * spacing, user, video, creator)
        for i in range(bot_views):
            ua = "Mozilla/5.0 (X11) HeadlessChrome/120.0"
            self.view(
                f"{creator}-bv{i:03d}",
                on + 7_000 + i * 60_000,
                f"{creator}-b{i}",
                video,
                creator,
                ua,
            )
        for i in range(bot_comments):
            ua = "Spider-Monkey/1.0"
            self.comment(
                f"{creator}-bc{i:03d}",
                on + 9_000 + i * 60_000,
                f"{creator}-b{i}",
                video,
                creator,
                ua,
            )

    # --- output -----------------------------------------------------------------------

    def lines(self, stream: str) -> list[str]:
        ordered = [text for _, text in sorted(self.events[stream], key=lambda item: item[0])]
        return [*self.head[stream], *ordered, *self.tail[stream]]

    def write(
        self,
        folder: Path,
        *,
        double_every_line: bool = False,
        streams: tuple[str, ...] = tuple(FILES),
    ) -> dict[str, Path]:
        """Write the files of ``streams``; with ``double_every_line`` each line is
        written twice in a row (every event becomes an adjacent exact replay)."""
        folder.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for stream, name in FILES.items():
            if stream not in streams:
                continue
            lines = self.lines(stream)
            if double_every_line:
                lines = [line for line in lines for _ in range(2)]
            path = folder / name
            path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
            paths[stream] = path
        return paths
