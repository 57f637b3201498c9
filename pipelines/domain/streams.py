"""The catalog of streams and results: every topic name, message key, file stem, schema and table
of pulse is derived from here, and from nowhere else.

* :data:`STREAMS`: one entry per input stream (file stem, raw and clean topic, key field, JSON
  schema, Flink source table, warehouse dimension table for the changelogs);
* :data:`RESULTS`: every topic the warehouse loader reads, with the table it fills (the Flink
  sink table for job results, none for dead letters, late events, the ingest ledger and
  dimensions);
* :class:`Topics`: the same names with an optional prefix (tests and benchmarks share one broker).

``infra/kafka/TOPICS.md`` is generated from this module (``python -m pipelines.domain.streams``)
and a test keeps it equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.domain.events import Stream

__all__ = [
    "DEADLETTER_TOPIC",
    "LATE_TOPIC",
    "LEDGER_TOPIC",
    "RESULTS",
    "STREAMS",
    "ResultSpec",
    "StreamSpec",
    "Topics",
    "result_for_table",
    "result_of_sink",
    "spec_of",
    "spec_of_source",
    "stream_of_stem",
]


@dataclass(frozen=True)
class StreamSpec:
    """One input stream and every name derived from it."""

    stream: Stream
    #: file stem in an input folder (``views.jsonl``) and suffix of its topics
    stem: str
    #: message key of raw (recommended) and clean (always) messages
    key_field: str
    #: Flink source table over the clean events
    source_table: str
    #: a changelog (profiles, campaigns): legitimately quiet for days, may idle
    changelog: bool = False
    #: warehouse dimension table of a changelog stream
    dimension_table: str | None = None

    @property
    def raw_topic(self) -> str:
        return f"raw.{self.stem}"

    @property
    def clean_topic(self) -> str:
        return f"clean.{self.stem}"

    @property
    def schema_file(self) -> str:
        """The JSON Schema of the stream's events, in ``schemas/events/``."""
        return f"{self.stream.value}.v1.schema.json"


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(Stream.VIEW, "views", "user_id", "src_views"),
    StreamSpec(Stream.COMMENT, "comments", "user_id", "src_comments"),
    StreamSpec(Stream.AD_CLICK, "ad_clicks", "user_id", "src_ad_clicks"),
    StreamSpec(
        Stream.CREATOR_PROFILE,
        "creator_profiles",
        "creator_id",
        "src_creator_profiles",
        changelog=True,
        dimension_table="dim_creator_profiles",
    ),
    StreamSpec(
        Stream.CAMPAIGN,
        "campaigns",
        "campaign_id",
        "src_campaigns",
        changelog=True,
        dimension_table="dim_campaigns",
    ),
)

_BY_STREAM = {spec.stream: spec for spec in STREAMS}
_BY_STEM = {spec.stem: spec for spec in STREAMS}

DEADLETTER_TOPIC = "deadletter.rejected"
LATE_TOPIC = "results.late_events"
#: one record per streaming ingest batch and raw topic/partition read (``raw_ingest_ledger``)
LEDGER_TOPIC = "results.ingest_ledger"


@dataclass(frozen=True)
class ResultSpec:
    """A topic the loader reads and the warehouse table it fills."""

    topic: str
    table: str
    #: message key (documentation of what the producer puts there)
    key: str
    #: the Flink sink table writing the topic (None: written by ingest)
    sink_table: str | None = None
    #: a compacted topic (the latest record per key is what matters)
    compacted: bool = False


RESULTS: tuple[ResultSpec, ...] = (
    ResultSpec(
        "results.attributed_clicks", "fct_attributed_clicks", "click_id", "out_attributed_clicks"
    ),
    ResultSpec(
        "results.engagement_windows",
        "fct_engagement_windows",
        "creator_id",
        "out_engagement_windows",
    ),
    ResultSpec(
        "results.eligibility", "fct_eligibility", "creator_id", "out_eligibility", compacted=True
    ),
    ResultSpec(
        "results.eligibility_transitions",
        "fct_eligibility_transitions",
        "creator_id",
        "out_eligibility_transitions",
    ),
    ResultSpec(DEADLETTER_TOPIC, "raw_rejected_events", "source topic"),
    ResultSpec(LATE_TOPIC, "raw_late_events", "source topic"),
    ResultSpec(LEDGER_TOPIC, "raw_ingest_ledger", "source topic/partition"),
    *(
        ResultSpec(spec.clean_topic, spec.dimension_table, spec.key_field)
        for spec in STREAMS
        if spec.dimension_table is not None
    ),
)


def spec_of(stream: Stream | str) -> StreamSpec:
    """The catalog entry of a stream (``Stream`` or its value)."""
    return _BY_STREAM[Stream(stream)]


def stream_of_stem(stem: str) -> StreamSpec | None:
    """The catalog entry whose file stem / topic suffix is ``stem``."""
    return _BY_STEM.get(stem)


def result_for_table(table: str) -> ResultSpec:
    return next(r for r in RESULTS if r.table == table)


def spec_of_source(source_table: str) -> StreamSpec:
    """The stream read by a Flink source table."""
    return next(spec for spec in STREAMS if spec.source_table == source_table)


def result_of_sink(sink_table: str) -> ResultSpec:
    """The result written by a Flink sink table."""
    return next(r for r in RESULTS if r.sink_table == sink_table)


@dataclass(frozen=True)
class Topics:
    """Topic names of the catalog; ``prefix`` isolates tests and benchmarks on one broker."""

    prefix: str = ""

    def raw(self, stream: Stream) -> str:
        return self.prefix + spec_of(stream).raw_topic

    def clean(self, stream: Stream) -> str:
        return self.prefix + spec_of(stream).clean_topic

    @property
    def deadletter(self) -> str:
        return self.prefix + DEADLETTER_TOPIC

    @property
    def late(self) -> str:
        return self.prefix + LATE_TOPIC

    @property
    def ledger(self) -> str:
        return self.prefix + LEDGER_TOPIC
