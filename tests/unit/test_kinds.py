"""The one validator behind the listing forms and the API: clean values or a message per
field, never an exception that escapes as a server error."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from market import migrate
from market.catalog import validation
from market.catalog.models import ListingKind
from market.db import make_engine
from market.errors import Invalid


def _listing_data():
    # The shared conftest gives valid input per kind; load it by path (several conftests exist).
    name = "meguri_tests_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parents[1] / "conftest.py"
        )
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name].listing_data


listing_data = _listing_data()


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("kinds") / "reference.db"
    migrate.upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as s:
        yield s
    engine.dispose()


def errors_for(session, kind: str, **changes) -> dict:
    try:
        validation.validate(
            session, ListingKind(kind), {**listing_data(kind), **changes}, locale="en"
        )
    except Invalid as exc:
        return exc.errors
    return {}


@pytest.mark.parametrize("kind", [k.value for k in ListingKind])
def test_every_kind_has_valid_example_input(session, kind):
    clean = validation.validate(session, ListingKind(kind), listing_data(kind))
    assert clean["title"] and isinstance(clean["window_start"], dt.date)
    assert isinstance(clean["quantity"], Decimal)


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("quantity", "NaN"),
        ("quantity", float("nan")),
        ("quantity", "Infinity"),
        ("quantity", float("-inf")),
        ("quantity", "1e999"),
        ("quantity", 10**400),
        ("quantity", "sNaN"),
        ("quantity", True),
        ("lat", "nan"),
        ("lat", 10**400),
        ("price_per_unit", 1.5),
        ("price_per_unit", "9" * 50),
        ("price_per_unit", -(10**30)),
        ("max_haul_km", "0x10"),
        ("cone_index", [1]),
        ("window_start", 20250101),
        ("window_start", "2025-02-30"),
        ("window_end", {"y": 2025}),
        ("title", "\x00"),
        ("title", "ok\x1bbad"),
        ("description", "a\ud800b"),
    ],
)
def test_bad_values_become_field_messages(session, field, raw):
    errors = errors_for(session, "soil_offer", **{field: raw})
    assert list(errors) == [field]
    assert "Python" not in errors[field] and "float" not in errors[field]


def test_numbers_as_people_type_them(session):
    clean = validation.validate(
        session,
        ListingKind.soil_offer,
        {
            **listing_data(),
            "quantity": "1,200.5",
            "price_per_unit": " -1,500 ",
            "description": "行1\n行2\tタブ",
        },
    )
    assert clean["quantity"] == Decimal("1200.5") and clean["price_per_unit"] == -1500
    assert clean["description"] == "行1\n行2\tタブ"


def test_out_of_range_numbers_say_the_limit(session):
    assert "at most" in errors_for(session, "soil_offer", price_per_unit=10**30)["price_per_unit"]
    assert "at least" in errors_for(session, "soil_offer", quantity=0)["quantity"]


def test_partial_update_checks_against_current_values(session):
    current = validation.validate(
        session, ListingKind.recycled_offer, listing_data("recycled_offer")
    )
    with pytest.raises(Invalid) as caught:
        validation.validate(
            session,
            ListingKind.recycled_offer,
            {"material_code": "scrap_steel"},
            partial=True,
            current=current,
        )
    # RC-40 is not a scrap-steel grade, and scrap is not judged by water absorption
    assert list(caught.value.errors) == ["grade_code", "properties"]
    with pytest.raises(Invalid) as caught:
        validation.validate(
            session,
            ListingKind.recycled_offer,
            {"window_end": (current["window_start"] - dt.timedelta(days=1)).isoformat()},
            partial=True,
            current=current,
        )
    assert list(caught.value.errors) == ["window_end"]
    # Fields not sent are neither checked nor returned.
    assert validation.validate(
        session, ListingKind.recycled_offer, {"title": "新"}, partial=True, current=current
    ) == {"title": "新"}


def test_form_fields_become_the_nested_shape(session):
    form = MultiDict(
        [
            ("title", "x"),
            ("accepted_classes", "2a"),
            ("accepted_classes", "2b"),
            ("property_limits.absorption.max", "5"),
            ("property_limits.absorption.min", ""),
            ("blend_allowed", "1"),
        ]
    )
    data = validation.form_to_data(ListingKind.recycled_want, form)
    assert data["property_limits"] == {"absorption": {"max": "5", "min": ""}}
    assert data["blend_allowed"] == "1" and data["title"] == "x"
    soil = validation.form_to_data(ListingKind.soil_want, form)
    assert soil["accepted_classes"] == ["2a", "2b"] and soil["improved_allowed"] == ""


def test_unknown_fields_are_named(session):
    errors = errors_for(session, "soil_offer", organisation_id=3, open_quantity=1)
    assert set(errors) == {"organisation_id", "open_quantity"}
