"""The Stripe backend against localstripe, with its signed webhooks delivered to a stand-in
for the app's webhook view (process_webhook over in-memory storage)."""

import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from payments import (
    GatewayError,
    InMemoryProcessedEvents,
    PaymentStatus,
    make_gateway,
    process_webhook,
)
from payments.testing import TEST_API_KEY, TEST_WEBHOOK_SECRET

pytestmark = pytest.mark.localstripe


class WebhookApp:
    """What market's webhook view does, minus Flask: verify, apply once, save."""

    def __init__(self, gateway):
        self.gateway = gateway
        self.payments = {}
        self.processed = InMemoryProcessedEvents()
        self.deliveries = []  # (body, signature header, status code)
        self.lock = threading.Lock()

    def handle(self, body, header):
        with self.lock:
            response = process_webhook(
                self.gateway,
                body,
                header,
                processed=self.processed,
                load_payment=self.payments.get,
                save_payment=lambda p: self.payments.__setitem__(p.reference, p),
            )
            self.deliveries.append((body, header, response.status_code))
            return response

    def wait_for(self, fragment: bytes, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for delivery in self.deliveries:
                    if fragment in delivery[0]:
                        return delivery
            time.sleep(0.05)
        raise AssertionError(f"no webhook containing {fragment!r} arrived")


@pytest.fixture
def webhook_app(backend_stripe, localstripe_url):
    app = WebhookApp(backend_stripe)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            response = app.handle(body, self.headers.get("Stripe-Signature"))
            payload = response.body.encode()
            self.send_response(response.status_code)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    form = urllib.parse.urlencode(
        {
            "url": f"http://127.0.0.1:{server.server_address[1]}/payments/stripe/webhook",
            "secret": TEST_WEBHOOK_SECRET,
        }
    ).encode()
    with urllib.request.urlopen(f"{localstripe_url}/_config/webhooks/meguri", form, timeout=5):
        pass
    yield app
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def backend_stripe(localstripe_url):
    return make_gateway(
        "stripe",
        api_key=TEST_API_KEY,
        webhook_secret=TEST_WEBHOOK_SECRET,
        platform_fee_rate="0.05",
        api_base=localstripe_url,
    )


def test_amount_at_stripe_is_the_server_computed_total(backend_stripe, make_order, localstripe_url):
    payment = backend_stripe.create_payment(make_order(1234))
    client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": localstripe_url})
    intent = client.v1.payment_intents.retrieve(payment.reference)
    assert (intent.amount, intent.currency) == (13574, "jpy")
    assert intent.metadata["meguri_order_id"] == payment.order_id


def test_succeeded_webhook_marks_the_order_paid_once(webhook_app, backend_stripe, make_order):
    payment = backend_stripe.create_payment(make_order())
    webhook_app.payments[payment.reference] = payment  # the app's row, still awaiting
    backend_stripe.confirm(payment, "pm_card_visa")

    body, header, status = webhook_app.wait_for(payment.reference.encode())
    assert status == 200
    assert b"payment_intent.succeeded" in body
    assert webhook_app.payments[payment.reference].status is PaymentStatus.PAID

    # The same delivery again (Stripe retries, an attacker replays): no second effect.
    stored = webhook_app.payments[payment.reference]
    replay = webhook_app.handle(body, header)
    assert (replay.status_code, replay.body) == (200, "replay")
    assert webhook_app.payments[payment.reference] is stored


def test_tampered_delivery_is_refused(webhook_app, backend_stripe, make_order):
    payment = backend_stripe.create_payment(make_order())
    webhook_app.payments[payment.reference] = payment
    backend_stripe.confirm(payment, "pm_card_visa")
    body, header, _ = webhook_app.wait_for(payment.reference.encode())

    webhook_app.payments[payment.reference] = payment  # pretend it had not arrived yet
    forged = body.replace(b"payment_intent.succeeded", b"payment_intent.canceled")
    response = webhook_app.handle(forged, header)
    assert response.status_code == 400
    assert webhook_app.payments[payment.reference] is payment


def test_declined_card_fails_and_the_failure_webhook_is_applied(
    webhook_app, backend_stripe, make_order
):
    payment = backend_stripe.create_payment(make_order())
    webhook_app.payments[payment.reference] = payment
    with pytest.raises(GatewayError) as info:
        backend_stripe.confirm(payment, "pm_card_chargeCustomerFail")
    assert info.value.code == "card_declined"
    assert backend_stripe.retrieve(payment).status is PaymentStatus.FAILED

    body, _, status = webhook_app.wait_for(payment.reference.encode())
    assert status == 200 and b"payment_intent.payment_failed" in body
    assert webhook_app.payments[payment.reference].status is PaymentStatus.FAILED
