"""The exact rule of each field kind: a decoded JSON value -> normalized value or rejection.

These functions define the contract; the fast path must agree with them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from pipelines.validation.codes import COUNTRY_CODES, CURRENCY_CODES
from pipelines.validation.fields import CAMPAIGN_STATUSES, INT64_MAX, FieldSpec, Kind
from pipelines.validation.instants import instant_ms, is_calendar_date
from pipelines.validation.reasons import Rejection, RejectReason

__all__ = ["check_field", "is_birth_date"]

INT64_MIN: Final = -(2**63)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_SHOWN_CHARS = 24

Outcome = tuple[Rejection | None, object]


def is_birth_date(value: str) -> bool:
    """True for ``YYYY-MM-DD`` naming a real calendar date, years 0001..9999."""
    match = _DATE.fullmatch(value)
    return match is not None and is_calendar_date(*map(int, match.groups()))


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "...")


def _reject(reason: RejectReason, detail: str) -> Outcome:
    return Rejection(reason, detail), None


def _id(name: str, value: object) -> Outcome:
    if type(value) is not str:
        return _reject(RejectReason.WRONG_TYPE, f"{name} must be a string")
    if not value:
        return _reject(RejectReason.INVALID_VALUE, f"{name} is empty")
    return None, value


def _text(name: str, value: object) -> Outcome:
    if type(value) is not str:
        return _reject(RejectReason.WRONG_TYPE, f"{name} must be a string")
    return None, value


def _count(name: str, value: object) -> Outcome:
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        return _reject(RejectReason.WRONG_TYPE, f"{name} must be a 64-bit JSON integer")
    if value < 0:
        return _reject(RejectReason.NEGATIVE_COUNT, f"{name} is negative")
    return None, value


def _micros(name: str, value: object) -> Outcome:
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        return _reject(RejectReason.WRONG_TYPE, f"{name} must be a 64-bit JSON integer")
    if value <= 0:
        return _reject(RejectReason.INVALID_VALUE, f"{name} must be > 0")
    return None, value


def _instant(name: str, value: object) -> Outcome:
    millis = instant_ms(value)
    if millis is None:
        return _reject(
            RejectReason.WRONG_TYPE, f"{name} must be RFC 3339 text with offset or epoch ms"
        )
    return None, millis


def _date(name: str, value: object) -> Outcome:
    if type(value) is not str or not is_birth_date(value):
        return _reject(RejectReason.WRONG_TYPE, f"{name} must be a YYYY-MM-DD date")
    return None, value


def _status(name: str, value: object) -> Outcome:
    if type(value) is not str:
        return _reject(RejectReason.WRONG_TYPE, f"{name} must be a string")
    if value not in CAMPAIGN_STATUSES:
        return _reject(RejectReason.INVALID_VALUE, f"{name} {_shown(value)} is not active/paused")
    return None, value


def _country(name: str, value: object) -> Outcome:
    if type(value) is not str:
        return _reject(RejectReason.WRONG_TYPE, f"{name} must be a string")
    if value not in COUNTRY_CODES:
        return _reject(
            RejectReason.UNKNOWN_COUNTRY, f"{name} {_shown(value)} is not ISO 3166-1 alpha-2"
        )
    return None, value


def _currency(name: str, value: object) -> Outcome:
    if type(value) is not str:
        return _reject(RejectReason.WRONG_TYPE, f"{name} must be a string")
    if value not in CURRENCY_CODES:
        return _reject(
            RejectReason.UNKNOWN_CURRENCY, f"{name} {_shown(value)} is not active ISO 4217"
        )
    return None, value


_RULES: dict[Kind, Callable[[str, object], Outcome]] = {
    Kind.ID: _id,
    Kind.TEXT: _text,
    Kind.COUNT: _count,
    Kind.MICROS: _micros,
    Kind.INSTANT: _instant,
    Kind.DATE: _date,
    Kind.STATUS: _status,
    Kind.COUNTRY: _country,
    Kind.CURRENCY: _currency,
}


def check_field(spec: FieldSpec, value: object) -> Outcome:
    """Check one decoded value (``None`` = absent or JSON null) against its field rule."""
    if value is None:
        if spec.required:
            return _reject(RejectReason.MISSING_FIELD, f"{spec.name} is missing or null")
        return None, None
    return _RULES[spec.kind](spec.name, value)
