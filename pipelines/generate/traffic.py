"""Event traffic: views, comments and ad clicks as column arrays, then JSON lines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipelines.domain.time import DAY_MS, HOUR_MS, MINUTE_MS
from pipelines.generate import anomalies, catalog
from pipelines.generate.changelogs import Campaigns
from pipelines.generate.population import BOT_VIEW_SHARE, Population
from pipelines.generate.writer import (
    Lines,
    pick,
    plain_pool,
    quoted_pool,
    scramble,
    time_fragments,
)

SECOND_MS = 1_000
EPOCH_SHARE = 0.08  # share of event times written as integer epoch ms

I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Views:
    time: I64
    user: I64
    video: I64
    creator: I64
    watch_ms: I64
    country: I64
    agent: I64
    bot: NDArray[np.bool_]


@dataclass(frozen=True)
class Comments:
    time: I64
    user: I64
    video: I64
    creator: I64
    text_length: I64
    agent: I64  # -1: no user_agent member


@dataclass(frozen=True)
class Clicks:
    time: I64
    user: I64
    video: I64
    agent: I64
    campaign: I64  # index into Campaigns.campaigns, or len(campaigns) + k for unknown ids
    ad: I64


def _concat(*parts: I64) -> I64:
    return np.concatenate(parts).astype(np.int64)


def _times_of_day(rng: np.random.Generator, day: I64, start_ms: int) -> I64:
    hour_p = np.array(catalog.HOUR_WEIGHTS)
    hour = rng.choice(24, size=len(day), p=hour_p / hour_p.sum())
    return (start_ms + day * DAY_MS + hour * HOUR_MS + rng.integers(0, HOUR_MS, len(day))).astype(
        np.int64
    )


def build_views(rng: np.random.Generator, pop: Population, start_ms: int, days: int) -> Views:
    creators = pop.creators
    n = len(creators)
    weekday = (start_ms // DAY_MS + np.arange(days) + 3) % 7  # 0 = Monday
    day_factor = rng.lognormal(0.0, 0.08, days) * np.where(weekday >= 5, 1.12, 1.0)
    ramp = np.linspace(0.0, 1.0, days)
    trend = 1.0 + rng.uniform(-0.25, 0.4, n)[:, None] * ramp[None, :]
    lam = creators.views_per_day[:, None] * day_factor[None, :] * trend
    counts = rng.poisson(lam).ravel()
    creator = np.repeat(np.repeat(np.arange(n), days), counts).astype(np.int64)
    day = np.repeat(np.tile(np.arange(days), n), counts).astype(np.int64)
    size = len(creator)
    time = _times_of_day(rng, day, start_ms)
    video = pop.pick_videos(rng, creator)

    users = pop.users
    bot = rng.random(size) < BOT_VIEW_SHARE
    user = np.empty(size, dtype=np.int64)
    user[~bot] = users.sample_humans(rng, int((~bot).sum()))
    user[bot] = users.bots[rng.integers(0, len(users.bots), int(bot.sum()))]

    country = users.country[user].copy()
    travel = rng.random(size) < 0.03  # roaming, VPNs
    country[travel] = rng.integers(0, len(pop.countries), int(travel.sum()))
    watch = rng.lognormal(np.log(25_000), 1.2, size)
    watch[rng.random(size) < 0.03] = 0.0  # bounces
    watch[bot] = rng.integers(0, 2_000, int(bot.sum()))
    watch_ms = np.minimum(watch, 4 * HOUR_MS).astype(np.int64)
    return Views(time, user, video, creator, watch_ms, country, users.agent[user], bot)


def build_comments(
    rng: np.random.Generator, pop: Population, views: Views, start_ms: int, end_ms: int
) -> Comments:
    day = (views.time - start_ms) // DAY_MS
    p = pop.creators.comment_p[views.creator, day]
    draw = rng.random(len(views.time))
    take = np.flatnonzero(np.where(views.bot, draw < 0.01, draw < p))  # bots spam a little
    time = views.time[take] + rng.integers(5 * SECOND_MS, 20 * MINUTE_MS, len(take))
    length = np.clip(rng.lognormal(np.log(40.0), 0.9, len(take)), 1, 5_000).astype(np.int64)
    length[rng.random(len(take)) < 0.02] = 0  # sticker-only comments
    agent = views.agent[take].copy()
    agent[rng.random(len(take)) < 0.25] = -1  # optional member left out by some clients
    keep = time < end_ms  # every event lies in the period [start, end)
    return Comments(
        time[keep].astype(np.int64),
        views.user[take][keep],
        views.video[take][keep],
        views.creator[take][keep],
        length[keep],
        agent[keep],
    )


def _click_delays(rng: np.random.Generator, n: int) -> I64:
    """View -> click delay: mostly seconds to minutes, some beyond the 30-minute window."""
    r = rng.random(n)
    quick = 2 * SECOND_MS + rng.exponential(90 * SECOND_MS, n)
    slow = rng.uniform(5 * MINUTE_MS, 29.5 * MINUTE_MS, n)
    too_late = rng.uniform(30.5 * MINUTE_MS, 42 * MINUTE_MS, n)
    delay = np.where(
        r < 0.80, np.minimum(quick, 29 * MINUTE_MS), np.where(r < 0.95, slow, too_late)
    )
    return delay.astype(np.int64)


def _assign_ads(
    rng: np.random.Generator, campaigns: Campaigns, t: I64, unknown_share: float = 0.01
) -> tuple[I64, I64]:
    """Ad servers mostly show running campaigns; some clicks land on stopped or unknown ones."""
    n_camp = len(campaigns.campaigns)
    camp = rng.choice(n_camp, size=len(t), p=campaigns.weight).astype(np.int64)
    redo = np.flatnonzero(~campaigns.active(camp, t))
    for _ in range(6):
        if not len(redo):
            break
        camp[redo] = rng.choice(n_camp, size=len(redo), p=campaigns.weight)
        redo = redo[~campaigns.active(camp[redo], t[redo])]
    stray = rng.random(len(t)) < 0.02  # stale ad caches: any campaign, running or not
    camp[stray] = rng.integers(0, n_camp, int(stray.sum()))
    # Ads still served by caches while their campaign is paused or outside its flight.
    late = np.flatnonzero(rng.random(len(t)) < 0.015)
    if len(late):
        stopped = np.stack(
            [
                (c.versions[0].updated_at <= t[late]) & ~c.active(t[late])
                for c in campaigns.campaigns
            ]
        )
        score = np.where(stopped, rng.random(stopped.shape), -1.0)
        best = score.argmax(axis=0)
        has = score.max(axis=0) >= 0
        camp[late[has]] = best[has]
    ad = campaigns.ad_offset[camp] + (rng.integers(0, 1 << 30, len(t)) % campaigns.ad_count[camp])
    unknown = rng.random(len(t)) < unknown_share
    k = rng.integers(0, len(campaigns.unknown_ids), int(unknown.sum()))
    camp[unknown] = n_camp + k
    ad[unknown] = len(campaigns.ad_ids) + k
    return camp, ad.astype(np.int64)


@dataclass(frozen=True)
class Floods:
    clicks: Clicks
    views: Views


def _floods(
    rng: np.random.Generator, pop: Population, campaigns: Campaigns, start_ms: int, days: int
) -> Floods:
    """Click floods (> 20 clicks in one UTC minute) plus near misses (exactly 20; split)."""
    n_flood = max(2, len(pop.creators) // 60)
    plans: list[tuple[int, int]] = [(int(rng.integers(21, 41)), 0) for _ in range(n_flood)]
    plans += [(20, 0), (30, 30 * SECOND_MS)]  # exactly 20; 30 across a minute boundary
    users = pop.users.sample_humans(rng, len(plans))
    c_time: list[I64] = []
    c_user: list[I64] = []
    c_video: list[I64] = []
    v_time: list[int] = []
    v_video: list[int] = []
    for (count, shift), user in zip(plans, users.tolist(), strict=True):
        day = int(rng.integers(0, days))
        minute = (start_ms + day * DAY_MS + int(rng.integers(17 * 60, 23 * 60)) * MINUTE_MS) - shift
        video = int(rng.choice(len(pop.video_ids), p=pop.video_weight))
        view_at = minute + int(rng.integers(0, 3 * SECOND_MS))
        if shift:  # half before the minute boundary, half after: never > 20 in one minute
            half = count // 2
            boundary = minute + shift
            times = np.sort(
                np.concatenate(
                    (
                        rng.integers(view_at + 500, boundary, half),
                        rng.integers(boundary, boundary + shift, count - half),
                    )
                )
            )
        else:
            times = np.sort(rng.integers(view_at + 500, minute + MINUTE_MS, count))
        c_time.append(times.astype(np.int64))
        c_user.append(np.full(count, user, dtype=np.int64))
        c_video.append(np.full(count, video, dtype=np.int64))
        v_time.append(view_at)
        v_video.append(video)
    time = _concat(*c_time)
    user = _concat(*c_user)
    camp, ad = _assign_ads(rng, campaigns, time, unknown_share=0.0)
    agent = pop.users.agent[user]
    vt = np.array(v_time, dtype=np.int64)
    vv = np.array(v_video, dtype=np.int64)
    vu = users.astype(np.int64)
    views = Views(
        time=vt,
        user=vu,
        video=vv,
        creator=pop.video_creator[vv],
        watch_ms=rng.integers(3_000, 60_000, len(vt)).astype(np.int64),
        country=pop.users.country[vu],
        agent=pop.users.agent[vu],
        bot=np.zeros(len(vt), dtype=bool),
    )
    return Floods(Clicks(time, user, _concat(*c_video), agent, camp, ad), views)


def build_clicks(
    rng: np.random.Generator,
    pop: Population,
    campaigns: Campaigns,
    views: Views,
    start_ms: int,
    days: int,
) -> tuple[Clicks, Views]:
    """Clicks (after views, without views, duplicates, floods) and the floods' extra views."""
    day = (views.time - start_ms) // DAY_MS
    p = pop.creators.click_p[views.creator, day]
    draw = rng.random(len(views.time))
    src = np.flatnonzero(np.where(views.bot, draw < 0.02, draw < p))
    time = views.time[src] + _click_delays(rng, len(src))
    user = views.user[src]
    video = views.video[src]

    # Clicks that follow no view at all (ad shown in a feed, deep links, tracking loss).
    n_orphan = max(3, int(0.02 * len(src)))
    o_user = pop.users.sample_humans(rng, n_orphan)
    o_video = rng.choice(len(pop.video_ids), size=n_orphan, p=pop.video_weight).astype(np.int64)
    o_time = _times_of_day(rng, rng.integers(0, days, n_orphan).astype(np.int64), start_ms)

    time = _concat(time, o_time)
    user = _concat(user, o_user)
    video = _concat(video, o_video)
    camp, ad = _assign_ads(rng, campaigns, time)

    # Double clicks: same user, ad and video; some chains (a click 6 min after a duplicate).
    dup = np.flatnonzero(rng.random(len(time)) < 0.04)
    d_time = time[dup] + rng.integers(300, int(9.5 * MINUTE_MS), len(dup))
    chain = dup[rng.random(len(dup)) < 0.25]
    chain_pos = np.searchsorted(dup, chain)
    c_time = d_time[chain_pos] + rng.integers(4 * MINUTE_MS, int(9.5 * MINUTE_MS), len(chain))
    again = np.flatnonzero(rng.random(len(time)) < 0.01)  # a second, later genuine click
    a_time = time[again] + rng.integers(int(10.5 * MINUTE_MS), 25 * MINUTE_MS, len(again))
    copies = _concat(dup, chain, again)

    floods = _floods(rng, pop, campaigns, start_ms, days)
    f = floods.clicks
    all_time = _concat(time, d_time, c_time, a_time, f.time)
    all_user = _concat(user, user[copies], f.user)
    all_video = _concat(video, video[copies], f.video)
    all_camp = _concat(camp, camp[copies], f.campaign)
    all_ad = _concat(ad, ad[copies], f.ad)
    keep = all_time < start_ms + days * DAY_MS  # every event lies in the period
    all_user = all_user[keep]
    clicks = Clicks(
        all_time[keep],
        all_user,
        all_video[keep],
        pop.users.agent[all_user],
        all_camp[keep],
        all_ad[keep],
    )
    return clicks, floods.views


def merge_views(a: Views, b: Views) -> Views:
    return Views(
        time=_concat(a.time, b.time),
        user=_concat(a.user, b.user),
        video=_concat(a.video, b.video),
        creator=_concat(a.creator, b.creator),
        watch_ms=_concat(a.watch_ms, b.watch_ms),
        country=_concat(a.country, b.country),
        agent=_concat(a.agent, b.agent),
        bot=np.concatenate((a.bot, b.bot)),
    )


# --- rendering ---------------------------------------------------------------------------
# Every renderer puts the events in file (arrival) order once, then renders any subset of
# rows on demand. Ids are plain ASCII made here, so they need no escaping; user agents
# are JSON-escaped once per distinct value.


def _key(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 1 << 62))


def view_lines(rng: np.random.Generator, pop: Population, views: Views) -> Lines:
    order = anomalies.arrival_order(rng, views.time)
    ids = scramble(len(order), _key(rng))[order]
    t = views.time[order]
    epoch = rng.random(len(t)) < EPOCH_SHARE
    user, video, creator = views.user[order], views.video[order], views.creator[order]
    watch, country, agent = views.watch_ms[order], views.country[order], views.agent[order]
    users, videos = plain_pool(pop.users.ids), plain_pool(pop.video_ids)
    creators, countries = plain_pool(pop.creators.ids), plain_pool(pop.countries)
    agents = quoted_pool(pop.agents)

    def take(idx: I64) -> list[str]:
        return [
            f'{{"event_id":"vw_{e:016x}","event_time":{tm},"user_id":"{u}","video_id":"{v}",'
            f'"creator_id":"{c}","watch_time_ms":{w},"country":"{k}","user_agent":{a}}}'
            for e, tm, u, v, c, w, k, a in zip(
                ids[idx].tolist(),
                time_fragments(t[idx], epoch[idx]),
                pick(users, user[idx]),
                pick(videos, video[idx]),
                pick(creators, creator[idx]),
                watch[idx].tolist(),
                pick(countries, country[idx]),
                pick(agents, agent[idx]),
                strict=True,
            )
        ]

    return Lines(len(order), take)


def comment_lines(rng: np.random.Generator, pop: Population, comments: Comments) -> Lines:
    order = anomalies.arrival_order(rng, comments.time)
    ids = scramble(len(order), _key(rng))[order]
    comment_ids = scramble(len(order), _key(rng))[order]
    t = comments.time[order]
    epoch = rng.random(len(t)) < EPOCH_SHARE
    user, video, creator = comments.user[order], comments.video[order], comments.creator[order]
    length, agent = comments.text_length[order], comments.agent[order]
    users, videos = plain_pool(pop.users.ids), plain_pool(pop.video_ids)
    creators = plain_pool(pop.creators.ids)
    tails = np.empty(len(pop.agents) + 1, dtype=object)
    tails[:-1] = [',"user_agent":' + q for q in quoted_pool(pop.agents).tolist()]
    tails[-1] = ""  # agent index -1: the optional member is left out

    def take(idx: I64) -> list[str]:
        return [
            f'{{"event_id":"cm_{e:016x}","event_time":{tm},"user_id":"{u}","video_id":"{v}",'
            f'"creator_id":"{c}","comment_id":"cmt_{m:016x}","text_length":{n}{a}}}'
            for e, tm, u, v, c, m, n, a in zip(
                ids[idx].tolist(),
                time_fragments(t[idx], epoch[idx]),
                pick(users, user[idx]),
                pick(videos, video[idx]),
                pick(creators, creator[idx]),
                comment_ids[idx].tolist(),
                length[idx].tolist(),
                pick(tails, agent[idx]),
                strict=True,
            )
        ]

    return Lines(len(order), take)


def click_lines(
    rng: np.random.Generator, pop: Population, campaigns: Campaigns, clicks: Clicks
) -> Lines:
    order = anomalies.arrival_order(rng, clicks.time)
    ids = scramble(len(order), _key(rng))[order]
    t = clicks.time[order]
    epoch = rng.random(len(t)) < EPOCH_SHARE
    user, video, agent = clicks.user[order], clicks.video[order], clicks.agent[order]
    ad, camp = clicks.ad[order], clicks.campaign[order]
    n_unknown = len(campaigns.unknown_ids)
    camp_ids = plain_pool([c.campaign_id for c in campaigns.campaigns] + campaigns.unknown_ids)
    n_ads = len(campaigns.ad_ids)
    ad_ids = plain_pool(campaigns.ad_ids + [f"ad_{n_ads + k:05d}" for k in range(n_unknown)])
    users, videos = plain_pool(pop.users.ids), plain_pool(pop.video_ids)
    agents = quoted_pool(pop.agents)

    def take(idx: I64) -> list[str]:
        return [
            f'{{"event_id":"ck_{e:016x}","event_time":{tm},"user_id":"{u}","video_id":"{v}",'
            f'"ad_id":"{d}","campaign_id":"{c}","user_agent":{a}}}'
            for e, tm, u, v, d, c, a in zip(
                ids[idx].tolist(),
                time_fragments(t[idx], epoch[idx]),
                pick(users, user[idx]),
                pick(videos, video[idx]),
                pick(ad_ids, ad[idx]),
                pick(camp_ids, camp[idx]),
                pick(agents, agent[idx]),
                strict=True,
            )
        ]

    return Lines(len(order), take)
