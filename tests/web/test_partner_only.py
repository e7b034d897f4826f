"""Partner-only periods (issue 12, item 4): until its date a municipality's reuse item is
invisible and unorderable to everyone but the municipality and its partner operators,
on every surface; from that day on it is everyone's."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from market.accounts.models import User
from market.allocation.models import MatchRun, Proposal
from market.catalog.models import Listing
from market.db import japan_today
from market.errors import Forbidden
from market.finder.models import SearchOutbox
from market.orders.models import Order, OrderStatus
from tests.conftest import PASSWORD, in_session

TITLE = "会議椅子 限定品"


def signed_in(app, member):
    client = app.test_client()
    response = client.post("/login", data={"email": member.email, "password": PASSWORD})
    assert response.status_code == 302
    client.post("/lang/en", data={"next": "/"})
    return client


def token(app, member) -> dict:
    from market.accounts.services import issue_api_token

    with app.test_request_context():
        session = app.extensions["meguri.db"].session()
        secret = issue_api_token(session, session.get(User, member.id), "ci")[1]
        session.commit()
    return {"Authorization": f"Bearer {secret}"}


class Reader:
    """Reads in an app context of its own (one held across requests would share ``g``)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, fn):
        with self.app.app_context():
            session = self.app.extensions["meguri.db"].session()
            result = fn(session)
            session.expunge_all()
            return result


@pytest.fixture
def db(app):
    return Reader(app)


@pytest.fixture
def city(app, factory):
    """A municipality with one partner operator, another operator that is not its partner,
    and a chair that is partner-only for three more days."""
    from market.accounts.services import add_partner

    municipality = factory.user("municipality")
    partner = factory.user("reuse_operator")
    other = factory.user("reuse_operator")

    def partnership(session):
        add_partner(session, session.get(User, municipality.id), partner.org_id)

    with app.test_request_context():
        in_session(app, partnership)
    item = factory.listing(
        municipality,
        "reuse_item",
        title=TITLE,
        partner_only_until=(japan_today() + dt.timedelta(days=3)).isoformat(),
    )
    return municipality, partner, other, item


def test_browse_shows_the_item_to_partners_and_its_municipality_only(app, city):
    municipality, partner, other, item = city
    assert TITLE in signed_in(app, partner).get("/listings").get_data(as_text=True)
    assert TITLE in signed_in(app, municipality).get("/listings").get_data(as_text=True)
    assert TITLE not in signed_in(app, other).get("/listings").get_data(as_text=True)
    assert TITLE not in app.test_client().get("/listings").get_data(as_text=True)
    assert TITLE not in app.test_client().get("/").get_data(as_text=True)
    points = signed_in(app, other).get("/listings/map.json").get_json()["points"]
    assert item not in [p["id"] for p in points]


def test_search_suggestions_and_search_api_do_not_show_it(app, city):
    _municipality, _partner, other, item = city
    client = signed_in(app, other)
    assert TITLE not in client.get("/search", query_string={"q": "会議椅子"}).get_data(as_text=True)
    hits = client.get("/api/v1/search", query_string={"q": "会議椅子"}).get_json()["hits"]
    assert item not in [h["id"] for h in hits]
    anonymous = app.test_client().get("/api/v1/search", query_string={"q": "会議椅子"})
    assert item not in [h["id"] for h in anonymous.get_json()["hits"]]
    suggested = client.get("/api/v1/search/suggest", query_string={"q": "会議椅子"}).get_json()
    assert TITLE not in str(suggested)


def test_detail_page_is_not_found_for_others(app, city):
    municipality, partner, other, item = city
    assert signed_in(app, other).get(f"/listings/{item}").status_code == 404
    assert app.test_client().get(f"/listings/{item}").status_code == 404
    page = signed_in(app, partner).get(f"/listings/{item}")
    assert page.status_code == 200 and TITLE in page.get_data(as_text=True)
    assert signed_in(app, municipality).get(f"/listings/{item}").status_code == 200


def test_api_listing_reads_hide_it_from_others(app, city):
    _municipality, partner, other, item = city
    client = app.test_client()
    assert client.get(f"/api/v1/listings/{item}", headers=token(app, other)).status_code == 404
    assert client.get(f"/api/v1/listings/{item}").status_code == 404
    assert client.get(f"/api/v1/listings/{item}", headers=token(app, partner)).status_code == 200
    listed = client.get("/api/v1/listings", headers=token(app, other)).get_json()["items"]
    assert item not in [i["id"] for i in listed]
    listed = client.get("/api/v1/listings", headers=token(app, partner)).get_json()["items"]
    assert item in [i["id"] for i in listed]


def test_order_requests_from_others_are_refused_and_create_nothing(app, city, db):
    _municipality, partner, other, item = city
    web = signed_in(app, other)
    assert web.get(f"/listings/{item}/orders/new").status_code == 404
    assert web.post(f"/listings/{item}/orders/new", data={"quantity": "1"}).status_code == 404
    refused = app.test_client().post(
        "/api/v1/orders", json={"listing_id": item, "quantity": 1}, headers=token(app, other)
    )
    assert refused.status_code == 422 and set(refused.get_json()["errors"]) == {"listing_id"}
    assert db(lambda s: s.scalars(select(Order)).all()) == []
    # the partner may
    made = app.test_client().post(
        "/api/v1/orders", json={"listing_id": item, "quantity": 1}, headers=token(app, partner)
    )
    assert made.status_code == 201, made.get_json()


def test_acceptance_of_a_request_from_a_non_partner_is_refused(app, city, db):
    municipality, partner, other, item = city
    # A request made before the municipality set the period (or sent by hand)
    in_session(app, lambda s: setattr(s.get(Listing, item), "partner_only_until", None))
    response = signed_in(app, other).post(
        f"/listings/{item}/orders/new",
        data={"quantity": "1", "transport_arrangement": "receiver_collects"},
    )
    assert response.status_code == 302
    order_id = db(lambda s: s.scalar(select(Order.id)))
    until = japan_today() + dt.timedelta(days=3)
    in_session(app, lambda s: setattr(s.get(Listing, item), "partner_only_until", until))

    refused = signed_in(app, municipality).post(f"/orders/{order_id}/actions/accept")
    assert refused.status_code == 403
    assert "partner operators only" in refused.get_data(as_text=True)
    assert db(lambda s: s.get(Order, order_id).status) == OrderStatus.requested
    assert db(lambda s: s.get(Listing, item).open_quantity) == 1  # nothing reserved


def test_a_match_proposal_to_a_non_partner_cannot_become_an_order(app, city):
    from market.orders.requests import order_from_proposal

    _municipality, partner, other, item = city
    with app.test_request_context():
        session = app.extensions["meguri.db"].new_session()
        try:
            with pytest.raises(Forbidden):
                order_from_proposal(
                    session,
                    listing_id=item,
                    counterparty_org_id=other.org_id,
                    quantity=1,
                    proposal_ref="x",
                )
            session.rollback()
            order = order_from_proposal(
                session,
                listing_id=item,
                counterparty_org_id=partner.org_id,
                quantity=1,
                proposal_ref="y",
            )
            assert order.status == OrderStatus.accepted
            session.rollback()
        finally:
            session.close()


def test_matching_gives_the_item_to_a_partner_even_when_another_pays_more(app, city, factory, db):
    from market.accounts.services import create_site_admin

    municipality, partner, other, item = city
    # The same chair without a partner-only period goes to the higher price.
    free = factory.listing(municipality, "reuse_item", title="会議椅子 一般")
    factory.listing(partner, "reuse_want", category_prices={"chair": 500}, quantity=5)
    factory.listing(other, "reuse_want", category_prices={"chair": 3000}, quantity=5)
    in_session(app, lambda s: create_site_admin(s, "admin@example.jp", "admin password!", "A"))
    client = app.test_client()
    client.post("/login", data={"email": "admin@example.jp", "password": "admin password!"})
    response = client.post("/matching/runs", data={"family": "reuse", "region": ["13"]})
    assert response.status_code == 302
    assert db(lambda s: s.scalar(select(MatchRun.status))) == "done"
    goes_to = db(
        lambda s: {
            p.supply_id: s.get(Listing, p.demand_id).organisation_id
            for p in s.scalars(select(Proposal))
        }
    )
    assert goes_to == {item: partner.org_id, free: other.org_id}


def test_from_the_date_on_it_is_everyones_and_search_finds_it(app, city, db, monkeypatch):
    from market.catalog import partners
    from market.finder.index import deliver, retry_now

    _municipality, _partner, other, item = city
    waiting = db(
        lambda s: s.scalars(
            select(SearchOutbox.next_attempt_at).where(SearchOutbox.listing_id == item)
        ).all()
    )
    opens = db(lambda s: partners.opens_to_all_at(s.get(Listing, item)))
    assert waiting == [opens]  # indexed the day the period ends, with nobody touching it

    later = japan_today() + dt.timedelta(days=3)
    monkeypatch.setattr(partners, "japan_today", lambda: later)
    with app.app_context():
        session = app.extensions["meguri.db"].new_session()
        retry_now(session)  # as if the clock had reached the entry's time
        session.commit()
        session.close()
        deliver(app)
    client = signed_in(app, other)
    hits = client.get("/api/v1/search", query_string={"q": "会議椅子"}).get_json()["hits"]
    assert item in [h["id"] for h in hits]
    assert client.get(f"/listings/{item}").status_code == 200
    assert TITLE in client.get("/listings").get_data(as_text=True)
