"""Domain errors that services raise and the API maps to HTTP answers."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def as_dict(self) -> dict:
        body: dict = {"detail": self.message, **self.details}
        if self.field:
            body = {self.field: [self.message], **self.details}
        return body


class InvalidInput(DomainError):
    status_code = 400


class Forbidden(DomainError):
    """The caller may not do this, whatever the object's state (e.g. approve their own work)."""

    status_code = 403


class Conflict(DomainError):
    """The object is not in a state that allows the request (for example a transition)."""

    status_code = 409


class PayloadTooLarge(DomainError):
    status_code = 413
