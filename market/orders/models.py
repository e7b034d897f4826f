"""Orders between two organisations: the order, its recorded transitions, deliveries,
payment attempts and the provider events already applied.

Money columns are integer yen; quantities are Numeric like the listing they come from.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.accounts.models import Organisation, User
from market.catalog.models import Listing
from market.db import Base, utcnow


class OrderStatus(enum.StrEnum):
    requested = "requested"
    accepted = "accepted"
    invoiced = "invoiced"  # a payment is open: invoice issued or PaymentIntent created
    paid = "paid"
    in_delivery = "in_delivery"
    delivered = "delivered"
    completed = "completed"
    declined = "declined"
    cancelled = "cancelled"
    disputed = "disputed"


class TransportArrangement(enum.StrEnum):
    receiver_collects = "receiver_collects"  # 引取り: the receiving side hauls
    supplier_delivers = "supplier_delivers"  # 持込み: the supplying side hauls


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    # The listing owner answers the request; the other side asked.
    requester_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    responder_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # Buyer receives the material, seller supplies it; who pays follows the sign of the total.
    buyer_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    seller_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16), default="listing")  # listing | proposal
    proposal_ref: Mapped[str | None] = mapped_column(String(64))

    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, native_enum=False, length=16), default=OrderStatus.requested, index=True
    )
    status_before_dispute: Mapped[str | None] = mapped_column(String(16))

    description: Mapped[str] = mapped_column(String(200))  # listing title at request time
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit: Mapped[str] = mapped_column(String(8))
    # Snapshot of the listing's price when requested: the server's figure, never the client's.
    unit_price_yen: Mapped[int] = mapped_column(Integer)
    transport_arrangement: Mapped[TransportArrangement] = mapped_column(
        Enum(TransportArrangement, native_enum=False, length=24),
        default=TransportArrangement.receiver_collects,
    )
    # Charged by the seller to the buyer for hauling (set on acceptance); 0 = none.
    transport_fee_yen: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    payment_attempt: Mapped[int] = mapped_column(Integer, default=0)

    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    listing: Mapped[Listing] = relationship()
    buyer: Mapped[Organisation] = relationship(foreign_keys=[buyer_org_id])
    seller: Mapped[Organisation] = relationship(foreign_keys=[seller_org_id])
    requester: Mapped[Organisation] = relationship(foreign_keys=[requester_org_id])
    responder: Mapped[Organisation] = relationship(foreign_keys=[responder_org_id])
    transitions: Mapped[list[OrderTransition]] = relationship(
        back_populates="order", order_by="OrderTransition.id", cascade="all, delete-orphan"
    )
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="order", order_by="Delivery.id", cascade="all, delete-orphan"
    )
    payments: Mapped[list[OrderPayment]] = relationship(
        back_populates="order", order_by="OrderPayment.attempt", cascade="all, delete-orphan"
    )
    refunds: Mapped[list[OrderRefund]] = relationship(
        back_populates="order", order_by="OrderRefund.id", cascade="all, delete-orphan"
    )

    @property
    def delivered_quantity(self) -> Decimal:
        return sum((Decimal(d.quantity) for d in self.deliveries), Decimal(0))

    @property
    def remaining_quantity(self) -> Decimal:
        return Decimal(self.quantity) - self.delivered_quantity

    @property
    def current_payment(self) -> OrderPayment | None:
        return self.payments[-1] if self.payments else None

    def party_ids(self) -> set[int]:
        return {self.buyer_org_id, self.seller_org_id}


class OrderTransition(Base):
    """Who moved the order from which state to which, and when (the order's history)."""

    __tablename__ = "order_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: system
    actor_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="transitions")
    actor: Mapped[User | None] = relationship()
    actor_org: Mapped[Organisation | None] = relationship()


class Delivery(Base):
    """One load or batch handed over (partial deliveries add up to the order quantity)."""

    __tablename__ = "order_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    delivered_on: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(100), default="")  # e.g. 搬出伝票 / manifest no.
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_by_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="deliveries")
    recorded_by: Mapped[User | None] = relationship()


class OrderPayment(Base):
    """One payment attempt as the payments package returned it (``payments.Payment``)."""

    __tablename__ = "order_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    backend: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(100), unique=True)  # invoice no. or pi_...
    status: Mapped[str] = mapped_column(String(24))
    amount_yen: Mapped[int] = mapped_column(Integer)
    platform_fee_yen: Mapped[int] = mapped_column(Integer, default=0)
    refunded_yen: Mapped[int] = mapped_column(Integer, default=0)
    payer_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    payee_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    client_secret: Mapped[str | None] = mapped_column(String(200))
    destination_account_id: Mapped[str | None] = mapped_column(String(64))
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    last_event_at: Mapped[int | None] = mapped_column(BigInteger)
    # The issued invoice as printed (issuer, recipient, dates, lines), so it never changes later.
    invoice: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    order: Mapped[Order] = relationship(back_populates="payments")


class OrderRefund(Base):
    """Money the payee returned to the payer on a paid order, in full or in part, and why;
    on the invoice backend with the 返還インボイス issued for it (as printed, in JSON)."""

    __tablename__ = "order_refunds"
    __table_args__ = (
        # A form (or API client) sends the same key again on a double submit or a retry:
        # the second finds the first refund instead of making another.
        UniqueConstraint("order_id", "idempotency_key"),
        UniqueConstraint("payment_id", "sequence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("order_payments.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)  # 1, 2, … per payment
    backend: Mapped[str] = mapped_column(String(16))
    amount_yen: Mapped[int] = mapped_column(Integer)  # tax included
    reason: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    credit_note_number: Mapped[str | None] = mapped_column(String(100), unique=True)
    credit_note: Mapped[dict | None] = mapped_column(JSON)
    refunded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    refunded_by_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="refunds")
    payment: Mapped[OrderPayment] = relationship()
    refunded_by: Mapped[User | None] = relationship()
    refunded_by_org: Mapped[Organisation] = relationship()


class ProcessedWebhookEvent(Base):
    """Provider event ids already applied; the unique id makes each apply exactly once."""

    __tablename__ = "processed_webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ListingOrderTerms(Base):
    """How a listing's owner takes requests: with instant acceptance a request that fits the
    open quantity is accepted (and reserved) at once."""

    __tablename__ = "listing_order_terms"

    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True
    )
    instant_accept: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class PlatformFeeStatement(Base):
    """The platform's monthly invoice to a payee for the fees on its invoice-paid orders
    (card payments keep the fee at source). Issued once per organisation and month; the
    invoice is stored as issued, like an order's."""

    __tablename__ = "platform_fee_statements"
    __table_args__ = (UniqueConstraint("organisation_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    month: Mapped[dt.date] = mapped_column(Date)  # the first day of the month (JST)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    total_yen: Mapped[int] = mapped_column(Integer)
    orders: Mapped[list] = mapped_column(JSON)  # the order ids it covers
    invoice: Mapped[dict] = mapped_column(JSON)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship()
