"""Card payouts through Stripe Connect: an organisation's admin sets up its Express
account from the organisation page; once Stripe reports it can take charges
(account.updated), card payments to it are destination charges to that account with the
platform fee kept. Stripe is answered offline by a recording HTTP client (localstripe has
no Connect), so the requests are checked against the documented shapes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import payments
from market import create_app
from market.accounts.models import Organisation
from payments.testing import (
    TEST_API_KEY,
    TEST_WEBHOOK_SECRET,
    RecordingHTTPClient,
    canned_response,
    sign_webhook,
    stripe_event,
)
from tests.conftest import PASSWORD, in_session
from tests.web.test_orders import act, request_quantity, signed_in


@pytest.fixture
def stripe_http():
    created = iter(range(1, 1000))

    def respond(request):
        body = canned_response(request)
        if (
            request.method == "POST" and request.path == "/v1/payment_intents"
        ):  # a new intent each time
            body["id"] = f"pi_recorded_{next(created)}"
        return body

    return RecordingHTTPClient(responder=respond)


@pytest.fixture
def app(database_url, tmp_path, stripe_http):
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret",
            "JOBS_IMMEDIATE": True,
            "SECURE_COOKIES": False,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "RATE_LIMITS": False,
            "LOG_FORMAT": "text",
            "PAYMENTS": "stripe",
            "STRIPE_SECRET_KEY": TEST_API_KEY,
            "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
        }
    )
    app.extensions["meguri.payments"] = payments.make_gateway(
        "stripe",
        api_key=TEST_API_KEY,
        webhook_secret=TEST_WEBHOOK_SECRET,
        platform_fee_rate="0.03",
        http_client=stripe_http,
    )
    yield app
    app.extensions["meguri.db"].dispose()


def org(app, org_id) -> Organisation:
    return in_session(app, lambda s: s.get(Organisation, org_id), commit=False)


def account_updated(charges_enabled: bool, event_id: str) -> bytes:
    return stripe_event(
        "account.updated",
        {
            "id": "acct_recorded",
            "object": "account",
            "type": "express",
            "charges_enabled": charges_enabled,
            "payouts_enabled": charges_enabled,
        },
        event_id=event_id,
    )


def webhook(client, body: bytes):
    return client.post(
        "/payments/stripe/webhook",
        data=body,
        headers={"Stripe-Signature": sign_webhook(body)},
        content_type="application/json",
    )


def posted(stripe_http, path: str) -> list[dict]:
    return [r.params for r in stripe_http.requests if r.method == "POST" and r.path == path]


def test_onboarding_then_card_payments_go_to_the_payees_account(app, client, factory, stripe_http):
    supplier, contractor = factory.user(), factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=800)
    seller, buyer = signed_in(app, supplier), signed_in(app, contractor)
    assert "Set up with Stripe" in seller.get("/organisation").get_data(as_text=True)

    # Before set-up: a card payment is an ordinary charge collected by the platform.
    first = request_quantity(buyer, listing_id)
    act(seller, first, "accept")
    assert act(seller, first, "issue_invoice").status_code == 302
    assert "transfer_data[destination]" not in posted(stripe_http, "/v1/payment_intents")[-1]

    response = seller.post("/organisation/payouts")
    assert (
        response.status_code == 302
        and response.headers["Location"] == "https://onboarding.example.test/acct_recorded"
    )
    (account,) = posted(stripe_http, "/v1/accounts")
    assert (
        account["type"],
        account["country"],
        account["capabilities[card_payments][requested]"],
    ) == ("express", "JP", "true")
    link = posted(stripe_http, "/v1/account_links")[-1]
    assert link["account"] == "acct_recorded" and link["type"] == "account_onboarding"
    assert link["refresh_url"].endswith("/organisation/payouts/refresh") and link[
        "return_url"
    ].endswith("/organisation")
    assert org(app, supplier.org_id).stripe_account_id == "acct_recorded"
    assert "set-up not finished" in seller.get("/organisation").get_data(as_text=True)
    # Stripe's refresh_url: a fresh link for the same account, no second account.
    assert seller.get("/organisation/payouts/refresh").status_code == 302
    assert (
        len(posted(stripe_http, "/v1/accounts")) == 1
        and len(posted(stripe_http, "/v1/account_links")) == 2
    )

    # Stripe reports the account can take charges (once, however often it is delivered).
    assert webhook(client, account_updated(True, "evt_acct_1")).get_data(as_text=True) == "applied"
    assert webhook(client, account_updated(True, "evt_acct_1")).get_data(as_text=True) == "replay"
    assert org(app, supplier.org_id).stripe_charges_enabled
    assert "active: card payments to you go to your Stripe account" in seller.get(
        "/organisation"
    ).get_data(as_text=True)

    second = request_quantity(buyer, listing_id)
    act(seller, second, "accept")
    assert act(seller, second, "issue_invoice").status_code == 302
    intent = posted(stripe_http, "/v1/payment_intents")[-1]
    assert intent["transfer_data[destination]"] == "acct_recorded"
    assert intent["application_fee_amount"] == "792"  # 3 % of ¥24,000 + its 10 % tax

    # Stripe turns charges off again (e.g. a document expired): back to platform charges.
    webhook(client, account_updated(False, "evt_acct_2"))
    assert not org(app, supplier.org_id).stripe_charges_enabled


def test_only_admins_set_up_payouts(app, factory, stripe_http):
    admin = factory.user()
    factory.member(admin.org_id, "staff@example.jp")
    staff = app.test_client()
    staff.post("/login", data={"email": "staff@example.jp", "password": PASSWORD})
    assert staff.post("/organisation/payouts").status_code == 403
    assert stripe_http.requests == [] and org(app, admin.org_id).stripe_account_id is None


def test_an_unknown_account_changes_nothing(app, client, factory):
    supplier = factory.user()
    assert webhook(client, account_updated(True, "evt_acct_other")).status_code == 200
    assert in_session(
        app, lambda s: s.scalars(select(Organisation.stripe_charges_enabled)).all(), commit=False
    ) == [False]
    assert org(app, supplier.org_id).stripe_account_id is None
