"""Applying provider events to a Payment: once per event id, in any order.

`apply_event` is a pure, monotone transition (a late `succeeded` cannot undo a refund);
`apply_once` adds the once-per-event-id guard over the app's ProcessedEvents storage;
`process_webhook` is the whole webhook request, framework-free, for the app's view.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from payments.domain import Payment, PaymentStatus
from payments.errors import WebhookError


@dataclass(frozen=True)
class Dispute:
    """A card dispute (chargeback) the payer's bank opened on a payment."""

    status: str  # the provider's: needs_response, under_review, won, lost, warning_* ...
    amount_yen: int
    reason: str = ""  # e.g. fraudulent, product_not_received
    respond_by: int | None = None  # unix seconds: evidence is due before this

    @property
    def closed(self) -> bool:
        return self.status in ("won", "lost", "warning_closed")

    @property
    def lost(self) -> bool:
        return self.status == "lost"


@dataclass(frozen=True)
class AccountUpdate:
    """A payee's connected account changed (Stripe `account.updated`): can it take card
    payments yet?"""

    account_id: str
    charges_enabled: bool
    payouts_enabled: bool = False


@dataclass(frozen=True)
class PaymentEvent:
    """A verified provider event, reduced to what moves a Payment."""

    id: str  # provider event id (evt_...), the idempotency key for processing
    type: str  # provider event type, e.g. payment_intent.succeeded
    created: int  # unix seconds, provider clock
    reference: str | None  # PaymentIntent id the event is about
    order_id: str | None  # from our metadata; None when the object is not Meguri's
    status: PaymentStatus | None  # None: an event type that does not move a payment
    refunded_yen: int = 0  # cumulative amount refunded so far (charge.refunded)
    dispute: Dispute | None = None  # charge.dispute.*: does not move the payment itself
    account: AccountUpdate | None = None  # account.updated: about a payee, not a payment


def apply_event(payment: Payment, event: PaymentEvent) -> Payment:
    """The payment after `event`, tolerant of replays and out-of-order delivery."""
    if event.reference != payment.reference:
        raise ValueError(f"event {event.id} is about {event.reference}, not {payment.reference}")
    if event.status is None:
        return payment

    refunded = max(payment.refunded_yen, min(event.refunded_yen, payment.amount_yen))
    status = payment.status
    new = event.status
    if new in (PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED):
        # The cumulative refunded amount decides, not the label on this one event.
        new = (
            PaymentStatus.REFUNDED
            if refunded >= payment.amount_yen
            else PaymentStatus.PARTIALLY_REFUNDED
        )
    if new is PaymentStatus.CANCELED and not status.is_open:
        new = status  # a paid payment is refunded, never canceled
    newer = payment.last_event_at is None or event.created >= payment.last_event_at
    if new.rank > status.rank or (new.rank == status.rank and new is not status and newer):
        status = new

    return dataclasses.replace(
        payment,
        status=status,
        refunded_yen=refunded,
        last_event_at=max(payment.last_event_at or 0, event.created),
    )


class ProcessedEvents(Protocol):
    """The app's record of handled provider event ids (a table with a unique id column,
    written in the same transaction as the payment row, so a rollback forgets both)."""

    def claim(self, event_id: str) -> bool:
        """Record `event_id`; False if it was already recorded (a replay)."""
        ...


class InMemoryProcessedEvents:
    """ProcessedEvents for tests and single-process tools."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self._seen:
                return False
            self._seen.add(event_id)
            return True

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._seen


@dataclass(frozen=True)
class WebhookOutcome:
    applied: bool
    payment: Payment | None
    reason: str  # "applied" | "replay" | "ignored" | "unknown_payment"


def apply_once(event: PaymentEvent, payment: Payment, processed: ProcessedEvents) -> WebhookOutcome:
    """Apply `event` unless its id was already processed."""
    if not processed.claim(event.id):
        return WebhookOutcome(applied=False, payment=payment, reason="replay")
    updated = apply_event(payment, event)
    return WebhookOutcome(applied=True, payment=updated, reason="applied")


@dataclass(frozen=True)
class WebhookResponse:
    status_code: int
    body: str
    outcome: WebhookOutcome | None = None


@runtime_checkable
class ParsesWebhooks(Protocol):
    """A backend whose provider reports changes by signed webhooks (a capability of
    ``payments.gateway``; the invoice backend has none)."""

    def parse_webhook(self, payload: bytes, sig_header: str | None) -> PaymentEvent: ...


def process_webhook(
    gateway: ParsesWebhooks,
    payload: bytes,
    sig_header: str | None,
    *,
    processed: ProcessedEvents,
    load_payment: Callable[[str], Payment | None],
    save_payment: Callable[[Payment], None],
    record_dispute: Callable[[Payment, Dispute], None] | None = None,
    record_account: Callable[[AccountUpdate], None] | None = None,
) -> WebhookResponse:
    """One webhook request: verify, look up, apply once, save. The caller commits when the
    status is 200 and rolls back otherwise.

    400: bad signature or payload; nothing changes.
    409: a Meguri payment we do not know yet (the provider retries later).
    200: applied, replayed, or not about a Meguri payment.
    A dispute (chargeback) event leaves the payment as it is and goes, once, to
    `record_dispute`, for the app to put the order on hold or release it; an
    `account.updated` goes, once, to `record_account` (a payee's card payouts).
    """
    try:
        event = gateway.parse_webhook(payload, sig_header)
    except WebhookError as exc:
        return WebhookResponse(400, exc.message)
    if event.account is not None and record_account is not None:
        if not processed.claim(event.id):
            return WebhookResponse(200, "replay")
        record_account(event.account)
        return WebhookResponse(200, "applied")
    if (event.status is None and event.dispute is None) or event.reference is None:
        return WebhookResponse(200, "ignored")
    payment = load_payment(event.reference)
    if payment is None:
        if event.order_id is None:
            return WebhookResponse(200, "ignored: not a Meguri payment")
        return WebhookResponse(409, "unknown payment; retry later")
    outcome = apply_once(event, payment, processed)
    if outcome.applied and outcome.payment != payment:
        save_payment(outcome.payment)
    if outcome.applied and event.dispute is not None and record_dispute is not None:
        record_dispute(outcome.payment, event.dispute)
    return WebhookResponse(200, outcome.reason, outcome)
