"""One fast burst of a data set with replays, produced the way users do: every table equals
the bounded run, every time.

The set (raw files, replays included) goes to raw topics with THREE partitions in one burst by
``pulse produce --input DIR`` (keyed by the recommended ids), into a fresh stack, three times.
Each run's every table, engagement windows included, must equal the bounded ``pulse run`` over
the same files for everything the final watermark closed, and its rejected and late events
must be the same lines. Before the replay and lateness rules were measured per raw partition,
a partition read days ahead of another made the slower one forget its keys, and replays were
counted as new views; and before Flink's watermark followed each raw partition, a partition
read behind the others had its events dropped by Flink.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.config import load_settings
from pipelines.ingest.files import ingest_folder

from . import data as dataset
from .compare import assert_same_tables
from .raw_stack import bounded_reference, pulse_produce, run_stack

pytestmark = pytest.mark.integration

RUNS = 3


@dataclass
class BurstData:
    raw_dir: Path
    reference_ms: int
    bounded_dump: Path
    replays: int


@pytest.fixture(scope="module")
def burst_data(tmp_path_factory: pytest.TempPathFactory) -> BurstData:
    tmp = tmp_path_factory.mktemp("fast-burst")
    settings = load_settings()
    data = dataset.build(tmp, settings, creators=24, days=14, seed=17)
    results = ingest_folder(data.raw_dir, tmp / "count", settings, data.reference_ms)
    replays = sum(r.replays for r in results)
    dump = bounded_reference(tmp, data.raw_dir, data.reference_ms)
    return BurstData(data.raw_dir, data.reference_ms, dump, replays)


@pytest.mark.parametrize("attempt", range(1, RUNS + 1))
def test_a_fast_burst_gives_the_bounded_tables(
    burst_data: BurstData, attempt: int, tmp_path: Path
) -> None:
    assert burst_data.replays > 0, "the data set must contain replays"
    run = run_stack(
        tmp_path / f"run-{attempt}", pulse_produce(burst_data.raw_dir), burst_data.reference_ms
    )
    assert_same_tables(run.dump, burst_data.bounded_dump, run.cutoff_ms)
