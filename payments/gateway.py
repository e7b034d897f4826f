"""The PaymentGateway interface every backend implements, and the capabilities only some
backends have (card payments: onboarding payees, re-reading a payment, webhooks, test-mode
confirmation), each a Protocol the app checks with ``isinstance`` before using it."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from payments.domain import BillableOrder, OnboardingLink, Party, Payment

# ParsesWebhooks (a backend whose provider reports changes by signed webhooks) is declared
# beside process_webhook, which takes it; it is one of these capabilities.
from payments.events import ParsesWebhooks
from payments.money import Totals


@runtime_checkable
class PaymentGateway(Protocol):
    name: str  # "invoice" | "stripe"

    def quote(self, order: BillableOrder) -> Totals:
        """The order's money as both parties see it; no side effect."""
        ...

    def create_payment(self, order: BillableOrder) -> Payment:
        """Start collecting the order's total. The amount comes from the lines only.
        Raises NothingToPay for a ¥0 order, InvalidPaymentInput, GatewayError."""
        ...

    def cancel(self, payment: Payment) -> Payment:
        """Withdraw an unpaid payment. Raises InvalidTransition once paid."""
        ...

    def refund(self, payment: Payment, amount_yen: int | None = None) -> Payment:
        """Return all (None) or part of a paid payment to the payer."""
        ...


@runtime_checkable
class OnboardsPayees(Protocol):
    """A backend that pays payees out through accounts they set up with the provider."""

    def onboarding_link(
        self, party: Party, *, refresh_url: str, return_url: str
    ) -> OnboardingLink: ...


@runtime_checkable
class RetrievesPayments(Protocol):
    """A backend whose payments change at the provider and can be re-read from it."""

    name: str

    def retrieve(self, payment: Payment) -> Payment: ...


@runtime_checkable
class ConfirmsTestPayments(Protocol):
    """A backend that can pay a payment with a test card, server-side (test mode only)."""

    def confirm(self, payment: Payment, payment_method: str = ...) -> Payment: ...


__all__ = [
    "ConfirmsTestPayments",
    "OnboardsPayees",
    "ParsesWebhooks",
    "PaymentGateway",
    "RetrievesPayments",
]
