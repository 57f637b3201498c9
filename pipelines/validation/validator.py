"""The one validator of input lines: bytes in, a normalized event or a rejection out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pipelines.domain.events import Event, Stream
from pipelines.validation.exact import ExactPath
from pipelines.validation.fast import FastPath
from pipelines.validation.reasons import Rejection

__all__ = ["Validator"]


class Validator:
    """Validates raw lines of one stream against the contract of docs/rules.md.

    ``reference_ms`` is the reference clock (epoch ms): ``--as-of`` in a bounded
    run; a live consumer assigns ``validator.reference_ms`` from the wall clock
    (e.g. once per poll). An instant ``> reference_ms + future_tolerance_ms`` is
    ``future_event_time``; exactly at the limit is accepted. ``future_tolerance_ms`` is
    ``Settings.future_tolerance_ms`` (no default here: the number lives in the settings).

    :meth:`validate` never raises on any ``bytes`` and returns exactly one
    outcome. Lines are tried on a fast path first; anything it is unsure about
    goes to the exact path, which is the definition (both give equal outcomes).
    """

    def __init__(
        self,
        stream: Stream,
        reference_ms: int,
        future_tolerance_ms: int,
    ) -> None:
        self.stream = Stream(stream)
        self.future_tolerance_ms = future_tolerance_ms
        self._fast = FastPath(self.stream, 0)
        self._exact = ExactPath(self.stream, 0)
        self.reference_ms = reference_ms

    @property
    def reference_ms(self) -> int:
        return self._reference_ms

    @reference_ms.setter
    def reference_ms(self, value: int) -> None:
        self._reference_ms = value
        self._fast.limit_ms = self._exact.limit_ms = value + self.future_tolerance_ms

    def validate(self, raw: bytes) -> Event | Rejection:
        """The normalized event, or the rejection with its reason code."""
        event = self._fast(raw)
        return self._exact(raw) if event is None else event

    def validate_exact(self, raw: bytes) -> Event | Rejection:
        """Same outcome as :meth:`validate`, through the slow exact path only."""
        return self._exact(raw)

    def validate_many(self, lines: Iterable[bytes]) -> Iterator[Event | Rejection]:
        """:meth:`validate` over many lines, one outcome per line, in order."""
        fast, exact = self._fast, self._exact
        for raw in lines:
            event = fast(raw)
            yield exact(raw) if event is None else event
