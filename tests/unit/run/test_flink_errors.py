"""A Flink job of ``pulse run`` that runs out of heap is said in one sentence."""

from __future__ import annotations

import pytest

from pipelines.config import load_settings
from pipelines.errors import PulseError
from pipelines.run.bounded import _wait_for_flink


class _Failing:
    """A planned StatementSet whose job fails with ``message`` (py4j's error carries the Java
    stack trace in its text)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def execute(self) -> _Failing:
        return self

    def wait(self) -> None:
        raise RuntimeError(self.message)


def test_out_of_heap_names_the_setting_to_raise() -> None:
    settings = load_settings(flink={"run_jvm_heap": "768m"})
    trace = "JobExecutionException: Job failed\nCaused by: java.lang.OutOfMemoryError: Java heap"
    with pytest.raises(PulseError, match=r"768m heap: raise PULSE_FLINK__RUN_JVM_HEAP") as seen:
        _wait_for_flink(_Failing(trace), settings)
    assert isinstance(seen.value.__cause__, RuntimeError)


def test_other_failures_pass_through_unchanged() -> None:
    with pytest.raises(RuntimeError, match="NullPointerException"):
        _wait_for_flink(_Failing("java.lang.NullPointerException"), load_settings())
