"""Matching runs (start, run as a job, store proposals) and the accept/decline flow.

Services take the session and never commit, except the job body, which owns its
unit of work: a run's proposals are written in one transaction, so a retried job
produces one run, never two."""

from __future__ import annotations

import time
from decimal import Decimal

import numpy as np
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
from market.core.models import Job
from market.db import japan_today, utcnow
from market.errors import Conflict, DomainError, Forbidden, NotFound
from market.finder.index import listings_changed


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


@tasks.handler(REGION_JOB)
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


@tasks.handler(MERGE_JOB)
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
    side = side_of(proposal, user)
    if proposal.state != "proposed":
        raise Conflict(_("This proposal is no longer open (%(state)s).", state=_(proposal.state)))
    decision = "accepted" if accept else "declined"
    if side in ("supply", "both"):
        proposal.supply_decision = decision
    if side in ("demand", "both"):
        proposal.demand_decision = decision
    if not accept:
        proposal.state, proposal.decided_at = "declined", utcnow()
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
    elif proposal.supply_decision == proposal.demand_decision == "accepted":
        _agree(session, proposal)
    session.flush()
    return proposal


def _agree(session: Session, proposal: Proposal) -> None:
    """Both sides accepted: reserve the quantity on both listings and open an accepted
    order, or refuse the whole unit of work (the caller rolls back)."""
    from market.orders.services import order_from_proposal

    # The demand side is reserved here; the order reserves the supply listing it is for.
    _reserve(session, proposal.demand_id, proposal.quantity)
    order_from_proposal(
        session,
        listing_id=proposal.supply_id,
        counterparty_org_id=proposal.demand.organisation_id,
        quantity=proposal.quantity,
        proposal_ref=f"proposal:{proposal.id}",
    )
    proposal.state, proposal.decided_at = "agreed", utcnow()
    session.expire(proposal.supply)
    session.expire(proposal.demand)


def _reserve(session: Session, lid: int, quantity: Decimal) -> None:
    reserved = session.execute(
        update(Listing)
        .where(
            Listing.id == lid,
            Listing.open_quantity >= quantity,
            Listing.status.in_((ListingStatus.open, ListingStatus.reserved)),
        )
        .values(open_quantity=Listing.open_quantity - quantity)
        .execution_options(synchronize_session=False)
    )
    if reserved.rowcount != 1:
        raise Conflict(_("The quantity is no longer available on listing %(id)s.", id=lid))
    session.execute(
        update(Listing)
        .where(Listing.id == lid, Listing.open_quantity <= 0)
        .values(status=ListingStatus.reserved)
        .execution_options(synchronize_session=False)
    )
    listings_changed(session, [lid])


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
