"""Search as Japanese users type it, in the page and the API: kana, codes and synonyms;
distance from a town for visitors, from the map's centre or one's own listing; errors
that name the field in words; suggestions as you type; synonyms edited as data."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from market.finder.models import SynonymGroup
from tests.conftest import in_session


@pytest.fixture
def market(factory):
    contractor, municipality = factory.user(), factory.user("municipality")
    soil = factory.listing(
        contractor, "soil_offer", title="江東区 第2a種 発生土 1,200m³", soil_class_code="2a"
    )
    chair = factory.listing(
        municipality, "reuse_item", title="粗大ごみ 椅子 木製", lat=35.66, lon=139.32
    )  # in 八王子市
    bicycle = factory.listing(
        municipality,
        "reuse_item",
        title="子供用自転車",
        reuse_category_code="bicycle",
        lat=35.607,
        lon=140.106,  # 千葉市
        prefecture_code="12",
    )
    return contractor, municipality, soil, chair, bicycle


def ids(client, **params):
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, response.get_json()
    return [hit["id"] for hit in response.get_json()["hits"]]


def test_words_as_people_type_them(client, market):
    _c, _m, soil, chair, bicycle = market
    assert ids(client, q="いす") == [chair]
    assert ids(client, q="じてんしゃ") == [bicycle]
    assert ids(client, q="第２ａ種") == [soil]
    assert ids(client, q="2a") == [soil]
    assert ids(client, q="残土") == [soil]  # a seeded synonym of 発生土
    assert ids(client, q="ざんど") == [soil]
    page = client.get("/search", query_string={"q": "いす"}).get_data(as_text=True)
    assert "粗大ごみ 椅子 木製" in page.split('class="cards"')[1]


@pytest.mark.parametrize("typed", ["八王子市", "八王子", "はちおうじ", "Hachioji", "132012"])
def test_a_visitor_sorts_by_distance_from_a_town(client, market, typed):
    _c, _m, soil, chair, bicycle = market
    response = client.get("/api/v1/search", query_string={"place": typed, "sort": "distance"})
    body = response.get_json()
    assert response.status_code == 200, body
    assert [h["id"] for h in body["hits"]] == [chair, soil, bicycle]
    assert body["origin"]["label"] == "八王子市 (東京都)"
    distances = [h["distance_km"] for h in body["hits"]]
    assert distances == sorted(distances) and distances[0] < 5
    near = client.get("/api/v1/search", query_string={"place": typed, "radius_km": 20})
    assert [h["id"] for h in near.get_json()["hits"]] == [chair]
    page = client.get("/search", query_string={"place": typed}).get_data(as_text=True)
    assert "八王子市 (東京都)からの距離" in page
    cards = page.split('class="cards"')[1]
    assert cards.index("粗大ごみ 椅子") < cards.index("江東区") < cards.index("子供用自転車")


def test_a_name_several_places_share_must_be_chosen(client, market):
    response = client.get("/api/v1/search", query_string={"place": "府中市"})
    assert response.status_code == 400
    message = response.get_json()["errors"]["place"]
    assert "府中市 (東京都)" in message and "府中市 (広島県)" in message
    chosen = client.get("/api/v1/search", query_string={"place": "府中市 (広島県)"})
    assert chosen.status_code == 200
    assert chosen.get_json()["origin"]["label"] == "府中市 (広島県)"


def test_distance_from_the_maps_centre(client, market):
    _c, _m, soil, chair, bicycle = market
    body = client.get("/api/v1/search", query_string={"lat": "35.6", "lon": "140.1"}).get_json()
    assert [h["id"] for h in body["hits"]][0] == bicycle  # in Chiba
    assert body["origin"]["kind"] == "point"
    bad = client.get("/api/v1/search", query_string={"lat": "135", "lon": "x"})
    assert bad.status_code == 400 and set(bad.get_json()["errors"]) == {"lat", "lon"}


def test_errors_name_the_field_in_words_not_the_argument(client, market):
    page = client.get("/search", query_string={"sort": "distance"})
    text = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "並べ替え: 距離順に並べるには" in text and "sort:" not in text
    unknown = client.get("/search", query_string={"place": "存在しない町"}).get_data(as_text=True)
    assert "場所: その名前の市区町村はありません" in unknown and "place:" not in unknown
    client.post("/lang/en", data={"next": "/"})
    text = client.get("/search", query_string={"sort": "distance"}).get_data(as_text=True)
    assert "Sort: To sort by distance" in text and "sort:" not in text
    api = client.get("/api/v1/search", query_string={"sort": "distance"}).get_json()
    assert api["errors"]["sort"].startswith("To sort by distance")  # the key is the argument


def test_suggestions_after_two_characters_in_the_users_language(client, market):
    def suggest(q, **extra):
        response = client.get("/api/v1/search/suggest", query_string={"q": q, **extra})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["suggestions"]

    assert suggest("い") == []  # one character: nothing yet
    words = [s["text"] for s in suggest("いす") if s["type"] == "word"]
    assert "椅子" in words
    places = [s for s in suggest("はちおう") if s["type"] == "place"]
    assert places[0] == {"type": "place", "text": "八王子市 (東京都)", "value": "132012"}
    listings = [s for s in suggest("じてんしゃ") if s["type"] == "listing"]
    assert listings[0]["text"] == "子供用自転車" and listings[0]["url"].startswith("/listings/")
    client.post("/lang/en", data={"next": "/"})
    assert "Chair" in [s["text"] for s in suggest("cha") if s["type"] == "word"]
    assert "Chair" in [s["text"] for s in suggest("いす") if s["type"] == "word"]
    assert "Hachioji City (Tokyo)" in [s["text"] for s in suggest("hachio")]
    bad = client.get("/api/v1/search/suggest", query_string={"q": "いす", "limit": "0"})
    assert bad.status_code == 400 and "limit" in bad.get_json()["errors"]


def test_the_search_page_offers_suggestions_and_the_maps_centre(client, market):
    page = client.get("/search").get_data(as_text=True)
    assert 'data-suggest="/api/v1/search/suggest"' in page and 'id="place"' in page
    assert 'id="map-centre"' in page and "js/suggest.js" in page


def test_site_admins_edit_synonyms_and_search_uses_them_at_once(app, client, factory, login):
    member = factory.user("municipality")
    sofa = factory.listing(member, "reuse_item", title="布張りソファー 3人掛け")
    admin = factory.member(None, "admin@example.jp", is_site_admin=True)
    assert ids(client, q="カウチソファ") == []
    login(member)
    refused = client.post(
        "/search/synonyms", data={"terms": "カウチソファ, ソファー", "source": "editorial [U]"}
    )
    assert refused.status_code == 403
    login(admin)
    invalid = client.post("/search/synonyms", data={"terms": "カウチソファ", "source": ""})
    assert invalid.status_code == 422
    text = invalid.get_data(as_text=True)
    assert "2語以上" in text and "出典" in text
    before = in_session(app, lambda s: len(s.scalars(select(SynonymGroup)).all()))
    saved = client.post(
        "/search/synonyms",
        data={"terms": "カウチソファ\nソファー", "mutual": "on", "source": "editorial [U]"},
    )
    assert saved.status_code == 302
    assert ids(client, q="カウチソファ") == [sofa]
    group = in_session(
        app, lambda s: s.scalars(select(SynonymGroup).order_by(SynonymGroup.id.desc())).first()
    )
    assert group.terms == ["カウチソファ", "ソファー"] and group.source == "editorial [U]"
    page = client.get("/search/synonyms").get_data(as_text=True)
    assert "カウチソファ、ソファー" in page and "建設発生土" in page  # the seeded ones too
    client.post(f"/search/synonyms/{group.id}/delete")
    assert ids(client, q="カウチソファ") == []
    assert in_session(app, lambda s: len(s.scalars(select(SynonymGroup)).all())) == before
