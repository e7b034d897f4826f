"""A published listing whose period has ended stops being offered: a daily job marks it
expired (out of browsing, search, matching and new requests; orders made go on) and
tells its organisation; extending the period publishes it again. A listing cannot be
published with a period that is already over."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from market.catalog.models import Listing, ListingStatus
from market.db import japan_today
from market.notifications.models import Notification
from tests.conftest import in_session, listing_data
from tests.web.test_orders import signed_in


def run_expiry(app, today: dt.date) -> list[int]:
    from market.catalog.services import expire_listings

    return in_session(
        app, lambda session: [listing.id for listing in expire_listings(session, today)]
    )


def status_of(app, listing_id) -> ListingStatus:
    return in_session(app, lambda session: session.get(Listing, listing_id).status, commit=False)


def test_an_ended_period_expires_the_listing_until_the_owner_extends_it(app, factory):
    owner, buyer = factory.user(), factory.user()
    listing_id = factory.listing(
        owner, "soil_offer", title="期限切れテスト 第2b種 300m³", quantity=300
    )
    ended = japan_today() - dt.timedelta(days=1)
    in_session(
        app,
        lambda session: session.execute(
            update(Listing)
            .where(Listing.id == listing_id)
            .values(window_start=ended - dt.timedelta(days=30), window_end=ended)
        ),
    )

    other = signed_in(app, buyer)
    assert "第2b種 300m³" in other.get("/search?q=期限切れテスト").get_data(
        as_text=True
    )  # found while open
    assert run_expiry(app, ended) == []  # its last day is not over yet
    assert run_expiry(app, ended + dt.timedelta(days=1)) == [listing_id]
    assert run_expiry(app, ended + dt.timedelta(days=1)) == []  # once
    assert status_of(app, listing_id) == ListingStatus.expired

    seller = signed_in(app, owner)
    assert "期限切れテスト" not in other.get("/listings").get_data(as_text=True)
    assert "第2b種 300m³" not in other.get("/search?q=期限切れテスト").get_data(
        as_text=True
    )  # no hit
    refused = other.post(f"/listings/{listing_id}/orders/new", data={"quantity": "10"})
    assert refused.status_code == 409
    assert "This listing is not open for requests." in refused.get_data(as_text=True)
    (note,) = in_session(
        app, lambda s: s.scalars(select(Notification).where(Notification.user_id == owner.id)).all()
    )
    assert note.listing_id == listing_id and "期限切れテスト" in note.message
    assert any(
        "期限切れテスト" in m["body"]
        for m in app.extensions["meguri.mailer"].sent()
        if m["to"] == owner.email
    )
    page = seller.get(f"/listings/{listing_id}").get_data(as_text=True)
    assert 'id="expired-note"' in page

    # Saving it with the old period is refused, naming the field; a new period publishes it.
    form = {
        **listing_data("soil_offer"),
        "title": "期限切れテスト 第2b種 300m³",
        "quantity": "300",
        "window_start": (ended - dt.timedelta(days=30)).isoformat(),
        "window_end": ended.isoformat(),
        "status": "open",
    }
    stale = seller.post(f"/listings/{listing_id}/edit", data=form)
    assert stale.status_code == 400 and "Available until" in stale.get_data(as_text=True)
    assert status_of(app, listing_id) == ListingStatus.expired
    form["window_end"] = (japan_today() + dt.timedelta(days=30)).isoformat()
    assert seller.post(f"/listings/{listing_id}/edit", data=form).status_code == 302
    assert status_of(app, listing_id) == ListingStatus.open
    assert "期限切れテスト" in other.get("/listings").get_data(as_text=True)


def test_a_listing_cannot_be_published_with_a_period_already_over(app, factory):
    owner = factory.user()
    client = signed_in(app, owner)
    past = japan_today() - dt.timedelta(days=10)
    form = {
        **listing_data("soil_offer"),
        "window_start": (past - dt.timedelta(days=5)).isoformat(),
        "window_end": past.isoformat(),
        "status": "open",
    }
    response = client.post("/listings/new/soil_offer", data=form)
    assert response.status_code == 400 and "window_end" in response.get_data(as_text=True)
    assert (
        client.post("/listings/new/soil_offer", data={**form, "status": "draft"}).status_code == 302
    )
