"""The 確認結果票 (check sheet): the sending side confirms the destination is lawful before
the first load of a large soil order."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.errors import Conflict, Forbidden, Invalid
from market.trace.inputs import _text
from market.trace.models import (
    ConfirmationSheet,
    ContaminationStatus,
    PermitBasis,
)
from market.trace.plans import (
    planned_destination,
    sheet_for,
)
from market.trace.services import (
    visible_order,
)

# --- 確認結果票 --------------------------------------------------------------------------


def record_sheet(
    session: Session, user: User, order_id: int, data: Mapping[str, object]
) -> ConfirmationSheet:
    """The sending side confirms the destination is lawful, before the first load."""
    order = visible_order(session, user, order_id)
    if user.organisation_id != order.seller_org_id:
        raise Forbidden(
            _("Only the supplying organisation records the check sheet."),
            field="confirmation_sheet",
        )
    if sheet_for(session, order.id) is not None:
        raise Conflict(
            _("The check sheet is already recorded; record an amendment instead."),
            field="confirmation_sheet",
        )
    errors: dict[str, str] = {}
    plan = planned_destination(session, order)
    if plan is not None:
        site = plan.destination
        name, address, listing_id = site.name, site.address, site.listing_id
    else:
        name = _text(data, "destination_name", 200, errors, required=True)
        address = _text(data, "destination_address", 300, errors, required=True)
        listing_id = None
    try:
        basis = PermitBasis(str(data.get("permit_basis") or ""))
    except ValueError:
        errors["permit_basis"] = _("Choose on what basis the destination is lawful.")
        basis = None
    authority = _text(data, "permit_authority", 100, errors)
    permit_no = _text(data, "permit_no", 60, errors)
    note = _text(data, "note", 2000, errors)
    if basis in (PermitBasis.moritsuchi_permit, PermitBasis.ordinance_permit):
        if not permit_no and "permit_no" not in errors:
            errors["permit_no"] = _("Enter the permit number.")
        if not authority and "permit_authority" not in errors:
            errors["permit_authority"] = _("Enter who issued the permit.")
    elif basis == PermitBasis.no_permit_needed and not note and "note" not in errors:
        errors["note"] = _("Say why no permit is needed.")
    try:
        contamination = ContaminationStatus(str(data.get("contamination_status") or ""))
    except ValueError:
        errors["contamination_status"] = _("Choose the soil-contamination procedure status.")
        contamination = None
    if errors:
        raise Invalid(errors)
    sheet = ConfirmationSheet(
        order_id=order.id,
        destination_listing_id=listing_id,
        destination_name=name,
        destination_address=address,
        permit_basis=basis,
        permit_authority=authority,
        permit_no=permit_no,
        contamination_status=contamination,
        note=note,
        recorded_by_id=user.id,
        recorded_by_org_id=user.organisation_id,
    )
    session.add(sheet)
    session.flush()
    return sheet
