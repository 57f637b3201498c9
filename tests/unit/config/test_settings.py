from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.config import DAY_MS, MINUTE_MS, load_settings
from pipelines.connectors.dsn import redact_dsn


def test_defaults_are_the_domain_numbers() -> None:
    s = load_settings()
    assert s.bot_tokens == ("bot", "crawler", "spider", "headless")
    assert s.click_flood_threshold == 20
    assert s.attribution_window_ms == 30 * MINUTE_MS
    assert s.duplicate_window_ms == 10 * MINUTE_MS
    assert (s.window_size_ms, s.window_slide_ms) == (7 * DAY_MS, DAY_MS)
    assert s.min_views_for_rate == 1000
    assert s.high_engagement_rate == Decimal("0.02")
    assert s.high_rate_ratio == (1, 50)
    assert (s.consistency_min_high, s.consistency_windows) == (5, 7)
    assert (s.min_followers, s.min_lifetime_views, s.min_age_years) == (25_000, 1_000_000, 18)
    assert s.eligible_countries == ("US", "GB")
    assert s.revenue_share_bp == 5000
    assert (s.watermark_delay_ms, s.allowed_lateness_ms) == (5 * MINUTE_MS, 60 * MINUTE_MS)
    assert s.dedup_horizon_ms == 7 * DAY_MS
    assert s.future_tolerance_ms == 10 * MINUTE_MS


def test_environment_and_file_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "pulse.toml"
    config.write_text('click_flood_threshold = 5\neligible_countries = ["US"]\n')
    monkeypatch.setenv("PULSE_CONFIG_FILE", str(config))
    monkeypatch.setenv("PULSE_REVENUE_SHARE_BP", "4000")
    s = load_settings()
    assert s.click_flood_threshold == 5
    assert s.eligible_countries == ("US",)
    assert s.revenue_share_bp == 4000
    # explicit overrides (CLI flags) win over env and file
    assert load_settings(revenue_share_bp=100).revenue_share_bp == 100


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        load_settings(revenue_share_bp=10_001)
    with pytest.raises(ValidationError):
        load_settings(unknown_setting=1)


def test_secrets_are_never_shown() -> None:
    s = load_settings(
        warehouse="clickhouse://finance:s3cret@127.0.0.1:8123/", warehouse_password="hunter2"
    )
    shown = repr(s.public_dict()) + repr(s)
    assert "s3cret" not in shown
    assert "hunter2" not in shown
    assert redact_dsn("clickhouse://u:p@h:8123/db") == "clickhouse://u:***@h:8123/db"
    assert redact_dsn("/data/warehouse") == "/data/warehouse"
