"""Pure rules of the books: the ingest ledger equation, months and their finality,
statement ids and hashes, and the adjustment of a closed month. No I/O here;
the SQL that feeds these functions is in :mod:`pipelines.warehouse.ledger`,
:mod:`pipelines.warehouse.close` and :mod:`pipelines.warehouse.reconcile`.

Money is integer micros everywhere (``int``); nothing here ever makes a float.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pipelines.errors import InputError

# --- the ingest ledger -----------------------------------------------------------------


@dataclass(frozen=True)
class LedgerCounts:
    """What happened to the lines of one source in one run."""

    lines: int
    accepted: int
    rejected: int
    replays: int
    late: int

    @property
    def accounted(self) -> int:
        """Lines with a known outcome."""
        return self.accepted + self.rejected + self.replays + self.late

    @property
    def unaccounted(self) -> int:
        """``lines - (accepted + rejected + replays + late)``: 0 when the ledger balances."""
        return self.lines - self.accounted

    @property
    def balanced(self) -> bool:
        return self.unaccounted == 0


# --- months -------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> date:
    """``YYYY-MM`` -> the first day of that month; :class:`InputError` otherwise."""
    match = _MONTH.match(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise InputError(f"--month {text!r} is not a month YYYY-MM (e.g. 2026-01)")
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_end_ms(month: date) -> int:
    """The month's end (exclusive): midnight UTC of the first day of the next month, epoch ms."""
    end = next_month(first_of_month(month))
    return int(datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp()) * 1000


def first_open_month(after: date, closed: Iterable[date]) -> date:
    """The first month after ``after`` that is not closed: where its adjustments are booked."""
    shut = set(closed)
    month = next_month(first_of_month(after))
    while month in shut:
        month = next_month(month)
    return month


# --- finality -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finality:
    """Whether the warehouse has seen enough event time for a month to be final.

    Clicks of a month depend only on events before the month end (views within
    the attribution window before each click, windows and evaluations ending
    by then, changelog versions as of then). Once the watermark (max event
    time seen - watermark delay) is past the month end by the allowed
    lateness, every event of the month that could still arrive would be late
    and change nothing. The hold-back adds the job's click hold-back on top (the
    attribution window and the flood minute): the last clicks of the month are
    emitted only when the watermark passes them by that much, so their results
    are in the warehouse.
    """

    month: date
    final_after_ms: int  # event time that must have been seen
    seen_ms: int | None  # latest event time the warehouse has seen
    watermark_delay_ms: int
    allowed_lateness_ms: int
    holdback_ms: int

    @property
    def is_final(self) -> bool:
        return self.seen_ms is not None and self.seen_ms >= self.final_after_ms

    def explain(self) -> str:
        """One sentence: why the month is (not) final."""
        needed = (
            f"{format_instant(self.final_after_ms)} (month end "
            f"{format_instant(month_end_ms(self.month))} + watermark delay "
            f"{_duration(self.watermark_delay_ms)} + allowed lateness "
            f"{_duration(self.allowed_lateness_ms)} + click hold-back "
            f"{_duration(self.holdback_ms)})"
        )
        if self.seen_ms is None:
            return (
                f"month {month_label(self.month)} is not final: the warehouse has seen no "
                f"event time yet; it must have seen {needed}"
            )
        verdict = "is final" if self.is_final else "is not final"
        return (
            f"month {month_label(self.month)} {verdict}: the warehouse has seen event time "
            f"up to {format_instant(self.seen_ms)}; it must have seen {needed}"
        )


def finality(
    month: date,
    seen_ms: int | None,
    *,
    watermark_delay_ms: int,
    allowed_lateness_ms: int,
    holdback_ms: int,
) -> Finality:
    final_after = month_end_ms(month) + watermark_delay_ms + allowed_lateness_ms + holdback_ms
    return Finality(
        first_of_month(month),
        final_after,
        seen_ms,
        watermark_delay_ms,
        allowed_lateness_ms,
        holdback_ms,
    )


def format_instant(epoch_ms: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _duration(millis: int) -> str:
    if millis % 3_600_000 == 0:
        return f"{millis // 3_600_000} h"
    if millis % 60_000 == 0:
        return f"{millis // 60_000} min"
    return f"{millis} ms"


# --- statement lines --------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """Counts and money of a creator, month and currency (or a difference of two)."""

    valid_clicks: int = 0
    payable_clicks: int = 0
    gross_micros: int = 0
    creator_micros: int = 0
    platform_micros: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    def __sub__(self, other: Totals) -> Totals:
        return Totals(*(a - b for a, b in zip(self.values(), other.values(), strict=True)))

    def values(self) -> tuple[int, int, int, int, int]:
        return (
            self.valid_clicks,
            self.payable_clicks,
            self.gross_micros,
            self.creator_micros,
            self.platform_micros,
        )

    @property
    def is_zero(self) -> bool:
        return not any(self.values())


ZERO = Totals()
Key = tuple[str, str]  # (creator_id, currency)


def statement_id(month: date, creator_id: str, currency: str) -> str:
    """Stable id of a statement line: the same creator, month and currency, the same id."""
    digest = hashlib.sha256(
        "\x1f".join((month_label(month), creator_id, currency)).encode("utf-8", "surrogatepass")
    ).hexdigest()
    return f"S-{month.year:04d}{month.month:02d}-{digest[:16]}"


def statement_hash(
    statement: str, creator_id: str, month: date, currency: str, totals: Totals
) -> str:
    """SHA-256 (hex) of a statement line's content, fields joined by U+001F.

    ``statement_id, creator_id, YYYY-MM-DD, currency, valid_clicks,
    payable_clicks, gross_micros, creator_micros, platform_micros`` (integers
    in decimal). docs/finance.md shows how to recompute it.
    """
    fields = (statement, creator_id, month.isoformat(), currency, *map(str, totals.values()))
    return hashlib.sha256("\x1f".join(fields).encode("utf-8", "surrogatepass")).hexdigest()


def statements_hash(content_hashes: Iterable[tuple[str, str]]) -> str:
    """The seal of a closed month: SHA-256 over ``(statement_id, content_hash)`` in id order."""
    joined = "\n".join(f"{sid} {digest}" for sid, digest in sorted(content_hashes))
    return hashlib.sha256(joined.encode("ascii", "replace")).hexdigest()


# --- adjustments ----------------------------------------------------------------------------


def adjustment_reason(delta: Totals) -> str:
    """``clicks_added`` / ``clicks_removed`` when every figure moved one way,
    else ``clicks_restated``."""
    values = delta.values()
    if all(v >= 0 for v in values) and any(values):
        return "clicks_added"
    if all(v <= 0 for v in values) and any(values):
        return "clicks_removed"
    return "clicks_restated"


def adjustments_to_book(
    current: Mapping[Key, Totals],
    frozen: Mapping[Key, Totals],
    booked_open: Mapping[Key, Totals],
) -> dict[Key, Totals]:
    """The adjustment rows of one closed month to (re)write into its open booked month.

    ``current``: the month's totals from the clicks now; ``frozen``: what can no
    longer change (the statement plus adjustments booked into months already
    closed); ``booked_open``: what is booked so far into the open month. The
    open month must carry ``current - frozen``; a row is returned only where that
    differs from what it carries (a zero row when a booked difference vanished),
    so running again over unchanged data books nothing.
    """
    plan: dict[Key, Totals] = {}
    for key in sorted(set(current) | set(frozen) | set(booked_open)):
        wanted = current.get(key, ZERO) - frozen.get(key, ZERO)
        if wanted != booked_open.get(key, ZERO):
            plan[key] = wanted
    return plan
