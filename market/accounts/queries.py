"""Read side of accounts used by other areas' pages and reports."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from market.accounts.models import Organisation


def organisation_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Each organisation's name by id (those that exist)."""
    ids = list(set(ids))
    if not ids:
        return {}
    return dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
        ).all()
    )
