"""Search as a new user meets it: Japanese and English words, a facet, the map of
results and distance from one of my sites."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_search_words_facets_map_and_distance(live_server, page):
    app, base = live_server
    from tests.conftest import PASSWORD, Factory

    factory = Factory(app)
    contractor, city = factory.user(), factory.user("municipality")
    factory.listing(
        city, "reuse_item", title="粗大ごみ 椅子 木製", lat=35.53, lon=139.70, prefecture_code="14"
    )
    factory.listing(
        city,
        "reuse_item",
        title="粗大ごみ 椅子 スチール",
        lat=35.86,
        lon=139.65,
        prefecture_code="11",
    )
    factory.listing(contractor, "soil_offer", title="江東区 第2b種 発生土 1,200m³")
    site = factory.listing(
        contractor, "soil_want", title="川崎 受入地", lat=35.531, lon=139.703, prefecture_code="14"
    )

    page.goto(f"{base}/search")
    page.fill("#q", "椅子")
    page.click("form.search-form button[type=submit]")
    page.wait_for_selector("#search-map path.leaflet-interactive")
    assert page.locator(".listing-card").count() == 2
    assert page.locator("#search-map path.leaflet-interactive").count() == 2

    page.fill("#q", "chair")  # English finds the same items by their category name
    page.click("form.search-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".listing-card").count() == 2

    page.click("[data-facet=prefecture] a:has-text('神奈川県')")
    page.wait_for_load_state()
    assert page.locator(".listing-card").count() == 1
    assert "木製" in page.inner_text(".cards")

    # Signed in, distance is measured from one of my sites.
    page.goto(f"{base}/login")
    page.fill("#email", contractor.email)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{base}/search?q=椅子")
    page.select_option("#site", str(site))
    page.select_option("#sort", "distance")
    page.click("form.search-form button[type=submit]")
    page.wait_for_load_state()
    titles = page.locator(".listing-card h3").all_inner_texts()
    assert titles == ["粗大ごみ 椅子 木製", "粗大ごみ 椅子 スチール"]
    distances = page.locator(".listing-card .distance").all_inner_texts()
    assert len(distances) == 2 and float(distances[0].split()[0]) < float(distances[1].split()[0])


def test_a_visitor_types_in_kana_picks_suggestions_and_sorts_from_a_town(live_server, page):
    app, base = live_server
    from tests.conftest import Factory

    factory = Factory(app)
    city = factory.user("municipality")
    factory.listing(city, "reuse_item", title="粗大ごみ 椅子 木製", lat=35.66, lon=139.33)
    factory.listing(city, "reuse_item", title="事務用いす 10脚", lat=35.86, lon=139.65)
    factory.listing(
        city, "reuse_item", title="本棚 3段", lat=35.67, lon=139.31, reuse_category_code="cabinet"
    )

    page.goto(f"{base}/search")
    page.type("#q", "いす", delay=50)  # as on a phone, before converting to kanji
    page.wait_for_selector("#q-suggestions li.suggestion-word")
    assert "椅子" in page.locator("#q-suggestions").inner_text()
    assert page.get_attribute("#q", "aria-expanded") == "true"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # the first suggestion, the word 椅子
    page.wait_for_selector(".listing-card")
    titles = page.locator(".listing-card h3").all_inner_texts()
    assert sorted(titles) == ["事務用いす 10脚", "粗大ごみ 椅子 木製"]

    page.type("#place", "はちおう", delay=50)
    page.wait_for_selector("#place-suggestions li.suggestion-place")
    page.click("#place-suggestions li:has-text('八王子市 (東京都)')")
    page.wait_for_selector("#search-origin")
    assert "八王子市 (東京都)からの距離" in page.inner_text("#search-origin")
    titles = page.locator(".listing-card h3").all_inner_texts()
    assert titles == ["粗大ごみ 椅子 木製", "事務用いす 10脚"]  # still 椅子, nearest first
    # a phone's width: nothing scrolls sideways, the suggestion box included
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390
