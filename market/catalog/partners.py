"""Partner-only periods: until its ``partner_only_until`` date a municipality's reuse item
is for the municipality and its partner reuse operators only, on every surface (browse,
search, detail, API, order requests, acceptance, matching).

"Until" as the optimiser reads it (shared/matching/INSTANCE.md, rule 6): the item is
partner-only while Japan's today is before that date, and open to all from that day on."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session

from market.accounts.models import Partnership
from market.catalog.models import Listing
from market.db import TOKYO, japan_today


def partner_only_now(listing: Listing, today: dt.date | None = None) -> bool:
    until = listing.partner_only_until
    return until is not None and (today or japan_today()) < until


def opens_to_all_at(listing: Listing) -> dt.datetime | None:
    """When the partner-only period ends, as naive UTC (stored timestamps are): midnight
    in Japan at the start of ``partner_only_until``."""
    if listing.partner_only_until is None:
        return None
    start = dt.datetime.combine(listing.partner_only_until, dt.time(), tzinfo=TOKYO)
    return start.astimezone(dt.UTC).replace(tzinfo=None)


def is_partner(session: Session, municipality_id: int, org_id: int | None) -> bool:
    if org_id is None:
        return False
    found = session.scalar(
        select(Partnership.id).where(
            Partnership.municipality_id == municipality_id, Partnership.operator_id == org_id
        )
    )
    return found is not None


def may_take(session: Session, listing: Listing, org_id: int | None) -> bool:
    """Whether ``org_id`` (None: a visitor) may see and order the listing today."""
    if not partner_only_now(listing) or org_id == listing.organisation_id:
        return True
    return is_partner(session, listing.organisation_id, org_id)


def visible_to(org_id: int | None) -> ColumnElement[bool]:
    """The SQL condition of may_take, for listing queries."""
    today = japan_today()
    condition = or_(Listing.partner_only_until.is_(None), Listing.partner_only_until <= today)
    if org_id is None:
        return condition
    partner = exists().where(
        Partnership.municipality_id == Listing.organisation_id, Partnership.operator_id == org_id
    )
    return or_(condition, Listing.organisation_id == org_id, partner)
