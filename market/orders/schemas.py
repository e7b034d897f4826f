"""What the orders API takes and answers: its bodies, query and answers, declared once
(market/api/contract.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from market.api.contract import Answer, Body, Id, Line, Quantity, Query, Text, Url, UtcTime, Yen
from market.orders.models import OrderStatus, TransportArrangement

Note = Annotated[Text, Field(max_length=2000)]


class OrderRequest(Body):
    """An order on a listing; the price is the listing's, never the caller's."""

    listing_id: Id
    quantity: Quantity
    transport_arrangement: TransportArrangement = TransportArrangement.receiver_collects
    note: Note = ""


class OrderMove(Body):
    """What a move may carry: a note (a dispute needs one) and, on accepting, the transport fee."""

    note: Note = ""
    transport_fee_yen: Yen | None = None


class DeliveryRecord(Body):
    quantity: Quantity
    delivered_on: dt.date | None = Field(default=None, description="Today (Japan) if left out")
    reference: Annotated[Line, Field(max_length=100)] = ""
    note: Note = ""


class RefundRequest(Body):
    amount_yen: Annotated[Yen, Field(description="Yen, tax included, at most what is left")]
    reason: Annotated[Text, Field(min_length=1, max_length=500)]


class OrdersQuery(Query):
    status: OrderStatus | None = None


# --- what the orders API answers (market/orders/views.py ``order_json``) -------------------

QuantityText = Annotated[str, Field(description="Decimal quantity in the order's unit")]


class OrgRef(Answer):
    id: int
    name: str


class RateLine(Answer):
    rate_percent: int
    taxable_yen: int
    tax_yen: int


class Money(Answer):
    """Who pays whom, and how much, as the invoice states it."""

    direction: str
    subtotal_yen: int
    tax_yen: int
    total_yen: int
    per_rate: list[RateLine]
    platform_fee_yen: int
    payer_id: int
    payee_id: int


class Payment(Answer):
    backend: str
    reference: str | None
    status: str
    amount_yen: int
    refunded_yen: int


class CreditNote(Answer):
    """The 返還インボイス issued for an invoice refund."""

    number: str
    invoice_number: str
    issue_date: str
    registration_number: str | None
    per_rate: list[RateLine]
    url: Url


class Refund(Answer):
    id: int
    amount_yen: int
    reason: str
    backend: str
    by_organisation_id: int
    at: UtcTime
    credit_note: CreditNote | None


class Move(Answer):
    """One move of the order (the state table: docs/orders.md)."""

    action: str
    from_status: str | None = Field(alias="from")
    to: str
    by_organisation_id: int | None
    at: UtcTime


class Order(Answer):
    """An order, for its two parties."""

    id: int
    status: OrderStatus
    listing_id: int
    buyer: OrgRef
    seller: OrgRef
    quantity: QuantityText
    unit: str
    unit_price_yen: int
    delivered_quantity: QuantityText
    transport_arrangement: TransportArrangement
    transport_fee_yen: int
    money: Money
    payment: Payment | None
    refunds: list[Refund]
    history: list[Move]
    url: Url


class OrderList(Answer):
    items: list[Order]
