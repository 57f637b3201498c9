"""Click statuses and their order of precedence (docs/rules.md "Invalid traffic", "Attribution")."""

from __future__ import annotations

import pytest

from .conftest import RunResult

pytestmark = pytest.mark.integration

# click_id -> (status, attributed creator) written out by hand from scenario.py
EXPECTED: dict[str, tuple[str, str | None]] = {
    # bot: token anywhere, any case; precedes every other status; attribution still recorded
    "s-bot-headless": ("bot", "c-clk"),
    "s-bot-crawler": ("bot", "c-clk"),
    "s-bot-spider": ("bot", "c-clk"),
    "s-bot-unknown-campaign": ("bot", "c-clk"),
    "s-bot-paused-noview": ("bot", None),
    # unknown_campaign: no version with updated_at <= t (cmp-late starts at 12:00)
    "s-unknown": ("unknown_campaign", "c-clk"),
    "s-unknown-noview": ("unknown_campaign", None),
    "s-before-first-version": ("unknown_campaign", "c-clk"),
    "s-at-first-version": ("valid", "c-clk"),
    # campaign_inactive: paused, or t outside [starts_at, ends_at)
    "s-paused": ("campaign_inactive", "c-clk"),
    "s-paused-noview": ("campaign_inactive", None),
    "s-before-start": ("campaign_inactive", "c-clk"),
    "s-at-start": ("valid", "c-clk"),
    "s-before-end": ("valid", "c-clk"),
    "s-at-end": ("campaign_inactive", "c-clk"),
    "s-before-pause": ("valid", "c-clk"),
    "s-at-pause": ("campaign_inactive", "c-clk"),
    # no_prior_view
    "s-nv-too-old": ("no_prior_view", None),
    "s-nv-after": ("no_prior_view", None),
    "s-nv-none": ("no_prior_view", None),
    "s-nv-other-video": ("no_prior_view", None),
    "s-nv-other-user": ("no_prior_view", None),
    # duplicates of (user, ad, video) within (t - 10 min, t]
    "d10-a": ("valid", "c-clk"),
    "d10-b": ("valid", "c-clk"),  # exactly 10 minutes later
    "d9-a": ("valid", "c-clk"),
    "d9-b": ("duplicate", "c-clk"),  # 10 minutes - 1 ms later
    "dc-0": ("valid", "c-clk"),
    "dc-6": ("duplicate", "c-clk"),
    "dc-12": ("valid", "c-clk"),  # 12 min after the last VALID one (dc-0)
    "db-bot": ("bot", "c-clk"),
    "db-next": ("valid", "c-clk"),  # the earlier click was not valid
    "dt-a": ("valid", "c-clk"),  # same ms: (event_time, event_id) order
    "dt-b": ("duplicate", "c-clk"),
    "dad-1": ("valid", "c-clk"),
    "dad-2": ("valid", "c-clk"),  # another ad
    "dv-1": ("valid", "c-clk"),
    "dv-2": ("valid", "c-clk"),  # another video
    "dinact-1": ("campaign_inactive", "c-clk"),
    "dinact-2": ("valid", "c-clk"),
    "r-mod": ("valid", "c-clk"),  # its replay (same id, bot UA) is dropped
    # flood boundaries of user u-flood21 (minute 10:05)
    "f21-before": ("valid", "c-clk"),
    "f21-after": ("valid", "c-clk"),
}


@pytest.mark.parametrize("click_id", sorted(EXPECTED))
def test_click_status_and_creator(main_run: RunResult, click_id: str) -> None:
    status, creator = EXPECTED[click_id]
    row = main_run.click(click_id)
    assert (row["status"], row["creator_id"]) == (status, creator)


def test_flood_of_21_clicks_in_one_minute_makes_all_21_invalid(main_run: RunResult) -> None:
    rows = {f"f21-{i:02d}": main_run.click(f"f21-{i:02d}") for i in range(21)}
    assert {cid: r["status"] for cid, r in rows.items()} == {cid: "click_flood" for cid in rows}
    # flood precedes unknown_campaign (f21-03) and no_prior_view (f21-04, no view: no creator)
    assert rows["f21-03"]["campaign_id"] == "cmp-unknown"
    assert rows["f21-04"]["creator_id"] is None
    assert {r["creator_id"] for cid, r in rows.items() if cid != "f21-04"} == {"c-clk"}


def test_bot_clicks_count_toward_the_flood(main_run: RunResult) -> None:
    statuses = {f"fb-{i:02d}": main_run.click(f"fb-{i:02d}")["status"] for i in range(20)}
    assert statuses == {cid: "click_flood" for cid in statuses}
    assert main_run.click("fb-bot")["status"] == "bot"


def test_twenty_clicks_in_one_minute_are_no_flood(main_run: RunResult) -> None:
    statuses = {main_run.click(f"f20-{i:02d}")["status"] for i in range(20)}
    assert statuses == {"valid"}


def test_flood_counts_per_calendar_minute(main_run: RunResult) -> None:
    """22 clicks within 50 s, split 11/11 over two UTC minutes: no flood."""
    statuses = {main_run.click(f"fs-{i:02d}")["status"] for i in range(22)}
    assert statuses == {"valid"}


def test_replays_and_rejected_clicks_do_not_count_toward_the_flood(main_run: RunResult) -> None:
    """u-floodreplay: 20 accepted clicks in minute 10:30, plus a replay of fr-07 and a
    rejected click (missing campaign_id) in the same minute: no flood."""
    statuses = {main_run.click(f"fr-{i:02d}")["status"] for i in range(20)}
    assert statuses == {"valid"}
    assert main_run.rows("fct_attributed_clicks", click_id="fr-rejected") == []


def test_every_input_click_has_exactly_one_row(main_run: RunResult) -> None:
    ids = [row["click_id"] for row in main_run.tables["fct_attributed_clicks"]]
    assert len(ids) == len(set(ids))
    # accepted clicks of the data set: everything but the rejected and the late ones
    assert "bad-k1" not in ids
    assert "bad-k2" not in ids
    assert "vc-late-k" not in ids
    expected = (
        set(EXPECTED)
        | {f"f21-{i:02d}" for i in range(21)}
        | {f"fb-{i:02d}" for i in range(20)}
        | {"fb-bot"}
        | {f"f20-{i:02d}" for i in range(20)}
        | {f"fs-{i:02d}" for i in range(22)}
        | {f"fr-{i:02d}" for i in range(20)}
        | {
            "a-30min",
            "a-same-ms",
            "a-latest",
            "a-tie",
            "a-tp-click",
            "a-bot-view",
            "a-epoch",
            "a-offset",
        }
        | {
            "rev-before",
            "rev-at",
            "rev-eur-old",
            "rev-eur-new",
            "rev-bot",
            "rev2-no-eval",
            "rev2-eval",
        }
        | {"vc-k1", "vc-k2", "vc-k3", "vc-k4", "vc-k5", "t-tail-k"}
    )
    assert set(ids) == expected


def test_status_values_are_the_domain_codes(main_run: RunResult) -> None:
    statuses = {row["status"] for row in main_run.tables["fct_attributed_clicks"]}
    assert statuses == {
        "bot",
        "click_flood",
        "unknown_campaign",
        "campaign_inactive",
        "no_prior_view",
        "duplicate",
        "valid",
    }
