"""Each material's form asks for what the material is judged by, with units and sources,
and a soil class is checked against the cone index that defines it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from market.catalog.models import Listing


def recycled_offer(material: str, grade: str, **properties) -> dict:
    data = {
        "title": "再生材 ロット",
        "lat": "35.6",
        "lon": "139.8",
        "prefecture_code": "13",
        "window_start": "2026-12-10",
        "window_end": "2027-03-10",
        "quantity": "100",
        "price_per_unit": "20000",
        "status": "open",
        "material_code": material,
        "grade_code": grade,
    }
    data.update({f"properties.{k}": v for k, v in properties.items()})
    return data


@pytest.fixture
def recycler(client, factory, login):
    member = factory.user("recycler")
    login(member)
    return member


def test_the_form_names_each_property_with_its_unit_and_the_materials_it_belongs_to(
    client, recycler
):
    page = client.get("/listings/new/recycled_offer").get_data(as_text=True)
    labels = {
        code: (materials, name)
        for materials, name, code in re.findall(
            r'<label data-materials="([^"]*)" title="[^"]*">([^<]+?) <input[^>]+name="properties\.(\w+)"',
            page,
        )
    }
    assert labels["iv"] == ("rpet", "固有粘度 IV (dL/g)")
    assert labels["absorption"][1] == "吸水率 (%)" and "rpet" not in labels["absorption"][0]
    assert labels["attached_matter"] == ("scrap_steel", "付着物 (%)")
    assert "road_base" in labels["modified_cbr"][0] and labels["modified_cbr"][1] == "修正CBR (%)"
    assert 'title="JIS A 1121' in page  # すりへり減量 names its test


def test_an_rpet_lot_is_not_judged_by_aggregate_properties(client, db, recycler):
    response = client.post(
        "/listings/new/recycled_offer", data=recycled_offer("rpet", "A", absorption="3", iv="0.76")
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "再生PET" in page and "吸水率 (%)" in page
    assert db.scalar(select(Listing)) is None

    response = client.post(
        "/listings/new/recycled_offer",
        data=recycled_offer("rpet", "A", iv="0.76", moisture="0.3", pvc="50"),
    )
    assert response.status_code == 302
    assert db.scalar(select(Listing)).properties == {"iv": 0.76, "moisture": 0.3, "pvc": 50.0}


def test_steel_scrap_is_judged_by_size_and_attached_matter(client, db, recycler):
    response = client.post(
        "/listings/new/recycled_offer",
        data=recycled_offer("scrap_steel", "H2", thickness="4", attached_matter="1.5"),
    )
    assert response.status_code == 302
    assert db.scalar(select(Listing)).properties == {"thickness": 4.0, "attached_matter": 1.5}


@pytest.mark.parametrize(
    ("soil_class", "cone_index", "named"),
    [
        ("1", "50", ["第1種", "800", "泥土a"]),  # 第1種 is better than 第2種: qc ≥ 800
        ("2b", "500", ["第2b種", "800", "第3a種"]),
        ("3a", "250", ["第3a種", "400", "第4a種"]),
    ],
)
def test_a_soil_class_above_what_its_cone_index_supports_is_refused_with_the_reason(
    client, factory, login, db, soil_class, cone_index, named
):
    from tests.conftest import listing_data

    login(factory.user("contractor"))
    data = {**listing_data("soil_offer"), "soil_class_code": soil_class, "cone_index": cone_index}
    response = client.post("/listings/new/soil_offer", data=data)
    assert response.status_code == 400
    message = re.search(r'id="cone_index-error"[^>]*>([^<]+)<', response.get_data(as_text=True))
    assert message and all(word in message.group(1) for word in named), message
    assert db.scalar(select(Listing)) is None


@pytest.mark.parametrize(
    ("soil_class", "cone_index"), [("2a", "800"), ("3b", "400"), ("4a", "900"), ("mud-a", "50")]
)
def test_a_class_the_cone_index_supports_or_a_lower_one_is_accepted(
    client, factory, login, db, soil_class, cone_index
):
    from tests.conftest import listing_data

    login(factory.user("contractor"))
    data = {**listing_data("soil_offer"), "soil_class_code": soil_class, "cone_index": cone_index}
    assert client.post("/listings/new/soil_offer", data=data).status_code == 302
    assert db.scalar(select(Listing)).soil_class_code == soil_class
