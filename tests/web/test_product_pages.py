"""Pages as a user reads them: quantities by unit without needless decimals, codes by
their names, and no link to a page that would refuse the user."""

from __future__ import annotations

import re


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("<main>")[1].split("</main>")[0]))


def test_a_site_admin_without_an_organisation_is_offered_no_listing_kind(client, factory, login):
    admin = factory.member(None, "ops@example.jp", is_site_admin=True)
    login(admin)
    page = client.get("/listings/new").get_data(as_text=True)
    assert 'href="/listings/new/' not in page
    assert "掲載は組織単位で行います" in page
    assert 'href="/listings/new"' not in page.split("<main>")[0]  # nor in the navigation


def test_listing_quantities_and_distances_have_no_needless_decimals(client, factory, login):
    member = factory.user("contractor")
    listing_id = factory.listing(member, "soil_offer", quantity="12000", max_haul_km="50")
    login(member)
    detail = text_of(client.get(f"/listings/{listing_id}").get_data(as_text=True))
    assert "12,000 m³" in detail and "12000.000" not in detail
    assert "50.0" not in detail and "第2b種" in detail
    form = client.get(f"/listings/{listing_id}/edit").get_data(as_text=True)
    assert 'name="quantity" type="number" step="any" value="12000"' in form
    assert 'name="max_haul_km" type="number" step="any" value="50"' in form


def test_reuse_items_are_counted_as_items_in_each_language(client, factory, login):
    city, operator = factory.user("municipality"), factory.user("reuse_operator")
    listing_id = factory.listing(city, "reuse_item", quantity="3", price_per_unit=500)
    login(operator)
    page = client.get(f"/listings/{listing_id}").get_data(as_text=True)
    assert "3 / 3 点" in text_of(page) and "item" not in text_of(page)
    assert "数量 (点)" in page  # the request form's label names the unit in words
    client.post("/lang/en", data={"next": "/"})
    assert "3 / 3 items" in text_of(client.get(f"/listings/{listing_id}").get_data(as_text=True))


def test_impact_factors_are_named_not_keyed(client, factory, login):
    login(factory.user("contractor"))
    page = text_of(client.get("/reports/factors").get_data(as_text=True))
    assert "標準的なトラック積載量" in page and "建設発生土" in page
    assert "default_payload_kg" not in page and "disposal_co2_per_kg" not in page
    assert "円／m³" in page and "10,000" in page and "10000.0" not in page


def test_dashboard_totals_read_without_trailing_zeros(client, factory, login):
    login(factory.user("contractor"))
    totals = text_of(client.get("/dashboard").get_data(as_text=True))
    assert "0 m³" in totals and "0.0 m³" not in totals


def test_a_grade_is_shown_by_its_name(client, factory, login):
    recycler = factory.user("recycler")
    listing_id = factory.listing(
        recycler, "recycled_offer", material_code="rpet", grade_code="A", properties={}
    )
    login(recycler)
    detail = text_of(client.get(f"/listings/{listing_id}").get_data(as_text=True))
    assert "ベールA" in detail and "再生PET" in detail
