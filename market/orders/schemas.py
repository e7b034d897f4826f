"""What the orders API takes: its bodies and query, declared once (market/api/contract.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from market.api.contract import Body, Id, Line, Quantity, Query, Text, Yen
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
