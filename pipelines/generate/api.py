"""``generate()``: a deterministic synthetic data set of the five input streams."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from pipelines.domain.time import DAY_MS
from pipelines.generate import anomalies, changelogs, traffic
from pipelines.generate.population import build_population
from pipelines.generate.writer import Lines, Progress, write_lines

DEFAULT_CREATORS = 200
DEFAULT_DAYS = 28
DEFAULT_SEED = 7
DEFAULT_START = date(2026, 10, 1)
FILES = ("views", "comments", "ad_clicks", "creator_profiles", "campaigns")


def _epoch_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _extras(
    rng: np.random.Generator, lines: Lines, stream: str, end_ms: int, beyond: bool = False
) -> list[tuple[int, str]]:
    inserts = anomalies.replays(rng, lines)
    if beyond:
        inserts += anomalies.replay_beyond_horizon(rng, lines)
    return inserts + anomalies.malformed(rng, lines, stream, end_ms)


def _changelog(rng: np.random.Generator, rows: list[tuple[int, str]]) -> Lines:
    times = np.array([t for t, _ in rows], dtype=np.int64)
    order = anomalies.arrival_order(rng, times, late=False)
    return Lines.of([rows[i][1] for i in order.tolist()])


def generate(
    out_dir: str | Path,
    creators: int = DEFAULT_CREATORS,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    start: date = DEFAULT_START,
    *,
    quiet: bool = True,
    on_file: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Write ``views``, ``comments``, ``ad_clicks``, ``creator_profiles`` and
    ``campaigns`` ``.jsonl`` files into ``out_dir``; return lines per file name.

    The output is a pure function of the arguments (byte-identical reruns).
    ``quiet=False`` shows a progress bar on a terminal; ``on_file(name, lines)``
    is called after each file is written.
    """
    if creators < 1:
        raise ValueError("creators must be >= 1")
    if days < 1:
        raise ValueError("days must be >= 1")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start_ms = _epoch_ms(start)
    end_ms = start_ms + days * DAY_MS

    (
        g_pop,
        g_camp,
        g_views,
        g_comments,
        g_clicks,
        g_profiles,
        g_out_views,
        g_out_comments,
        g_out_clicks,
        g_out_logs,
    ) = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10))

    pop = build_population(g_pop, creators, days)
    campaigns = changelogs.build_campaigns(g_camp, creators, start_ms, days)
    views = traffic.build_views(g_views, pop, start_ms, days)
    comments = traffic.build_comments(g_comments, pop, views, start_ms, end_ms)
    clicks, flood_views = traffic.build_clicks(g_clicks, pop, campaigns, views, start_ms, days)
    views = traffic.merge_views(views, flood_views)

    # Plan every file first (cheap: lines render lazily), so the bar knows its total.
    plan: list[tuple[str, Lines, list[tuple[int, str]]]] = []

    def add(name: str, lines: Lines, rng: np.random.Generator, beyond: bool = False) -> None:
        plan.append((name, lines, _extras(rng, lines, name, end_ms, beyond)))

    add("views", traffic.view_lines(g_out_views, pop, views), g_out_views)
    add("comments", traffic.comment_lines(g_out_comments, pop, comments), g_out_comments)
    add(
        "ad_clicks",
        traffic.click_lines(g_out_clicks, pop, campaigns, clicks),
        g_out_clicks,
        beyond=True,
    )
    profile_rows = changelogs.profile_lines(g_profiles, pop.creators, start_ms, days)
    add("creator_profiles", _changelog(g_out_logs, profile_rows), g_out_logs)
    campaign_rows = changelogs.campaign_lines(g_out_logs, campaigns)
    add("campaigns", _changelog(g_out_logs, campaign_rows), g_out_logs)

    counts: dict[str, int] = {}
    progress = Progress(total=sum(ln.count + len(extra) for _, ln, extra in plan), quiet=quiet)
    try:
        for name, lines, extra in plan:
            file = f"{name}.jsonl"
            counts[file] = write_lines(out / file, lines, extra, progress)
            if on_file is not None:
                on_file(file, counts[file])
    finally:
        progress.close()
    return counts
