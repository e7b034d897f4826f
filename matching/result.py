"""Result objects in the shared result format, with the reasons behind unmatched listings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arcs import compatible, road_km_from_dot, unit_vectors
from .instance import Instance
from .regions import find_regions
from .solver import Plan

_EPS = 1e-9
_CHUNK = 2_000_000


@dataclass
class Result:
    status: str
    net_benefit: float
    upper_bound: float | None
    flows: list[dict]
    unmatched_supply: list[dict]
    unmet_demand: list[dict]
    stats: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "version": 1,
            "status": self.status,
            "net_benefit": self.net_benefit,
            "upper_bound": self.upper_bound,
            "flows": self.flows,
            "unmatched_supply": self.unmatched_supply,
            "unmet_demand": self.unmet_demand,
            "stats": self.stats,
        }


def build_result(inst: Instance, plan: Plan, explain: bool = True) -> Result:
    S, D, Y = inst.supplies, inst.demands, inst.yards
    km = plan.km1 + plan.km2
    flows = []
    for i in range(len(plan.s)):
        q = float(plan.qty[i])
        y = int(plan.y[i])
        row = {
            "supply": S.ids[plan.s[i]],
            "demand": D.ids[plan.d[i]],
            "via": Y.ids[y] if y >= 0 else None,
            "quantity": q,
            "road_km": round(float(km[i]), 6),
            "transport_cost": float(q * inst.cost_per_km * km[i]),
            "co2_kg": float(q * inst.co2_per_km * km[i]),
            "net_benefit": float(q * plan.b[i]),
            "handling_cost": float(q * inst.y_handling[y]) if y >= 0 else 0.0,
        }
        if y >= 0:
            row["legs_km"] = [round(float(plan.km1[i]), 6), round(float(plan.km2[i]), 6)]
        flows.append(row)
    sent = (
        np.bincount(plan.s, weights=plan.qty, minlength=len(S.ids)) if len(S.ids) else np.zeros(0)
    )
    got = np.bincount(plan.d, weights=plan.qty, minlength=len(D.ids)) if len(D.ids) else np.zeros(0)
    left_s = S.qty - sent
    left_d = D.qty - got
    s_idx = np.nonzero(left_s > _EPS * np.maximum(1, S.qty))[0]
    d_idx = np.nonzero(left_d > _EPS * np.maximum(1, D.qty))[0]
    s_why = _reasons(inst, s_idx, supply_side=True, matched=sent) if explain else {}
    d_why = _reasons(inst, d_idx, supply_side=False, matched=got) if explain else {}
    unmatched = [
        {"id": S.ids[i], "quantity": float(left_s[i]), **s_why.get(int(i), {})} for i in s_idx
    ]
    unmet = [{"id": D.ids[j], "quantity": float(left_d[j]), **d_why.get(int(j), {})} for j in d_idx]
    stats = {"supplies": len(S.ids), "demands": len(D.ids), "stockyards": len(Y.ids), **plan.stats}
    return Result(
        plan.status,
        float(plan.net_benefit),
        None if plan.upper_bound is None else float(plan.upper_bound),
        flows,
        unmatched,
        unmet,
        stats,
    )


def _reasons(inst: Instance, idx: np.ndarray, supply_side: bool, matched: np.ndarray) -> dict:
    """Why each listing in idx kept some quantity: checked rule by rule, direct routes.

    Every counterpart within haul of a listing lies in its region by haul limits, so
    listings are first checked against their own region only; those with nothing within
    haul there (nearest beyond haul, or none compatible) are checked against all."""
    regions = find_regions(inst, haul_only=True) if len(idx) > _LOCAL_MIN else None
    if not regions or len(regions) < 2:
        return _reasons_among(inst, idx, supply_side, matched, None)
    region_of = np.full(len(inst.supplies.ids if supply_side else inst.demands.ids), -1)
    for k, region in enumerate(regions):
        region_of[region.supplies if supply_side else region.demands] = k
    out: dict[int, dict] = {}
    for k, region in enumerate(regions):
        mine = idx[region_of[idx] == k]
        if len(mine):
            others = region.demands if supply_side else region.supplies
            out.update(_reasons_among(inst, mine, supply_side, matched, others))
    far = np.array(
        [i for i in idx.tolist() if out.get(i, {}).get("code", "beyond_haul") in _NOTHING_NEAR],
        dtype=np.int64,
    )
    out.update(_reasons_among(inst, far, supply_side, matched, None))
    return out


# Below this many unmatched listings the all-against-all check is cheap enough.
_LOCAL_MIN = 200
_NOTHING_NEAR = ("beyond_haul", "no_compatible")


def _reasons_among(
    inst: Instance,
    idx: np.ndarray,
    supply_side: bool,
    matched: np.ndarray,
    others: np.ndarray | None,
) -> dict:
    """`_reasons` against the counterparts `others` (all when None)."""
    S, D = inst.supplies, inst.demands
    all_ids = D.ids if supply_side else S.ids
    out: dict[int, dict] = {}
    if len(idx) == 0:
        return out
    if len(all_ids) == 0:
        for i in idx.tolist():
            out[i] = {"reason": "no counterpart listed", "code": "no_counterpart"}
        return out
    if others is None:
        others = np.arange(len(all_ids))
        other_ids = all_ids
    else:
        other_ids = [all_ids[j] for j in others.tolist()]
    n_other = len(others)
    rows = max(1, _CHUNK // n_other)
    s_vec, d_vec = unit_vectors(S.lat, S.lon), unit_vectors(D.lat, D.lon)
    mine_vec, other_vec = (s_vec, d_vec) if supply_side else (d_vec, s_vec)
    for a in range(0, len(idx), rows):
        mine = idx[a : a + rows]
        si = np.repeat(mine, n_other) if supply_side else np.tile(others, len(mine))
        di = np.tile(others, len(mine)) if supply_side else np.repeat(mine, n_other)
        comp = compatible(inst, si, di)
        km = road_km_from_dot(mine_vec[mine] @ other_vec[others].T, inst.road_factor).ravel()
        haul = np.minimum(S.haul[si], D.haul[di])
        near = comp & (km <= haul)
        timed = near & (S.start[si] <= D.end[di]) & (D.start[di] <= S.end[si])
        b = inst.s_base[si] + inst.d_value[di, inst.s_class[si]] - inst.km_cost * km
        shape = (len(mine), n_other)
        comp, near, timed, km, b, haul = (
            x.reshape(shape) for x in (comp, near, timed, km, b, haul)
        )
        for r, i in enumerate(mine.tolist()):
            partly = matched[i] > _EPS
            if timed[r].any():
                j = int(np.argmax(np.where(timed[r], b[r], -np.inf)))
                best = float(b[r, j])
                figures = {
                    "best_candidate": other_ids[j],
                    "best_net_per_unit": round(best, 2),
                    "best_km": round(float(km[r, j]), 1),
                }
                if best <= 0:
                    out[i] = {
                        "code": "not_worth_haul",
                        "reason": (
                            f"best candidate {other_ids[j]} not worth the haul: "
                            f"{best:,.0f} yen/unit net at {km[r, j]:.1f} km"
                        ),
                        **figures,
                    }
                else:
                    out[i] = {
                        "code": "outbid",
                        "reason": (
                            f"{'partly matched; ' if partly else ''}compatible counterparts were "
                            f"given to better matches (best candidate {other_ids[j]}: "
                            f"{best:,.0f} yen/unit at {km[r, j]:.1f} km)"
                        ),
                        "partly_matched": bool(partly),
                        **figures,
                    }
            elif near[r].any():
                out[i] = {
                    "code": "no_window_overlap",
                    "reason": (
                        f"no window overlap with the {int(near[r].sum())} compatible "
                        "counterparts within haul distance"
                    ),
                    "counterparts": int(near[r].sum()),
                }
            elif comp[r].any():
                j = int(np.argmin(np.where(comp[r], km[r], np.inf)))
                out[i] = {
                    "code": "beyond_haul",
                    "reason": (
                        "no compatible counterpart within haul distance (nearest "
                        f"{other_ids[j]} at {km[r, j]:.1f} km, limit {haul[r, j]:.0f} km)"
                    ),
                    "nearest": other_ids[j],
                    "nearest_km": round(float(km[r, j]), 1),
                    "limit_km": round(float(haul[r, j]), 1),
                }
            else:
                out[i] = {
                    "code": "no_compatible",
                    "reason": "no compatible counterpart (class, grade, properties or partners)",
                }
            if len(inst.yards.ids) and out[i]["code"] != "outbid":
                out[i]["reason"] += " on a direct route; no stockyard route was chosen either"
                out[i]["direct_routes_only"] = True
    return out
