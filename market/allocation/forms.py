"""The matching and plant pages' forms, declared (market/core/forms.py)."""

from __future__ import annotations

from pydantic import Field

from market.core.forms import Form, Text


class RunForm(Form):
    """Start a matching run: a family, the prefectures (none: Kantō), a recycled material,
    the weeks to plan (empty: windows only, version 1) and a carbon price (yen per kg CO2)."""

    family: Text(40) = ""
    region: list[Text(2)] = Field(default_factory=list, max_length=47)
    material_code: Text(40) = ""
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
