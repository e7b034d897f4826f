"""The invoice backend: issues the 適格請求書 on create, the payee marks it paid when the
transfer arrives, and refunds are recorded with a 返還インボイス (``credit_note``). Apart
from ``invoice`` (the document) and ``credit_note`` so that neither imports the other."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from payments.credit_note import CreditNote, build_credit_note, render_credit_note_pdf
from payments.domain import (
    BillableOrder,
    Payment,
    PaymentStatus,
    after_refund,
    checked_refund_amount,
)
from payments.errors import (
    InvalidPaymentInput,
    InvalidTransition,
    NothingToPay,
)
from payments.invoice import (
    JST,
    QualifiedInvoice,
    build_invoice,
    default_invoice_number,
    render_invoice_pdf,
)
from payments.money import Direction, Totals, rate_fraction


class InvoiceGateway:
    """Issues the invoice on create; the payee marks it paid when the transfer arrives."""

    name = "invoice"

    def __init__(
        self,
        platform_fee_rate: object = Decimal(0),
        *,
        payment_terms_days: int = 30,
        font_path: str | os.PathLike | None = None,
        today: Callable[[], date] | None = None,
        invoice_number: Callable[[BillableOrder], str] = default_invoice_number,
    ) -> None:
        self.platform_fee_rate = rate_fraction(platform_fee_rate)
        if payment_terms_days < 0:
            raise InvalidPaymentInput("payment_terms_days", "0 以上の日数です。")
        self.payment_terms_days = payment_terms_days
        self.font_path = font_path
        self._today = today or (lambda: datetime.now(JST).date())
        self._invoice_number = invoice_number

    def quote(self, order: BillableOrder) -> Totals:
        return order.totals(self.platform_fee_rate)

    def create_payment(self, order: BillableOrder) -> Payment:
        totals = self.quote(order)
        if totals.direction is Direction.NOTHING_DUE:
            raise NothingToPay("この注文の支払額は 0 円です。請求書は発行されません。")
        payer, payee = order.payer_and_payee(totals)
        invoice = build_invoice(
            order,
            totals,
            number=self._invoice_number(order),
            issue_date=self._today(),
            payment_terms_days=self.payment_terms_days,
        )
        return Payment(
            order_id=order.order_id,
            attempt=order.attempt,
            backend=self.name,
            reference=invoice.number,
            status=PaymentStatus.AWAITING_PAYMENT,
            amount_yen=totals.total_yen,
            platform_fee_yen=totals.platform_fee_total_yen,
            payer_id=payer.id,
            payee_id=payee.id,
            invoice=invoice,
            totals=totals,
        )

    def mark_paid(self, payment: Payment, paid_on: date | None = None) -> Payment:
        """The payee confirms the bank transfer arrived. Marking twice changes nothing."""
        if payment.status is PaymentStatus.PAID:
            return payment
        if not payment.status.is_open:
            raise InvalidTransition(f"{payment.status.label_ja}の請求書は入金済みにできません。")
        return dataclasses.replace(
            payment, status=PaymentStatus.PAID, paid_on=paid_on or self._today()
        )

    def cancel(self, payment: Payment) -> Payment:
        if payment.status is PaymentStatus.CANCELED:
            return payment
        if not payment.status.is_open:
            raise InvalidTransition("入金済みの請求書は取り消せません。返金してください。")
        return dataclasses.replace(payment, status=PaymentStatus.CANCELED)

    def refund(self, payment: Payment, amount_yen: int | None = None) -> Payment:
        """Records a refund the payee sends back by bank transfer; ``issue_credit_note``
        makes its 返還インボイス."""
        return after_refund(payment, checked_refund_amount(payment, amount_yen))

    def issue_credit_note(
        self,
        payment: Payment,
        amount_yen: int,
        *,
        number: str,
        reason: str = "",
        refunded_before: dict[int, int] | None = None,
    ) -> CreditNote:
        """The 返還インボイス for refunding ``amount_yen`` of ``payment`` today.
        ``refunded_before``: tax-inclusive yen per rate that earlier credit notes returned."""
        if not isinstance(payment.invoice, QualifiedInvoice):
            raise InvalidTransition("この支払いには請求書がありません。")
        checked_refund_amount(payment, amount_yen)
        return build_credit_note(
            payment.invoice,
            amount_yen,
            number=number,
            issue_date=self._today(),
            reason=reason,
            refunded_before=refunded_before,
        )

    def render_credit_note_pdf(self, note: CreditNote) -> bytes:
        return render_credit_note_pdf(note, self.font_path)

    def render_pdf(self, payment: Payment) -> bytes:
        if not isinstance(payment.invoice, QualifiedInvoice):
            raise InvalidTransition("この支払いには請求書がありません。")
        return render_invoice_pdf(payment.invoice, self.font_path)
