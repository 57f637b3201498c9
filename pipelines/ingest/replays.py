"""Exact-replay detection: an event key seen before within the dedup horizon."""

from __future__ import annotations

from collections import deque


class ReplayFilter:
    """Remembers accepted event keys for ``horizon_ms`` of event time.

    A key is a replay while it is remembered: its first acceptance lies no more
    than the horizon behind the newest event time seen. Memory is freed in
    whole buckets of one horizon once every key in them has expired, so it
    stays bounded by about two horizons of traffic. Deterministic for a given
    input order, which is what makes ingest restartable and testable.
    """

    def __init__(self, horizon_ms: int) -> None:
        if horizon_ms <= 0:
            raise ValueError("horizon_ms must be positive")
        self.horizon_ms = horizon_ms
        self._seen: dict[str, int] = {}
        self._buckets: deque[tuple[int, list[str]]] = deque()
        self._max_time: int | None = None

    def __len__(self) -> int:
        return len(self._seen)

    def is_replay(self, key: str, event_time_ms: int) -> bool:
        """True for a replay (drop it); otherwise remember the key and return False."""
        max_time = self._max_time
        if max_time is None or event_time_ms > max_time:
            self._max_time = max_time = event_time_ms
            if self._buckets and self._buckets[0][0] < max_time - 2 * self.horizon_ms:
                self._evict(max_time - self.horizon_ms)
        first = self._seen.get(key)
        if first is not None and first >= max_time - self.horizon_ms:
            return True
        self._seen[key] = event_time_ms
        bucket = event_time_ms // self.horizon_ms
        if self._buckets and self._buckets[-1][0] // self.horizon_ms == bucket:
            self._buckets[-1][1].append(key)
        else:
            self._buckets.append((event_time_ms, [key]))
        return False

    def _evict(self, expired_before_ms: int) -> None:
        """Drop buckets whose keys all expired (they start > 1 horizon before the cut)."""
        while self._buckets and self._buckets[0][0] < expired_before_ms - self.horizon_ms:
            _start, keys = self._buckets.popleft()
            for key in keys:
                first = self._seen.get(key)
                if first is not None and first < expired_before_ms:
                    del self._seen[key]
