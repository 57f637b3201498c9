"""Consistently high engagement, eligibility reasons and transitions.

Every busy creator has one busy day (01-03), so it has window rows ending
01-04 .. 01-10, all HIGH except c-below/c-lowvol: evaluated at 01-04 .. 01-10
with 1, 2, ..., 7 HIGH windows, consistently high from 01-08 (5 of 7) on.
"""

from __future__ import annotations

import pytest

from .conftest import RunResult

pytestmark = pytest.mark.integration

LOW = "low_engagement"
FOLLOWERS = "insufficient_followers"
LIFETIME = "insufficient_lifetime_views"
UNDERAGE = "underage"
COUNTRY = "unsupported_country"
UNKNOWN = "unknown_profile"

EVAL_DAYS = [f"2026-01-{d:02d}" for d in range(4, 11)]


def at(day: str) -> str:
    return f"{day}T00:00:00.000Z"


def busy(
    profile_reasons: dict[str, list[str]] | list[str],
) -> dict[str, tuple[int, list[str]]]:
    """Expected (high_windows, reasons) per evaluation day of a busy, HIGH creator."""
    out: dict[str, tuple[int, list[str]]] = {}
    for high, day in enumerate(EVAL_DAYS, start=1):
        reasons = profile_reasons if isinstance(profile_reasons, list) else profile_reasons[day]
        out[day] = (high, sorted([*reasons, *([LOW] if high < 5 else [])]))
    return out


def by_day(before: list[str], day: str, after: list[str]) -> dict[str, list[str]]:
    """Profile reasons ``before`` evaluation day ``day``, ``after`` from it on."""
    return {d: before if d < day else after for d in EVAL_DAYS}


EXPECTED: dict[str, dict[str, tuple[int, list[str]]]] = {
    "c-ok": busy([]),
    "c-followers": busy([FOLLOWERS]),
    "c-lifetime": busy([LIFETIME]),
    "c-country": busy([COUNTRY]),
    "c-all": busy([FOLLOWERS, LIFETIME, UNDERAGE, COUNTRY]),
    "c-birthday": busy(by_day([UNDERAGE], "2026-01-09", [])),
    "c-profile-at-w": busy(by_day([FOLLOWERS], "2026-01-09", [])),
    "c-revoke": busy(by_day([], "2026-01-10", [COUNTRY])),
    "c-late-profile": busy(by_day([UNKNOWN], "2026-01-09", [])),
    "c-exact": busy([UNKNOWN]),
    "c-below": {d: (0, [LOW]) for d in EVAL_DAYS},
    "c-lowvol": {d: (0, [LOW]) for d in EVAL_DAYS},
}


@pytest.mark.parametrize("creator", sorted(EXPECTED))
def test_evaluations(main_run: RunResult, creator: str) -> None:
    rows = main_run.rows("fct_eligibility", creator_id=creator)
    got = {
        str(r["as_of"])[:10]: (
            r["high_windows"],
            r["reasons"],
            r["consistently_high"],
            r["eligible"],
        )
        for r in rows
    }
    want = {
        day: (high, reasons, high >= 5, reasons == [])
        for day, (high, reasons) in EXPECTED[creator].items()
    }
    assert got == want
    assert [r["as_of"] for r in rows] == [at(d) for d in EXPECTED[creator]]


def test_all_reasons_sorted(main_run: RunResult) -> None:
    row = main_run.one("fct_eligibility", creator_id="c-all", as_of=at("2026-01-04"))
    assert row["reasons"] == [
        "insufficient_followers",
        "insufficient_lifetime_views",
        "low_engagement",
        "underage",
        "unsupported_country",
    ]
    row = main_run.one("fct_eligibility", creator_id="c-exact", as_of=at("2026-01-04"))
    assert row["reasons"] == ["low_engagement", "unknown_profile"]
    for row in main_run.tables["fct_eligibility"]:
        assert row["reasons"] == sorted(row["reasons"]), row
        assert row["eligible"] is (row["reasons"] == []), row


def test_profile_as_of_window_end_is_inclusive(main_run: RunResult) -> None:
    """c-profile-at-w: versions at 2025-12-01 (100 followers), exactly 01-09T00:00
    (30,000) and 01-10T00:00:00.001 (100, after W=01-10 so not yet in force)."""
    rows = {
        str(r["as_of"])[:10]: r
        for r in main_run.rows("fct_eligibility", creator_id="c-profile-at-w")
    }
    assert rows["2026-01-08"]["followers"] == 100
    assert rows["2026-01-09"]["followers"] == 30_000
    assert rows["2026-01-09"]["profile_updated_at"] == "2026-01-09T00:00:00.000Z"
    assert rows["2026-01-10"]["followers"] == 30_000
    assert rows["2026-01-10"]["eligible"] is True


def test_eighteenth_birthday(main_run: RunResult) -> None:
    rows = {
        str(r["as_of"])[:10]: r for r in main_run.rows("fct_eligibility", creator_id="c-birthday")
    }
    assert rows["2026-01-08"]["reasons"] == ["underage"]
    assert rows["2026-01-09"]["reasons"] == []
    assert rows["2026-01-09"]["eligible"] is True


TRANSITIONS: dict[str, list[tuple[str, str, list[str]]]] = {
    "c-ok": [("2026-01-08", "granted", [])],
    "c-birthday": [("2026-01-09", "granted", [])],
    "c-profile-at-w": [("2026-01-09", "granted", [])],
    "c-late-profile": [("2026-01-09", "granted", [])],
    "c-revoke": [("2026-01-08", "granted", []), ("2026-01-10", "revoked", [COUNTRY])],
    # eligible 01-08 .. 01-12 (01-11: 6 HIGH windows, 01-12: 5), 4 at 01-13
    "c-rev": [("2026-01-08", "granted", []), ("2026-01-13", "revoked", [LOW])],
    # eligible 01-08 .. 01-10, no evaluation at 01-11, eligible 01-12, 4 at 01-13
    "c-rev2": [("2026-01-08", "granted", []), ("2026-01-13", "revoked", [LOW])],
}


def test_transitions(main_run: RunResult) -> None:
    got: dict[str, list[tuple[str, str, list[str]]]] = {}
    for row in main_run.tables["fct_eligibility_transitions"]:
        got.setdefault(row["creator_id"], []).append(
            (str(row["as_of"])[:10], row["transition"], row["reasons"])
        )
    assert got == TRANSITIONS


def test_no_evaluation_without_a_window_row(main_run: RunResult) -> None:
    """c-rev2 has no window row ending 01-11, so no evaluation at 01-11."""
    days = [str(r["as_of"])[:10] for r in main_run.rows("fct_eligibility", creator_id="c-rev2")]
    assert days == [*EVAL_DAYS, *(f"2026-01-{d}" for d in range(12, 20))]
    eligible = {
        str(r["as_of"])[:10]: (r["high_windows"], r["eligible"])
        for r in main_run.rows("fct_eligibility", creator_id="c-rev2")
    }
    assert eligible["2026-01-12"] == (5, True)
    assert eligible["2026-01-13"] == (4, False)
    windows = {
        str(r["window_end"])[:10]
        for r in main_run.rows("fct_engagement_windows", creator_id="c-rev2")
    }
    assert set(days) == windows


def test_every_window_end_is_evaluated(main_run: RunResult) -> None:
    windows = {
        (r["creator_id"], r["window_end"]) for r in main_run.tables["fct_engagement_windows"]
    }
    evaluations = {(r["creator_id"], r["as_of"]) for r in main_run.tables["fct_eligibility"]}
    assert windows == evaluations


def test_high_windows_match_the_window_table(main_run: RunResult) -> None:
    """high_windows at W = HIGH rows among the windows ending W-6d .. W (an independent
    recount over the dumped window table)."""
    from .builder import DAY, ms

    high = {
        (r["creator_id"], ms(r["window_end"]))
        for r in main_run.tables["fct_engagement_windows"]
        if r["high"]
    }
    for row in main_run.tables["fct_eligibility"]:
        w = ms(row["as_of"])
        count = sum((row["creator_id"], w - k * DAY) in high for k in range(7))
        assert row["high_windows"] == count, row
        assert row["consistently_high"] is (count >= 5), row
