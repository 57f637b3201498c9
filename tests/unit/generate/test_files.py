"""Files, fields, determinism and the command line of ``pulse generate``."""

from __future__ import annotations

import argparse
import hashlib
from datetime import date
from pathlib import Path

import pytest

from pipelines.commands import generate as command
from pipelines.generate import FILES, generate
from tests.unit.generate.conftest import DataSet, instant_ms

FIELDS = {
    "views.jsonl": {
        "event_id",
        "event_time",
        "user_id",
        "video_id",
        "creator_id",
        "watch_time_ms",
        "country",
        "user_agent",
    },
    "comments.jsonl": {
        "event_id",
        "event_time",
        "user_id",
        "video_id",
        "creator_id",
        "comment_id",
        "text_length",
    },
    "ad_clicks.jsonl": {
        "event_id",
        "event_time",
        "user_id",
        "video_id",
        "ad_id",
        "campaign_id",
        "user_agent",
    },
    "creator_profiles.jsonl": {
        "creator_id",
        "updated_at",
        "followers",
        "lifetime_views",
        "birth_date",
        "country",
    },
    "campaigns.jsonl": {
        "campaign_id",
        "advertiser_id",
        "updated_at",
        "cpc_micros",
        "currency",
        "starts_at",
        "ends_at",
        "status",
    },
}
OPTIONAL = {"comments.jsonl": {"user_agent"}}
INSTANTS = {"event_time", "updated_at", "starts_at", "ends_at"}
COUNTS = {"watch_time_ms", "text_length", "followers", "lifetime_views", "cpc_micros"}


def main(argv: list[str]) -> int:
    """``pulse generate ...`` through this command's own parser (no other commands)."""
    parser = argparse.ArgumentParser(prog="pulse")
    command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def _digest(folder: Path) -> dict[str, str]:
    return {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in FIELDS}


def test_every_file_is_written_with_the_counted_lines(dataset: DataSet) -> None:
    assert set(dataset.counts) == {f"{name}.jsonl" for name in FILES} == set(FIELDS)
    for name, parsed in dataset.files.items():
        assert len(parsed.raw) == dataset.counts[name] > 0


def test_well_formed_lines_carry_exactly_the_domain_fields(dataset: DataSet) -> None:
    for name, parsed in dataset.files.items():
        good = 0
        for row in parsed.rows:
            if row is None or set(row) - OPTIONAL.get(name, set()) != FIELDS[name]:
                continue
            if any(instant_ms(row[k]) is None for k in INSTANTS & set(row)):
                continue
            if any(not isinstance(row[k], int) or row[k] < 0 for k in COUNTS & set(row)):
                continue
            good += 1
        # all but a few malformed lines are well formed
        assert len(parsed.rows) - good <= max(3, 0.04 * len(parsed.rows)), name
        assert good < len(parsed.rows), f"{name} has no malformed line"


def test_comments_sometimes_omit_the_optional_user_agent(dataset: DataSet) -> None:
    rows = [r for r in dataset.files["comments.jsonl"].rows if r is not None]
    with_ua = sum("user_agent" in r for r in rows)
    assert 0 < with_ua < len(rows)


def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    kwargs = {"creators": 12, "days": 3, "seed": 5, "start": date(2026, 10, 1)}
    first = generate(tmp_path / "a", **kwargs)  # type: ignore[arg-type]
    second = generate(tmp_path / "b", **kwargs)  # type: ignore[arg-type]
    assert first == second
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_another_seed_or_start_gives_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", creators=12, days=3, seed=5)
    generate(tmp_path / "b", creators=12, days=3, seed=6)
    generate(tmp_path / "c", creators=12, days=3, seed=5, start=date(2027, 1, 4))
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert a["views.jsonl"] != b["views.jsonl"]
    assert a["ad_clicks.jsonl"] != b["ad_clicks.jsonl"]
    assert a["views.jsonl"] != c["views.jsonl"]
    assert b"2027-01-0" in (tmp_path / "c" / "views.jsonl").read_bytes()


def test_more_creators_and_days_scale_the_volume(tmp_path: Path) -> None:
    small = generate(tmp_path / "s", creators=10, days=2, seed=1)
    large = generate(tmp_path / "l", creators=40, days=4, seed=1)
    assert large["views.jsonl"] > 5 * small["views.jsonl"]
    users_large = {line.split(b'"user_id":"')[1][:9] for line in _lines(tmp_path / "l")}
    assert len(users_large) > 1000


def _lines(folder: Path) -> list[bytes]:
    return [ln for ln in (folder / "views.jsonl").read_bytes().split(b"\n") if b'"user_id":"' in ln]


@pytest.mark.parametrize("bad", [{"creators": 0}, {"days": 0}, {"seed": -1}])
def test_bad_arguments_are_refused(tmp_path: Path, bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, **bad)  # type: ignore[arg-type]


def test_cli_writes_the_files_and_prints_a_line_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    argv = ["generate", "--out", str(out), "--creators", "8", "--days", "2", "--seed", "3"]
    assert main([*argv, "--start", "2026-11-02", "--quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()
    for name in FIELDS:
        assert (out / name).is_file()
        count = len((out / name).read_bytes().splitlines())
        assert f"{name}: {count:,} lines" in printed
    assert b"2026-11-02T" in (out / "views.jsonl").read_bytes()


def test_cli_rejects_a_bad_start_date(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["generate", "--out", str(tmp_path), "--start", "01/10/2026"])


def test_epoch_and_text_instants_are_both_used(dataset: DataSet) -> None:
    for name in ("views.jsonl", "ad_clicks.jsonl", "creator_profiles.jsonl"):
        key = "updated_at" if name == "creator_profiles.jsonl" else "event_time"
        values = [r[key] for r in dataset.files[name].rows if r is not None and key in r]
        ints = sum(isinstance(v, int) for v in values)
        texts = [v for v in values if isinstance(v, str)]
        assert 0 < ints < 0.25 * len(values), name
        assert len(texts) > 0.7 * len(values), name
        assert all(len(v) == 24 for v in texts[:1000] if instant_ms(v) is not None)
