"""Domain errors that views and the API turn into user-facing answers.

One shape for a field error: ``Invalid({field: message, ...})`` carries every field at fault
(parsers collect them all, never stop at the first). ``Forbidden``, ``NotFound`` and
``Conflict`` are refusals of the whole request. Every ``DomainError`` has ``errors`` (field →
message; a refusal without a field is filed under ``"form"``), so a page shows any refusal
beside its field the same way; ``market.core.writes`` commits a write or turns its refusal
into that page."""

from __future__ import annotations


class DomainError(Exception):
    """Something the user asked for cannot be done; ``message`` says why."""

    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def errors(self) -> dict[str, str]:
        """Each field at fault → what is wrong (``"form"`` when no one field is)."""
        return {self.field or "form": self.message}


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class Unauthorized(DomainError):
    """No credentials, or wrong ones (an API token)."""

    status = 401


class RateLimited(DomainError):
    status = 429


class Unavailable(DomainError):
    """A service we depend on (search) is briefly down."""

    status = 503


class Invalid(DomainError):
    """Field errors: ``errors`` maps each field to what is wrong with it (every error found,
    not only the first); ``message``/``field`` are the first, for one-line answers, unless
    ``message`` sums them up. ``status`` is 422 (a body the API cannot take) unless the page
    that refuses says 400."""

    status = 422

    def __init__(self, errors: dict[str, str], *, message: str | None = None, status: int = 422):
        if not errors:
            raise ValueError("Invalid needs at least one field error")
        first = next(iter(errors))
        super().__init__(message or str(errors[first]), field=first)
        self._errors = {name: str(text) for name, text in errors.items()}
        self.status = status

    @property
    def errors(self) -> dict[str, str]:
        return self._errors
