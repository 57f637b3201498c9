"""The Kafka jars fetched by ``make setup`` and the ``java`` command that runs Kafka's classes
(the broker, its storage tool, the console producer and the performance tools)."""

from __future__ import annotations

import base64
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

#: Must match ``kafka.version`` in ``infra/pom.xml`` (checked at start).
KAFKA_VERSION = "4.3.1"

_REPO_ROOT = Path(__file__).resolve().parents[2]


class KafkaBrokerError(RuntimeError):
    """The local broker could not be started, reached or stopped."""


class KafkaJarsMissingError(KafkaBrokerError):
    """The broker jars are not there: ``make setup`` was not run."""


def default_jars_dir() -> Path:
    """``jars_dir`` of the settings when set (``PULSE_JARS_DIR``, config file), else
    ``<repo>/infra/target/jars`` (the Flink and Kafka jar folders)."""
    from pipelines.config import load_settings

    try:
        settings = load_settings()
    except Exception:  # settings of other parts may be invalid; the broker must still start
        settings = None
    if settings is not None and "jars_dir" in settings.model_fields_set:
        return Path(settings.jars_dir)
    return _REPO_ROOT / "infra" / "target" / "jars"


def default_infra_dir() -> Path:
    """``<repo>/infra/kafka``: the broker config template and log4j2 files."""
    return _REPO_ROOT / "infra" / "kafka"


def kafka_jars_dir(jars_dir: Path | None = None) -> Path:
    """The folder with the broker jars; raises :class:`KafkaJarsMissingError` if incomplete."""
    kdir = (jars_dir or default_jars_dir()) / "kafka"
    core = sorted(kdir.glob("kafka_2.13-*.jar"))
    if not core or not list(kdir.glob("kafka-tools-*.jar")):
        raise KafkaJarsMissingError(
            f"Kafka broker jars not found in {kdir}: run `make setup` "
            "(it runs infra/fetch-jars.sh, which resolves infra/pom.xml from Maven Central)."
        )
    want = f"kafka_2.13-{KAFKA_VERSION}.jar"
    if core[0].name != want or len(core) != 1:
        raise KafkaJarsMissingError(
            f"{kdir} holds {[p.name for p in core]}, expected {want}: "
            "infra/pom.xml and pipelines/local/kafka_command.py disagree, or the jars are "
            "stale: run `FORCE=1 bash infra/fetch-jars.sh`."
        )
    return kdir


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` or ``java`` from PATH (Kafka 4 needs Java 17+)."""
    from pipelines.config import platform_variable

    home = platform_variable("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise KafkaBrokerError("java not found (Java 17+ is required): install it or set JAVA_HOME")
    return found


def kafka_java_command(
    main_class: str,
    args: Sequence[str] = (),
    *,
    jars_dir: Path | None = None,
    heap: str = "256m",
    log4j2_config: Path | None = None,
    jvm_opts: Sequence[str] = (),
    short_lived: bool = False,
) -> list[str]:
    """The ``java`` command running one of Kafka's main classes from the fetched jars.

    Used for the broker itself, the storage tool, and the CLI tools (``ConsoleProducer``,
    ``ProducerPerformance``, ...); tools log WARN+ to stderr by default. ``short_lived``
    trades peak speed for a faster JVM start (C1 only, serial GC): for one-shot tools.
    """
    kdir = kafka_jars_dir(jars_dir)
    log_cfg = log4j2_config or default_infra_dir() / "tools-log4j2.properties"
    gc = (
        ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
        if short_lived
        else ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
    )
    return [
        java_executable(),
        f"-Xmx{heap}",
        *gc,
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        "-Djava.net.preferIPv4Stack=true",
        f"-Dlog4j2.configurationFile={log_cfg}",
        *jvm_opts,
        "-cp",
        f"{kdir}/*",
        main_class,
        *args,
    ]


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding.

    Like Kafka's own ``Uuid.randomUuid``, never one starting with ``-``: the
    storage tool would read it as an option (``--cluster-id -x...`` fails).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
