"""Changelog streams: campaign versions and creator profile versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from pipelines.domain.time import DAY_MS, HOUR_MS
from pipelines.generate import catalog
from pipelines.generate.population import Creators, Role, Scenario
from pipelines.generate.writer import dumps, iso_ms

EPOCH_SHARE = 0.1  # share of instants written as integer epoch ms
ODD_CPCS = (123_457, 333_333, 987_654, 1_111_111, 49_999, 250_001)
ONE_FAILING_CRITERION = (
    Scenario.ELIGIBLE,
    Scenario.FOLLOWERS_CROSS,
    Scenario.LIFETIME_CROSS,
    Scenario.UNDERAGE,
    Scenario.TURNS_18,
    Scenario.LATE_PROFILE,
)


@dataclass(frozen=True)
class CampaignVersion:
    updated_at: int
    cpc_micros: int
    starts_at: int
    ends_at: int
    status: str  # "active" / "paused"


@dataclass
class Campaign:
    campaign_id: str
    advertiser_id: str
    currency: str
    versions: list[CampaignVersion] = field(default_factory=list)

    def active(self, t: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether a click at ``t`` meets an active version (the rules' status rules)."""
        ups = np.array([v.updated_at for v in self.versions], dtype=np.int64)
        ok = np.array([v.status == "active" for v in self.versions])
        starts = np.array([v.starts_at for v in self.versions], dtype=np.int64)
        ends = np.array([v.ends_at for v in self.versions], dtype=np.int64)
        idx = np.searchsorted(ups, t, side="right") - 1
        known = idx >= 0
        j = np.maximum(idx, 0)
        result: NDArray[np.bool_] = known & ok[j] & (starts[j] <= t) & (t < ends[j])
        return result


@dataclass(frozen=True)
class Campaigns:
    campaigns: list[Campaign]
    weight: NDArray[np.float64]  # share of ad traffic
    ad_ids: list[str]
    ad_offset: NDArray[np.int64]
    ad_count: NDArray[np.int64]
    unknown_ids: list[str]  # ids that clicks reference but no record exists for

    def active(self, campaign: NDArray[np.int64], t: NDArray[np.int64]) -> NDArray[np.bool_]:
        out = np.zeros(len(t), dtype=bool)
        for ci in np.unique(campaign).tolist():
            sel = np.flatnonzero(campaign == ci)
            out[sel] = self.campaigns[ci].active(t[sel])
        return out


def _cpc(rng: np.random.Generator) -> int:
    if rng.random() < 0.25:
        return int(ODD_CPCS[int(rng.integers(0, len(ODD_CPCS)))])
    cents = float(rng.lognormal(np.log(45.0), 0.7))
    return max(10_000, round(cents) * 10_000)


def build_campaigns(
    rng: np.random.Generator, n_creators: int, start_ms: int, days: int
) -> Campaigns:
    end_ms = start_ms + days * DAY_MS
    n = max(6, round(n_creators / 8))
    n_adv = max(3, n // 3)
    currencies = [c for c, _ in catalog.CURRENCIES]
    cur_p = np.array([w for _, w in catalog.CURRENCIES])
    cur_p /= cur_p.sum()
    campaigns: list[Campaign] = []
    for ci in range(n):
        late = ci == 1 or (ci > 5 and rng.random() < 0.12)
        if late:
            created = start_ms + int(rng.uniform(0.2, 0.6) * days * DAY_MS)
        else:
            created = start_ms - int(rng.uniform(1, 45) * DAY_MS)
        created += int(rng.integers(0, 1000))
        starts = (created // HOUR_MS + int(rng.integers(0, 36)) * int(rng.random() < 0.3)) * HOUR_MS
        if ci == 2 or (ci > 5 and rng.random() < 0.15):
            ends = (start_ms + int(rng.uniform(0.3, 0.8) * days * DAY_MS)) // DAY_MS * DAY_MS
        else:
            ends = (end_ms + int(rng.uniform(5, 60) * DAY_MS)) // DAY_MS * DAY_MS
        cpc = 123_457 if ci == 3 else _cpc(rng)
        camp = Campaign(
            campaign_id=f"cmp_{ci:04d}",
            advertiser_id=f"adv_{int(rng.integers(0, n_adv)):03d}",
            currency=currencies[int(rng.choice(len(currencies), p=cur_p))],
        )
        status = "active"
        camp.versions.append(CampaignVersion(created, cpc, starts, ends, status))
        # Later versions: price changes, paused periods, extended flights, no-op saves.
        t = created
        n_updates = int(rng.poisson(max(1.0, days / 6)))
        forced_pause = ci == 0
        for _ in range(n_updates + int(forced_pause)):
            if forced_pause:
                t = max(t, start_ms + int(0.4 * days * DAY_MS)) + int(rng.integers(0, HOUR_MS))
            else:
                t += int(rng.exponential(6.0) * DAY_MS) + int(rng.integers(0, DAY_MS))
            if t >= end_ms:
                break
            kind = (
                "pause"
                if forced_pause
                else str(rng.choice(["cpc", "pause", "extend", "noop"], p=[0.5, 0.25, 0.15, 0.1]))
            )
            forced_pause = False
            if kind == "cpc":
                factor = float(rng.uniform(0.7, 1.4))
                cpc = (
                    max(1_000, int(cpc * factor))
                    if rng.random() < 0.3
                    else max(10_000, round(cpc * factor / 10_000) * 10_000)
                )
                camp.versions.append(CampaignVersion(t, cpc, starts, ends, status))
            elif kind == "pause" and status == "active":
                camp.versions.append(CampaignVersion(t, cpc, starts, ends, "paused"))
                t += int(rng.uniform(0.15, 3.0) * DAY_MS)
                if t < end_ms + 3 * DAY_MS:
                    camp.versions.append(CampaignVersion(t, cpc, starts, ends, "active"))
            elif kind == "extend":
                ends += int(rng.integers(7, 30)) * DAY_MS
                camp.versions.append(CampaignVersion(t, cpc, starts, ends, status))
            else:
                camp.versions.append(CampaignVersion(t, cpc, starts, ends, status))
        campaigns.append(camp)

    weight = rng.lognormal(0.0, 0.8, n)
    weight /= weight.sum()
    ad_count = (1 + rng.poisson(1.5, n)).astype(np.int64)
    ad_offset = np.concatenate(([0], np.cumsum(ad_count)[:-1])).astype(np.int64)
    ad_ids = [f"ad_{i:05d}" for i in range(int(ad_count.sum()))]
    unknown_ids = [f"cmp_{n + 500 + i:04d}" for i in range(2)]
    return Campaigns(campaigns, weight, ad_ids, ad_offset, ad_count, unknown_ids)


def _instant(rng: np.random.Generator, ms: int) -> str | int:
    return ms if rng.random() < EPOCH_SHARE else iso_ms(ms)


def campaign_lines(rng: np.random.Generator, campaigns: Campaigns) -> list[tuple[int, str]]:
    """(updated_at, JSON line) per campaign version."""
    out: list[tuple[int, str]] = []
    for camp in campaigns.campaigns:
        for v in camp.versions:
            row = {
                "campaign_id": camp.campaign_id,
                "advertiser_id": camp.advertiser_id,
                "updated_at": _instant(rng, v.updated_at),
                "cpc_micros": v.cpc_micros,
                "currency": camp.currency,
                "starts_at": _instant(rng, v.starts_at),
                "ends_at": _instant(rng, v.ends_at),
                "status": v.status,
            }
            out.append((v.updated_at, dumps(row)))
    return out


def _minus_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def profile_lines(
    rng: np.random.Generator, creators: Creators, start_ms: int, days: int
) -> list[tuple[int, str]]:
    """(updated_at, JSON line) per creator profile version."""
    end_ms = start_ms + days * DAY_MS
    start_day = date(1970, 1, 1) + timedelta(days=start_ms // DAY_MS)
    names = [c for c, _ in catalog.CREATOR_COUNTRIES]
    p = np.array([w for _, w in catalog.CREATOR_COUNTRIES])
    p /= p.sum()
    foreign = [c for c in names if c not in ("US", "GB")]
    out: list[tuple[int, str]] = []
    for c, cid in enumerate(creators.ids):
        scen = Scenario(int(creators.scenario[c]))
        if scen == Scenario.NO_PROFILE:
            continue
        big = scen != Scenario.RANDOM or creators.role[c] != Role.NORMAL
        # Followers and lifetime views as linear functions of time (per day from start).
        if big:
            followers0 = float(rng.lognormal(np.log(120_000), 0.9)) + 30_000
        else:
            followers0 = float(rng.lognormal(np.log(6_000), 1.6))
        f_growth = followers0 * float(rng.uniform(0.0005, 0.008))
        l_growth = float(creators.views_per_day[c]) * float(rng.uniform(1.5, 4.0)) + 50.0
        lifetime0 = max(followers0 * float(rng.uniform(25, 160)), 2_500_000.0 if big else 0.0)
        if scen == Scenario.FOLLOWERS_CROSS:
            f_growth = float(rng.uniform(150, 400))
            followers0 = 25_000 - f_growth * 0.4 * days
        if scen == Scenario.LIFETIME_CROSS:
            l_growth = max(l_growth, 2_000.0)
            lifetime0 = 1_000_000 - l_growth * 0.45 * days

        if scen in ONE_FAILING_CRITERION:  # US/GB, so only the intended criterion fails
            country = "US" if rng.random() < 0.6 else "GB"
        elif scen == Scenario.FOREIGN:
            country = foreign[int(rng.integers(0, len(foreign)))]
        else:
            country = names[int(rng.choice(len(names), p=p))]

        if scen == Scenario.TURNS_18:
            birth = _minus_years(start_day + timedelta(days=days // 2), 18)
        elif scen == Scenario.UNDERAGE or (scen == Scenario.RANDOM and rng.random() < 0.04):
            birth = start_day - timedelta(days=int(rng.uniform(13.5, 17.5) * 365.25))
        else:
            birth = start_day - timedelta(days=int(rng.uniform(18.6, 52) * 365.25))

        if scen == Scenario.LATE_PROFILE:
            t = start_ms + int(rng.uniform(0.25, 0.5) * days * DAY_MS)
        else:
            t = start_ms - int(rng.uniform(20, 400) * DAY_MS)
        moves = scen == Scenario.RANDOM and rng.random() < 0.03
        first = True
        while t < end_ms:
            since = (t - start_ms) / DAY_MS
            if since >= 0:  # linear growth through the period
                followers = int(followers0 + f_growth * since + rng.normal(0, 3))
                lifetime = int(lifetime0 + l_growth * since)
            else:  # compounding growth before it (never negative)
                followers = int(followers0 * np.exp(f_growth / followers0 * since))
                lifetime = int(lifetime0 * np.exp(l_growth / lifetime0 * since))
            followers = max(0, followers)
            lifetime = max(followers, lifetime)
            if moves and not first and rng.random() < 0.5:
                country, moves = ("US" if country != "US" else "CA"), False
            row = {
                "creator_id": cid,
                "updated_at": _instant(rng, t),
                "followers": followers,
                "lifetime_views": lifetime,
                "birth_date": birth.isoformat(),
                "country": country,
            }
            out.append((t, dumps(row)))
            if first and t < start_ms:  # one refresh shortly before the period
                t = start_ms - int(rng.uniform(0.5, 10) * DAY_MS)
            else:
                t += int(rng.uniform(1.5, 8.0) * DAY_MS)
            first = False
    return out
