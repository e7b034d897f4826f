"""Turns open listings into a matching instance (shared/matching/INSTANCE.md, or
INSTANCE-v2.md when a horizon is planned) and maps result ids back to listings. The
instance is what the optimiser sees, nothing more."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from market.accounts.models import Partnership
from market.allocation.models import DeclinedPair, MatchingParameter
from market.catalog.models import (
    Grade,
    Listing,
    ListingKind,
    ListingStatus,
    Material,
    ReuseCategory,
    SoilClass,
)

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
    if with_yards:
        yards = _open(session, ListingKind.stockyard, region, as_of, None)
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
        _as_version_2(instance, supplies, demands, as_of, horizon_weeks, p)
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
    instance["excluded_pairs"] = [[listing_ref(s), listing_ref(d)] for s, d in sorted(excluded)]
    return instance


def _as_version_2(instance, supplies, demands, as_of, weeks, p) -> None:
    monday = as_of - dt.timedelta(days=as_of.weekday())
    instance["version"] = 2
    instance["horizon"] = {"start": monday.isoformat(), "period_days": 7, "periods": weeks}
    for rows, listings in ((instance["supplies"], supplies), (instance["demands"], demands)):
        rate = {listing_ref(x.id): x.weekly_rate for x in listings}
        for row in rows:
            if rate.get(row["id"]) is not None:
                row["max_per_period"] = float(rate[row["id"]])
    for yard in instance["stockyards"]:
        yard["holding_cost_per_period"] = p.get("holding_cost_per_week", 0.0)
    instance["plants"] = []  # plant operators do not publish in the app yet
    instance["committed"] = []


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
