from pipelines.ingest.lateness import LateEventFilter

MIN = 60_000


def make() -> LateEventFilter:
    return LateEventFilter(watermark_delay_ms=5 * MIN, allowed_lateness_ms=60 * MIN)


def test_first_event_is_never_late() -> None:
    late = make()
    assert late.observe(0) is None
    assert late.watermark_ms == -5 * MIN


def test_event_late_by_more_than_the_allowed_lateness() -> None:
    late = make()
    late.observe(1000 * MIN)
    watermark = 995 * MIN
    # exactly at the allowed lateness: still on time
    assert late.observe(watermark - 60 * MIN) is None
    # one millisecond more: late, reported with the watermark it missed
    assert late.observe(watermark - 60 * MIN - 1) == watermark


def test_late_events_do_not_move_the_watermark() -> None:
    late = make()
    late.observe(1000 * MIN)
    late.observe(0)
    assert late.max_event_time_ms == 1000 * MIN
    late.observe(1001 * MIN)
    assert late.watermark_ms == 996 * MIN
