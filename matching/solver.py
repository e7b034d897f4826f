"""Exact solve: reduced candidate set, solve, price out everything excluded, repeat.

Two models share the scheme:
- no stockyards, no blending, whole quantities: a transportation network solved as an
  OR-Tools min-cost flow (network.py);
- otherwise a path LP (direct arcs and supply→yard→demand paths as columns, rows for
  supplies, demands, yard capacity and blended property limits) solved by GLOP.
After each solve the duals are checked against every allowed arc and path with the true
(unscaled) benefits; violated ones are added. The same pass gives the tightest supply
duals for the current demand/yard/blend duals, so Σ quantity × dual is a proven upper
bound whatever the solver's numerical accuracy.
"""

from __future__ import annotations

import time

import numpy as np

from .arcs import Arcs, ArcSource
from .column_lp import _BlendDuals, _solve_lp
from .instance import Instance
from .network import SolverError, choose_scale, solve_transport
from .plan import REL_TOL, Plan, Progress, _noop, merge_plans
from .pricing import GridPricer
from .regions import find_regions, subset
from .transport_lp import TransportLP, whole_flows

# Network model, first candidates: per supply and per demand the NETWORK_K_BEST best and
# NETWORK_K_NEAR nearest arcs within FIRST_RADIUS_KM road km. These only set how much
# work the rounds do, never the result (10k soil: 18 km gives 6 rounds and the least CPU;
# 25 km one round fewer but a slower first pick; fewer nearest arcs, many more rounds).
FIRST_RADIUS_KM = 18.0
NETWORK_K_BEST = 6
NETWORK_K_NEAR = 10
# Later network rounds (LP re-solves): arcs whose reduced benefit is below −DROP_MARGIN ×
# the largest benefit leave the working set once; more than WARM_MAX_NEW new arcs in a
# round means a cold re-solve instead of a warm one.
DROP_MARGIN = 0.01
WARM_MAX_NEW = 1500
# The coarse first min-cost flow: the median listing is about COARSE_UNITS units, the
# largest benefit about COARSE_COST_STEPS cost steps (10k soil: 0.55 s instead of 1.8 s
# for the exact one, and the same number of later rounds).
COARSE_UNITS = 100
COARSE_COST_STEPS = 1_000


def solve_plan(
    inst: Instance,
    progress: Progress | None = None,
    *,
    k: int | None = None,
    max_rounds: int = 30,
    method: str = "auto",
    split: bool = True,
) -> Plan:
    """Optimal plan. With `split`, an instance that falls apart into regions no haul can
    join is solved region by region (each the same way) and the plans merged."""
    progress = progress or _noop
    t0 = time.perf_counter()
    progress("candidates", 0.0)
    parts = find_regions(inst) if split else None
    if parts is not None and len(parts) > 1:
        plans = []
        total, done = sum(r.size for r in parts), 0
        for region in parts:

            def part_progress(stage, fraction, base=done, weight=region.size):
                progress(stage, (base + weight * fraction) / total)

            plans.append(
                solve_plan(
                    subset(inst, region),
                    part_progress,
                    k=k,
                    max_rounds=max_rounds,
                    method=method,
                    split=False,
                )
            )
            done += region.size
        plan = merge_plans(parts, plans)
        plan.stats["seconds"] = round(time.perf_counter() - t0, 3)
        progress("done", 1.0)
        return plan
    src = ArcSource(inst)
    qty_int = np.all(inst.supplies.qty == np.round(inst.supplies.qty)) and np.all(
        inst.demands.qty == np.round(inst.demands.qty)
    )
    network = len(inst.yards.ids) == 0 and not inst.has_blending and qty_int
    if method == "lp":
        network = False
    elif method == "network" and not network:
        raise SolverError(
            "instance needs the LP model (stockyards, blending or fractional quantities)"
        )
    stats = {
        "model": "min-cost flow" if network else "LP (GLOP)",
        "pairs_considered": src.pairs_considered(),
    }
    if network:
        plan = _solve_network(inst, src, k or NETWORK_K_BEST, progress, max_rounds, stats)
    else:
        k = k or 4
        pool = NetworkPool(src, k, 6)
        progress("candidates", 1.0)
        plan = _solve_lp(inst, src, pool, progress, max_rounds, stats, k)
    plan.stats["seconds"] = round(time.perf_counter() - t0, 3)
    progress("done", 1.0)
    return plan


def _seg_topk(val: np.ndarray, starts: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest finite `val` in each segment [starts[i], starts[i+1]);
    segments must be non-empty. Linear time: k passes of a segmented max (ties kept)."""
    n = len(val)
    if n == 0 or k <= 0:
        return np.zeros(0, np.int64)
    counts = np.diff(np.append(starts, n))
    work = val.astype(np.float64)
    out = []
    for _ in range(k):
        mx = np.maximum.reduceat(work, starts)
        hit = np.flatnonzero((work == np.repeat(mx, counts)) & (work > -np.inf))
        if len(hit) == 0:
            break
        out.append(hit)
        work[hit] = -np.inf
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _group_topk(group: np.ndarray, val: np.ndarray, k: int, n_groups: int) -> np.ndarray:
    """Positions of the k largest finite `val` per group (any order), ties kept."""
    if len(val) == 0 or k <= 0:
        return np.zeros(0, np.int64)
    work = val.astype(np.float64)  # a copy; same dtype as mx keeps ufunc.at on its fast path
    group = group.astype(np.intp)
    out = []
    for _ in range(k):
        mx = np.full(n_groups, -np.inf)
        np.maximum.at(mx, group, work)
        hit = np.flatnonzero((work == mx[group]) & (work > -np.inf))
        if len(hit) == 0:
            break
        out.append(hit)
        work[hit] = -np.inf
    return np.concatenate(out) if out else np.zeros(0, np.int64)


class NetworkPool:
    """Every allowed direct arc, compactly (supply and demand int32, benefit float64, km
    float32 for ranking only), grouped in runs of one supply; and the first candidates:
    per supply and per demand the k best by benefit and the k_near nearest."""

    def __init__(self, src: ArcSource, k: int, k_near: int):
        inst = src.inst
        parts = list(src.iter_compact())
        if parts:
            self.s = np.concatenate([p[0] for p in parts])
            self.d = np.concatenate([p[1] for p in parts])
            self.b = np.concatenate([p[2] for p in parts])
            km = np.concatenate([p[3] for p in parts])
        else:
            self.s = self.d = np.zeros(0, np.int32)
            self.b, km = np.zeros(0), np.zeros(0, np.float32)
        del parts
        n = len(self.s)
        self.nS, self.nD = len(inst.supplies.ids), len(inst.demands.ids)
        # Each supply lies in exactly one block, so its arcs form one contiguous run
        # (checked; sorted into runs otherwise).
        runs = np.count_nonzero(np.diff(self.s)) + 1 if n else 0
        if n and runs != len(np.unique(self.s)):
            order = np.argsort(self.s, kind="stable")
            self.s, self.d, self.b, km = self.s[order], self.d[order], self.b[order], km[order]
        self.run_start = (
            np.concatenate([[0], np.flatnonzero(np.diff(self.s)) + 1])
            if n
            else np.zeros(0, np.int64)
        )
        self.run_supply = self.s[self.run_start] if n else np.zeros(0, np.int64)
        self.run_count = np.diff(np.append(self.run_start, n))
        sel = [
            _seg_topk(self.b, self.run_start, k),
            _seg_topk(-km, self.run_start, k_near),
            _group_topk(self.d, self.b, k, self.nD),
            _group_topk(self.d, -km, k_near, self.nD),
        ]
        self.initial_idx = np.unique(np.concatenate(sel))

    def __len__(self) -> int:
        return len(self.s)

    def price(
        self,
        v: np.ndarray,
        u_pot: np.ndarray,
        tol: float,
        in_cand: np.ndarray,
        per_supply: int,
        per_demand: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Violated arcs outside the candidates (the most violated few per supply and per
        demand) and the tightest supply duals for demand duals v, with true benefits."""
        u_need = np.zeros(self.nS)
        if len(self.s) == 0:
            return np.zeros(0, np.int64), u_need
        r = self.b - v[self.d]
        u_need[self.run_supply] = np.maximum(np.maximum.reduceat(r, self.run_start), 0.0)
        r -= np.repeat(u_pot[self.run_supply], self.run_count)
        bad = np.flatnonzero(r > tol)
        bad = bad[~in_cand[bad]]
        if len(bad) == 0:
            return bad, u_need
        rb = r[bad]
        sb = self.s[bad]
        starts = np.concatenate([[0], np.flatnonzero(np.diff(sb)) + 1])
        pick = [
            _seg_topk(rb, starts, per_supply),
            _group_topk(self.d[bad], rb, per_demand, self.nD),
        ]
        return np.unique(bad[np.concatenate(pick)]), u_need

    def price_lp(
        self,
        v: np.ndarray,
        u: np.ndarray,
        tol: np.ndarray,
        lam: _BlendDuals,
        per_supply: int = 4,
        per_demand: int = 2,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `price`, with blend duals and a per-supply tolerance (path LP)."""
        u_need = np.zeros(self.nS)
        if len(self.s) == 0:
            return np.zeros(0, np.int64), u_need
        r = self.b - v[self.d]
        if lam.props:
            r -= lam.term(self.s, self.d)
        u_need[self.run_supply] = np.maximum(np.maximum.reduceat(r, self.run_start), 0.0)
        r -= np.repeat((u + tol)[self.run_supply], self.run_count)
        bad = np.flatnonzero(r > 0)
        if len(bad) == 0:
            return bad, u_need
        rb = r[bad]
        starts = np.concatenate([[0], np.flatnonzero(np.diff(self.s[bad])) + 1])
        pick = [
            _seg_topk(rb, starts, per_supply),
            _group_topk(self.d[bad], rb, per_demand, self.nD),
        ]
        return np.unique(bad[np.concatenate(pick)]), u_need


def _solve_network(
    inst,
    src,
    k,
    progress,
    max_rounds,
    stats,
    k_near=NETWORK_K_NEAR,
    add_supply=5,
    add_demand=5,
    first_radius_km=None,
) -> Plan:
    """Round 1 is a coarse min-cost flow on the first candidates (quantities in units of
    about a hundredth of the median listing, benefits in steps of a thousandth of the
    largest): it only has to be near the optimum, and it is three times as fast as the
    exact one. It picks the working set: the arcs that carry flow or are within
    DROP_MARGIN of tight, plus the violated arcs pricing finds. The exact answer comes from the transportation LP on that set (CLP),
    re-solved warm as pricing adds arcs, until no allowed arc anywhere is violated. Arcs
    left out of the working set are priced again every round like any other."""
    S, D = inst.supplies, inst.demands
    qs = np.rint(S.qty).astype(np.int64)
    qd = np.rint(D.qty).astype(np.int64)
    max_b = float(
        max((inst.s_base.max() if len(qs) else 0) + (inst.d_value.max() if len(qd) else 0), 1.0)
    )
    scale = choose_scale(max_b, float(qs.sum() + qd.sum()), len(qs) + len(qd) + 1)
    nD = max(len(qd), 1)
    pricer = GridPricer(inst, src)
    radius0 = FIRST_RADIUS_KM if first_radius_km is None else first_radius_km
    cs, cd, cb = pricer.initial(k, k_near, radius0)
    progress("candidates", 1.0)
    progress("solve", 0.1)
    unit, coarse = _coarse_flow(cs, cd, cb, qs, qd, min(scale, COARSE_COST_STEPS / max_b))
    flow, u, v = coarse.flow, coarse.u, coarse.v
    tol = 1e-9 * max_b + 1e-6
    lp = None
    rounds = 1
    while True:
        progress("pricing", min(0.95, 0.1 * rounds + 0.05))
        bs, bd, bb, u_need = pricer.price(u, v, tol, np.sort(cs * nD + cd), add_supply, add_demand)
        bound = float(qs @ u_need + qd @ v)
        if lp is not None and (len(bs) == 0 or rounds >= max_rounds):
            break
        rounds += 1
        progress("solve", min(0.9, 0.1 * rounds))
        if lp is None:
            # The working set: arcs that carry flow or are nearly tight, and the new ones.
            keep = (flow > 0) | (cb - u[cs] - v[cd] >= -DROP_MARGIN * max_b)
            cs, cd, cb = cs[keep], cd[keep], cb[keep]
        cs, cd, cb = np.concatenate([cs, bs]), np.concatenate([cd, bd]), np.concatenate([cb, bb])
        if lp is None or len(bs) > WARM_MAX_NEW:
            # Many new arcs: a warm primal simplex would pivot long over the whole set,
            # a cold dual simplex is faster. Arcs are dropped only once, so the working
            # set only grows afterwards and the rounds cannot cycle.
            lp = TransportLP(qs, qd)
            lp.add(cs, cd, cb)
        else:
            lp.add(bs, bd, bb)
        x, u, v = lp.solve()
    flow = whole_flows(x, cs, cd, qs, qd)
    if flow is None:  # not a whole vertex: the same arcs as an exact min-cost flow
        flow = solve_transport(Arcs(cs, cd, np.zeros(len(cs)), cb), qs, qd, scale).flow
    stats.update(
        model="LP (CLP) from a coarse min-cost flow",
        candidate_arcs=len(cs),
        priced_arcs_last_round=pricer.priced,
        rounds=rounds,
        coarse_unit=unit,
    )
    return _direct_plan(src, flow, cs, cd, cb, bound, stats)


def _coarse_flow(cs, cd, cb, qs, qd, scale: float):
    """Round 1: a min-cost flow in units of about a hundredth of the median listing."""
    unit = (
        max(1, int(np.median(np.concatenate([qs, qd]))) // COARSE_UNITS)
        if len(qs) and len(qd)
        else 1
    )
    coarse = solve_transport(
        Arcs(cs, cd, np.zeros(len(cs)), cb), -(-qs // unit), -(-qd // unit), scale
    )
    return unit, coarse


def _direct_plan(src, flow, cs, cd, cb, bound: float, stats: dict) -> Plan:
    """The plan of the arcs that carry flow (no stockyard on any), optimal when its value
    reaches the bound."""
    used = flow > 0
    fs, fd, fb = cs[used], cd[used], cb[used]
    qty = flow[used].astype(float)
    net = float(qty @ fb)
    status = "optimal" if bound - net <= REL_TOL * max(1.0, abs(bound)) else "feasible"
    n = len(fs)
    return Plan(
        fs,
        np.full(n, -1),
        fd,
        qty,
        src.exact_km(fs, fd),
        np.zeros(n),
        fb,
        status,
        net,
        bound,
        stats,
    )
