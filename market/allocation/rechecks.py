"""Keeping open proposals true: when the ledger moves a listing, its owner changes its
terms or a plant its lines, each open proposal on it is reduced or expired, parties told.
``catalog.events`` calls the first two (registered here, at import)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from market.allocation.models import Deal, Proposal
from market.allocation.parties import tell_parties
from market.catalog import events
from market.catalog.models import Listing, ListingStatus
from market.db import utcnow


@events.on_quantities_changed
def recheck_proposals(session: Session, listing_ids) -> list[Proposal]:
    """Open proposals on these listings (as supply, demand or stockyard), checked against
    the listings as they are now (in the caller's transaction, right after the change): a
    listing no longer open expires the proposal's whole deal; less open than offered
    reduces a pair or chain to what is open (every party decides again) and expires a
    blend (its mix no longer adds up). Each party is told why. Returns the proposals that
    changed."""
    ids = sorted(set(listing_ids))
    if not ids:
        return []
    session.flush()
    affected = session.scalars(
        select(Proposal)
        .where(
            Proposal.state == "proposed",
            Proposal.supply_id.in_(ids) | Proposal.demand_id.in_(ids) | Proposal.via_id.in_(ids),
        )
        .order_by(Proposal.id)
        .with_for_update()
    ).all()
    changed = []
    for proposal in affected:
        if proposal.state != "proposed":
            continue  # its deal expired with an earlier part
        listings = [x for x in (proposal.supply, proposal.demand, proposal.via) if x is not None]
        for listing in listings:
            session.refresh(listing)
        gone = next((x for x in listings if x.status != ListingStatus.open), None)
        available = min(Decimal(x.open_quantity) for x in listings)
        if gone is not None:
            reason = _(
                "the listing “%(title)s” is no longer open (%(status)s).",
                title=gone.title,
                status=_(gone.status.value),
            )
        elif (
            Decimal(proposal.quantity) > available
            and proposal.deal is not None
            and (proposal.deal.kind == "blend")
        ):
            reason = _(
                "the lot “%(title)s” has only %(n)s %(unit)s open now, so the blend no longer "
                "adds up.",
                title=proposal.supply.title,
                n=_qty(available),
                unit=proposal.supply.unit,
            )
        elif Decimal(proposal.quantity) > available:
            _reduce(session, proposal, available)
            changed.append(proposal)
            continue
        else:
            continue
        changed.extend(expire_parts(session, proposal, reason))
    session.flush()
    return changed


@events.on_terms_changed
def terms_changed(session: Session, listing: Listing) -> list[Proposal]:
    """The owner changed the listing's period or who may take it: open proposals on it were
    planned for the old terms, so their deals expire, with the reason (parties told)."""
    affected = session.scalars(
        select(Proposal)
        .where(
            Proposal.state == "proposed",
            (Proposal.supply_id == listing.id)
            | (Proposal.demand_id == listing.id)
            | (Proposal.via_id == listing.id),
        )
        .order_by(Proposal.id)
        .with_for_update()
    ).all()
    reason = _(
        "the period or partner terms of “%(title)s” changed after the match was planned; the "
        "next matching run proposes again.",
        title=listing.title,
    )
    changed: list[Proposal] = []
    for proposal in affected:
        if proposal.state == "proposed":
            changed.extend(expire_parts(session, proposal, reason))
    return changed


def plant_terms_changed(session: Session, plant_name: str, line_ids) -> list[Proposal]:
    """The operator changed a plant's dates or a treatment line (classes, price, capacity):
    open proposals through it were planned for the old terms, so their deals expire, with
    the reason (every party told, the plant operator too)."""
    ids = sorted(set(line_ids))
    if not ids:
        return []
    affected = session.scalars(
        select(Proposal)
        .where(Proposal.state == "proposed", Proposal.conversion_id.in_(ids))
        .order_by(Proposal.id)
        .with_for_update()
    ).all()
    reason = _(
        "the terms of the plant “%(name)s” changed after the match was planned; the next "
        "matching run proposes again.",
        name=plant_name,
    )
    changed: list[Proposal] = []
    for proposal in affected:
        if proposal.state == "proposed":
            changed.extend(expire_parts(session, proposal, reason))
    return changed


def expire_parts(session: Session, proposal: Proposal, reason: str) -> list[Proposal]:
    if proposal.deal is None:
        _expire(session, proposal, reason)
        return [proposal]
    return expire_deal(session, proposal.deal, reason)


def expire_deal(session: Session, deal: Deal, reason: str) -> list[Proposal]:
    deal.state, deal.reason, deal.decided_at = "expired", reason, utcnow()
    parts = list(deal.proposals)
    for part in parts:
        part.state, part.reason, part.decided_at = "expired", reason, utcnow()
    session.flush()
    tell_parties(session, parts[0])
    return parts


def _expire(session: Session, proposal: Proposal, reason: str) -> None:
    proposal.state, proposal.reason, proposal.decided_at = "expired", reason, utcnow()
    tell_parties(session, proposal)


def _reduce(session: Session, proposal: Proposal, available: Decimal) -> None:
    before = Decimal(proposal.quantity)
    if proposal.offered_quantity is None:
        proposal.offered_quantity = before
    share = available / before
    proposal.quantity = available
    # The figures scale with the quantity (they were computed for the whole flow).
    for name in (
        "transport_cost",
        "handling_cost",
        "holding_cost",
        "treatment_cost",
        "net_benefit",
        "supply_saving",
    ):
        setattr(proposal, name, round(getattr(proposal, name) * share))
    proposal.demand_saving = round(proposal.demand_saving * share)
    proposal.co2_kg = float(proposal.co2_kg) * float(share)
    proposal.supply_decision = proposal.demand_decision = "pending"
    if proposal.deal is not None:  # every party decides again on the new quantity
        for party in proposal.deal.parties:
            party.decision, party.decided_at = "pending", None
    proposal.reason = _(
        "Other orders took part of the quantity: reduced from %(before)s to %(after)s %(unit)s. "
        "Both parties decide again.",
        before=_qty(before),
        after=_qty(available),
        unit=proposal.supply.unit,
    )
    tell_parties(session, proposal)


def _qty(value: Decimal) -> str:
    number = Decimal(value)
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number.normalize():,f}"
