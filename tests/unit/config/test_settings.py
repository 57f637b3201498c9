import dataclasses
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import SettingsError

from pipelines.config import (
    DAY_MS,
    MINUTE_MS,
    RENAMED_ENV,
    ObsoleteSettingError,
    Settings,
    load_settings,
)
from pipelines.dsn import redact_dsn
from pipelines.streaming.ingest_config import RunnerConfig

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from the defaults, whatever the shell running pytest exports."""
    for name in list(os.environ):
        if name.startswith("PULSE_"):
            monkeypatch.delenv(name)


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


def test_operational_defaults() -> None:
    s = load_settings()
    assert (s.kafka.bootstrap, s.kafka.topic_prefix, s.kafka.data_dir) == (
        "127.0.0.1:9092",
        "",
        ".pulse/kafka",
    )
    assert s.kafka.security_protocol == "PLAINTEXT" and s.kafka.sasl_password is None
    assert s.ingest.group == "pulse-ingest"
    assert s.ingest.streams == ("view", "comment", "ad_click", "creator_profile", "campaign")
    assert (s.ingest.max_batch, s.ingest.session_timeout_ms) == (20_000, 10_000)
    assert (s.flink.changelog_idle_timeout_s, s.ingest.command) == (30.0, None)
    assert (s.loader.group, s.loader.batch, s.loader.within_s) == ("pulse-loader", 5000, 0.5)
    assert (s.loader.data_dir, s.loader.journal) == (".pulse/stack/loader-data", None)
    assert (s.flink.parallelism, s.flink.jvm_heap, s.flink.rest_port) == (1, "2g", 8081)
    assert (s.flink.checkpoint_dir, s.flink.group) == (".pulse/flink/checkpoints", "pulse-flink")
    assert s.stack.dir == ".pulse/stack"
    assert (s.metrics.host, s.metrics.port) == ("127.0.0.1", None)


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


def test_nested_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "PULSE_KAFKA__BOOTSTRAP": "127.0.0.1:19092",
        "PULSE_KAFKA__TOPIC_PREFIX": "t1.",
        "PULSE_KAFKA__DATA_DIR": "/data/kafka",
        "PULSE_INGEST__GROUP": "ingest-a",
        "PULSE_INGEST__STREAMS": "view, ad_click",
        "PULSE_INGEST__MAX_BATCH": "2000",
        "PULSE_FLINK__CHANGELOG_IDLE_TIMEOUT_S": "1.5",
        "PULSE_INGEST__COMMAND": "python -m my.ingest",
        "PULSE_LOADER__BATCH": "40",
        "PULSE_LOADER__WITHIN_S": "0.2",
        "PULSE_LOADER__JOURNAL": "/tmp/journal.jsonl",
        "PULSE_FLINK__PARALLELISM": "2",
        "PULSE_FLINK__JVM_HEAP": "1g",
        "PULSE_FLINK__REST_PORT": "0",
        "PULSE_STACK__DIR": "/run/pulse",
        "PULSE_METRICS__PORT": "9464",
        "PULSE_METRICS__HOST": "0.0.0.0",
    }.items():
        monkeypatch.setenv(name, value)
    s = load_settings()
    assert (s.kafka.bootstrap, s.kafka.topic_prefix) == ("127.0.0.1:19092", "t1.")
    assert s.kafka.data_dir == "/data/kafka"
    assert (s.ingest.group, s.ingest.streams) == ("ingest-a", ("view", "ad_click"))
    assert (s.ingest.max_batch, s.flink.changelog_idle_timeout_s) == (2000, 1.5)
    assert s.ingest.command == "python -m my.ingest"
    assert (s.loader.batch, s.loader.within_s) == (40, 0.2)
    assert s.loader.journal == "/tmp/journal.jsonl"
    assert (s.flink.parallelism, s.flink.jvm_heap, s.flink.rest_port) == (2, "1g", 0)
    assert s.stack.dir == "/run/pulse"
    assert (s.metrics.host, s.metrics.port) == ("0.0.0.0", 9464)
    # untouched fields of a section keep their defaults
    assert (s.loader.group, s.flink.group) == ("pulse-loader", "pulse-flink")


def test_streams_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_INGEST__STREAMS", '["comment"]')
    assert load_settings().ingest.streams == ("comment",)
    monkeypatch.setenv("PULSE_INGEST__STREAMS", "views")
    with pytest.raises(ValidationError, match="unknown streams"):
        load_settings()


def test_file_sections_merge_with_environment_and_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "pulse.toml"
    config.write_text(
        "revenue_share_bp = 4500\n"
        "[kafka]\nbootstrap = '127.0.0.1:29092'\ntopic_prefix = 'file.'\n"
        "[flink]\nparallelism = 3\njvm_heap = '3g'\n"
        "[loader]\nbatch = 100\n"
        "[metrics]\nport = 9100\n"
    )
    monkeypatch.setenv("PULSE_CONFIG_FILE", str(config))
    monkeypatch.setenv("PULSE_FLINK__JVM_HEAP", "1g")  # env beats the file, field by field
    s = load_settings(flink={"parallelism": 4, "rest_port": None})  # None: flag not given
    assert s.revenue_share_bp == 4500
    assert (s.kafka.bootstrap, s.kafka.topic_prefix) == ("127.0.0.1:29092", "file.")
    assert (s.flink.parallelism, s.flink.jvm_heap, s.flink.rest_port) == (4, "1g", 8081)
    assert (s.loader.batch, s.loader.group) == (100, "pulse-loader")
    assert s.metrics.port == 9100


def test_file_with_an_unknown_section_field_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "pulse.toml"
    config.write_text("[flink]\nparalelism = 3\n")
    monkeypatch.setenv("PULSE_CONFIG_FILE", str(config))
    with pytest.raises(ValidationError, match="paralelism"):
        load_settings()


def test_secret_files_flat_and_nested(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "warehouse_password").write_text("hunter2\n")
    (secrets / "kafka__sasl_password").write_text("k-secret\n")
    (secrets / "kafka__sasl_username").write_text("pulse\n")
    (secrets / "ca.crt").write_text("not a setting: ignored\n")
    (secrets / "..data").mkdir()  # Kubernetes' hidden bookkeeping folder: ignored
    monkeypatch.setenv("PULSE_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("PULSE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("PULSE_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    s = load_settings()
    assert s.warehouse_password is not None
    assert s.warehouse_password.get_secret_value() == "hunter2"
    assert s.kafka.sasl_password is not None
    assert s.kafka.sasl_password.get_secret_value() == "k-secret"
    assert s.kafka.sasl_username == "pulse"
    shown = repr(s) + str(s) + repr(s.public_dict())
    assert "hunter2" not in shown and "k-secret" not in shown
    # the environment wins over a mounted file
    monkeypatch.setenv("PULSE_WAREHOUSE_PASSWORD", "from-env")
    password = load_settings().warehouse_password
    assert password is not None and password.get_secret_value() == "from-env"


def test_a_missing_secrets_dir_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PULSE_SECRETS_DIR", str(tmp_path / "not-mounted"))
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings()


def test_sasl_needs_its_credentials() -> None:
    with pytest.raises(ValidationError, match="needs sasl_mechanism"):
        load_settings(kafka={"security_protocol": "SASL_PLAINTEXT"})


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError):
        load_settings(revenue_share_bp=10_001)
    with pytest.raises(ValidationError):
        load_settings(unknown_setting=1)
    with pytest.raises(ValidationError):
        load_settings(flink_parallelism=2)  # the flat name of earlier versions
    with pytest.raises(ValidationError):
        load_settings(flink={"jvm_heap": "lots"})
    monkeypatch.setenv("PULSE_LOADER__BATHC", "10")  # a typo inside a section
    with pytest.raises(ValidationError, match="bathc"):
        load_settings()


def test_renamed_environment_variables_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_KAFKA_BOOTSTRAP", "127.0.0.1:9093")
    monkeypatch.setenv("PULSE_LOADER_BATCH", "40")
    with pytest.raises(ObsoleteSettingError) as raised:
        load_settings()
    message = str(raised.value)
    assert "PULSE_KAFKA_BOOTSTRAP -> PULSE_KAFKA__BOOTSTRAP" in message
    assert "PULSE_LOADER_BATCH -> PULSE_LOADER__BATCH" in message


@pytest.mark.parametrize("new_name", sorted(set(RENAMED_ENV.values())))
def test_every_new_name_is_a_setting(new_name: str) -> None:
    section, _, field = new_name.removeprefix("PULSE_").lower().partition("__")
    sections = Settings.model_fields
    assert section in sections, new_name
    model = sections[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    assert field in model.model_fields, new_name


def _secret_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths += _secret_paths(annotation, (*prefix, name))
        elif "SecretStr" in str(annotation):
            paths.append((*prefix, name))
    return paths


def test_every_secret_is_masked() -> None:
    paths = _secret_paths(Settings)
    assert ("warehouse_password",) in paths and ("kafka", "sasl_password") in paths
    overrides: dict[str, Any] = {
        "warehouse": "clickhouse://finance:s3cret@127.0.0.1:8123/",
        "kafka": {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "PLAIN",
            "sasl_username": "pulse",
        },
    }
    for i, path in enumerate(paths):
        target = overrides
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = f"secret-value-{i}"
    s = load_settings(**overrides)
    shown = repr(s.public_dict()) + repr(s) + str(s)
    assert "s3cret" not in shown
    for i, path in enumerate(paths):
        assert f"secret-value-{i}" not in shown, path
        value: Any = s.public_dict()
        for part in path:
            value = value[part]
        assert value == "**********", path
    data = s.public_dict()
    assert data["warehouse"] == "clickhouse://finance:***@127.0.0.1:8123/"
    assert isinstance(s.warehouse_password, SecretStr)
    assert load_settings().public_dict()["warehouse_password"] is None


def test_redact_dsn() -> None:
    assert redact_dsn("clickhouse://u:p@h:8123/db") == "clickhouse://u:***@h:8123/db"
    assert redact_dsn("clickhouse://u@h:8123/db") == "clickhouse://u@h:8123/db"
    assert redact_dsn("/data/warehouse") == "/data/warehouse"


def test_the_ingest_runner_takes_every_number_from_the_settings() -> None:
    assert all(
        f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        for f in dataclasses.fields(RunnerConfig)
    )
    s = load_settings(
        future_tolerance_ms=1,
        dedup_horizon_ms=2,
        watermark_delay_ms=3,
        allowed_lateness_ms=4,
        kafka={"bootstrap": "127.0.0.1:1", "topic_prefix": "p.", "replication_factor": 3},
        ingest={"group": "g", "streams": "view", "max_batch": 5},
    )
    config = RunnerConfig.from_settings(s)
    assert config.replication_factor == 3
    assert (config.bootstrap, config.group_id, config.topics.prefix) == ("127.0.0.1:1", "g", "p.")
    assert [stream.value for stream in config.streams] == ["view"]
    assert (config.future_tolerance_ms, config.dedup_horizon_ms) == (1, 2)
    assert (config.watermark_delay_ms, config.allowed_lateness_ms) == (3, 4)
    assert config.max_batch == 5
    assert (config.session_timeout_ms, config.heartbeat_interval_ms) == (10_000, 2_000)


# --- one channel: nothing but config.py reads the environment ----------------------------

_ENV_ACCESS = re.compile(r"\bos\.environ\b|\bgetenv\b|\bputenv\b|\bunsetenv\b|\bimport environ\b")


def test_only_config_touches_the_environment() -> None:
    offenders = []
    for root in ("pipelines", "jobs"):
        for path in sorted((REPO / root).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel == "pipelines/config.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if _ENV_ACCESS.search(line):
                    offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == [], "read settings through pipelines.config:\n" + "\n".join(offenders)


# --- the warehouse as a ClickHouse cluster (docs/warehouse-cluster.md) -----------------------

SERVER = "clickhouse://pulse_loader@clickhouse-pulse:8123/"


def test_the_warehouse_is_one_node_by_default() -> None:
    s = load_settings()
    assert (s.warehouse_cluster, s.warehouse_insert_quorum) == (False, 2)


def test_cluster_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_WAREHOUSE", SERVER)
    monkeypatch.setenv("PULSE_WAREHOUSE_CLUSTER", "true")
    s = load_settings()
    assert (s.warehouse_cluster, s.warehouse_insert_quorum) == (True, 2)
    monkeypatch.setenv("PULSE_WAREHOUSE_INSERT_QUORUM", "auto")
    assert load_settings().warehouse_insert_quorum == "auto"
    monkeypatch.setenv("PULSE_WAREHOUSE_INSERT_QUORUM", "3")
    assert load_settings().warehouse_insert_quorum == 3
    for wrong in ("-1", "most", "2.5"):
        monkeypatch.setenv("PULSE_WAREHOUSE_INSERT_QUORUM", wrong)
        with pytest.raises(ValidationError, match="warehouse_insert_quorum"):
            load_settings()


@pytest.mark.parametrize("folder", [".pulse/warehouse", "/data/wh", "chdb:///data/wh"])
def test_a_cluster_is_refused_on_the_embedded_chdb(folder: str) -> None:
    with pytest.raises(ValidationError, match="embedded chdb"):
        load_settings(warehouse=folder, warehouse_cluster=True)
    assert load_settings(warehouse=SERVER, warehouse_cluster=True).warehouse_cluster
    assert not load_settings(warehouse=folder).warehouse_cluster
