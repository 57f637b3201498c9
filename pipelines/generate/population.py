"""Who exists: creators (with popularity and engagement roles), videos, users."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from pipelines.generate import catalog

VIEWS_PER_CREATOR_DAY = 70.0  # mean over all creators; sets the data volume
USERS_PER_CREATOR = 150
BOT_VIEW_SHARE = 0.025
MIN_WEEKLY_VIEWS_FOR_HIGH = 1500.0  # expected non-bot views a week for the "high" set

HIGH_COMMENT_P = 0.020
HIGH_CLICK_P = 0.013


class Role(IntEnum):
    NORMAL = 0  # ordinary engagement (below the threshold)
    HIGH = 1  # consistently above the threshold, enough volume
    RISER = 2  # starts below, ends above
    FALLER = 3  # starts above, ends below
    SMALL_HIGH = 4  # high rate, too few views


class Scenario(IntEnum):
    """How a creator's profile changelog looks (see changelogs.profiles)."""

    RANDOM = 0
    ELIGIBLE = 1  # US/GB adult, followers and lifetime views well above the bar
    FOLLOWERS_CROSS = 2  # crosses 25k followers mid-period
    LIFETIME_CROSS = 3  # crosses 1M lifetime views mid-period
    UNDERAGE = 4
    TURNS_18 = 5  # 18th birthday mid-period
    FOREIGN = 6  # country outside the eligible set
    NO_PROFILE = 7
    LATE_PROFILE = 8  # first profile version only mid-period


# Profile scenarios given to the "high" creators in popularity order (cycled).
HIGH_SCENARIOS = (
    Scenario.ELIGIBLE,
    Scenario.ELIGIBLE,
    Scenario.FOLLOWERS_CROSS,
    Scenario.UNDERAGE,
    Scenario.ELIGIBLE,
    Scenario.TURNS_18,
    Scenario.FOREIGN,
    Scenario.NO_PROFILE,
    Scenario.LIFETIME_CROSS,
    Scenario.LATE_PROFILE,
)
# Roles of the creators with enough volume, in popularity order (cycled).
ROLE_CYCLE = (
    Role.HIGH,
    Role.HIGH,
    Role.NORMAL,
    Role.RISER,
    Role.HIGH,
    Role.FALLER,
    Role.NORMAL,
    Role.HIGH,
    Role.HIGH,
    Role.NORMAL,
)


@dataclass(frozen=True)
class Creators:
    ids: list[str]
    views_per_day: NDArray[np.float64]  # expected views per day (all traffic)
    popularity_rank: NDArray[np.int64]  # 0 = most popular
    role: NDArray[np.int64]
    scenario: NDArray[np.int64]
    comment_p: NDArray[np.float64]  # (creators, days): comment probability per human view
    click_p: NDArray[np.float64]  # (creators, days): ad-click probability per human view
    video_offset: NDArray[np.int64]
    video_count: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Users:
    ids: list[str]
    cum_weight: NDArray[np.float64]  # cumulative activity weights of humans (normalised)
    human: NDArray[np.int64]  # user indices of humans
    bots: NDArray[np.int64]  # user indices of bots
    country: NDArray[np.int64]  # index into catalog.VIEWER_COUNTRIES
    agent: NDArray[np.int64]  # index into Population.agents

    def sample_humans(self, rng: np.random.Generator, n: int) -> NDArray[np.int64]:
        pos = np.searchsorted(self.cum_weight, rng.random(n), side="right")
        out: NDArray[np.int64] = self.human[np.minimum(pos, len(self.human) - 1)]
        return out


@dataclass(frozen=True)
class Population:
    creators: Creators
    users: Users
    video_ids: list[str]
    video_creator: NDArray[np.int64]
    video_weight: NDArray[np.float64]  # global popularity of each video (sums to 1)
    video_cum: NDArray[np.float64]  # cumulative in-channel weights: creator c spans (c, c+1]
    agents: list[str]  # human agents then bot agents
    countries: list[str]

    def pick_videos(
        self, rng: np.random.Generator, creator: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """One video per entry of ``creator``, by in-channel popularity."""
        pos = np.searchsorted(self.video_cum, creator + rng.random(len(creator)), side="left")
        first = self.creators.video_offset[creator]
        last = first + self.creators.video_count[creator] - 1
        return np.clip(pos, first, last).astype(np.int64)


def _weights(pairs: tuple[tuple[str, float], ...]) -> tuple[list[str], NDArray[np.float64]]:
    names = [name for name, _ in pairs]
    w = np.array([weight for _, weight in pairs], dtype=np.float64)
    return names, w / w.sum()


def build_creators(rng: np.random.Generator, n: int, days: int) -> Creators:
    # Zipf-like popularity with a random order of creator ids.
    rank = rng.permutation(n).astype(np.int64)
    zipf = 1.0 / np.power(rank + 1.0, 1.05)
    views_per_day = zipf / zipf.sum() * VIEWS_PER_CREATOR_DAY * n
    views_per_day *= rng.lognormal(0.0, 0.15, n)  # not a perfect curve

    by_rank = np.argsort(rank)
    weekly_human = views_per_day * 7 * (1 - BOT_VIEW_SHARE)
    volume_ok = [int(c) for c in by_rank if weekly_human[c] >= MIN_WEEKLY_VIEWS_FOR_HIGH]
    if not volume_ok:  # tiny data sets: lift the top creator so the set is never empty
        top = int(by_rank[0])
        views_per_day[top] = MIN_WEEKLY_VIEWS_FOR_HIGH * 1.2 / 7 / (1 - BOT_VIEW_SHARE)
        volume_ok = [top]

    role = np.full(n, Role.NORMAL, dtype=np.int64)
    for i, c in enumerate(volume_ok):
        role[c] = ROLE_CYCLE[i % len(ROLE_CYCLE)]
    chosen = set(volume_ok)
    rest = np.array([c for c in range(n) if c not in chosen], dtype=np.int64)
    if len(rest):
        small_high = rest[rng.random(len(rest)) < 0.25]
        role[small_high] = Role.SMALL_HIGH

    scenario = np.zeros(n, dtype=np.int64)
    k = 0
    for c in by_rank.tolist():
        if role[c] == Role.HIGH:
            scenario[c] = HIGH_SCENARIOS[k % len(HIGH_SCENARIOS)]
            k += 1
        elif role[c] in (Role.RISER, Role.FALLER):
            scenario[c] = Scenario.ELIGIBLE  # so that eligibility is granted / revoked
    # Every edge case exists at least once: given to the most popular ordinary creators.
    spare = [c for c in by_rank.tolist() if scenario[c] == Scenario.RANDOM]
    for edge in HIGH_SCENARIOS:
        if edge not in scenario and spare:
            scenario[spare.pop(0)] = edge
    # Some ordinary creators also lack a profile or get it late.
    normal = np.flatnonzero(scenario == Scenario.RANDOM)
    draw = rng.random(len(normal))
    scenario[normal[draw < 0.03]] = Scenario.NO_PROFILE
    scenario[normal[(draw >= 0.03) & (draw < 0.06)]] = Scenario.LATE_PROFILE

    # Engagement probabilities per creator and day.
    base_comment = rng.uniform(0.004, 0.009, n)
    base_click = rng.uniform(0.003, 0.006, n)
    high = np.isin(role, (Role.HIGH, Role.RISER, Role.FALLER, Role.SMALL_HIGH))
    base_comment[high] = HIGH_COMMENT_P * rng.uniform(0.95, 1.15, int(high.sum()))
    base_click[high] = HIGH_CLICK_P * rng.uniform(0.95, 1.15, int(high.sum()))
    ramp = np.linspace(0.0, 1.0, days) if days > 1 else np.ones(1)
    shape = np.ones((n, days))
    shape[role == Role.RISER] = 0.4 + 0.8 * ramp
    shape[role == Role.FALLER] = 1.2 - 0.85 * ramp
    noise = rng.lognormal(0.0, 0.18, (n, days))  # the odd bad day
    comment_p = np.clip(base_comment[:, None] * shape * noise, 0.0, 0.5)
    click_p = np.clip(base_click[:, None] * shape * noise, 0.0, 0.5)

    # Videos: more for popular creators; a long tail of small channels with few uploads.
    video_count = 1 + rng.poisson(2.0 + 25.0 * zipf / zipf.max() + 3.0 * rng.random(n))
    video_offset = np.concatenate(([0], np.cumsum(video_count)[:-1])).astype(np.int64)

    return Creators(
        ids=[f"cr_{i:05d}" for i in range(n)],
        views_per_day=views_per_day,
        popularity_rank=rank,
        role=role,
        scenario=scenario,
        comment_p=comment_p,
        click_p=click_p,
        video_offset=video_offset,
        video_count=video_count.astype(np.int64),
    )


def build_population(rng: np.random.Generator, n_creators: int, days: int) -> Population:
    creators = build_creators(rng, n_creators, days)

    n_videos = int(creators.video_count.sum())
    video_creator = np.repeat(np.arange(n_creators), creators.video_count).astype(np.int64)
    local = np.arange(n_videos) - creators.video_offset[video_creator]
    # Within a channel a few videos take most views (power law over upload rank).
    within = 1.0 / np.power(local + 1.0, 1.2)
    within *= rng.lognormal(0.0, 0.5, n_videos)
    per_creator = np.bincount(video_creator, weights=within, minlength=n_creators)
    video_cum = np.cumsum(within / per_creator[video_creator])
    video_weight = within / per_creator[video_creator] * creators.views_per_day[video_creator]
    video_weight /= video_weight.sum()

    countries, country_p = _weights(catalog.VIEWER_COUNTRIES)
    human_agents, agent_p = _weights(catalog.HUMAN_USER_AGENTS)
    agents = human_agents + list(catalog.BOT_USER_AGENTS)

    n_users = max(500, n_creators * USERS_PER_CREATOR)
    n_bots = max(8, n_users // 500)
    order = rng.permutation(n_users)
    bots = np.sort(order[:n_bots]).astype(np.int64)
    human = np.sort(order[n_bots:]).astype(np.int64)
    activity = 1.0 / np.power(rng.permutation(len(human)) + 1.0, 0.75)
    cum = np.cumsum(activity)
    cum /= cum[-1]

    country = rng.choice(len(countries), size=n_users, p=country_p).astype(np.int64)
    agent = rng.choice(len(human_agents), size=n_users, p=agent_p).astype(np.int64)
    agent[bots] = len(human_agents) + rng.integers(0, len(catalog.BOT_USER_AGENTS), n_bots)

    users = Users(
        ids=[f"u_{i:07d}" for i in range(n_users)],
        cum_weight=cum,
        human=human,
        bots=bots,
        country=country,
        agent=agent,
    )
    return Population(
        creators=creators,
        users=users,
        video_ids=[f"vid_{i:07d}" for i in range(n_videos)],
        video_creator=video_creator,
        video_weight=video_weight,
        video_cum=video_cum,
        agents=agents,
        countries=countries,
    )
