"""A new account proves its address by opening a mailed link; until then Meguri mails it
nothing else (a stranger's address typed at sign-up gets no order mail), while in-app
notifications work from the start. Invitations prove the address by themselves."""

from __future__ import annotations

import re

from sqlalchemy import select

from market.accounts.models import User
from market.notifications.models import Notification
from tests.conftest import PASSWORD, Member, in_session
from tests.web.test_accounts import signup_form


def mails_to(app, email: str) -> list[dict]:
    return [m for m in app.extensions["meguri.mailer"].sent() if m["to"] == email]


def verify_link(app, email: str) -> str:
    (mail,) = [
        m
        for m in mails_to(app, email)
        if "confirm your e-mail" in m["subject"] or "メールアドレス" in m["subject"]
    ]
    return re.search(r"https?://[^/]+(/account/verify/\S+)", mail["body"]).group(1)


def user_row(app, email: str) -> User:
    return in_session(
        app, lambda s: s.scalar(select(User).where(User.email == email)), commit=False
    )


def test_signup_mails_a_link_that_confirms_the_address(app, client):
    assert client.post("/signup", data=signup_form()).status_code == 302
    assert user_row(app, "yamada@example.jp").email_verified_at is None
    assert 'id="verify-banner"' in client.get("/").get_data(as_text=True)

    link = verify_link(app, "yamada@example.jp")
    assert client.get(link).status_code == 302
    assert user_row(app, "yamada@example.jp").email_verified_at is not None
    assert 'id="verify-banner"' not in client.get("/").get_data(as_text=True)
    assert client.get(link).status_code == 302  # again: harmless
    assert client.get(link[:-3] + "xyz").status_code == 404  # tampered


def test_the_link_can_be_sent_again_and_only_the_users_own_link_works(app, client, factory):
    client.post("/signup", data=signup_form())
    assert (
        client.post("/account/verify/resend", data={"next": "/orders"})
        .headers["Location"]
        .endswith("/orders")
    )
    assert len([m for m in mails_to(app, "yamada@example.jp")]) == 2
    other = app.test_client()
    other.post("/signup", data=signup_form(email="sato@example.jp"))
    # Sato's link verifies Sato, never Yamada.
    other.get(verify_link(app, "sato@example.jp"))
    assert user_row(app, "sato@example.jp").email_verified_at is not None
    assert user_row(app, "yamada@example.jp").email_verified_at is None


def test_an_unconfirmed_address_gets_notifications_in_app_but_no_mail(app, client, factory):
    client.post("/signup", data=signup_form())  # a supplier that never opened its link
    supplier = user_row(app, "yamada@example.jp")
    listing_id = factory.listing(
        Member(supplier.id, supplier.organisation_id, supplier.email), "soil_offer"
    )
    buyer = factory.user()
    buyer_client = app.test_client()
    buyer_client.post("/login", data={"email": buyer.email, "password": PASSWORD})
    response = buyer_client.post(
        f"/listings/{listing_id}/orders/new",
        data={"quantity": "10", "transport_arrangement": "supplier_delivers"},
    )
    assert response.status_code == 302
    assert (
        in_session(
            app,
            lambda s: s.scalar(select(Notification).where(Notification.user_id == supplier.id)),
            commit=False,
        )
        is not None
    )
    (only,) = mails_to(app, "yamada@example.jp")  # the verification link, no order mail
    assert verify_link(app, "yamada@example.jp") in only["body"]
