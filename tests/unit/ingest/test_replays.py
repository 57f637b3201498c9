from pipelines.ingest.replays import ReplayFilter

DAY = 86_400_000
HORIZON = 7 * DAY


def test_second_sighting_within_horizon_is_a_replay() -> None:
    seen = ReplayFilter(HORIZON)
    assert seen.is_replay("e1", 1_000) is False
    assert seen.is_replay("e1", 1_000) is True
    assert seen.is_replay("e1", 5_000) is True
    assert seen.is_replay("e2", 1_000) is False


def test_key_is_forgotten_after_the_horizon() -> None:
    seen = ReplayFilter(HORIZON)
    assert seen.is_replay("old", 0) is False
    assert seen.is_replay("other", HORIZON) is False
    # exactly one horizon behind the newest event time: still remembered
    assert seen.is_replay("old", HORIZON) is True
    assert seen.is_replay("newer", HORIZON + 1) is False
    # one millisecond past the horizon: forgotten, accepted again
    assert seen.is_replay("old", HORIZON + 1) is False
    assert seen.is_replay("old", HORIZON + 1) is True


def test_memory_stays_bounded_by_about_two_horizons() -> None:
    seen = ReplayFilter(HORIZON)
    for i in range(60):
        seen.is_replay(f"e{i}", i * DAY)
    assert len(seen) <= 2 * 7 + 2
    # the last week is still remembered exactly
    assert all(seen.is_replay(f"e{i}", 59 * DAY) for i in range(52, 60))


def test_out_of_order_events_are_deduplicated_too() -> None:
    seen = ReplayFilter(HORIZON)
    assert seen.is_replay("late", 10 * DAY) is False
    assert seen.is_replay("early", 9 * DAY) is False
    assert seen.is_replay("early", 10 * DAY) is True
