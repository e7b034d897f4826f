"""Where an order's soil is meant to go and come from (the 計画 a receipt is checked
against), and whether it needs a 確認結果票: read by the ticket services and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from market.allocation.models import Proposal
from market.catalog.kinds import SPECS
from market.catalog.models import Listing, ListingKind
from market.orders.models import Order
from market.trace.models import ConfirmationSheet

SHEET_THRESHOLD_M3 = Decimal(500)  # 資源有効利用促進法 省令: 確認結果票 from 500 m³ out
SOIL_KINDS = (ListingKind.soil_offer, ListingKind.soil_want)


@dataclass(frozen=True)
class Site:
    name: str
    address: str
    listing_id: int | None = None
    lat: float | None = None
    lon: float | None = None
    organisation_id: int | None = None

    @classmethod
    def of(cls, listing: Listing) -> Site:
        # Listings may leave the street address out: the prefecture and coordinates still place it.
        address = (
            listing.address
            or f"{listing.prefecture.name_ja} ({listing.lat:.5f}, {listing.lon:.5f})"
        )
        return cls(
            f"{listing.organisation.name} {listing.title}"[:200],
            address[:300],
            listing.id,
            listing.lat,
            listing.lon,
            listing.organisation_id,
        )


@dataclass(frozen=True)
class Plan:
    """Where the order's soil is meant to go (the 計画 the receipt is checked against)."""

    destination: Site
    via: Listing | None  # a stockyard on the way (a match proposal through a yard)
    source: str  # proposal | listing | sheet


def _proposal(session: Session, order: Order) -> Proposal | None:
    ref = order.proposal_ref or ""
    if not ref.startswith("proposal:") or not ref[9:].isdigit():
        return None
    return session.get(Proposal, int(ref[9:]))


def planned_destination(session: Session, order: Order) -> Plan | None:
    proposal = _proposal(session, order)
    if proposal is not None:
        return Plan(Site.of(proposal.demand), proposal.via, "proposal")
    if SPECS[order.listing.kind].side == "want":
        return Plan(Site.of(order.listing), None, "listing")
    sheet = sheet_for(session, order.id)
    if sheet is not None:
        return Plan(
            Site(sheet.destination_name, sheet.destination_address, sheet.destination_listing_id),
            None,
            "sheet",
        )
    return None


def planned_origin(order: Order) -> Site | None:
    if SPECS[order.listing.kind].side == "offer":
        return Site.of(order.listing)
    return None


def is_soil(order: Order) -> bool:
    return order.listing.kind in SOIL_KINDS


def sheet_required(order: Order) -> bool:
    return is_soil(order) and order.unit == "m3" and Decimal(order.quantity) >= SHEET_THRESHOLD_M3


def sheet_for(session: Session, order_id: int) -> ConfirmationSheet | None:
    return session.scalar(select(ConfirmationSheet).where(ConfirmationSheet.order_id == order_id))
