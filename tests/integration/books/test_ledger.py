"""Every input line accounted for: the ingest ledger, one dead letter per line, hostile files."""

from __future__ import annotations

import hashlib

import pytest

from . import data
from .conftest import Books, Step

pytestmark = pytest.mark.integration

FILES = {
    "view": "views.jsonl",
    "comment": "comments.jsonl",
    "ad_click": "ad_clicks.jsonl",
    "creator_profile": "creator_profiles.jsonl",
    "campaign": "campaigns.jsonl",
}


def test_the_run_report_ends_with_the_reconcile_verdict(first: Step) -> None:
    assert first.run is not None
    last = first.run.stdout.strip().splitlines()[-1]
    assert last.startswith("reconcile: OK, all 13 checks hold"), last


def test_reconcile_holds_after_the_run(first: Step) -> None:
    assert first.reconcile.returncode == 0, first.reconcile.stdout
    assert first.reconcile.stdout.strip().endswith("reconcile: OK, all 13 checks hold")


def test_ledger_balances_per_source(books: Books, first: Step) -> None:
    ledger = first.tables["raw_ingest_ledger"]
    assert sorted(row["stream"] for row in ledger) == sorted(FILES)
    assert len({row["run_id"] for row in ledger}) == 1
    for row in ledger:
        path = books.input_dir / FILES[row["stream"]]
        assert row["source"] == str(path.resolve())
        assert row["lines"] == data.file_lines(path) > 0, row
        assert row["lines"] == row["accepted"] + row["rejected"] + row["replays"] + row["late"]
        assert (row["position_kind"], row["first_position"]) == ("line", 1)
        assert row["last_position"] == row["lines"]
        dead = [
            r
            for r in first.tables["raw_rejected_events"]
            if (r["stream"], r["source"]) == (row["stream"], row["source"])
        ]
        assert row["rejected"] == len(dead), row["stream"]


def test_identical_bad_lines_are_one_row_each(first: Step) -> None:
    """The collapse case: three `42`, two `null`, three blank lines, two `[]` -> ten rows."""
    views = [r for r in first.tables["raw_rejected_events"] if r["stream"] == "view"]
    assert [r["line"] for r in views] == list(range(1, len(data.HOSTILE_VIEWS) + 1))
    not_object = [r for r in views if r["reason"] == "not_object"]
    assert len(not_object) == 7
    ledger = {r["stream"]: r for r in first.tables["raw_ingest_ledger"]}
    assert ledger["view"]["rejected"] == len(data.HOSTILE_VIEWS) == len(views)


def test_hostile_lines_are_rejected_with_reason_and_exact_bytes(first: Step) -> None:
    views = [r for r in first.tables["raw_rejected_events"] if r["stream"] == "view"]
    for row, (raw, reason) in zip(views, data.HOSTILE_VIEWS, strict=True):
        assert row["reason"] == reason, row["line"]
        assert row["raw_len"] == len(raw), row["line"]
        assert row["raw_sha"] == hashlib.sha256(raw).hexdigest(), row["line"]


def test_valid_lines_of_hostile_files_are_accepted(first: Step) -> None:
    ledger = {r["stream"]: r for r in first.tables["raw_ingest_ledger"]}
    # views: everything after the hostile head, the 2 MiB view included
    assert ledger["view"]["accepted"] == ledger["view"]["lines"] - len(data.HOSTILE_VIEWS)
    # comments.jsonl starts with a BOM, campaigns.jsonl has CRLF endings,
    # ad_clicks.jsonl has no final newline: nothing rejected
    for stream in ("comment", "campaign", "ad_click", "creator_profile"):
        assert ledger[stream]["rejected"] == 0, stream
        assert ledger[stream]["accepted"] == ledger[stream]["lines"], stream
    clicks = {c["click_id"] for c in first.tables["fct_attributed_clicks"]}
    assert clicks == {"k-j1", "k-j2", "k-j3", "k-j4", "k-jb", "k-f1"}  # k-f1 is the last line


def test_a_rerun_replaces_the_dead_letters_of_its_files(first: Step, superset: Step) -> None:
    """Same paths read again: the same rows, not a second copy; the ledger logs both reads."""
    assert superset.tables["raw_rejected_events"] == first.tables["raw_rejected_events"]
    runs = {r["run_id"] for r in superset.tables["raw_ingest_ledger"]}
    assert len(runs) == 2
    assert len(superset.tables["raw_ingest_ledger"]) == 2 * len(FILES)
