"""``pulse run`` input handling: missing files, missing folder, bad --as-of."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import RunResult, pulse
from .scenario import AS_OF

pytestmark = pytest.mark.integration


def test_missing_files_are_empty_streams(missing_files_run: RunResult) -> None:
    """Only views and clicks exist: no campaign (unknown_campaign), no profile."""
    run = missing_files_run
    click = run.click("m-k1")
    assert (click["status"], click["creator_id"], click["currency"], click["gross_micros"]) == (
        "unknown_campaign",
        "c-m",
        None,
        0,
    )
    for table in (
        "raw_rejected_events",
        "raw_late_events",
        "dim_creator_profiles",
        "dim_campaigns",
        "agg_creator_payouts_daily",
        "fct_eligibility_transitions",
    ):
        assert run.tables[table] == [], table
    windows = run.rows("fct_engagement_windows", creator_id="c-m")
    assert [w["window_start"][:10] for w in windows] == [f"2026-01-{d:02d}" for d in range(4, 11)]
    assert {(w["views"], w["comments"], w["valid_clicks"]) for w in windows} == {(1, 0, 0)}
    reasons = {tuple(r["reasons"]) for r in run.rows("fct_eligibility", creator_id="c-m")}
    assert reasons == {("low_engagement", "unknown_profile")}


def test_missing_input_folder_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    done = pulse(
        "run",
        "--input",
        str(missing),
        "--warehouse",
        str(tmp_path / "wh"),
        "--as-of",
        AS_OF,
        work_dir=tmp_path / "work",
        timeout=120,
    )
    assert done.returncode != 0
    assert "no-such-folder" in done.stderr
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("as_of", ["yesterday", "2026-13-45T00:00:00Z", ""])
def test_bad_as_of_is_a_clear_error(tmp_path: Path, as_of: str) -> None:
    input_dir = tmp_path / "input"
    input_dir.mkdir()
    done = pulse(
        "run",
        "--input",
        str(input_dir),
        "--warehouse",
        str(tmp_path / "wh"),
        "--as-of",
        as_of,
        work_dir=tmp_path / "work",
        timeout=120,
    )
    assert done.returncode != 0
    assert "--as-of" in done.stderr
    assert "Traceback" not in done.stderr
