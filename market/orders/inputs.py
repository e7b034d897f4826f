"""Reading an order's input: quantities, yen amounts and free text, each refusal naming its field."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

from market.errors import Invalid
from market.text import has_control_characters

MAX_QUANTITY = Decimal("1e9")
MAX_FEE_YEN = 1_000_000_000


def parse_quantity(raw: object, field: str = "quantity") -> Decimal:
    if isinstance(raw, bool) or raw is None or (isinstance(raw, str) and not raw.strip()):
        raise Invalid({field: _("Enter a quantity.")})
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise Invalid({field: _("Must be a number.")}) from None
    if not value.is_finite() or value <= 0:
        raise Invalid({field: _("Must be more than 0.")})
    if value > MAX_QUANTITY:
        raise Invalid({field: _("Must be at most %(n)s.", n=f"{MAX_QUANTITY:,.0f}")})
    if value != value.quantize(Decimal("0.001")):
        raise Invalid({field: _("Use at most 3 decimal places.")})
    return value.quantize(Decimal("0.001"))


def parse_yen(raw: object, field: str) -> int:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return 0
    if isinstance(raw, bool):
        raise Invalid({field: _("Must be a whole number of yen.")})
    try:
        value = int(str(raw).strip().replace(",", "").replace("¥", ""))
    except ValueError:
        raise Invalid({field: _("Must be a whole number of yen.")}) from None
    if not 0 <= value <= MAX_FEE_YEN:
        raise Invalid({field: _("Must be between 0 and %(n)s yen.", n=f"{MAX_FEE_YEN:,}")})
    return value


def text(raw: object, field: str, limit: int) -> str:
    text = "" if raw is None else str(raw).strip()
    if has_control_characters(text):
        raise Invalid({field: _("must not contain control characters")})
    if len(text) > limit:
        raise Invalid({field: _("Must be at most %(n)s characters.", n=limit)})
    return text


def qty(value) -> str:
    number = Decimal(value)
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number.normalize():,f}"
