"""Impact of each delivery from the factor tables: tonnes, haul, transport and avoided CO2,
cost saved against the status quo.

Haul distance, in order of preference (docs/reports.md): what the deal recorded first,
registered addresses last.
  1. a haul a party entered for the order (road km and truck);
  2. the order's transfer tickets: each recorded leg's pins (origin → destination, into a
     stockyard and onward from it), averaged per unit over the loads, × the road factor; a
     load still at the yard on the way goes on to the planned destination;
  3. a proposal order: the road km the matching run priced (supply → yard → demand);
  4. a listing order: the listing's pin to the nearest of the counterparty's own listings
     on the other side (its sites), × the road factor;
  5. only then the counterparty's registered address: its prefecture centroid × the road
     factor (organisations have no pin of their own).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from market.allocation.models import Proposal
from market.catalog.kinds import SPECS
from market.catalog.models import Listing
from market.factors import calc
from market.factors.models import OrderHaul
from market.factors.tables import FactorSet, family_of, load_factors, tonnes
from market.orders.models import Delivery, Order, OrderStatus
from market.trace.models import TicketStatus, TransferTicket
from market.trace.queries import leg_km

NOT_COUNTED = (OrderStatus.cancelled, OrderStatus.declined)


@dataclass(frozen=True)
class HaulEstimate:
    road_km: float
    max_payload_kg: float
    method: str  # entered | legs | proposal | sites | prefecture


@dataclass(frozen=True)
class DeliveryImpact:
    delivery: Delivery
    order: Order
    family: str
    haul: HaulEstimate
    impact: calc.Impact


def status_quo(fs: FactorSet, order: Order) -> calc.StatusQuo:
    listing, family = order.listing, family_of(order.listing)
    common = dict(
        disposal_fee_yen_per_unit=fs.get(family, "disposal_fee"),
        virgin_price_yen_per_unit=fs.get(family, "virgin_price"),
        disposal_haul_km=fs.get(family, "disposal_haul_km"),
        virgin_haul_km=fs.get(family, "virgin_haul_km"),
    )
    if family == "reuse":
        category = fs.reuse_categories.get(listing.reuse_category_code or "")
        per_kg = (
            category.co2_kg_per_kg
            if category and category.co2_kg_per_kg is not None
            else fs.get("reuse", "avoided_co2_per_kg")
        )
        return calc.StatusQuo(
            **common,
            virgin_co2_kg_per_t=per_kg * 1000,
            disposal_co2_kg_per_t=fs.get("reuse", "disposal_co2_per_kg") * 1000,
        )
    if family == "recycled":
        material = fs.materials.get(listing.material_code or "")
        return calc.StatusQuo(
            **common,
            virgin_co2_kg_per_t=(material.virgin_co2_kg_per_t or 0.0) if material else 0.0,
            recycled_co2_kg_per_t=(material.recycled_co2_kg_per_t or 0.0) if material else 0.0,
        )
    return calc.StatusQuo(
        **common,
        virgin_co2_kg_per_t=fs.get(family, "virgin_co2"),
        recycled_co2_kg_per_t=fs.get(family, "recycled_co2"),
        disposal_co2_kg_per_t=fs.get(family, "disposal_co2"),
    )


def haul(fs: FactorSet, order: Order) -> HaulEstimate:
    family = family_of(order.listing)
    payload = fs.get(family, "default_payload_kg", 10000.0)
    entered = fs.hauls.get(order.id)
    if entered is not None:
        truck = fs.trucks.get(entered.truck_type_code)
        return HaulEstimate(entered.road_km, truck.max_payload_kg if truck else payload, "entered")
    road_factor = fs.get("transport", "road_factor", 1.3)
    legs = fs.legs.get(order.id)
    if legs is not None:
        return HaulEstimate(round(legs * road_factor, 1), payload, "legs")
    proposal = fs.proposals.get(order.id)
    if proposal is not None:
        return HaulEstimate(float(proposal.road_km), payload, "proposal")
    sites = fs.sites.get(order.id)
    if sites is not None:
        return HaulEstimate(round(sites * road_factor, 1), payload, "sites")
    listing = order.listing
    pref = fs.prefectures.get(fs.org_prefecture.get(counterparty(order)) or listing.prefecture_code)
    km = calc.great_circle_km(listing.lat, listing.lon, pref.lat, pref.lon) if pref else 0.0
    return HaulEstimate(round(km * road_factor, 1), payload, "prefecture")


def counterparty(order: Order) -> int:
    """The organisation on the other side of the order's listing."""
    if order.requester_org_id != order.listing.organisation_id:
        return order.requester_org_id
    return order.responder_org_id


def _site_km(a: Listing | None, b: Listing | None) -> float | None:
    if a is None or b is None:
        return None
    return calc.great_circle_km(a.lat, a.lon, b.lat, b.lon)


def legs_km(tickets: list[TransferTicket], onward_planned_km: float | None = None) -> float | None:
    """Straight-line km per unit over the recorded legs of one order's loads (void ones do
    not count): the mean first leg (site → receiver or site → stockyard), plus, for the
    share of the loads that went into a stockyard, the mean onward leg (yard → receiver),
    or ``onward_planned_km`` (the yard to the planned destination) while none has left.
    None when no load has a leg with both ends pinned."""

    def mean(rows: list[tuple[float, float]]) -> float | None:
        total = sum(q for q, _ in rows)
        return sum(q * km for q, km in rows) / total if total > 0 else None

    first, onward, into_yard, loaded = [], [], 0.0, 0.0
    for t in tickets:
        if t.status == TicketStatus.void:
            continue
        q = float(t.quantity_received if t.quantity_received is not None else t.quantity)
        if not t.onward:
            loaded += q
            into_yard += q if t.transit else 0.0
        km = leg_km(t)
        if km is not None:
            (onward if t.onward else first).append((q, km))
    start = mean(first)
    if start is None:
        return None
    share = into_yard / loaded if loaded > 0 else 0.0
    after = mean(onward)
    if after is None:
        after = onward_planned_km or 0.0
    return start + share * after


def _proposal_id(order: Order) -> int | None:
    ref = order.proposal_ref or ""
    if order.source == "proposal" and ref.startswith("proposal:") and ref[9:].isdigit():
        return int(ref[9:])
    return None


def attach_order_data(session: Session, fs: FactorSet, orders: list[Order]) -> None:
    """Load what ``orders`` recorded into ``fs``: entered hauls, proposals, the transfer
    tickets' legs and, for orders with none of these, the counterparties' sites."""
    ids = [o.id for o in orders if o.id not in fs.hauls]
    if ids:
        fs.hauls.update(
            {
                h.order_id: h
                for h in session.scalars(select(OrderHaul).where(OrderHaul.order_id.in_(ids)))
            }
        )
    wanted = {pid: o.id for o in orders if (pid := _proposal_id(o)) is not None}
    if wanted:
        for p in session.scalars(select(Proposal).where(Proposal.id.in_(list(wanted)))):
            fs.proposals[wanted[p.id]] = p
    todo = [o for o in orders if o.id not in fs.legs]
    if not todo:
        return
    tickets: dict[int, list[TransferTicket]] = {o.id: [] for o in todo}
    for t in session.scalars(
        select(TransferTicket)
        .where(TransferTicket.order_id.in_(list(tickets)))
        .order_by(TransferTicket.order_id, TransferTicket.seq)
    ):
        tickets[t.order_id].append(t)
    for o in todo:
        proposal = fs.proposals.get(o.id)
        planned = _site_km(proposal.via, proposal.demand) if proposal is not None else None
        fs.legs[o.id] = legs_km(tickets[o.id], planned)
    nearest = [o for o in todo if fs.legs[o.id] is None and o.id not in fs.proposals]
    if nearest:
        _attach_sites(session, fs, nearest)


def _attach_sites(session: Session, fs: FactorSet, orders: list[Order]) -> None:
    """Each order's listing to the nearest listing its counterparty placed on the other side
    of the same family (a soil offer's receiver: its soil wants), whatever their status."""
    other = {"offer": "want", "want": "offer"}
    wanted = {counterparty(o) for o in orders}
    by_org: dict[int, list[Listing]] = {}
    for listing in session.scalars(
        select(Listing).where(Listing.organisation_id.in_(list(wanted))).order_by(Listing.id)
    ):
        by_org.setdefault(listing.organisation_id, []).append(listing)
    for o in orders:
        spec = SPECS[o.listing.kind]
        candidates = [
            x
            for x in by_org.get(counterparty(o), [])
            if SPECS[x.kind].family == spec.family and SPECS[x.kind].side == other.get(spec.side)
        ]
        fs.sites[o.id] = min((_site_km(o.listing, x) for x in candidates), default=None)


def delivery_impact(fs: FactorSet, delivery: Delivery) -> DeliveryImpact:
    order = delivery.order
    estimate = haul(fs, order)
    quantity = float(delivery.quantity)
    figures = calc.delivery_impact(
        quantity,
        tonnes(fs, order, quantity),
        estimate.road_km,
        estimate.max_payload_kg,
        order.unit_price_yen,
        status_quo(fs, order),
        fs.tonkilo,
    )
    return DeliveryImpact(delivery, order, family_of(order.listing), estimate, figures)


def deliveries(session: Session, *conditions, fs: FactorSet | None = None) -> list[DeliveryImpact]:
    """Impact of every counted delivery matching ``conditions`` (on Order, Listing, Delivery)."""
    fs = fs or load_factors(session)
    rows = (
        session.scalars(
            select(Delivery)
            .join(Delivery.order)
            .join(Order.listing)
            .where(Order.status.not_in(NOT_COUNTED), *conditions)
            .options(joinedload(Delivery.order).joinedload(Order.listing))
            .order_by(Delivery.delivered_on, Delivery.id)
        )
        .unique()
        .all()
    )
    attach_order_data(session, fs, list({d.order_id: d.order for d in rows}.values()))
    return [delivery_impact(fs, d) for d in rows]
