"""Each kind of hostile line through the file ingest: accepted when valid, otherwise
rejected with its reason and its raw bytes kept; never a crash, never a lost line."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pipelines.domain.events import Stream
from pipelines.ingest.files import StreamIngest
from pipelines.warehouse.books import LedgerCounts

from .hostile import BOM, START_MS, TOKEN, clean_lines, dumps, physical, record, run_ingest

VIEW = Stream.VIEW


def view(n: int, **changes: object) -> dict[str, object]:
    return {**record(VIEW, n, START_MS + n * 1000), **changes}


HUGE = "x" * (3 << 20)  # a 3 MiB string

# (name, line bytes, expected reason or None for accepted)
CASES: list[tuple[str, bytes, str | None]] = [
    ("invalid UTF-8 in a string", dumps(view(1, user_agent=TOKEN), b'"ab\xffcd"'), "invalid_json"),
    ("overlong UTF-8", dumps(view(2, user_agent=TOKEN), b'"\xc0\xaf"'), "invalid_json"),
    (
        "UTF-8 encoded surrogate",
        dumps(view(3, user_agent=TOKEN), b'"\xed\xa0\x80"'),
        "invalid_json",
    ),
    ("raw control char in a string", dumps(view(4, user_agent=TOKEN), b'"a\x01b"'), "invalid_json"),
    ("raw NUL in a string", dumps(view(5, user_agent=TOKEN), b'"a\x00b"'), "invalid_json"),
    ("escaped control chars are fine", dumps(view(6, user_agent="a\u0001\u0000b")), None),
    ("300k nested arrays", b"[" * 300_000 + b"]" * 300_000, "invalid_json"),
    ("300k nested objects", b'{"a":' * 300_000 + b"1" + b"}" * 300_000, "invalid_json"),
    ("500k unclosed brackets", b"[" * 500_000, "invalid_json"),
    (
        "deep value in an extra field",
        dumps(view(7, extra=TOKEN), b"[" * 200_000 + b"]" * 200_000),
        "invalid_json",
    ),
    ("1023 nested arrays (within the limit)", b"[" * 1023 + b"]" * 1023, "not_object"),
    ("multi-MB valid line", dumps(view(8, user_agent=HUGE)), None),
    ("multi-MB line missing fields", dumps({"event_id": "v9", "junk": HUGE}), "missing_field"),
    ("multi-MB garbage", b"\xfe" * (4 << 20), "invalid_json"),
    ("integer beyond 64 bits", dumps(view(10, watch_time_ms=2**64)), "wrong_type"),
    ("negative beyond 64 bits", dumps(view(11, watch_time_ms=-(2**70))), "wrong_type"),
    ("epoch ms beyond 64 bits", dumps(view(12, event_time=10**30)), "wrong_type"),
    ("1e400", dumps(view(13, watch_time_ms=TOKEN), b"1e400"), "invalid_json"),
    ("NaN", dumps(view(14, watch_time_ms=TOKEN), b"NaN"), "invalid_json"),
    ("Infinity", dumps(view(15, watch_time_ms=TOKEN), b"Infinity"), "invalid_json"),
    ("-Infinity", dumps(view(16, watch_time_ms=TOKEN), b"-Infinity"), "invalid_json"),
    ("a float count", dumps(view(17, watch_time_ms=1.5)), "wrong_type"),
    ("30 February", dumps(view(18, event_time="2026-02-30T00:00:00Z")), "wrong_type"),
    ("hour 24", dumps(view(19, event_time="2026-02-10T24:00:00Z")), "wrong_type"),
    ("leap second", dumps(view(20, event_time="2026-02-10T23:59:60Z")), "wrong_type"),
    ("year 0", dumps(view(21, event_time="0000-01-01T00:00:00Z")), "wrong_type"),
    ("BOM in the middle of a file", BOM + dumps(view(22)), "invalid_json"),
    ("JSON whitespace CR inside", dumps(view(23)).replace(b",", b",\r", 1), None),
    ("blank", b"", "invalid_json"),
    ("spaces and tabs", b" \t ", "invalid_json"),
    ("42", b"42", "not_object"),
    ("null", b"null", "not_object"),
]


@dataclass(frozen=True)
class Outcome:
    result: StreamIngest
    counts: LedgerCounts
    clean: list[bytes]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """One file: a BOM, a valid first line, every case (CRLF line endings), a last
    valid line without a newline."""
    folder = tmp_path_factory.mktemp("hostile")
    lines = [dumps(view(100)), *(case for _name, case, _reason in CASES), dumps(view(101))]
    data = BOM + b"\r\n".join(lines)  # CRLF everywhere, no newline after the last line
    result, counts = run_ingest(VIEW, folder, data)
    return Outcome(result, counts, clean_lines(folder))


def test_every_line_is_accounted_for(outcome: Outcome) -> None:
    counts = outcome.counts
    total = len(CASES) + 2
    assert counts.lines == total == outcome.result.lines
    assert counts.balanced
    assert counts.replays == counts.late == 0


@pytest.mark.parametrize(("index", "name"), [(i, c[0]) for i, c in enumerate(CASES)])
def test_each_case(outcome: Outcome, index: int, name: str) -> None:
    _name, raw, reason = CASES[index]
    line = index + 2  # line 1 is the BOM-prefixed valid view
    rejected = {row.line: row for row in outcome.result.rejected_rows}
    if reason is None:
        assert line not in rejected, f"{name}: {rejected.get(line)}"
    else:
        row = rejected[line]
        assert (row.reason, row.raw, row.stream) == (reason, raw, "view"), name
        assert row.detail


def test_bom_first_line_crlf_and_unterminated_last_line_are_accepted(
    outcome: Outcome,
) -> None:
    clean = outcome.clean
    accepted_ids = [line.split(b'"event_id":"')[1].split(b'"')[0] for line in clean]
    assert accepted_ids[0] == b"v100"  # the BOM marked the file, not the line
    assert accepted_ids[-1] == b"v101"  # the last line had no newline
    expected = 2 + sum(1 for _n, _raw, reason in CASES if reason is None)
    assert len(clean) == expected == outcome.result.accepted


def test_the_multi_megabyte_value_arrives_whole(outcome: Outcome) -> None:
    assert any(HUGE.encode() in line for line in outcome.clean)


def test_physical_line_rule() -> None:
    assert physical(b"a", b"\r\n", False) == b"a"
    assert physical(b"a\r", b"\n", False) == b"a"
    assert physical(b"a\r", b"\r\n", False) == b"a\r"
    assert physical(BOM + b"a", b"", True) == b"a"
    assert physical(BOM + b"a", b"", False) == BOM + b"a"
