"""Corrections that keep the original: one field of a ticket, sheet or receipt, its new
value and why."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.errors import Conflict, Forbidden, Invalid, NotFound
from market.orders.models import Order
from market.trace import queries
from market.trace.inputs import _text, parse_local_time
from market.trace.models import (
    Amendment,
    ConfirmationSheet,
    ContaminationStatus,
    PermitBasis,
    Receipt,
    TransferTicket,
)
from market.trace.queries import AMENDABLE
from market.trace.services import (
    get_record,
    visible_order,
)

# --- amendments -------------------------------------------------------------------------

LIMITS = {
    "vehicle_reg_no": 40,
    "driver_name": 100,
    "origin_name": 200,
    "origin_address": 300,
    "permit_authority": 100,
    "permit_no": 60,
    "destination_manager": 100,
}
RECORDS = {"ticket": TransferTicket, "sheet": ConfirmationSheet, "receipt": Receipt}


def _may_amend(record_type: str, record, order: Order, org_id: int) -> bool:
    if record_type == "ticket":
        return org_id in (record.issued_by_org_id, record.receiving_org_id)
    if record_type == "sheet":
        return org_id == record.recorded_by_org_id
    return org_id == record.receiving_org_id


def amend(
    session: Session, user: User, record_type: str, record_id: int, data: Mapping[str, object]
) -> Amendment:
    """A correction that keeps the original: one field, its new value and why."""
    model = RECORDS.get(record_type)
    record = get_record(session, model, record_id) if model else None
    if record is None:
        raise NotFound(_("No such record."))
    order = visible_order(session, user, record.order_id)
    if not _may_amend(record_type, record, order, user.organisation_id):
        raise Forbidden(
            _("Only the organisation that made this record may amend it."), field="record"
        )
    errors: dict[str, str] = {}
    field = str(data.get("field") or "")
    if field not in AMENDABLE[record_type]:
        raise Invalid({"field": _("This field cannot be amended.")})
    if record_type == "ticket" and record.void:
        raise Conflict(
            _(
                "Ticket %(code)s is void; it is kept as it was and cannot be amended.",
                code=record.code,
            ),
            field="record",
        )
    if field in ("time_in",) and record_type == "ticket" and not record.confirmed:
        raise Invalid({"field": _("The load has not arrived yet.")})
    reason = _text(data, "reason", 2000, errors, required=True)
    raw = data.get("new_value")
    if field in ("time_out", "time_in"):
        value = parse_local_time(raw, "new_value", errors)
        if value is None and "new_value" not in errors:
            errors["new_value"] = _("Required.")
        new_value = value.isoformat() if value else ""
    elif field == "permit_basis":
        new_value = str(raw or "")
        if new_value not in PermitBasis.__members__:
            errors["new_value"] = _("Choose on what basis the destination is lawful.")
    elif field == "contamination_status":
        new_value = str(raw or "")
        if new_value not in ContaminationStatus.__members__:
            errors["new_value"] = _("Choose the soil-contamination procedure status.")
    else:
        new_value = _text(
            data,
            "new_value",
            LIMITS.get(field, 2000),
            errors,
            required=field not in ("discrepancy_note", "note"),
        )
    current = queries.current_values(session, record_type, record)
    old_value = current[field]
    if not errors and new_value == old_value:
        errors["new_value"] = _("Same as the current value.")
    if errors:
        raise Invalid(errors)
    amendment = Amendment(
        record_type=record_type,
        record_id=record.id,
        order_id=record.order_id,
        field=field,
        old_value=old_value,
        new_value=new_value,
        reason=reason,
        amended_by_id=user.id,
        amended_by_org_id=user.organisation_id,
    )
    session.add(amendment)
    session.flush()
    return amendment
