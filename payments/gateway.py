"""The PaymentGateway interface every backend implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from payments.domain import BillableOrder, Payment
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
