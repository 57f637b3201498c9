"""The generated data looks like real traffic: checked with small independent counts."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

from tests.unit.generate.conftest import DAYS, START, DataSet, instant_ms

BOT_TOKENS = ("bot", "crawler", "spider", "headless")
DAY_MS = 86_400_000
MINUTE_MS = 60_000
START_MS = int((START - date(1970, 1, 1)).total_seconds() * 1000)
END_MS = START_MS + DAYS * DAY_MS


def _is_bot(agent: Any) -> bool:
    return isinstance(agent, str) and any(t in agent.lower() for t in BOT_TOKENS)


REQUIRED = {
    "views.jsonl": ("user_id", "video_id", "creator_id", "country", "user_agent"),
    "comments.jsonl": ("user_id", "video_id", "creator_id", "comment_id"),
    "ad_clicks.jsonl": ("user_id", "video_id", "ad_id", "campaign_id", "user_agent"),
}


def _events(dataset: DataSet, name: str) -> list[tuple[int, dict[str, Any]]]:
    """(event time, row) of well-formed rows within the period, first copy of each id."""
    seen: set[str] = set()
    out = []
    for row in dataset.files[name].rows:
        if row is None or not isinstance(row.get("event_id"), str):
            continue
        t = instant_ms(row.get("event_time"))
        if t is None or not START_MS - DAY_MS <= t < END_MS + DAY_MS or row["event_id"] in seen:
            continue
        if not all(isinstance(row.get(k), str) for k in REQUIRED[name]):
            continue
        seen.add(row["event_id"])
        out.append((t, row))
    return out


def test_creator_popularity_is_heavily_skewed(dataset: DataSet) -> None:
    per_creator = Counter(r["creator_id"] for _, r in _events(dataset, "views.jsonl"))
    volumes = sorted(per_creator.values(), reverse=True)
    top = volumes[: max(1, len(volumes) // 10)]
    assert sum(top) > 0.35 * sum(volumes)
    assert volumes[0] > 10 * volumes[len(volumes) // 2]


def test_bots_are_a_few_percent_of_views_in_mixed_case(dataset: DataSet) -> None:
    views = _events(dataset, "views.jsonl")
    bots = [r["user_agent"] for _, r in views if _is_bot(r["user_agent"])]
    assert 0.015 < len(bots) / len(views) < 0.04
    assert any(t.title() in a or t.upper() in a for a in bots for t in BOT_TOKENS)
    assert len({r["user_agent"] for _, r in views}) >= 15


def test_views_follow_a_daily_cycle_and_a_country_mix(dataset: DataSet) -> None:
    views = _events(dataset, "views.jsonl")
    hours = Counter((t // 3_600_000) % 24 for t, _ in views)
    evening = sum(hours[h] for h in range(17, 23))
    night = sum(hours[h] for h in range(2, 8))
    assert evening > 2.5 * night
    countries = Counter(r["country"] for _, r in views)
    assert len(countries) >= 20
    assert countries.most_common(1)[0][0] == "US"
    assert {"GB", "IN"} & set(dict(countries.most_common(5)))


def _weekly_rates(dataset: DataSet) -> dict[str, list[tuple[int, float | None]]]:
    """Per creator and 7-day window (by start day): (human views, rate or None if < 1000).

    Clicks count when human and preceded by a view of the same user and video in
    the last 30 minutes (an approximation of a valid click: enough for a test).
    """
    views = _events(dataset, "views.jsonl")
    by_pair: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    activity: dict[str, Counter[int]] = defaultdict(Counter)
    engaged: dict[str, Counter[int]] = defaultdict(Counter)
    for t, r in views:
        by_pair[(r["user_id"], r["video_id"])].append((t, r["creator_id"]))
        if not _is_bot(r["user_agent"]):
            activity[r["creator_id"]][(t - START_MS) // DAY_MS] += 1
    for pairs in by_pair.values():
        pairs.sort()
    for t, r in _events(dataset, "comments.jsonl"):
        if not _is_bot(r.get("user_agent")):
            engaged[r["creator_id"]][(t - START_MS) // DAY_MS] += 1
    for t, r in _events(dataset, "ad_clicks.jsonl"):
        pairs = by_pair.get((r["user_id"], r["video_id"]), [])
        i = bisect.bisect_right(pairs, (t, "\uffff")) - 1
        if i >= 0 and pairs[i][0] >= t - 30 * MINUTE_MS and not _is_bot(r["user_agent"]):
            engaged[pairs[i][1]][(t - START_MS) // DAY_MS] += 1
    out: dict[str, list[tuple[int, float | None]]] = {}
    for creator, days in activity.items():
        rows = []
        for first in range(DAYS - 6):
            n = sum(days[d] for d in range(first, first + 7))
            e = sum(engaged[creator][d] for d in range(first, first + 7))
            rows.append((n, e / n if n >= 1000 else None))
        out[creator] = rows
    return out


def test_some_creators_are_consistently_high_and_others_are_not(dataset: DataSet) -> None:
    rates = _weekly_rates(dataset)
    consistently_high = [
        c for c, rows in rates.items() if all(r is not None and r >= 0.02 for _, r in rows)
    ]
    enough_but_low = [
        c
        for c, rows in rates.items()
        if all(r is not None for _, r in rows) and all(r is not None and r < 0.02 for _, r in rows)
    ]
    too_few = [c for c, rows in rates.items() if all(r is None for _, r in rows)]
    assert consistently_high, "no creator above the engagement bar in every window"
    assert enough_but_low, "no creator with volume below the engagement bar"
    assert len(too_few) > len(rates) // 2, "most creators of a power law have few views"


def test_clicks_mostly_follow_a_view_of_the_same_user_and_video(dataset: DataSet) -> None:
    views: dict[tuple[str, str], list[int]] = defaultdict(list)
    for t, r in _events(dataset, "views.jsonl"):
        views[(r["user_id"], r["video_id"])].append(t)
    within = beyond = none = 0
    for t, r in _events(dataset, "ad_clicks.jsonl"):
        earlier = [v for v in views.get((r["user_id"], r["video_id"]), []) if v <= t]
        if not earlier:
            none += 1
        elif t - max(earlier) <= 30 * MINUTE_MS:
            within += 1
        else:
            beyond += 1
    total = within + beyond + none
    assert within > 0.8 * total
    assert beyond > 0 and none > 0


def test_clicks_have_floods_duplicates_and_unknown_campaigns(dataset: DataSet) -> None:
    clicks = _events(dataset, "ad_clicks.jsonl")
    per_minute = Counter((r["user_id"], t // MINUTE_MS) for t, r in clicks)
    assert max(per_minute.values()) > 20
    assert 20 in per_minute.values()  # the near miss: exactly at the threshold
    by_key: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for t, r in clicks:
        by_key[(r["user_id"], r["ad_id"], r["video_id"])].append(t)
    close = [ts for ts in map(sorted, by_key.values()) if len(ts) > 1 and ts[1] - ts[0] < 600_000]
    assert len(close) >= 3
    assert any(len(ts) >= 3 for ts in close)  # chains
    campaigns = {
        r["campaign_id"] for r in dataset.files["campaigns.jsonl"].rows if r and "campaign_id" in r
    }
    unknown = [r for _, r in clicks if r["campaign_id"] not in campaigns]
    assert 0 < len(unknown) < 0.05 * len(clicks)


def test_replays_repeat_whole_lines_later_in_the_file(dataset: DataSet) -> None:
    for name in ("views.jsonl", "comments.jsonl", "ad_clicks.jsonl"):
        raw = dataset.files[name].raw
        first: dict[bytes, int] = {}
        replays = 0
        for i, line in enumerate(raw):
            if line in first and line:
                replays += 1
                assert i > first[line]
            first.setdefault(line, i)
        assert 0.002 * len(raw) <= replays <= 0.01 * len(raw) + 2, name
        ids = Counter(
            r["event_id"]
            for r in dataset.files[name].rows
            if r and isinstance(r.get("event_id"), str)
        )
        assert sum(n - 1 for n in ids.values()) >= replays


def test_events_arrive_somewhat_out_of_order_and_a_few_very_late(dataset: DataSet) -> None:
    for name in ("views.jsonl", "ad_clicks.jsonl"):
        newest = 0
        behind_minutes = behind_hour = 0
        seen: set[Any] = set()
        for row in dataset.files[name].rows:
            t = instant_ms(row.get("event_time")) if row else None
            if row is None or t is None or t > END_MS + DAY_MS or row["event_id"] in seen:
                continue  # malformed, in the far future, or a replay
            seen.add(row["event_id"])
            lag = newest - t
            behind_minutes += 0 < lag <= 10 * MINUTE_MS
            behind_hour += lag > 65 * MINUTE_MS
            newest = max(newest, t)
        assert behind_minutes > 10, name
        assert 1 <= behind_hour <= 40, name


def test_malformed_lines_cover_the_rejection_kinds(dataset: DataSet) -> None:
    views = dataset.files["views.jsonl"]
    rows = [r for r in views.rows if r is not None]
    assert any(r is None for r in views.rows)  # not JSON, or not an object
    assert b"" in views.raw  # a blank line
    assert any("country" not in r for r in rows)
    assert {"XX", "us"} <= {r.get("country") for r in rows}
    assert any(isinstance(r.get("watch_time_ms"), str) for r in rows)
    assert any(isinstance(r.get("watch_time_ms"), int) and r["watch_time_ms"] < 0 for r in rows)
    future = [r for r in rows if (instant_ms(r.get("event_time")) or 0) > END_MS + 30 * DAY_MS]
    assert future
    campaigns = [r for r in dataset.files["campaigns.jsonl"].rows if r is not None]
    currencies = Counter(r.get("currency") for r in campaigns)
    assert {"USD", "GBP", "EUR"} <= set(currencies)
    assert set(currencies) <= {"USD", "GBP", "EUR", "XYZ", None}


def test_campaign_changelog_has_price_changes_pauses_and_odd_prices(dataset: DataSet) -> None:
    rows = [r for r in dataset.files["campaigns.jsonl"].rows if r and "campaign_id" in r]
    versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        versions[r["campaign_id"]].append(r)
    assert any(len({v.get("cpc_micros") for v in vs}) > 1 for vs in versions.values())
    assert any(v.get("status") == "paused" for v in rows)
    assert any(v.get("cpc_micros") == 123_457 for v in rows)
    assert all(instant_ms(v.get("starts_at")) is not None for v in rows if "starts_at" in v)


def test_profiles_change_over_time_and_cover_the_edge_cases(dataset: DataSet) -> None:
    rows = [r for r in dataset.files["creator_profiles.jsonl"].rows if r and "creator_id" in r]
    versions: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for r in rows:
        t = instant_ms(r.get("updated_at"))
        if t is not None and isinstance(r.get("followers"), int) and r["followers"] >= 0:
            versions[r["creator_id"]].append((t, r))
    creators = {r["creator_id"] for _, r in _events(dataset, "views.jsonl")}
    assert creators - set(versions), "some creators have no profile at all"
    assert sum(len(v) >= 3 for v in versions.values()) > 0.8 * len(versions)
    assert Counter(r["country"] for r in rows).most_common(1)[0][0] == "US"

    crossed = 0
    for vs in versions.values():
        vs.sort(key=lambda item: item[0])
        before = [r for t, r in vs if t <= START_MS]
        after = [r for t, r in vs if t <= END_MS]
        if before and after and before[-1]["followers"] < 25_000 <= after[-1]["followers"]:
            crossed += 1
    assert crossed >= 1

    end = START + timedelta(days=DAYS)
    births = {
        date.fromisoformat(r["birth_date"])
        for r in rows
        if isinstance(r.get("birth_date"), str) and r["birth_date"][4:5] == "-"
    }
    minors = [b for b in births if b > end.replace(year=end.year - 18)]
    turning = [b for b in births if START < b.replace(year=b.year + 18) <= end]
    assert minors and turning
