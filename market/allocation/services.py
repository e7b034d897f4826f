"""Matching runs (start, run as a job, store proposals) and the accept/decline flow.

Services take the session and never commit, except the job body, which owns its
unit of work: a run's proposals are written in one transaction, so a retried job
produces one run, never two."""

from __future__ import annotations

import time
from decimal import Decimal

import numpy as np
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import matching
from market import tasks
from market.accounts.models import User
from market.accounts.services import active_members
from market.allocation.instance import FAMILIES, KANTO, build_instance, listing_id
from market.allocation.models import Deal, DealParty, DeclinedPair, MatchRun, Proposal
from market.catalog import events
from market.catalog.models import Listing, ListingStatus, Material, Prefecture
from market.core import audit
from market.db import japan_today, utcnow
from market.errors import Conflict, DomainError, Forbidden, NotFound
from market.notifications.services import notify_users
from market.orders.requests import order_from_proposal
from market.tasks import Job


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


def run_job(session: Session, job, progress) -> dict:
    run = session.get(MatchRun, job.params["run_id"])
    if run is None or run.status == "done":
        return {"skipped": True}
    run.status = "running"
    session.commit()
    started = time.perf_counter()
    progress("building instance", 0.02)
    as_of = japan_today()
    instance = build_instance(
        session,
        run.family,
        run.region,
        as_of,
        run.material_code,
        carbon_price_per_kg=run.carbon_price_per_kg,
    )

    def solver_progress(stage: str, fraction: float) -> None:
        progress(f"optimising: {stage}", 0.1 + 0.8 * max(0.0, min(1.0, fraction)))

    try:
        parsed = matching.load_instance(instance)
    except matching.InstanceError as exc:
        # Listings are validated on entry, so this is a bug to surface, not to retry forever.
        run.status, run.error, run.finished_at = "failed", "; ".join(exc.errors)[:2000], utcnow()
        session.commit()
        return {"error": run.error}
    regions = matching.find_regions(parsed)
    if regions is not None and len(regions) > 1:
        return _start_regions(session, run, instance, regions, progress)
    result = matching.solve(parsed, progress=solver_progress).to_dict()
    _finish(session, run, instance, parsed, result, progress)
    run.seconds = round(time.perf_counter() - started, 3)
    return {"run_id": run.id, "proposals": len(result["flows"]), "status": result["status"]}


def _finish(session: Session, run: MatchRun, instance: dict, parsed, result: dict, progress):
    progress("greedy baseline", 0.92)
    baseline = matching.greedy(parsed, explain=False).to_dict()
    progress("saving proposals", 0.95)
    _store(session, run, instance, result)
    run.greedy_net_benefit = baseline["net_benefit"]
    run.status, run.finished_at = "done", utcnow()


# Regions in parallel: where no haul can join two parts of the instance, each part is a
# job of its own (any worker, on any machine, may take it); the last one to finish
# enqueues the merge. Region jobs are found by their dedupe key.
REGION_JOB, MERGE_JOB = "matching_region", "matching_merge"


def region_key(run_id: int, index: int | None = None) -> str:
    return f"match-region:{run_id}:" + ("" if index is None else str(index))


def region_jobs(session: Session, run_id: int) -> list[Job]:
    """The region jobs of a run, in region order (empty for a run solved in one piece)."""
    jobs = session.scalars(select(Job).where(Job.dedupe_key.startswith(region_key(run_id)))).all()
    return sorted(jobs, key=lambda j: j.params["region"])


def _start_regions(session: Session, run: MatchRun, instance: dict, regions, progress) -> dict:
    progress("regions", 0.1)
    run.instance = instance
    for i, region in enumerate(regions):
        tasks.enqueue(
            session,
            REGION_JOB,
            {
                "run_id": run.id,
                "region": i,
                "supplies": region.supplies.tolist(),
                "demands": region.demands.tolist(),
            },
            dedupe_key=region_key(run.id, i),
        )
    return {"run_id": run.id, "regions": len(regions)}


def run_progress(session: Session, run: MatchRun) -> dict:
    """What the run page shows while a run works: overall stage and progress and, for a
    run split into regions, each region's size, status, stage and progress."""
    job = session.get(Job, run.job_id) if run.job_id else None
    jobs = region_jobs(session, run.id)
    regions = [
        {
            "region": j.params["region"] + 1,
            "supplies": len(j.params["supplies"]),
            "demands": len(j.params["demands"]),
            "status": j.status,
            "stage": j.stage or "",
            "progress": 1.0 if j.status == "done" else float(j.progress or 0.0),
        }
        for j in jobs
    ]
    stage, done = (job.stage if job else "") or "", float(job.progress or 0.0) if job else 0.0
    if regions and run.status in ("running", "merging"):
        size = sum(r["supplies"] + r["demands"] for r in regions) or 1
        solved = sum(r["progress"] * (r["supplies"] + r["demands"]) for r in regions) / size
        stage = "merging regions" if run.status == "merging" else "optimising: solve"
        done = 0.1 + 0.8 * solved if run.status == "running" else 0.95
    elif run.status == "done":
        stage, done = "done", 1.0
    failed = job.error if job and job.status == "failed" else None
    return {
        "status": run.status,
        "stage": stage,
        "progress": done,
        "regions": regions,
        "error": run.error or failed,
    }


def _region(params: dict) -> matching.Region:
    return matching.Region(
        np.asarray(params["supplies"], dtype=np.int64),
        np.asarray(params["demands"], dtype=np.int64),
    )


def region_job(session: Session, job, progress) -> dict:
    """Solve one region of a run; its plan is this job's result."""
    run = session.get(MatchRun, job.params["run_id"])
    if run is None or run.status != "running" or run.instance is None:
        return {"skipped": True}
    data = matching.region_data(run.instance, _region(job.params))
    sub = matching.load_instance(data)

    def solver_progress(stage: str, fraction: float) -> None:
        progress(f"optimising: {stage}", max(0.0, min(1.0, fraction)))

    plan = matching.solve_region(sub, progress=solver_progress)
    # Sent after this job's result is committed: the merge job that sees every region
    # done is the one of the last region to finish.
    tasks.enqueue(session, MERGE_JOB, {"run_id": run.id})
    return {"region": job.params["region"], "plan": plan}


def merge_job(session: Session, job, progress) -> dict:
    """Once every region of a run is solved: merge, explain, store the proposals."""
    run_id = job.params["run_id"]
    jobs = region_jobs(session, run_id)
    failed = [j for j in jobs if j.status == "failed"]
    if failed:
        run = session.get(MatchRun, run_id)
        run.status, run.finished_at = "failed", utcnow()
        run.error = f"region {failed[0].params['region']}: {failed[0].error}"[:2000]
        return {"failed": run.error}
    if not jobs or any(j.status != "done" for j in jobs):
        return {"waiting": True}
    # Claim the merge: of several merge jobs, only one moves the run on.
    claimed = session.execute(
        update(MatchRun)
        .where(MatchRun.id == run_id, MatchRun.status == "running")
        .values(status="merging")
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return {"skipped": True}
    # Committed at once (progress is written on its own connection, and SQLite has one
    # writer); should the merge fail, the run is handed back so that a retry can claim it.
    session.commit()
    try:
        run = session.get(MatchRun, run_id)
        progress("merging regions", 0.5)
        parsed = matching.load_instance(run.instance)
        regions = [_region(j.params) for j in jobs]
        parts = [j.result["plan"] for j in jobs]
        result = matching.merge_regions(parsed, regions, parts).to_dict()
        _finish(session, run, run.instance, parsed, result, progress)
    except Exception:
        session.rollback()
        session.execute(
            update(MatchRun)
            .where(MatchRun.id == run_id, MatchRun.status == "merging")
            .values(status="running")
        )
        session.commit()
        raise
    run.seconds = round((utcnow() - run.created_at).total_seconds(), 3)
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
    # Older open deals of the family go with them.
    session.execute(
        update(Deal)
        .where(
            Deal.state == "proposed",
            Deal.run_id.in_(
                select(MatchRun.id).where(MatchRun.family == run.family, MatchRun.id != run.id)
            ),
        )
        .values(state="superseded")
    )
    blended = {d["id"] for d in instance["demands"] if d.get("blend")}
    for kind, flows in _groups(result["flows"], blended):
        deal = Deal(run=run, kind=kind)
        session.add(deal)
        for flow in flows:
            q = flow["quantity"]
            supply, demand = supplies[flow["supply"]], demands[flow["demand"]]
            value = (demand.get("value_by") or {}).get(supply["class"], demand.get("value", 0.0))
            session.add(
                Proposal(
                    run=run,
                    deal=deal,
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
        _add_parties(session, deal)
        _announce(session, deal)
    session.flush()


def _announce(session: Session, deal: Deal) -> None:
    """Each party's members are told in-app of the new deal and their part in it (a yard
    operator too); no mail, since a nightly run may propose many."""
    for party in deal.parties:
        first = next(
            p
            for p in deal.proposals
            if party.organisation_id
            in {p.supply.organisation_id, p.demand.organisation_id}
            | ({p.via.organisation_id} if p.via else set())
        )
        own = next(
            x
            for x in (first.supply, first.demand, first.via)
            if x is not None and x.organisation_id == party.organisation_id
        )
        roles = party.roles

        def words(_user, roles=roles, first=first):
            message = _(
                "New match proposal #%(id)s (%(kind)s): your part is %(roles)s. Accept or "
                "decline it on the proposal page.",
                id=first.id,
                kind=_(deal.kind),
                roles=", ".join(str(ROLE_LABELS[r]) for r in roles.split(",")),
            )
            return message, None

        notify_users(
            session,
            active_members(session, [party.organisation_id]),
            words,
            listing_id=own.id,
        )


def _groups(flows: list[dict], blended: set[str]) -> list[tuple[str, list[dict]]]:
    """The optimiser's groups: every flow into one blended demand together (a blend: the
    quality limit holds only for the mix), each other flow on its own (a chain when it
    goes through a stockyard, else a pair)."""
    into: dict[str, list[dict]] = {}
    for flow in flows:
        into.setdefault(flow["demand"], []).append(flow)
    groups: list[tuple[str, list[dict]]] = []
    for flow in flows:
        together = into[flow["demand"]]
        if flow["demand"] in blended and len(together) > 1:
            if flow is together[0]:
                groups.append(("blend", together))
        else:
            groups.append(("chain" if flow.get("via") else "pair", [flow]))
    return groups


ROLE_OF = (("supply", "supplier"), ("demand", "receiver"), ("via", "yard"))
ROLE_LABELS = {
    "supplier": _l("supplier"),
    "receiver": _l("receiver"),
    "yard": _l("stockyard operator"),
}


def _add_parties(session: Session, deal: Deal) -> None:
    """Every organisation with a listing in the deal, once, with the roles it plays."""
    roles: dict[int, list[str]] = {}
    for proposal in deal.proposals:
        for attr, role in ROLE_OF:
            listing = getattr(proposal, attr)
            if listing is not None and role not in roles.setdefault(listing.organisation_id, []):
                roles[listing.organisation_id].append(role)
    for org_id, played in sorted(roles.items()):
        session.add(DealParty(deal=deal, organisation_id=org_id, roles=",".join(played)))
    session.flush()


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
    """The user's organisation's part in this flow: 'supply', 'demand', 'both', 'yard', or
    'deal' (a party to another part of the same deal); else NotFound."""
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
    _add_parties(session, deal)
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
            _expire_deal(session, deal, exc.message)


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
    session.expire(proposal.supply)
    session.expire(proposal.demand)


# --- keeping open proposals true ---------------------------------------------------------


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
        changed.extend(_expire_parts(session, proposal, reason))
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
            changed.extend(_expire_parts(session, proposal, reason))
    return changed


def _expire_parts(session: Session, proposal: Proposal, reason: str) -> list[Proposal]:
    if proposal.deal is None:
        _expire(session, proposal, reason)
        return [proposal]
    return _expire_deal(session, proposal.deal, reason)


def _expire_deal(session: Session, deal: Deal, reason: str) -> list[Proposal]:
    deal.state, deal.reason, deal.decided_at = "expired", reason, utcnow()
    parts = list(deal.proposals)
    for part in parts:
        part.state, part.reason, part.decided_at = "expired", reason, utcnow()
    session.flush()
    _tell_parties(session, parts[0])
    return parts


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
    _tell_parties(session, proposal)


def _qty(value: Decimal) -> str:
    number = Decimal(value)
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number.normalize():,f}"


def _tell_parties(session: Session, proposal: Proposal) -> None:
    """In-app (and by mail) to each party's members, in their language, with the reason."""
    listings = [proposal.supply, proposal.demand] + ([proposal.via] if proposal.via else [])
    if proposal.deal is not None:
        listings = [
            x for part in proposal.deal.proposals for x in (part.supply, part.demand, part.via) if x
        ]
    told: set[int] = set()
    for listing in listings:
        if listing.organisation_id in told:
            continue
        told.add(listing.organisation_id)
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
