"""Write side of reports: a site administrator edits a factor; a party enters an order's haul.
Refusals name the field and change nothing."""

from __future__ import annotations

import math
from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.core import audit
from market.errors import Forbidden, Invalid, NotFound
from market.factors.models import BulkDensity, ImpactFactor, OrderHaul, TruckType
from market.orders.models import Order

MAX_KM = 2000.0


def _number(raw: object, field: str, low: float, high: float) -> float:
    text = str(raw or "").strip().replace(",", "")
    try:
        value = float(text)
    except ValueError:
        raise Invalid({field: _("Must be a number.")}) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise Invalid(
            {field: _("Must be between %(low)s and %(high)s.", low=f"{low:g}", high=f"{high:g}")}
        )
    return value


def _source(raw: object) -> str:
    text = str(raw or "").strip()
    if not text:
        raise Invalid({"source": _("Say where the figure comes from.")})
    if len(text) > 200:
        raise Invalid({"source": _("Must be at most %(n)s characters.", n=200)})
    return text


# Which rows of which table an administrator may edit, and the allowed range of each.
EDITABLE = {
    "factor": (ImpactFactor, "value", -1e7, 1e7),
    "truck": (TruckType, "max_payload_kg", 100, 50_000),
    "density": (BulkDensity, "t_per_m3", 0.05, 10),
}


def edit_factor(session: Session, user: User, table: str, key: str, data: Mapping[str, object]):
    if not user.is_site_admin:
        raise Forbidden(_("Only site administrators may change the factors."))
    if table not in EDITABLE:
        raise NotFound(_("No such factor."))
    model, column, low, high = EDITABLE[table]
    ident = tuple(key.split("/", 1)) if model is ImpactFactor else key
    row = session.get(model, ident)
    if row is None:
        raise NotFound(_("No such factor."))
    errors: dict[str, str] = {}
    value = source = None
    try:
        value = _number(data.get("value"), "value", low, high)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        source = _source(data.get("source"))
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    before = getattr(row, column)
    setattr(row, column, int(value) if column == "max_payload_kg" else value)
    row.source = source
    audit.record(
        session,
        user,
        "reports.factor_edited",
        f"{table}:{key}",
        before=before,
        after=value,
        source=source,
    )
    session.flush()
    return row


def enter_haul(session: Session, user: User, order: Order, data: Mapping[str, object]) -> OrderHaul:
    """The road km and truck a party reports for its order, replacing the estimate."""
    if user.organisation_id not in order.party_ids():
        raise NotFound(_("No such order."))
    errors: dict[str, str] = {}
    km = None
    try:
        km = _number(data.get("road_km"), "road_km", 0.1, MAX_KM)
    except Invalid as exc:
        errors.update(exc.errors)
    code = str(data.get("truck_type_code") or "").strip()
    if session.get(TruckType, code) is None:
        errors["truck_type_code"] = _("Choose a truck type.")
    if errors:
        raise Invalid(errors)
    row = session.get(OrderHaul, order.id) or OrderHaul(order_id=order.id)
    row.road_km, row.truck_type_code = km, code
    row.entered_by_id, row.entered_by_org_id = user.id, user.organisation_id
    session.add(row)
    session.flush()
    return row
