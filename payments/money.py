"""Pure money calculations for an order: line amounts, consumption tax per rate, platform fee.

Money is integer yen. Tax follows the 適格請求書 rule: one rounding (切り捨て) per tax rate
per invoice, never per line.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from payments.errors import InvalidPaymentInput

ALLOWED_TAX_RATES = (10, 8, 0)
STANDARD_TAX_RATE = 10
# The platform's own fee is a taxable service at the standard rate.
PLATFORM_FEE_TAX_RATE = STANDARD_TAX_RATE


def _as_decimal(value: object, field_name: str) -> Decimal:
    if isinstance(value, float):
        # Floats carry binary noise (0.1 + 0.2); money inputs must be exact.
        value = str(value)
    try:
        result = Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidPaymentInput(field_name, "数値で入力してください。") from None
    if not result.is_finite():
        raise InvalidPaymentInput(field_name, "有限の数値で入力してください。")
    return result


def _truncate_yen(amount: Decimal) -> int:
    """Drop the fraction of a yen toward zero, so a swap of payer and payee gives the same
    magnitudes as computing from the other side."""
    return int(amount.to_integral_value(rounding=ROUND_DOWN))


def rate_fraction(rate: object, field_name: str = "platform_fee_rate") -> Decimal:
    """A fee rate as a fraction: Decimal("0.05") or "0.05" for 5 %."""
    fraction = _as_decimal(rate, field_name)
    if not Decimal(0) <= fraction < Decimal(1):
        raise InvalidPaymentInput(
            field_name, "0 以上 1 未満の割合で指定してください（5% は 0.05）。"
        )
    return fraction


@dataclass(frozen=True)
class InvoiceLine:
    """One billed item: material, transport, or another charge.

    Signs are from the buyer's side: a positive amount is owed by the buyer to the seller; a
    negative unit price (surplus soil the supplier pays to have taken, 逆有償) is owed by the
    seller to the buyer.
    """

    description: str
    quantity: Decimal
    unit: str
    unit_price_yen: Decimal
    tax_rate: int = STANDARD_TAX_RATE
    delivered_on: date | None = None

    def __post_init__(self) -> None:
        if not self.description or not self.description.strip():
            raise InvalidPaymentInput("description", "品目を入力してください。")
        quantity = _as_decimal(self.quantity, "quantity")
        if quantity <= 0:
            raise InvalidPaymentInput("quantity", "数量は 0 より大きい値にしてください。")
        object.__setattr__(self, "quantity", quantity)
        object.__setattr__(
            self, "unit_price_yen", _as_decimal(self.unit_price_yen, "unit_price_yen")
        )
        if self.tax_rate not in ALLOWED_TAX_RATES:
            raise InvalidPaymentInput(
                "tax_rate", f"税率は {', '.join(map(str, ALLOWED_TAX_RATES))} % のいずれかです。"
            )

    @property
    def amount_yen(self) -> int:
        """Line amount excluding tax, buyer's side, truncated toward zero."""
        return _truncate_yen(self.quantity * self.unit_price_yen)


class Direction(enum.Enum):
    """Who pays whom once every line and tax is added up."""

    BUYER_PAYS = "buyer_pays"
    SELLER_PAYS = "seller_pays"  # negative net price: the supplier pays the receiver
    NOTHING_DUE = "nothing_due"


@dataclass(frozen=True)
class PricedLine:
    """An InvoiceLine with its amount, shown from the payee's side (after any swap)."""

    line: InvoiceLine
    unit_price_yen: Decimal
    amount_yen: int


@dataclass(frozen=True)
class TaxBreakdown:
    """税率ごとに区分した合計額（税抜）と消費税額, from the payee's side."""

    rate_percent: int
    taxable_yen: int
    tax_yen: int

    @property
    def total_yen(self) -> int:
        return self.taxable_yen + self.tax_yen


@dataclass(frozen=True)
class Totals:
    """Everything both parties see about an order's money."""

    direction: Direction
    lines: tuple[PricedLine, ...]
    per_rate: tuple[TaxBreakdown, ...]
    subtotal_yen: int
    tax_yen: int
    total_yen: int  # what the payer transfers; never negative
    platform_fee_rate: Decimal
    platform_fee_yen: int  # excluding tax
    platform_fee_tax_yen: int
    payee_receives_yen: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "payee_receives_yen", self.total_yen - self.platform_fee_total_yen)

    @property
    def platform_fee_total_yen(self) -> int:
        return self.platform_fee_yen + self.platform_fee_tax_yen


def tax_for(taxable_yen: int, rate_percent: int) -> int:
    """Consumption tax on one rate's total, truncated toward zero (端数切り捨て)."""
    magnitude = abs(taxable_yen) * rate_percent // 100
    return magnitude if taxable_yen >= 0 else -magnitude


def compute_totals(
    lines: list[InvoiceLine] | tuple[InvoiceLine, ...], platform_fee_rate: object = Decimal(0)
) -> Totals:
    """Add up an order: per-rate totals, one tax rounding per rate, payer, platform fee.

    The platform fee is a share of the tax-exclusive trade value (in absolute terms, so a
    negative-price trade pays the same fee as a positive one), plus its own 10 % tax, and is
    borne by the payee: on Stripe it is the application fee kept from the transfer.
    """
    if not lines:
        raise InvalidPaymentInput("lines", "明細が 1 行もありません。")
    fee_fraction = rate_fraction(platform_fee_rate)

    by_rate: dict[int, int] = {}
    for line in lines:
        by_rate[line.tax_rate] = by_rate.get(line.tax_rate, 0) + line.amount_yen
    signed_tax = {rate: tax_for(taxable, rate) for rate, taxable in by_rate.items()}
    signed_total = sum(by_rate.values()) + sum(signed_tax.values())

    if signed_total > 0:
        direction, sign = Direction.BUYER_PAYS, 1
    elif signed_total < 0:
        direction, sign = Direction.SELLER_PAYS, -1
    else:
        direction, sign = Direction.NOTHING_DUE, 1

    priced = tuple(
        PricedLine(
            line=line, unit_price_yen=sign * line.unit_price_yen, amount_yen=sign * line.amount_yen
        )
        for line in lines
    )
    per_rate = tuple(
        TaxBreakdown(
            rate_percent=rate, taxable_yen=sign * by_rate[rate], tax_yen=sign * signed_tax[rate]
        )
        for rate in sorted(by_rate, reverse=True)
    )
    subtotal = sum(b.taxable_yen for b in per_rate)
    tax = sum(b.tax_yen for b in per_rate)
    total = subtotal + tax

    fee = _truncate_yen(abs(Decimal(subtotal)) * fee_fraction)
    fee_tax = tax_for(fee, PLATFORM_FEE_TAX_RATE)
    if fee + fee_tax > total:
        # Never take more than the payment itself (tiny or mostly-discounted orders).
        fee, fee_tax = total, 0

    return Totals(
        direction=direction,
        lines=priced,
        per_rate=per_rate,
        subtotal_yen=subtotal,
        tax_yen=tax,
        total_yen=total,
        platform_fee_rate=fee_fraction,
        platform_fee_yen=fee,
        platform_fee_tax_yen=fee_tax,
    )


def format_yen(amount: int) -> str:
    """¥1,234 / -¥1,234, as shown on invoices and pages."""
    return f"-¥{-amount:,}" if amount < 0 else f"¥{amount:,}"
