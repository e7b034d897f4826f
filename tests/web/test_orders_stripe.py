"""Card payment through Stripe, against localstripe: the payee requests payment (a JPY
PaymentIntent for the server-computed total), the payer pays, and localstripe's signed
webhook — delivered to the app's own route over HTTP — marks the order paid. Bad
signatures change nothing; replays and late events have no second effect."""

from __future__ import annotations

import threading
import time
import urllib.parse
import urllib.request

import pytest
import stripe
from sqlalchemy import func, select
from werkzeug.serving import make_server

from market import create_app
from market.db import utcnow
from market.orders.models import Order, OrderStatus, ProcessedWebhookEvent
from tests.conftest import in_session
from tests.web.test_orders import Reader, act, order_row, request_quantity, signed_in

pytest.importorskip(
    "localstripe", reason="the Stripe tests run against localstripe (pip install localstripe)"
)
from payments.testing import (  # noqa: E402
    TEST_API_KEY,
    TEST_WEBHOOK_SECRET,
    localstripe_server,
    sign_webhook,
    stripe_event,
)

# localstripe calls the webhook of the app served in a thread of its own: real commits.
pytestmark = [pytest.mark.localstripe, pytest.mark.commits]


@pytest.fixture(scope="session")
def localstripe_url():
    with localstripe_server() as url:
        yield url


@pytest.fixture
def app(database_url, tmp_path, localstripe_url):
    """The app with card payments, served over HTTP so that localstripe can call its webhook."""
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret",
            "JOBS_IMMEDIATE": True,
            "SECURE_COOKIES": False,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "PAYMENTS": "stripe",
            "STRIPE_SECRET_KEY": TEST_API_KEY,
            "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
            "STRIPE_API_BASE": localstripe_url,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    form = urllib.parse.urlencode(
        {
            "url": f"http://127.0.0.1:{server.server_port}/payments/stripe/webhook",
            "secret": TEST_WEBHOOK_SECRET,
        }
    ).encode()
    with urllib.request.urlopen(f"{localstripe_url}/_config/webhooks/meguri", form, timeout=5):
        pass
    yield app
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    app.extensions["meguri.db"].dispose()


@pytest.fixture
def db(app):
    return Reader(app)


@pytest.fixture
def invoiced(app, db, factory):
    """An accepted order for 30 m³ at ¥800 with payment requested by card: ¥26,400."""
    supplier, contractor = factory.user(), factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=800)
    buyer, seller = signed_in(app, contractor), signed_in(app, supplier)
    order_id = request_quantity(buyer, listing_id)
    assert act(seller, order_id, "accept").status_code == 302
    assert act(seller, order_id, "issue_invoice").status_code == 302
    return order_id, buyer, seller


def wait_for_status(db, order_id: int, status: OrderStatus, timeout: float = 15.0) -> Order:
    deadline = time.monotonic() + timeout
    while True:
        order = order_row(db, order_id)
        if order.status == status or time.monotonic() > deadline:
            return order
        time.sleep(0.1)


def succeeded_event(
    payment, event_id: str | None = None, event_type: str = "payment_intent.succeeded"
) -> bytes:
    return stripe_event(
        event_type,
        {
            "id": payment.reference,
            "object": "payment_intent",
            "amount": payment.amount_yen,
            "currency": "jpy",
            "status": "succeeded",
            "metadata": {"meguri_order_id": str(payment.order_id)},
        },
        event_id=event_id,
    )


def test_card_payment_confirmed_by_signed_webhook_marks_the_order_paid(
    app, db, invoiced, localstripe_url
):
    order_id, buyer, seller = invoiced
    payment = order_row(db, order_id).current_payment
    assert payment.backend == "stripe" and payment.reference.startswith("pi_")
    intent = stripe.StripeClient(
        TEST_API_KEY, base_addresses={"api": localstripe_url}
    ).v1.payment_intents.retrieve(payment.reference)
    assert (intent.amount, intent.currency) == (
        26400,
        "jpy",
    )  # the server's figure: 30 × 800 + 10 %

    assert f"/orders/{order_id}/pay/test-card" not in seller.get(f"/orders/{order_id}").get_data(
        as_text=True
    )
    assert (
        seller.post(f"/orders/{order_id}/pay/test-card").status_code == 403
    )  # only the payer pays
    assert buyer.post(f"/orders/{order_id}/pay/test-card").status_code == 302

    order = wait_for_status(db, order_id, OrderStatus.paid)
    assert order.status == OrderStatus.paid
    assert order.current_payment.status == "paid"
    assert (
        order.transitions[-1].action == "payment_received"
        and order.transitions[-1].actor_user_id is None
    )
    # Card payments are not marked paid by hand.
    assert "actions/mark_paid" not in seller.get(f"/orders/{order_id}").get_data(as_text=True)

    # Delivery and completion go on as for invoices.
    assert seller.post(f"/orders/{order_id}/deliveries", data={"quantity": "30"}).status_code == 302
    assert act(buyer, order_id, "complete").status_code == 302
    assert order_row(db, order_id).status == OrderStatus.completed


def test_bad_signature_is_refused_and_changes_nothing(app, db, client, invoiced):
    order_id, _buyer, _seller = invoiced
    payment = order_row(db, order_id).current_payment
    body = succeeded_event(payment)
    for header in (
        sign_webhook(body, "whsec_wrong"),
        "t=1,v1=deadbeef",
        None,
        sign_webhook(body, TEST_WEBHOOK_SECRET, timestamp=int(time.time()) - 3600),
    ):
        headers = {"Stripe-Signature": header} if header else {}
        response = client.post(
            "/payments/stripe/webhook", data=body, headers=headers, content_type="application/json"
        )
        assert response.status_code == 400
    forged = body.replace(b'"succeeded"', b'"canceled"')
    response = client.post(
        "/payments/stripe/webhook",
        data=forged,
        headers={"Stripe-Signature": sign_webhook(body)},
        content_type="application/json",
    )
    assert response.status_code == 400
    order = order_row(db, order_id)
    assert (
        order.status == OrderStatus.invoiced and order.current_payment.status == "awaiting_payment"
    )
    assert db(lambda s: s.scalar(select(func.count()).select_from(ProcessedWebhookEvent))) == 0


def test_replayed_and_late_events_have_no_second_effect(app, db, client, invoiced):
    order_id, _buyer, _seller = invoiced
    payment = order_row(db, order_id).current_payment
    body = succeeded_event(payment, event_id="evt_meguri_once")
    header = sign_webhook(body)

    first = client.post(
        "/payments/stripe/webhook",
        data=body,
        headers={"Stripe-Signature": header},
        content_type="application/json",
    )
    assert (first.status_code, first.get_data(as_text=True)) == (200, "applied")
    order = order_row(db, order_id)
    history = len(order.transitions)
    assert order.status == OrderStatus.paid

    replay = client.post(
        "/payments/stripe/webhook",
        data=body,
        headers={"Stripe-Signature": header},
        content_type="application/json",
    )
    assert (replay.status_code, replay.get_data(as_text=True)) == (200, "replay")

    # A processing event that arrives after success (out of order) does not move it back.
    late = succeeded_event(
        payment, event_id="evt_meguri_late", event_type="payment_intent.processing"
    )
    response = client.post(
        "/payments/stripe/webhook",
        data=late,
        headers={"Stripe-Signature": sign_webhook(late)},
        content_type="application/json",
    )
    assert response.status_code == 200
    order = order_row(db, order_id)
    assert order.status == OrderStatus.paid and order.current_payment.status == "paid"
    assert len(order.transitions) == history
    assert db(lambda s: s.scalar(select(func.count()).select_from(ProcessedWebhookEvent))) == 2


def test_event_for_a_payment_not_stored_yet_asks_stripe_to_retry(client, db):
    body = stripe_event(
        "payment_intent.succeeded",
        {"id": "pi_unknown", "object": "payment_intent", "metadata": {"meguri_order_id": "999"}},
    )
    response = client.post(
        "/payments/stripe/webhook",
        data=body,
        headers={"Stripe-Signature": sign_webhook(body)},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert db(lambda s: s.scalar(select(func.count()).select_from(ProcessedWebhookEvent))) == 0


def stripe_refunds(localstripe_url: str, reference: str) -> list[int]:
    client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": localstripe_url})
    return [r.amount for r in client.v1.refunds.list(params={"payment_intent": reference}).data]


def test_card_refunds_go_back_through_stripe_once_each(app, db, invoiced, localstripe_url):
    from tests.web.test_order_refunds import refund, refund_key, refunds

    order_id, buyer, seller = invoiced
    assert buyer.post(f"/orders/{order_id}/pay/test-card").status_code == 302
    assert wait_for_status(db, order_id, OrderStatus.paid).status == OrderStatus.paid
    reference = order_row(db, order_id).current_payment.reference

    assert (
        refund(buyer, order_id, "100", "x", key="payer-key").status_code == 403
    )  # only the payee refunds
    over = refund(seller, order_id, "26401", "too much")
    assert over.status_code == 422 and "At most ¥26,400" in over.get_data(as_text=True)
    assert stripe_refunds(localstripe_url, reference) == []  # refused before reaching Stripe

    key = refund_key(seller.get(f"/orders/{order_id}").get_data(as_text=True))
    assert refund(seller, order_id, "6400", "4 m³ not delivered", key=key).status_code == 302
    assert (
        refund(seller, order_id, "6400", "4 m³ not delivered", key=key).status_code == 302
    )  # sent twice
    assert stripe_refunds(localstripe_url, reference) == [6400]
    payment = order_row(db, order_id).current_payment
    assert (payment.refunded_yen, payment.status) == (6400, "partially_refunded")

    assert refund(seller, order_id, "20000", "order called off").status_code == 302
    assert sorted(stripe_refunds(localstripe_url, reference)) == [6400, 20000]
    order = order_row(db, order_id)
    assert (order.current_payment.refunded_yen, order.current_payment.status) == (26400, "refunded")
    assert [(r.backend, r.amount_yen, r.credit_note) for r in refunds(db, order_id)] == [
        ("stripe", 6400, None),
        ("stripe", 20000, None),
    ]
    page = buyer.get(f"/orders/{order_id}").get_data(as_text=True)
    assert (
        "4 m³ not delivered" in page
        and "Returned to the card" in page
        and 'id="refund-form"' not in page
    )


def post_event(client, body: bytes):
    return client.post(
        "/payments/stripe/webhook",
        data=body,
        headers={"Stripe-Signature": sign_webhook(body)},
        content_type="application/json",
    )


def dispute_event(payment, status: str, event_type: str, event_id: str | None = None) -> bytes:
    return stripe_event(
        event_type,
        {
            "id": "dp_meguri_1",
            "object": "dispute",
            "amount": payment.amount_yen,
            "currency": "jpy",
            "charge": "ch_meguri_1",
            "payment_intent": payment.reference,
            "reason": "product_not_received",
            "status": status,
            "evidence_details": {"due_by": int(time.time()) + 7 * 86400},
            "metadata": {},
        },
        event_id=event_id,
    )


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_a_chargeback_holds_the_order_until_the_card_network_decides(
    app, db, client, invoiced, outcome
):
    from market.notifications.models import Notification

    order_id, buyer, seller = invoiced
    payment = order_row(db, order_id).current_payment
    assert post_event(client, succeeded_event(payment)).status_code == 200
    assert order_row(db, order_id).status == OrderStatus.paid

    opened = dispute_event(
        payment, "needs_response", "charge.dispute.created", event_id="evt_dispute_open"
    )
    assert (
        post_event(client, opened).status_code,
        post_event(client, opened).get_data(as_text=True),
    ) == (200, "replay")
    order = order_row(db, order_id)
    assert order.status == OrderStatus.disputed and order.current_payment.status == "paid"
    assert [t.action for t in order.transitions].count(
        "chargeback"
    ) == 1  # the replay changed nothing
    assert (
        "¥26,400" in order.transitions[-1].note
        and "product_not_received" in order.transitions[-1].note
    )
    assert (
        "商品が届いていない" in order.transitions[-1].note
    )  # the reason in words, not only Stripe's code
    told = db(
        lambda s: set(
            s.scalars(
                select(Notification.user_id).where(  # the members read English here
                    Notification.order_id == order_id,
                    Notification.message.like("%disputed by the payer's card issuer%"),
                )
            )
        )
    )
    assert len(told) == 2  # both parties: the platform moved it
    # Neither party can end a chargeback; the "resolve" button is not offered.
    page = seller.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "actions/resolve" not in page
    refused = act(buyer, order_id, "resolve")
    assert refused.status_code == 409 and "card network decides" in refused.get_data(as_text=True)
    # Evidence under review: nothing changes.
    assert (
        post_event(
            client, dispute_event(payment, "under_review", "charge.dispute.updated")
        ).status_code
        == 200
    )
    assert order_row(db, order_id).status == OrderStatus.disputed

    assert (
        post_event(client, dispute_event(payment, outcome, "charge.dispute.closed")).status_code
        == 200
    )
    order = order_row(db, order_id)
    assert order.status == OrderStatus.paid and order.transitions[-1].action == "chargeback_closed"
    assert ("返還" in order.transitions[-1].note) == (outcome == "lost")


def test_a_chargeback_on_an_order_a_party_already_disputes_keeps_their_dispute(
    app, db, client, invoiced
):
    order_id, buyer, _seller = invoiced
    payment = order_row(db, order_id).current_payment
    post_event(client, succeeded_event(payment))
    assert act(buyer, order_id, "dispute", note="届いた土に異物が多い").status_code == 302
    post_event(client, dispute_event(payment, "needs_response", "charge.dispute.created"))
    post_event(client, dispute_event(payment, "won", "charge.dispute.closed"))
    order = order_row(db, order_id)
    assert order.status == OrderStatus.disputed  # the buyer's own dispute is still open
    assert [t.action for t in order.transitions][-2:] == ["chargeback", "chargeback_decided"]
    assert act(buyer, order_id, "resolve").status_code == 302  # and the parties can end theirs


def test_reconciliation_applies_what_a_missed_webhook_would_have(
    app, db, invoiced, localstripe_url
):
    """The webhook endpoint was unreachable while the payer paid: the periodic reconciliation
    reads the PaymentIntent from Stripe and moves the order on; a fresh payment is left alone."""
    import datetime as dt

    from market.orders.reconcile import RECONCILE_AFTER, RECONCILE_WITHIN, reconcile_card_payments

    order_id, _buyer, _seller = invoiced
    payment = order_row(db, order_id).current_payment
    dead = urllib.parse.urlencode(
        {"url": "http://127.0.0.1:9/unreachable", "secret": TEST_WEBHOOK_SECRET}
    ).encode()
    with urllib.request.urlopen(f"{localstripe_url}/_config/webhooks/meguri", dead, timeout=5):
        pass
    with app.app_context():
        from market.orders import billing

        billing.gateway().confirm(billing.from_row(payment), payment_method="pm_card_visa")
    assert order_row(db, order_id).status == OrderStatus.invoiced  # nobody told the app

    def reconcile(at):
        return in_session(app, lambda session: reconcile_card_payments(session, now=at))

    app.config["PUBLIC_URL"] = "https://meguri.example.test/"
    assert reconcile(utcnow()) == 0  # too fresh: its webhook may still come
    assert (
        reconcile(payment.created_at + RECONCILE_WITHIN + dt.timedelta(minutes=1)) == 0
    )  # too old: left alone
    later = utcnow() + RECONCILE_AFTER + dt.timedelta(minutes=1)
    assert reconcile(later) == 1
    order = order_row(db, order_id)
    assert order.status == OrderStatus.paid and order.current_payment.status == "paid"
    assert order.transitions[-1].action == "payment_received"
    told = [
        m
        for m in app.extensions["meguri.mailer"].sent()
        if f"Order #{order_id}" in m["subject"] or f"注文 #{order_id}" in m["subject"]
    ]
    assert (
        f"https://meguri.example.test/orders/{order_id}" in told[-1]["body"]
    )  # a job's mail links absolutely
    assert reconcile(later) == 0  # nothing open any more


def test_a_refund_made_at_stripe_is_recorded_on_the_order(app, db, client, invoiced):
    from market.orders.models import OrderRefund

    order_id, _buyer, seller = invoiced
    payment = order_row(db, order_id).current_payment
    post_event(client, succeeded_event(payment))
    refunded = stripe_event(
        "charge.refunded",
        {
            "id": "ch_meguri_1",
            "object": "charge",
            "payment_intent": payment.reference,
            "amount": 26400,
            "amount_refunded": 5000,
            "refunded": False,
            "metadata": {"meguri_order_id": str(payment.order_id)},
        },
        event_id="evt_dashboard_refund",
    )
    assert post_event(client, refunded).get_data(as_text=True) == "applied"
    assert post_event(client, refunded).get_data(as_text=True) == "replay"

    rows = db(
        lambda s: s.scalars(select(OrderRefund).where(OrderRefund.order_id == order_id)).all()
    )
    assert [(r.amount_yen, r.backend, r.refunded_by_id) for r in rows] == [(5000, "stripe", None)]
    order = order_row(db, order_id)
    assert order.status == OrderStatus.paid and order.transitions[-1].action == "refund_recorded"
    assert order.current_payment.refunded_yen == 5000
    page = seller.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "¥5,000" in page
