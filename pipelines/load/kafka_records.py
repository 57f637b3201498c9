"""Pure batching of Kafka records into Arrow tables for the warehouse (no Kafka, no I/O).

The loader (``jobs/faust_loader.py``) hands each batch of one topic to
:func:`batch_to_arrow` and inserts the result. Values are parsed exactly like
the bounded run's files:

* ``results.*`` carry the JSON of the Flink file sinks (ISO-8601, zone-less UTC
  timestamps): the reader of :mod:`pipelines.load.results` is reused;
* ``clean.creator_profiles`` / ``clean.campaigns`` carry clean JSON (epoch ms),
  read like :mod:`pipelines.load.dims`;
* ``deadletter.rejected`` / ``results.late_events`` carry the ingest's JSON
  contract (``raw_b64`` is the payload as received);
* ``results.ingest_ledger`` carries the ingest's ledger records
  (:mod:`pipelines.ingest.ledger`, instants in epoch ms); of several records with
  the same key in one batch (a batch redone after an ingest crash), the last one
  is kept, as the table keeps the last insert.

A record that cannot be parsed never stops the batch: it is returned in
:attr:`Converted.bad` for the caller to log and count (results topics are
written by our own jobs only, so a bad record is a bug to investigate, not input).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from pipelines.domain.streams import DEADLETTER_TOPIC, LATE_TOPIC, LEDGER_TOPIC, RESULTS, STREAMS
from pipelines.load.dims import dimension_read_schema
from pipelines.load.ingest_rows import LedgerEntry, ledger_table
from pipelines.load.results import result_read_schema
from pipelines.warehouse.books import LedgerCounts
from pipelines.warehouse.tables import arrow_schema

#: every topic the loader reads -> its warehouse table (the stream catalog's)
TOPIC_TABLES: dict[str, str] = {r.topic: r.table for r in RESULTS}
#: results of the Flink job
RESULT_TOPICS: dict[str, str] = {r.topic: r.table for r in RESULTS if r.sink_table is not None}
#: clean changelog topics loaded as dimensions
DIMENSION_TOPICS: dict[str, str] = {
    spec.clean_topic: spec.dimension_table for spec in STREAMS if spec.dimension_table is not None
}
REJECTED_TOPIC = DEADLETTER_TOPIC
CLICKS_TABLE = "fct_attributed_clicks"


@dataclass(frozen=True)
class Record:
    """One Kafka record as the loader sees it."""

    value: bytes | None
    timestamp_ms: int  # broker time (LogAppendTime): stable across redelivery
    topic: str = ""
    partition: int = 0
    offset: int = 0


@dataclass
class Converted:
    table: str
    data: pa.Table
    bad: list[tuple[Record, str]] = field(default_factory=list)


def batch_to_arrow(topic: str, records: Sequence[Record]) -> Converted:
    """The Arrow table (warehouse schema) for a batch of one topic's records."""
    table = TOPIC_TABLES[topic]
    if topic in RESULT_TOPICS:
        return _json_lines(table, records, result_read_schema(table))
    if topic in DIMENSION_TOPICS:
        return _json_lines(table, records, dimension_read_schema(table))
    if topic == REJECTED_TOPIC:
        return _rows(table, records, _rejected_row)
    if topic == LATE_TOPIC:
        return _rows(table, records, _late_row)
    if topic == LEDGER_TOPIC:
        return _ledger(table, records)
    raise KeyError(f"no warehouse table for topic {topic!r}")


def click_days(data: pa.Table) -> list[date]:
    """UTC days of the clicks in a ``fct_attributed_clicks`` batch (payouts to rebuild)."""
    if data.num_rows == 0:
        return []
    days = pc.unique(pc.cast(data.column("event_time"), pa.date32()))
    return sorted(day for day in days.to_pylist() if day is not None)


def closed_days(days: Iterable[date], closed: Iterable[date]) -> list[date]:
    """The ``days`` that fall in a closed month (``closed``: first days of closed months)."""
    months = {(m.year, m.month) for m in closed}
    return sorted(day for day in set(days) if (day.year, day.month) in months)


def batch_run_id(topic: str, records: Sequence[Record]) -> str:
    """The id of one loader batch, for the adjustments it books: ``loader:TOPIC/P@FIRST-LAST``
    per partition read (``,`` between partitions). The same batch, redelivered, has the same id.
    """
    ranges: dict[int, tuple[int, int]] = {}
    for r in records:
        low, high = ranges.get(r.partition, (r.offset, r.offset))
        ranges[r.partition] = (min(low, r.offset), max(high, r.offset))
    parts = ",".join(f"{topic}/{p}@{lo}-{hi}" for p, (lo, hi) in sorted(ranges.items()))
    return f"loader:{parts or topic}"


def dedup_token(topic: str, records: Sequence[Record], loader_version: str) -> str:
    """The ``insert_deduplication_token`` of one loader batch on a cluster:
    :func:`batch_run_id` (its offsets) and the loader's version,
    ``loader:TOPIC/P@FIRST-LAST[,...]#LOADER_VERSION``.

    A retried or redelivered batch of the same records gets the same token, so the shard's
    replicas drop the repeated insert; other offsets get another token even when their rows
    are equal (deduplication means "the same Kafka records", never "the same content"). The
    version keeps a batch converted by another loader release (whose rows for the same
    records may differ) from being dropped as the old release's insert.
    """
    if not loader_version or "#" in loader_version:
        raise ValueError(f"loader version {loader_version!r} must be non-empty, without '#'")
    return f"{batch_run_id(topic, records)}#{loader_version}"


# --- JSON Lines values (results, dimensions) ------------------------------------------


def _parse_lines(payload: bytes, schema: pa.Schema, unexpected: str) -> pa.Table:
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior=unexpected)
    read = pajson.ReadOptions(block_size=max(1 << 20, len(payload) + 1))
    return pajson.read_json(pa.BufferReader(payload), read_options=read, parse_options=options)


def _json_lines(table: str, records: Sequence[Record], read_schema: pa.Schema) -> Converted:
    target = arrow_schema(table)
    # results must match the sink schema exactly; clean changelogs carry more fields
    unexpected = "error" if table in RESULT_TOPICS.values() else "ignore"
    good: list[Record] = []
    bad: list[tuple[Record, str]] = []
    for record in records:
        value = record.value
        if not value or b"\n" in value or b"\r" in value:
            bad.append((record, "empty value" if not value else "multi-line value"))
        else:
            good.append(record)
    parts: list[pa.Table] = []
    if good:
        try:
            parts.append(
                _parse_lines(b"\n".join(r.value or b"" for r in good), read_schema, unexpected)
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            for record in good:  # isolate the bad record(s); keep the rest
                try:
                    parts.append(_parse_lines(record.value or b"", read_schema, unexpected))
                except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
                    bad.append((record, str(err).splitlines()[0]))
    if not parts:
        return Converted(table, target.empty_table(), bad)
    data = pa.concat_tables(parts).select(target.names)
    try:
        return Converted(table, data.cast(target), bad)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:  # e.g. a null in a key column
        return Converted(table, target.empty_table(), bad + [(r, str(err)) for r in good])


# --- ingest's JSON contract (dead letters, late events) ---------------------------------


def _payload(obj: dict[str, Any]) -> bytes:
    raw_b64 = obj.get("raw_b64")
    if isinstance(raw_b64, str):
        return base64.b64decode(raw_b64, validate=True)
    raw = obj.get("raw")
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    raise ValueError("neither raw_b64 nor raw")


def _object(record: Record) -> dict[str, Any]:
    obj = json.loads(record.value or b"")
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    return obj


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string")
    return value


def _int(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} is not an integer")
    return value


def _rejected_row(record: Record) -> dict[str, Any]:
    obj = _object(record)
    offset = obj.get("offset")
    detail = obj.get("detail")
    return {
        "stream": _text(obj, "stream"),
        "source": _text(obj, "source"),
        "line": None,
        "offset": offset if isinstance(offset, int) and offset >= 0 else None,
        "reason": _text(obj, "reason"),
        "raw": _payload(obj),
        "detail": detail if isinstance(detail, str) else "",
        # broker arrival time of the dead letter: the same on every redelivery
        "rejected_at": record.timestamp_ms,
    }


def _late_row(record: Record) -> dict[str, Any]:
    obj = _object(record)
    reason = obj.get("reason")
    return {
        "stream": _text(obj, "stream"),
        "event_id": _text(obj, "event_id"),
        "event_time": _int(obj, "event_time"),
        "watermark": _int(obj, "watermark"),
        "raw": _payload(obj),
        "reason": reason if isinstance(reason, str) and reason else "beyond_allowed_lateness",
    }


# --- the ingest ledger -------------------------------------------------------------------


def _count(obj: dict[str, Any], name: str) -> int:
    value = _int(obj, name)
    if value < 0:
        raise ValueError(f"{name} is negative")
    return value


def _optional_ms(obj: dict[str, Any], name: str) -> int | None:
    return None if obj.get(name) is None else _int(obj, name)


def ledger_entry(record: Record) -> LedgerEntry:
    """The ``raw_ingest_ledger`` row of one ``results.ingest_ledger`` record."""
    obj = _object(record)
    counts = LedgerCounts(
        lines=_count(obj, "lines"),
        accepted=_count(obj, "accepted"),
        rejected=_count(obj, "rejected"),
        replays=_count(obj, "replays"),
        late=_count(obj, "late"),
    )
    return LedgerEntry(
        run_id=_text(obj, "run_id"),
        stream=_text(obj, "stream"),
        source=_text(obj, "source"),
        position_kind=_text(obj, "position_kind"),
        first_position=_count(obj, "first_position"),
        last_position=_count(obj, "last_position"),
        counts=counts,
        min_event_ms=_optional_ms(obj, "min_event_time"),
        max_event_ms=_optional_ms(obj, "max_event_time"),
        reference_ms=_int(obj, "reference_time"),
        recorded_ms=_int(obj, "recorded_at"),
    )


def _ledger(table: str, records: Sequence[Record]) -> Converted:
    # the table's key; the last record of a key wins (a redone batch replaces the crashed one's)
    latest: dict[tuple[str, str, str, int], LedgerEntry] = {}
    bad: list[tuple[Record, str]] = []
    for record in records:
        try:
            entry = ledger_entry(record)
        except (ValueError, TypeError) as err:
            bad.append((record, str(err)))
            continue
        key = (entry.stream, entry.source, entry.run_id, entry.first_position)
        latest.pop(key, None)  # keep the order of the last occurrences
        latest[key] = entry
    return Converted(table, ledger_table(list(latest.values())), bad)


def _rows(table: str, records: Sequence[Record], convert: Any) -> Converted:
    schema = arrow_schema(table)
    schema = schema.set(schema.get_field_index("raw"), pa.field("raw", pa.binary(), False))
    rows: list[dict[str, Any]] = []
    bad: list[tuple[Record, str]] = []
    for record in records:
        try:
            rows.append(convert(record))
        except (ValueError, TypeError, UnicodeError) as err:
            bad.append((record, str(err)))
    arrays = []
    for f in schema:
        values = [row[f.name] for row in rows]
        if pa.types.is_timestamp(f.type):
            arrays.append(pa.array(values, pa.int64()).cast(f.type))
        else:
            arrays.append(pa.array(values, f.type))
    return Converted(table, pa.Table.from_arrays(arrays, schema=schema), bad)
