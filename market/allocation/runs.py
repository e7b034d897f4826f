"""Matching runs: started from the run form or the nightly schedule, run as jobs (one per
region, then a merge), stored as deals of proposals.

The job bodies own their unit of work: a run's proposals are written in one transaction,
so a retried job produces one run, never two."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import numpy as np
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import matching
from market import tasks
from market.accounts.models import User
from market.allocation import plants
from market.allocation.instance import (
    DEFAULT_HORIZON_WEEKS,
    FAMILIES,
    KANTO,
    build_instance,
    listing_id,
)
from market.allocation.models import Deal, MatchRun, Proposal
from market.allocation.parties import add_parties, announce
from market.catalog.models import Listing, ListingStatus, Material, Prefecture
from market.core import audit
from market.db import japan_today, utcnow
from market.errors import Conflict, Forbidden, Invalid
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
    # Older open proposals for the same family are replaced by this run's, and their deals
    # go with them.
    older_runs = select(MatchRun.id).where(MatchRun.family == run.family, MatchRun.id != run.id)
    for model in (Proposal, Deal):
        session.execute(
            update(model)
            .where(model.state == "proposed", model.run_id.in_(older_runs))
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
        add_parties(session, deal)
        announce(session, deal)
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
