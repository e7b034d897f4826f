"""The reports pages' forms, declared (market/core/forms.py). Sizes guard the request; the
service judges the values (a number in its range, a truck type that exists)."""

from __future__ import annotations

from market.core.forms import Form, Text


class HaulForm(Form):
    road_km: Text(100) = ""
    truck_type_code: Text(100) = ""


class FactorForm(Form):
    value: Text(100) = ""
    source: Text(1000) = ""
