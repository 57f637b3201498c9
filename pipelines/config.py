"""The one configuration object of pulse.

Every number of the domain contract (``../shared/DOMAIN.md``) is a default here.
Values are read, in rising priority, from the defaults below, an optional TOML
file named by ``PULSE_CONFIG_FILE`` (or ``pulse --config FILE``), and ``PULSE_*``
environment variables (``PULSE_WAREHOUSE``, ``PULSE_KAFKA_BOOTSTRAP``, ...).
Durations are integer milliseconds, money integer micros, rates exact decimals.
"""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

CONFIG_FILE_ENV = "PULSE_CONFIG_FILE"


class Settings(BaseSettings):
    """Frozen settings; build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="PULSE_", frozen=True, extra="forbid", env_nested_delimiter="__"
    )

    # --- where things live -------------------------------------------------
    warehouse: str = Field(
        default=".pulse/warehouse",
        description="A folder (embedded chdb) or clickhouse://user:password@host:8123/",
    )
    warehouse_password: SecretStr | None = Field(
        default=None, description="ClickHouse password, if not inside the DSN"
    )
    database: str = "pulse"
    work_dir: str = Field(default=".pulse/work", description="scratch space of bounded runs")
    kafka_bootstrap: str = "127.0.0.1:9092"
    jars_dir: str = Field(default="infra/target/jars", description="connector jars (make setup)")

    # --- input contract ------------------------------------------------------
    future_tolerance_ms: int = Field(default=10 * MINUTE_MS, ge=0)
    dedup_horizon_ms: int = Field(default=7 * DAY_MS, gt=0)

    # --- invalid traffic -------------------------------------------------------
    bot_tokens: tuple[str, ...] = ("bot", "crawler", "spider", "headless")
    click_flood_threshold: int = Field(default=20, ge=1, description="> N clicks/user/minute")

    # --- attribution and click statuses ----------------------------------------
    attribution_window_ms: int = Field(default=30 * MINUTE_MS, gt=0)
    duplicate_window_ms: int = Field(default=10 * MINUTE_MS, gt=0)

    # --- engagement windows -----------------------------------------------------
    window_size_ms: int = Field(default=7 * DAY_MS, gt=0)
    window_slide_ms: int = Field(default=DAY_MS, gt=0)
    min_views_for_rate: int = Field(default=1000, ge=1)
    high_engagement_rate: Decimal = Decimal("0.02")

    # --- consistency and eligibility ---------------------------------------------
    consistency_windows: int = Field(default=7, ge=1)
    consistency_min_high: int = Field(default=5, ge=1)
    min_followers: int = 25_000
    min_lifetime_views: int = 1_000_000
    min_age_years: int = 18
    eligible_countries: tuple[str, ...] = ("US", "GB")

    # --- revenue --------------------------------------------------------------------
    revenue_share_bp: int = Field(default=5000, ge=0, le=10_000, description="basis points")

    # --- event time ------------------------------------------------------------------
    watermark_delay_ms: int = Field(default=5 * MINUTE_MS, ge=0)
    allowed_lateness_ms: int = Field(default=HOUR_MS, ge=0)

    # --- operations --------------------------------------------------------------------
    # 1 measured fastest on 2 cores (BENCHMARKS.md): operators already run in separate threads.
    flink_parallelism: int = Field(default=1, ge=1)
    flink_jvm_heap: str = Field(
        default="2g", pattern=r"^[0-9]+[kmg]$", description="max heap of the local Flink JVM"
    )
    metrics_port: int | None = Field(default=None, description="serve Prometheus metrics here")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @property
    def high_rate_ratio(self) -> tuple[int, int]:
        """The HIGH threshold as an exact fraction (numerator, denominator)."""
        return self.high_engagement_rate.as_integer_ratio()

    def __repr_args__(self) -> Any:
        """repr() never shows a password embedded in the warehouse DSN."""
        from pipelines.connectors.dsn import redact_dsn

        for key, value in super().__repr_args__():
            yield key, redact_dsn(value) if key == "warehouse" else value

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to print: secrets masked, passwords in DSNs redacted."""
        from pipelines.connectors.dsn import redact_dsn

        data = self.model_dump()
        data["warehouse"] = redact_dsn(self.warehouse)
        data["warehouse_password"] = "**********" if self.warehouse_password else None
        data["high_engagement_rate"] = str(self.high_engagement_rate)
        return data


def load_settings(**overrides: Any) -> Settings:
    """Build settings; ``overrides`` (e.g. from CLI flags) win over env and file."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    return load_settings()
