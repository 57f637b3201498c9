"""Event-time watermark and the allowed-lateness rule of DOMAIN "Late data"."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LateEventFilter:
    """Watermark = max event time seen - delay; an event older than the watermark
    by more than the allowed lateness is late (it cannot change closed windows)."""

    watermark_delay_ms: int
    allowed_lateness_ms: int
    max_event_time_ms: int | None = None

    @property
    def watermark_ms(self) -> int | None:
        if self.max_event_time_ms is None:
            return None
        return self.max_event_time_ms - self.watermark_delay_ms

    def observe(self, event_time_ms: int) -> int | None:
        """Return the watermark the event is late against, or None if it is on time."""
        watermark = self.watermark_ms
        if watermark is not None and event_time_ms < watermark - self.allowed_lateness_ms:
            return watermark
        if self.max_event_time_ms is None or event_time_ms > self.max_event_time_ms:
            self.max_event_time_ms = event_time_ms
        return None
