"""What the notifications API takes and answers, declared once (market/api/contract.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from market.api.contract import Answer, Body, Id, Query, Url, UtcTime


class NotificationsQuery(Query):
    unread: bool | None = None
    page: Annotated[int, Field(ge=1, le=10**6)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50


class MarkRead(Body):
    """The ids to mark read; leave ``ids`` out to mark all of yours."""

    ids: Annotated[list[Id], Field(max_length=1000)] = Field(
        default_factory=list, description="Leave out to mark every notification of yours read"
    )


# --- what the notifications API answers ----------------------------------------------------


class Notification(Answer):
    id: int
    message: str
    created_at: UtcTime
    read_at: UtcTime | None
    order_id: int | None
    listing_id: int | None
    url: Url | None = Field(description="The order or listing it is about")


class NotificationsPage(Answer):
    items: list[Notification]
    total: int
    page: int
    per_page: int


class Marked(Answer):
    marked: int = Field(description="How many were unread and are now read")
