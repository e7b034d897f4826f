"""Search in the app: the outbox keeps the index in step, Japanese and English text,
facets, distance from my site, saved searches that notify, the API, and bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import search
from market.finder.index import deliver, get_index
from market.finder.models import SearchOutbox
from market.notifications.models import Notification


@pytest.fixture
def market(factory):
    contractor, municipality = factory.user(), factory.user("municipality")
    soil = factory.listing(contractor, "soil_offer", title="江東区 第2b種 発生土 1,200m³")
    chair = factory.listing(
        municipality,
        "reuse_item",
        title="粗大ごみ 椅子 木製",
        lat=35.53,
        lon=139.70,
        prefecture_code="14",
        price_per_unit=500,
    )
    draft = factory.listing(contractor, "soil_offer", title="下書き 発生土", status="draft")
    return contractor, municipality, soil, chair, draft


def ids(client, **params):
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, response.get_json()
    return [hit["id"] for hit in response.get_json()["hits"]]


def test_listings_are_indexed_after_commit_and_drafts_never(client, market):
    _c, _m, soil, chair, draft = market
    assert ids(client, q="発生土") == [soil]
    assert ids(client, q="椅子") == [chair]  # a two-character word
    assert ids(client, q="chair") == [chair]  # English names of the category
    assert ids(client, q="soil") == [soil]
    assert draft not in ids(client)


def test_full_width_text_is_normalised(client, factory):
    member = factory.user("recycler")
    lot = factory.listing(member, "recycled_offer", title="再生クラッシャラン RC-40 500t")
    assert ids(client, q="ＲＣ－４０") == [lot]


def test_facets_count_and_filter(client, market):
    _c, _m, soil, chair, _draft = market
    body = client.get("/api/v1/search").get_json()
    assert body["facets"]["kind"] == {"soil_offer": 1, "reuse_item": 1}
    assert body["facets"]["prefecture"] == {"13": 1, "14": 1}
    assert ids(client, kind="reuse_item") == [chair]
    assert ids(client, prefecture="13", soil_class="2b") == [soil]
    page = client.get("/search?kind=reuse_item").get_data(as_text=True)
    assert (
        'data-facet="kind"' in page and "粗大ごみ 椅子 木製" in page and "江東区 第2b種" not in page
    )


def test_distance_from_my_site(client, factory, login, market):
    contractor, _m, soil, chair, _draft = market
    login(contractor)
    site = factory.listing(
        contractor, "soil_want", title="川崎 受入地", lat=35.531, lon=139.703, prefecture_code="14"
    )
    body = client.get("/api/v1/search", query_string={"site": site, "sort": "distance"}, headers={})
    # The API has no cookie session: sites belong to a token's organisation.
    assert body.status_code == 400 and "site" in body.get_json()["errors"]
    page = client.get(f"/search?site={site}&sort=distance")
    cards = page.get_data(as_text=True).split('class="cards"')[1]
    assert page.status_code == 200
    assert cards.index("粗大ごみ 椅子 木製") < cards.index("江東区 第2b種")  # Kawasaki is nearer
    assert " km</span>" in cards
    near = (
        client.get(f"/search?site={site}&radius_km=5")
        .get_data(as_text=True)
        .split('class="cards"')[1]
    )
    assert "粗大ごみ 椅子 木製" in near and "江東区 第2b種" not in near


def test_closing_a_listing_removes_it_from_results(client, login, market):
    contractor, _m, soil, _chair, _draft = market
    login(contractor)
    client.post(f"/listings/{soil}/close")
    assert soil not in ids(client, q="発生土")


def test_index_outage_loses_nothing_and_catches_up(app, client, login, market, monkeypatch):
    contractor, _m, soil, _chair, _draft = market
    index = app.extensions["meguri.search"]

    def down(*_a, **_k):
        raise search.SearchBackendError("connection refused")

    monkeypatch.setattr(index, "upsert", down)
    login(contractor)
    response = client.post(
        "/listings/new/soil_offer",
        data={
            "title": "品川区 第1種 砂 300m³",
            "lat": "35.61",
            "lon": "139.73",
            "prefecture_code": "13",
            "window_start": "2027-01-10",
            "window_end": "2027-02-10",
            "quantity": "300",
            "price_per_unit": "-800",
            "status": "open",
            "soil_class_code": "1",
            "contamination_status": "not_required",
        },
    )
    assert response.status_code == 302  # the listing is saved although the index is down
    with app.app_context():
        session = app.extensions["meguri.db"].new_session()
        waiting = session.scalars(select(SearchOutbox)).all()
        assert waiting and all(
            e.attempts == 1 and "connection refused" in e.last_error for e in waiting
        )
        session.close()
    monkeypatch.undo()
    with app.app_context():
        from market.finder.index import retry_now

        session = app.extensions["meguri.db"].new_session()
        retry_now(session)
        session.commit()
        session.close()
        assert deliver(app) >= 1
    assert ids(client, q="品川区")


def test_reindex_and_verify_commands(app, market):
    runner = app.test_cli_runner()
    with app.app_context():
        get_index().drop()
    result = runner.invoke(args=["search", "verify"])
    assert result.exit_code == 1 and "missing" in result.output
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0 and "2 listings indexed" in result.output
    assert runner.invoke(args=["search", "verify"]).exit_code == 0


def test_saved_search_notifies_in_app_and_by_mail(app, client, factory, login, market):
    contractor, municipality, *_ = market
    login(contractor)
    response = client.post("/search/saved", data={"name": "椅子アラート", "q": "椅子"})
    assert response.status_code == 302
    new_chair = factory.listing(municipality, "reuse_item", title="粗大ごみ 椅子 スチール")
    with app.app_context():
        from market.finder.services import alert_saved_searches

        session = app.extensions["meguri.db"].new_session()
        assert alert_saved_searches(session) == 1
        session.commit()
        assert alert_saved_searches(session) == 0  # told once
        note = session.scalar(select(Notification))
        assert note.listing_id == new_chair and "椅子アラート" in note.message
        session.close()
    assert "粗大ごみ 椅子 スチール" in client.get("/notifications").get_data(as_text=True)
    assert any("椅子アラート" in m["subject"] for m in app.extensions["meguri.mailer"].sent())


@pytest.mark.parametrize(
    "params",
    [
        {"q": '"*( NEAR OR -'},
        {"q": "x" * 10_000},
        {"q": ""},
        {"radius_km": "-3"},
        {"price_min": "abc"},
        {"colour": "red"},
        {"kind": "no_such_kind"},
        {"page": "99999999999999"},
        {"window_from": "2027-13-45"},
        {"sort": "sideways"},
        {"site": "999999999999"},
    ],
)
def test_bad_search_input_is_answered_never_a_crash(client, market, params):
    for path in ("/search", "/api/v1/search"):
        response = client.get(path, query_string=params)
        assert response.status_code in (200, 400), (path, params, response.status_code)
        if path.startswith("/api") and response.status_code == 400:
            assert response.get_json()["errors"]


def test_search_map_carries_the_hits_as_valid_json(client, market):
    import html
    import json
    import re

    page = client.get("/search?q=椅子").get_data(as_text=True)
    raw = re.search(r'data-points="([^"]*)"', page).group(1)
    points = json.loads(html.unescape(raw))
    assert [p["title"] for p in points] == ["粗大ごみ 椅子 木製"]


def test_window_filter_keeps_overlapping_listings(client, factory):
    member = factory.user()
    early = factory.listing(
        member, "soil_offer", title="早期 搬出", window_start="2027-01-01", window_end="2027-01-31"
    )
    late = factory.listing(
        member, "soil_offer", title="後期 搬出", window_start="2027-06-01", window_end="2027-06-30"
    )
    assert ids(client, window_from="2027-01-15", window_to="2027-02-15") == [early]
    assert ids(client, window_from="2027-06-30") == [late]
    page = client.get("/search?window_from=2027-06-30").get_data(as_text=True)
    assert "後期 搬出" in page and "早期 搬出" not in page.split('class="cards"')[1]


def test_search_backend_down_is_a_503_with_a_message_in_either_language(
    app, client, market, monkeypatch
):
    def down(*_a, **_k):
        raise search.SearchBackendError("connection refused")

    monkeypatch.setattr(app.extensions["meguri.search"], "search", down)
    for lang in ("ja", "en"):
        client.post(f"/lang/{lang}", data={"next": "/"})
        assert client.get("/search?q=椅子").status_code == 503
    assert client.get("/api/v1/search?q=椅子").status_code == 503
