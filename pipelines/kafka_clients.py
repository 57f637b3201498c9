"""How every Kafka client of pulse connects: the ``kafka`` section's security settings, in one
place.

``security_protocol`` PLAINTEXT (the local broker), SSL (TLS, the broker verified against
``ssl_cafile`` or the system CAs), SASL_PLAINTEXT or SASL_SSL (``sasl_mechanism`` PLAIN,
SCRAM-SHA-256 or SCRAM-SHA-512 with ``sasl_username`` / ``sasl_password``; the settings refuse a
SASL protocol without all three). The password is a :class:`~pydantic.SecretStr` (environment,
a mounted secret file or the TOML file) and is unwrapped only here, into the arguments of the
client; no function of this module logs or formats it, and :func:`describe` (for logs and
``pulse status``) names the protocol, mechanism and user only.

* :func:`aiokafka_options`: keyword arguments for ``AIOKafkaConsumer``, ``AIOKafkaProducer``
  and ``AIOKafkaAdminClient``;
* :func:`faust_credentials`: the ``broker_credentials`` of a Faust app (Faust builds its aiokafka
  clients from them).
"""

from __future__ import annotations

import json
import ssl
from typing import Any

from pipelines.settings_sections import KafkaSettings


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context of an SSL or SASL_SSL protocol (None for PLAINTEXT / SASL_PLAINTEXT):
    certificates and host names verified, against ``ssl_cafile`` when set."""
    if not kafka.security_protocol.endswith("SSL"):
        return None
    return ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=kafka.ssl_cafile)


def aiokafka_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Security keyword arguments for every aiokafka client (consumer, producer, admin)."""
    options: dict[str, Any] = {"security_protocol": kafka.security_protocol}
    context = ssl_context(kafka)
    if context is not None:
        options["ssl_context"] = context
    if kafka.security_protocol.startswith("SASL_"):
        # complete: KafkaSettings refuses a SASL protocol without mechanism, user and password
        assert kafka.sasl_password is not None
        options["sasl_mechanism"] = kafka.sasl_mechanism
        options["sasl_plain_username"] = kafka.sasl_username
        options["sasl_plain_password"] = kafka.sasl_password.get_secret_value()
    return options


def faust_credentials(kafka: KafkaSettings) -> Any:
    """``broker_credentials`` for ``faust.App`` (None: PLAINTEXT)."""
    from faust.auth import SASLCredentials, SSLCredentials

    context = ssl_context(kafka)
    if kafka.security_protocol.startswith("SASL_"):
        assert kafka.sasl_password is not None
        return SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            ssl_context=context,  # SASL_SSL when set, SASL_PLAINTEXT when None
            mechanism=kafka.sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def describe(kafka: KafkaSettings) -> str:
    """How the clients connect (protocol, SASL mechanism and user, CA file), safe to log and
    print: never the password."""
    text: str = kafka.security_protocol
    if kafka.security_protocol.startswith("SASL_"):
        text += f", {kafka.sasl_mechanism} as {kafka.sasl_username}"
    if kafka.ssl_cafile and kafka.security_protocol.endswith("SSL"):
        text += f", CA {kafka.ssl_cafile}"
    return text


#: the login modules of the SASL mechanisms, as shaded in ``flink-sql-connector-kafka``
_FLINK_SHADED = "org.apache.flink.kafka.shaded.org.apache.kafka.common.security"
_LOGIN_MODULES = {
    "PLAIN": f"{_FLINK_SHADED}.plain.PlainLoginModule",
    "SCRAM-SHA-256": f"{_FLINK_SHADED}.scram.ScramLoginModule",
    "SCRAM-SHA-512": f"{_FLINK_SHADED}.scram.ScramLoginModule",
}


def flink_kafka_properties(kafka: KafkaSettings) -> dict[str, str]:
    """The same security for Flink's Kafka SQL connector, as ``properties.*`` table options
    (empty for PLAINTEXT). The JAAS line carries the password: Kafka's client logs it as
    ``[hidden]``; pulse never logs table options."""
    if kafka.security_protocol == "PLAINTEXT":
        return {}
    options: dict[str, str] = {"properties.security.protocol": kafka.security_protocol}
    if kafka.security_protocol.endswith("SSL") and kafka.ssl_cafile:
        options["properties.ssl.truststore.type"] = "PEM"
        options["properties.ssl.truststore.location"] = kafka.ssl_cafile
    if kafka.security_protocol.startswith("SASL_"):
        assert kafka.sasl_password is not None and kafka.sasl_mechanism is not None
        user = json.dumps(kafka.sasl_username)
        password = json.dumps(kafka.sasl_password.get_secret_value())
        options["properties.sasl.mechanism"] = kafka.sasl_mechanism
        options["properties.sasl.jaas.config"] = (
            f"{_LOGIN_MODULES[kafka.sasl_mechanism]} required username={user} password={password};"
        )
    return options
