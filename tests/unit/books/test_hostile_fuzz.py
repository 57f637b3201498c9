"""Fuzz: well over 100k generated hostile lines through the file ingest, in ~2k-line files.

Hypothesis draws each file's recipe (stream, the mix of line kinds, line
endings, a BOM, a final newline or not) and a seed; the seed expands the recipe
into the file's lines. For every file: no exception, the ledger equation holds
with ``lines`` counted from the file itself, every rejected line keeps its exact
bytes, line numbers and reason, every line of a kind whose outcome is certain
has that outcome, and the clean output holds exactly the accepted lines.

The ingest function is called directly (no Flink, no warehouse), so the suite
stays well under a minute.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipelines.domain.events import Stream
from pipelines.validation.reasons import RejectReason

from .hostile import (
    BOM,
    DAY,
    MUTABLE,
    REFERENCE_MS,
    START_MS,
    TOKEN,
    clean_lines,
    dumps,
    physical,
    record,
    run_ingest,
)

LINES_PER_FILE = 2_000
FILES = 60  # 120k lines
REASONS = {reason.value for reason in RejectReason}
NOT_REJECTED = "accepted, replay or late"

# Hostile replacement values of a field: (raw JSON bytes, reason when put in a count field)
NUMBERS: list[tuple[bytes, str]] = [
    (b"18446744073709551616", "wrong_type"),  # 2**64
    (b"-1180591620717411303424", "wrong_type"),  # -(2**70)
    (b"9223372036854775808", "wrong_type"),  # INT64_MAX + 1
    (b"1e400", "invalid_json"),
    (b"-1e400", "invalid_json"),
    (b"NaN", "invalid_json"),
    (b"Infinity", "invalid_json"),
    (b"-Infinity", "invalid_json"),
    (b"1.0", "wrong_type"),
    (b"1e3", "wrong_type"),
    (b"true", "wrong_type"),
    (b'"12"', "wrong_type"),
    (b"[]", "wrong_type"),
    (b"{}", "wrong_type"),
]
INSTANTS: list[bytes] = [
    b'"2026-02-30T00:00:00Z"',
    b'"2026-02-10T24:00:00Z"',
    b'"2026-02-10T23:59:60Z"',
    b'"2026-13-01T00:00:00Z"',
    b'"0000-01-01T00:00:00Z"',
    b'"2026-02-10T10:00:00"',  # no offset
    b'"2026-02-10"',
    b'"yesterday"',
    b"99999999999999999999999",
    b"-99999999999999999",
    b"1.5e12",
]
BAD_UTF8: list[bytes] = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80"]
# JSON forbids raw U+0000..U+001F in strings (DEL, 0x7f, is allowed); \n ends a line
CONTROL: list[bytes] = [bytes([c]) for c in range(32) if c != 10]

KINDS = (
    "valid",
    "replay",
    "late",
    "future",
    "crlf_inside",
    "bytes",
    "text",
    "json_value",
    "number",
    "instant",
    "bad_utf8",
    "control",
    "deep",
    "bom",
    "blank",
    "huge",
)


# (stream, line kinds, junk lines, BOM, final newline, share of CRLF endings, seed)
Recipe = tuple[Stream, list[str], list[bytes], bool, bool, float, int]


@dataclass(frozen=True)
class Line:
    content: bytes
    expect: str | None  # a reason code, NOT_REJECTED, or None when not certain


class FileMaker:
    """Expands a recipe into lines, keeping the state valid/replay/late lines need."""

    def __init__(self, stream: Stream, rng: random.Random, junk: list[bytes]) -> None:
        self.stream = stream
        self.rng = rng
        self.junk = junk
        self.n = 0
        self.clock = START_MS
        self.valid: list[bytes] = []
        self.huge_left = 1

    def fresh(self) -> dict[str, object]:
        self.n += 1
        self.clock += self.rng.randrange(1, 60_000)
        return record(self.stream, self.n, self.clock)

    def line(self, kind: str) -> Line:
        rng = self.rng
        count_field, time_field, text_field = MUTABLE[self.stream]
        if kind == "valid" or (kind == "replay" and not self.valid):
            content = dumps(self.fresh())
            self.valid.append(content)
            return Line(content, NOT_REJECTED)
        if kind == "replay":
            return Line(rng.choice(self.valid), NOT_REJECTED)
        if kind == "late":
            obj = {**self.fresh(), time_field: self.clock - 2 * DAY}
            return Line(dumps(obj), NOT_REJECTED)
        if kind == "future":
            obj = {**self.fresh(), time_field: REFERENCE_MS + DAY}
            return Line(dumps(obj), "future_event_time")
        if kind == "crlf_inside":  # CR and CRLF-free JSON whitespace inside: still valid
            content = dumps(self.fresh()).replace(b",", b",\r\t ", 2)
            self.valid.append(content)
            return Line(content, NOT_REJECTED)
        if kind in ("bytes", "text", "json_value"):
            return Line(rng.choice(self.junk), None)
        if kind == "number":
            raw, reason = rng.choice(NUMBERS)
            certain: str | None = reason
            if count_field == "event_id" and raw.startswith(b'"'):
                certain = None  # a string is a fine id (and may repeat one: a replay)
            return Line(dumps({**self.fresh(), count_field: TOKEN}, raw), certain)
        if kind == "instant":
            raw = rng.choice(INSTANTS)
            return Line(dumps({**self.fresh(), time_field: TOKEN}, raw), "wrong_type")
        if kind == "bad_utf8":
            raw = b'"a' + rng.choice(BAD_UTF8) + b'z"'
            return Line(dumps({**self.fresh(), text_field: TOKEN}, raw), "invalid_json")
        if kind == "control":
            raw = b'"a' + rng.choice(CONTROL) + b'z"'
            return Line(dumps({**self.fresh(), text_field: TOKEN}, raw), "invalid_json")
        if kind == "deep":
            depth = rng.choice((1025, 5_000, 50_000, 300_000))
            opener, closer = rng.choice(((b"[", b"]"), (b'{"a":', b"}")))
            middle = b"1" if opener != b"[" else b""
            nested = opener * depth + middle + closer * rng.choice((depth, 0, depth // 2))
            if rng.random() < 0.5:
                nested = dumps({**self.fresh(), "extra": TOKEN}, nested)
            return Line(nested, "invalid_json")
        if kind == "bom":
            return Line(BOM + dumps(self.fresh()), "invalid_json")
        if kind == "blank":
            return Line(rng.choice((b"", b" ", b"\t", b"  \t ")), "invalid_json")
        if self.huge_left:  # "huge": one multi-megabyte line per file at most
            self.huge_left -= 1
            size = rng.randrange(1 << 20, 3 << 20)
            if rng.random() < 0.5:  # valid: unknown extra fields are allowed
                content = dumps({**self.fresh(), "extra": "y" * size})
                self.valid.append(content)
                return Line(content, NOT_REJECTED)
            return Line(b'{"junk":"' + b"z" * size + b'"', "invalid_json")
        return Line(b"{", "invalid_json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
junk_lines = st.one_of(
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
    st.text(max_size=40).map(lambda t: t.encode("utf-8").replace(b"\n", b"")),
    json_values.map(lambda v: dumps(v)),
)


@st.composite
def recipes(draw: st.DrawFn) -> Recipe:
    stream = draw(st.sampled_from(list(Stream)))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=12))
    junk = draw(st.lists(junk_lines, min_size=1, max_size=20))
    bom = draw(st.booleans())
    final_newline = draw(st.booleans())
    crlf_share = draw(st.sampled_from((0.0, 0.5, 1.0)))
    seed = draw(st.integers(0, 2**32 - 1))
    return stream, kinds, junk, bom, final_newline, crlf_share, seed


def build_file(
    recipe: Recipe,
) -> tuple[bytes, list[Line], list[bytes]]:
    """The file's bytes, its lines, and what read_records must give back for each."""
    stream, kinds, junk, bom, final_newline, crlf_share, seed = recipe
    rng = random.Random(seed)
    maker = FileMaker(stream, rng, junk)
    lines = [maker.line(rng.choice(kinds)) for _ in range(LINES_PER_FILE)]
    if not final_newline and not lines[-1].content:
        lines[-1] = Line(b"{}", "missing_field")  # an empty unterminated last line is no line
    parts: list[bytes] = []
    expected: list[bytes] = []
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        terminator = b"\r\n" if rng.random() < crlf_share else b"\n"
        if last and not final_newline:
            terminator = b""
        content = (BOM + line.content) if (i == 0 and bom) else line.content
        parts.append(content + terminator)
        expected.append(physical(content, terminator, i == 0))
    return b"".join(parts), lines, expected


def check_file(folder: Path, recipe: Recipe) -> int:
    stream = recipe[0]
    data, lines, expected = build_file(recipe)
    result, counts = run_ingest(stream, folder, data)  # never raises

    # the ledger: lines counted from the file = the outcomes
    assert counts.lines == LINES_PER_FILE == result.lines
    assert counts.balanced, counts

    # every rejected line: its position, its exact bytes, a contract reason
    rows = result.rejected_rows
    numbers = [row.line for row in rows]
    assert numbers == sorted(set(numbers))
    assert sum(result.rejected.values()) == len(rows)
    for row in rows:
        assert row.raw == expected[row.line - 1]
        assert row.reason in REASONS and row.detail
        assert (row.stream, row.source) == (stream.value, result.source)

    # lines whose outcome is certain have it
    reasons = {row.line: row.reason for row in rows}
    for number, line in enumerate(lines, start=1):
        if line.expect == NOT_REJECTED:
            assert number not in reasons, (number, reasons[number], line.content[:200])
        elif line.expect is not None and not (number == 1 and line.content.startswith(BOM)):
            assert reasons.get(number) == line.expect, (number, line.content[:200])

    # the clean output is exactly the accepted lines
    assert len(clean_lines(folder)) == result.accepted
    return counts.lines


def test_hostile_lines_never_crash_and_never_get_lost(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    seen: Counter[str] = Counter()

    @settings(
        max_examples=FILES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(recipes())
    def one_file(recipe: Recipe) -> None:
        seen["files"] += 1
        seen["lines"] += check_file(tmp_path_factory.mktemp("fuzz"), recipe)

    one_file()
    assert seen["lines"] >= 100_000, seen
