"""`pulse close`, `pulse statements` and `pulse reconcile` against a tampered warehouse."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from .conftest import Books, Closing

pytestmark = pytest.mark.integration

# (creator, currency) -> valid, payable, gross, creator, platform: January as first loaded
JANUARY = {
    ("c-pay", "USD"): (2, 2, 246_914, 123_456, 123_458),  # k-j1, k-j3
    ("c-pay", "EUR"): (1, 1, 1_000_001, 500_000, 500_001),  # k-j2
    ("c-free", "USD"): (1, 0, 123_457, 0, 123_457),  # k-j4 (k-jb is a bot: not here)
}
MONEY = ("valid_clicks", "payable_clicks", "gross_micros", "creator_micros", "platform_micros")


def test_close_freezes_the_month(closed: Closing) -> None:
    assert closed.close.returncode == 0, closed.close.stderr
    assert "closed 2026-01: 3 statement rows" in closed.close.stdout
    assert "is final" in closed.close.stdout and "FORCED" not in closed.close.stdout
    rows = closed.tables["fct_payout_statements"]
    got = {(r["creator_id"], r["currency"]): tuple(r[m] for m in MONEY) for r in rows}
    assert got == JANUARY
    assert {r["month"] for r in rows} == {"2026-01-01"}
    assert len({r["statement_id"] for r in rows}) == 3
    assert all(len(r["content_hash"]) == 64 for r in rows)
    (record,) = closed.tables["fct_payout_closes"]
    assert (record["month"], record["forced"], record["statement_rows"]) == ("2026-01-01", False, 3)
    assert record["final_after"] == "2026-02-01T01:36:00.000Z"
    assert record["seen_event_time"] == "2026-02-03T00:00:00.000Z"


def test_closing_twice_is_a_no_op(closed: Closing) -> None:
    assert closed.again.returncode == 0
    assert "already closed" in closed.again.stdout
    assert len(closed.tables["fct_payout_closes"]) == 1


def test_a_month_not_final_is_refused_with_the_reason(closed: Closing) -> None:
    done = closed.not_final
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    message = done.stderr.strip()
    assert "month 2026-02 is not final" in message
    assert "2026-02-03T00:00:00.000Z" in message  # seen
    assert "2026-03-01T01:36:00.000Z" in message  # needed
    assert "--force" in message


def test_statements_formats(closed: Closing) -> None:
    records = [json.loads(line) for line in closed.statements_jsonl.stdout.splitlines()]
    got = {(r["creator_id"], r["currency"]): tuple(r[m] for m in MONEY) for r in records}
    assert got == JANUARY
    for r in records:
        assert r["month"] == "2026-01" and r["statement_id"].startswith("S-202601-")
        assert r["adj_creator_micros"] == 0 and r["adjusted_months"] == []
        assert r["pay_creator_micros"] == r["creator_micros"]
    rows = list(csv.DictReader(io.StringIO(closed.statements_csv.stdout)))
    assert {(r["creator_id"], r["currency"], r["creator_micros"]) for r in rows} == {
        ("c-pay", "USD", "123456"),
        ("c-pay", "EUR", "500000"),
        ("c-free", "USD", "0"),
    }
    table = closed.statements_table.stdout
    assert "to pay for 2026-01 in EUR: 0.500000" in table
    assert "to pay for 2026-01 in USD: 0.123456" in table


def test_statements_of_an_open_month_are_refused(books: Books, closed: Closing) -> None:
    done = books.pulse("statements", "--month", "2026-02", warehouse=closed.warehouse_copy)
    assert done.returncode == 1
    assert "2026-02 is not closed" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def tampered(books: Books, closed: Closing, tmp_path: Path) -> Path:
    """A fresh copy of the warehouse as it was right after the close."""
    target = tmp_path / "warehouse"
    shutil.copytree(closed.warehouse_copy, target, symlinks=True)
    assert books.pulse("reconcile", warehouse=target).returncode == 0
    return target


def tamper(books: Books, warehouse: Path, sql: str) -> None:
    done = books.pulse("query", f"{sql} SETTINGS mutations_sync = 2", warehouse=warehouse)
    assert done.returncode == 0, done.stderr


def failed_checks(stdout: str) -> set[str]:
    return {line.split()[0] for line in stdout.splitlines() if " FAILED " in f" {line} "}


def test_a_payout_row_off_by_one_micro(books: Books, tampered: Path) -> None:
    tamper(
        books,
        tampered,
        "ALTER TABLE agg_creator_payouts_daily UPDATE creator_micros = creator_micros + 1 "
        "WHERE creator_id = 'c-pay' AND day = '2026-01-26'",
    )
    done = books.pulse("reconcile", warehouse=tampered)
    assert done.returncode == 1
    assert failed_checks(done.stdout) == {"payouts_match_clicks"}
    assert "c-pay 2026-01-26 USD: creator_micros 61729 but clicks sum to 61728" in done.stdout
    assert "reconcile: FAILED, 1 of 13 checks" in done.stdout
    # the damage is in January: a February-only reconcile does not see it
    february = books.pulse(
        "reconcile", "--from", "2026-02-01", "--to", "2026-02-28", warehouse=tampered
    )
    assert february.returncode == 0, february.stdout


def test_a_deleted_click(books: Books, tampered: Path) -> None:
    tamper(books, tampered, "ALTER TABLE fct_attributed_clicks DELETE WHERE click_id = 'k-j4'")
    done = books.pulse("reconcile", warehouse=tampered)
    assert done.returncode == 1
    assert failed_checks(done.stdout) == {"payouts_match_clicks", "closed_months_balance"}
    assert "c-free 2026-01-27 USD: no valid clicks" in done.stdout
    assert "2026-01 c-free USD: statement + adjustments valid 1" in done.stdout


def test_a_statement_changed_after_the_close(books: Books, tampered: Path) -> None:
    tamper(
        books,
        tampered,
        "ALTER TABLE fct_payout_statements UPDATE creator_micros = creator_micros - 1 "
        "WHERE creator_id = 'c-pay' AND currency = 'EUR'",
    )
    done = books.pulse("reconcile", warehouse=tampered)
    assert done.returncode == 1
    assert failed_checks(done.stdout) == {"closed_months_balance", "statements_intact"}
    assert "2026-01 c-pay EUR: content_hash does not match the row" in done.stdout


def test_a_click_whose_split_does_not_add_up(books: Books, tampered: Path) -> None:
    tamper(
        books,
        tampered,
        "ALTER TABLE fct_attributed_clicks UPDATE platform_micros = platform_micros + 1 "
        "WHERE click_id = 'k-j1'",
    )
    done = books.pulse("reconcile", warehouse=tampered)
    assert done.returncode == 1
    assert "click_split" in failed_checks(done.stdout)
    assert "k-j1: creator 61728 + platform 61730 != gross 123457" in done.stdout


def test_a_lost_dead_letter(books: Books, tampered: Path) -> None:
    tamper(
        books, tampered, "ALTER TABLE raw_rejected_events DELETE WHERE stream = 'view' AND line = 2"
    )
    done = books.pulse("reconcile", warehouse=tampered)
    assert done.returncode == 1
    assert failed_checks(done.stdout) == {"ledger_rejected_rows"}
    assert "counts 19 rejected lines, raw_rejected_events holds 18" in done.stdout
