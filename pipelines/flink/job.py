"""Wire the job logic into a Flink table environment.

The same :func:`build_statements` serves the bounded run (file connectors, a
local mini-cluster) and the unbounded run (Kafka connectors, a cluster): a
connector only says where each source and sink table lives.
"""

from __future__ import annotations

import logging
import os
import re
import site
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipelines.config import Settings, export_to_children, platform_variable
from pipelines.flink import statements as sql
from pipelines.flink.duplicates import make_process_function
from pipelines.flink.schemas import (
    ATTRIBUTED_CLICKS,
    ELIGIBILITY,
    ELIGIBILITY_TRANSITIONS,
    ENGAGEMENT_WINDOWS,
    SINKS,
    SOURCES,
    sink_ddl,
    source_ddl,
)
from pipelines.ingest.markers import MARKER_FREE

log = logging.getLogger(__name__)

#: a connector's table options, by Flink table name
SourceOptions = Callable[[str], dict[str, str]]
SinkOptions = Callable[[str], dict[str, str]]

# positions inside CLICK_COLUMNS of the duplicate rule's key
_KEY_FIELDS = tuple(
    [name for name, _ in sql.CLICK_COLUMNS].index(field)
    for field in ("user_id", "ad_id", "video_id")
)


#: Flink's Prometheus reporter (``flink_*`` series on /metrics), shipped in the PyFlink wheel
PROMETHEUS_REPORTER_FACTORY = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"


def prometheus_reporter_jar() -> Path:
    """The reporter jar of the installed PyFlink (``pyflink/plugins/metrics-prometheus``).

    A local mini-cluster does not load it as a plugin (``FLINK_PLUGINS_DIR`` pointing there is
    not enough, measured): listed in ``pipeline.jars`` it is on the class path PyFlink gives
    the local cluster, and the reporter starts with the job.
    """
    import pyflink

    folder = Path(pyflink.__file__).resolve().parent / "plugins" / "metrics-prometheus"
    found = sorted(folder.glob("flink-metrics-prometheus-*.jar"))
    if not found:
        raise FileNotFoundError(f"no flink-metrics-prometheus jar in {folder}")
    return found[-1]


def prometheus_reporter_config(port: int) -> tuple[tuple[str, str], ...]:
    """Flink configuration of the Prometheus reporter on ``port`` (every interface: the
    reporter has no address option)."""
    return (
        ("metrics.reporter.prom.factory.class", PROMETHEUS_REPORTER_FACTORY),
        ("metrics.reporter.prom.port", str(port)),
    )


#: Stable operator uids for a job submitted to a cluster (``flink run``), so that a savepoint
#: or retained checkpoint of one build restores in the next. By default (``PLAN_ONLY``) the
#: planner sets uids only on pipelines from a compiled plan (``COMPILE PLAN``); a Table API job
#: is left to the hashes of the DataStream layer (derived from the topology). ``ALWAYS`` gives
#: every ExecNode transformation the uid ``<id>_<transformation>`` (the format is pinned here,
#: not left to Flink's default), where ``<id>`` comes from a per-JVM counter of the planner.
#: Guarantee: the same SQL statements, declared in the same order and planned in a fresh JVM
#: (each ``flink run`` plans in its own client JVM), get the same uids, so the state of every
#: operator maps back, whatever the parallelism (up to ``pipeline.max-parallelism``).
#: Checked: every operator of the streaming job but one gets a uid, identical over two plannings
#: (the one left, the Python key extraction before the duplicate scan, is stateless).
#: NOT guaranteed: a changed statement (or one added before another) renumbers the nodes
#: translated after it, so their state may not restore: Flink refuses a savepoint whose state
#: maps to no operator (unless ``--allowNonRestoredState``), and state that lands on another
#: operator of the same uid fails its serializer check at best; plan such a change as a new
#: job (``--from-earliest``). The Python duplicate scan, a DataStream operator, is not planned
#: by the planner and gets its own uid (:data:`DUPLICATE_SCAN_UID`).
STABLE_UID_OPTIONS: tuple[tuple[str, str], ...] = (
    ("table.exec.uid.generation", "ALWAYS"),
    ("table.exec.uid.format", "<id>_<transformation>"),
)
DUPLICATE_SCAN_UID = "duplicate-click-scan"


@dataclass(frozen=True)
class FlinkOptions:
    parallelism: int | None = 1  # None: the environment's (`flink run -p`)
    jvm_heap: str | None = None  # e.g. "2g": -Xmx of the local mini-cluster JVM
    collector: str | None = None  # e.g. "ParallelGC": -XX:+UseParallelGC of that JVM
    jars: tuple[Path, ...] = ()
    checkpoint_interval_ms: int | None = None
    extra: tuple[tuple[str, str], ...] = ()


def _python_path() -> list[str]:
    project_root = str(Path(__file__).resolve().parents[2])
    return [project_root, *site.getsitepackages()]


def local_jvm_args(jvm_args: str, options: FlinkOptions) -> str:
    """``JVM_ARGS`` for the local JVM (read by PyFlink when it launches it): the user's own,
    plus the heap and the collector of ``options`` where the user's do not set them."""
    added = []
    if options.jvm_heap and "-Xmx" not in jvm_args:
        added.append(f"-Xmx{options.jvm_heap}")
    if options.collector and not re.search(r"-XX:[+]Use[A-Za-z0-9]+GC\b", jvm_args):
        added.append(f"-XX:+Use{options.collector}")
    return " ".join([jvm_args, *added]).strip()


def create_table_environment(options: FlinkOptions) -> Any:
    """A streaming table environment (bounded sources end with a final watermark)."""
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import EnvironmentSettings, StreamTableEnvironment

    jvm_args = platform_variable("JVM_ARGS") or ""
    if (wanted := local_jvm_args(jvm_args, options)) != jvm_args:
        export_to_children("JVM_ARGS", wanted)  # PyFlink launches the JVM at the first call below
    env = StreamExecutionEnvironment.get_execution_environment()
    if options.parallelism is not None:
        env.set_parallelism(options.parallelism)
    if options.checkpoint_interval_ms:
        env.enable_checkpointing(options.checkpoint_interval_ms)
    t_env = StreamTableEnvironment.create(
        env, environment_settings=EnvironmentSettings.in_streaming_mode()
    )
    config = t_env.get_config()
    config.set("table.local-time-zone", "UTC")
    config.set("pipeline.name", "pulse")
    # Python runs in the same process as the JVM operators (no Beam harness).
    config.set("python.execution-mode", "thread")
    config.set("python.executable", sys.executable)
    config.set("python.client.executable", sys.executable)
    # Thread mode embeds CPython in the JVM: it must see this venv's packages.
    config.set("python.pythonpath", os.pathsep.join(_python_path()))
    if options.jars:
        config.set("pipeline.jars", ";".join(path.resolve().as_uri() for path in options.jars))
    for key, value in options.extra:
        config.set(key, value)
    return t_env


def build_statements(
    t_env: Any,
    settings: Settings,
    source_options: SourceOptions,
    sink_options: SinkOptions,
    *,
    stable_uids: bool = False,
    marked_sources: Collection[str] = (),
) -> Any:
    """Declare sources, sinks and every view; return the StatementSet to execute.

    ``marked_sources``: source tables whose records include watermark markers (the clean topics
    the streaming ingest writes); each is declared as ``<name>_records`` and read through a view
    ``<name>`` without the markers.

    ``stable_uids``: the duplicate scan gets the uid :data:`DUPLICATE_SCAN_UID` (with
    :data:`STABLE_UID_OPTIONS` in the configuration: a job on a cluster). Off, the graph is the
    one the local mini-cluster has always run (its retained checkpoints keep restoring).
    """
    from pyflink.common import Types
    from pyflink.table import DataTypes, Schema

    for source in SOURCES:
        options = source_options(source.name)
        if source.name not in marked_sources:
            t_env.execute_sql(source_ddl(source, settings, options))
            continue
        # the topic's records include watermark markers: they set the watermark at the source,
        # then leave before any operator sees them (pipelines/ingest/markers.py)
        records = replace(source, name=f"{source.name}_records")
        t_env.execute_sql(source_ddl(records, settings, options))
        t_env.execute_sql(
            f"CREATE TEMPORARY VIEW {source.name} AS "
            f"SELECT * FROM {records.name} WHERE {MARKER_FREE}"
        )
    for sink in SINKS:
        t_env.execute_sql(sink_ddl(sink, sink_options(sink.name)))

    for view in (
        sql.click_floods(settings),
        sql.clicks_flagged(settings),
        sql.campaign_versions(),
        sql.clicks_priced(),
        sql.click_view_pairs(settings),
        sql.clicks_attributed(),
        sql.clicks_checked(),
    ):
        t_env.execute_sql(view)

    # The duplicate rule: a keyed scan in event-time order (Python, clicks only). Every checked
    # click goes through it (the decided ones unchanged), so nothing else reads clicks_checked.
    names = [name for name, _ in sql.CLICK_COLUMNS]
    flink_types = {"STRING": Types.STRING(), "BIGINT": Types.LONG()}
    row_type = Types.ROW_NAMED(
        [*names, "status"], [*(flink_types[kind] for _, kind in sql.CLICK_COLUMNS), Types.STRING()]
    )
    checked = t_env.sql_query(sql.checked_clicks())
    key_fields = _KEY_FIELDS
    scanned = (
        t_env.to_data_stream(checked)
        .key_by(
            lambda row: "\x00".join(row[i] for i in key_fields),
            key_type=Types.STRING(),
        )
        .process(
            make_process_function(
                settings.duplicate_window_ms, sql.CLICK_TIME_FIELD, sql.CLICK_ID_FIELD
            ),
            output_type=row_type,
        )
        .name("duplicate-click-scan")
    )
    if stable_uids:
        scanned = scanned.uid(DUPLICATE_SCAN_UID)
    schema = (
        Schema.new_builder()
        .column_by_metadata("rowtime", DataTypes.TIMESTAMP_LTZ(3))
        .watermark("rowtime", "SOURCE_WATERMARK()")
        .build()
    )
    t_env.create_temporary_view("clicks_deduped", t_env.from_data_stream(scanned, schema))

    for view in (
        sql.clicks_status("clicks_deduped"),
        sql.engagement_events(settings),
        sql.engagement_windows(settings),
        sql.window_consistency(settings),
        sql.profile_versions(),
        sql.eligibility(settings),
        sql.eligibility_transitions(),
        sql.clicks_paid(settings),
    ):
        t_env.execute_sql(view)

    statements = t_env.create_statement_set()
    statements.add_insert_sql(sql.insert_attributed_clicks(settings, ATTRIBUTED_CLICKS.name))
    statements.add_insert_sql(sql.insert_engagement_windows(ENGAGEMENT_WINDOWS.name))
    statements.add_insert_sql(sql.insert_eligibility(ELIGIBILITY.name))
    statements.add_insert_sql(sql.insert_eligibility_transitions(ELIGIBILITY_TRANSITIONS.name))
    return statements
