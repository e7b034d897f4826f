"""The LP with columns: blended limits and stockyard paths, priced in rounds (GLOP), and
the greedy plan used as a baseline. ``solver.solve_plan`` chooses it when the network
model does not apply."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ._ortools import pywraplp, require_optimal
from .arcs import Arcs, ArcSource, haversine_km, top_k_by_group, yard_paths
from .instance import Instance
from .network import SolverError
from .plan import REL_TOL, Plan

# GLOP keeps its basis between solves only when the new LP differs from the last one by
# appended columns alone. Presolve and scaling rewrite the whole LP (scale factors move as
# columns arrive), which turned every pricing round into a from-scratch solve (recycled
# 2k × 2k: 47 s of GLOP in 8 rounds, 13 s in 6 rounds without them). Benefits are in the
# thousands and coefficients are 1 or small property differences, so the unscaled LP is
# well conditioned; the bound is recomputed from the duals in any case.
_GLOP_PARAMS = "use_preprocessing:false use_scaling:false"
# Between rounds, an LP column that carries no flow and whose reduced benefit is below
# -RETIRE_MARGIN × the median column benefit is held at 0 (upper bound 0) and released
# when pricing finds it profitable again. With many dense blend rows GLOP's work per pivot
# grows with the number of free columns (recycled 2k × 2k: 12.5 s → 9 s of GLOP CPU).
RETIRE_MARGIN = 0.1

# ---------------------------------------------------------------- LP with columns


class _BlendDuals:
    """Duals of blended-limit rows, as a per-arc term Σ λ·(p_s − limit)."""

    def __init__(self, inst: Instance, lam_max: np.ndarray, lam_min: np.ndarray):
        self.inst, self.lam_max, self.lam_min = inst, lam_max, lam_min
        self.props = [
            p
            for p in range(len(inst.properties))
            if (lam_max[:, p] > 0).any() or (lam_min[:, p] > 0).any()
        ]

    def term(self, s: np.ndarray, d: np.ndarray) -> np.ndarray:
        inst = self.inst
        t = np.zeros(len(s))
        for p in self.props:
            ps = np.nan_to_num(inst.s_props[s, p])
            lm, ln = self.lam_max[d, p], self.lam_min[d, p]
            t += np.where(lm > 0, lm * (ps - np.where(lm > 0, inst.d_lim_max[d, p], 0)), 0)
            t += np.where(ln > 0, ln * (np.where(ln > 0, inst.d_lim_min[d, p], 0) - ps), 0)
        return t

    def lower(self) -> np.ndarray:
        """Per demand, the smallest term over all supplies (for separable bounds)."""
        inst = self.inst
        lo = np.zeros(len(inst.demands.ids))
        for p in self.props:
            col = inst.s_props[:, p]
            col = col[~np.isnan(col)]
            if len(col) == 0:
                continue
            pmin, pmax = col.min(), col.max()
            lm, ln = self.lam_max[:, p], self.lam_min[:, p]
            lo += np.where(lm > 0, lm * (pmin - np.where(lm > 0, inst.d_lim_max[:, p], 0)), 0)
            lo += np.where(ln > 0, ln * (np.where(ln > 0, inst.d_lim_min[:, p], 0) - pmax), 0)
        return lo


@dataclass
class _Columns:
    s: list = field(default_factory=list)
    y: list = field(default_factory=list)
    d: list = field(default_factory=list)
    km1: list = field(default_factory=list)
    km2: list = field(default_factory=list)
    b: list = field(default_factory=list)
    var: list = field(default_factory=list)
    index: dict = field(default_factory=dict)  # (s, y, d) -> column number

    def arrays(self) -> dict[str, np.ndarray]:
        return {f: np.asarray(getattr(self, f)) for f in ("s", "y", "d", "km1", "km2", "b")}


class _PathLP:
    def __init__(self, inst: Instance):
        self.inst = inst
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        if self.solver is None:
            raise SolverError("GLOP linear solver is not available")
        if not self.solver.SetSolverSpecificParametersAsString(_GLOP_PARAMS):
            raise SolverError(f"GLOP rejected the parameters {_GLOP_PARAMS!r}")
        inf = self.solver.infinity()
        S, D, Y = inst.supplies, inst.demands, inst.yards
        self.rs = [self.solver.Constraint(-inf, float(q)) for q in S.qty]
        self.rd = [self.solver.Constraint(-inf, float(q)) for q in D.qty]
        self.ry = [self.solver.Constraint(-inf, float(q)) for q in Y.qty]
        self.blend: list[tuple[int, int, str, object]] = []
        self.blend_of: dict[int, list] = {}
        for d in np.nonzero(inst.d_blend)[0]:
            for p in np.nonzero(inst.d_limited[d])[0]:
                for kind in ("max", "min"):
                    lim = inst.d_lim_max[d, p] if kind == "max" else inst.d_lim_min[d, p]
                    if np.isfinite(lim):
                        row = (int(d), int(p), kind, self.solver.Constraint(-inf, 0.0), float(lim))
                        self.blend.append(row)
                        self.blend_of.setdefault(int(d), []).append(row)
        self.obj = self.solver.Objective()
        self.obj.SetMaximization()
        self.cols = _Columns()
        self.retired = np.zeros(0, dtype=bool)  # columns held at 0 (upper bound 0)
        self.revived = np.zeros(0, dtype=bool)  # released once; never held again

    def add(self, s, y, d, km1, km2, b) -> int:
        inst, c = self.inst, self.cols
        added = 0
        for si, yi, di, k1, k2, bi in zip(
            s.tolist(), y.tolist(), d.tolist(), km1.tolist(), km2.tolist(), b.tolist(), strict=True
        ):
            key = (si, yi, di)
            if key in c.index:
                continue
            c.index[key] = len(c.var)
            x = self.solver.NumVar(0.0, self.solver.infinity(), "")
            self.obj.SetCoefficient(x, bi)
            self.rs[si].SetCoefficient(x, 1.0)
            self.rd[di].SetCoefficient(x, 1.0)
            if yi >= 0:
                self.ry[yi].SetCoefficient(x, 1.0)
            for _d, p, kind, row, lim in self.blend_of.get(di, ()):
                ps = inst.s_props[si, p]
                row.SetCoefficient(x, (ps - lim) if kind == "max" else (lim - ps))
            for lst, val in (
                (c.s, si),
                (c.y, yi),
                (c.d, di),
                (c.km1, k1),
                (c.km2, k2),
                (c.b, bi),
                (c.var, x),
            ):
                lst.append(val)
            added += 1
        self.retired = np.concatenate([self.retired, np.zeros(added, dtype=bool)])
        self.revived = np.concatenate([self.revived, np.zeros(added, dtype=bool)])
        return added

    def column_of(self, s: np.ndarray, y: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Column number of each (s, y, d) route, -1 where it is not in the LP."""
        index = self.cols.index
        return np.array(
            [index.get(key, -1) for key in zip(s.tolist(), y.tolist(), d.tolist(), strict=True)],
            dtype=np.int64,
        )

    def reduced(self, u, v, w, lam: _BlendDuals) -> np.ndarray:
        """Reduced benefit of every column for the given duals."""
        a = self.cols.arrays()
        if len(a["s"]) == 0:
            return np.zeros(0)
        s, y, d = a["s"].astype(np.int64), a["y"].astype(np.int64), a["d"].astype(np.int64)
        r = a["b"] - u[s] - v[d]
        if len(w):
            r -= np.where(y >= 0, w[np.maximum(y, 0)], 0.0)
        if lam.props:
            r -= lam.term(s, d)
        return r

    def idle(self, u, v, w, lam, x, margin: float) -> np.ndarray:
        """Columns worth holding at 0: no flow, reduced benefit below -margin, never
        released before (a column that is held and released again and again as the duals
        move between degenerate optima would keep the rounds from ending)."""
        return np.flatnonzero(
            ~self.retired & ~self.revived & (x <= 0) & (self.reduced(u, v, w, lam) < -margin)
        )

    def set_retired(self, retire: np.ndarray, revive: np.ndarray) -> bool:
        """Hold columns at 0 or release them; True if any bound changed. A held column
        stays in GLOP's matrix (so the basis survives) but no longer costs pricing work."""
        inf = self.solver.infinity()
        for i in retire.tolist():
            self.cols.var[i].SetUb(0.0)
        for i in revive.tolist():
            self.cols.var[i].SetUb(inf)
        self.retired[retire] = True
        self.retired[revive] = False
        self.revived[revive] = True
        return bool(len(retire) or len(revive))

    def solve(self):
        status = self.solver.Solve()
        if status == pywraplp.Solver.ABNORMAL:
            status = self._solve_from_scratch()
        require_optimal(status, "GLOP")
        inst = self.inst
        nD, P = len(inst.demands.ids), len(inst.properties)
        u = np.maximum([r.dual_value() for r in self.rs], 0.0) if self.rs else np.zeros(0)
        v = np.maximum([r.dual_value() for r in self.rd], 0.0) if self.rd else np.zeros(0)
        w = np.maximum([r.dual_value() for r in self.ry], 0.0) if self.ry else np.zeros(0)
        lam_max, lam_min = np.zeros((nD, P)), np.zeros((nD, P))
        for d, p, kind, row, _lim in self.blend:
            (lam_max if kind == "max" else lam_min)[d, p] = max(row.dual_value(), 0.0)
        x = np.array([var.solution_value() for var in self.cols.var])
        return (
            np.asarray(u, float),
            np.asarray(v, float),
            np.asarray(w, float),
            _BlendDuals(inst, lam_max, lam_min),
            x,
        )

    def _solve_from_scratch(self):
        """GLOP reports an incremental solve as imprecise (ABNORMAL here) when a residual
        ends just above its absolute 1e-6 tolerance, which unscaled LPs with large
        quantities can do. Solve again from scratch with presolve and scaling, and keep
        those settings for the rest of the run."""
        self.solver.SetSolverSpecificParametersAsString("")
        params = pywraplp.MPSolverParameters()
        params.SetIntegerParam(params.INCREMENTALITY, params.INCREMENTALITY_OFF)
        return self.solver.Solve(params)


def _solve_lp(inst, src, pool, progress, max_rounds, stats, k) -> Plan:
    S, D, Y = inst.supplies, inst.demands, inst.yards
    nY = len(Y.ids)
    lp = _PathLP(inst)

    def direct(idx):
        s, d = pool.s[idx].astype(np.int64), pool.d[idx].astype(np.int64)
        return s, np.full(len(s), -1), d, src.exact_km(s, d), np.zeros(len(s)), pool.b[idx]

    lp.add(*direct(pool.initial_idx))
    yp = _YardPricer(inst)
    lp.add(*yp.initial(k))
    margin = RETIRE_MARGIN * float(np.median(lp.cols.b)) if lp.cols.b else 0.0
    rounds = 0
    while True:
        rounds += 1
        progress("solve", min(0.9, 0.1 * rounds))
        u, v, w, lam, x = lp.solve()
        progress("pricing", min(0.95, 0.1 * rounds + 0.05))
        tol = 1e-7 * np.maximum(1.0, np.abs(u)) + 1e-6
        viol, u_need = pool.price_lp(v, u, tol, lam)
        yviol, u_need, exact = yp.price(u, v, w, lam, u_need, tol)
        bound = float(S.qty @ u_need + D.qty @ v + (Y.qty @ w if nY else 0.0))
        priced = _concat_paths([direct(viol), yviol])
        col = lp.column_of(*priced[:3])
        revive = col[col >= 0]
        revive = revive[lp.retired[revive]]
        fresh = tuple(a[col < 0] for a in priced)
        if (len(fresh[0]) == 0 and len(revive) == 0 and exact) or rounds >= max_rounds:
            break
        if lp.set_retired(lp.idle(u, v, w, lam, x, margin), revive) and len(fresh[0]):
            # GLOP warm-starts after bound changes or after appended columns, but not
            # after both at once: settle the bounds first.
            lp.solve()
        lp.add(*fresh)
    x = np.where(x > 1e-9, x, 0.0)
    used = np.nonzero(x > 0)[0]
    arr = (
        {f: a[used] for f, a in lp.cols.arrays().items()}
        if len(used)
        else {f: np.zeros(0) for f in ("s", "y", "d", "km1", "km2", "b")}
    )
    qty = x[used]
    net = float(qty @ arr["b"]) if len(used) else 0.0
    stats.update(
        candidate_arcs=len(lp.cols.var),
        allowed_arcs=len(pool),
        rounds=rounds,
        retired_columns=int(lp.retired.sum()),
    )
    status = "optimal" if (exact and bound - net <= REL_TOL * max(1.0, abs(bound))) else "feasible"
    return Plan(
        arr["s"].astype(np.int64),
        arr["y"].astype(np.int64),
        arr["d"].astype(np.int64),
        qty,
        arr["km1"],
        arr["km2"],
        arr["b"],
        status,
        net,
        bound,
        stats,
    )


class _YardPricer:
    """Prices supply→yard→demand paths per yard and supply class.

    For a yard y, a path's reduced benefit splits into a supply part P_s = base_s − k·km1
    and a demand part Q_d(c) = value_d(c) − k·km2 − v_d − (least blend term), minus
    handling and w_y. Sorting Q per class lets each supply look only at demands whose
    Q is high enough to beat its current dual; those pairs are then checked exactly.
    """

    def __init__(self, inst: Instance, cap_per_supply: int = 64):
        self.inst = inst
        self.cap = cap_per_supply
        S, D, Y = inst.supplies, inst.demands, inst.yards
        self.legs = []
        for y in range(len(Y.ids)):
            km1 = haversine_km(S.lat, S.lon, Y.lat[y], Y.lon[y]) * inst.road_factor
            km2 = haversine_km(Y.lat[y], Y.lon[y], D.lat, D.lon) * inst.road_factor
            s_ok = (
                inst.y_accepts[y, inst.s_class]
                & (S.start <= Y.end[y])
                & (Y.start[y] <= S.end)
                & (km1 <= S.haul)
                & (km1 <= D.haul.max(initial=np.inf))
            )
            d_ok = (D.start <= Y.end[y]) & (Y.start[y] <= D.end) & (km2 <= D.haul)
            si, di = np.nonzero(s_ok)[0], np.nonzero(d_ok)[0]
            self.legs.append((si, km1[si], di, km2[di]))

    def _pairs(self, y, si_sel, thresh, v, lam_lo, limit):
        """Pairs (s, d) with Q_d(c_s) > thresh_s, at most `limit` per supply, best first."""
        inst = self.inst
        si_all, km1_all, di, km2 = self.legs[y]
        out_s, out_d, truncated = [], [], np.zeros(0, dtype=np.int64)
        if len(di) == 0 or len(si_sel) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), truncated
        cls_sel = inst.s_class[si_sel]
        trunc = []
        for c in np.unique(cls_sel):
            acc = inst.d_accepts[di, c]
            dd = di[acc]
            if len(dd) == 0:
                continue
            q = inst.d_value[dd, c] - inst.km_cost * km2[acc] - v[dd] - lam_lo[dd]
            order = np.argsort(-q)
            q_sorted, d_sorted = q[order], dd[order]
            mine = cls_sel == c
            ss, th = si_sel[mine], thresh[mine]
            n = np.searchsorted(-q_sorted, -th, side="left")  # count with q > th
            over = n > limit
            trunc.append(ss[over])
            n = np.minimum(n, limit)
            if n.sum() == 0:
                continue
            rep_s = np.repeat(ss, n)
            offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
            out_s.append(rep_s)
            out_d.append(d_sorted[offs])
        if not out_s:
            return (
                np.zeros(0, np.int64),
                np.zeros(0, np.int64),
                (np.concatenate(trunc) if trunc else truncated),
            )
        return (
            np.concatenate(out_s),
            np.concatenate(out_d),
            np.concatenate(trunc) if trunc else truncated,
        )

    def initial(self, k: int):
        """A few promising paths per supply over all yards (the k best, before duals)."""
        inst = self.inst
        nD = len(inst.demands.ids)
        parts = []
        zero = np.zeros(nD)
        for y in range(len(self.legs)):
            si, km1, _, _ = self.legs[y]
            th = np.full(len(si), -np.inf)
            s, d, _ = self._pairs(y, si, th, zero, zero, 2 * k)
            parts.append(self._evaluate(y, s, d, keep_positive=True, k=k))
        s, y, d, km1, km2, b = _concat_paths(parts)
        idx = top_k_by_group(s, b, k)
        return s[idx], y[idx], d[idx], km1[idx], km2[idx], b[idx]

    def _evaluate(self, y, s, d, keep_positive=False, k=None):
        yy = np.full(len(s), y)
        ok, km1, km2, b = yard_paths(self.inst, s, yy, d)
        if keep_positive:
            ok &= b > 0
        s, d, km1, km2, b = s[ok], d[ok], km1[ok], km2[ok], b[ok]
        if k is not None and len(s):
            idx = top_k_by_group(s, b, k)
            s, d, km1, km2, b = s[idx], d[idx], km1[idx], km2[idx], b[idx]
        return s, np.full(len(s), y), d, km1, km2, b

    def price(self, u, v, w, lam, u_need, tol):
        """Raise u_need to cover every path; return violated paths and whether exact."""
        inst = self.inst
        exact = True
        lam_lo = lam.lower()
        parts = []
        for y in range(len(self.legs)):
            si, km1, _, _ = self.legs[y]
            if len(si) == 0:
                continue
            p = inst.s_base[si] - inst.km_cost * km1 - inst.y_handling[y] - w[y]
            th = u_need[si] - p  # a path helps only if Q > u_need − P
            s, d, trunc = self._pairs(y, si, th, v, lam_lo, self.cap)
            if len(trunc):
                exact = False
            if len(s) == 0:
                continue
            yy = np.full(len(s), y)
            ok, k1, k2, b = yard_paths(inst, s, yy, d)
            r = b - v[d] - w[y] - lam.term(s, d)
            ok &= b > 0
            s, d, k1, k2, b, r = s[ok], d[ok], k1[ok], k2[ok], b[ok], r[ok]
            np.maximum.at(u_need, s, r)
            bad = r > u[s] + tol[s]
            if bad.any():
                idx = np.nonzero(bad)[0]
                idx = idx[top_k_by_group(s[idx], r[idx], 4)]
                parts.append((s[idx], np.full(len(idx), y), d[idx], k1[idx], k2[idx], b[idx]))
            if len(trunc):
                # Not every path of these supplies was looked at: cover them by the
                # separable bound so the reported bound stays valid.
                c = inst.s_class[trunc]
                ti = np.searchsorted(si, trunc)
                qmax = self._qmax(y, v, lam_lo)
                u_need[trunc] = np.maximum(u_need[trunc], p[ti] + qmax[c])
        return _concat_paths(parts), u_need, exact

    def _qmax(self, y, v, lam_lo):
        inst = self.inst
        _, _, di, km2 = self.legs[y]
        C1 = inst.d_value.shape[1]
        out = np.full(C1, -np.inf)
        if len(di) == 0:
            return out
        q = inst.d_value[di, :] - (inst.km_cost * km2 + v[di] + lam_lo[di])[:, None]
        q = np.where(inst.d_accepts[di, :], q, -np.inf)
        return q.max(axis=0)


def _concat_paths(parts):
    if not parts:
        z = np.zeros(0, np.int64)
        return z, z, z, np.zeros(0), np.zeros(0), np.zeros(0)
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(6))


def greedy_plan(inst: Instance, k: int = 30) -> Plan:
    """Baseline: supplies by value, each to its nearest compatible demands (direct only)."""
    t0 = time.perf_counter()
    src = ArcSource(inst)
    near = []
    for blk in src.iter_blocks():
        near.append(blk.take(top_k_by_group(blk.s, -blk.km, k)))
    a = Arcs.concat(near)
    if len(a):
        # Blended demands are treated per lot here, which is always feasible.
        ok = np.ones(len(a), bool)
        for p in range(len(inst.properties)):
            val = inst.s_props[a.s, p]
            ok &= ~inst.d_limited[a.d, p] | (
                (val <= inst.d_lim_max[a.d, p]) & (val >= inst.d_lim_min[a.d, p])
            )
        a = a.take(ok)
        a = a.take(np.lexsort((a.km, -inst.s_base[a.s], a.s)))
    left_s = inst.supplies.qty.astype(float).copy()
    left_d = inst.demands.qty.astype(float).copy()
    by_s: dict[int, list[int]] = {}
    for i, s in enumerate(a.s.tolist()):
        by_s.setdefault(s, []).append(i)
    order = np.argsort(-inst.s_base, kind="stable")
    rows = []
    for s in order.tolist():
        for i in by_s.get(s, ()):
            if left_s[s] <= 0:
                break
            d = int(a.d[i])
            q = min(left_s[s], left_d[d])
            if q > 0:
                rows.append((s, d, q, a.km[i], a.b[i]))
                left_s[s] -= q
                left_d[d] -= q
    n = len(rows)
    arr = np.array(rows, dtype=float).reshape(n, 5)
    net = float(arr[:, 2] @ arr[:, 4]) if n else 0.0
    return Plan(
        arr[:, 0].astype(np.int64),
        np.full(n, -1),
        arr[:, 1].astype(np.int64),
        arr[:, 2],
        arr[:, 3],
        np.zeros(n),
        arr[:, 4],
        "feasible",
        net,
        None,
        {
            "model": "greedy (nearest compatible demand)",
            "candidate_arcs": len(a),
            "seconds": round(time.perf_counter() - t0, 3),
        },
    )
