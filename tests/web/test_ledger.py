"""The quantity ledger as sellers and buyers meet it: what a listing shows as open follows
every reservation, release, delivery and edit; an edit below what orders took is refused
naming the quantity; the database itself refuses an oversold listing."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from market.accounts.models import User
from market.catalog import ledger
from market.catalog.models import LedgerEntry, Listing, ListingStatus
from market.errors import Conflict, Invalid
from market.orders import deliveries, moves, requests, transitions
from tests.conftest import in_session


def _user(session, member) -> User:
    return session.get(User, member.id)


def _request(app, buyer, listing_id, quantity) -> int:
    return in_session(
        app,
        lambda s: requests.request_order(s, _user(s, buyer), listing_id, {"quantity": quantity}).id,
    )


def _act(app, member, order_id, action, **data):
    return in_session(
        app, lambda s: transitions.perform(s, _user(s, member), order_id, action, data).status
    )


def _state(app, listing_id):
    def read(s):
        listing = s.get(Listing, listing_id)
        return (
            Decimal(listing.open_quantity),
            Decimal(listing.committed_quantity),
            Decimal(listing.delivered_quantity),
            listing.status,
            ledger.totals(s, listing_id),
        )

    return in_session(app, read, commit=False)


def _api(app, member):
    from market.accounts import services as accounts

    secret = in_session(app, lambda s: accounts.issue_api_token(s, _user(s, member), "t")[1])
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def sold_out(app, factory):
    """A 10 m³ listing a buyer has taken whole (accepted)."""
    seller, buyer = factory.user(), factory.user()
    listing_id = factory.listing(seller, "soil_offer", quantity=10, price_per_unit=800)
    order_id = _request(app, buyer, listing_id, "10")
    _act(app, seller, order_id, "accept")
    return seller, buyer, listing_id, order_id


def test_raising_a_sold_out_listing_reopens_it_and_lowering_to_committed_reserves_it(app, sold_out):
    seller, buyer, listing_id, _ = sold_out
    opened, committed, _, status, _ = _state(app, listing_id)
    assert (opened, committed, status) == (0, 10, ListingStatus.reserved)

    api = _api(app, seller)
    response = api.patch(f"/api/v1/listings/{listing_id}", json={"quantity": 12})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["open_quantity"] == 2
    assert _state(app, listing_id)[3] == ListingStatus.open
    # ... so a buyer can now order the two that opened
    assert _act(app, seller, _request(app, buyer, listing_id, "2"), "accept") == "accepted"

    api.patch(f"/api/v1/listings/{listing_id}", json={"quantity": 14})
    assert _state(app, listing_id)[:4] == (2, 12, 0, ListingStatus.open)
    api.patch(f"/api/v1/listings/{listing_id}", json={"quantity": 12})
    assert _state(app, listing_id)[:4] == (0, 12, 0, ListingStatus.reserved)


def test_an_edit_below_what_orders_took_is_refused_naming_the_quantity(app, sold_out):
    seller, _, listing_id, _ = sold_out
    response = _api(app, seller).patch(f"/api/v1/listings/{listing_id}", json={"quantity": 9})
    assert response.status_code == 409
    body = response.get_json()
    assert "quantity" in body["errors"], body
    assert "10" in body["errors"]["quantity"]
    assert _state(app, listing_id)[:4] == (0, 10, 0, ListingStatus.reserved)  # unchanged


def test_the_form_refuses_it_too_and_says_why_on_the_page(app, factory, login, sold_out):
    from tests.conftest import listing_data

    seller, _, listing_id, _ = sold_out
    client = login(seller)
    client.post("/lang/en", data={"next": "/"})
    form = {**listing_data("soil_offer"), "quantity": "4", "price_per_unit": "800"}
    page = client.post(f"/listings/{listing_id}/edit", data=form)
    assert page.status_code == 400
    assert "already committed to orders" in page.get_data(as_text=True)
    assert _state(app, listing_id)[:2] == (0, 10)


def test_cancelling_gives_back_what_the_order_held_and_delivery_moves_it_to_delivered(
    app, sold_out
):
    seller, buyer, listing_id, order_id = sold_out
    _act(app, buyer, order_id, "cancel")
    opened, committed, delivered, status, from_rows = _state(app, listing_id)
    assert (opened, committed, delivered, status) == (10, 0, 0, ListingStatus.open)
    assert from_rows == (10, 0, 0)
    # a second cancel (a double submit) is refused and gives nothing back twice
    with pytest.raises(Conflict):
        _act(app, buyer, order_id, "cancel")
    assert _state(app, listing_id)[:3] == (10, 0, 0)

    order_id = _request(app, buyer, listing_id, "6")
    _act(app, seller, order_id, "accept")
    _act(app, seller, order_id, "issue_invoice")
    _act(app, seller, order_id, "mark_paid")
    in_session(
        app,
        lambda s: deliveries.record_delivery(s, _user(s, seller), order_id, {"quantity": "4"}),
    )
    assert _state(app, listing_id)[:4] == (4, 2, 4, ListingStatus.open)
    assert _state(app, listing_id)[4] == (4, 2, 4)  # the ledger rows add up to the totals


def test_the_database_refuses_an_oversold_or_drifting_listing(app, sold_out):
    _, _, listing_id, _ = sold_out

    def write(values):
        def run(s):
            s.execute(sa.update(Listing).where(Listing.id == listing_id).values(**values))
            s.flush()

        with pytest.raises(IntegrityError):
            in_session(app, run)

    write({"open_quantity": Decimal(1)})  # more than the quantity: does not add up
    write({"open_quantity": Decimal(-1), "committed_quantity": Decimal(11)})  # negative
    write({"committed_quantity": Decimal(9), "open_quantity": Decimal(1)})  # open yet reserved
    write({"status": ListingStatus.open})  # open with nothing open
    assert _state(app, listing_id)[:4] == (0, 10, 0, ListingStatus.reserved)


def test_every_move_is_a_row(app, sold_out):
    _, buyer, listing_id, order_id = sold_out
    _act(app, buyer, order_id, "cancel")
    actions = in_session(
        app,
        lambda s: s.scalars(
            sa.select(LedgerEntry.action)
            .where(LedgerEntry.listing_id == listing_id)
            .order_by(LedgerEntry.id)
        ).all(),
        commit=False,
    )
    assert [a.value for a in actions] == ["publish", "reserve", "release"]


def test_a_short_load_closes_the_order_at_what_was_received_and_the_rest_reopens(app, factory):
    seller, buyer = factory.user(), factory.user()
    listing_id = factory.listing(seller, "soil_offer", quantity=200, price_per_unit=800)
    order_id = _request(app, buyer, listing_id, "150")
    for action in ("accept", "issue_invoice", "mark_paid"):
        _act(app, seller, order_id, action)
    in_session(
        app,
        lambda s: deliveries.record_delivery(
            s, _user(s, seller), order_id, {"quantity": "148", "reference": "搬出伝票 7"}
        ),
    )
    with pytest.raises(Invalid) as refused:  # the record says why
        _act(app, buyer, order_id, "close_short")
    assert "note" in refused.value.errors

    assert _act(app, buyer, order_id, "close_short", note="最終便が2m3不足") == "delivered"
    assert _state(app, listing_id)[:4] == (52, 0, 148, ListingStatus.open)
    assert _state(app, listing_id)[4] == (52, 0, 148)
    history = in_session(
        app,
        lambda s: [t.note for t in moves.visible_order(s, _user(s, seller), order_id).transitions],
        commit=False,
    )
    assert any("148" in note and "150" in note and "最終便" in note for note in history)
    # ... and the receiver confirms completion as for a full delivery
    assert _act(app, buyer, order_id, "complete") == "completed"


def test_an_error_page_names_what_happened_and_offers_the_way_back(app, login, sold_out):
    _, buyer, _, order_id = sold_out
    client = login(buyer)
    client.get("/")
    referrer = f"http://localhost/orders/{order_id}"
    response = client.post("/proposals/999999/accept", headers={"Referer": referrer})
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert 'id="back"' in body and referrer in body
    assert "見つかりません" in body and "エラーコード" in body
    elsewhere = client.post("/proposals/999999/accept", headers={"Referer": "http://evil.example/"})
    assert 'id="back"' not in elsewhere.get_data(as_text=True)  # only back to this site
