"""Validation of raw input lines against the event contracts (``schemas/events/``).

>>> from pipelines.domain.events import Stream
>>> v = Validator(Stream.VIEW, reference_ms=1_700_000_000_000)
>>> v.validate(b"[]")
Rejection(reason=<RejectReason.NOT_OBJECT: 'not_object'>, detail='a JSON array, not an object')
"""

from pipelines.validation.reasons import Rejection, RejectReason
from pipelines.validation.validator import DEFAULT_FUTURE_TOLERANCE_MS, Validator

__all__ = ["DEFAULT_FUTURE_TOLERANCE_MS", "RejectReason", "Rejection", "Validator"]
