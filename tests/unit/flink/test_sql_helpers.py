import pytest

from pipelines.config import load_settings
from pipelines.flink import statements
from pipelines.flink.sql import (
    contains_any_token,
    in_list,
    interval,
    like_contains,
    string_literal,
)


def test_interval_renders_day_to_second() -> None:
    assert interval(0) == "INTERVAL '0 00:00:00.000' DAY TO SECOND(3)"
    assert interval(7 * 86_400_000) == "INTERVAL '7 00:00:00.000' DAY TO SECOND(3)"
    assert interval(30 * 60_000 + 1) == "INTERVAL '0 00:30:00.001' DAY TO SECOND(3)"
    with pytest.raises(ValueError):
        interval(100 * 86_400_000)


def test_string_literal_escapes_quotes() -> None:
    assert string_literal("it's") == "'it''s'"


def test_bot_predicate_is_case_insensitive_and_null_safe() -> None:
    sql = contains_any_token("ua", ["Bot", "spider"])
    assert sql == "COALESCE(LOWER(ua) LIKE '%bot%' OR LOWER(ua) LIKE '%spider%', FALSE)"
    assert contains_any_token("ua", []) == "FALSE"


def test_like_contains_escapes_wildcards_only_when_present() -> None:
    assert like_contains("c", "bot") == "c LIKE '%bot%'"
    assert like_contains("c", "50%_off\\") == "c LIKE '%50\\%\\_off\\\\%' ESCAPE '\\'"
    assert like_contains("c", "o'brien") == "c LIKE '%o''brien%'"


def test_in_list() -> None:
    assert in_list("c", ["US", "GB"]) == "c IN ('US', 'GB')"


def test_thresholds_come_from_settings() -> None:
    settings = load_settings(click_flood_threshold=7, min_views_for_rate=50)
    assert "HAVING COUNT(*) > 7" in statements.click_floods(settings)
    windows = statements.engagement_windows(settings)
    assert ">= 50" in windows
    # 0.02 as an exact fraction: (comments + clicks) * 50 >= views * 1
    assert "* 50 >= `views` * 1" in windows
