"""The in-process restart of a Kafka worker after a transient broker error."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaConnectionError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    NotEnoughReplicasError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
    UnknownMemberIdError,
)

from pipelines import metrics
from pipelines.streaming.ingest_config import IngestSetupError
from pipelines.streaming.restarts import Backoff, is_transient, run_restarting


@pytest.mark.parametrize(
    "exc",
    [
        LeaderNotAvailableError(),
        NotLeaderForPartitionError(),
        NotEnoughReplicasError(),
        KafkaConnectionError("node 2 down"),
        KafkaTimeoutError(),
        ConnectionResetError(),
        # a worker that missed a rebalance during a fail-over: its commit is refused
        CommitFailedError(),
        UnknownMemberIdError(),
        IllegalGenerationError(),
    ],
)
def test_leader_moves_and_lost_connections_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        TopicAuthorizationFailedError(),
        IngestSetupError("missing topics"),
        ValueError("a bug"),
    ],
)
def test_what_no_retry_cures_is_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_backoff_doubles_up_to_its_cap() -> None:
    b = Backoff(first_s=1, max_s=30)
    assert [b.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


class Script:
    """A worker whose successive runs raise the given errors, then return."""

    def __init__(self, errors: list[BaseException], durations: list[float] | None = None):
        self.errors = list(errors)
        self.durations = durations or [0.0] * (len(errors) + 1)
        self.runs = 0
        self.now = 0.0
        self.slept: list[float] = []

    async def run_once(self) -> None:
        self.now += self.durations[self.runs]
        self.runs += 1
        if self.errors:
            raise self.errors.pop(0)

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s

    def clock(self) -> float:
        return self.now


def _run(script: Script, backoff: Backoff | None = None) -> None:
    asyncio.run(
        run_restarting(
            script.run_once,
            job="unit_restarts",
            backoff=backoff or Backoff(),
            sleep=script.sleep,
            clock=script.clock,
        )
    )


def _restarts(reason: str) -> float:
    value: Callable[[], float] = metrics.JOB_RESTARTS.labels(
        job="unit_restarts", reason=reason
    )._value.get
    return value()


def test_a_transient_error_restarts_a_fresh_run_after_the_backoff() -> None:
    before = _restarts("LeaderNotAvailableError")
    script = Script([LeaderNotAvailableError(), LeaderNotAvailableError(), KafkaTimeoutError()])
    _run(script)
    assert script.runs == 4
    assert script.slept == [1.0, 2.0, 4.0]
    assert _restarts("LeaderNotAvailableError") == before + 2


def test_a_long_healthy_run_resets_the_backoff() -> None:
    script = Script(
        [LeaderNotAvailableError(), LeaderNotAvailableError(), LeaderNotAvailableError()],
        durations=[0.0, 0.0, 120.0, 0.0],
    )
    _run(script, Backoff(first_s=1, max_s=30, reset_after_s=60))
    assert script.slept == [1.0, 2.0, 1.0]


def test_an_error_no_retry_cures_ends_the_worker() -> None:
    script = Script([LeaderNotAvailableError(), TopicAuthorizationFailedError()])
    with pytest.raises(TopicAuthorizationFailedError):
        _run(script)
    assert script.runs == 2


def test_a_setup_error_ends_the_first_start_but_not_a_restart() -> None:
    def unreachable() -> IngestSetupError:
        try:
            raise KafkaConnectionError("refused")
        except KafkaConnectionError as cause:
            try:
                raise IngestSetupError("no Kafka broker") from cause
            except IngestSetupError as err:
                return err

    first = Script([unreachable()])
    with pytest.raises(IngestSetupError):
        _run(first)
    assert first.runs == 1

    restarted = Script([LeaderNotAvailableError(), unreachable()])
    _run(restarted)
    assert restarted.runs == 3
