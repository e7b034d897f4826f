"""The listing pages' forms. A listing's fields are declared per kind in ``kinds.py`` (the
same declaration checks the API's bodies); the form reads those fields and nothing else."""

from __future__ import annotations

from market.catalog import kinds, validation
from market.catalog.models import ListingKind
from market.core.forms import form_items


def listing_form(kind: ListingKind) -> dict[str, object]:
    """The listing form of ``kind`` as ``kinds.validate`` takes it (nested prices,
    properties and limits; every value of a multiple choice)."""
    names = {f.name for f in kinds.fields_for(kind)}
    return validation.form_to_data(kind, form_items(lambda key: key.split(".", 1)[0] in names))
