"""Exact-replay detection: an event key seen before within the dedup horizon."""

from __future__ import annotations

import heapq


class ReplayFilter:
    """Remembers accepted event keys for ``horizon_ms`` of event time.

    A key is a replay while it is remembered. Entries are forgotten once the
    newest event time seen exceeds their event time by more than the horizon,
    so memory stays bounded by the traffic of one horizon. Deterministic for a
    given input order, which is what makes ingest restartable and testable.
    """

    def __init__(self, horizon_ms: int) -> None:
        if horizon_ms <= 0:
            raise ValueError("horizon_ms must be positive")
        self.horizon_ms = horizon_ms
        self._seen: dict[str, int] = {}
        self._expiry: list[tuple[int, str]] = []
        self._max_time: int | None = None

    def __len__(self) -> int:
        return len(self._seen)

    def is_replay(self, key: str, event_time_ms: int) -> bool:
        """True for a replay (drop it); otherwise remember the key and return False."""
        if self._max_time is None or event_time_ms > self._max_time:
            self._max_time = event_time_ms
            self._evict(event_time_ms - self.horizon_ms)
        if key in self._seen:
            return True
        self._seen[key] = event_time_ms
        heapq.heappush(self._expiry, (event_time_ms, key))
        return False

    def _evict(self, older_than_ms: int) -> None:
        while self._expiry and self._expiry[0][0] < older_than_ms:
            event_time, key = heapq.heappop(self._expiry)
            if self._seen.get(key) == event_time:
                del self._seen[key]
