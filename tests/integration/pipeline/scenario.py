"""The crafted data set of the end-to-end suite: many independent cases in ONE input.

Each case uses its own users, videos, creators or campaigns so cases cannot
interfere. Tests name events by id and write their expected results by hand
(see the test modules); the comments here say what each case is for.

Calendar (UTC):
- 2026-01-03: the busy day of every "busy" creator (1000 non-bot views spread
  over the day). A busy day makes exactly the 7 windows ending 01-04 .. 01-10
  contain it, so those creators are evaluated at 01-04 .. 01-10 with 1..7 HIGH
  windows: consistently high from 01-08 (5 of 7) on.
- 2026-01-07/08: revenue clicks of ``c-rev``; 2026-01-11/12: of ``c-rev2``.
- 2026-01-10: the click-status and attribution cases (creator ``c-clk``).
- 2026-01-12T00:00: one view of ``c-midnight`` exactly at midnight.
- 2026-01-14: ``c-vc`` (window counts: bots, duplicates, replays, late events).
- 2026-01-20: the newest events (``c-tail``), then late lines in file order.
"""

from __future__ import annotations

from .builder import BOT_UA, DAY, HOUR, MINUTE, DataSet, compact, day, iso, ms

AS_OF = "2026-02-01T00:00:00.000Z"
AS_OF_MS = ms(AS_OF)

BUSY_DAY = day("2026-01-03")
STATUS_BASE = ms("2026-01-10T10:00:00.000Z")

TAIL_VIEW = ms("2026-01-20T00:00:00.000Z")
TAIL_CLICK = ms("2026-01-20T00:00:30.000Z")
VIEW_WATERMARK = TAIL_VIEW - 5 * MINUTE  # max view time - 5 min, when the late lines come
CLICK_WATERMARK = TAIL_CLICK - 5 * MINUTE

# Busy creators: name -> profile versions (updated_at, overrides); None = no profile.
GOOD = {"followers": 30_000, "lifetime_views": 2_000_000, "birth_date": "1990-05-17"}
BUSY_PROFILES: dict[str, list[tuple[str, dict[str, object]]] | None] = {
    # exactly at every threshold: 25,000 followers, 1,000,000 lifetime views, GB
    "c-ok": [
        (
            "2025-12-01T00:00:00.000Z",
            {"followers": 25_000, "lifetime_views": 1_000_000, "country": "GB"},
        )
    ],
    "c-followers": [("2025-12-01T00:00:00.000Z", {"followers": 24_999})],
    "c-lifetime": [("2025-12-01T00:00:00.000Z", {"lifetime_views": 999_999})],
    "c-country": [("2025-12-01T00:00:00.000Z", {"country": "CA"})],
    "c-all": [
        (
            "2025-12-01T00:00:00.000Z",
            {"followers": 10, "lifetime_views": 10, "birth_date": "2015-06-01", "country": "FR"},
        )
    ],
    # 18 on 2026-01-09: underage at the evaluation of 01-08, adult at 01-09
    "c-birthday": [("2025-12-01T00:00:00.000Z", {"birth_date": "2008-01-09"})],
    # a version updated EXACTLY at W=01-09 is used at 01-09; one 1 ms after W=01-10 is not
    "c-profile-at-w": [
        ("2025-12-01T00:00:00.000Z", {"followers": 100}),
        ("2026-01-09T00:00:00.000Z", {"followers": 30_000}),
        ("2026-01-10T00:00:00.001Z", {"followers": 100}),
    ],
    # eligible at 01-08 and 01-09, moves to Canada exactly at 01-10: revoked
    "c-revoke": [
        ("2025-12-01T00:00:00.000Z", {}),
        ("2026-01-10T00:00:00.000Z", {"country": "CA"}),
    ],
    # first profile version 1 ms after W=01-08: unknown_profile up to 01-08
    "c-late-profile": [("2026-01-08T00:00:00.001Z", {})],
    # no profile at all; 1000 views by 500 viewers + 20 comments = rate exactly 0.02
    "c-exact": None,
    "c-below": [("2025-12-01T00:00:00.000Z", {})],  # 1000 views + 19 comments
    "c-lowvol": [("2025-12-01T00:00:00.000Z", {})],  # 999 views + 100 comments
    "c-rev": [("2025-12-01T00:00:00.000Z", {})],
    "c-rev2": [("2025-12-01T00:00:00.000Z", {})],
}
BUSY_TRAFFIC: dict[str, dict[str, int]] = {
    "c-exact": {"views": 1000, "comments": 20, "viewers": 500, "bot_views": 5, "bot_comments": 3},
    "c-below": {"views": 1000, "comments": 19},
    "c-lowvol": {"views": 999, "comments": 100},
}

CPC_MAIN = 123_457  # odd: creator 61728, platform 61729
CPC_PAUSED = 500_000
CPC_WINDOW = 700_000
CPC_LATE = 300_000
CPC_PAUSE_LATER = 400_000
CPC_PRICE_OLD = 1_000_001
CPC_PRICE_NEW = 2_000_000


def _campaigns(ds: DataSet) -> None:
    base = day("2025-12-01")
    ds.campaign("cmp-main", base, CPC_MAIN)
    ds.campaign("cmp-paused", base, CPC_PAUSED, status="paused")
    ds.campaign(
        "cmp-window",
        base,
        CPC_WINDOW,
        starts_at=ms("2026-01-10T10:00:00.000Z"),
        ends_at=ms("2026-01-10T12:00:00.000Z"),
    )
    # first version only at 12:00 on the status day
    ds.campaign("cmp-late", ms("2026-01-10T12:00:00.000Z"), CPC_LATE)
    ds.campaign("cmp-pause-later", base, CPC_PAUSE_LATER)
    ds.campaign("cmp-pause-later", ms("2026-01-10T13:00:00.000Z"), CPC_PAUSE_LATER, status="paused")
    ds.campaign("cmp-price", base, CPC_PRICE_OLD, currency="EUR")
    ds.campaign("cmp-price", ms("2026-01-08T12:00:00.000Z"), CPC_PRICE_NEW, currency="EUR")


def _busy_creators(ds: DataSet) -> None:
    for creator, versions in BUSY_PROFILES.items():
        ds.busy_day(creator, BUSY_DAY, **BUSY_TRAFFIC.get(creator, {}))
        for updated_at, overrides in versions or []:
            values: dict[str, object] = {**GOOD, **overrides}
            ds.profile(
                creator,
                ms(updated_at),
                followers=int(str(values["followers"])),
                lifetime_views=int(str(values["lifetime_views"])),
                birth_date=str(values["birth_date"]),
                country=str(values.get("country", "US")),
            )


def status_case(
    ds: DataSet,
    click_id: str,
    t: int,
    campaign: str = "cmp-main",
    *,
    view_at: int | None = -MINUTE,
    ua: str = "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0",
    creator: str = "c-clk",
) -> None:
    """One click by its own user after its own video; a view ``view_at`` ms relative to
    the click (None: no view at all)."""
    user, video = f"u-{click_id}", f"vid-{click_id}"
    if view_at is not None:
        ds.view(f"{click_id}-view", t + view_at, user, video, creator)
    ds.click(click_id, t, user, video, campaign, ua=ua)


def _click_statuses(ds: DataSet) -> None:
    t = STATUS_BASE + HOUR  # 11:00
    # --- bot: token anywhere in the UA, any case; bot wins over every other status
    status_case(ds, "s-bot-headless", t, ua="Mozilla HeadlessChrome")
    status_case(ds, "s-bot-crawler", t, ua="SomeCRAWLER/2.0")
    status_case(ds, "s-bot-spider", t, ua="my-Spider")
    status_case(ds, "s-bot-unknown-campaign", t, "cmp-unknown", ua=BOT_UA)
    status_case(ds, "s-bot-paused-noview", t, "cmp-paused", view_at=None, ua="BOT")

    # --- click_flood: user u-flood21 clicks 21 times in minute 10:05 (all ads)
    user, video = "u-flood21", "vid-flood21"
    ds.view("f21-view", STATUS_BASE + 4 * MINUTE - 1, user, video, "c-clk")  # 10:03:59.999
    minute = STATUS_BASE + 5 * MINUTE
    for i in range(21):
        at = minute + 59_999 if i == 20 else minute + i * 2_000
        campaign = "cmp-unknown" if i == 3 else "cmp-main"
        clicked_video = "vid-flood21-other" if i == 4 else video
        ds.click(f"f21-{i:02d}", at, user, clicked_video, campaign, ad=f"ad-f21-{i}")
    ds.click("f21-before", minute - 1, user, video, "cmp-main", ad="ad-f21-before")
    ds.click("f21-after", minute + MINUTE, user, video, "cmp-main", ad="ad-f21-after")
    # 20 normal clicks + 1 bot click in minute 10:15: the bot click makes it a flood
    user, video = "u-floodbot", "vid-floodbot"
    ds.view("fb-view", STATUS_BASE + 14 * MINUTE, user, video, "c-clk")
    for i in range(20):
        ds.click(
            f"fb-{i:02d}",
            STATUS_BASE + 15 * MINUTE + i * 2_000,
            user,
            video,
            "cmp-main",
            ad=f"ad-fb-{i}",
        )
    ds.click(
        "fb-bot",
        STATUS_BASE + 15 * MINUTE + 45_000,
        user,
        video,
        "cmp-main",
        ad="ad-fb-bot",
        ua="evil-bot/1.0",
    )
    # exactly 20 clicks in minute 10:20: not a flood
    user, video = "u-flood20", "vid-flood20"
    ds.view("f20-view", STATUS_BASE + 19 * MINUTE, user, video, "c-clk")
    for i in range(20):
        ds.click(
            f"f20-{i:02d}",
            STATUS_BASE + 20 * MINUTE + i * 2_000,
            user,
            video,
            "cmp-main",
            ad=f"ad-f20-{i}",
        )
    # 22 clicks within 50 seconds, but 11 in minute 10:25 and 11 in 10:26: not a flood
    user, video = "u-floodsplit", "vid-floodsplit"
    ds.view("fs-view", STATUS_BASE + 24 * MINUTE, user, video, "c-clk")
    for i in range(22):
        at = (
            STATUS_BASE + 25 * MINUTE + 30_000 + i * 2_000
            if i < 11
            else (STATUS_BASE + 26 * MINUTE + (i - 11) * 2_000)
        )
        ds.click(f"fs-{i:02d}", at, user, video, "cmp-main", ad=f"ad-fs-{i}")

    # 20 accepted clicks in minute 10:30 + an exact replay of one + a rejected click of the
    # same user (ad_clicks.jsonl line 4): replays and rejected lines do not count: no flood
    user, video = "u-floodreplay", "vid-floodreplay"
    ds.view("fr-view", STATUS_BASE + 29 * MINUTE, user, video, "c-clk")
    for i in range(20):
        rec = ds.click(
            f"fr-{i:02d}",
            STATUS_BASE + 30 * MINUTE + i * 2_000,
            user,
            video,
            "cmp-main",
            ad=f"ad-fr-{i}",
        )
        if i == 7:
            ds.add("ad_click", STATUS_BASE + 30 * MINUTE + i * 2_000, rec)

    # --- unknown_campaign
    status_case(ds, "s-unknown", t, "cmp-unknown")
    status_case(ds, "s-unknown-noview", t, "cmp-unknown", view_at=None)
    status_case(ds, "s-before-first-version", ms("2026-01-10T11:59:59.999Z"), "cmp-late")
    status_case(ds, "s-at-first-version", ms("2026-01-10T12:00:00.000Z"), "cmp-late")

    # --- campaign_inactive (window [10:00, 12:00) of cmp-window)
    status_case(ds, "s-paused", t, "cmp-paused")
    status_case(ds, "s-paused-noview", t, "cmp-paused", view_at=None)
    status_case(ds, "s-before-start", ms("2026-01-10T09:59:59.999Z"), "cmp-window")
    status_case(ds, "s-at-start", ms("2026-01-10T10:00:00.000Z"), "cmp-window")
    status_case(ds, "s-before-end", ms("2026-01-10T11:59:59.999Z"), "cmp-window")
    status_case(ds, "s-at-end", ms("2026-01-10T12:00:00.000Z"), "cmp-window")
    status_case(ds, "s-before-pause", ms("2026-01-10T12:59:59.999Z"), "cmp-pause-later")
    status_case(ds, "s-at-pause", ms("2026-01-10T13:00:00.000Z"), "cmp-pause-later")

    # --- no_prior_view
    t = ms("2026-01-10T14:00:00.000Z")
    status_case(ds, "s-nv-too-old", t, view_at=-(30 * MINUTE + 1))
    status_case(ds, "s-nv-after", t, view_at=1)
    status_case(ds, "s-nv-none", t, view_at=None)
    ds.view("s-nv-other-video-view", t - MINUTE, "u-s-nv-other-video", "vid-elsewhere", "c-clk")
    ds.click("s-nv-other-video", t, "u-s-nv-other-video", "vid-s-nv-other-video", "cmp-main")
    ds.view("s-nv-other-user-view", t - MINUTE, "u-someone-else", "vid-s-nv-other-user", "c-clk")
    ds.click("s-nv-other-user", t, "u-s-nv-other-user", "vid-s-nv-other-user", "cmp-main")


def _attribution(ds: DataSet) -> None:
    t = ms("2026-01-10T15:00:00.000Z")
    status_case(ds, "a-30min", t, view_at=-30 * MINUTE)
    status_case(ds, "a-same-ms", t, view_at=0)
    # latest view wins over a larger event_id
    ds.view("a-latest-vz", t - 20 * MINUTE, "u-a-latest", "vid-a-latest", "c-attr-old")
    ds.view("a-latest-va", t - 5 * MINUTE, "u-a-latest", "vid-a-latest", "c-attr-new")
    ds.click("a-latest", t, "u-a-latest", "vid-a-latest", "cmp-main")
    # tie on view time: larger event_id wins (the larger id is written first)
    ds.view("a-tie-v2", t - 5 * MINUTE, "u-a-tie", "vid-a-tie", "c-tie-large")
    ds.view("a-tie-v1", t - 5 * MINUTE, "u-a-tie", "vid-a-tie", "c-tie-small")
    ds.click("a-tie", t, "u-a-tie", "vid-a-tie", "cmp-main")
    # tie where one id is a prefix of the other: "a-tp-2" > "a-tp"
    ds.view("a-tp-2", t - 5 * MINUTE, "u-a-tp", "vid-a-tp", "c-tp-long")
    ds.view("a-tp", t - 5 * MINUTE, "u-a-tp", "vid-a-tp", "c-tp-short")
    ds.click("a-tp-click", t, "u-a-tp", "vid-a-tp", "cmp-main")
    # a bot view counts for attribution
    ds.view("a-bot-view-view", t - MINUTE, "u-a-bot-view", "vid-a-bot-view", "c-clk", BOT_UA)
    ds.click("a-bot-view", t, "u-a-bot-view", "vid-a-bot-view", "cmp-main")
    # instants as integer epoch ms, and as RFC 3339 with an offset (16:00+01:00 = 15:00Z)
    ds.view("a-epoch-view", t - MINUTE, "u-a-epoch", "vid-a-epoch", "c-clk", epoch_time=True)
    ds.click("a-epoch", t, "u-a-epoch", "vid-a-epoch", "cmp-main", event_time=t)
    ds.view("a-offset-view", t - MINUTE, "u-a-offset", "vid-a-offset", "c-clk")
    ds.click(
        "a-offset",
        t,
        "u-a-offset",
        "vid-a-offset",
        "cmp-main",
        event_time="2026-01-10T16:00:00+01:00",
    )


def _duplicates(ds: DataSet) -> None:
    t0 = ms("2026-01-10T16:00:00.000Z")

    def clicks(name: str, offsets: list[tuple[str, int, str, str]]) -> None:
        """Clicks of user u-NAME; each (id, offset ms, ad, ua) on video vid-NAME."""
        user, video = f"u-{name}", f"vid-{name}"
        ds.view(f"{name}-view", t0 - MINUTE, user, video, "c-clk")
        for click_id, offset, ad, ua in offsets:
            ds.click(click_id, t0 + offset, user, video, "cmp-main", ad=ad, ua=ua)

    ua = "Mozilla/5.0"
    clicks("d10", [("d10-a", 0, "ad-x", ua), ("d10-b", 10 * MINUTE, "ad-x", ua)])
    clicks("d9", [("d9-a", 0, "ad-x", ua), ("d9-b", 10 * MINUTE - 1, "ad-x", ua)])
    clicks(
        "dc",
        [
            ("dc-0", 0, "ad-x", ua),
            ("dc-6", 6 * MINUTE, "ad-x", ua),
            ("dc-12", 12 * MINUTE, "ad-x", ua),
        ],
    )
    clicks("db", [("db-bot", 0, "ad-x", "Mozilla HeadlessChrome"), ("db-next", MINUTE, "ad-x", ua)])
    # same (user, ad, video) at the same ms: ordered by event_id (dt-b written first)
    clicks("dt", [("dt-b", 0, "ad-x", ua), ("dt-a", 0, "ad-x", ua)])
    # another ad of the same user and video is no duplicate
    clicks("dad", [("dad-1", 0, "ad-1", ua), ("dad-2", MINUTE, "ad-2", ua)])
    # another video of the same user and ad is no duplicate
    ds.view("dv-view-2", t0 - MINUTE, "u-dv", "vid-dv-2", "c-clk")
    clicks("dv", [("dv-1", 0, "ad-x", ua)])
    ds.click("dv-2", t0 + MINUTE, "u-dv", "vid-dv-2", "cmp-main", ad="ad-x", ua=ua)
    # a click that is not valid (paused campaign) does not make the next one a duplicate
    ds.view("dinact-view", t0 - MINUTE, "u-dinact", "vid-dinact", "c-clk")
    ds.click("dinact-1", t0, "u-dinact", "vid-dinact", "cmp-paused", ad="ad-x")
    ds.click("dinact-2", t0 + MINUTE, "u-dinact", "vid-dinact", "cmp-main", ad="ad-x")
    # a replay with a changed payload (same event_id, bot UA) is dropped: the first wins
    t = ms("2026-01-10T17:00:00.000Z")
    status_case(ds, "r-mod", t)
    ds.click("r-mod", t, "u-r-mod", "vid-r-mod", "cmp-main", ua=BOT_UA)


def _revenue(ds: DataSet) -> None:
    """c-rev: evaluated at 01-07 with 4 HIGH windows (not eligible), at 01-08 with 5.
    c-rev2: eligible at 01-10, no window row ends 01-11 (no evaluation), eligible at 01-12.
    Attribution views are bot views, so they change no view count."""

    def paid(
        click_id: str, at: str, creator: str, campaign: str = "cmp-main", ua: str = "Mozilla/5.0"
    ) -> None:
        t = ms(at)
        user, video = f"u-{click_id}", f"{creator}-video"
        ds.view(f"{click_id}-view", t - MINUTE, user, video, creator, BOT_UA)
        ds.click(click_id, t, user, video, campaign, ua=ua)

    paid("rev-before", "2026-01-07T23:59:59.999Z", "c-rev")
    paid("rev-at", "2026-01-08T00:00:00.000Z", "c-rev")
    paid("rev-eur-old", "2026-01-08T11:59:59.999Z", "c-rev", "cmp-price")
    paid("rev-eur-new", "2026-01-08T12:00:00.000Z", "c-rev", "cmp-price")
    paid("rev-bot", "2026-01-08T13:00:00.000Z", "c-rev", ua="crawler")
    paid("rev2-no-eval", "2026-01-11T00:00:00.000Z", "c-rev2")
    paid("rev2-eval", "2026-01-12T06:00:00.000Z", "c-rev2")


def _windows(ds: DataSet) -> None:
    # c-midnight: one view exactly at a UTC midnight
    ds.view("mid-v", day("2026-01-12"), "u-mid", "vid-mid", "c-midnight")
    # c-botonly: only bot traffic, so no counted event and no window row
    on = day("2026-01-13")
    ds.view("bo-v1", on + HOUR, "u-bo1", "vid-bo", "c-botonly", "Mozilla HeadlessChrome")
    ds.view("bo-v2", on + HOUR, "u-bo2", "vid-bo", "c-botonly", "python-SPIDER")
    ds.comment("bo-c1", on + HOUR, "u-bo1", "vid-bo", "c-botonly", "ACME crawler")
    # c-comment-only: a single comment, no view: window rows with 0 views
    ds.comment("co-c1", ms("2026-01-15T08:00:00.000Z"), "u-co", "vid-co", "c-comment-only")
    # c-vc: 1 non-bot view, 2 counted comments, 3 valid clicks (+ bots, duplicate, replays)
    t = ms("2026-01-14T10:00:00.000Z")
    va = ds.view("vc-va", t, "u-vc-a", "vid-vc", "c-vc")
    ds.view("vc-vb", t, "u-vc-b", "vid-vc", "c-vc", BOT_UA)
    k1 = ds.click("vc-k1", t + MINUTE, "u-vc-a", "vid-vc", "cmp-main", ad="ad-vc-1")
    ds.click("vc-k2", t + 2 * MINUTE, "u-vc-a", "vid-vc", "cmp-main", ad="ad-vc-1")
    ds.click("vc-k3", t + 3 * MINUTE, "u-vc-a", "vid-vc", "cmp-main", ad="ad-vc-2")
    ds.click("vc-k4", t + 4 * MINUTE, "u-vc-a", "vid-vc", "cmp-main", ad="ad-vc-3", ua="bot")
    ds.click("vc-k5", t + 5 * MINUTE, "u-vc-b", "vid-vc", "cmp-main", ad="ad-vc-1")
    c1 = ds.comment("vc-c1", t + 6 * MINUTE, "u-vc-a", "vid-vc", "c-vc")
    ds.comment("vc-c2", t + 7 * MINUTE, "u-vc-c", "vid-vc", "c-vc", "Spider")
    ds.comment("vc-c3", t + 8 * MINUTE, "u-vc-d", "vid-vc", "c-vc", None)
    # exact replays (same line again, adjacent after sorting)
    ds.add("view", t, va)
    ds.add("ad_click", t + MINUTE, k1)
    ds.add("comment", t + 6 * MINUTE, c1)


LATE_VIEW_BOUNDARY = VIEW_WATERMARK - HOUR  # exactly 1 h behind: still on time


def _tail(ds: DataSet) -> None:
    """The newest events, then lines written AFTER them (late ones, and the newest)."""
    ds.view("t-tail-v", TAIL_VIEW, "u-tail", "vid-tail", "c-tail")
    ds.click("t-tail-k", TAIL_CLICK, "u-tail", "vid-tail", "cmp-main")

    def view_line(event_id: str, t: int, user: str, video: str, creator: str) -> str:
        return compact(
            {
                "event_id": event_id,
                "event_time": iso(t),
                "user_id": user,
                "video_id": video,
                "creator_id": creator,
                "watch_time_ms": 1,
                "country": "GB",
                "user_agent": "Mozilla",
            }
        )

    ds.tail["view"] += [
        # 1 h + 1 ms behind the watermark: late
        view_line("late-v1", LATE_VIEW_BOUNDARY - 1, "u-late", "vid-late", "c-lateonly"),
        # exactly 1 h behind the watermark: on time
        view_line("ontime-v1", LATE_VIEW_BOUNDARY, "u-ontime", "vid-ontime", "c-ontime"),
        # a view that would attribute the late click below, itself late
        view_line("vc-late-v", ms("2026-01-14T10:30:00.000Z"), "u-vc-late", "vid-vc", "c-vc"),
        # exactly 10 minutes ahead of --as-of: accepted (the last line of the file)
        view_line("future-ok", AS_OF_MS + 10 * MINUTE, "u-future", "vid-future", "c-future"),
    ]
    ds.tail["ad_click"] += [
        compact(
            {
                "event_id": "vc-late-k",
                "event_time": "2026-01-14T10:31:00.000Z",
                "user_id": "u-vc-late",
                "video_id": "vid-vc",
                "ad_id": "ad-vc-9",
                "campaign_id": "cmp-main",
                "user_agent": "Mozilla",
            }
        )
    ]


# --- rejected lines, written first in each file (line numbers by hand) -----------------


def _view(**changes: object) -> str:
    record: dict[str, object] = {
        "event_id": "bad-view",
        "event_time": "2026-01-10T10:00:00.000Z",
        "user_id": "u-bad",
        "video_id": "vid-bad",
        "creator_id": "c-rejected",
        "watch_time_ms": 10,
        "country": "US",
        "user_agent": "Mozilla",
    }
    record.update(changes)
    return compact({k: v for k, v in record.items() if v is not _DROP})


_DROP = object()

REJECTED: dict[str, list[tuple[str, str]]] = {
    # stream -> [(raw line, reason)], lines 1..n of the file
    "view": [
        ('{"event_id": "bad-1", "event_time": ', "invalid_json"),
        ("", "invalid_json"),
        ('["not", "an", "object"]', "not_object"),
        (_view(event_id="bad-2", user_agent=_DROP), "missing_field"),
        (_view(event_id="bad-3", user_id=None), "missing_field"),
        (_view(event_id="bad-4", watch_time_ms="15000"), "wrong_type"),
        (_view(event_id="bad-5", watch_time_ms=-1), "negative_count"),
        (_view(event_id="bad-6", country="ZZ"), "unknown_country"),
        (_view(event_id="bad-7", country="us"), "unknown_country"),
        (_view(event_id="bad-8", event_time=iso(AS_OF_MS + 10 * MINUTE + 1)), "future_event_time"),
        (_view(event_id="bad-9", event_time="10 Jan 2026"), "wrong_type"),
        (_view(event_id="bad-10", user_id=42), "wrong_type"),
        (_view(event_id="bad-11", country=_DROP, watch_time_ms=-1), "missing_field"),
        (_view(event_id="bad-12", watch_time_ms=-1, country="ZZ"), "negative_count"),
        ('{ "event_id" : "spaced" }', "missing_field"),
        ('"just a string"', "not_object"),
        ('{"event_id":"ü-unicode"}', "missing_field"),
    ],
    "comment": [
        (
            compact(
                {
                    "event_id": "bad-c1",
                    "event_time": "2026-01-10T10:00:00Z",
                    "user_id": "u",
                    "video_id": "v",
                    "creator_id": "c-rejected",
                    "comment_id": "x",
                    "text_length": -5,
                }
            ),
            "negative_count",
        ),
        (
            compact(
                {
                    "event_id": "bad-c2",
                    "event_time": "2026-01-10T10:00:00Z",
                    "user_id": "u",
                    "video_id": "v",
                    "creator_id": "c-rejected",
                    "comment_id": "x",
                    "text_length": 1.5,
                }
            ),
            "wrong_type",
        ),
        (
            compact(
                {
                    "event_id": "bad-c3",
                    "event_time": AS_OF_MS + HOUR,
                    "user_id": "u",
                    "video_id": "v",
                    "creator_id": "c-rejected",
                    "comment_id": "x",
                    "text_length": 3,
                }
            ),
            "future_event_time",
        ),
    ],
    "ad_click": [
        (
            compact(
                {
                    "event_id": "bad-k1",
                    "event_time": "2026-01-10T10:00:00Z",
                    "user_id": "u",
                    "video_id": "v",
                    "ad_id": "a",
                    "user_agent": "Mozilla",
                }
            ),
            "missing_field",
        ),
        (
            compact(
                {
                    "event_id": "bad-k2",
                    "event_time": AS_OF_MS + DAY,
                    "user_id": "u",
                    "video_id": "v",
                    "ad_id": "a",
                    "campaign_id": "cmp-main",
                    "user_agent": "Mozilla",
                }
            ),
            "future_event_time",
        ),
        ("not json at all", "invalid_json"),
        (
            compact(
                {
                    "event_id": "fr-rejected",
                    "event_time": "2026-01-10T10:30:50.000Z",
                    "user_id": "u-floodreplay",
                    "video_id": "vid-floodreplay",
                    "ad_id": "ad-fr",
                    "user_agent": "Mozilla",
                }
            ),
            "missing_field",
        ),
    ],
    "creator_profile": [
        (
            compact(
                {
                    "creator_id": "c-bad1",
                    "updated_at": "2025-12-01T00:00:00Z",
                    "followers": 1,
                    "lifetime_views": 1,
                    "birth_date": "2000/01/01",
                    "country": "US",
                }
            ),
            "wrong_type",
        ),
        (
            compact(
                {
                    "creator_id": "c-bad2",
                    "updated_at": "2025-12-01T00:00:00Z",
                    "followers": 1,
                    "lifetime_views": 1,
                    "birth_date": "2000-01-01",
                    "country": "XK",
                }
            ),
            "unknown_country",
        ),
        (
            compact(
                {
                    "creator_id": "c-bad3",
                    "updated_at": "2025-12-01T00:00:00Z",
                    "followers": -1,
                    "lifetime_views": 1,
                    "birth_date": "2000-01-01",
                    "country": "US",
                }
            ),
            "negative_count",
        ),
        (
            compact(
                {
                    "creator_id": "c-bad4",
                    "updated_at": "2025-12-01T00:00:00Z",
                    "followers": 1,
                    "lifetime_views": 1,
                    "birth_date": "2001-02-29",
                    "country": "US",
                }
            ),
            "wrong_type",
        ),
    ],
    "campaign": [
        (
            compact(
                {
                    "campaign_id": "cmp-bad1",
                    "advertiser_id": "a",
                    "updated_at": "2025-12-01T00:00:00Z",
                    "cpc_micros": 0,
                    "currency": "USD",
                    "starts_at": "2025-12-01T00:00:00Z",
                    "ends_at": "2026-12-01T00:00:00Z",
                    "status": "active",
                }
            ),
            "invalid_value",
        ),
        (
            compact(
                {
                    "campaign_id": "cmp-bad2",
                    "advertiser_id": "a",
                    "updated_at": "2025-12-01T00:00:00Z",
                    "cpc_micros": 10,
                    "currency": "USD",
                    "starts_at": "2025-12-01T00:00:00Z",
                    "ends_at": "2026-12-01T00:00:00Z",
                    "status": "running",
                }
            ),
            "invalid_value",
        ),
        (
            compact(
                {
                    "campaign_id": "cmp-bad3",
                    "advertiser_id": "a",
                    "updated_at": "2025-12-01T00:00:00Z",
                    "cpc_micros": 10,
                    "currency": "DEM",
                    "starts_at": "2025-12-01T00:00:00Z",
                    "ends_at": "2026-12-01T00:00:00Z",
                    "status": "active",
                }
            ),
            "unknown_currency",
        ),
    ],
}


def build_main() -> DataSet:
    ds = DataSet()
    for stream, rows in REJECTED.items():
        ds.head[stream] = [raw for raw, _ in rows]
    _campaigns(ds)
    _busy_creators(ds)
    _click_statuses(ds)
    _attribution(ds)
    _duplicates(ds)
    _revenue(ds)
    _windows(ds)
    _tail(ds)
    return ds


def build_missing_files() -> DataSet:
    """Only views and clicks: the other three files are absent (empty streams)."""
    ds = DataSet()
    ds.view("m-v1", ms("2026-01-10T10:00:00.000Z"), "u-m", "vid-m", "c-m")
    ds.click("m-k1", ms("2026-01-10T10:01:00.000Z"), "u-m", "vid-m", "cmp-main")
    return ds
