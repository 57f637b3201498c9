"""Restart a Kafka worker in-process after a transient broker error, as ``kill -9`` and a
restart would, but without losing the process.

A Kafka node that dies moves the leadership of its partitions: for some seconds a produce
request gets ``LeaderNotAvailableError`` or ``NotLeaderForPartitionError``, a connection is
refused, or a batch times out. The ingest's crash-recovery protocol (docs/ingest-protocol.md)
already makes a restart from the committed offsets exact — a half-sent batch is found in the
output topics and not sent again — so the answer to a transient error is that restart, done
here: the failed runner is stopped, a fresh one is built and started after a back-off. Errors
that no retry cures (a missing topic, an authorisation failure, a bug) still end the worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    KafkaTimeoutError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)

from pipelines import metrics

log = logging.getLogger(__name__)

#: the group moved on without this worker (it missed a rebalance while a node failed over): its
#: commit is refused, and a fresh member resumes from the committed offsets, which is exact
REBALANCED = (
    CommitFailedError,
    UnknownMemberIdError,
    IllegalGenerationError,
    RebalanceInProgressError,
)


def is_transient(exc: BaseException) -> bool:
    """Whether a fresh start of the worker can be expected to get past ``exc``: the Kafka
    errors the client marks retriable (leader moves, not enough replicas, node not ready,
    connection lost), a request that timed out, a commit refused after a rebalance, a refused or
    reset connection."""
    if isinstance(exc, KafkaError):
        return bool(exc.retriable) or isinstance(exc, (KafkaTimeoutError, *REBALANCED))
    return isinstance(exc, ConnectionError)


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before restart number ``n`` (1-based): doubling from ``first_s`` up to
    ``max_s``; a run that lasted ``reset_after_s`` counts as healthy and starts over at 1."""

    first_s: float = 1.0
    max_s: float = 30.0
    reset_after_s: float = 60.0

    def delay(self, n: int) -> float:
        return float(min(self.max_s, self.first_s * 2 ** max(0, n - 1)))


async def run_restarting(
    run_once: Callable[[], Awaitable[None]],
    *,
    job: str,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run ``run_once`` (which builds a fresh worker each call) until it returns; a transient
    error restarts it after the back-off and counts in ``pulse_job_restarts_total``; any other
    error propagates."""
    attempt = 0
    while True:
        began = clock()
        try:
            await run_once()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # a fresh start that cannot reach a broker yet (its setup error wraps the cause)
            cause = exc.__cause__ if attempt else None
            if not (is_transient(exc) or (cause is not None and is_transient(cause))):
                raise
            attempt = 1 if clock() - began >= backoff.reset_after_s else attempt + 1
            wait = backoff.delay(attempt)
            reason = type(exc).__name__
            metrics.JOB_RESTARTS.labels(job=job, reason=reason).inc()
            log.warning(
                "%s: transient Kafka error %s (%s); restarting from the committed offsets in "
                "%.0f s (restart %d in a row)",
                job,
                reason,
                exc,
                wait,
                attempt,
            )
            await sleep(wait)
