"""The search pages' forms, declared (market/core/forms.py)."""

from __future__ import annotations

from market.core.forms import Form, Text, form_items
from market.finder import services


class SavedSearchForm(Form):
    """A search to keep: its name; its arguments are the search page's (services.PARAMS)."""

    name: Text(100) = ""


def search_args() -> dict[str, list[str]]:
    """The search arguments a form sent (the search page's, services.PARAMS), every value of
    each, and nothing else: a form's other keys (``_scheme``, ``endpoint``…) must never reach
    url_for, which would take them as its own."""
    sent = form_items(lambda key: key in services.PARAMS)
    return {key: values for key in services.PARAMS if (values := sent.getlist(key))}


class SynonymsForm(Form):
    """A synonym group; the service splits the words and judges each."""

    terms: Text(5000) = ""
    mutual: Text(10) = ""
    source: Text(1000) = ""
