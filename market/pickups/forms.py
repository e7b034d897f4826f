"""The pickup pages' forms, declared (market/core/forms.py). Sizes guard the request; the
service judges the values (a date, a time, a slot that would already be over)."""

from __future__ import annotations

from market.core.forms import Form, Text


class SlotForm(Form):
    listing_id: Text(100) = ""
    pickup_point: Text(1000) = ""
    slot_date: Text(100) = ""
    starts_at: Text(100) = ""
    ends_at: Text(100) = ""
    capacity: Text(100) = ""
    weeks: Text(100) = ""


class BookingForm(Form):
    order_id: Text(100) = ""


class CheckInForm(Form):
    code: Text(100) = ""


class NoShowForm(Form):
    reason: Text(1000) = ""
