"""Errors of the alerts package. One base, `AlertError`; each subclass says what a person
asked for that cannot be done, so the API maps it to a status without reading the text::

    AlertError
    ├── AlertNotFoundError     no alert with that id at this site           (HTTP 404)
    ├── TransitionError        not allowed from the alert's current state   (HTTP 409)
    └── ClosureIncompleteError a food-safety alert lacks action or decision (HTTP 422)
"""

from __future__ import annotations

__all__ = ["AlertError", "AlertNotFoundError", "ClosureIncompleteError", "TransitionError"]


class AlertError(Exception):
    """Something about an alert could not be done; `alert_id` and `device` say which."""

    def __init__(self, message: str, *, alert_id: int | None = None, device: str | None = None):
        super().__init__(message)
        self.message = message
        self.alert_id = alert_id
        self.device = device


class AlertNotFoundError(AlertError):
    """No alert with the requested id."""


class TransitionError(AlertError):
    """The alert's state does not allow what was asked (e.g. closing an alert still firing)."""


class ClosureIncompleteError(AlertError):
    """A food-safety alert needs a corrective action and a decision on the food to close."""
