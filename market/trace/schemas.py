"""What the read-only tickets API takes and answers, declared once (market/api/contract.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from market.api.contract import Answer, Query, Url, UtcTime
from market.trace.models import TicketStatus


class OrderTicketsQuery(Query):
    status: TicketStatus | None = None


class TicketsQuery(OrderTicketsQuery):
    page: Annotated[int, Field(ge=1, le=10**6)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50


# --- what the tickets API answers (market/trace/views.py ``ticket_json``) -------------------

Quantity = Annotated[str, Field(description="Decimal quantity in the order's unit")]
When = Annotated[UtcTime, Field(description="UTC")]


class OrgRef(Answer):
    id: int
    name: str


class Origin(Answer):
    name: str
    address: str
    listing_id: int | None
    lat: float | None
    lon: float | None


class Destination(Answer):
    name: str
    address: str
    listing_id: int | None
    kind: Literal["site", "stockyard", "declared"]
    lat: float | None
    lon: float | None
    receiving_organisation: OrgRef | None
    stockyard_registration_no: str | None


class Planned(Answer):
    name: str
    address: str


class Received(Answer):
    """Set once the receiving site confirmed the load."""

    time_in: When
    quantity: Quantity
    discrepancy_note: str
    by_organisation: OrgRef | None
    by_user: str | None
    receipt_number: str | None


class Void(Answer):
    """Set when its issuer voided it (無効): it counts in no total and cannot be received."""

    at: When
    by_organisation: OrgRef | None
    by_user: str | None
    reason: str


class TicketAmendment(Answer):
    field: str
    old_value: str
    new_value: str
    reason: str
    at: When
    by_organisation: OrgRef | None


class Ticket(Answer):
    """A transfer ticket (運搬伝票). Values as amended; the originals and every amendment are
    listed."""

    id: int
    code: Annotated[
        str, Field(description="T<order>-<seq>; never reused, not even for a void ticket")
    ]
    order_id: int
    seq: int
    status: TicketStatus
    leg: Literal["first", "onward"]
    transit: bool
    origin: Origin
    destination: Destination
    planned: Planned
    matches_plan: bool | None
    soil_class_code: str | None
    vehicle_reg_no: str
    driver_name: str
    quantity: Quantity
    unit: str
    time_out: When
    issued_by_organisation: OrgRef | None
    issued_at: When
    received: Received | None
    void: Void | None
    amendments: list[TicketAmendment]
    url: Url


class TicketPage(Answer):
    items: list[Ticket]
    total: int
    page: int
    per_page: int


class OrderTickets(Answer):
    items: list[Ticket]
