"""One helper turns the ``kafka`` section's SASL/TLS settings into client arguments, and no
printable form of the settings or of that helper's description carries the password."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faust.auth import SASLCredentials, SSLCredentials
from pydantic import SecretStr, ValidationError

from pipelines.config import load_settings
from pipelines.kafka_clients import aiokafka_options, describe, faust_credentials
from pipelines.settings_sections import KafkaSettings

SECRET = "s3cr3t-sasl-Pa55word-unit"


def _ca(tmp_path: Path) -> str:
    """A CA bundle that ssl can load: the system's default bundle, copied."""
    paths = ssl.get_default_verify_paths()
    source = Path(paths.cafile or paths.openssl_cafile)
    target = tmp_path / "ca.pem"
    target.write_bytes(source.read_bytes())
    return str(target)


def test_plaintext_passes_the_protocol_only() -> None:
    kafka = KafkaSettings(sasl_password=SecretStr(SECRET))  # set, but not used without SASL
    assert aiokafka_options(kafka) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(kafka) is None
    assert describe(kafka) == "PLAINTEXT"


def test_sasl_ssl(tmp_path: Path) -> None:
    kafka = KafkaSettings(
        bootstrap="kafka.example:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="pulse",
        sasl_password=SecretStr(SECRET),
        ssl_cafile=_ca(tmp_path),
    )
    options = aiokafka_options(kafka)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "pulse"
    assert options["sasl_plain_password"] == SECRET
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    credentials = faust_credentials(kafka)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    text = describe(kafka)
    assert text.startswith("SASL_SSL, SCRAM-SHA-512 as pulse, CA ")
    for shown in (text, repr(kafka), str(kafka), repr(credentials), str(kafka.model_dump())):
        assert SECRET not in shown


def test_sasl_plaintext_and_ssl_only() -> None:
    kafka = KafkaSettings(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password=SecretStr(SECRET),
    )
    assert "ssl_context" not in aiokafka_options(kafka)
    credentials = faust_credentials(kafka)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol.value == "SASL_PLAINTEXT"
    tls = KafkaSettings(security_protocol="SSL")
    assert isinstance(aiokafka_options(tls)["ssl_context"], ssl.SSLContext)
    assert isinstance(faust_credentials(tls), SSLCredentials)


def test_sasl_without_a_password_is_refused_without_echoing_secrets() -> None:
    with pytest.raises(ValidationError) as err:
        KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_username="u")
    assert "needs sasl_mechanism, sasl_username and sasl_password" in str(err.value)


def test_the_password_comes_from_the_environment_and_stays_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PULSE_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("PULSE_KAFKA__SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("PULSE_KAFKA__SASL_USERNAME", "loader")
    monkeypatch.setenv("PULSE_KAFKA__SASL_PASSWORD", SECRET)
    settings = load_settings()
    assert aiokafka_options(settings.kafka)["sasl_plain_password"] == SECRET
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.public_dict())


def test_every_python_client_and_flink_get_the_same_security(tmp_path: Path) -> None:
    """The ingest worker's clients (via its config), topic creation and Flink's connector all
    take the ``kafka`` section; the password is in the arguments, never in a printable form."""
    from pipelines.connectors.flink_kafka import KafkaConnector
    from pipelines.kafka_clients import flink_kafka_properties
    from pipelines.streaming.ingest_config import RunnerConfig

    settings = load_settings(
        kafka={
            "bootstrap": "kafka.example:9093",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_username": "pulse",
            "sasl_password": SECRET,
            "ssl_cafile": _ca(tmp_path),
        }
    )
    config = RunnerConfig.from_settings(settings)
    assert config.client_options["sasl_plain_password"] == SECRET
    assert SECRET not in repr(config)
    properties = flink_kafka_properties(settings.kafka)
    assert properties["properties.security.protocol"] == "SASL_SSL"
    assert properties["properties.sasl.mechanism"] == "SCRAM-SHA-256"
    assert properties["properties.ssl.truststore.type"] == "PEM"
    jaas = properties["properties.sasl.jaas.config"]
    assert jaas.startswith("org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram")
    assert f'username="pulse" password="{SECRET}";' in jaas
    connector = KafkaConnector("kafka.example:9093", "g", client_properties=properties)
    assert connector.source_options("src_views")["properties.sasl.jaas.config"] == jaas
    assert connector.sink_options("out_eligibility")["properties.security.protocol"] == "SASL_SSL"
    assert SECRET not in repr(connector)
    assert flink_kafka_properties(load_settings().kafka) == {}
