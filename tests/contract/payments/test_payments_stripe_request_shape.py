"""Request shapes for what localstripe lacks (Connect, idempotency keys), checked against the
documented Stripe API by recording what stripe-python would send."""

import dataclasses

import pytest
import stripe

from payments import (
    ConfigurationError,
    InvoiceGateway,
    PaymentStatus,
    gateway_from_config,
    make_gateway,
)
from payments.testing import TEST_API_KEY, TEST_WEBHOOK_SECRET, RecordingHTTPClient

ACCT = "acct_1MeguriSeller"


@pytest.fixture
def recorder():
    return RecordingHTTPClient()


@pytest.fixture
def gateway(recorder):
    return make_gateway(
        "stripe",
        api_key=TEST_API_KEY,
        webhook_secret=TEST_WEBHOOK_SECRET,
        platform_fee_rate="0.05",
        http_client=recorder,
    )


@pytest.fixture
def connected_order(make_order, seller):
    order = make_order(1000)  # ¥10,000 + tax = ¥11,000; fee ¥500 + ¥50 tax
    return dataclasses.replace(order, seller=dataclasses.replace(seller, connected_account_id=ACCT))


def test_destination_charge_to_the_payee_with_the_platform_fee(gateway, recorder, connected_order):
    payment = gateway.create_payment(connected_order)
    (request,) = recorder.requests
    assert (request.method, request.path) == ("POST", "/v1/payment_intents")
    assert request.params == {
        "amount": "11000",  # JPY is zero-decimal: ¥11,000 is 11000
        "currency": "jpy",
        "transfer_data[destination]": ACCT,
        "application_fee_amount": "550",
        "on_behalf_of": ACCT,
        "metadata[meguri_order_id]": connected_order.order_id,
        "metadata[meguri_attempt]": "1",
        "metadata[meguri_payer_id]": "org-buyer",
        "metadata[meguri_payee_id]": "org-seller",
    }
    assert request.headers["authorization"] == f"Bearer {TEST_API_KEY}"
    assert payment.destination_account_id == ACCT
    assert payment.platform_fee_yen == 550


def test_negative_price_sends_the_money_to_the_buyers_account(recorder, make_order, buyer):
    gateway = make_gateway(
        "stripe", api_key=TEST_API_KEY, webhook_secret=TEST_WEBHOOK_SECRET, http_client=recorder
    )
    order = make_order(-1000)
    order = dataclasses.replace(order, buyer=dataclasses.replace(buyer, connected_account_id=ACCT))
    gateway.create_payment(order)
    params = recorder.requests[0].params
    assert params["transfer_data[destination]"] == ACCT
    assert params["metadata[meguri_payer_id]"] == "org-seller"


def test_payee_without_connected_account_is_charged_to_the_platform(gateway, recorder, make_order):
    payment = gateway.create_payment(make_order(1000))
    params = recorder.requests[0].params
    assert not {"transfer_data[destination]", "application_fee_amount", "on_behalf_of"} & set(
        params
    )
    assert payment.platform_fee_yen == 0


def test_on_behalf_of_can_be_turned_off(recorder, connected_order):
    gateway = make_gateway(
        "stripe",
        api_key=TEST_API_KEY,
        webhook_secret=TEST_WEBHOOK_SECRET,
        http_client=recorder,
        settle_on_behalf_of=False,
    )
    gateway.create_payment(connected_order)
    assert "on_behalf_of" not in recorder.requests[0].params


def test_create_is_idempotent_per_order_attempt(gateway, recorder, connected_order):
    gateway.create_payment(connected_order)
    gateway.create_payment(connected_order)  # a retry after a lost response
    gateway.create_payment(dataclasses.replace(connected_order, attempt=2))
    keys = [r.headers["idempotency-key"] for r in recorder.requests]
    assert keys[0] == keys[1] == f"meguri-order-{connected_order.order_id}-attempt-1-payment-intent"
    assert keys[2] != keys[0]


def test_every_post_carries_an_idempotency_key(gateway, recorder, connected_order, buyer):
    payment = gateway.create_payment(connected_order)
    paid = gateway.confirm(payment)
    gateway.refund(paid, 1000)
    gateway.cancel(gateway.create_payment(dataclasses.replace(connected_order, attempt=2)))
    gateway.onboarding_link(
        buyer, refresh_url="https://meguri.test/r", return_url="https://meguri.test/d"
    )
    posts = [r for r in recorder.requests if r.method == "POST"]
    assert len(posts) == 8
    assert all(r.headers.get("idempotency-key", "").startswith("meguri-") for r in posts)


def test_refund_of_a_destination_charge_reverses_the_transfer(gateway, recorder, connected_order):
    paid = gateway.confirm(gateway.create_payment(connected_order))
    assert paid.status is PaymentStatus.PAID
    first = gateway.refund(paid, 1000)
    gateway.refund(first, 1000)
    refunds = [r for r in recorder.requests if r.path == "/v1/refunds"]
    assert refunds[0].params == {
        "payment_intent": paid.reference,
        "amount": "1000",
        "reverse_transfer": "true",
        "refund_application_fee": "true",
        "metadata[meguri_order_id]": connected_order.order_id,
    }
    # Two separate partial refunds must not collapse into one through a shared key.
    assert refunds[0].headers["idempotency-key"] != refunds[1].headers["idempotency-key"]


def test_onboarding_creates_an_express_account_then_a_link(gateway, recorder, buyer):
    link = gateway.onboarding_link(
        buyer,
        refresh_url="https://meguri.test/connect/refresh",
        return_url="https://meguri.test/connect/done",
    )
    account, account_link = recorder.requests
    assert account.path == "/v1/accounts"
    assert account.params == {
        "type": "express",
        "country": "JP",
        "business_type": "company",
        "capabilities[card_payments][requested]": "true",
        "capabilities[transfers][requested]": "true",
        "metadata[meguri_organisation_id]": "org-buyer",
    }
    assert account.headers["idempotency-key"] == "meguri-organisation-org-buyer-account"
    assert account_link.path == "/v1/account_links"
    assert account_link.params == {
        "account": "acct_recorded",
        "type": "account_onboarding",
        "refresh_url": "https://meguri.test/connect/refresh",
        "return_url": "https://meguri.test/connect/done",
    }
    assert link.account_id == "acct_recorded"
    assert link.url.startswith("https://")


def test_onboarding_an_existing_account_only_makes_a_link(gateway, recorder, seller):
    gateway.onboarding_link(
        dataclasses.replace(seller, connected_account_id=ACCT),
        refresh_url="https://meguri.test/r",
        return_url="https://meguri.test/d",
    )
    assert [r.path for r in recorder.requests] == ["/v1/account_links"]
    assert recorder.requests[0].params["account"] == ACCT


def test_each_gateway_uses_its_own_key(make_order):
    first, second = RecordingHTTPClient(), RecordingHTTPClient()
    for key, client in (("sk_test_meguri_a", first), ("sk_test_meguri_b", second)):
        make_gateway(
            "stripe", api_key=key, webhook_secret=TEST_WEBHOOK_SECRET, http_client=client
        ).create_payment(make_order())
    assert first.requests[0].headers["authorization"] == "Bearer sk_test_meguri_a"
    assert second.requests[0].headers["authorization"] == "Bearer sk_test_meguri_b"
    assert stripe.api_key is None  # nothing set module-wide


def test_invoice_is_the_default_backend():
    assert isinstance(make_gateway(), InvoiceGateway)
    assert isinstance(make_gateway(""), InvoiceGateway)
    assert isinstance(gateway_from_config({}), InvoiceGateway)


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({}, "api_key"),
        ({"api_key": TEST_API_KEY}, "webhook_secret"),
        ({"webhook_secret": TEST_WEBHOOK_SECRET}, "api_key"),
    ],
)
def test_stripe_without_its_settings_fails_fast(settings, missing):
    with pytest.raises(ConfigurationError) as info:
        make_gateway("stripe", **settings)
    assert missing in info.value.message


def test_stripe_from_config():
    gateway = gateway_from_config(
        {
            "MEGURI_PAYMENTS": "stripe",
            "MEGURI_STRIPE_SECRET_KEY": TEST_API_KEY,
            "MEGURI_STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
            "MEGURI_PLATFORM_FEE_RATE": "0.03",
        }
    )
    assert gateway.name == "stripe"
    assert str(gateway.platform_fee_rate) == "0.03"
    with pytest.raises(ConfigurationError):
        gateway_from_config({"MEGURI_PAYMENTS": "stripe"})


def test_unknown_backend_is_refused():
    with pytest.raises(ConfigurationError):
        make_gateway("paypal")
