"""Card payments through Stripe: PaymentIntents in JPY, Connect destination charges to the
payee's Express account with the platform fee as application fee, refunds, onboarding links,
and signed webhooks turned into PaymentEvents.

Every call goes through this instance's StripeClient (no module-global API key), and every
create carries an idempotency key derived from the order, so a retried request never charges
twice.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from decimal import Decimal
from typing import Any

import stripe

from payments.domain import (
    BillableOrder,
    OnboardingLink,
    Party,
    Payment,
    PaymentStatus,
    after_refund,
    checked_refund_amount,
)
from payments.errors import (
    GatewayError,
    InvalidPaymentInput,
    InvalidTransition,
    NothingToPay,
    WebhookPayloadError,
    WebhookSignatureError,
)
from payments.events import AccountUpdate, Dispute, PaymentEvent
from payments.money import Direction, Totals, rate_fraction

CURRENCY = "jpy"  # zero-decimal: amount 1000 is ¥1,000
MIN_CARD_AMOUNT_YEN = 50  # Stripe's minimum charge in JPY
ORDER_METADATA_KEY = "meguri_order_id"

_INTENT_STATUS = {
    "requires_payment_method": PaymentStatus.AWAITING_PAYMENT,
    "requires_confirmation": PaymentStatus.AWAITING_PAYMENT,
    "requires_action": PaymentStatus.AWAITING_PAYMENT,
    "processing": PaymentStatus.PROCESSING,
    "requires_capture": PaymentStatus.PROCESSING,
    "succeeded": PaymentStatus.PAID,
    "canceled": PaymentStatus.CANCELED,
}

# A dispute's object is the Dispute (payment_intent, amount, reason, status, evidence_details).
_DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed")
_EVENT_STATUS = {
    "payment_intent.processing": PaymentStatus.PROCESSING,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.succeeded": PaymentStatus.PAID,
    "payment_intent.canceled": PaymentStatus.CANCELED,
    "charge.refunded": PaymentStatus.REFUNDED,  # cumulative amount decides partial / full
}


def idempotency_key(order: BillableOrder, action: str) -> str:
    return f"meguri-order-{order.order_id}-attempt-{order.attempt}-{action}"


class StripeGateway:
    name = "stripe"

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        platform_fee_rate: object = Decimal(0),
        *,
        api_base: str | None = None,
        http_client: stripe.HTTPClient | None = None,
        max_network_retries: int = 2,
        webhook_tolerance: int = 300,
        settle_on_behalf_of: bool = True,
        country: str = "JP",
    ) -> None:
        if not api_key:
            raise InvalidPaymentInput("api_key", "Stripe の API キーがありません。")
        if not webhook_secret:
            raise InvalidPaymentInput("webhook_secret", "Webhook の署名シークレットがありません。")
        self.platform_fee_rate = rate_fraction(platform_fee_rate)
        self._webhook_secret = webhook_secret
        self._webhook_tolerance = webhook_tolerance
        # The payee is the seller of record (it issues the invoice), so by default it is the
        # settlement merchant too: on_behalf_of alongside transfer_data[destination].
        self._settle_on_behalf_of = settle_on_behalf_of
        self._country = country
        base_addresses = {"api": api_base, "connect": api_base} if api_base else None
        self._client = stripe.StripeClient(
            api_key,
            base_addresses=base_addresses,
            http_client=http_client,
            max_network_retries=max_network_retries,
        )

    # -- payments ------------------------------------------------------------------------

    def quote(self, order: BillableOrder) -> Totals:
        return order.totals(self.platform_fee_rate)

    def create_payment(self, order: BillableOrder) -> Payment:
        totals = self.quote(order)
        if totals.direction is Direction.NOTHING_DUE:
            raise NothingToPay("この注文の支払額は 0 円です。決済は作成されません。")
        if totals.total_yen < MIN_CARD_AMOUNT_YEN:
            raise InvalidPaymentInput(
                "amount_yen",
                f"カード決済は {MIN_CARD_AMOUNT_YEN} 円以上からです。請求書払いをご利用ください。",
            )
        payer, payee = order.payer_and_payee(totals)
        params: dict[str, Any] = {
            "amount": totals.total_yen,
            "currency": CURRENCY,
            "metadata": {
                ORDER_METADATA_KEY: order.order_id,
                "meguri_attempt": str(order.attempt),
                "meguri_payer_id": payer.id,
                "meguri_payee_id": payee.id,
            },
        }
        destination = payee.connected_account_id
        if destination:
            params["transfer_data"] = {"destination": destination}
            params["application_fee_amount"] = totals.platform_fee_total_yen
            if self._settle_on_behalf_of:
                params["on_behalf_of"] = destination
        intent = self._call(
            self._client.v1.payment_intents.create,
            params,
            {"idempotency_key": idempotency_key(order, "payment-intent")},
        )
        return Payment(
            order_id=order.order_id,
            attempt=order.attempt,
            backend=self.name,
            reference=intent["id"],
            status=_intent_status(intent),
            amount_yen=int(intent["amount"]),
            platform_fee_yen=totals.platform_fee_total_yen if destination else 0,
            payer_id=payer.id,
            payee_id=payee.id,
            client_secret=intent.get("client_secret"),
            destination_account_id=destination,
            totals=totals,
        )

    def confirm(self, payment: Payment, payment_method: str = "pm_card_visa") -> Payment:
        """Server-side confirmation with a test payment method: for tests and operators.
        In the app, the payer's browser confirms with Stripe.js and `client_secret`."""
        self._call(
            self._client.v1.payment_intents.update,
            payment.reference,
            {"payment_method": payment_method},
            {"idempotency_key": f"meguri-{payment.reference}-pm-{payment_method}"},
        )
        intent = self._call(
            self._client.v1.payment_intents.confirm,
            payment.reference,
            None,
            {"idempotency_key": f"meguri-{payment.reference}-confirm-{payment_method}"},
        )
        return dataclasses.replace(payment, status=_intent_status(intent))

    def retrieve(self, payment: Payment) -> Payment:
        """Re-read the PaymentIntent (reconciliation when a webhook was missed). Only moves
        the status forward, like a webhook would."""
        intent = self._call(self._client.v1.payment_intents.retrieve, payment.reference)
        status = _intent_status(intent)
        if status.rank > payment.status.rank:
            return dataclasses.replace(payment, status=status)
        return payment

    def cancel(self, payment: Payment) -> Payment:
        if payment.status is PaymentStatus.CANCELED:
            return payment
        if not payment.status.is_open:
            raise InvalidTransition("支払済みの決済は取り消せません。返金してください。")
        intent = self._call(
            self._client.v1.payment_intents.cancel,
            payment.reference,
            None,
            {"idempotency_key": f"meguri-{payment.reference}-cancel"},
        )
        return dataclasses.replace(payment, status=_intent_status(intent))

    def refund(self, payment: Payment, amount_yen: int | None = None) -> Payment:
        amount = checked_refund_amount(payment, amount_yen)
        params: dict[str, Any] = {
            "payment_intent": payment.reference,
            "amount": amount,
            "metadata": {ORDER_METADATA_KEY: payment.order_id},
        }
        if payment.destination_account_id:
            # Take the money back from the payee's account and return the platform fee in
            # proportion; otherwise the platform alone would fund the refund.
            params["reverse_transfer"] = True
            params["refund_application_fee"] = True
        # Keyed by what was refunded before: a retry repeats nothing, a second partial
        # refund gets its own key.
        key = f"meguri-{payment.reference}-refund-{payment.refunded_yen}-{amount}"
        self._call(self._client.v1.refunds.create, params, {"idempotency_key": key})
        return after_refund(payment, amount)

    # -- Connect onboarding ---------------------------------------------------------------

    def onboarding_link(
        self, organisation: Party, *, refresh_url: str, return_url: str
    ) -> OnboardingLink:
        """Create the organisation's Express account if it has none, then a fresh
        account_onboarding link. The app stores `account_id` on the organisation."""
        account_id = organisation.connected_account_id
        if not account_id:
            account = self._call(
                self._client.v1.accounts.create,
                {
                    "type": "express",
                    "country": self._country,
                    "business_type": "company",
                    "capabilities": {
                        "card_payments": {"requested": True},
                        "transfers": {"requested": True},
                    },
                    "metadata": {"meguri_organisation_id": organisation.id},
                },
                {"idempotency_key": f"meguri-organisation-{organisation.id}-account"},
            )
            account_id = account["id"]
        link = self._call(
            self._client.v1.account_links.create,
            {
                "account": account_id,
                "type": "account_onboarding",
                "refresh_url": refresh_url,
                "return_url": return_url,
            },
            # Links are single-use: a key per call, so a retry of this call is safe but a
            # later request gets a fresh link rather than the stored, expired one.
            {"idempotency_key": f"meguri-{account_id}-account-link-{uuid.uuid4().hex}"},
        )
        return OnboardingLink(
            account_id=account_id, url=link["url"], expires_at=int(link["expires_at"])
        )

    # -- webhooks -------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, sig_header: str | None) -> PaymentEvent:
        """Verify the Stripe-Signature (t=..., v1=HMAC-SHA256 of "t.payload") and read the
        event. Raises WebhookSignatureError / WebhookPayloadError: answer 400, change nothing."""
        if not sig_header:
            raise WebhookSignatureError("Stripe-Signature ヘッダーがありません。")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookPayloadError("Webhook の本文が UTF-8 ではありません。") from None
        try:
            stripe.WebhookSignature.verify_header(
                text, sig_header, self._webhook_secret, self._webhook_tolerance
            )
        except stripe.SignatureVerificationError:
            raise WebhookSignatureError("Webhook の署名を検証できませんでした。") from None
        # Stripe's check refuses only old timestamps; one from the future is as suspect (a
        # signed request held back for replay by someone whose clock, or secret, is off).
        if _signed_at(sig_header) > time.time() + self._webhook_tolerance:
            raise WebhookSignatureError("Webhook の署名時刻が未来です。")
        try:
            data = json.loads(text)
            event_id, event_type = str(data["id"]), str(data["type"])
            created = int(data["created"])
            obj = data["data"]["object"]
            if not isinstance(obj, dict):
                raise TypeError("data.object")
        except (ValueError, KeyError, TypeError):
            raise WebhookPayloadError("Stripe のイベントとして読めない本文です。") from None
        return _to_payment_event(event_id, event_type, created, obj)

    # -- internals ------------------------------------------------------------------------

    def _call(self, method, *args):
        try:
            return method(*args)
        except stripe.CardError as exc:
            raise GatewayError(
                f"カードが利用できませんでした（{exc.user_message or exc.code}）。", exc.code
            ) from exc
        except stripe.InvalidRequestError as exc:
            raise GatewayError(
                f"決済の要求が受け付けられませんでした: {exc.user_message or exc}", exc.code
            ) from exc
        except stripe.StripeError as exc:
            raise GatewayError(
                "決済サービスに接続できませんでした。しばらくしてからお試しください。", exc.code
            ) from exc


def _intent_status(intent: Any) -> PaymentStatus:
    status = intent["status"]
    if status == "requires_payment_method" and intent.get("last_payment_error"):
        return PaymentStatus.FAILED
    return _INTENT_STATUS.get(status, PaymentStatus.AWAITING_PAYMENT)


def _to_payment_event(event_id: str, event_type: str, created: int, obj: dict) -> PaymentEvent:
    status = _EVENT_STATUS.get(event_type)
    metadata = obj.get("metadata") or {}
    dispute = account = None
    if event_type == "account.updated":
        reference = None
        account = AccountUpdate(
            account_id=str(obj.get("id") or ""),
            charges_enabled=bool(obj.get("charges_enabled")),
            payouts_enabled=bool(obj.get("payouts_enabled")),
        )
    elif event_type.startswith("payment_intent."):
        reference = obj.get("id")
    elif event_type in _DISPUTE_EVENTS:
        reference = obj.get("payment_intent")
        due = (obj.get("evidence_details") or {}).get("due_by")
        dispute = Dispute(
            status=str(obj.get("status") or ""),
            amount_yen=int(obj.get("amount") or 0),
            reason=str(obj.get("reason") or ""),
            respond_by=int(due) if due else None,
        )
    elif event_type.startswith("charge."):
        reference = obj.get("payment_intent")
    else:
        reference = None
    return PaymentEvent(
        id=event_id,
        type=event_type,
        created=created,
        reference=reference,
        order_id=metadata.get(ORDER_METADATA_KEY),
        status=status,
        refunded_yen=int(obj.get("amount_refunded") or 0) if event_type == "charge.refunded" else 0,
        dispute=dispute,
        account=account,
    )


def _signed_at(sig_header: str) -> int:
    """The ``t=`` of a Stripe-Signature header that has passed the signature check."""
    for item in sig_header.split(","):
        key, _sep, value = item.strip().partition("=")
        if key == "t":
            return int(value)
    raise WebhookSignatureError("Webhook の署名に時刻がありません。")
