"""Instants of the input contract: RFC 3339 text or integer epoch milliseconds.

RFC 3339 ``date-time`` (section 5.6): ``YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)``.
``T`` and ``Z`` may be lower case (RFC 3339 section 5.6, note); a UTC offset is
mandatory; any number of fraction digits is accepted and rounded DOWN to the
millisecond; leap seconds (``:60``) are rejected because epoch milliseconds
cannot represent them. An instant must lie in years 0001..9999 UTC
(``MIN_INSTANT_MS..MAX_INSTANT_MS``), the range ``datetime`` shares; the text
itself must also carry a year 0001..9999.

Parsing is exact and pure, so minutes (``YYYY-MM-DDTHH:MM``) and suffixes (fraction + offset)
are memoised.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_INSTANT_MS",
    "MIN_INSTANT_MS",
    "instant_ms",
    "is_calendar_date",
    "parse_rfc3339_ms",
]

MIN_INSTANT_MS = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
MAX_INSTANT_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_HOUR_MINUTE = re.compile(r"([0-9]{2}):([0-9]{2})")
#: the seconds field: exactly two ASCII digits, 00..59 (60, a leap second, is not an instant)
_SECONDS = {f"{second:02d}": second for second in range(60)}
_FRACTION_OFFSET = re.compile(r"(?:\.([0-9]+))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))")
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_CACHE_LIMIT = 1 << 16

_day_cache: dict[str, int | None] = {}
_suffix_cache: dict[str, int | None] = {}
_minute_cache: dict[str, int | None] = {}


def _remember(cache: dict[str, int | None], key: str, value: int | None) -> int | None:
    """Store ``value`` under ``key`` in one of the memo caches (emptied when full); return it."""
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def is_calendar_date(year: int, month: int, day: int) -> bool:
    """True for a valid proleptic Gregorian date with year 0001..9999."""
    if not (1 <= year <= 9999 and 1 <= month <= 12 and day >= 1):
        return False
    last = 29 if month == 2 and _is_leap(year) else _DAYS_IN_MONTH[month - 1]
    return day <= last


def _days(date: str) -> int | None:
    """``YYYY-MM-DD`` -> days since epoch, or None if not a calendar date (memoised)."""
    try:
        return _day_cache[date]
    except KeyError:
        pass
    match = _DATE.fullmatch(date)
    days = None
    if match is not None:
        year, month, day = map(int, match.groups())
        if is_calendar_date(year, month, day):
            days = _days_from_civil(year, month, day)
    return _remember(_day_cache, date, days)


def _minute_seconds(prefix: str) -> int | None:
    """``YYYY-MM-DDTHH:MM`` -> seconds since epoch of that minute as if UTC, or None."""
    if len(prefix) != 16 or prefix[10] not in "Tt":
        return None
    days = _days(prefix[:10])
    if days is None:
        return None
    match = _HOUR_MINUTE.fullmatch(prefix, 11)
    if match is None:
        return None
    hour, minute = map(int, match.groups())
    if not (hour <= 23 and minute <= 59):
        return None
    return days * 86_400 + hour * 3600 + minute * 60


def _local_seconds(text: str) -> int | None:
    """Seconds since epoch (as if UTC) of the ``YYYY-MM-DDTHH:MM:SS`` that ``text`` begins
    with, or None if it does not begin with one. The minute is memoised (events of one minute
    come together), the second is one of the 60 strings ``00``..``59``."""
    prefix = text[:16]
    try:
        minute = _minute_cache[prefix]
    except KeyError:
        minute = _remember(_minute_cache, prefix, _minute_seconds(prefix))
    if minute is None or text[16:17] != ":":
        return None
    second = _SECONDS.get(text[17:19])
    return None if second is None else minute + second


def _suffix_ms(suffix: str) -> int | None:
    """``[.frac](Z|+HH:MM|-HH:MM)`` -> ms to add to the local time, or None if invalid."""
    match = _FRACTION_OFFSET.fullmatch(suffix)
    if match is None:
        return None
    fraction, sign, hours, minutes = match.groups()
    millis = int(fraction[:3].ljust(3, "0")) if fraction else 0
    if sign is None:
        return millis
    if int(hours) > 23 or int(minutes) > 59:
        return None
    offset_ms = (int(hours) * 60 + int(minutes)) * 60_000
    return millis - offset_ms if sign == "+" else millis + offset_ms


def parse_rfc3339_ms(text: str) -> int | None:
    """Epoch ms (UTC, rounded down) of an RFC 3339 date-time, or None if not one."""
    seconds = _local_seconds(text)
    if seconds is None:
        return None
    suffix = text[19:]
    try:
        extra = _suffix_cache[suffix]
    except KeyError:
        extra = _remember(_suffix_cache, suffix, _suffix_ms(suffix))
    if extra is None:
        return None
    millis = seconds * 1000 + extra
    return millis if MIN_INSTANT_MS <= millis <= MAX_INSTANT_MS else None


def instant_ms(value: object) -> int | None:
    """Epoch ms of a decoded JSON instant (RFC 3339 str or int epoch ms), else None."""
    if type(value) is str:
        return parse_rfc3339_ms(value)
    if type(value) is int and MIN_INSTANT_MS <= value <= MAX_INSTANT_MS:
        return value
    return None
