from pipelines.flink.duplicates import DUPLICATE, VALID, scan_duplicates

MIN = 60_000


def statuses(times: list[int], last: int | None = None) -> list[str]:
    out, _ = scan_duplicates(((t, f"c{i}") for i, t in enumerate(times)), last, 10 * MIN)
    return [status for _, status in out]


def test_chain_0_6_12_minutes() -> None:
    assert statuses([0, 6 * MIN, 12 * MIN]) == [VALID, DUPLICATE, VALID]


def test_exactly_ten_minutes_apart_are_both_valid() -> None:
    assert statuses([0, 10 * MIN]) == [VALID, VALID]
    assert statuses([0, 10 * MIN - 1]) == [VALID, DUPLICATE]


def test_same_instant_second_click_is_duplicate() -> None:
    assert statuses([5, 5]) == [VALID, DUPLICATE]


def test_state_from_an_earlier_batch_counts() -> None:
    assert statuses([3 * MIN], last=0) == [DUPLICATE]
    out, last = scan_duplicates([(11 * MIN, "x")], 0, 10 * MIN)
    assert out == [("x", VALID)]
    assert last == 11 * MIN
