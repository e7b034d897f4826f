"""Matching runs (start, run as a job, store proposals) and the accept/decline flow.

Services take the session and never commit, except the job body, which owns its
unit of work: a run's proposals are written in one transaction, so a retried job
produces one run, never two."""

from __future__ import annotations

import datetime as dt
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
from market.allocation import plants
from market.allocation.instance import (
    DEFAULT_HORIZON_WEEKS,
    FAMILIES,
    KANTO,
    build_instance,
    listing_id,
)
from market.allocation.models import Deal, DealParty, DeclinedPair, MatchRun, Proposal
from market.catalog import events
from market.catalog.models import Listing, ListingStatus, Material, Prefecture
from market.core import audit
from market.db import japan_today, utcnow
from market.errors import Conflict, Forbidden, Invalid, NotFound
from market.notifications.services import notify_users
from market.orders.requests import order_from_proposal
from market.tasks import Job

MAX_HORIZON_WEEKS = 104  # two years of weeks
MAX_CARBON_PRICE = 100_000  # yen per kg CO2: far above any carbon price seen


def start_run(
    session: Session,
    user: User | None,
    family: str,
    region: list[str] | None = None,
    material: str | None = None,
    trigger: str = "manual",
    *,
    horizon_weeks: int | None = None,
    carbon_price_per_kg: float | None = None,
) -> MatchRun:
    """Queue a run. With ``horizon_weeks`` it plans week by week (version 2: stockyards
    that hold soil, improvement plants, agreed flows kept); without, version 1 (windows
    only). ``carbon_price_per_kg`` (yen per kg CO2) replaces the family's parameter."""
    if user is not None and not user.is_site_admin:
        raise Forbidden(_("Only site administrators can start matching runs."))
    errors: dict[str, str] = {}
    if family not in FAMILIES:
        errors["family"] = _("Choose a material family.")
    region = region or list(KANTO)
    known = set(session.scalars(select(Prefecture.code)))
    unknown = [code for code in region if code not in known]
    if unknown:
        errors["region"] = _("Unknown prefecture code: %(v)s", v=", ".join(unknown)[:60])
    if family == "recycled":
        if not material or session.get(Material, material) is None:
            errors["material_code"] = _("Choose the recycled material to match.")
    else:
        material = None
    if horizon_weeks is not None and not 1 <= horizon_weeks <= MAX_HORIZON_WEEKS:
        errors["horizon_weeks"] = _("Must be a whole number from 1 to %(n)s.", n=MAX_HORIZON_WEEKS)
    if carbon_price_per_kg is not None and not 0 <= carbon_price_per_kg <= MAX_CARBON_PRICE:
        errors["carbon_price_per_kg"] = _(
            "Must be between %(low)s and %(high)s.", low=0, high=f"{MAX_CARBON_PRICE:,}"
        )
    if errors:
        raise Invalid(errors, status=400)
    key = f"match:{family}:{material or ''}:{','.join(sorted(region))}"
    run = MatchRun(
        family=family,
        material_code=material,
        region=sorted(region),
        trigger=trigger,
        created_by_id=user.id if user else None,
        horizon_weeks=horizon_weeks,
        carbon_price_per_kg=carbon_price_per_kg,
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
        horizon_weeks=run.horizon_weeks,
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
    # A plan over time is solved whole (its yards and plants join the regions).
    regions = None if run.horizon_weeks else matching.find_regions(parsed)
    if regions is not None and len(regions) > 1:
        return _start_regions(session, run, instance, regions, progress)
    result = matching.solve(parsed, progress=solver_progress).to_dict()
    _finish(session, run, instance, parsed, result, progress)
    run.seconds = round(time.perf_counter() - started, 3)
    return {"run_id": run.id, "proposals": len(result["flows"]), "status": result["status"]}


def _finish(session: Session, run: MatchRun, instance: dict, parsed, result: dict, progress):
    if instance.get("version") != 2:  # the greedy baseline reads version 1 only
        progress("greedy baseline", 0.92)
        run.greedy_net_benefit = matching.greedy(parsed, explain=False).to_dict()["net_benefit"]
    progress("saving proposals", 0.95)
    _store(session, run, instance, result)
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
    new = [_as_v1(f) for f in result["flows"]]
    new = [f for f in new if f is not None]
    for kind, flows in _groups(new, blended):
        deal = Deal(run=run, kind=kind)
        session.add(deal)
        for flow in flows:
            q = flow["quantity"]
            supply, demand = supplies[flow["supply"]], demands[flow["demand"]]
            value = (demand.get("value_by") or {}).get(supply["class"], demand.get("value", 0.0))
            saving = flow["value"] if "value" in flow else q * value
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
                    demand_saving=round(saving),
                    **_planned(flow),
                )
            )
        session.flush()
        _add_parties(session, deal)
        _announce(session, deal)
    session.flush()


def _as_v1(flow: dict) -> dict | None:
    """A version 2 flow with its yard as ``via`` (the app's name for it), less what was
    agreed before on the same path and weeks (already orders: not proposed again); None
    when nothing new is left."""
    if "ship_period" not in flow:
        return flow
    flow = {**flow, "via": flow.get("yard")}
    agreed = flow.get("committed", 0.0)
    if agreed:
        share = (flow["quantity"] - agreed) / flow["quantity"]
        if share <= 1e-9:
            return None
        for key in SCALED:
            if key in flow:
                flow[key] *= share
    return flow


SCALED = (
    "quantity",
    "transport_cost",
    "co2_kg",
    "net_benefit",
    "value",
    "handling_cost",
    "holding_cost",
    "treatment_cost",
)


def _planned(flow: dict) -> dict:
    """A planned flow's weeks, treatment line, class and costs (version 2), else nothing."""
    if "ship_week" not in flow:
        return {}
    return {
        "ship_week": dt.date.fromisoformat(flow["ship_week"]),
        "deliver_week": dt.date.fromisoformat(flow["deliver_week"]),
        "conversion_id": plants.conversion_id(flow["plant"]) if flow.get("plant") else None,
        "flow_class": flow.get("class"),
        "treatment_cost": round(flow.get("treatment_cost", 0.0)),
        "holding_cost": round(flow.get("holding_cost", 0.0)),
    }


def _orgs_of(proposal: Proposal) -> list[tuple[int, str, Listing | None]]:
    """(organisation, role, its listing) for every party to one flow: supplier, receiver,
    yard operator, plant operator (whose plant is no listing)."""
    out = [
        (listing.organisation_id, role, listing)
        for attr, role in ROLE_OF
        if (listing := getattr(proposal, attr)) is not None
    ]
    if proposal.conversion is not None:
        out.append((proposal.conversion.plant.organisation_id, "plant", None))
    return out


def _announce(session: Session, deal: Deal) -> None:
    """Each party's members are told in-app of the new deal and their part in it (a yard
    operator too); no mail, since a nightly run may propose many."""
    for party in deal.parties:
        first, own = next(
            (p, listing)
            for p in deal.proposals
            for org, _role, listing in _orgs_of(p)
            if org == party.organisation_id
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
            listing_id=own.id if own is not None else None,
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
            kind = "treated" if flow.get("plant") else "chain" if flow.get("via") else "pair"
            groups.append((kind, [flow]))
    return groups


ROLE_OF = (("supply", "supplier"), ("demand", "receiver"), ("via", "yard"))
ROLE_LABELS = {
    "supplier": _l("supplier"),
    "receiver": _l("receiver"),
    "yard": _l("stockyard operator"),
    "plant": _l("plant operator"),
}


def _add_parties(session: Session, deal: Deal) -> None:
    """Every organisation with a listing in the deal, once, with the roles it plays."""
    roles: dict[int, list[str]] = {}
    for proposal in deal.proposals:
        for org, role, _listing in _orgs_of(proposal):
            if role not in roles.setdefault(org, []):
                roles[org].append(role)
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
    if proposal.conversion_id is not None:  # the plant's week is booked with the deal
        plants.reserve(session, proposal.conversion_id, proposal.ship_week, proposal.quantity)
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
    _tell_parties(session, proposal)


def _qty(value: Decimal) -> str:
    number = Decimal(value)
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number.normalize():,f}"


def _tell_parties(session: Session, proposal: Proposal) -> None:
    """In-app (and by mail) to each party's members, in their language, with the reason."""
    parts = proposal.deal.proposals if proposal.deal is not None else [proposal]
    told: set[int] = set()
    for org_id, _role, listing in (x for part in parts for x in _orgs_of(part)):
        if org_id in told:
            continue
        told.add(org_id)
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
            active_members(session, [org_id]),
            words,
            listing_id=listing.id if listing is not None else None,
        )


def schedule_nightly(session: Session) -> list[MatchRun]:
    """One run per family over Kanto (recycled: per material with open lots); soil, where
    yards and plants bridge periods and classes, is planned over 26 weeks."""
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
                    start_run(
                        session,
                        None,
                        family,
                        list(KANTO),
                        material,
                        trigger="schedule",
                        horizon_weeks=DEFAULT_HORIZON_WEEKS if family == "soil" else None,
                    )
                )
            except Conflict:
                continue
    return runs
