"""Turns open listings into a matching instance (shared/matching/INSTANCE.md, or
INSTANCE-v2.md when a horizon is planned) and maps result ids back to listings. The
instance is what the optimiser sees, nothing more."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from market.accounts.models import Partnership
from market.allocation.models import DeclinedPair, MatchingParameter, MatchRun, Proposal
from market.allocation.plants import conversion_ref, instance_plants
from market.catalog.models import (
    Grade,
    Listing,
    ListingKind,
    ListingStatus,
    Material,
    ReuseCategory,
    SoilClass,
)
from market.orders.models import Order, OrderStatus

FAMILIES = {
    # family: (supply kind, demand kind, with stockyards)
    "soil": (ListingKind.soil_offer, ListingKind.soil_want, True),
    "recycled": (ListingKind.recycled_offer, ListingKind.recycled_want, False),
    "reuse": (ListingKind.reuse_item, ListingKind.reuse_want, False),
    "material": (ListingKind.material_offer, ListingKind.material_want, False),
}
KANTO = ["08", "09", "10", "11", "12", "13", "14"]
CLEARED = {"not_required", "checked_clean"}


def listing_ref(listing_id: int) -> str:
    return f"L{listing_id}"


def listing_id(ref: str) -> int:
    return int(ref[1:])


def parameters(session: Session, family: str) -> dict[str, float]:
    rows = session.scalars(select(MatchingParameter).where(MatchingParameter.family == family))
    return {row.key: row.value for row in rows}


def _open(
    session: Session, kind: ListingKind, region: list[str], as_of: dt.date, material: str | None
):
    stmt = (
        select(Listing)
        .where(
            Listing.kind == kind,
            Listing.status == ListingStatus.open,
            Listing.open_quantity > 0,
            Listing.window_end >= as_of,
            Listing.prefecture_code.in_(region),
        )
        .order_by(Listing.id)
    )
    if material and kind in (ListingKind.recycled_offer, ListingKind.recycled_want):
        stmt = stmt.where(Listing.material_code == material)
    return session.scalars(stmt).all()


def _site(listing: Listing) -> dict:
    return {
        "id": listing_ref(listing.id),
        "lat": listing.lat,
        "lon": listing.lon,
        "quantity": float(listing.open_quantity),
        "window": [listing.window_start.isoformat(), listing.window_end.isoformat()],
        "max_haul_km": listing.max_haul_km,
    }


DEFAULT_HORIZON_WEEKS = 26


def build_instance(
    session: Session,
    family: str,
    region: list[str],
    as_of: dt.date,
    material: str | None = None,
    *,
    horizon_weeks: int | None = None,
    carbon_price_per_kg: float | None = None,
) -> dict:
    """The instance for a run. With `horizon_weeks` it is a version 2 (planning over time)
    instance: weekly periods from the Monday of `as_of`'s week, each listing's weekly rate
    as its `max_per_period`, the yards' holding cost per week. `carbon_price_per_kg`
    overrides the family's parameter."""
    supply_kind, demand_kind, with_yards = FAMILIES[family]
    p = parameters(session, family)
    if carbon_price_per_kg is not None:
        p["carbon_price_per_kg"] = carbon_price_per_kg
    supplies = _open(session, supply_kind, region, as_of, material)
    demands = _open(session, demand_kind, region, as_of, material)
    agreed = agreed_flows(session, family, _monday(as_of), horizon_weeks) if horizon_weeks else []
    supplies = _with(session, supplies, {p.supply_id for p in agreed})
    demands = _with(session, demands, {p.demand_id for p in agreed})
    instance: dict = {
        "version": 1,
        "material": family if family != "material" else "construction_material",
        "as_of": as_of.isoformat(),
        "transport": {
            "road_factor": p["road_factor"],
            "cost_per_unit_km": p["cost_per_unit_km"],
            "co2_kg_per_unit_km": p["co2_kg_per_unit_km"],
        },
        "carbon_price_per_kg": p.get("carbon_price_per_kg", 0.0),
        "supplies": [],
        "demands": [],
        "stockyards": [],
    }
    builder = {"soil": _soil, "recycled": _recycled, "reuse": _reuse, "material": _material}[family]
    builder(session, instance, supplies, demands, p, material)
    yards: list[Listing] = []
    if with_yards:
        yards = _open(session, ListingKind.stockyard, region, as_of, None)
        yards = _with(session, yards, {p.via_id for p in agreed if p.via_id})
        instance["stockyards"] = [
            {
                "id": listing_ref(y.id),
                "lat": y.lat,
                "lon": y.lon,
                "capacity": float(y.open_quantity),
                "handling_cost": y.price_per_unit,
                "window": [y.window_start.isoformat(), y.window_end.isoformat()],
                "accepts": list(y.accepted_classes or []),
            }
            for y in yards
        ]
    if horizon_weeks is not None:
        _as_version_2(session, instance, supplies, demands, yards, as_of, horizon_weeks, p)
        lines = {p.conversion_id for p in agreed if p.conversion_id}
        instance["plants"] = instance_plants(session, region, lines) if with_yards else []
        _keep_agreed(instance, agreed)
    ids = {listing.id for listing in supplies} | {listing.id for listing in demands}
    declined = session.execute(
        select(DeclinedPair.supply_id, DeclinedPair.demand_id).where(
            DeclinedPair.supply_id.in_(ids)
        )
    ).all()
    excluded = {(s, d) for s, d in declined if d in ids}
    # An organisation does not trade with itself: moving soil between its own sites is its
    # own planning, and a proposal between them would make an order with itself.
    excluded |= {
        (s.id, d.id) for s in supplies for d in demands if s.organisation_id == d.organisation_id
    }
    # What was agreed stays possible, even if the pair was declined in a later proposal.
    excluded -= {(p.supply_id, p.demand_id) for p in agreed}
    instance["excluded_pairs"] = [[listing_ref(s), listing_ref(d)] for s, d in sorted(excluded)]
    return instance


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _as_version_2(session, instance, supplies, demands, yards, as_of, weeks, p) -> None:
    instance["version"] = 2
    instance["horizon"] = {"start": _monday(as_of).isoformat(), "period_days": 7, "periods": weeks}
    for rows, listings in ((instance["supplies"], supplies), (instance["demands"], demands)):
        rate = {listing_ref(x.id): x.weekly_rate for x in listings}
        for row in rows:
            if rate.get(row["id"]) is not None:
                row["max_per_period"] = float(rate[row["id"]])
    # A yard's own holding price per m³·week, else the family's parameter.
    holding = {listing_ref(y.id): y.holding_price_per_week for y in yards}
    for yard in instance["stockyards"]:
        own = holding.get(yard["id"])
        yard["holding_cost_per_period"] = (
            float(own) if own is not None else p.get("holding_cost_per_week", 0.0)
        )
    instance["plants"] = []
    instance["committed"] = []


# Orders of an agreed flow that still hold it (not ended, not yet delivered).
LIVE_ORDERS = (
    OrderStatus.requested,
    OrderStatus.accepted,
    OrderStatus.invoiced,
    OrderStatus.paid,
    OrderStatus.in_delivery,
    OrderStatus.disputed,
)


def agreed_flows(session: Session, family: str, start: dt.date, weeks: int) -> list[Proposal]:
    """Flows of agreed deals planned week by week whose weeks lie in this horizon and whose
    orders still stand: the next plan must keep them (INSTANCE-v2 ``committed``)."""
    end = start + dt.timedelta(days=7 * weeks)
    live = select(Order.proposal_ref).where(
        Order.source == "proposal", Order.status.in_(LIVE_ORDERS)
    )
    rows = session.scalars(
        select(Proposal)
        .join(MatchRun, Proposal.run_id == MatchRun.id)
        .where(
            MatchRun.family == family,
            Proposal.state == "agreed",
            Proposal.ship_week >= start,
            Proposal.deliver_week < end,
        )
        .order_by(Proposal.id)
    ).all()
    refs = set(session.scalars(live))
    return [p for p in rows if f"proposal:{p.id}" in refs]


def _with(session: Session, listings, ids: set[int]) -> list[Listing]:
    """``listings`` and, after them, the listings of agreed flows they lack (fully committed
    ones are no longer open, yet their agreements stay in the plan)."""
    have = {x.id for x in listings}
    extra = sorted(ids - have)
    if not extra:
        return list(listings)
    return list(listings) + list(
        session.scalars(select(Listing).where(Listing.id.in_(extra)).order_by(Listing.id))
    )


def _keep_agreed(instance: dict, agreed: list[Proposal]) -> None:
    """Agreed flows become ``committed``. Their quantity is reserved in the ledger (not
    open), so it is added back to each listing's quantity and yard's capacity: the
    commitment then uses it like any flow. An agreement outlives a change of dates or of
    weekly rate: a listing's window is widened to cover its agreed weeks and its weekly
    limit raised to what is agreed in one week, so what was agreed stays feasible, and
    the rest is planned inside the listing's own terms."""
    if not agreed:
        return
    start = dt.date.fromisoformat(instance["horizon"]["start"])
    rows = {r["id"]: r for key in ("supplies", "demands", "stockyards") for r in instance[key]}

    def period(week: dt.date) -> int:
        return (week - start).days // 7

    def widen(row: dict, first: dt.date, last: dt.date) -> None:
        lo, hi = (dt.date.fromisoformat(x) for x in row["window"])
        row["window"] = [min(lo, first).isoformat(), max(hi, last).isoformat()]

    per_week: dict[tuple[str, dt.date], float] = {}
    for p in agreed:
        q = float(p.quantity)
        supply, demand = rows[listing_ref(p.supply_id)], rows[listing_ref(p.demand_id)]
        supply["quantity"] += q
        demand["quantity"] += q
        widen(supply, p.ship_week, p.ship_week + dt.timedelta(days=6))
        widen(demand, p.deliver_week, p.deliver_week + dt.timedelta(days=6))
        for ref, week in ((supply["id"], p.ship_week), (demand["id"], p.deliver_week)):
            per_week[ref, week] = per_week.get((ref, week), 0.0) + q
        if p.via_id:
            yard = rows[listing_ref(p.via_id)]
            yard["capacity"] += q
            widen(yard, p.ship_week, p.deliver_week + dt.timedelta(days=6))
        instance["committed"].append(
            {
                "supply": supply["id"],
                "demand": demand["id"],
                "plant": conversion_ref(p.conversion_id) if p.conversion_id else None,
                "yard": listing_ref(p.via_id) if p.via_id else None,
                "ship_period": period(p.ship_week),
                "deliver_period": period(p.deliver_week),
                "quantity": q,
            }
        )
    for (ref, _week), q in per_week.items():
        row = rows[ref]
        if row.get("max_per_period") is not None and row["max_per_period"] < q:
            row["max_per_period"] = q


def _soil(session, instance, supplies, demands, p, _material) -> None:
    classes = {c.code: c for c in session.scalars(select(SoilClass).order_by(SoilClass.rank))}
    instance["classes"] = list(classes)
    for s in supplies:
        props = {"contamination_cleared": 1.0 if s.contamination_status in CLEARED else 0.0}
        if s.cone_index is not None:
            props["cone_index"] = float(s.cone_index)
        instance["supplies"].append(
            {
                **_site(s),
                "class": s.soil_class_code,
                "disposal_cost": p["disposal_cost"],
                "co2_avoided_kg_per_unit": p.get("co2_avoided_kg_per_unit", 0.0),
                "properties": props,
            }
        )
    for d in demands:
        accepts = [
            c
            for c in (d.accepted_classes or [])
            if d.improved_allowed or not (classes.get(c) and classes[c].improved)
        ]
        limits = {}
        if d.min_cone_index:
            limits["cone_index"] = {"min": float(d.min_cone_index)}
        if d.contamination_check_required:
            limits["contamination_cleared"] = {"min": 1.0}
        instance["demands"].append(
            {
                **_site(d),
                "value": max(p["virgin_value"], float(d.price_per_unit)),
                "accepts": accepts,
                "limits": limits,
                "blend": False,
            }
        )


def _recycled(session, instance, supplies, demands, p, material) -> None:
    grades = session.scalars(
        select(Grade).where(Grade.material_code == material).order_by(Grade.rank)
    ).all()
    instance["grades"] = [g.code for g in grades]
    mat = session.get(Material, material)
    avoided = 0.0
    if mat and mat.virgin_co2_kg_per_t is not None:
        avoided = mat.virgin_co2_kg_per_t - (mat.recycled_co2_kg_per_t or 0.0)
    for s in supplies:
        instance["supplies"].append(
            {
                **_site(s),
                "class": s.grade_code,
                "disposal_cost": p["disposal_cost"],
                "co2_avoided_kg_per_unit": avoided,
                "properties": dict(s.properties or {}),
            }
        )
    for d in demands:
        instance["demands"].append(
            {
                **_site(d),
                "value": max(p["virgin_value"], float(d.price_per_unit)),
                "min_grade": d.min_grade_code or None,
                "limits": dict(d.property_limits or {}),
                "blend": bool(d.blend_allowed),
            }
        )


def _reuse(session, instance, supplies, demands, p, _material) -> None:
    categories = {c.code: c for c in session.scalars(select(ReuseCategory))}
    partners: dict[int, list[str]] = {}
    for row in session.scalars(select(Partnership)):
        partners.setdefault(row.operator_id, []).append(f"org-{row.municipality_id}")
    for s in supplies:
        category = categories.get(s.reuse_category_code)
        avoided = (
            (category.typical_weight_kg * (category.co2_kg_per_kg or 0.0)) if category else 0.0
        )
        instance["supplies"].append(
            {
                **_site(s),
                "class": s.reuse_category_code,
                "disposal_cost": p["disposal_cost"],
                "co2_avoided_kg_per_unit": avoided,
                "owner": f"org-{s.organisation_id}",
                "partner_only_until": s.partner_only_until.isoformat()
                if s.partner_only_until
                else None,
            }
        )
    for d in demands:
        prices = {k: float(v) for k, v in (d.category_prices or {}).items()}
        site = _site(d)
        site["max_haul_km"] = d.service_radius_km
        instance["demands"].append(
            {
                **site,
                "value": 0.0,
                "value_by": prices,
                "accepts": sorted(prices),
                "partners": partners.get(d.organisation_id, []),
            }
        )


def _material(session, instance, supplies, demands, p, _material) -> None:
    for s in supplies:
        instance["supplies"].append(
            {
                **_site(s),
                "class": s.material_category_code,
                "disposal_cost": p["disposal_cost"],
                "co2_avoided_kg_per_unit": 0.0,
            }
        )
    for d in demands:
        instance["demands"].append(
            {
                **_site(d),
                "value": max(p["virgin_value"], float(d.price_per_unit)),
                "accepts": [d.material_category_code],
            }
        )
