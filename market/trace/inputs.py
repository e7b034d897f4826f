"""Reading the trace forms' input: text, local times, optional ids and quantities shown
back, each refusal naming its field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from flask_babel import gettext as _

from market.db import TOKYO, row_id, utcnow
from market.text import has_control_characters


def _text(
    data: Mapping[str, object], field: str, limit: int, errors: dict, required: bool = False
) -> str:
    raw = data.get(field)
    text = "" if raw is None else str(raw).strip()
    if has_control_characters(text):
        errors[field] = _("Contains control characters.")
    elif len(text) > limit:
        errors[field] = _("Must be at most %(n)s characters.", n=limit)
    elif required and not text:
        errors[field] = _("Required.")
    return text


def parse_local_time(
    raw: object, field: str, errors: dict, default: dt.datetime | None = None
) -> dt.datetime | None:
    """A date and time typed in Japan (JST) as naive UTC, or ``default`` when blank."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return default
    try:
        local = dt.datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        errors[field] = _("Must be a date and time (YYYY-MM-DD HH:MM).")
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=TOKYO)
    value = local.astimezone(dt.UTC).replace(tzinfo=None)
    if value > utcnow() + dt.timedelta(minutes=10):
        errors[field] = _("Cannot be in the future.")
        return None
    if value.year < 2000:
        errors[field] = _("Must be a date and time (YYYY-MM-DD HH:MM).")
        return None
    return value


def _optional_id(data: Mapping[str, object], field: str, errors: dict) -> int | None:
    raw = data.get(field)
    text = "" if raw is None else str(raw).strip()
    if not text:
        return None
    value = row_id(text)
    if value is None:
        errors[field] = _("No such listing.")
    return value


def _qty(value) -> str:
    number = Decimal(value)
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number.normalize():,f}"
