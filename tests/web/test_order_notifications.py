"""Each move of an order tells the other party: in-app for every active member, by mail
for those who keep order mails on, in the member's own language; refused moves tell
nobody."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from market.notifications.models import Notification
from tests.conftest import PASSWORD, in_session


def signed_in(app, member, lang: str | None = None):
    client = app.test_client()
    response = client.post("/login", data={"email": member.email, "password": PASSWORD})
    assert response.status_code == 302
    if lang:
        client.post(f"/lang/{lang}", data={"next": "/"})
    return client


def notes_of(app, member) -> list[Notification]:
    return in_session(
        app,
        lambda s: list(
            s.scalars(
                select(Notification)
                .where(Notification.user_id == member.id)
                .order_by(Notification.id)
            )
        ),
        commit=False,
    )


def mails_to(app, member) -> list[dict]:
    return [m for m in app.extensions["meguri.mailer"].sent() if m["to"] == member.email]


@pytest.fixture
def trade(app, factory):
    supplier = factory.user()
    contractor = factory.user()
    listing_id = factory.listing(
        supplier, "soil_offer", quantity=100, price_per_unit=800, title="江東区 発生土 第2b種"
    )
    return supplier, contractor, listing_id


def request_order(client, listing_id: int) -> int:
    response = client.post(
        f"/listings/{listing_id}/orders/new",
        data={
            "quantity": "30",
            "transport_arrangement": "supplier_delivers",
            "note": "平日午前に搬入希望",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def test_each_move_tells_the_other_party_in_their_language(app, trade):
    supplier, contractor, listing_id = trade
    seller = signed_in(app, supplier, lang="en")  # remembered on the account
    buyer = signed_in(app, contractor)  # Japanese, the default

    order_id = request_order(buyer, listing_id)
    assert notes_of(app, contractor) == []  # the party that acted is not told
    (note,) = notes_of(app, supplier)
    assert note.order_id == order_id and f"Order #{order_id}" in note.message
    assert "new request" in note.message and "江東区 発生土 第2b種" in note.message
    (mail,) = mails_to(app, supplier)
    assert mail["subject"].startswith("[Meguri] Order #") and "平日午前に搬入希望" in mail["body"]
    assert f"/orders/{order_id}" in mail["body"]

    assert seller.post(f"/orders/{order_id}/actions/accept", data={}).status_code == 302
    (note,) = notes_of(app, contractor)
    assert f"注文 #{order_id}" in note.message and "依頼が承諾されました" in note.message, (
        note.message
    )
    assert len(mails_to(app, contractor)) == 1 and len(notes_of(app, supplier)) == 1

    page = seller.get("/notifications").get_data(as_text=True)
    assert f'href="/orders/{order_id}"' in page
    order_page = seller.get(f"/orders/{order_id}").get_data(as_text=True)
    assert f'id="impact-link" href="/orders/{order_id}/impact"' in order_page
    assert seller.get(f"/orders/{order_id}/impact").status_code == 200


def test_refused_move_tells_nobody(app, trade):
    supplier, contractor, listing_id = trade
    buyer = signed_in(app, contractor)
    order_id = request_order(buyer, listing_id)
    before = len(notes_of(app, supplier)), len(mails_to(app, supplier))
    response = buyer.post(f"/orders/{order_id}/actions/accept", data={})  # only the seller may
    assert response.status_code == 403
    assert (len(notes_of(app, supplier)), len(mails_to(app, supplier))) == before


def test_mail_can_be_turned_off_in_app_notifications_stay(app, trade):
    supplier, contractor, listing_id = trade
    seller = signed_in(app, supplier)
    page = seller.get("/notifications").get_data(as_text=True)
    assert 'name="order_mail" checked' in page
    assert seller.post("/notifications/settings", data={}).status_code == 302  # box unticked
    assert 'name="order_mail" checked' not in seller.get("/notifications").get_data(as_text=True)

    request_order(signed_in(app, contractor), listing_id)
    assert len(notes_of(app, supplier)) == 1 and mails_to(app, supplier) == []

    seller.post("/notifications/settings", data={"order_mail": "on"})
    request_order(signed_in(app, contractor), listing_id)
    assert len(notes_of(app, supplier)) == 2 and len(mails_to(app, supplier)) == 1


def test_every_active_member_is_told_inactive_ones_are_not(app, factory, trade):
    supplier, contractor, listing_id = trade
    present = factory.member(supplier.org_id, "colleague1@example.jp")
    factory.member(supplier.org_id, "colleague2@example.jp", active=False)
    order_id = request_order(signed_in(app, contractor), listing_id)
    told = in_session(
        app,
        lambda s: set(
            s.scalars(select(Notification.user_id).where(Notification.order_id == order_id))
        ),
        commit=False,
    )
    assert told == {supplier.id, present.id}


def test_platform_moves_tell_both_parties(app, factory):
    """Instant acceptance: one move by the platform, both sides hear of it, no separate
    'new request'."""
    supplier = factory.user()
    contractor = factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=800)
    seller = signed_in(app, supplier)
    assert (
        seller.post(f"/listings/{listing_id}/order-terms", data={"instant_accept": "1"}).status_code
        == 302
    )
    order_id = request_order(signed_in(app, contractor), listing_id)
    for member in (supplier, contractor):
        (note,) = notes_of(app, member)
        assert note.order_id == order_id and "自動" in note.message, note.message


def test_times_are_shown_in_japan_time(app, trade):
    """Timestamps are stored in UTC; people read Japan's wall clock (UTC+9, no DST)."""
    import datetime as dt

    supplier, contractor, listing_id = trade
    seller = signed_in(app, supplier)
    order_id = request_order(signed_in(app, contractor), listing_id)
    (note,) = notes_of(app, supplier)
    local = (note.created_at + dt.timedelta(hours=9)).strftime("%Y-%m-%d %H:%M")
    assert f"{local} ·" in seller.get("/notifications").get_data(as_text=True)
    from market.orders.models import OrderTransition

    made = in_session(
        app,
        lambda s: s.scalar(
            select(OrderTransition.created_at).where(OrderTransition.order_id == order_id)
        ),
        commit=False,
    )
    history = seller.get(f"/orders/{order_id}").get_data(as_text=True)
    assert (
        f"{(made + dt.timedelta(hours=9)):%Y-%m-%d %H:%M} JST" in history and " UTC" not in history
    )


def test_a_refund_tells_the_payer(app, factory):
    from tests.web.test_order_refunds import refund

    supplier = factory.user(invoice_registration_no="T1234567890123")
    contractor = factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=800)
    seller, buyer = signed_in(app, supplier), signed_in(app, contractor)
    order_id = request_order(buyer, listing_id)
    for action in ("accept", "issue_invoice", "mark_paid"):
        assert seller.post(f"/orders/{order_id}/actions/{action}", data={}).status_code == 302
    assert refund(seller, order_id, amount="5000", reason="品質不良分の返金").status_code == 302
    last = notes_of(app, contractor)[-1]
    assert "返金されました" in last.message and last.order_id == order_id
    assert "品質不良分の返金" in mails_to(app, contractor)[-1]["body"]
