"""What the read-only tickets API takes, declared once (market/api/contract.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from market.api.contract import Query
from market.trace.models import TicketStatus


class OrderTicketsQuery(Query):
    status: TicketStatus | None = None


class TicketsQuery(OrderTicketsQuery):
    page: Annotated[int, Field(ge=1, le=10**6)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50
