"""Matching runs (start, run as a job, store proposals) and the accept/decline flow.

Services take the session and never commit, except the job body, which owns its
unit of work: a run's proposals are written in one transaction, so a retried job
produces one run, never two."""

from __future__ import annotations

import time
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import matching
from market import tasks
from market.accounts.models import User
from market.allocation.instance import FAMILIES, KANTO, build_instance, listing_id
from market.allocation.models import DeclinedPair, MatchRun, Proposal
from market.catalog.models import Listing, ListingStatus, Material, Prefecture
from market.core import audit
from market.db import japan_today, utcnow
from market.errors import Conflict, DomainError, Forbidden, NotFound


class RunInputError(DomainError):
    pass


def start_run(
    session: Session,
    user: User | None,
    family: str,
    region: list[str] | None = None,
    material: str | None = None,
    trigger: str = "manual",
) -> MatchRun:
    if user is not None and not user.is_site_admin:
        raise Forbidden(_("Only site administrators can start matching runs."))
    if family not in FAMILIES:
        raise RunInputError(_("Choose a material family."), field="family")
    region = region or list(KANTO)
    known = set(session.scalars(select(Prefecture.code)))
    unknown = [code for code in region if code not in known]
    if unknown:
        raise RunInputError(
            _("Unknown prefecture code: %(v)s", v=", ".join(unknown)[:60]), field="region"
        )
    if family == "recycled":
        if not material or session.get(Material, material) is None:
            raise RunInputError(_("Choose the recycled material to match."), field="material_code")
    else:
        material = None
    key = f"match:{family}:{material or ''}:{','.join(sorted(region))}"
    run = MatchRun(
        family=family,
        material_code=material,
        region=sorted(region),
        trigger=trigger,
        created_by_id=user.id if user else None,
    )
    session.add(run)
    session.flush()
    job = tasks.enqueue(session, "matching_run", {"run_id": run.id}, dedupe_key=key)
    if job.params.get("run_id") != run.id:
        raise Conflict(_("A run for this family and region is already in progress."))
    run.job_id = job.id
    audit.record(
        session,
        user or trigger,
        "matching_run.start",
        f"match_run:{run.id}",
        family=family,
        material=material,
        region=",".join(region),
    )
    return run


@tasks.handler("matching_run")
def run_job(session: Session, job, progress) -> dict:
    run = session.get(MatchRun, job.params["run_id"])
    if run is None or run.status == "done":
        return {"skipped": True}
    run.status = "running"
    session.commit()
    started = time.perf_counter()
    progress("building instance", 0.02)
    as_of = japan_today()
    instance = build_instance(session, run.family, run.region, as_of, run.material_code)

    def solver_progress(stage: str, fraction: float) -> None:
        progress(f"optimising: {stage}", 0.1 + 0.8 * max(0.0, min(1.0, fraction)))

    try:
        parsed = matching.load_instance(instance)
    except matching.InstanceError as exc:
        # Listings are validated on entry, so this is a bug to surface, not to retry forever.
        run.status, run.error, run.finished_at = "failed", "; ".join(exc.errors)[:2000], utcnow()
        session.commit()
        return {"error": run.error}
    result = matching.solve(parsed, progress=solver_progress).to_dict()
    progress("greedy baseline", 0.92)
    baseline = matching.greedy(parsed, explain=False).to_dict()
    progress("saving proposals", 0.95)
    _store(session, run, instance, result)
    run.greedy_net_benefit = baseline["net_benefit"]
    run.seconds = round(time.perf_counter() - started, 3)
    run.status, run.finished_at = "done", utcnow()
    return {"run_id": run.id, "proposals": len(result["flows"]), "status": result["status"]}


def _store(session: Session, run: MatchRun, instance: dict, result: dict) -> None:
    run.instance, run.result = instance, result
    run.solver_status = result["status"]
    run.net_benefit, run.upper_bound = result["net_benefit"], result.get("upper_bound")
    supplies = {s["id"]: s for s in instance["supplies"]}
    demands = {d["id"]: d for d in instance["demands"]}
    # Older open proposals for the same family are replaced by this run's.
    session.execute(
        update(Proposal)
        .where(
            Proposal.state == "proposed",
            Proposal.run_id.in_(
                select(MatchRun.id).where(MatchRun.family == run.family, MatchRun.id != run.id)
            ),
        )
        .values(state="superseded")
    )
    for flow in result["flows"]:
        q = flow["quantity"]
        supply, demand = supplies[flow["supply"]], demands[flow["demand"]]
        value = (demand.get("value_by") or {}).get(supply["class"], demand.get("value", 0.0))
        session.add(
            Proposal(
                run=run,
                supply_id=listing_id(flow["supply"]),
                demand_id=listing_id(flow["demand"]),
                via_id=listing_id(flow["via"]) if flow.get("via") else None,
                quantity=Decimal(str(round(q, 3))),
                road_km=flow["road_km"],
                transport_cost=round(flow["transport_cost"]),
                handling_cost=round(flow.get("handling_cost", 0.0)),
                co2_kg=flow["co2_kg"],
                net_benefit=round(flow["net_benefit"]),
                supply_saving=round(q * supply["disposal_cost"]),
                demand_saving=round(q * value),
            )
        )
    session.flush()


def proposals_for(session: Session, org_id: int) -> list[Proposal]:
    own = select(Listing.id).where(Listing.organisation_id == org_id)
    return session.scalars(
        select(Proposal)
        .where(Proposal.supply_id.in_(own) | Proposal.demand_id.in_(own))
        .where(Proposal.state != "superseded")
        .order_by(Proposal.id.desc())
    ).all()


def side_of(proposal: Proposal, user: User) -> str:
    """'supply', 'demand' (or 'both' for an organisation on both sides); else Forbidden."""
    org = user.organisation_id
    sides = [
        name
        for name, listing in (("supply", proposal.supply), ("demand", proposal.demand))
        if listing.organisation_id == org
    ]
    if not sides:
        raise NotFound(_("No such proposal."))
    return "both" if len(sides) == 2 else sides[0]


def visible_proposal(session: Session, user: User, proposal_id: int) -> tuple[Proposal, str]:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(_("No such proposal."))
    return proposal, side_of(proposal, user)


def decide(session: Session, user: User, proposal: Proposal, accept: bool) -> Proposal:
    """Record the user's side's decision. The write is one conditional UPDATE on a proposal
    that is still open, and what the other side decided is read after it: of two accepts at
    the same moment the second waits for the first (its row lock) and sees it, so both
    accepting makes exactly one deal, and a repeated accept finds the deal already made.
    Claiming the "agreed" state is conditional too, so only one request makes the orders.

    When the quantity is no longer there, the proposal is reduced or expired with the reason
    (in this same unit of work, which the caller commits) instead of failing."""
    side = side_of(proposal, user)
    if proposal.state != "proposed":
        raise Conflict(closed_reason(proposal))
    decision = "accepted" if accept else "declined"
    values: dict[str, object] = {}
    if side in ("supply", "both"):
        values["supply_decision"] = decision
    if side in ("demand", "both"):
        values["demand_decision"] = decision
    if not accept:
        values.update(state="declined", decided_at=utcnow())
    written = session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id, Proposal.state == "proposed")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(proposal)  # a fresh read: the other side's committed decision included
    if written.rowcount != 1:
        raise Conflict(closed_reason(proposal))
    if not accept:
        _remember_declined(session, proposal, user)
    elif proposal.supply_decision == proposal.demand_decision == "accepted":
        claimed = session.execute(
            update(Proposal)
            .where(Proposal.id == proposal.id, Proposal.state == "proposed")
            .values(state="agreed", decided_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.refresh(proposal)
        if claimed.rowcount == 1:
            try:
                with session.begin_nested():
                    _agree(session, proposal)
            except Conflict as exc:
                # Taken meanwhile: the proposal says so (reduced or expired), not a bare error.
                session.refresh(proposal)
                proposal.state, proposal.decided_at = "proposed", None
                session.flush()
                changed = recheck_proposals(session, [proposal.supply_id, proposal.demand_id])
                if proposal not in changed:
                    _expire(session, proposal, exc.message)
    session.flush()
    return proposal


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


def closed_reason(proposal: Proposal) -> str:
    """Why a proposal can no longer be decided, and what to do next, in the user's words."""
    if proposal.state == "agreed":
        return _("Both parties have accepted this proposal already: the deal is agreed.")
    if proposal.state == "declined":
        return _("This proposal was declined, so it is closed for both parties.")
    if proposal.state == "superseded":
        return _("A newer matching run replaced this proposal; see your current proposals.")
    if proposal.state == "expired":
        return _(
            "This proposal expired: %(reason)s See your current proposals.",
            reason=proposal.reason or "—",
        )
    return _("This proposal is no longer open.")


def _agree(session: Session, proposal: Proposal) -> None:
    """Both sides accepted: one accepted order that commits the quantity on both listings
    through the ledger, or refuse the whole unit of work (the caller rolls back)."""
    from market.orders.services import order_from_proposal

    order_from_proposal(
        session,
        listing_id=proposal.supply_id,
        counterparty_org_id=proposal.demand.organisation_id,
        quantity=proposal.quantity,
        proposal_ref=f"proposal:{proposal.id}",
        proposal_id=proposal.id,
        also_reserve=(proposal.demand_id,),
    )
    session.expire(proposal.supply)
    session.expire(proposal.demand)


# --- keeping open proposals true ---------------------------------------------------------


def recheck_proposals(session: Session, listing_ids) -> list[Proposal]:
    """Open proposals on these listings, checked against the listings as they are now (in
    the caller's transaction, right after the change): a listing no longer open expires
    them; less open than offered reduces them to what is open, and both parties decide
    again. Each party is told why. Returns the proposals that changed."""
    ids = sorted(set(listing_ids))
    if not ids:
        return []
    session.flush()
    affected = session.scalars(
        select(Proposal)
        .where(
            Proposal.state == "proposed",
            Proposal.supply_id.in_(ids) | Proposal.demand_id.in_(ids),
        )
        .order_by(Proposal.id)
        .with_for_update()
    ).all()
    changed = []
    for proposal in affected:
        supply, demand = proposal.supply, proposal.demand
        session.refresh(supply)
        session.refresh(demand)
        gone = next((x for x in (supply, demand) if x.status != ListingStatus.open), None)
        if gone is not None:
            _expire(
                session,
                proposal,
                _(
                    "the listing “%(title)s” is no longer open (%(status)s).",
                    title=gone.title,
                    status=_(gone.status.value),
                ),
            )
            changed.append(proposal)
            continue
        available = min(Decimal(supply.open_quantity), Decimal(demand.open_quantity))
        if Decimal(proposal.quantity) > available:
            _reduce(session, proposal, available)
            changed.append(proposal)
    session.flush()
    return changed


def _expire(session: Session, proposal: Proposal, reason: str) -> None:
    proposal.state, proposal.reason, proposal.decided_at = "expired", reason, utcnow()
    _tell_parties(session, proposal)


def _reduce(session: Session, proposal: Proposal, available: Decimal) -> None:
    before = Decimal(proposal.quantity)
    if proposal.offered_quantity is None:
        proposal.offered_quantity = before
    share = available / before
    proposal.quantity = available
    # The figures scale with the quantity (they were computed for the whole flow).
    for name in ("transport_cost", "handling_cost", "net_benefit", "supply_saving"):
        setattr(proposal, name, round(getattr(proposal, name) * share))
    proposal.demand_saving = round(proposal.demand_saving * share)
    proposal.co2_kg = float(proposal.co2_kg) * float(share)
    proposal.supply_decision = proposal.demand_decision = "pending"
    proposal.reason = _(
        "Other orders took part of the quantity: reduced from %(before)s to %(after)s %(unit)s. "
        "Both parties decide again.",
        before=_qty(before),
        after=_qty(available),
        unit=proposal.supply.unit,
    )
    _tell_parties(session, proposal)


def _qty(value: Decimal) -> str:
    number = Decimal(value)
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number.normalize():,f}"


def _tell_parties(session: Session, proposal: Proposal) -> None:
    """In-app (and by mail) to each party's members, in their language, with the reason."""
    from market.accounts.services import active_members
    from market.finder.services import notify_users

    for listing in (proposal.supply, proposal.demand):
        reason = proposal.reason

        def words(_user, reason=reason):
            if proposal.state == "expired":
                message = _(
                    "Match proposal #%(id)s expired: %(reason)s", id=proposal.id, reason=reason
                )
            else:
                message = _(
                    "Match proposal #%(id)s changed: %(reason)s", id=proposal.id, reason=reason
                )
            return message, message

        notify_users(
            session,
            active_members(session, [listing.organisation_id]),
            words,
            listing_id=listing.id,
        )


def schedule_nightly(session: Session) -> list[MatchRun]:
    """One run per family over Kanto (recycled: per material with open lots)."""
    runs = []
    for family in FAMILIES:
        materials = [None]
        if family == "recycled":
            materials = list(
                session.scalars(
                    select(Listing.material_code)
                    .where(
                        Listing.kind == FAMILIES["recycled"][0],
                        Listing.status == ListingStatus.open,
                    )
                    .distinct()
                )
            )
        for material in materials:
            try:
                runs.append(
                    start_run(session, None, family, list(KANTO), material, trigger="schedule")
                )
            except Conflict:
                continue
    return runs
