"""Stripe webhooks: signature checked before anything, each event applied once, any order."""

import time

import pytest

import payments
from payments import (
    InMemoryProcessedEvents,
    Payment,
    PaymentStatus,
    WebhookPayloadError,
    WebhookSignatureError,
    make_gateway,
    process_webhook,
)
from payments.testing import (
    TEST_API_KEY,
    TEST_WEBHOOK_SECRET,
    RecordingHTTPClient,
    sign_webhook,
    stripe_event,
)

PI = "pi_meguri_1"
NOW = int(time.time())


@pytest.fixture
def gateway():
    # No network: the recording client would answer any API call, and none is expected.
    return make_gateway(
        "stripe",
        api_key=TEST_API_KEY,
        webhook_secret=TEST_WEBHOOK_SECRET,
        http_client=RecordingHTTPClient(),
    )


class Store:
    """The app's side: payment rows and processed event ids."""

    def __init__(self, *payments):
        self.payments = {p.reference: p for p in payments}
        self.processed = InMemoryProcessedEvents()
        self.saves = 0

    def load(self, reference):
        return self.payments.get(reference)

    def save(self, payment):
        self.saves += 1
        self.payments[payment.reference] = payment

    def deliver(self, gateway, payload, header=None):
        header = sign_webhook(payload) if header is None else header
        return process_webhook(
            gateway,
            payload,
            header,
            processed=self.processed,
            load_payment=self.load,
            save_payment=self.save,
        )


def payment(status=PaymentStatus.AWAITING_PAYMENT, **kw):
    return Payment(
        order_id="ORD-1",
        attempt=1,
        backend="stripe",
        reference=PI,
        status=status,
        amount_yen=11000,
        platform_fee_yen=550,
        payer_id="org-buyer",
        payee_id="org-seller",
        **kw,
    )


def intent_event(kind, created=NOW, event_id=None):
    return stripe_event(
        f"payment_intent.{kind}",
        {
            "id": PI,
            "object": "payment_intent",
            "amount": 11000,
            "metadata": {"meguri_order_id": "ORD-1"},
        },
        created=created,
        event_id=event_id,
    )


def refund_event(amount_refunded, created=NOW, event_id=None):
    return stripe_event(
        "charge.refunded",
        {
            "id": "ch_1",
            "object": "charge",
            "payment_intent": PI,
            "amount": 11000,
            "amount_refunded": amount_refunded,
        },
        created=created,
        event_id=event_id,
    )


def test_succeeded_event_marks_the_payment_paid(gateway):
    store = Store(payment())
    response = store.deliver(gateway, intent_event("succeeded"))
    assert response.status_code == 200
    assert store.payments[PI].status is PaymentStatus.PAID


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=123",
        "garbage",
        sign_webhook(b"another body"),
        sign_webhook(intent_event("succeeded", event_id="evt_x"), secret="whsec_other"),
        sign_webhook(intent_event("succeeded", event_id="evt_x"), timestamp=NOW - 3600),
        sign_webhook(intent_event("succeeded", event_id="evt_x"), timestamp=NOW + 3600),
    ],
    ids=["missing", "no-v1", "garbage", "other-body", "other-secret", "too-old", "in-future"],
)
def test_bad_signature_is_400_and_changes_nothing(gateway, header):
    store = Store(payment())
    response = store.deliver(gateway, intent_event("succeeded", event_id="evt_x"), header)
    assert response.status_code == 400
    assert store.payments[PI].status is PaymentStatus.AWAITING_PAYMENT
    assert store.saves == 0
    assert "evt_x" not in store.processed  # a later, genuine delivery still applies


def test_parse_webhook_raises_signature_error(gateway):
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(b"{}", None)


def test_signed_body_that_is_not_an_event_is_400(gateway):
    with pytest.raises(WebhookPayloadError):
        gateway.parse_webhook(b"not json", sign_webhook(b"not json"))
    store = Store(payment())
    body = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
    assert store.deliver(gateway, body).status_code == 400


def test_replayed_event_has_no_second_effect(gateway):
    store = Store(payment(PaymentStatus.PAID))
    body = refund_event(3000, event_id="evt_refund")
    header = sign_webhook(body)
    first = store.deliver(gateway, body, header)
    assert store.payments[PI].refunded_yen == 3000
    saves = store.saves
    again = store.deliver(gateway, body, header)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.body == "replay"
    assert store.saves == saves
    assert store.payments[PI].refunded_yen == 3000


def test_late_succeeded_does_not_resurrect_a_refunded_payment(gateway):
    store = Store(payment(PaymentStatus.PAID))
    store.deliver(gateway, refund_event(11000, created=NOW))
    store.deliver(gateway, intent_event("succeeded", created=NOW - 5))
    assert store.payments[PI].status is PaymentStatus.REFUNDED
    assert store.payments[PI].refunded_yen == 11000


def test_refund_events_out_of_order_keep_the_larger_refund(gateway):
    store = Store(payment(PaymentStatus.PAID))
    store.deliver(gateway, refund_event(5000, created=NOW))
    store.deliver(gateway, refund_event(2000, created=NOW - 10))  # older, smaller
    assert store.payments[PI].refunded_yen == 5000
    assert store.payments[PI].status is PaymentStatus.PARTIALLY_REFUNDED


def test_failure_after_success_is_ignored(gateway):
    store = Store(payment())
    store.deliver(gateway, intent_event("succeeded", created=NOW))
    store.deliver(gateway, intent_event("payment_failed", created=NOW - 1))
    store.deliver(gateway, intent_event("canceled", created=NOW + 1))
    assert store.payments[PI].status is PaymentStatus.PAID


def test_between_processing_and_failed_the_newer_event_wins(gateway):
    store = Store(payment())
    store.deliver(gateway, intent_event("processing", created=NOW))
    store.deliver(gateway, intent_event("payment_failed", created=NOW - 1))  # stale
    assert store.payments[PI].status is PaymentStatus.PROCESSING
    store.deliver(gateway, intent_event("payment_failed", created=NOW + 1))
    assert store.payments[PI].status is PaymentStatus.FAILED
    store.deliver(gateway, intent_event("succeeded", created=NOW + 2))  # paid on retry
    assert store.payments[PI].status is PaymentStatus.PAID


def test_succeeded_before_processing_stays_paid(gateway):
    store = Store(payment())
    store.deliver(gateway, intent_event("succeeded", created=NOW + 1))
    store.deliver(gateway, intent_event("processing", created=NOW))
    assert store.payments[PI].status is PaymentStatus.PAID


def test_event_for_an_unknown_meguri_payment_asks_for_a_retry(gateway):
    store = Store()
    response = store.deliver(gateway, intent_event("succeeded", event_id="evt_early"))
    assert response.status_code == 409
    assert "evt_early" not in store.processed  # the retry will be applied


def test_events_that_are_not_ours_are_acknowledged_and_ignored(gateway):
    store = Store(payment())
    foreign = stripe_event("payment_intent.succeeded", {"id": "pi_other", "metadata": {}})
    other_type = stripe_event("customer.created", {"id": "cus_1"})
    assert store.deliver(gateway, foreign).status_code == 200
    assert store.deliver(gateway, other_type).status_code == 200
    assert store.saves == 0


def test_a_dispute_leaves_the_payment_and_reaches_the_app_once(gateway):
    store = Store(payment(PaymentStatus.PAID))
    disputes = []
    body = stripe_event(
        "charge.dispute.created",
        {
            "id": "dp_1",
            "object": "dispute",
            "payment_intent": PI,
            "amount": 11000,
            "reason": "fraudulent",
            "status": "needs_response",
            "evidence_details": {"due_by": NOW + 86400},
            "metadata": {},
        },
        event_id="evt_dispute_1",
    )

    def deliver():
        return process_webhook(
            gateway,
            body,
            sign_webhook(body),
            processed=store.processed,
            load_payment=store.load,
            save_payment=store.save,
            record_dispute=lambda p, d: disputes.append((p.reference, d)),
        )

    assert deliver().body == "applied" and deliver().body == "replay"
    ((reference, dispute),) = disputes
    assert reference == PI and (dispute.status, dispute.amount_yen, dispute.reason) == (
        "needs_response",
        11000,
        "fraudulent",
    )
    assert dispute.respond_by == NOW + 86400 and not dispute.closed
    assert store.saves == 0 and store.payments[PI].status is PaymentStatus.PAID


def test_a_clock_a_minute_ahead_is_within_the_tolerance(gateway):
    store = Store(payment())
    body = intent_event("succeeded")
    response = store.deliver(gateway, body, sign_webhook(body, timestamp=int(time.time()) + 60))
    assert response.status_code == 200
    assert store.payments[PI].status is PaymentStatus.PAID


def test_capabilities_are_declared_not_probed(gateway):
    """The app decides what the site offers (payout onboarding, reconciliation, the webhook
    route, test-mode card payments) by the capability protocols: the Stripe backend has all
    of them, the invoice backend none, so on an invoice-only site those pages answer 404."""
    capabilities = (
        payments.OnboardsPayees,
        payments.RetrievesPayments,
        payments.ParsesWebhooks,
        payments.ConfirmsTestPayments,
    )
    invoice = make_gateway("invoice")
    assert [isinstance(gateway, c) for c in capabilities] == [True] * 4
    assert [isinstance(invoice, c) for c in capabilities] == [False] * 4
    assert isinstance(invoice, payments.PaymentGateway)
    assert isinstance(gateway, payments.PaymentGateway)
