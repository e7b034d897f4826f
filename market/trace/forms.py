"""The traceability pages' forms, declared (market/core/forms.py). Sizes guard the request;
the service judges each value and names every field at fault (a permit number the basis
needs, a time in the future, a quantity beyond what left)."""

from __future__ import annotations

from market.core.forms import Form, Text


class SheetForm(Form):
    """確認結果票: where the soil goes and on what basis that is lawful."""

    destination_name: Text(1000) = ""
    destination_address: Text(1000) = ""
    permit_basis: Text(100) = ""
    permit_authority: Text(1000) = ""
    permit_no: Text(1000) = ""
    contamination_status: Text(100) = ""
    note: Text(5000) = ""


class TicketForm(Form):
    """A truckload leaves (運搬伝票)."""

    origin_listing_id: Text(100) = ""
    origin_name: Text(1000) = ""
    origin_address: Text(1000) = ""
    destination_listing_id: Text(100) = ""
    vehicle_reg_no: Text(1000) = ""
    driver_name: Text(1000) = ""
    soil_class_code: Text(100) = ""
    time_out: Text(100) = ""
    quantity: Text(100) = ""


class ConfirmForm(Form):
    """The receiving site confirms a load's arrival."""

    quantity_received: Text(100) = ""
    discrepancy_note: Text(5000) = ""
    time_in: Text(100) = ""


class VoidForm(Form):
    reason: Text(5000) = ""


class ReceiptForm(Form):
    destination_manager: Text(1000) = ""


class AmendForm(Form):
    """A correction of one field that keeps the original."""

    field: Text(100) = ""
    new_value: Text(5000) = ""
    reason: Text(5000) = ""
