"""Attribution of a click to the latest view of the same video by the same user."""

from __future__ import annotations

import pytest

from .conftest import RunResult

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("click_id", "creator"),
    [
        ("a-30min", "c-clk"),  # view exactly 30 minutes before counts
        ("a-same-ms", "c-clk"),  # view at the click's own ms counts
        ("a-latest", "c-attr-new"),  # latest view wins (even with the smaller event_id)
        ("a-tie", "c-tie-large"),  # same view time: larger event_id (a-tie-v2)
        ("a-tp-click", "c-tp-long"),  # same view time: "a-tp-2" > "a-tp"
        ("a-bot-view", "c-clk"),  # a bot view counts for attribution
        ("a-epoch", "c-clk"),
        ("a-offset", "c-clk"),
    ],
)
def test_attributed_creator_and_valid(main_run: RunResult, click_id: str, creator: str) -> None:
    row = main_run.click(click_id)
    assert (row["status"], row["creator_id"]) == ("valid", creator)


def test_attributed_view_is_recorded(main_run: RunResult) -> None:
    assert main_run.click("a-latest")["attributed_view_id"] == "a-latest-va"
    assert main_run.click("a-tie")["attributed_view_id"] == "a-tie-v2"
    assert main_run.click("a-30min")["attributed_view_time"] == "2026-01-10T14:30:00.000Z"


def test_instants_in_any_accepted_form_are_utc_ms(main_run: RunResult) -> None:
    # integer epoch ms, and RFC 3339 with a +01:00 offset, both mean 15:00Z
    assert main_run.click("a-epoch")["event_time"] == "2026-01-10T15:00:00.000Z"
    assert main_run.click("a-offset")["event_time"] == "2026-01-10T15:00:00.000Z"
    assert main_run.click("s-before-end")["event_time"] == "2026-01-10T11:59:59.999Z"


def test_click_columns_are_carried(main_run: RunResult) -> None:
    row = main_run.click("dad-2")
    assert {k: row[k] for k in ("user_id", "ad_id", "campaign_id", "video_id")} == {
        "user_id": "u-dad",
        "ad_id": "ad-2",
        "campaign_id": "cmp-main",
        "video_id": "vid-dad",
    }
    assert row["event_time"] == "2026-01-10T16:01:00.000Z"


def test_no_view_means_null_creator_for_every_status(main_run: RunResult) -> None:
    for click_id in ("s-nv-none", "s-unknown-noview", "s-paused-noview", "s-bot-paused-noview"):
        assert main_run.click(click_id)["creator_id"] is None, click_id
