"""Without a reachable tile server the maps still show Japan: prefecture outlines shipped
as data, under the markers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BASEMAP = Path(__file__).resolve().parents[2] / "market/static/basemap/japan-prefectures.json"


def inside(point: tuple[float, float], ring: list[list[float]]) -> bool:
    x, y = point
    hit = False
    for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            hit = not hit
    return hit


def test_the_basemap_has_every_prefecture_where_it_is():
    data = json.loads(BASEMAP.read_text(encoding="utf-8"))
    rings = {f["properties"]["code"]: f["geometry"]["coordinates"][0] for f in data["features"]}
    assert sorted(rings) == [f"{n:02d}" for n in range(1, 48)]
    assert "Apache-2.0" in data["source"]
    # Capitals fall inside their own prefecture and no other (lon, lat).
    for code, capital in {
        "01": (141.35, 43.06),
        "13": (139.69, 35.69),
        "14": (139.64, 35.45),
        "27": (135.52, 34.69),
        "40": (130.42, 33.61),
    }.items():
        assert [c for c, ring in rings.items() if inside(capital, ring)] == [code]


@pytest.mark.browser
def test_maps_draw_the_prefectures_when_tiles_cannot_load(live_server, page):
    app, base = live_server
    from tests.conftest import Factory

    factory = Factory(app)
    listing = factory.listing(factory.user(), "soil_offer", lat=35.6727, lon=139.8171)
    page.goto(f"{base}/listings/{listing}")
    paths = "#detail-map .leaflet-basemap-pane path"
    # A locator wait, not wait_for_function: the page's CSP forbids the eval that polls it.
    page.locator(paths).nth(39).wait_for(state="attached")
    # Tokyo's outline is drawn around the pin (the others lie off the view at this zoom).
    assert page.locator(f"{paths}:visible").count() >= 1
    # The listing's pin is drawn above it, and the outlines' source is named.
    assert page.locator("#detail-map .leaflet-marker-pane img").count() == 1
    assert "japanmap" in page.inner_text("#detail-map .leaflet-control-attribution")
