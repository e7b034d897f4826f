"""Proposals and deals: who sees which, and each party's accept or decline (the last accept
opens the orders; any decline ends the deal for all). Runs are in ``runs.py``, keeping
open proposals true in ``rechecks.py``. Services take the session and never commit."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.allocation import plants
from market.allocation.models import Deal, DealParty, DeclinedPair, Proposal
from market.allocation.parties import add_parties
from market.allocation.rechecks import expire_deal, recheck_proposals
from market.catalog.models import Listing
from market.db import utcnow
from market.errors import Conflict, NotFound
from market.orders.requests import order_from_proposal


def proposals_for(session: Session, org_id: int) -> list[Proposal]:
    """Every part of every deal the organisation is party to (as supplier, receiver or
    stockyard operator), so each party sees the whole deal, not only its own flow."""
    own = select(Listing.id).where(Listing.organisation_id == org_id)
    mine = select(DealParty.deal_id).where(DealParty.organisation_id == org_id)
    return session.scalars(
        select(Proposal)
        .where(
            Proposal.supply_id.in_(own)
            | Proposal.demand_id.in_(own)
            | Proposal.via_id.in_(own)
            | Proposal.deal_id.in_(mine)
        )
        .where(Proposal.state != "superseded")
        .order_by(Proposal.id.desc())
    ).all()


def side_of(proposal: Proposal, user: User) -> str:
    """The user's organisation's part in this flow: 'supply', 'demand', 'both', 'yard',
    'plant', or 'deal' (a party to another part of the same deal); else NotFound."""
    org = user.organisation_id
    sides = [
        name
        for name, listing in (("supply", proposal.supply), ("demand", proposal.demand))
        if listing.organisation_id == org
    ]
    if sides:
        return "both" if len(sides) == 2 else sides[0]
    if proposal.via is not None and proposal.via.organisation_id == org:
        return "yard"
    if proposal.conversion is not None and proposal.conversion.plant.organisation_id == org:
        return "plant"
    if proposal.deal is not None and any(p.organisation_id == org for p in proposal.deal.parties):
        return "deal"
    raise NotFound(_("No such proposal."))


def visible_proposal(session: Session, user: User, proposal_id: int) -> tuple[Proposal, str]:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(_("No such proposal."))
    return proposal, side_of(proposal, user)


def deal_of(session: Session, proposal: Proposal) -> Deal:
    """The proposal's deal; a proposal stored before deals existed becomes a pair deal, its
    recorded decisions kept."""
    if proposal.deal is not None:
        return proposal.deal
    # Two first decisions at once: the second waits here and finds the first one's deal.
    session.execute(select(Proposal.id).where(Proposal.id == proposal.id).with_for_update())
    session.refresh(proposal)
    if proposal.deal is not None:
        return proposal.deal
    deal = Deal(run_id=proposal.run_id, kind="chain" if proposal.via_id else "pair")
    deal.state = proposal.state
    session.add(deal)
    proposal.deal = deal
    session.flush()
    add_parties(session, deal)
    for party in deal.parties:
        for attr, decision in (("supply", "supply_decision"), ("demand", "demand_decision")):
            if getattr(proposal, attr).organisation_id == party.organisation_id:
                party.decision = getattr(proposal, decision)
    session.flush()
    return deal


def decide(session: Session, user: User, proposal: Proposal, accept: bool) -> Proposal:
    """The user's organisation accepts or declines its part of the proposal's deal.

    The deal row is claimed first with a conditional UPDATE (``WHERE state =
    'proposed'``): on PostgreSQL that holds its row lock to the commit, so every decision
    on one deal runs one after another, each reading what the others committed. So both
    parties accepting at the same moment makes the deal, an accept sent twice finds it
    made, and the last accept of a blend or chain makes every order of the deal at once,
    in this one transaction (all or nothing). Any decline ends the deal for every party.
    When the quantity is no longer there the deal is reduced or expired with the reason
    (in this same unit of work, which the caller commits) instead of failing."""
    side_of(proposal, user)
    if proposal.deal is None and proposal.state != "proposed":
        raise Conflict(closed_reason(proposal))
    deal = deal_of(session, proposal)
    claimed = session.execute(
        update(Deal)
        .where(Deal.id == deal.id, Deal.state == "proposed")
        .values(state="proposed")
        .execution_options(synchronize_session=False)
    )
    session.refresh(deal)
    session.refresh(proposal)
    if claimed.rowcount != 1:
        raise Conflict(closed_reason(proposal))
    party = session.scalar(
        select(DealParty)
        .where(DealParty.deal_id == deal.id, DealParty.organisation_id == user.organisation_id)
        .execution_options(populate_existing=True)
    )
    if party is None:
        raise NotFound(_("No such proposal."))
    decision = "accepted" if accept else "declined"
    party.decision, party.decided_at = decision, utcnow()
    for part in deal.proposals:  # the per-flow view of the same decision
        if part.supply.organisation_id == user.organisation_id:
            part.supply_decision = decision
        if part.demand.organisation_id == user.organisation_id:
            part.demand_decision = decision
    session.flush()
    if not accept:
        deal.state, deal.decided_at = "declined", utcnow()
        deal.reason = _("Declined by %(org)s.", org=user.organisation.name)
        for part in deal.proposals:
            part.state, part.decided_at = "declined", utcnow()
            _remember_declined(session, part, user)
        session.flush()
        return proposal
    parties = session.scalars(
        select(DealParty)
        .where(DealParty.deal_id == deal.id)
        .execution_options(populate_existing=True)
    ).all()
    if all(p.decision == "accepted" for p in parties):
        _agree_deal(session, deal)
    session.flush()
    return proposal


def _agree_deal(session: Session, deal: Deal) -> None:
    """Every party accepted: all the deal's orders (and the yard's capacity) in one go, or,
    if the quantity went meanwhile, none, and the deal says why."""
    deal.state, deal.decided_at = "agreed", utcnow()
    for part in deal.proposals:
        part.state, part.decided_at = "agreed", utcnow()
    session.flush()
    try:
        with session.begin_nested():
            for part in deal.proposals:
                _agree(session, part)
    except Conflict as exc:
        session.refresh(deal)
        deal.state, deal.decided_at = "proposed", None
        for part in deal.proposals:
            session.refresh(part)
            part.state, part.decided_at = "proposed", None
        session.flush()
        changed = recheck_proposals(session, _listings_of(deal))
        if not any(part.deal_id == deal.id for part in changed):
            expire_deal(session, deal, exc.message)


def _listings_of(deal: Deal) -> list[int]:
    ids = set()
    for part in deal.proposals:
        ids |= {part.supply_id, part.demand_id} | ({part.via_id} if part.via_id else set())
    return sorted(ids)


def _remember_declined(session: Session, proposal: Proposal, user: User) -> None:
    exists = session.scalar(
        select(DeclinedPair).where(
            DeclinedPair.supply_id == proposal.supply_id,
            DeclinedPair.demand_id == proposal.demand_id,
        )
    )
    if exists is None:
        session.add(
            DeclinedPair(
                supply_id=proposal.supply_id,
                demand_id=proposal.demand_id,
                declined_by_org_id=user.organisation_id,
            )
        )
        session.flush()


def closed_reason(proposal: Proposal) -> str:
    """Why a proposal can no longer be decided, and what to do next, in the user's words."""
    state = proposal.deal.state if proposal.deal is not None else proposal.state
    reason = (proposal.deal.reason if proposal.deal is not None else "") or proposal.reason
    if state == "agreed":
        return _("Both parties have accepted this proposal already: the deal is agreed.")
    if state == "declined":
        return _("This proposal was declined, so it is closed for every party.")
    if state == "superseded":
        return _("A newer matching run replaced this proposal; see your current proposals.")
    if state == "expired":
        return _(
            "This proposal expired: %(reason)s See your current proposals.",
            reason=reason or "—",
        )
    return _("This proposal is no longer open.")


def _agree(session: Session, proposal: Proposal) -> None:
    """One flow of an agreed deal: one accepted order that commits the quantity on the
    supplying and receiving listings, and on the stockyard's capacity when it goes through
    one, all through the ledger under that order (cancelling it gives every part back)."""
    order_from_proposal(
        session,
        listing_id=proposal.supply_id,
        counterparty_org_id=proposal.demand.organisation_id,
        quantity=proposal.quantity,
        proposal_ref=f"proposal:{proposal.id}",
        proposal_id=proposal.id,
        also_reserve=(proposal.demand_id,) + ((proposal.via_id,) if proposal.via_id else ()),
    )
    if proposal.conversion_id is not None:  # the plant's week is booked with the deal
        plants.reserve(session, proposal.conversion_id, proposal.ship_week, proposal.quantity)
    session.expire(proposal.supply)
    session.expire(proposal.demand)
