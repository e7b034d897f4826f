"""The notifications pages' forms, declared (market/core/forms.py)."""

from __future__ import annotations

from market.core.forms import Checkbox, Form


class SettingsForm(Form):
    order_mail: Checkbox = False
