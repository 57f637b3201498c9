"""Validation of raw input lines against the event contracts (``schemas/events/``).

>>> from pipelines.domain.events import Stream
>>> v = Validator(Stream.VIEW, reference_ms=1_700_000_000_000, future_tolerance_ms=600_000)
>>> v.validate(b"[]")
Rejection(reason=<RejectReason.NOT_OBJECT: 'not_object'>, detail='a JSON array, not an object')
"""

from pipelines.validation.reasons import Rejection, RejectReason
from pipelines.validation.validator import Validator

__all__ = ["RejectReason", "Rejection", "Validator"]
