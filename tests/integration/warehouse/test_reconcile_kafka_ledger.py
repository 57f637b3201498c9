"""``ledger_rejected_rows`` for Kafka sources: many ledger rows per topic/partition (one per
ingest batch), compared by their SUM with the source's dead letters; a batch redone after a
crash replaces its row; file sources keep "latest run" semantics."""

from __future__ import annotations

import pytest

from pipelines.config import load_settings
from pipelines.connectors.warehouse import Warehouse
from pipelines.domain.streams import DEADLETTER_TOPIC, LEDGER_TOPIC
from pipelines.ingest.files import RejectedRow
from pipelines.ingest.ledger import LedgerTally
from pipelines.ingest.messages import rejected_value
from pipelines.ingest.step import Outcome
from pipelines.load.ingest_rows import LedgerEntry, ledger_table, rejected_table
from pipelines.load.kafka_records import Record, batch_to_arrow
from pipelines.warehouse.books import LedgerCounts
from pipelines.warehouse.reconcile import run_checks

pytestmark = pytest.mark.integration

T0 = 1_790_000_000_000
SOURCE = "raw.views/1"


def _batch(first: int, outcomes: list[Outcome]) -> bytes:
    tally = LedgerTally("view", "raw.views", 1, first)
    for outcome in outcomes:
        tally.count(outcome, T0 if outcome is Outcome.CLEAN else None)
    tally.finish(first + len(outcomes) - 1, len(outcomes))
    return tally.value(T0, T0)


def _load(wh: Warehouse, topic: str, values: list[bytes]) -> None:
    records = [Record(v, T0, topic, 0, i) for i, v in enumerate(values)]
    converted = batch_to_arrow(topic, records)
    assert not converted.bad
    wh.insert_arrow(converted.table, converted.data)


def _letter(offset: int) -> bytes:
    return rejected_value("view", "raw.views", 1, offset, "invalid_json", "", b"{")


def _ledger_check(wh: Warehouse) -> tuple[int, tuple[str, ...]]:
    results = {r.name: r for r in run_checks(wh, load_settings())}
    assert results["ledger_balances"].offending == 0
    check = results["ledger_rejected_rows"]
    return check.offending, check.examples


def test_kafka_sources_compare_the_sum_over_their_batches(warehouse: Warehouse) -> None:
    c, r = Outcome.CLEAN, Outcome.REJECTED
    crashed = _batch(4, [r, c])  # sent, then the worker died before committing
    _load(warehouse, LEDGER_TOPIC, [_batch(0, [c, r, c, c]), crashed])
    _load(warehouse, LEDGER_TOPIC, [_batch(4, [r, c, c, r, c])])  # the redone batch replaces it
    _load(warehouse, DEADLETTER_TOPIC, [_letter(1), _letter(4), _letter(7)])
    rows = warehouse.query_rows(
        f"SELECT count(), sum(lines), sum(rejected) FROM {warehouse.table('raw_ingest_ledger')} "
        "FINAL"
    )[1]
    assert [tuple(int(v) for v in rows[0])] == [(2, 9, 3)]
    assert _ledger_check(warehouse) == (0, ())

    # a dead letter more than the ledger counts
    _load(warehouse, DEADLETTER_TOPIC, [_letter(2)])
    offending, examples = _ledger_check(warehouse)
    assert offending == 1
    assert examples == (
        f"view {SOURCE}: ledger (sum over 2 ingest batches) counts 3 rejected messages, "
        "raw_rejected_events holds 4",
    )


def test_file_sources_keep_the_latest_run(warehouse: Warehouse) -> None:
    def entry(run: str, rejected: int, recorded: int) -> LedgerEntry:
        counts = LedgerCounts(lines=5, accepted=5 - rejected, rejected=rejected, replays=0, late=0)
        return LedgerEntry(
            run, "view", "in/views.jsonl", "line", 1, 5, counts, None, None, T0, recorded
        )

    warehouse.insert_arrow(
        "raw_ingest_ledger", ledger_table([entry("run-1", 2, T0), entry("run-2", 1, T0 + 1)])
    )
    row = RejectedRow("view", "in/views.jsonl", 3, "invalid_json", "", b"{")
    warehouse.insert_arrow("raw_rejected_events", rejected_table([row], T0))
    assert _ledger_check(warehouse) == (0, ())
