"""Matching runs for administrators; proposals for the parties to accept or decline."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from market.accounts.models import Organisation
from market.allocation import planning, services
from market.allocation import runs as matching_runs
from market.allocation.forms import RunForm
from market.allocation.instance import DEFAULT_HORIZON_WEEKS, FAMILIES, KANTO, listing_id
from market.allocation.models import MatchRun
from market.allocation.reasons import property_names, stage_label, unmatched_reason
from market.catalog.models import Listing, Material, Prefecture, SoilClass
from market.core.forms import form_values
from market.core.writes import commit_or_refuse, submit
from market.errors import Conflict, Invalid
from market.services import db_session

bp = Blueprint("allocation", __name__)


@bp.app_template_global("yard_plan")
def yard_plan(listing):
    """A stockyard's planned occupancy by week for its page (None before any plan)."""
    return planning.yard_occupancy(db_session(), listing)


def _admin_only() -> None:
    if not current_user.is_site_admin:
        abort(403)


def _runs_page(errors: dict | None = None, status: int = 200):
    s = db_session()
    runs = s.scalars(select(MatchRun).order_by(MatchRun.id.desc()).limit(50)).all()
    return render_template(
        "allocation/runs.html",
        runs=runs,
        families=list(FAMILIES),
        errors=errors or {},
        prefectures=s.scalars(select(Prefecture).order_by(Prefecture.code)).all(),
        kanto=KANTO,
        materials=s.scalars(select(Material).order_by(Material.code)).all(),
        form=form_values(RunForm),
        default_horizon=DEFAULT_HORIZON_WEEKS,
    ), status


@bp.get("/matching/runs")
@login_required
def runs():
    _admin_only()
    return _runs_page()


def _whole(raw: str, name: str, errors: dict) -> int | None:
    text = raw.strip().replace(",", "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        errors[name] = _("Must be a whole number.")
        return None


def _amount(raw: str, name: str, errors: dict) -> float | None:
    text = raw.strip().replace(",", "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or value != value or value in (float("inf"), float("-inf")):
        errors[name] = _("Must be a number.")
        return None
    return value


@bp.post("/matching/runs")
@login_required
def start():
    """Start a run; an empty horizon plans by windows only (version 1)."""
    _admin_only()

    def start_run(s, form: RunForm):
        errors: dict[str, str] = {}
        horizon = _whole(form.horizon_weeks, "horizon_weeks", errors)
        carbon = _amount(form.carbon_price_per_kg, "carbon_price_per_kg", errors)
        if errors:
            raise Invalid(errors, status=400)
        return matching_runs.start_run(
            s,
            current_user,
            form.family,
            form.region,
            form.material_code or None,
            horizon_weeks=horizon,
            carbon_price_per_kg=carbon,
        )

    done = submit(RunForm, start_run, refuse=(Invalid,))
    if not done.ok:
        return _runs_page(done.errors, 400)
    return redirect(url_for("allocation.run_detail", run_id=done.result.id))


def _run_or_404(run_id: int) -> MatchRun:
    run = db_session().get(MatchRun, run_id)
    if run is None:
        abort(404)
    return run


@bp.get("/matching/runs/<int:run_id>")
@login_required
def run_detail(run_id: int):
    _admin_only()
    run = _run_or_404(run_id)
    state = matching_runs.run_progress(db_session(), run)
    return render_template(
        "allocation/run.html",
        run=run,
        state=state,
        stage=stage_label(state["stage"]),
        stage_label=stage_label,
        unmatched=_unmatched(run),
    )


UNMATCHED_SHOWN = 50


def _unmatched(run: MatchRun) -> dict[str, list[tuple[str, float, str]]]:
    """Per side, (listing title, quantity, reason in the user's language) of the first
    UNMATCHED_SHOWN unmatched listings; the rest are in the result file."""
    result = run.result or {}
    rows = {
        side: (result.get(side) or [])[:UNMATCHED_SHOWN]
        for side in ("unmatched_supply", "unmet_demand")
    }
    # Every id in a run's result is a listing reference (instance.listing_ref).
    ids = {
        listing_id(e[k])
        for entries in rows.values()
        for e in entries
        for k in ("id", "best_candidate", "nearest", "candidate")
        if e.get(k)
    }
    titles = (
        dict(
            db_session().execute(select(Listing.id, Listing.title).where(Listing.id.in_(ids))).all()
        )
        if ids
        else {}
    )
    properties = property_names(db_session())
    return {
        side: [
            (
                titles.get(listing_id(e["id"]), e["id"]),
                e["quantity"],
                unmatched_reason(e, titles, properties),
            )
            for e in entries
        ]
        for side, entries in rows.items()
    }


@bp.get("/matching/runs/<int:run_id>/progress.json")
@login_required
def run_progress(run_id: int):
    _admin_only()
    state = matching_runs.run_progress(db_session(), _run_or_404(run_id))
    state["stage"] = stage_label(state["stage"])
    for region in state["regions"]:
        region["stage"] = stage_label(region["stage"])
        region["status"] = str(_(region["status"]))
    return jsonify(state)


@bp.get("/matching/runs/<int:run_id>/<any(instance, result):part>.json")
@login_required
def run_file(run_id: int, part: str):
    _admin_only()
    run = _run_or_404(run_id)
    body = run.instance if part == "instance" else run.result
    if body is None:
        abort(404)
    return Response(
        json.dumps(body, ensure_ascii=False, indent=1),
        mimetype="application/json",
        headers={"Content-Disposition": f"attachment; filename=run-{run.id}-{part}.json"},
    )


DEAL_KINDS = {
    "pair": _l("a pair (one supplier, one receiver)"),
    "blend": _l("a blend (every lot feeds one blended demand)"),
    "chain": _l("a chain through a stockyard (supplier, yard operator, receiver)"),
    "treated": _l(
        "a chain through an improvement plant (supplier, plant operator, receiver, and the "
        "yard operator when it waits in a yard)"
    ),
}
DEAL_ROLES = {
    "supplier": _l("supplier"),
    "receiver": _l("receiver"),
    "yard": _l("stockyard operator"),
    "plant": _l("plant operator"),
    "supply": _l("supplier"),
    "demand": _l("receiver"),
    "both": _l("supplier and receiver"),
    "deal": _l("party to another part of this deal"),
}


@bp.get("/proposals")
@login_required
def proposals():
    if current_user.organisation_id is None:
        abort(404)
    items = services.proposals_for(db_session(), current_user.organisation_id)
    return render_template(
        "allocation/proposals.html",
        items=[(p, services.side_of(p, current_user)) for p in items],
        deal_kinds=DEAL_KINDS,
        deal_roles=DEAL_ROLES,
    )


@bp.get("/proposals/<int:proposal_id>")
@login_required
def proposal_detail(proposal_id: int):
    s = db_session()
    proposal, side = services.visible_proposal(s, current_user, proposal_id)
    deal = proposal.deal
    org_id = current_user.organisation_id
    if deal is not None:
        mine = next((x for x in deal.parties if x.organisation_id == org_id), None)
        my_decision = mine.decision if mine is not None else None
        names = {
            o.id: o.name
            for o in s.scalars(
                select(Organisation).where(
                    Organisation.id.in_([x.organisation_id for x in deal.parties])
                )
            )
        }
    else:  # stored before deals: decided as a pair
        decisions = {proposal.supply_decision} if side in ("supply", "both") else set()
        if side in ("demand", "both"):
            decisions.add(proposal.demand_decision)
        my_decision = "pending" if "pending" in decisions else None
        names = {}
    return render_template(
        "allocation/proposal.html",
        p=proposal,
        side=side,
        why=_why(proposal),
        deal=deal,
        deal_kinds=DEAL_KINDS,
        deal_roles=DEAL_ROLES,
        party_names=names,
        my_decision=my_decision,
    )


def ref_label(code: str) -> str:
    """A soil class by its name in the user's language (第4a種 / Class 4a)."""
    row = db_session().get(SoilClass, code)
    if row is None:
        return code
    return row.name_en if str(get_locale()) == "en" else row.name_ja


def _why(p) -> list[str]:
    """Plain reasons for this match, from the figures the optimiser used."""
    reasons = [
        _(
            "Both listings are compatible: class or grade, properties, time window and haul distance all fit."
        ),
        _(
            "Road distance %(km).1f km; transport %(cost)s yen for the whole quantity.",
            km=p.road_km,
            cost=f"{p.transport_cost:,}",
        ),
        _(
            "Net benefit to both parties together: %(v)s yen compared with disposal and new purchase.",
            v=f"{p.net_benefit:,}",
        ),
    ]
    if p.conversion is not None:
        reasons.append(
            _(
                "Treated at the improvement plant: %(source)s as dug becomes %(target)s for the "
                "receiving site; treatment costs %(cost)s yen for the whole quantity.",
                source=ref_label(p.conversion.from_class),
                target=ref_label(p.conversion.to_class),
                cost=f"{p.treatment_cost:,}",
            )
        )
    if p.via_id and p.ship_week is not None:
        reasons.append(
            _(
                "Held %(n)s weeks in the stockyard: the supplying site ships before the "
                "receiving site can take it; holding costs %(cost)s yen.",
                n=(p.deliver_week - p.ship_week).days // 7,
                cost=f"{p.holding_cost:,}",
            )
        )
    elif p.via_id:
        reasons.append(
            _(
                "Routed through a stockyard because the windows do not overlap directly or it is cheaper."
            )
        )
    if p.run.solver_status == "optimal":
        reasons.append(
            _("Chosen by an optimal matching of all open listings in the region (proven bound).")
        )
    return reasons


@bp.post("/proposals/<int:proposal_id>/<any(accept, decline):choice>")
@login_required
def decide(proposal_id: int, choice: str):
    """Never a bare error page: a refusal (decided already, expired, taken meanwhile) comes
    back to the proposal with what happened and what to do next."""
    proposal, _side = services.visible_proposal(db_session(), current_user, proposal_id)
    done = commit_or_refuse(
        lambda s: services.decide(s, current_user, proposal, accept=choice == "accept"),
        refuse=(Invalid, Conflict),  # Forbidden stays the error page, NotFound the 404
    )
    if not done.ok:
        flash(done.refusal.message, "error")
        return redirect(url_for("allocation.proposal_detail", proposal_id=proposal_id))
    if proposal.state == "agreed":
        flash(
            _("Both parties accepted: the deal is agreed and the quantities are reserved."),
            "success",
        )
    elif proposal.state == "expired":
        flash(services.closed_reason(proposal), "error")
    elif proposal.offered_quantity is not None and proposal.supply_decision == "pending":
        flash(proposal.reason, "error")
    elif choice == "accept":
        flash(_("Accepted. Waiting for the other parties."), "success")
    else:
        flash(
            _("Declined: the deal ends for every party and will not be proposed again."), "success"
        )
    return redirect(url_for("allocation.proposal_detail", proposal_id=proposal.id))
