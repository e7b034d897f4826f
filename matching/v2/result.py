"""Version 2 results: flows with their timeline and costs explained, yard stock and plant
load by period, and the reason each listing kept some quantity."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .model import PlanningInstance
from .routes import evaluate
from .solver import Plan

_EPS = 1e-9


@dataclass
class PlanningResult:
    status: str
    net_benefit: float
    upper_bound: float | None
    flows: list[dict]
    yard_stock: list[dict]
    plant_load: list[dict]
    unmatched_supply: list[dict]
    unmet_demand: list[dict]
    stats: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "version": 2,
            "status": self.status,
            "net_benefit": self.net_benefit,
            "upper_bound": self.upper_bound,
            "flows": self.flows,
            "yard_stock": self.yard_stock,
            "plant_load": self.plant_load,
            "unmatched_supply": self.unmatched_supply,
            "unmet_demand": self.unmet_demand,
            "stats": self.stats,
        }


def _span(lo: int, hi: int) -> str:
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def build_planning_result(
    inst: PlanningInstance, plan: Plan, *, explain: bool = True
) -> PlanningResult:
    b = inst.base
    S, D, Y = b.supplies, b.demands, b.yards
    r, c = plan.routes, plan.columns
    T = inst.periods
    flows = []
    stock = np.zeros((len(Y.ids), T))
    load = np.zeros((len(inst.plant_ids), T))
    for i in range(len(c.qty)):
        flows.append(
            _flow(inst, r, i, int(c.ts[i]), int(c.td[i]), float(c.qty[i]), float(c.committed[i]))
        )
        if r.y[i] >= 0:
            stock[r.y[i], c.ts[i] : c.td[i] + 1] += c.qty[i]
        if r.p[i] >= 0:
            load[r.p[i], c.ts[i]] += c.qty[i]
    yard_stock = [
        {"yard": Y.ids[y], "period": int(t), "quantity": float(stock[y, t])}
        for y, t in zip(*np.nonzero(stock > _EPS), strict=True)
    ]
    plant_load = [
        {"plant": inst.plant_ids[p], "period": int(t), "quantity": float(load[p, t])}
        for p, t in zip(*np.nonzero(load > _EPS), strict=True)
    ]
    sent = np.bincount(r.s, weights=c.qty, minlength=len(S.ids)) if len(S.ids) else np.zeros(0)
    got = np.bincount(r.d, weights=c.qty, minlength=len(D.ids)) if len(D.ids) else np.zeros(0)
    left_s, left_d = S.qty - sent, D.qty - got
    s_idx = np.flatnonzero(left_s > 1e-9 * np.maximum(1, S.qty))
    d_idx = np.flatnonzero(left_d > 1e-9 * np.maximum(1, D.qty))
    store = plan.store
    reach = plan.yard_reach
    s_why = _reasons(inst, s_idx, True, sent, store, reach) if explain else {}
    d_why = _reasons(inst, d_idx, False, got, store, reach) if explain else {}
    stats = {
        "supplies": len(S.ids),
        "demands": len(D.ids),
        "stockyards": len(Y.ids),
        "plants": len(inst.plant_ids),
        "periods": T,
        "candidate_columns": plan.stats.get("lp_columns", 0),
        **plan.stats,
    }
    return PlanningResult(
        plan.status,
        float(plan.net_benefit),
        None if plan.upper_bound is None else float(plan.upper_bound),
        flows,
        yard_stock,
        plant_load,
        [{"id": S.ids[i], "quantity": float(left_s[i]), **s_why.get(int(i), {})} for i in s_idx],
        [{"id": D.ids[j], "quantity": float(left_d[j]), **d_why.get(int(j), {})} for j in d_idx],
        stats,
    )


def _flow(inst: PlanningInstance, r, i: int, ts: int, td: int, q: float, committed: float) -> dict:
    b = inst.base
    S, D, Y = b.supplies, b.demands, b.yards
    s, d, p, y = int(r.s[i]), int(r.d[i]), int(r.p[i]), int(r.y[i])
    stops = [S.ids[s]] + ([inst.plant_ids[p]] if p >= 0 else []) + ([Y.ids[y]] if y >= 0 else [])
    stops.append(D.ids[d])
    legs_km = [float(k) for k in r.legs[i][: len(stops) - 1]]
    km = float(sum(legs_km))
    held = td - ts
    handling = float(b.y_handling[y]) if y >= 0 else 0.0
    holding = float(inst.y_holding[y]) * held if y >= 0 else 0.0
    treatment = float(inst.p_cost[p]) if p >= 0 else 0.0
    value = float(b.d_value[d, r.cls[i]])
    row = {
        "supply": S.ids[s],
        "demand": D.ids[d],
        "plant": inst.plant_ids[p] if p >= 0 else None,
        "yard": Y.ids[y] if y >= 0 else None,
        "ship_period": ts,
        "deliver_period": td,
        "quantity": q,
        "class": inst.class_name(int(r.cls[i])),
        "road_km": round(km, 6),
        "transport_cost": float(q * b.cost_per_km * km),
        "co2_kg": float(q * b.co2_per_km * km),
        "net_benefit": float(q * (r.b0[i] - r.hold[i] * held)),
        "ship_week": inst.horizon.first_day(ts).isoformat(),
        "deliver_week": inst.horizon.first_day(td).isoformat(),
        "legs": [
            {
                "from": a,
                "to": z,
                "km": round(k, 6),
                "transport_cost": float(q * b.cost_per_km * k),
            }
            for a, z, k in zip(stops, stops[1:], legs_km, strict=False)
        ],
        "disposal_avoided": float(q * b.s_base[s]),
        "value": float(q * value),
        "handling_cost": q * handling,
        "holding_cost": q * holding,
        "treatment_cost": q * treatment,
    }
    if y >= 0:
        row["held_periods"] = held
    if committed > 0:
        row["committed"] = committed
    row["why"] = _why(inst, s, d, p, y, ts, td, int(r.cls[i]))
    if committed > 0:
        row["why"].insert(
            0,
            {
                "code": "committed",
                "text": f"{committed:g} agreed earlier on this path and these periods; kept",
            },
        )
    return row


def _why(
    inst: PlanningInstance, s: int, d: int, p: int, y: int, ts: int, td: int, cls: int
) -> list[dict]:
    """Why the flow takes its path: the plant, the yard and the weeks it is held."""
    b = inst.base
    S, D, Y = b.supplies, b.demands, b.yards
    out = []
    s_class = inst.class_name(int(b.s_class[s]))
    if p >= 0:
        plant = inst.plant_ids[p]
        raw_ok = (
            bool(b.d_accepts[d, b.s_class[s]]) and inst.class_rank[b.s_class[s]] <= b.d_min_rank[d]
        )
        if not raw_ok:
            out.append(
                {
                    "code": "treatment_needed",
                    "text": f"{D.ids[d]} does not accept class {s_class}; {plant} turns it into "
                    f"{inst.class_name(cls)} in period {ts}",
                }
            )
        else:
            gain = b.d_value[d, cls] - b.d_value[d, b.s_class[s]]
            out.append(
                {
                    "code": "treatment_pays",
                    "text": f"{plant} turns class {s_class} into {inst.class_name(cls)}, worth "
                    f"{gain:,.0f} yen/unit more to {D.ids[d]}",
                }
            )
    if y >= 0:
        yard = Y.ids[y]
        lo, hi = inst.s_lo[s], inst.s_hi[s]
        if p >= 0:
            lo, hi = max(lo, inst.p_lo[p]), min(hi, inst.p_hi[p])
        meet = max(lo, inst.d_lo[d]) <= min(hi, inst.d_hi[d])
        direct = evaluate(
            inst, np.array([s]), np.array([d]), np.array([p]), np.array([-1]), reasons=False
        )
        if not meet:
            out.append(
                {
                    "code": "periods_apart",
                    "text": f"{S.ids[s]} ships in periods {_span(lo, hi)}, {D.ids[d]} receives in "
                    f"{_span(inst.d_lo[d], inst.d_hi[d])}: {yard} holds it {td - ts} period(s)",
                }
            )
        elif not direct.masks["haul"][0]:
            out.append(
                {
                    "code": "haul_split",
                    "text": f"the haul without a yard ({direct.km[0]:.1f} km) is beyond the limit; "
                    f"{yard} splits the trip",
                }
            )
        else:
            out.append(
                {
                    "code": "timing",
                    "text": f"shipping and delivering in the same period is limited (weekly limits or "
                    f"capacities); {yard} holds it {td - ts} period(s), shipped in {ts}, delivered in {td}",
                }
            )
    if not out:
        out.append({"code": "direct", "text": f"direct in period {ts}"})
    return out


def _reasons(
    inst: PlanningInstance, idx: np.ndarray, supply_side: bool, matched, store, reach=None
) -> dict:
    """Why each listing in idx kept some quantity. With allowed, worthwhile routes (through
    any plant or yard) the others were better; without, the direct routes say which rule."""
    b = inst.base
    S, D = b.supplies, b.demands
    others = D.ids if supply_side else S.ids
    out: dict[int, dict] = {}
    if len(idx) == 0:
        return out
    if not others:
        return {int(i): {"code": "no_counterpart", "reason": "no counterpart listed"} for i in idx}
    has_route = np.zeros(len(S.ids) if supply_side else len(D.ids), dtype=bool)
    best_b = np.full(len(has_route), -np.inf)
    best_o = np.full(len(has_route), -1)
    if store is not None and len(store):
        mine = store.s if supply_side else store.d
        other = store.d if supply_side else store.s
        has_route[mine] = True
        order = np.argsort(store.b0)
        best_b[mine[order]] = store.b0[order]
        best_o[mine[order]] = other[order]
    if reach is not None and len(reach[0]):
        # Yard routes priced without a list: those worth something at zero duals.
        mine, other = (reach[0], reach[1]) if supply_side else (reach[1], reach[0])
        fresh = ~has_route[mine]
        has_route[mine] = True
        best_o[mine[fresh]] = other[fresh]
    for i in idx.tolist():
        partly = bool(matched[i] > _EPS)
        if has_route[i]:
            j = int(best_o[i])
            per_unit = (
                {"best_net_per_unit": round(float(best_b[i]), 2)} if best_b[i] > -np.inf else {}
            )
            out[i] = {
                "code": "outbid",
                "reason": (
                    f"{'partly matched; ' if partly else ''}its allowed routes went to better "
                    f"matches or hit weekly limits and capacities (best candidate {others[j]})"
                ),
                "partly_matched": partly,
                "best_candidate": others[j],
                **per_unit,
            }
            continue
        out[i] = _direct_reason(inst, i, supply_side, others)
        if out[i]["code"] != "outbid":
            out[i]["direct_routes_only"] = True
    return out


def _direct_reason(inst: PlanningInstance, i: int, supply_side: bool, others: list) -> dict:
    """Listing ``i`` has no allowed, worthwhile route: which rule its direct routes break
    (not worth the haul, no period overlap, beyond haul, or nothing compatible)."""
    n_other = len(others)
    one = np.full(n_other, i, dtype=np.int64)
    rest = np.arange(n_other, dtype=np.int64)
    s, d = (one, rest) if supply_side else (rest, one)
    none = np.full(n_other, -1, dtype=np.int64)
    r = evaluate(inst, s, d, none, none, reasons=False)
    comp = r.masks["compatible"]
    near = comp & r.masks["haul"]
    timed = near & r.masks["periods"]
    if timed.any():
        j = int(np.argmax(np.where(timed, r.b0, -np.inf)))
        return {
            "code": "not_worth_haul",
            "reason": f"best candidate {others[j]} not worth the haul: {r.b0[j]:,.0f} yen/unit "
            f"net at {r.km[j]:.1f} km",
            "best_candidate": others[j],
            "best_net_per_unit": round(float(r.b0[j]), 2),
            "best_km": round(float(r.km[j]), 1),
        }
    if near.any():
        return {
            "code": "no_period_overlap",
            "reason": f"no period in which it and any of the {int(near.sum())} compatible "
            "counterparts within haul are both active",
            "counterparts": int(near.sum()),
        }
    if comp.any():
        j = int(np.argmin(np.where(comp, r.km, np.inf)))
        return {
            "code": "beyond_haul",
            "reason": f"no compatible counterpart within haul distance (nearest {others[j]} "
            f"at {r.km[j]:.1f} km)",
            "nearest": others[j],
            "nearest_km": round(float(r.km[j]), 1),
        }
    return {
        "code": "no_compatible",
        "reason": "no compatible counterpart (class, grade, properties or partners), "
        "not even after a plant",
    }
