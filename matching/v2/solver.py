"""Exact planning over time: a column-generation LP whose columns are (route, ship period,
deliver period), priced against every allowed route after each solve.

data → routes (routes.py, once) → master LP (GLOP) → duals → pricing over every route and
every period pair → add the most violated columns → … The pricing pass also gives the
tightest supply duals for the other duals, so Σ rhs × dual is a proven upper bound
whatever the solver's numerics; `optimal` only when it meets the plan's net benefit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .._ortools import pywraplp, require_optimal
from ..network import SolverError
from .model import PlanningInstance
from .routes import Routes, enumerate_routes, evaluate
from .yards import YardPricer, decomposable

Progress = Callable[[str, float], None]
REL_TOL = 1e-6
# Same reason as the version 1 path LP: GLOP keeps its basis between solves only when the
# new LP differs from the last by appended columns, and presolve/scaling rewrite it all.
_GLOP_PARAMS = "use_preprocessing:false use_scaling:false"
# Columns added per round: the most violated per supply and per demand.
PER_SUPPLY = 4
PER_DEMAND = 2
_CHUNK = 200_000  # routes priced at once (× periods floats per array)
_SNAP = 1e-6  # LP values this close to a whole number are that number


@dataclass
class PlanColumns:
    """A plan in index form: one row per flow (route, ship, deliver, quantity)."""

    route: np.ndarray
    ts: np.ndarray
    td: np.ndarray
    qty: np.ndarray
    committed: np.ndarray  # part of qty that was committed


@dataclass
class Plan:
    routes: Routes  # the flows' routes, row for row with `columns`
    columns: PlanColumns
    status: str
    net_benefit: float
    upper_bound: float | None
    stats: dict = field(default_factory=dict)
    store: Routes | None = None  # every allowed route with positive benefit (for reasons)
    yard_reach: tuple | None = None  # (supplies, demands) with a worthwhile yard route, when
    # yard routes are priced without being listed


def _noop(stage: str, fraction: float) -> None:
    pass


class _Duals:
    def __init__(self, inst: PlanningInstance, n_blend: int):
        b, T = inst.base, inst.periods
        nS, nD, nY, nP = (
            len(b.supplies.ids),
            len(b.demands.ids),
            len(b.yards.ids),
            len(inst.plant_ids),
        )
        self.u, self.v = np.zeros(nS), np.zeros(nD)
        self.alpha, self.beta = np.zeros((nS, T)), np.zeros((nD, T))
        self.w, self.pi = np.zeros((nY, T)), np.zeros((nP, T))
        self.lam = np.zeros(n_blend)


class _Master:
    """The restricted LP: rows for every quantity rule, columns added by pricing."""

    def __init__(self, inst: PlanningInstance, residual: dict):
        self.inst = inst
        solver = pywraplp.Solver.CreateSolver("GLOP")
        if solver is None:
            raise SolverError("GLOP linear solver is not available")
        if not solver.SetSolverSpecificParametersAsString(_GLOP_PARAMS):
            raise SolverError(f"GLOP rejected the parameters {_GLOP_PARAMS!r}")
        self.solver = solver
        inf = solver.infinity()
        b = inst.base
        self.res = residual

        def rows(caps: np.ndarray) -> list:
            return [solver.Constraint(-inf, float(c)) for c in caps]

        def period_rows(caps: np.ndarray, lo, hi, limited) -> dict:
            return {
                (i, t): solver.Constraint(-inf, float(caps[i, t]))
                for i in np.flatnonzero(limited).tolist()
                for t in range(int(lo[i]), int(hi[i]) + 1)
            }

        self.rs = rows(residual["s"])
        self.rd = rows(residual["d"])
        self.rsp = period_rows(
            residual["s_t"], inst.s_lo, inst.s_hi, np.isfinite(inst.s_per_period)
        )
        self.rdp = period_rows(
            residual["d_t"], inst.d_lo, inst.d_hi, np.isfinite(inst.d_per_period)
        )
        self.ry = period_rows(
            residual["y_t"], inst.y_lo, inst.y_hi, np.ones(len(b.yards.ids), bool)
        )
        self.rp = period_rows(
            residual["p_t"], inst.p_lo, inst.p_hi, np.ones(len(inst.plant_ids), bool)
        )
        self.blend = []  # (demand, property, sign, limit, row)
        self.blend_of: dict[int, list] = {}
        for j, prop, sign, lim, rhs in residual["blend"]:
            row = (j, prop, sign, lim, solver.Constraint(-inf, float(rhs)))
            self.blend.append(row)
            self.blend_of.setdefault(j, []).append(row)
        self.obj = solver.Objective()
        self.obj.SetMaximization()
        self.vars: list = []
        self.keys: dict[tuple, int] = {}
        self.cols: list[tuple] = []  # (s, d, p, y, ts, td) per LP column

    def add(self, s, d, p, y, ts, td) -> int:
        """Columns for the given (route, ship, deliver); those already in the LP are skipped."""
        inst = self.inst
        solver, inf = self.solver, self.solver.infinity()
        props = inst.base.s_props
        new = [
            k
            for k in dict.fromkeys(
                zip(
                    s.tolist(),
                    d.tolist(),
                    p.tolist(),
                    y.tolist(),
                    ts.tolist(),
                    td.tolist(),
                    strict=True,
                )
            )
            if k not in self.keys
        ]
        if not new:
            return 0
        arr = np.array(new, dtype=np.int64)
        r = evaluate(inst, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], reasons=False)
        if not r.ok.all():  # pricing only proposes allowed routes
            raise SolverError("pricing proposed a route that breaks a rule")
        benefit = r.b0 - r.hold * (arr[:, 5] - arr[:, 4])
        for n, key in enumerate(new):
            si, di, pi, yi, a, z = key
            self.keys[key] = len(self.vars)
            x = solver.NumVar(0.0, inf, "")
            self.obj.SetCoefficient(x, float(benefit[n]))
            self.rs[si].SetCoefficient(x, 1.0)
            self.rd[di].SetCoefficient(x, 1.0)
            row = self.rsp.get((si, a))
            if row is not None:
                row.SetCoefficient(x, 1.0)
            row = self.rdp.get((di, z))
            if row is not None:
                row.SetCoefficient(x, 1.0)
            if pi >= 0:
                self.rp[(pi, a)].SetCoefficient(x, 1.0)
            if yi >= 0:
                for t in range(a, z + 1):
                    self.ry[(yi, t)].SetCoefficient(x, 1.0)
            for _j, k, sign, lim, row in self.blend_of.get(di, ()):
                row.SetCoefficient(x, sign * (float(props[si, k]) - lim))
            self.vars.append(x)
            self.cols.append(key)
        return len(new)

    def solve(self, duals: _Duals) -> np.ndarray:
        status = self.solver.Solve()
        if status == pywraplp.Solver.ABNORMAL:
            # An incremental solve ended just outside GLOP's tolerance: from scratch, with
            # presolve and scaling, for the rest of the run.
            self.solver.SetSolverSpecificParametersAsString("")
            params = pywraplp.MPSolverParameters()
            params.SetIntegerParam(params.INCREMENTALITY, params.INCREMENTALITY_OFF)
            status = self.solver.Solve(params)
        require_optimal(status, "GLOP")

        def dual(row) -> float:
            return max(row.dual_value(), 0.0)

        duals.u = np.array([dual(r) for r in self.rs])
        duals.v = np.array([dual(r) for r in self.rd])
        for arr, rows in (
            (duals.alpha, self.rsp),
            (duals.beta, self.rdp),
            (duals.w, self.ry),
            (duals.pi, self.rp),
        ):
            arr[:] = 0.0
            for (i, t), row in rows.items():
                arr[i, t] = dual(row)
        duals.lam = np.array([dual(row[4]) for row in self.blend])
        return np.array([x.solution_value() for x in self.vars])


def _residual(inst: PlanningInstance) -> tuple[dict, float]:
    """Capacities left once the committed flows are in, and their net benefit."""
    b, T = inst.base, inst.periods
    S, D = b.supplies, b.demands
    res = {
        "s": S.qty.copy(),
        "d": D.qty.copy(),
        "s_t": np.repeat(np.minimum(inst.s_per_period, 1e300)[:, None], T, axis=1),
        "d_t": np.repeat(np.minimum(inst.d_per_period, 1e300)[:, None], T, axis=1),
        "y_t": np.repeat(inst.y_capacity[:, None], T, axis=1),
        "p_t": np.repeat(inst.p_capacity[:, None], T, axis=1),
    }
    blend = []
    for j in np.flatnonzero(b.d_blend).tolist():
        for k in np.flatnonzero(b.d_limited[j]).tolist():
            for sign, lim in ((1.0, b.d_lim_max[j, k]), (-1.0, b.d_lim_min[j, k])):
                if np.isfinite(lim):
                    blend.append([j, k, sign, float(lim), 0.0])
    value = 0.0
    for c in inst.committed:
        res["s"][c.s] -= c.quantity
        res["d"][c.d] -= c.quantity
        res["s_t"][c.s, c.ts] -= c.quantity
        res["d_t"][c.d, c.td] -= c.quantity
        if c.y >= 0:
            res["y_t"][c.y, c.ts : c.td + 1] -= c.quantity
        if c.p >= 0:
            res["p_t"][c.p, c.ts] -= c.quantity
        for row in blend:
            if row[0] == c.d:
                row[4] -= c.quantity * row[2] * (b.s_props[c.s, row[1]] - row[3])
    for key in ("s", "d", "s_t", "d_t", "y_t", "p_t"):
        np.maximum(res[key], 0.0, out=res[key])
    res["blend"] = [(j, k, sign, lim, max(rhs, 0.0)) for j, k, sign, lim, rhs in blend]
    return res, value


def _blend_term(inst: PlanningInstance, blend: list, lam: np.ndarray, s, d) -> np.ndarray:
    out = np.zeros(len(s))
    props = inst.base.s_props
    for (j, k, sign, lim, _row), lj in zip(blend, lam.tolist(), strict=True):
        if lj == 0.0:
            continue
        m = d == j
        out[m] += lj * sign * (props[s[m], k] - lim)
    return out


def price(inst: PlanningInstance, routes: Routes, duals: _Duals, blend: list, tol: float):
    """Best column of every route whose reduced benefit may be positive.

    Returns (route, ts, td, reduced benefit) for the routes priced, and per supply the
    largest reduced benefit over all its columns (≥ 0), which makes the duals feasible."""
    T = inst.periods
    nS = len(inst.base.supplies.ids)
    gap = np.maximum(routes.td_lo - routes.ts_hi, 0)
    lam_term = _blend_term(inst, blend, duals.lam, routes.s, routes.d) if blend else 0.0
    ub = routes.b0 - duals.u[routes.s] - duals.v[routes.d] - lam_term - routes.hold * gap
    cand = np.flatnonzero(ub > 0)
    periods = np.arange(T)
    W = np.concatenate([np.zeros((len(duals.w), 1)), np.cumsum(duals.w, axis=1)], axis=1)
    out_r, out_ts, out_td, out_rc = [], [], [], []
    for a in range(0, len(cand), _CHUNK):
        idx = cand[a : a + _CHUNK]
        s, d, p, y = routes.s[idx], routes.d[idx], routes.p[idx], routes.y[idx]
        h = routes.hold[idx][:, None]
        A = -duals.alpha[s]
        B = -duals.beta[d]
        if len(duals.pi):
            A -= np.where((p >= 0)[:, None], duals.pi[np.maximum(p, 0)], 0.0)
        yard = y >= 0
        if yard.any():
            yy = np.maximum(y, 0)
            A += np.where(yard[:, None], h * periods + W[yy, :-1], 0.0)
            B -= np.where(yard[:, None], h * periods + W[yy, 1:], 0.0)
        A[(periods < routes.ts_lo[idx][:, None]) | (periods > routes.ts_hi[idx][:, None])] = -np.inf
        B[(periods < routes.td_lo[idx][:, None]) | (periods > routes.td_hi[idx][:, None])] = -np.inf
        # Without a yard ship = deliver; with one, the best ship period up to each delivery.
        best_a = np.where(yard[:, None], np.maximum.accumulate(A, axis=1), A)
        total = best_a + B
        td = np.argmax(total, axis=1)
        val = total[np.arange(len(idx)), td]
        upto = np.where(periods[None, :] <= td[:, None], A, -np.inf)
        ts = np.where(yard, np.argmax(upto, axis=1), td)
        lt = lam_term[idx] if blend else 0.0
        rc = routes.b0[idx] - duals.u[s] - duals.v[d] - lt + val
        out_r.append(idx)
        out_ts.append(ts)
        out_td.append(td)
        out_rc.append(rc)
    if out_r:
        r, ts, td, rc = (np.concatenate(x) for x in (out_r, out_ts, out_td, out_rc))
    else:
        r = ts = td = np.zeros(0, np.int64)
        rc = np.zeros(0)
    raise_u = np.zeros(nS)
    if len(r):
        np.maximum.at(raise_u, routes.s[r], np.maximum(rc, 0.0))
    return r, ts, td, rc, raise_u


def _top(group: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest `key` within each group."""
    if len(group) == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort((-key, group))
    g = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    rank = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    return order[rank < k]


def solve_planning(
    inst: PlanningInstance,
    progress: Progress | None = None,
    *,
    max_rounds: int = 200,
    list_yard_routes: bool = False,
) -> Plan:
    """Optimal plan; `list_yard_routes` lists every yard route even when they could be
    priced without a list (the two must agree: a test compares them)."""
    progress = progress or _noop
    t0 = time.perf_counter()
    progress("candidates", 0.0)
    decompose = decomposable(inst) and len(inst.base.yards.ids) and not list_yard_routes
    yards = YardPricer(inst) if decompose else None
    routes = enumerate_routes(inst, yards=yards is None)
    progress("candidates", 1.0)
    residual, _ = _residual(inst)
    master = _Master(inst, residual)
    duals = _Duals(inst, len(master.blend))
    blend = master.blend
    committed_value = _committed_value(inst)
    scale = max(1.0, float(np.abs(inst.base.s_base).max(initial=0.0)))
    scale += float(np.abs(inst.base.d_value).max(initial=0.0))
    tol = 1e-9 * scale
    stats = _stats(inst, routes, yards)
    t_price = t_lp = 0.0
    stats["seconds_routes"] = round(time.perf_counter() - t0, 3)
    bound = None
    x = np.zeros(0)
    lp_value = 0.0
    rounds = 0
    status = "feasible"
    yard_reach = None
    for rounds in range(1, max_rounds + 1):  # noqa: B007
        progress("pricing", min(rounds / 20, 1.0))
        t1 = time.perf_counter()
        r, ts, td, rc, raise_u = price(inst, routes, duals, blend, tol)
        cand = [(routes.s[r], routes.d[r], routes.p[r], routes.y[r], ts, td, rc)]
        if yards is not None:
            ycols, y_raise = yards.price(duals, tol)
            cand.append(ycols)
            np.maximum(raise_u, y_raise, out=raise_u)
            if yard_reach is None:  # zero duals: who has a worthwhile yard route at all
                yard_reach = (ycols[0], ycols[1])
        t_price += time.perf_counter() - t1
        bound = committed_value + _dual_objective(master, residual, duals, raise_u)
        if bound - (committed_value + lp_value) <= REL_TOL * max(1.0, abs(bound)):
            status = "optimal"
            break
        if _add_columns(master, cand, tol) == 0:
            break  # nothing new prices positive, yet the gap is open: numerics; stop here
        progress("solve", min(rounds / 20, 1.0))
        t1 = time.perf_counter()
        x = master.solve(duals)
        t_lp += time.perf_counter() - t1
        lp_value = float(master.obj.Value())
    stats.update(
        {
            "rounds": rounds,
            "lp_columns": len(master.vars),
            "seconds_pricing": round(t_price, 3),
            "seconds_lp": round(t_lp, 3),
        }
    )
    progress("explain", 0.0)
    plan = _extract(inst, master, x, status, bound, stats)
    plan.store = routes
    plan.yard_reach = yard_reach
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    return plan


def _stats(inst: PlanningInstance, routes, yards) -> dict:
    stats = {
        "model": "column generation LP (GLOP)",
        "routes": len(routes),
        "periods": inst.periods,
    }
    if yards is not None:
        stats["yard_pricing"] = "decomposed"
        stats["yard_items_in"], stats["yard_items_out"] = yards.size
    return stats


def _add_columns(master, cand: list, tol: float) -> int:
    """Add the candidates that price positive, the best few per supply and per demand;
    returns how many were new."""
    s, d, p, y, ts, td, rc = (np.concatenate(z) for z in zip(*cand, strict=True))
    viol = rc > tol
    s, d, p, y, ts, td, rc = (z[viol] for z in (s, d, p, y, ts, td, rc))
    pick = np.union1d(_top(s, rc, PER_SUPPLY), _top(d, rc, PER_DEMAND))
    return master.add(s[pick], d[pick], p[pick], y[pick], ts[pick], td[pick])


def _committed_value(inst: PlanningInstance) -> float:
    if not inst.committed:
        return 0.0
    c = inst.committed
    r = evaluate(
        inst,
        np.array([x.s for x in c]),
        np.array([x.d for x in c]),
        np.array([x.p for x in c]),
        np.array([x.y for x in c]),
        reasons=False,
    )
    per = r.b0 - r.hold * np.array([x.td - x.ts for x in c])
    return float((per * np.array([x.quantity for x in c])).sum())


def _dual_objective(master: _Master, res: dict, duals: _Duals, raise_u: np.ndarray) -> float:
    total = float(res["s"] @ (duals.u + raise_u)) + float(res["d"] @ duals.v)
    for arr, rows, key in (
        (duals.alpha, master.rsp, "s_t"),
        (duals.beta, master.rdp, "d_t"),
        (duals.w, master.ry, "y_t"),
        (duals.pi, master.rp, "p_t"),
    ):
        for i, t in rows:
            if arr[i, t]:
                total += arr[i, t] * res[key][i, t]
    for (_j, _k, _sign, _lim, row), lj in zip(master.blend, duals.lam.tolist(), strict=True):
        total += lj * row.ub()
    return total


def _extract(inst, master, x, status, bound, stats) -> Plan:
    """Flows from the LP values merged with the committed flows, per column."""
    q = np.where(np.abs(x - np.rint(x)) <= _SNAP, np.rint(x), x) if len(x) else x
    keep = np.flatnonzero(q > _SNAP)
    cols: dict[tuple, list[float]] = {}
    for i in keep.tolist():
        key = master.cols[i]
        cols.setdefault(key, [0.0, 0.0])[0] += float(q[i])
    for c in inst.committed:
        key = (c.s, c.d, c.p, c.y, c.ts, c.td)
        entry = cols.setdefault(key, [0.0, 0.0])
        entry[0] += c.quantity
        entry[1] += c.quantity
    keys = sorted(cols)
    arr = np.array(keys, dtype=np.int64).reshape(-1, 6)
    fr = evaluate(inst, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], reasons=False)
    qty = np.array([cols[k][0] for k in keys])
    committed = np.array([cols[k][1] for k in keys])
    ts, td = arr[:, 4], arr[:, 5]
    net = float((qty * (fr.b0 - fr.hold * (td - ts))).sum())
    if bound is not None and status == "optimal" and bound - net > REL_TOL * max(1.0, abs(bound)):
        status = "feasible"
    if bound is not None and net > bound and net - bound <= REL_TOL * max(1.0, abs(bound)):
        bound = net  # rounding the LP values to whole units moved the figure by a hair
    return Plan(
        routes=fr,
        columns=PlanColumns(np.arange(len(keys)), ts, td, qty, committed),
        status=status,
        net_benefit=net,
        upper_bound=bound,
        stats=stats,
    )
