"""The streaming ingest ledger: one record per ingest batch and raw topic/partition read.

The Kafka ingest (:mod:`pipelines.streaming.ingest_worker`) tallies, for every batch and every
raw partition it read, the messages read and how each one ended, and sends the tally to
``results.ingest_ledger`` with the batch's other outputs, before the raw offsets are committed.
The loader stores it in ``raw_ingest_ledger`` (:func:`pipelines.load.kafka_records.batch_to_arrow`),
the table the bounded run fills per input file:

* ``source`` is ``topic/partition``, exactly the ``source`` of the partition's dead letters
  (:func:`pipelines.ingest.messages.rejected_value`), so that per source the summed ``rejected``
  equals its rows in ``raw_rejected_events``;
* ``position_kind`` is ``offset``; ``first_position`` / ``last_position`` the first and last
  offset read; ``lines`` the messages read (``len`` of the batch's records of the partition,
  counted apart from the outcomes, so ``lines = accepted + rejected + replays + late`` is a check);
* ``run_id`` is :func:`ledger_run_id` (source and first offset), stable across a crash: the
  batch redone after a crash starts at the same committed offset (it may end elsewhere), so its
  record has the same key (stream, source, run_id, first_position) and REPLACES the record of the
  crashed batch in the ReplacingMergeTree instead of adding to it. Messages redelivered after a
  crash whose outputs were already in Kafka count with the outcome they had.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from pipelines.ingest.step import Outcome

__all__ = ["POSITION_KIND", "LedgerTally", "ledger_run_id", "ledger_source"]

POSITION_KIND = "offset"


def ledger_source(topic: str, partition: int) -> str:
    """``raw.views/1``: the ``source`` of a raw partition (the dead letters' ``source`` too)."""
    return f"{topic}/{partition}"


def ledger_run_id(source: str, first_offset: int) -> str:
    """The run id of a batch of ``source`` starting at ``first_offset``: ``raw.views/1@42``.

    Depends on nothing else (not on where the batch ended, nor on the worker, nor on the time),
    so a batch redone after a crash gets the id of the crashed one."""
    return f"{source}@{first_offset}"


@dataclass
class LedgerTally:
    """What happened to the messages of one raw partition in one ingest batch."""

    stream: str
    topic: str
    partition: int
    first_offset: int
    last_offset: int = -1
    lines: int = 0
    accepted: int = 0
    rejected: int = 0
    replays: int = 0
    late: int = 0
    min_event_ms: int | None = None
    max_event_ms: int | None = None

    @property
    def source(self) -> str:
        return ledger_source(self.topic, self.partition)

    @property
    def run_id(self) -> str:
        return ledger_run_id(self.source, self.first_offset)

    def count(self, outcome: Outcome, event_ms: int | None = None) -> None:
        """One message ended with ``outcome``; ``event_ms``: its event time when accepted."""
        if outcome is Outcome.CLEAN:
            self.accepted += 1
            if event_ms is not None:
                if self.min_event_ms is None or event_ms < self.min_event_ms:
                    self.min_event_ms = event_ms
                if self.max_event_ms is None or event_ms > self.max_event_ms:
                    self.max_event_ms = event_ms
        elif outcome is Outcome.REJECTED:
            self.rejected += 1
        elif outcome is Outcome.REPLAY:
            self.replays += 1
        elif outcome is Outcome.LATE:
            self.late += 1
        else:  # pragma: no cover - every outcome is handled above
            raise ValueError(f"unknown outcome {outcome!r}")

    def finish(self, last_offset: int, messages: int) -> None:
        """The batch's read of the partition ended at ``last_offset``, ``messages`` read."""
        self.last_offset, self.lines = last_offset, messages

    def key(self) -> bytes:
        """Message key: the source, so every record of a source lands in one partition, in
        order (a redone batch's record comes after the one it replaces)."""
        return self.source.encode()

    def value(self, reference_ms: int, recorded_ms: int) -> bytes:
        """The ``results.ingest_ledger`` value (instants in epoch ms)."""
        body: dict[str, Any] = {
            "run_id": self.run_id,
            "stream": self.stream,
            "source": self.source,
            "position_kind": POSITION_KIND,
            "first_position": self.first_offset,
            "last_position": self.last_offset,
            "lines": self.lines,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "replays": self.replays,
            "late": self.late,
            "min_event_time": self.min_event_ms,
            "max_event_time": self.max_event_ms,
            "reference_time": reference_ms,
            "recorded_at": recorded_ms,
        }
        return orjson.dumps(body)
