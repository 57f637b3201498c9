"""The operational sections of :class:`pipelines.config.Settings` (``kafka``, ``ingest``,
``loader``, ``flink``, ``stack``, ``cluster``, ``metrics``): plain frozen models. Only
:mod:`pipelines.config` builds them (from defaults, the environment as
``PULSE_<SECTION>__<FIELD>``, secret files and the TOML file); nothing here reads the
environment."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    """Where the Kafka cluster is and how clients reach it."""

    bootstrap: str = Field(default="127.0.0.1:9092", description="host:port of the brokers")
    topic_prefix: str = Field(
        default="",
        description="prefix of every pulse topic name (isolates tests and benchmarks on one "
        "broker); the one prefix that every Kafka client of pulse reads",
    )
    data_dir: str = Field(default=".pulse/kafka", description="folder of the LOCAL broker")
    replication_factor: int = Field(
        default=1,
        ge=1,
        description="replicas of the topics the jobs create themselves (the ingest's state "
        "changelogs, Faust's internal topics): 1 on one broker, the cluster's replication "
        "factor (3 for `pulse up --cluster`) on several, or their state dies with one node",
    )
    # client security, applied by every Kafka client (pipelines/kafka_clients.py)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = Field(default=None, description="CA bundle (PEM) for SSL")

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL_") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism, "
                "sasl_username and sasl_password"
            )
        return self


def _all_streams() -> tuple[str, ...]:
    from pipelines.domain.events import Stream  # the domain may import config: import late

    return tuple(s.value for s in Stream)


class IngestSettings(_Section):
    """The streaming ingest job (``jobs/faust_ingest.py``): raw.* -> clean.*."""

    group: str = Field(default="pulse-ingest", description="consumer group and Faust app id")
    streams: Annotated[tuple[str, ...], NoDecode] = Field(
        default_factory=_all_streams,
        description="streams this worker ingests (env: comma-separated or a JSON list)",
    )
    max_batch: int = Field(default=20_000, ge=1, description="records per poll and batch")
    session_timeout_ms: int = Field(default=10_000, gt=0)
    heartbeat_interval_ms: int = Field(default=2_000, gt=0)
    watermark_marker_interval_s: float = Field(
        default=5.0,
        ge=0,
        description="a clean partition of an event stream without a clean event for this long "
        "gets a watermark marker (its clock), so a restored Flink job gets its watermark back "
        "(pipelines/ingest/markers.py); 0: no markers",
    )
    data_dir: str = Field(default=".pulse/faust-ingest", description="Faust's data folder")
    command: str | None = Field(
        default=None, description="`make up` runs this command instead of the ingest job"
    )

    @field_validator("streams", mode="before")
    @classmethod
    def _split_streams(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return value

    @field_validator("streams", mode="after")
    @classmethod
    def _known_streams(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = _all_streams()
        unknown = [s for s in value if s not in known]
        if unknown:
            raise ValueError(f"unknown streams {unknown}: choose from {list(known)}")
        return value or known


class LoaderSettings(_Section):
    """The warehouse loader job (``jobs/faust_loader.py``): results.* -> ClickHouse."""

    group: str = Field(default="pulse-loader", description="consumer group and Faust app id")
    batch: int = Field(default=5000, ge=1, description="max rows per insert")
    within_s: float = Field(default=0.5, gt=0, description="max wait to fill a batch")
    data_dir: str = Field(default=".pulse/stack/loader-data", description="Faust's data folder")
    journal: str | None = Field(
        default=None,
        description="JSON Lines file: one line per stored batch with its offsets and the "
        "time it became visible (the latency benchmark reads it)",
    )
    query_endpoint: bool = Field(
        default=True,
        description="serve read-only SQL on loopback while the loader holds an EMBEDDED "
        "warehouse folder, so `pulse query --warehouse W` works while the stack runs "
        "(pipelines/streaming/query_endpoint.py); a ClickHouse server needs none",
    )
    query_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="TCP port of that endpoint on 127.0.0.1 (0: a free port, recorded in the "
        "warehouse folder for `pulse query`)",
    )
    query_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="max execution time of one served query (ClickHouse max_execution_time); "
        "queries run between the loader's batches, so a long one delays loading",
    )
    query_max_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="max rows of one served result (ClickHouse max_result_rows, then an "
        "error): the result is built in the loader's memory",
    )


class FlinkSettings(_Section):
    """The Flink job: local mini-cluster of ``pulse run`` and ``jobs/flink_streaming.py``."""

    # 1 measured fastest on 2 cores (BENCHMARKS.md): operators already run in separate threads.
    parallelism: int = Field(default=1, ge=1)
    jvm_heap: str = Field(
        default="2g",
        pattern=r"^[0-9]+[kmg]$",
        description="max heap of the streaming job's local Flink JVM (`pulse up`)",
    )
    run_jvm_heap: str = Field(
        default="768m",
        pattern=r"^[0-9]+[kmg]$",
        description="max heap of the Flink JVM of `pulse run` (bounded over files): its state "
        "is the 7-day horizon, whatever the history's length (BENCHMARKS.md)",
    )
    rest_port: int = Field(
        default=8081, ge=0, le=65535, description="REST API on 127.0.0.1 (0: off)"
    )
    checkpoint_dir: str = ".pulse/flink/checkpoints"
    checkpoint_interval_s: float = Field(default=10.0, gt=0)
    changelog_idle_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="a changelog source (profiles, campaigns) quiet this long stops holding "
        "the watermark; event streams never idle (docs/streaming.md)",
    )
    group: str = Field(default="pulse-flink", description="consumer group of the Kafka sources")


class StackSettings(_Section):
    """``make up`` / ``make down``: the local streaming stack."""

    dir: str = Field(default=".pulse/stack", description="pid files and logs of the jobs")


class ClusterSettings(_Section):
    """``pulse up --cluster`` (``make up-cluster``): the local cluster of docs/cluster.md.

    Three KRaft Kafka nodes and a Flink session cluster (one JobManager, ``taskmanagers``
    TaskManagers), each its own process on 127.0.0.1, beside the same ingest, loader and
    warehouse as ``pulse up``. Memory is sized for a 2-core, 24 GiB machine (about 5 GiB in
    all). The Flink REST API is on ``flink.rest_port`` and the JobManager's Prometheus reporter
    on ``metrics.flink_port``, as for the single-process stack, so ``pulse status`` reads both
    the same way; the clients' bootstrap (``kafka.bootstrap``) must name the nodes: `pulse up
    --cluster` gives its jobs all three.
    """

    dir: str = Field(
        default=".pulse/cluster",
        description="the nodes' data, the Flink distribution, checkpoints and savepoints "
        "(the savepoint and checkpoint folders stand in for object storage)",
    )
    kafka_ports: tuple[int, ...] = Field(
        default=(9092, 9093, 9094),
        min_length=3,
        max_length=3,
        description="client ports of the three Kafka nodes (the first is kafka.bootstrap's "
        "default port, so the single-node defaults of every command reach the cluster)",
    )
    kafka_controller_ports: tuple[int, ...] = Field(
        default=(9095, 9096, 9097), min_length=3, max_length=3
    )
    kafka_heap: str = Field(default="384m", pattern=r"^[0-9]+[kmg]$")
    taskmanagers: int = Field(default=2, ge=1)
    slots_per_taskmanager: int = Field(default=2, ge=1)
    taskmanager_metrics_ports: tuple[int, ...] = Field(
        default=(9250, 9251),
        description="the TaskManagers' Prometheus reporters, one per TaskManager (0: off)",
    )
    jobmanager_rpc_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="the JobManager's RPC port (0: a free port chosen at the first start and "
        "kept in the cluster's config.yaml, so TaskManagers find a restarted JobManager)",
    )
    jobmanager_memory: str = Field(default="768m", pattern=r"^[0-9]+[kmg]$")
    taskmanager_memory: str = Field(default="1280m", pattern=r"^[0-9]+[kmg]$")
    parallelism: int = Field(default=2, ge=1, description="of the submitted streaming job")
    max_parallelism: int = Field(
        default=128,
        ge=1,
        description="pipeline.max-parallelism: the key groups of the job's state; fixed for "
        "the life of its savepoints (a rescale goes up to this)",
    )
    ingest_workers: int = Field(default=2, ge=1, description="Faust ingest workers (one group)")
    ingest_metrics_ports: tuple[int, ...] = Field(
        default=(9401, 9411),
        description="/metrics of each ingest worker, one per worker (0: off); the loader's is "
        "metrics.loader_port",
    )
    partitions: int = Field(default=3, ge=1, description="of each raw and clean topic")

    @model_validator(mode="after")
    def _a_port_per_process(self) -> ClusterSettings:
        if len(self.taskmanager_metrics_ports) != self.taskmanagers:
            raise ValueError(
                f"taskmanager_metrics_ports has {len(self.taskmanager_metrics_ports)} ports for "
                f"{self.taskmanagers} TaskManagers: give one per TaskManager"
            )
        if len(self.ingest_metrics_ports) != self.ingest_workers:
            raise ValueError(
                f"ingest_metrics_ports has {len(self.ingest_metrics_ports)} ports for "
                f"{self.ingest_workers} ingest workers: give one per worker"
            )
        return self


class MetricsSettings(_Section):
    """The Prometheus endpoint of a job."""

    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535, description="None: not served")
    ingest_port: int = Field(
        default=9401,
        ge=0,
        le=65535,
        description="/metrics of the streaming ingest (jobs/faust_ingest.py) when `port` is "
        "not set; 0: not served",
    )
    loader_port: int = Field(
        default=9402,
        ge=0,
        le=65535,
        description="/metrics of the loader (jobs/faust_loader.py) when `port` is not set; "
        "0: not served",
    )
    flink_port: int = Field(
        default=9249,
        ge=0,
        le=65535,
        description="Flink's Prometheus reporter in jobs/flink_streaming.py when `port` is not "
        "set (it listens on every interface: the reporter has no address option); 0: off",
    )
    lag_interval_s: float = Field(
        default=10.0,
        gt=0,
        description="seconds between two readings of every stage's consumer lag by the loader "
        "(pulse_consumer_lag_records, pulse_consumer_lag_seconds)",
    )
