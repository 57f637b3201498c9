"""Streaming results that arrive after a close are booked by the loader as adjustments.

``pulse run`` over the books input (January + early February 2026), ``pulse close --month
2026-01``; then a real broker and the real loader (``jobs/faust_loader.py``) on that warehouse,
and a late click of January (a copy of k-j1 under a new click id: same creator, day, campaign
and eligibility) produced straight into ``results.attributed_clicks``, twice (the second is a
redelivery). The loader books one adjustment into February, replaced (not added to) by the
redelivery, so that January's statement + adjustments = January's clicks; ``pulse reconcile``
is green.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from pipelines.connectors.kafka_topics import ensure_topics, pulse_topics
from pipelines.load.results import result_read_schema
from pipelines.local.kafka_broker import LocalKafkaBroker
from tests.integration.streaming.conftest import Proc, require_kafka_jars

from . import data
from .conftest import DELTAS, Books

pytestmark = pytest.mark.integration

CLICKS_TOPIC = "results.attributed_clicks"
TIMES = ("event_time", "attributed_view_time")


@dataclass
class Streamed:
    books: Books
    adjustments: list[dict[str, Any]]
    journal: list[dict[str, Any]]
    loader_log: Path


def _late_click(books: Books) -> bytes:
    """k-j1 as the Flink job writes it (zone-less ISO instants), under a new click id."""
    names = result_read_schema("fct_attributed_clicks").names
    columns = ", ".join(
        f"replaceOne(toString({n}), ' ', 'T') AS {n}" if n in TIMES else n for n in names
    )
    rows = books.query(f"SELECT {columns} FROM fct_attributed_clicks FINAL WHERE click_id = 'k-j1'")
    assert len(rows) == 1 and rows[0]["payable"] and rows[0]["currency"] == "USD"
    return json.dumps({**rows[0], "click_id": "k-late"}).encode()


async def _produce(bootstrap: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await (await producer.send(CLICKS_TOPIC, value, key=b"k-late"))
    finally:
        await producer.stop()


def _stored_click_batches(journal: Path) -> list[dict[str, Any]]:
    if not journal.exists():
        return []
    lines = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    return [line for line in lines if line["topic"] == CLICKS_TOPIC and line["rows"]]


def _wait(what: str, condition: Any, loader: Proc, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert loader.alive(), f"the loader exited:\n{loader.tail()}"
        assert time.monotonic() < deadline, f"timeout waiting for {what}:\n{loader.tail()}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def streamed(tmp_path_factory: pytest.TempPathFactory) -> Streamed:
    require_kafka_jars()
    root = tmp_path_factory.mktemp("streaming-books")
    books = Books(root, root / "input", root / "warehouse")
    data.write(books.input_dir, superset=False)
    books.run()
    close = books.pulse("close", "--month", "2026-01")
    assert close.returncode == 0, close.stderr
    value = _late_click(books)

    broker = LocalKafkaBroker(root / "kafka", port=None, start_timeout=90.0).start()
    loader: Proc | None = None
    journal = root / "loader-journal.jsonl"
    try:
        asyncio.run(ensure_topics(broker.bootstrap, pulse_topics(1)))
        env = {
            **os.environ,
            "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
            "PULSE_KAFKA__BOOTSTRAP": broker.bootstrap,
            "PULSE_WAREHOUSE": str(books.warehouse),
            "PULSE_WORK_DIR": str(root / "work"),
            "PULSE_LOADER__DATA_DIR": str(root / "loader-data"),
            "PULSE_LOADER__JOURNAL": str(journal),
            "PULSE_LOADER__WITHIN_S": "0.2",
            "PULSE_LOADER__QUERY_ENDPOINT": "false",
            "PULSE_METRICS__LOADER_PORT": "0",
        }
        loader = Proc("loader", [sys.executable, "-m", "jobs.faust_loader"], env, root / "l.log")
        asyncio.run(_produce(broker.bootstrap, value))
        _wait("the late click stored", lambda: len(_stored_click_batches(journal)) >= 1, loader)
        asyncio.run(_produce(broker.bootstrap, value))  # the same result, delivered again
        _wait("the redelivery stored", lambda: len(_stored_click_batches(journal)) >= 2, loader)
        loader.stop()  # graceful: the warehouse folder is unlocked
        assert loader.popen.returncode is not None
    finally:
        if loader is not None:
            loader.stop(timeout=30)
        broker.stop()
    adjustments = books.query(
        "SELECT * FROM fct_payout_adjustments FINAL ORDER BY for_month, creator_id, currency"
    )
    return Streamed(books, adjustments, _stored_click_batches(journal), root / "l.log")


def test_the_loader_books_the_late_click_into_the_next_open_month(streamed: Streamed) -> None:
    assert len(streamed.adjustments) == 1, streamed.adjustments
    row = streamed.adjustments[0]
    assert (row["creator_id"], row["currency"]) == ("c-pay", "USD")
    assert (str(row["for_month"]), str(row["booked_month"])) == ("2026-01-01", "2026-02-01")
    # one payable USD click: replaced by the redelivery, never doubled
    assert tuple(row[d] for d in DELTAS) == (1, 1, data.CPC_USD, 61_728, 61_729)
    assert row["reason"] == "clicks_added"
    assert row["run_id"].startswith(f"loader:{CLICKS_TOPIC}/0@")


def test_statement_plus_adjustments_equal_the_months_clicks(streamed: Streamed) -> None:
    books = streamed.books
    month = "toStartOfMonth(day) = '2026-01-01'"
    clicks = books.query(
        f"SELECT creator_id, currency, sum(valid_clicks) AS v, sum(payable_clicks) AS p, "
        f"sum(gross_micros) AS g, sum(creator_micros) AS c, sum(platform_micros) AS pl "
        f"FROM agg_creator_payouts_daily FINAL WHERE {month} GROUP BY creator_id, currency"
    )
    statements = books.query(
        "SELECT creator_id, currency, valid_clicks AS v, payable_clicks AS p, gross_micros AS g, "
        "creator_micros AS c, platform_micros AS pl FROM fct_payout_statements "
        "WHERE month = '2026-01-01'"
    )
    values = ("v", "p", "g", "c", "pl")
    paid = {(r["creator_id"], r["currency"]): [int(r[v]) for v in values] for r in statements}
    for adj in streamed.adjustments:
        key = (adj["creator_id"], adj["currency"])
        paid[key] = [a + int(adj[d]) for a, d in zip(paid.get(key, [0] * 5), DELTAS, strict=True)]
    assert paid == {(r["creator_id"], r["currency"]): [int(r[v]) for v in values] for r in clicks}


def test_reconcile_is_green_after_the_late_streaming_click(streamed: Streamed) -> None:
    done = streamed.books.pulse("reconcile")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "closed_months_balance" in done.stdout
