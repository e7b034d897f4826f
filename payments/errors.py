"""Errors raised by the payments package; each carries a message fit to show the user (ja).

The app maps them: InvalidPaymentInput / NothingToPay / InvalidTransition -> 400 or a form
error, WebhookError -> 400, GatewayError -> 502 with its message, ConfigurationError -> fail
at start-up.
"""

from __future__ import annotations


class PaymentError(Exception):
    """Base class. `message` is user-facing Japanese text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(PaymentError):
    """A chosen backend lacks a setting; raised at start-up, never per request."""


class InvalidPaymentInput(PaymentError):
    """Bad input; names the field and what is wrong. Nothing was changed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class NothingToPay(PaymentError):
    """The order nets to ¥0: no invoice or PaymentIntent is created."""


class InvalidTransition(PaymentError):
    """The requested action does not fit the payment's state (e.g. cancel a paid invoice)."""


class GatewayError(PaymentError):
    """The payment provider refused or failed; `code` is the provider's code when known."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class InvoiceFontMissing(PaymentError):
    """The Japanese TTF for invoice PDFs is not installed where configured."""


class WebhookError(PaymentError):
    """A webhook the app must answer with 400 and must not act on."""


class WebhookSignatureError(WebhookError):
    """Stripe-Signature missing, malformed, not matching, or outside the time tolerance."""


class WebhookPayloadError(WebhookError):
    """Signed correctly but not a Stripe event we can read."""
