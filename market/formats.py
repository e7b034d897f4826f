"""Numbers and units as people read them: no needless decimals, m³ not m3, items as 点.

One place for the rule, used by the templates' ``qty``/``unit`` filters, the listing
pages and the messages that name a quantity.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import gettext as _

# Decimals a unit needs at most: a cubic metre of soil to a tenth, a tonne to the
# kilogram, things that are counted not at all.
UNIT_DECIMALS = {"m3": 1, "m2": 1, "m": 1, "t": 3, "kg": 0, "item": 0, "piece": 0, "sheet": 0}


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def number(value, places: int = 3, *, grouped: bool = True) -> str:
    """``value`` rounded to at most ``places`` decimals, trailing zeros dropped."""
    d = _decimal(value)
    if d is None:
        return "—" if grouped else ""
    d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{d:,f}" if grouped else f"{d:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def plain(value) -> str:
    """A number for an input box: no grouping, no needless decimals ("1000", "2.5");
    numbers inside a mapping (measured properties, limits) too."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, float | Decimal | int) and not isinstance(value, bool):
        return number(value, 6, grouped=False)
    return value


def quantity(value, unit: str | None = None) -> str:
    return number(value, UNIT_DECIMALS.get(unit or "", 3))


def unit_label(unit: str | None) -> str:
    """m³ not m3; a count reads as 点 (items) in the user's language."""
    return {
        "m3": "m³",
        "m2": "m²",
        "item": _("items"),
        "piece": _("pcs"),
        "sheet": _("sheets"),
    }.get(unit or "", unit or "")


def quantity_with_unit(value, unit: str | None) -> str:
    return f"{quantity(value, unit)} {unit_label(unit)}".strip()
