"""Building blocks of the generator: ids, instants, chunked writing with inserts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pytest

from pipelines.generate.anomalies import arrival_order
from pipelines.generate.writer import Lines, Progress, scramble, time_fragments, write_lines


def test_scrambled_ids_are_distinct_and_keyed() -> None:
    a = scramble(100_000, key=1)
    assert len(np.unique(a)) == len(a)
    assert not np.array_equal(a, scramble(100_000, key=2))
    assert np.array_equal(a, scramble(100_000, key=1))


def test_instants_are_rfc3339_with_millis_or_epoch_ms() -> None:
    ms = np.array([0, 1_790_812_800_123, 1_790_899_199_999, 1_795_000_000_001], dtype=np.int64)
    epoch = np.array([False, False, True, False])
    out = [orjson.loads(f) for f in time_fragments(ms, epoch)]
    assert out[0] == "1970-01-01T00:00:00.000Z"
    assert out[1] == "2026-10-01T00:00:00.123Z"
    assert out[2] == 1_790_899_199_999
    parsed = datetime.fromisoformat(out[3])
    assert parsed.tzinfo == UTC
    assert int(parsed.timestamp() * 1000) == 1_795_000_000_001


@pytest.mark.parametrize("chunk", [1, 3, 4, 100])
def test_inserts_land_before_the_given_original_line(tmp_path: Path, chunk: int) -> None:
    lines = Lines.of([f"L{i}" for i in range(10)])
    inserts = [(0, "a"), (3, "b"), (3, "c"), (4, "d"), (9, "e"), (10, "f")]
    path = tmp_path / "x.jsonl"
    written = write_lines(path, lines, inserts, None, chunk=chunk)
    expected = [
        "a",
        "L0",
        "L1",
        "L2",
        "b",
        "c",
        "L3",
        "d",
        "L4",
        "L5",
        "L6",
        "L7",
        "L8",
        "e",
        "L9",
        "f",
    ]
    assert path.read_text().splitlines() == expected
    assert written == len(expected)


def test_an_empty_stream_still_gets_its_inserts(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    assert write_lines(path, Lines.of([]), [(0, "x")], None) == 1
    assert path.read_text() == "x\n"


def test_arrival_order_is_a_permutation_with_some_disorder() -> None:
    rng = np.random.default_rng(3)
    times = np.sort(rng.integers(0, 86_400_000, 50_000)).astype(np.int64)
    order = arrival_order(rng, times)
    assert np.array_equal(np.sort(order), np.arange(len(times)))
    lag = np.maximum.accumulate(times[order]) - times[order]
    assert (lag > 0).sum() > 100
    assert 3 <= (lag > 65 * 60_000).sum() <= 50


def test_progress_bar_is_silent_when_quiet_or_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for quiet in (True, False):  # under pytest stderr is not a TTY
        bar = Progress(total=10, quiet=quiet)
        bar.update(10)
        bar.close()
    assert capsys.readouterr().err == ""
