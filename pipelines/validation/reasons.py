"""Reason codes of rejected input (docs/rules.md, "Bad input"), in the order they apply."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["REASON_ORDER", "RejectReason", "Rejection"]


class RejectReason(StrEnum):
    """Why an input line was rejected. Declaration order = priority: the first that applies wins."""

    INVALID_JSON = "invalid_json"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    NEGATIVE_COUNT = "negative_count"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_COUNTRY = "unknown_country"
    UNKNOWN_CURRENCY = "unknown_currency"
    FUTURE_EVENT_TIME = "future_event_time"


REASON_ORDER: dict[RejectReason, int] = {reason: rank for rank, reason in enumerate(RejectReason)}


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected input: the reason code and a short text naming the field."""

    reason: RejectReason
    detail: str
