"""Template helpers that show the catalogue on any page: the listing kinds' declarations and
reference codes by name."""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale

from market.catalog import kinds
from market.catalog.models import Material, SoilClass
from market.services import db_session


def register(app: Flask) -> None:
    @app.context_processor
    def _catalogue():
        return {"kind_specs": kinds.SPECS}

    @app.template_global()
    def ref_name(table: str, code: str | None) -> str:
        """A reference code by its name in the user's language: 第2a種 for "2a"."""
        model = {"soil_class": SoilClass, "material": Material}[table]
        row = db_session().get(model, code) if code else None
        if row is None:
            return code or ""
        return row.name_en if str(get_locale() or "ja") == "en" else row.name_ja
