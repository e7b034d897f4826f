"""The small dataclasses the app hands to a PaymentGateway and gets back.

The app turns its order rows into a BillableOrder and stores the returned Payment's fields;
no gateway reads or writes the database.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass, field
from datetime import date

from payments.errors import InvalidPaymentInput, InvalidTransition
from payments.money import Direction, InvoiceLine, Totals, compute_totals

REGISTRATION_NUMBER = re.compile(r"^T\d{13}$")


def validate_registration_number(
    value: str | None, field_name: str = "registration_number"
) -> None:
    """適格請求書発行事業者登録番号: T followed by 13 digits, or None for a 免税事業者."""
    if value is not None and not REGISTRATION_NUMBER.fullmatch(value):
        raise InvalidPaymentInput(
            field_name, "登録番号は「T」と 13 桁の数字です（例: T1234567890123）。"
        )


@dataclass(frozen=True)
class BankAccount:
    """振込先: where the payer sends a bank transfer."""

    bank_name: str
    branch_name: str
    account_type: str  # 普通 / 当座
    account_number: str
    account_holder: str  # 口座名義 (カナ)

    def __post_init__(self) -> None:
        if not self.account_number.isdigit() or not 1 <= len(self.account_number) <= 8:
            raise InvalidPaymentInput("account_number", "口座番号は 8 桁以内の数字です。")


@dataclass(frozen=True)
class Party:
    """An organisation on one side of an order."""

    id: str
    name: str
    registration_number: str | None = None
    address: str = ""
    connected_account_id: str | None = None  # Stripe Express account (acct_...)
    bank_account: BankAccount | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidPaymentInput("name", "事業者名を入力してください。")
        validate_registration_number(self.registration_number)


@dataclass(frozen=True)
class BillableOrder:
    """An order as payments sees it. There is deliberately no amount field: the amount is
    always computed here from the lines, whatever a client sent."""

    order_id: str
    buyer: Party
    seller: Party
    lines: tuple[InvoiceLine, ...]
    transaction_date: date  # 取引年月日 (delivery date, or the last one)
    attempt: int = 1  # bump when the order's money changes and a new payment is needed

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        if not str(self.order_id).strip():
            raise InvalidPaymentInput("order_id", "注文番号がありません。")
        if self.attempt < 1:
            raise InvalidPaymentInput("attempt", "1 以上の整数です。")

    def totals(self, platform_fee_rate: object) -> Totals:
        return compute_totals(self.lines, platform_fee_rate)

    def payer_and_payee(self, totals: Totals) -> tuple[Party, Party]:
        if totals.direction is Direction.SELLER_PAYS:
            return self.seller, self.buyer
        return self.buyer, self.seller


class PaymentStatus(enum.Enum):
    AWAITING_PAYMENT = "awaiting_payment"  # invoice issued / PaymentIntent open
    PROCESSING = "processing"
    FAILED = "failed"  # an attempt failed; the payer may still pay
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELED = "canceled"

    @property
    def rank(self) -> int:
        """States only move up in rank, so late or replayed events cannot undo progress.
        Equal ranks (processing / failed) are decided by the event time."""
        return _RANK[self]

    @property
    def is_open(self) -> bool:
        return self.rank < PaymentStatus.PAID.rank

    @property
    def label_ja(self) -> str:
        return _LABEL_JA[self]


_RANK = {
    PaymentStatus.AWAITING_PAYMENT: 0,
    PaymentStatus.PROCESSING: 1,
    PaymentStatus.FAILED: 1,
    PaymentStatus.PAID: 2,
    PaymentStatus.PARTIALLY_REFUNDED: 3,
    PaymentStatus.REFUNDED: 4,
    PaymentStatus.CANCELED: 4,
}

_LABEL_JA = {
    PaymentStatus.AWAITING_PAYMENT: "お支払い待ち",
    PaymentStatus.PROCESSING: "処理中",
    PaymentStatus.FAILED: "お支払い失敗",
    PaymentStatus.PAID: "支払済み",
    PaymentStatus.PARTIALLY_REFUNDED: "一部返金済み",
    PaymentStatus.REFUNDED: "返金済み",
    PaymentStatus.CANCELED: "取消",
}


@dataclass(frozen=True)
class Payment:
    """One payment attempt for an order. Immutable: every action returns a new Payment,
    which the app writes back to its row."""

    order_id: str
    attempt: int
    backend: str  # "invoice" | "stripe"
    reference: str  # invoice number or PaymentIntent id
    status: PaymentStatus
    amount_yen: int
    platform_fee_yen: int  # including the fee's own tax; kept by the platform
    payer_id: str
    payee_id: str
    refunded_yen: int = 0
    client_secret: str | None = None  # Stripe: for Stripe.js in the payer's browser
    destination_account_id: str | None = None  # Stripe Connect destination, if any
    invoice: object | None = None  # payments.invoice.QualifiedInvoice for the invoice backend
    paid_on: date | None = None
    last_event_at: int | None = None  # unix time of the newest provider event applied
    totals: Totals | None = field(default=None, compare=False)


def checked_refund_amount(payment: Payment, amount_yen: int | None) -> int:
    """The amount a refund may take: all that is left when None, else 1..what is left."""
    if payment.status not in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
        raise InvalidTransition(
            f"支払済みでない支払い（{payment.status.label_ja}）は返金できません。"
        )
    remaining = payment.amount_yen - payment.refunded_yen
    if amount_yen is None:
        return remaining
    if isinstance(amount_yen, bool) or not isinstance(amount_yen, int):
        raise InvalidPaymentInput("amount_yen", "返金額は円単位の整数です。")
    if not 1 <= amount_yen <= remaining:
        raise InvalidPaymentInput("amount_yen", f"返金額は 1 円から {remaining:,} 円までです。")
    return amount_yen


def after_refund(payment: Payment, amount_yen: int) -> Payment:
    refunded = payment.refunded_yen + amount_yen
    status = (
        PaymentStatus.REFUNDED
        if refunded >= payment.amount_yen
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    return dataclasses.replace(payment, refunded_yen=refunded, status=status)


@dataclass(frozen=True)
class OnboardingLink:
    """Where to send an organisation to finish Stripe Express onboarding. The URL is
    single-use and short-lived: redirect at once, never store it; store account_id."""

    account_id: str
    url: str
    expires_at: int
