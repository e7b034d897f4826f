"""The matching and plant pages' forms, declared (market/core/forms.py)."""

from __future__ import annotations

from market.core.forms import Form, Text


class RunForm(Form):
    family: Text(16) = ""
    material_code: Text(32) = ""
    horizon_weeks: Text(10) = ""
    carbon_price_per_kg: Text(20) = ""


class PlantForm(Form):
    name: Text(200) = ""
    lat: Text(40) = ""
    lon: Text(40) = ""
    prefecture_code: Text(2) = ""
    address: Text(300) = ""
    window_start: Text(10) = ""
    window_end: Text(10) = ""


class ConversionForm(Form):
    from_class: Text(8) = ""
    to_class: Text(8) = ""
    price_per_m3: Text(20) = ""
    weekly_capacity: Text(20) = ""
