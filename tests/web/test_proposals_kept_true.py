"""Match proposals stay true: when other orders take a listing's quantity or the listing
closes, its open proposals are reduced or expired in the same transaction, with the
reason, and both parties are told; accepting twice, or both at once, makes one deal."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
import test_allocation
from sqlalchemy import func, select

from market.accounts.models import User
from market.allocation import services as allocation
from market.allocation.models import Proposal
from market.catalog.models import Listing
from market.notifications.models import Notification
from market.orders import requests, transitions
from market.orders.models import Order
from tests.conftest import in_session

admin, soil_market, start = (
    test_allocation.admin,
    test_allocation.soil_market,
    test_allocation.start,
)


def _user(session, member) -> User:
    return session.get(User, member.id)


def _take(app, factory, listing_id, quantity):
    """Another buyer orders ``quantity`` of the listing and its owner accepts."""
    buyer = factory.user()

    def run(s):
        listing = s.get(Listing, listing_id)
        order = requests.request_order(s, _user(s, buyer), listing_id, {"quantity": quantity})
        owner = s.scalar(select(User).where(User.organisation_id == listing.organisation_id))
        transitions.perform(s, owner, order.id, "accept")

    in_session(app, run)


def _proposal(app) -> Proposal:
    return in_session(app, lambda s: s.scalar(select(Proposal)), commit=False)


def _orders(app) -> list[Order]:
    return in_session(app, lambda s: s.scalars(select(Order)).all(), commit=False)


def test_orders_taking_part_of_a_listing_reduce_its_proposal_and_both_parties_are_told(
    app, client, admin, soil_market, factory, login
):
    supplier, receiver, offer, want, _far = soil_market
    start(client, admin)
    assert _proposal(app).quantity == Decimal("600")
    _take(app, factory, offer, "700")  # 300 left on the offer

    proposal = _proposal(app)
    assert (proposal.state, proposal.quantity, proposal.offered_quantity) == (
        "proposed",
        Decimal("300"),
        Decimal("600"),
    )
    assert "600" in proposal.reason and "300" in proposal.reason
    told = in_session(
        app,
        lambda s: {
            n.user_id
            for n in s.scalars(select(Notification)).all()
            if f"#{proposal.id}" in n.message and "変更" in n.message  # the change, not the offer
        },
        commit=False,
    )
    assert {supplier.id, receiver.id} <= told

    login(supplier)
    page = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert 'id="proposal-reason"' in page and 'id="accept"' in page
    client.post(f"/proposals/{proposal.id}/accept")
    client.post("/logout")
    login(receiver)
    client.post(f"/proposals/{proposal.id}/accept")
    deal = [o for o in _orders(app) if o.source == "proposal"]
    assert [(o.listing_id, o.quantity) for o in deal] == [(offer, Decimal("300"))]
    listing = in_session(app, lambda s: s.get(Listing, offer), commit=False)
    assert (listing.open_quantity, listing.status.value) == (0, "reserved")


def test_a_proposal_on_a_closed_listing_expires_and_its_page_says_why(
    app, client, admin, soil_market, login
):
    supplier, receiver, offer, want, _far = soil_market
    start(client, admin)
    proposal = _proposal(app)
    login(receiver)
    client.get("/")
    assert client.post(f"/listings/{want}/close").status_code == 302
    response = client.post(f"/proposals/{proposal.id}/accept")
    assert response.status_code == 302  # back to the proposal, not an error page
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="proposal-reason"' in page
    assert 'id="accept"' not in page  # nothing offers to accept it any more
    assert "期限切れ" in page
    assert _proposal(app).state == "expired"
    assert _orders(app) == []


@pytest.mark.commits  # threads race on connections of their own
def test_when_the_quantity_went_between_the_two_accepts_the_page_says_so(
    app, client, admin, soil_market, factory, login
):
    supplier, receiver, offer, want, _far = soil_market
    start(client, admin)
    proposal = _proposal(app)
    login(supplier)
    client.post(f"/proposals/{proposal.id}/accept")
    client.post("/logout")
    _take(app, factory, offer, "1000")  # everything on the offer went to another buyer
    login(receiver)
    client.get("/")
    response = client.post(f"/proposals/{proposal.id}/accept")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="proposal-reason"' in page and 'id="accept"' not in page
    assert _proposal(app).state == "expired"
    assert [o.source for o in _orders(app)] == ["listing"]


def _decide_at_once(app, members, proposal_id):
    """Each member accepts in a thread and session of its own, released together."""
    barrier = threading.Barrier(len(members))
    outcomes: list = []

    def run(member):
        with app.test_request_context():
            session = app.extensions["meguri.db"].new_session()
            try:
                barrier.wait()
                proposal = session.get(Proposal, proposal_id)
                allocation.decide(session, _user(session, member), proposal, accept=True)
                session.commit()
                outcomes.append("ok")
            except Exception as exc:  # noqa: BLE001 - a refusal is an outcome to count
                session.rollback()
                outcomes.append(type(exc).__name__)
            finally:
                session.close()

    threads = [threading.Thread(target=run, args=(m,)) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.commits  # threads race on connections of their own
@pytest.mark.parametrize("who", ["both parties at once", "the second party twice at once"])
def test_accepting_together_or_twice_makes_exactly_one_deal(app, client, admin, soil_market, who):
    if app.extensions["meguri.db"].is_sqlite:
        pytest.skip("a race between connections: PostgreSQL (SQLite runs one writer at a time)")
    supplier, receiver, offer, want, _far = soil_market
    start(client, admin)
    proposal_id = _proposal(app).id
    if who == "both parties at once":
        members = [supplier, receiver]
    else:
        in_session(
            app,
            lambda s: allocation.decide(
                s, _user(s, supplier), s.get(Proposal, proposal_id), accept=True
            ),
        )
        members = [receiver, receiver]
    outcomes = _decide_at_once(app, members, proposal_id)
    assert "ok" in outcomes and set(outcomes) <= {"ok", "Conflict"}, outcomes
    assert _proposal(app).state == "agreed"
    assert len(_orders(app)) == 1
    held = in_session(
        app,
        lambda s: {
            lid: s.scalar(select(func.sum(Listing.committed_quantity)).where(Listing.id == lid))
            for lid in (offer, want)
        },
        commit=False,
    )
    assert held == {offer: Decimal("600"), want: Decimal("600")}


def test_changing_a_listings_period_expires_its_proposal_with_the_reason(
    app, client, admin, soil_market, factory
):
    from market.catalog import services as catalog

    supplier, receiver, offer, want, _far = soil_market
    start(client, admin)

    def shorten(s):
        listing = s.get(Listing, want)
        end = listing.window_end - dt.timedelta(days=10)
        catalog.update_listing(s, _user(s, receiver), listing, {"window_end": end})

    in_session(app, shorten)
    proposal = _proposal(app)
    assert proposal.state == "expired" and "次回" in proposal.reason
    # an edit that changes nothing of the terms leaves a proposal alone
    start(client, admin)
    in_session(
        app,
        lambda s: catalog.update_listing(
            s, _user(s, supplier), s.get(Listing, offer), {"title": "新しい題名"}
        ),
    )
    latest = in_session(
        app,
        lambda s: s.scalars(select(Proposal).order_by(Proposal.id.desc())).first(),
        commit=False,
    )
    assert latest.state == "proposed"
