"""The search pages' forms, declared (market/core/forms.py)."""

from __future__ import annotations

from market.core.forms import Form, Text


class SavedSearchForm(Form):
    """A search to keep: its name; its arguments are the search page's (services.PARAMS)."""

    name: Text(100) = ""
