"""Result objects in the shared result format, with the reasons behind unmatched listings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arcs import (
    class_ok,
    is_excluded,
    partners_ok,
    properties_ok,
    road_km_from_dot,
    unit_vectors,
)
from .instance import Instance
from .plan import Plan
from .regions import find_regions

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
    if explain:
        # What each listing exchanged with each counterpart: {listing: {counterpart: qty}}.
        s_with: dict[int, dict[int, float]] = {}
        d_with: dict[int, dict[int, float]] = {}
        for s_i, d_j, q in zip(plan.s.tolist(), plan.d.tolist(), plan.qty.tolist(), strict=True):
            s_with.setdefault(s_i, {})[d_j] = s_with.get(s_i, {}).get(d_j, 0.0) + q
            d_with.setdefault(d_j, {})[s_i] = d_with.get(d_j, {}).get(s_i, 0.0) + q
        s_why = _reasons(inst, s_idx, True, sent, got, left_d, s_with)
        d_why = _reasons(inst, d_idx, False, got, sent, left_s, d_with)
    else:
        s_why, d_why = {}, {}
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


def _reasons(
    inst: Instance,
    idx: np.ndarray,
    supply_side: bool,
    matched: np.ndarray,
    other_got: np.ndarray,
    other_left: np.ndarray,
    exchanged: dict[int, dict[int, float]],
) -> dict:
    """`_reasons_among` every counterpart, region by region where the instance splits.

    Every counterpart within haul of a listing lies in its region by haul limits alone
    (`find_regions(haul_only=True)`), so a reason found among the listing's region that
    rests on a counterpart within haul is the reason among all counterparts; the others
    (nothing within haul there: rules 1–6) are checked again against every counterpart."""
    args = (matched, other_got, other_left, exchanged)
    regions = find_regions(inst, haul_only=True) if len(idx) > _LOCAL_MIN else None
    if not regions or len(regions) < 2:
        return _reasons_among(inst, idx, supply_side, *args)
    region_of = np.full(len(inst.supplies.ids if supply_side else inst.demands.ids), -1)
    for k, region in enumerate(regions):
        region_of[region.supplies if supply_side else region.demands] = k
    out: dict[int, dict] = {}
    for k, region in enumerate(regions):
        mine = idx[region_of[idx] == k]
        if len(mine):
            others = region.demands if supply_side else region.supplies
            out.update(_reasons_among(inst, mine, supply_side, *args, others=others))
    far = np.array(
        [i for i in idx.tolist() if out.get(i, {}).get("code", "beyond_haul") in _NOTHING_NEAR],
        dtype=np.int64,
    )
    out.update(_reasons_among(inst, far, supply_side, *args))
    return out


# Below this many unmatched listings the all-against-all check is cheap enough.
_LOCAL_MIN = 200
# Reasons that say no counterpart is left within haul (rules 1–6, and a property limit).
_NOTHING_NEAR = (
    "no_counterpart",
    "no_compatible",
    "property_limit",
    "partner_only",
    "declined",
    "beyond_haul",
)


def _reasons_among(
    inst: Instance,
    idx: np.ndarray,
    supply_side: bool,
    matched: np.ndarray,
    other_got: np.ndarray,
    other_left: np.ndarray,
    exchanged: dict[int, dict[int, float]],
    others: np.ndarray | None = None,
) -> dict:
    """Why each listing in idx kept some quantity: the first rule, in the order a user
    would check them, that leaves it no counterpart (direct routes).

    1. nothing on the other side; 2. no counterpart accepts its class or grade; 3. none
    whose property limits it meets (or whose limits it can meet); 4. the rest are not
    partners during a partner-only period; 5. every remaining pair was declined; 6. none
    within haul distance; 7. no overlapping window; 8. none pays for the haul. With a
    counterpart left after all that, the plan either gave those counterparts' room to
    other listings (`outbid`, and only then), filled them with this listing itself
    (`counterparts_full`), kept it out of a blend whose average it would break
    (`property_limit` with `blend`), or simply did not take the route (`not_chosen`: a
    plan not proven optimal, such as the greedy baseline)."""
    S, D = inst.supplies, inst.demands
    all_ids = D.ids if supply_side else S.ids
    out: dict[int, dict] = {}
    if len(idx) == 0:
        return out
    if len(all_ids) == 0:
        for i in idx.tolist():
            out[i] = {"reason": "no counterpart listed", "code": "no_counterpart"}
        return out
    # Columns are the counterparts looked at (`others`, all when None): j is a column,
    # others[j] the counterpart's index in the instance.
    if others is None:
        others = np.arange(len(all_ids))
        other_ids = all_ids
    else:
        other_ids = [all_ids[j] for j in others.tolist()]
        col_of = {int(g): c for c, g in enumerate(others.tolist())}
        exchanged = {
            i: {col_of[k]: q for k, q in with_.items() if k in col_of}
            for i, with_ in exchanged.items()
        }
        other_got, other_left = other_got[others], other_left[others]
    other_qty = (D.qty if supply_side else S.qty)[others]
    s_vec, d_vec = unit_vectors(S.lat, S.lon), unit_vectors(D.lat, D.lon)
    mine_vec, other_vec = (s_vec, d_vec) if supply_side else (d_vec, s_vec)
    ctx = _Among(
        inst,
        supply_side,
        others,
        other_ids,
        matched,
        other_got,
        exchanged,
        other_left > _EPS * np.maximum(1, other_qty),
        mine_vec,
        other_vec[others],
    )
    rows = max(1, _CHUNK // len(others))
    for a in range(0, len(idx), rows):
        mine = idx[a : a + rows]
        m = _pair_masks(ctx, mine)
        for r, i in enumerate(mine.tolist()):
            out[i] = _reason_of(ctx, i, r, m)
            if len(inst.yards.ids) and out[i]["code"] not in ("outbid", "counterparts_full"):
                out[i]["reason"] += " on a direct route; no stockyard route was chosen either"
                out[i]["direct_routes_only"] = True
    return out


@dataclass
class _Among:
    """What every listing's reason is worked out against: the counterparts looked at and
    what the plan gave them."""

    inst: Instance
    supply_side: bool
    others: np.ndarray
    other_ids: list
    matched: np.ndarray
    other_got: np.ndarray
    exchanged: dict[int, dict[int, float]]
    has_room: np.ndarray
    mine_vec: np.ndarray  # unit vectors of the listings' own side
    other_vec: np.ndarray  # … and of the counterparts looked at


def _pair_masks(ctx: _Among, mine: np.ndarray) -> dict[str, np.ndarray]:
    """For listings ``mine`` × the counterparts, each rule in turn (each mask includes the
    ones before it), the road km, the haul limit and the net benefit per unit."""
    inst, others, supply_side = ctx.inst, ctx.others, ctx.supply_side
    S, D = inst.supplies, inst.demands
    n_other = len(others)
    si = np.repeat(mine, n_other) if supply_side else np.tile(others, len(mine))
    di = np.tile(others, len(mine)) if supply_side else np.repeat(mine, n_other)
    cls = class_ok(inst, si, di)
    props = cls & properties_ok(inst, si, di)
    partner = props & partners_ok(inst, si, di)
    comp = partner.copy()
    ex = inst.excluded_codes
    if ex is not None and len(ex):
        comp &= ~is_excluded(ex, si * max(len(D.ids), 1) + di)
    km = road_km_from_dot(ctx.mine_vec[mine] @ ctx.other_vec.T, inst.road_factor).ravel()
    haul = np.minimum(S.haul[si], D.haul[di])
    near = comp & (km <= haul)
    masks = {
        "cls": cls,
        "props": props,
        "partner": partner,
        "comp": comp,
        "lot_fits": properties_ok(inst, si, di, per_lot=True),
        "near": near,
        "timed": near & (S.start[si] <= D.end[di]) & (D.start[di] <= S.end[si]),
        "km": km,
        "b": inst.s_base[si] + inst.d_value[di, inst.s_class[si]] - inst.km_cost * km,
        "haul": haul,
    }
    return {k: v.reshape((len(mine), n_other)) for k, v in masks.items()}


def _reason_of(ctx: _Among, i: int, r: int, m: dict[str, np.ndarray]) -> dict:
    """The first rule that leaves listing ``i`` (row ``r``) no counterpart."""
    other_ids = ctx.other_ids
    km, haul = m["km"][r], m["haul"][r]
    if not m["cls"][r].any():
        return {
            "code": "no_compatible",
            "reason": "no compatible counterpart: none takes this class or grade",
        }
    if not m["props"][r].any():
        return _limit_entry(ctx, i, _nearest(m["cls"][r], km), blend=False)
    if not m["partner"][r].any():
        return {
            "code": "partner_only",
            "reason": (
                "the compatible counterparts are not partners of the owner "
                "during its partner-only period"
            ),
            "counterparts": int(m["props"][r].sum()),
        }
    if not m["comp"][r].any():
        return {
            "code": "declined",
            "reason": "every compatible counterpart was declined before",
            "counterparts": int(m["partner"][r].sum()),
        }
    if not m["near"][r].any():
        j = _nearest(m["comp"][r], km)
        return {
            "code": "beyond_haul",
            "reason": (
                "no compatible counterpart within haul distance (nearest "
                f"{other_ids[j]} at {km[j]:.1f} km, limit {haul[j]:.0f} km)"
            ),
            "nearest": other_ids[j],
            "nearest_km": round(float(km[j]), 1),
            "limit_km": round(float(haul[j]), 1),
        }
    if not m["timed"][r].any():
        return {
            "code": "no_window_overlap",
            "reason": (
                f"no window overlap with the {int(m['near'][r].sum())} compatible "
                "counterparts within haul distance"
            ),
            "counterparts": int(m["near"][r].sum()),
        }
    return _reason_among_possible(ctx, i, r, m)


def _reason_among_possible(ctx: _Among, i: int, r: int, m: dict[str, np.ndarray]) -> dict:
    """Counterparts are possible: none pays for the haul, or the plan left a route with
    room unused, or it gave their room to others, or this listing filled them."""
    other_ids, partly = ctx.other_ids, bool(ctx.matched[i] > _EPS)
    b, km = m["b"][r], m["km"][r]
    worth = m["timed"][r] & (b > 0)
    if not worth.any():
        j = _best(m["timed"][r], b)
        return {
            "code": "not_worth_haul",
            "reason": (
                f"best candidate {other_ids[j]} not worth the haul: "
                f"{b[j]:,.0f} yen/unit net at {km[j]:.1f} km"
            ),
            **_figures(other_ids[j], b[j], km[j]),
        }
    room = worth & ctx.has_room
    if room.any():
        # A route with room on both sides that the plan left unused.
        j = _best(room, b)
        if not m["lot_fits"][r, j]:
            return _limit_entry(ctx, i, j, blend=True)
        return {
            "code": "not_chosen",
            "reason": (
                f"the plan did not take the possible route to "
                f"{other_ids[j]} ({b[j]:,.0f} yen/unit at "
                f"{km[j]:.1f} km)"
            ),
            **_figures(other_ids[j], b[j], km[j]),
        }
    j = _best(worth, b)
    # Counterparts that took something from other listings.
    by_others = worth & (ctx.other_got > _EPS)
    for k, q in ctx.exchanged.get(i, {}).items():
        by_others[k] = worth[k] and ctx.other_got[k] - q > _EPS
    if by_others.any():
        j = _best(by_others, b)
        return {
            "code": "outbid",
            "reason": (
                f"{'partly matched; ' if partly else ''}compatible "
                "counterparts were given to better matches (best "
                f"candidate {other_ids[j]}: {b[j]:,.0f} yen/unit at "
                f"{km[j]:.1f} km)"
            ),
            "partly_matched": partly,
            **_figures(other_ids[j], b[j], km[j]),
        }
    return {
        "code": "counterparts_full",
        "reason": (
            "partly matched; the compatible counterparts within "
            f"reach take no more (best {other_ids[j]})"
        ),
        "partly_matched": partly,
        **_figures(other_ids[j], b[j], km[j]),
    }


def _limit_entry(ctx: _Among, i: int, j: int, blend: bool) -> dict:
    g = int(ctx.others[j])
    pair = (i, g) if ctx.supply_side else (g, i)
    partly = bool(ctx.matched[i] > _EPS)
    return _property_limit(ctx.inst, *pair, ctx.other_ids[j], blend, partly)


def _nearest(mask: np.ndarray, km: np.ndarray) -> int:
    return int(np.argmin(np.where(mask, km, np.inf)))


def _best(mask: np.ndarray, b: np.ndarray) -> int:
    return int(np.argmax(np.where(mask, b, -np.inf)))


def _figures(candidate: str, net: float, km: float) -> dict:
    return {
        "best_candidate": candidate,
        "best_net_per_unit": round(float(net), 2),
        "best_km": round(float(km), 1),
    }


def _property_limit(
    inst: Instance, s: int, d: int, candidate: str, blend: bool, partly: bool
) -> dict:
    """The first property limit of demand d that supply lot s does not meet on its own."""
    name, value, low, high = "", float("nan"), -np.inf, np.inf
    for p, prop in enumerate(inst.properties):
        if not inst.d_limited[d, p]:
            continue
        name, value = prop, float(inst.s_props[s, p])
        low, high = float(inst.d_lim_min[d, p]), float(inst.d_lim_max[d, p])
        if np.isnan(value) or not low <= value <= high:
            break
    missing = bool(np.isnan(value))
    side = "max" if (missing and np.isfinite(high)) or value > high else "min"
    bound = high if side == "max" else low
    where = (
        f"{'partly matched; ' if partly else ''}as a blend lot it would break the average "
        if blend
        else "no counterpart's property limits are met "
    )
    shown = "not given" if missing else f"{value:g}"
    return {
        "code": "property_limit",
        "reason": f"{where}({name}: {shown} against {side} {bound:g} at {candidate})",
        "candidate": candidate,
        "property": name,
        "value": None if missing else value,
        "limit": side,
        "limit_value": bound,
        "blend": blend,
        "partly_matched": partly,
    }
