"""The duplicate-click rule, the one rule Flink SQL cannot say.

The rules: a click is ``duplicate`` when an earlier VALID click of the same
(user, ad, video) lies within the previous ``duplicate_window`` (``t - 10 min <
t' <= t``; clicks ordered by (event_time, event_id)). Whether a click is valid
depends on whether the clicks before it were, so the rule is a sequential scan
per key, not a join. This module holds the pure scan and the PyFlink
``KeyedProcessFunction`` that runs it in event-time order on the clicks that
passed every earlier status check (candidates); the clicks that an earlier check
decided pass through it unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

VALID = "valid"
DUPLICATE = "duplicate"


def scan_duplicates(
    clicks: Iterable[tuple[int, str]], last_valid_ms: int | None, window_ms: int
) -> tuple[list[tuple[str, str]], int | None]:
    """Classify candidate clicks of ONE key, given in (event_time, event_id) order.

    Returns ``[(event_id, status)]`` and the time of the last valid click, which
    the caller keeps as state for the next batch of the same key.
    """
    out: list[tuple[str, str]] = []
    for event_time, event_id in clicks:
        if last_valid_ms is not None and event_time - last_valid_ms < window_ms:
            out.append((event_id, DUPLICATE))
        else:
            out.append((event_id, VALID))
            last_valid_ms = event_time
    return out, last_valid_ms


def make_process_function(window_ms: int, time_field: int, id_field: int) -> Any:
    """Build the PyFlink KeyedProcessFunction (imported lazily: PyFlink is heavy).

    Elements are Rows whose last field is the status an earlier check decided (None: a
    candidate); ``time_field``/``id_field`` are the positions of the epoch-ms event time and
    the click id. Every row is held until the watermark passes its event time, then emitted at
    that time: a decided row unchanged, a candidate with its scanned status in place of None.
    """
    from pyflink.common import Row, Types
    from pyflink.datastream import KeyedProcessFunction
    from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

    class DuplicateClickFilter(KeyedProcessFunction):  # type: ignore[misc]
        def open(self, runtime_context: Any) -> None:
            self.pending = runtime_context.get_map_state(
                MapStateDescriptor("pending", Types.LONG(), Types.PICKLED_BYTE_ARRAY())
            )
            self.last_valid = runtime_context.get_state(
                ValueStateDescriptor("last_valid_ms", Types.LONG())
            )

        def process_element(self, value: Any, ctx: Any) -> Iterator[Any]:
            # Decided rows wait for their timer too: an element emitted here would carry no
            # timestamp (PyFlink), and the table after the scan needs one.
            event_time = int(value[time_field])
            waiting = self.pending.get(event_time) or []
            waiting.append(tuple(value))
            self.pending.put(event_time, waiting)
            ctx.timer_service().register_event_time_timer(event_time)
            return iter(())

        def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Any]:
            rows = self.pending.get(timestamp)
            if not rows:
                # A clean-up timer: once no later click can be a duplicate of
                # the last valid one, the key's state is dropped.
                last_valid = self.last_valid.value()
                if last_valid is not None and timestamp - last_valid >= window_ms:
                    self.last_valid.clear()
                return
            self.pending.remove(timestamp)
            candidates = sorted((row for row in rows if row[-1] is None), key=lambda r: r[id_field])
            if candidates:
                statuses, last = scan_duplicates(
                    ((timestamp, row[id_field]) for row in candidates),
                    self.last_valid.value(),
                    window_ms,
                )
                if last is not None:
                    self.last_valid.update(last)
                    ctx.timer_service().register_event_time_timer(last + window_ms)
                for row, (_, status) in zip(candidates, statuses, strict=True):
                    yield Row(*row[:-1], status)
            for row in rows:
                if row[-1] is not None:
                    yield Row(*row)

    return DuplicateClickFilter()
