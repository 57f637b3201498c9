"""The input of the books suite: January and early February 2026, then a superset of it.

- ``c-pay`` is busy (1000 views + 25 comments a day) from 01-20 to 01-31, so it is
  consistently high and eligible on every click day below (evaluations 01-25 .. 02-07).
- ``c-free`` is never eligible (100 followers); ``c-new`` (superset only) has no profile.
- Clicks (each right after a view of the same video by the same user):

  ===== ========== ================= ======== ====================================
  id    creator    time              campaign outcome
  ===== ========== ================= ======== ====================================
  k-j1  c-pay      01-26 10:00       USD      payable
  k-j2  c-pay      01-28 11:00       EUR      payable
  k-j3  c-pay      01-31 23:50       USD      payable (the month's last minutes)
  k-j4  c-free     01-27 09:00       USD      valid, not payable
  k-jb  c-free     01-27 09:30 (bot) USD      bot: carries 0
  k-f1  c-pay      02-02 10:00       USD      payable (February)
  ===== ========== ================= ======== ====================================

  The superset adds k-j5 (c-pay, 01-29 12:00, USD, payable), k-j6 (c-new, 01-30
  08:00, EUR, valid not payable) and k-f2 (c-pay, 02-02 12:00, EUR, payable).
- A view at 02-03 00:00 takes the event time seen past 02-01 01:36: January is final,
  February is not.
- Hostile lines: views.jsonl starts with a BOM and identical bad lines (the collapse
  case of issue 12) and every hostile kind; comments.jsonl starts with a BOM before a
  valid comment; campaigns.jsonl has CRLF line endings; ad_clicks.jsonl has no final
  newline; one valid view is 2 MiB long.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.pipeline.builder import BOT_UA, MINUTE, DataSet, compact, day, ms

AS_OF = "2026-02-10T00:00:00.000Z"
BOM = b"\xef\xbb\xbf"
CPC_USD = 123_457  # creator 61_728, platform 61_729
CPC_EUR = 1_000_001  # creator 500_000, platform 500_001
HUGE_UA = "Mozilla/5.0 " + "h" * (2 << 20)


def _bad_view(**changes: object) -> dict[str, object]:
    return {
        "event_id": "bad",
        "event_time": "2026-01-20T00:00:00Z",
        "user_id": "u",
        "video_id": "v",
        "creator_id": "c-bad",
        "watch_time_ms": 1,
        "country": "US",
        "user_agent": "ua",
        **changes,
    }


# views.jsonl starts with these lines (line n = index + 1), then the events
HOSTILE_VIEWS: list[tuple[bytes, str]] = [
    (b"42", "not_object"),  # after the file's BOM
    (b"42", "not_object"),
    (b"42", "not_object"),
    (b"null", "not_object"),
    (b"null", "not_object"),
    (b"", "invalid_json"),
    (b"", "invalid_json"),
    (b"", "invalid_json"),
    (b"[]", "not_object"),
    (b"[]", "not_object"),
    (b'{"event_id":"h1","user_agent":"\xff\xfe"}', "invalid_json"),  # invalid UTF-8
    (b'{"event_id":"h2\x01"}', "invalid_json"),  # a raw control character
    (b"[" * 300_000 + b"]" * 300_000, "invalid_json"),  # nested 300k deep
    (b'{"junk":"' + b"z" * (2 << 20) + b'"}', "missing_field"),  # 2 MiB
    (compact(_bad_view(watch_time_ms=2**64)).encode(), "wrong_type"),  # > 64 bits
    (compact(_bad_view(watch_time_ms="X")).encode().replace(b'"X"', b"NaN"), "invalid_json"),
    (
        compact(_bad_view(watch_time_ms="X")).encode().replace(b'"X"', b"Infinity"),
        "invalid_json",
    ),
    (compact(_bad_view(event_time="2026-02-30T00:00:00Z")).encode(), "wrong_type"),
    (BOM + compact(_bad_view()).encode(), "invalid_json"),  # a BOM inside the file
]


def _busy(ds: DataSet, creator: str, on: int) -> None:
    """1000 non-bot views and 25 comments by fans of ``creator`` over the day ``on``."""
    stamp = f"{on // 86_400_000}"
    video = f"{creator}-video"
    for i in range(1000):
        ds.view(
            f"{creator}-v{stamp}-{i:04d}", on + i * 86_000, f"{creator}-fan{i:04d}", video, creator
        )
    for i in range(25):
        user = f"{creator}-fan{i:04d}"
        ds.comment(f"{creator}-c{stamp}-{i:02d}", on + 1_000 + i * 3_000_000, user, video, creator)


def _click(
    ds: DataSet, click: str, creator: str, at: str, campaign: str, ua: str | None = None
) -> None:
    when = ms(at)
    user = f"u-{click}"
    video = f"{creator}-video"
    ds.view(f"view-{click}", when - 5 * MINUTE, user, video, creator)
    if ua is None:
        ds.click(click, when, user, video, campaign)
    else:
        ds.click(click, when, user, video, campaign, ua=ua)


def build(superset: bool) -> DataSet:
    ds = DataSet()
    ds.campaign("cmp-usd", day("2025-12-01"), CPC_USD, currency="USD")
    ds.campaign("cmp-eur", day("2025-12-01"), CPC_EUR, currency="EUR")
    ds.profile("c-pay", day("2025-12-01"))
    ds.profile("c-free", day("2025-12-01"), followers=100, country="GB")
    for d in range(20, 32):
        _busy(ds, "c-pay", day(f"2026-01-{d:02d}"))
    ds.view("c-free-huge", ms("2026-01-21T12:00:00Z"), "u-huge", "c-free-video", "c-free", HUGE_UA)
    _click(ds, "k-j1", "c-pay", "2026-01-26T10:00:00Z", "cmp-usd")
    _click(ds, "k-j2", "c-pay", "2026-01-28T11:00:00Z", "cmp-eur")
    _click(ds, "k-j3", "c-pay", "2026-01-31T23:50:00Z", "cmp-usd")
    _click(ds, "k-j4", "c-free", "2026-01-27T09:00:00Z", "cmp-usd")
    _click(ds, "k-jb", "c-free", "2026-01-27T09:30:00Z", "cmp-usd", ua=BOT_UA)
    _click(ds, "k-f1", "c-pay", "2026-02-02T10:00:00Z", "cmp-usd")
    ds.view("tail", ms("2026-02-03T00:00:00Z"), "u-tail", "c-free-video", "c-free")
    if superset:
        _click(ds, "k-j5", "c-pay", "2026-01-29T12:00:00Z", "cmp-usd")
        _click(ds, "k-j6", "c-new", "2026-01-30T08:00:00Z", "cmp-eur")
        _click(ds, "k-f2", "c-pay", "2026-02-02T12:00:00Z", "cmp-eur")
    return ds


def write(folder: Path, superset: bool) -> None:
    """Write the five files, then make them hostile the ways real files are."""
    build(superset).write(folder)
    views = folder / "views.jsonl"
    head = b"\n".join(raw for raw, _reason in HOSTILE_VIEWS) + b"\n"
    views.write_bytes(BOM + head + views.read_bytes())
    comments = folder / "comments.jsonl"
    comments.write_bytes(BOM + comments.read_bytes())
    campaigns = folder / "campaigns.jsonl"
    campaigns.write_bytes(campaigns.read_bytes().replace(b"\n", b"\r\n"))
    clicks = folder / "ad_clicks.jsonl"
    clicks.write_bytes(clicks.read_bytes().rstrip(b"\n"))


def file_lines(path: Path) -> int:
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
