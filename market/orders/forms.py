"""The order pages' forms, declared (market/core/forms.py). Sizes guard the request; the
service judges the values and names every field at fault (a quantity beyond what is open,
a fee out of range, a refund beyond what was paid)."""

from __future__ import annotations

from market.core.forms import Checkbox, Form, Text


class OrderRequestForm(Form):
    quantity: Text(100) = ""
    transport_arrangement: Text(100) = ""
    note: Text(5000) = ""


class OrderTermsForm(Form):
    instant_accept: Checkbox = False


class OrderActionForm(Form):
    """Accept, decline, invoice, pay… (a note and the transport fee where the move takes them)."""

    note: Text(5000) = ""
    transport_fee_yen: Text(100) = ""


class DeliveryForm(Form):
    quantity: Text(100) = ""
    delivered_on: Text(100) = ""
    reference: Text(1000) = ""


class RefundForm(Form):
    amount_yen: Text(100) = ""
    reason: Text(5000) = ""
    idempotency_key: Text(200) = ""
