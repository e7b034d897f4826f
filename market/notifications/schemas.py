"""What the notifications API takes, declared once (market/api/contract.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from market.api.contract import Body, Id, Query


class NotificationsQuery(Query):
    unread: bool | None = None
    page: Annotated[int, Field(ge=1, le=10**6)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50


class MarkRead(Body):
    """The ids to mark read; leave ``ids`` out to mark all of yours."""

    ids: Annotated[list[Id], Field(max_length=1000)] = Field(
        default_factory=list, description="Leave out to mark every notification of yours read"
    )
