"""Bad search input gets a SearchQueryError naming the field, never a crash."""

import math
from datetime import date

import pytest

from search import SearchQuery, SearchQueryError
from search.geo import bounding_box, haversine_km, haversine_threshold


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"near": (91, 0)}, "near.lat"),
        ({"near": (0, -181)}, "near.lon"),
        ({"near": (math.nan, 0)}, "near.lat"),
        ({"near": ("abc", 0)}, "near.lat"),
        ({"near": (35.0,)}, "near"),
        ({"near": (35, 139), "radius_km": 0}, "radius_km"),
        ({"near": (35, 139), "radius_km": -5}, "radius_km"),
        ({"near": (35, 139), "radius_km": math.inf}, "radius_km"),
        ({"near": (35, 139), "radius_km": "far"}, "radius_km"),
        ({"near": (35, 139), "radius_km": 100_000}, "radius_km"),
        ({"radius_km": 10}, "radius_km"),
        ({"sort": "distance"}, "sort"),
        ({"sort": "cheapest"}, "sort"),
        ({"filters": {"colour": ["red"]}}, "filters.colour"),
        ({"filters": {"kind": [{"x": 1}]}}, "filters.kind"),
        ({"facets": ["colour"]}, "facets"),
        ({"price_min": 10, "price_max": 5}, "price_max"),
        ({"price_min": "ten"}, "price_min"),
        ({"window_from": "2025-13-01"}, "window_from"),
        ({"window_from": date(2025, 2, 1), "window_to": date(2025, 1, 1)}, "window_to"),
        ({"page": 0}, "page"),
        ({"per_page": 1000}, "per_page"),
        ({"text": 42}, "text"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(SearchQueryError) as error:
        SearchQuery(**kwargs)
    assert error.value.field == field
    assert error.value.message


def test_form_strings_are_accepted():
    query = SearchQuery(
        near=("35.68", "139.76"),
        radius_km="25",
        page="2",
        per_page="10",
        price_min="100",
        window_from="2025-05-01",
        filters={"kind": "offer", "category": []},
        facets="kind",
    )
    assert query.near == (35.68, 139.76) and query.radius_km == 25.0
    assert (query.page, query.per_page, query.offset, query.price_min) == (2, 10, 10, 100)
    assert query.window_from == date(2025, 5, 1)
    assert query.filters == {"kind": ("offer",)}
    assert query.facets == ("kind",)


def test_geo_helpers():
    assert haversine_km(35.681, 139.767, 34.702, 135.495) == pytest.approx(403, abs=2)
    lat0, lat1, lon0, lon1 = bounding_box(35.0, 139.0, 50)
    assert lat0 < 35 < lat1 and lon0 < 139 < lon1
    assert bounding_box(89.9, 0, 50)[2] is None
    assert bounding_box(0, 179.9, 50)[2] is None
    a = haversine_threshold(10)
    assert 2 * 6371.0088 * math.asin(math.sqrt(a)) == pytest.approx(10)
