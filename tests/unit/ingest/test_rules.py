"""The one home of the replay and lateness rules: the file case (partition 0) and partitions."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.ingest.rules import IngestRules, LatenessRule, ReplayRule, Verdict, WatermarkJump

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
HORIZON = 7 * DAY


# -- replay: the file case -------------------------------------------------------------------
def test_second_sighting_within_horizon_is_a_replay() -> None:
    seen = ReplayRule(HORIZON)
    assert seen.is_replay("e1", 1_000) is False
    assert seen.is_replay("e1", 1_000) is True
    assert seen.is_replay("e1", 5_000) is True
    assert seen.is_replay("e2", 1_000) is False


def test_key_is_forgotten_after_the_horizon() -> None:
    seen = ReplayRule(HORIZON)
    assert seen.is_replay("old", 0) is False
    assert seen.is_replay("other", HORIZON) is False
    # exactly one horizon behind the newest event time: still remembered
    assert seen.is_replay("old", HORIZON) is True
    assert seen.is_replay("newer", HORIZON + 1) is False
    # one millisecond past the horizon: forgotten, accepted again
    assert seen.is_replay("old", HORIZON + 1) is False
    assert seen.is_replay("old", HORIZON + 1) is True


def test_memory_stays_bounded_by_about_two_horizons() -> None:
    seen = ReplayRule(HORIZON)
    for i in range(60):
        seen.is_replay(f"e{i}", i * DAY)
    assert len(seen) <= 2 * 7 + 2
    # the last week is still remembered exactly
    assert all(seen.is_replay(f"e{i}", 59 * DAY) for i in range(52, 60))


def test_out_of_order_events_are_deduplicated_too() -> None:
    seen = ReplayRule(HORIZON)
    assert seen.is_replay("late", 10 * DAY) is False
    assert seen.is_replay("early", 9 * DAY) is False
    assert seen.is_replay("early", 10 * DAY) is True


def test_horizon_must_be_positive() -> None:
    try:
        ReplayRule(0)
    except ValueError:
        return
    raise AssertionError("a zero horizon was accepted")


# -- replay: partitions ----------------------------------------------------------------------
def test_a_fast_partition_does_not_make_a_slow_one_forget_its_keys() -> None:
    """The root cause of a view counted twice in a fast burst: the horizon was measured against
    the newest event of the whole stream, so a partition read 8 days ahead expired the keys of
    a partition still behind, and their replays were accepted again."""
    seen = ReplayRule(HORIZON)
    assert seen.is_replay("v1", 0, partition=1) is False
    for day in range(1, 12):  # partition 0 is read far ahead of partition 1
        seen.is_replay(f"ahead{day}", day * DAY, partition=0)
    assert seen.is_replay("v1", 0, partition=1) is True  # the copy, same partition
    assert seen.is_replay("v1", 0, partition=0) is True  # a copy in another partition too
    assert seen.remembered("v1")


def test_each_partition_expires_its_own_keys() -> None:
    seen = ReplayRule(HORIZON)
    seen.is_replay("a", 0, partition=0)
    seen.is_replay("b", 0, partition=1)
    seen.is_replay("tick", HORIZON + 1, partition=0)
    assert not seen.remembered("a")
    assert seen.remembered("b")


def _decisions(rules: IngestRules, events: list[tuple[str, int, int]]) -> list[Verdict]:
    return [rules.decide(key, when, partition) for key, when, partition in events]


def _new_rules() -> IngestRules:
    return IngestRules(
        dedup_horizon_ms=HORIZON, watermark_delay_ms=5 * MIN, allowed_lateness_ms=HOUR
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 20 * DAY // HOUR), st.integers(0, 2)),
        min_size=1,
        max_size=80,
    ),
    st.randoms(use_true_random=False),
)
def test_replay_verdicts_do_not_depend_on_the_interleaving_of_partitions(
    rows: list[tuple[int, int, int]], rnd: random.Random
) -> None:
    """Whatever order the partitions are read in (each keeping its own order), every event
    gets the same replay verdict: copies of an event share its key and partition."""
    events = [(f"e{key}", hours * HOUR, key % 3) for key, hours, _ in rows]
    by_partition: dict[int, list[tuple[str, int, int]]] = {0: [], 1: [], 2: []}
    for event in events:
        by_partition[event[2]].append(event)
    reference = ReplayRule(HORIZON)
    expected = {
        p: [reference.is_replay(k, t, p) for k, t, _ in evs] for p, evs in by_partition.items()
    }
    # another interleaving of the same per-partition sequences
    cursors = {p: 0 for p in by_partition}
    shuffled = ReplayRule(HORIZON)
    got: dict[int, list[bool]] = {p: [] for p in by_partition}
    while any(cursors[p] < len(by_partition[p]) for p in by_partition):
        p = rnd.choice([q for q in by_partition if cursors[q] < len(by_partition[q])])
        key, when, _ = by_partition[p][cursors[p]]
        got[p].append(shuffled.is_replay(key, when, p))
        cursors[p] += 1
    assert got == expected


def test_journal_restores_the_same_state() -> None:
    seen = ReplayRule(DAY, journal=True)
    for i in range(50):
        seen.is_replay(f"k{i % 20}", i * HOUR * 3, partition=i % 2)
    restored = ReplayRule(DAY)
    assert seen.journal is not None
    for partition, key, first in seen.journal:
        restored.restore(partition, key, first)
    restored.clocks.update(seen.clocks)
    restored.rebuild()
    assert {k for k in seen.seen if seen.remembered(k)} == {
        k for k in restored.seen if restored.remembered(k)
    }


# -- lateness --------------------------------------------------------------------------------
def _late() -> LatenessRule:
    return LatenessRule(watermark_delay_ms=5 * MIN, allowed_lateness_ms=60 * MIN)


def test_first_event_is_never_late() -> None:
    late = _late()
    assert late.observe(0) is None
    assert late.watermark_ms() == -5 * MIN


def test_event_late_by_more_than_the_allowed_lateness() -> None:
    late = _late()
    late.observe(1000 * MIN)
    watermark = 995 * MIN
    # exactly at the allowed lateness: still on time
    assert late.observe(watermark - 60 * MIN) is None
    # one millisecond more: late, reported with the watermark it missed
    assert late.observe(watermark - 60 * MIN - 1) == watermark


def test_late_events_do_not_move_the_watermark() -> None:
    late = _late()
    late.observe(1000 * MIN)
    late.observe(0)
    assert late.clocks == {0: 1000 * MIN}
    late.observe(1001 * MIN)
    assert late.watermark_ms() == 996 * MIN


def test_each_partition_judges_lateness_by_its_own_watermark() -> None:
    late = _late()
    late.waiting = {0, 1}
    late.observe(100 * HOUR, partition=0)
    assert late.watermark_ms() is None  # reported: partition 1 has not spoken yet
    # partition 1, far behind partition 0, is on time against its own (empty) clock
    assert late.observe(10 * HOUR, partition=1) is None
    assert late.watermark_ms() == 10 * HOUR - 5 * MIN  # reported: the slowest partition
    # the boundary, per partition: exactly the allowed lateness behind is on time
    edge = 10 * HOUR - 5 * MIN - HOUR
    assert late.observe(edge, partition=1) is None
    assert late.observe(edge - 1, partition=1) == 10 * HOUR - 5 * MIN
    # the same event time in partition 0 is judged against partition 0's watermark
    assert late.observe(edge, partition=0) == 100 * HOUR - 5 * MIN


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.integers(0, 48 * 60), st.integers(0, 2)),
        min_size=1,
        max_size=80,
    ),
    st.randoms(use_true_random=False),
)
def test_all_verdicts_do_not_depend_on_the_interleaving_of_partitions(
    rows: list[tuple[int, int, int]], rnd: random.Random
) -> None:
    """Replay and late verdicts, whatever order partitions are read in (each in its order)."""
    by_partition: dict[int, list[tuple[str, int, int]]] = {0: [], 1: [], 2: []}
    for key, minutes, _ in rows:
        by_partition[key % 3].append((f"e{key}", minutes * MIN, key % 3))
    reference = _new_rules()
    expected = {p: _decisions(reference, evs) for p, evs in by_partition.items()}
    shuffled = _new_rules()
    got: dict[int, list[Verdict]] = {p: [] for p in by_partition}
    cursors = dict.fromkeys(by_partition, 0)
    while any(cursors[p] < len(by_partition[p]) for p in by_partition):
        p = rnd.choice([q for q in by_partition if cursors[q] < len(by_partition[q])])
        got[p] += _decisions(shuffled, [by_partition[p][cursors[p]]])
        cursors[p] += 1
    assert got == expected


def test_rules_in_order_replay_then_late_and_a_late_key_counts_as_seen() -> None:
    rules = _new_rules()
    assert _decisions(rules, [("a", 10 * HOUR, 0), ("old", 0, 0), ("old", 0, 0)]) == [
        Verdict.ACCEPT,
        Verdict.LATE,
        Verdict.REPLAY,
    ]
    assert rules.late_watermark_ms == 10 * HOUR - 5 * MIN


def test_a_jump_of_more_than_the_limit_is_recorded_with_its_event() -> None:
    rules = IngestRules(
        dedup_horizon_ms=HORIZON,
        watermark_delay_ms=5 * MIN,
        allowed_lateness_ms=HOUR,
        jump_warn_ms=DAY,
    )
    rules.decide("a", 0, 1)
    rules.decide("b", DAY, 1)  # exactly one day: not a jump
    rules.decide("sparse", DAY, 0)  # a partition catching up with the stream: not a jump
    assert not rules.jumps
    rules.decide("wrong-date", 31 * DAY + 1, 0)
    assert list(rules.jumps) == [WatermarkJump(0, "wrong-date", DAY, 31 * DAY + 1)]
    assert rules.decide("c", 2 * DAY, 0) is Verdict.LATE  # what the jump does next
    assert rules.decide("d", 2 * DAY, 1) is Verdict.ACCEPT  # other partitions are unharmed
    assert rules.late_share == 1 / 6
