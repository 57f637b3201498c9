"""Schemas of the Flink job's source (clean events) and sink (results) tables.

Sources read the *clean* events written by ingest: the contract fields with every
instant as integer epoch milliseconds. Where a table lives (files or Kafka) is
decided by a connector (:mod:`pipelines.connectors.flink_files`,
:mod:`pipelines.connectors.flink_kafka`); the job logic only sees these names.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from pipelines.config import Settings
from pipelines.domain.events import EVENT_TYPES, Stream
from pipelines.flink.sql import interval

Column = tuple[str, str]


def event_columns(stream: Stream) -> tuple[Column, ...]:
    """A clean event's columns, derived from its struct (instants are epoch-ms integers):
    integers are ``BIGINT``, everything else (ids, codes, dates, statuses) ``STRING``."""
    return tuple(
        (f.name, "BIGINT" if f.type is int else "STRING")
        for f in msgspec.structs.fields(EVENT_TYPES[stream])
    )


@dataclass(frozen=True)
class SourceTable:
    name: str  # Flink table name
    stream: str  # contract stream name
    columns: tuple[Column, ...]
    time_column: str  # epoch-ms column that carries event time
    # Version time is shifted by this many ms (see profiles: "as of W" is inclusive).
    time_shift_ms: int = 0


@dataclass(frozen=True)
class SinkTable:
    name: str  # Flink table name
    warehouse_table: str  # ClickHouse table it is loaded into
    columns: tuple[Column, ...]


VIEWS = SourceTable(
    "src_views",
    "view",
    event_columns(Stream.VIEW),
    "event_time",
)
COMMENTS = SourceTable(
    "src_comments",
    "comment",
    event_columns(Stream.COMMENT),
    "event_time",
)
AD_CLICKS = SourceTable(
    "src_ad_clicks",
    "ad_click",
    event_columns(Stream.AD_CLICK),
    "event_time",
)
# A window ending at W is evaluated with the profile "as of W" (updated_at <= W).
# The window's rowtime is W - 1 ms, so profile versions start 1 ms early too.
CREATOR_PROFILES = SourceTable(
    "src_creator_profiles",
    "creator_profile",
    event_columns(Stream.CREATOR_PROFILE),
    "updated_at",
    time_shift_ms=-1,
)
CAMPAIGNS = SourceTable(
    "src_campaigns",
    "campaign",
    event_columns(Stream.CAMPAIGN),
    "updated_at",
)

SOURCES: tuple[SourceTable, ...] = (VIEWS, COMMENTS, AD_CLICKS, CREATOR_PROFILES, CAMPAIGNS)

ATTRIBUTED_CLICKS = SinkTable(
    "out_attributed_clicks",
    "fct_attributed_clicks",
    (
        ("click_id", "STRING"),
        ("event_time", "TIMESTAMP(3)"),
        ("user_id", "STRING"),
        ("ad_id", "STRING"),
        ("campaign_id", "STRING"),
        ("video_id", "STRING"),
        ("creator_id", "STRING"),
        ("status", "STRING"),
        ("currency", "STRING"),
        ("gross_micros", "BIGINT"),
        ("creator_micros", "BIGINT"),
        ("platform_micros", "BIGINT"),
        ("creator_eligible", "BOOLEAN"),
        ("payable", "BOOLEAN"),
        ("not_payable_reason", "STRING"),
        ("attributed_view_id", "STRING"),
        ("attributed_view_time", "TIMESTAMP(3)"),
    ),
)
ENGAGEMENT_WINDOWS = SinkTable(
    "out_engagement_windows",
    "fct_engagement_windows",
    (
        ("creator_id", "STRING"),
        ("window_start", "TIMESTAMP(3)"),
        ("window_end", "TIMESTAMP(3)"),
        ("`views`", "BIGINT"),
        ("unique_viewers", "BIGINT"),
        ("comments", "BIGINT"),
        ("valid_clicks", "BIGINT"),
        ("engagement_rate", "DOUBLE"),
        ("high", "BOOLEAN"),
    ),
)
ELIGIBILITY = SinkTable(
    "out_eligibility",
    "fct_eligibility",
    (
        ("creator_id", "STRING"),
        ("as_of", "TIMESTAMP(3)"),
        ("consistently_high", "BOOLEAN"),
        ("eligible", "BOOLEAN"),
        ("high_windows", "INT"),
        ("reasons", "ARRAY<STRING>"),
        ("followers", "BIGINT"),
        ("lifetime_views", "BIGINT"),
        ("country", "STRING"),
        ("birth_date", "STRING"),
        ("profile_updated_at", "TIMESTAMP(3)"),
    ),
)
ELIGIBILITY_TRANSITIONS = SinkTable(
    "out_eligibility_transitions",
    "fct_eligibility_transitions",
    (
        ("creator_id", "STRING"),
        ("as_of", "TIMESTAMP(3)"),
        ("`transition`", "STRING"),
        ("reasons", "ARRAY<STRING>"),
    ),
)

SINKS: tuple[SinkTable, ...] = (
    ATTRIBUTED_CLICKS,
    ENGAGEMENT_WINDOWS,
    ELIGIBILITY,
    ELIGIBILITY_TRANSITIONS,
)


def source_ddl(table: SourceTable, settings: Settings, options: dict[str, str]) -> str:
    """CREATE TABLE for a clean-event source with its event-time watermark.

    The watermark trails the newest event by the watermark delay plus the
    allowed lateness: a window closes (and is emitted once, final) only when an
    event could no longer legally change it. Later events never reach Flink:
    ingest routes them to ``raw_late_events``.
    """
    columns = ",\n  ".join(f"{name} {kind}" for name, kind in table.columns)
    shift = f" + ({table.time_shift_ms})" if table.time_shift_ms else ""
    delay = interval(settings.watermark_delay_ms + settings.allowed_lateness_ms)
    return (
        f"CREATE TEMPORARY TABLE {table.name} (\n  {columns},\n"
        f"  rowtime AS TO_TIMESTAMP_LTZ({table.time_column}{shift}, 3),\n"
        f"  WATERMARK FOR rowtime AS rowtime - {delay}\n"
        f") WITH ({render_options(options)})"
    )


def sink_ddl(table: SinkTable, options: dict[str, str]) -> str:
    columns = ",\n  ".join(f"{name} {kind}" for name, kind in table.columns)
    return f"CREATE TEMPORARY TABLE {table.name} (\n  {columns}\n) WITH ({render_options(options)})"


def render_options(options: dict[str, str]) -> str:
    return ", ".join(f"'{key}' = '{value}'" for key, value in options.items())
