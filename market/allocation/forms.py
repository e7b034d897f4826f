"""The matching pages' forms, declared (market/core/forms.py)."""

from __future__ import annotations

from pydantic import Field

from market.core.forms import Form, Text


class RunForm(Form):
    """Start a matching run: a family, the prefectures (none: Kantō), a recycled material."""

    family: Text(40) = ""
    region: list[Text(2)] = Field(default_factory=list, max_length=47)
    material_code: Text(40) = ""
