"""A new contractor signs up, lists surplus soil with a photo and a map pin, finds it
in the listing browser and switches the UI to English — in a real browser on a phone-sized screen."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

pytestmark = pytest.mark.browser


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (130, 95, 60)).save(out, "JPEG")
    return out.getvalue()


def test_sign_up_list_soil_find_it_and_switch_to_english(live_server, page, tmp_path):
    app, base = live_server
    page.goto(f"{base}/signup")
    assert page.locator("html").get_attribute("lang") == "ja"
    page.fill("#org_name", "湾岸土木工業")
    page.select_option("#org_kind", "contractor")
    page.select_option("#prefecture_code", "13")
    page.fill("#display_name", "佐藤花子")
    page.fill("#email", "sato@example.jp")
    page.fill("#password", "a long password")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/listings/new")

    page.goto(f"{base}/listings/new/soil_offer")
    page.fill("#title", "江東区 マンション新築 第2b種 発生土 800m³")
    page.fill("#description", "平日8時〜17時 積込可")
    page.select_option("#soil_class_code", "2b")
    page.select_option("#contamination_status", "not_required")
    page.fill("#quantity", "800")
    page.fill("#price_per_unit", "-1500")
    # The map pin: clicking the map moves the pin and fills latitude and longitude.
    before = page.input_value("#lat"), page.input_value("#lon")
    page.locator("#pin-map").click(position={"x": 60, "y": 60})
    after = page.input_value("#lat"), page.input_value("#lon")
    assert after != before and all(v for v in after)
    photo = tmp_path / "soil.jpg"
    photo.write_bytes(jpeg_bytes())
    page.set_input_files("#photos", str(photo))
    page.click("form.listing-form button[type=submit]")
    page.wait_for_url(f"{base}/listings/*")
    assert "第2b種 発生土 800m³" in page.inner_text("h1")
    thumb = page.locator(".photos img").first
    assert thumb.evaluate("img => img.complete && img.naturalWidth > 0")

    from market.catalog.models import Listing

    with app.app_context():
        listing = app.extensions["meguri.db"].session().scalar(select(Listing))
        assert (f"{listing.lat:.5f}", f"{listing.lon:.5f}") == after

    page.goto(f"{base}/listings")
    page.fill("input[name=q]", "マンション新築")
    page.select_option("select[name=kind]", "soil_offer")
    page.click("form.filters button[type=submit]")
    card = page.locator(".listing-card", has_text="第2b種 発生土 800m³")
    assert card.count() == 1
    # The map of results shows the listing as a marker (tiles are unreachable here).
    page.wait_for_selector("#browse-map path.leaflet-interactive")
    assert page.locator("#browse-map path.leaflet-interactive").count() == 1

    page.click("#lang-switch")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Listings" in page.inner_text("h1")
    assert page.locator(".listing-card", has_text="第2b種 発生土 800m³").count() == 1
