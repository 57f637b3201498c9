"""The one configuration object of pulse, and the only module that reads the environment.

Every number of the business rules (``docs/rules.md``) is a flat field with its default
here; everything operational lives in a nested section: ``kafka``, ``ingest``, ``loader``,
``flink``, ``stack``, ``metrics``. Values are read, in rising priority, from

1. the defaults below;
2. an optional TOML file named by ``PULSE_CONFIG_FILE`` (or ``pulse --config FILE``), with one
   table per section (``[kafka]``, ``[flink]``, ...);
3. secret files in the folder named by ``PULSE_SECRETS_DIR`` (a mounted Kubernetes secret):
   one file per field, named like the field, sections joined by ``__`` (``warehouse_password``,
   ``kafka__sasl_password``), no ``PULSE_`` prefix;
4. ``PULSE_*`` environment variables: ``PULSE_<FIELD>`` for a flat field
   (``PULSE_WAREHOUSE``), ``PULSE_<SECTION>__<FIELD>`` inside a section
   (``PULSE_KAFKA__BOOTSTRAP``, ``PULSE_FLINK__PARALLELISM``, ``PULSE_LOADER__BATCH``);
5. explicit overrides of :func:`load_settings` (command-line flags).

Durations are integer milliseconds (rules) or seconds where the name says ``_s``, money
integer micros, rates exact decimals. Secrets are :class:`~pydantic.SecretStr`: never logged,
masked by :meth:`Settings.public_dict` and ``repr``.

Jobs build ONE :class:`Settings` at start and pass it (or a section) down; no other module of
``pipelines/`` or ``jobs/`` reads ``os.environ``. Platform variables that are not pulse
settings (``JAVA_HOME``, PyFlink's ``JVM_ARGS``) go through :func:`platform_variable` and
:func:`export_to_children` here too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pipelines.connectors.warehouse_target import is_embedded_target
from pipelines.domain.time import DAY_MS, HOUR_MS, MINUTE_MS
from pipelines.dsn import redact_dsn
from pipelines.errors import PulseError
from pipelines.settings_sections import (
    ClusterSettings,
    FlinkSettings,
    IngestSettings,
    KafkaSettings,
    LoaderSettings,
    MetricsSettings,
    StackSettings,
)
from pipelines.validation.instants import instant_ms

CONFIG_FILE_ENV = "PULSE_CONFIG_FILE"
SECRETS_DIR_ENV = "PULSE_SECRETS_DIR"
MASK = "**********"

#: environment variables of earlier versions -> their name now (refused with this hint)
RENAMED_ENV: dict[str, str] = {
    "PULSE_KAFKA_BOOTSTRAP": "PULSE_KAFKA__BOOTSTRAP",
    "PULSE_KAFKA_DATA_DIR": "PULSE_KAFKA__DATA_DIR",
    "PULSE_INGEST_APP_ID": "PULSE_INGEST__GROUP",
    "PULSE_INGEST_GROUP": "PULSE_INGEST__GROUP",
    "PULSE_INGEST_TOPIC_PREFIX": "PULSE_KAFKA__TOPIC_PREFIX",
    "PULSE_INGEST_STREAMS": "PULSE_INGEST__STREAMS",
    "PULSE_INGEST_MAX_BATCH": "PULSE_INGEST__MAX_BATCH",
    "PULSE_INGEST_SESSION_TIMEOUT_MS": "PULSE_INGEST__SESSION_TIMEOUT_MS",
    "PULSE_INGEST_DATADIR": "PULSE_INGEST__DATA_DIR",
    "PULSE_INGEST_CMD": "PULSE_INGEST__COMMAND",
    "PULSE_LOADER_GROUP": "PULSE_LOADER__GROUP",
    "PULSE_LOADER_BATCH": "PULSE_LOADER__BATCH",
    "PULSE_LOADER_WITHIN_S": "PULSE_LOADER__WITHIN_S",
    "PULSE_LOADER_DATADIR": "PULSE_LOADER__DATA_DIR",
    "PULSE_LOADER_JOURNAL": "PULSE_LOADER__JOURNAL",
    "PULSE_FLINK_PARALLELISM": "PULSE_FLINK__PARALLELISM",
    "PULSE_FLINK_JVM_HEAP": "PULSE_FLINK__JVM_HEAP",
    "PULSE_FLINK_REST_PORT": "PULSE_FLINK__REST_PORT",
    "PULSE_FLINK_CHECKPOINT_DIR": "PULSE_FLINK__CHECKPOINT_DIR",
    "PULSE_FLINK_CHECKPOINT_INTERVAL_S": "PULSE_FLINK__CHECKPOINT_INTERVAL_S",
    "PULSE_FLINK_IDLE_TIMEOUT_S": "PULSE_FLINK__CHANGELOG_IDLE_TIMEOUT_S",
    "PULSE_FLINK__IDLE_TIMEOUT_S": "PULSE_FLINK__CHANGELOG_IDLE_TIMEOUT_S",
    "PULSE_FLINK_GROUP": "PULSE_FLINK__GROUP",
    "PULSE_STACK_DIR": "PULSE_STACK__DIR",
    "PULSE_METRICS_PORT": "PULSE_METRICS__PORT",
}


class ObsoleteSettingError(PulseError):
    """An environment variable of an earlier version is set (it would be silently ignored)."""


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
    warehouse_cluster: bool = Field(
        default=False,
        description="the warehouse is a ClickHouse CLUSTER with the tables of "
        "schemas/clickhouse/cluster/ (docs/warehouse-cluster.md): every statement carries "
        "distributed_foreground_insert=1, insert_quorum and async_insert=0, inserts a "
        "deduplication token, and deletes, partition swaps and OPTIMIZE name the _local tables "
        "ON CLUSTER '{cluster}'; needs a server DSN (never the embedded chdb)",
    )
    warehouse_insert_quorum: int | Literal["auto"] = Field(
        default=2,
        description="insert_quorum of the cluster's inserts: the replicas per shard (2, the "
        "smallest replicated layout), so every replica has a batch before the loader acks it "
        "and the payout rebuild's FINAL read finds it on any replica; 'auto' is a majority "
        "(weaker with 3+ replicas); 0 or 1: no quorum. More than the live replicas of a shard "
        "fails the inserts (the loader retries, then exits without committing)",
    )
    work_dir: str = Field(default=".pulse/work", description="scratch space of bounded runs")
    jars_dir: str = Field(default="infra/target/jars", description="connector jars (make setup)")

    # --- input contract ------------------------------------------------------
    future_tolerance_ms: int = Field(default=10 * MINUTE_MS, ge=0)
    as_of: int | None = Field(
        default=None,
        description="reference clock of the future rule (epoch ms or RFC 3339): None = the "
        "wall clock (live); a fixed instant for a backfill (pulse up --as-of, pulse run --as-of)",
    )
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
    watermark_jump_warn_ms: int = Field(
        default=DAY_MS, gt=0, description="warn when one event moves a watermark this far ahead"
    )
    late_share_warn: float = Field(
        default=0.01, ge=0, le=1, description="warn when this share of a stream's events is late"
    )

    # --- operations (sections) ----------------------------------------------------------
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    loader: LoaderSettings = Field(default_factory=LoaderSettings)
    flink: FlinkSettings = Field(default_factory=FlinkSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

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
        secrets_dir = os.environ.get(SECRETS_DIR_ENV)
        if secrets_dir:
            sources.append(
                NestedSecretsSettingsSource(
                    file_secret_settings,
                    secrets_dir=Path(secrets_dir),
                    secrets_dir_missing="error",
                    secrets_prefix="",
                    secrets_nested_delimiter="__",
                )
            )
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @field_validator("warehouse_insert_quorum")
    @classmethod
    def _quorum(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("insert_quorum is a number of replicas (>= 0) or 'auto'")
        return value

    @model_validator(mode="after")
    def _cluster_needs_a_server(self) -> Settings:
        if self.warehouse_cluster and is_embedded_target(self.warehouse):
            raise ValueError(
                f"warehouse_cluster is on but the warehouse {redact_dsn(self.warehouse)!r} is "
                "the embedded chdb (a folder): a cluster needs a ClickHouse server DSN "
                "(clickhouse://user@host:8123/); turn warehouse_cluster off for chdb"
            )
        return self

    @field_validator("as_of", mode="before")
    @classmethod
    def _instant(cls, value: object) -> object:
        """Epoch milliseconds (number or digits) or RFC 3339 text."""
        if isinstance(value, str):
            text = value.strip()
            parsed = instant_ms(int(text)) if text.lstrip("-").isdigit() else instant_ms(text)
            if parsed is None:
                raise ValueError(f"{value!r} is neither epoch milliseconds nor RFC 3339")
            return parsed
        return value

    @property
    def high_rate_ratio(self) -> tuple[int, int]:
        """The HIGH threshold as an exact fraction (numerator, denominator)."""
        return self.high_engagement_rate.as_integer_ratio()

    def __repr_args__(self) -> Any:
        """repr() never shows a password embedded in the warehouse DSN."""
        for key, value in super().__repr_args__():
            yield key, redact_dsn(value) if key == "warehouse" else value

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to print (JSON types): every secret masked, DSN passwords redacted."""
        data: dict[str, Any] = self.model_dump(mode="json")  # SecretStr -> "**********"
        data["warehouse"] = redact_dsn(self.warehouse)
        return data


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            value = _drop_none(value)
            if value:
                out[key] = value
        elif value is not None:
            out[key] = value
    return out


def load_settings(**overrides: Any) -> Settings:
    """Build settings; ``overrides`` (e.g. from CLI flags) win over env, secrets and file.

    A section is overridden with a dict, merged field by field with the other sources:
    ``load_settings(flink={"parallelism": 2})``. ``None`` values (a flag not given) are
    dropped. Refuses the environment variable names of earlier versions.
    """
    obsolete = sorted(name for name in RENAMED_ENV if name in os.environ)
    if obsolete:
        hints = ", ".join(f"{name} -> {RENAMED_ENV[name]}" for name in obsolete)
        raise ObsoleteSettingError(f"renamed environment variables: {hints}")
    return Settings(**_drop_none(overrides))


def use_config_file(path: str | Path) -> None:
    """Read ``path`` as the TOML settings file in this process and the processes it starts
    (``pulse --config FILE``)."""
    os.environ[CONFIG_FILE_ENV] = str(path)


def platform_variable(name: str) -> str | None:
    """A variable of the platform that is not a pulse setting (``JAVA_HOME``, ``JVM_ARGS``)."""
    return os.environ.get(name)


def export_to_children(name: str, value: str) -> None:
    """Set a platform variable for the child processes started from now on (PyFlink reads
    ``JVM_ARGS`` when it launches the local JVM)."""
    os.environ[name] = value


def environment_for_children() -> dict[str, str]:
    """A copy of this process's environment, to extend for a child process (``pulse up``
    gives the jobs it starts the reference clock of its ``--as-of``)."""
    return dict(os.environ)
