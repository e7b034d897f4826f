"""Transportation model as an OR-Tools min-cost flow, with exact dual potentials.

Benefits are scaled to integers (cost = −round(benefit × scale)); the scale is chosen so
that OR-Tools' internal cost scaling and the total cost cannot overflow int64. The solver
does not expose node potentials, so they are recovered as shortest-path distances in the
residual graph of the optimal flow (Bellman–Ford, vectorised), which gives demand duals v.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from .arcs import Arcs

_INT_LIMIT = 2**61


class SolverError(RuntimeError):
    """The underlying solver failed; the message says how."""


@dataclass
class NetworkSolution:
    flow: np.ndarray  # per candidate arc, int
    u: np.ndarray  # supply duals from potentials (per unit, unscaled)
    v: np.ndarray  # demand duals
    scale: float


def choose_scale(max_benefit: float, total_qty: float, n_nodes: int) -> float:
    """Largest useful integer scale for benefits that keeps every int64 sum safe."""
    max_benefit = max(max_benefit, 1e-9)
    safe = _INT_LIMIT / (max_benefit * max(total_qty, n_nodes + 1, 1) * 4)
    wanted = 1e8 / max_benefit  # ~27 bits of resolution for the largest benefit
    return float(min(safe, wanted))


def solve_transport(arcs: Arcs, qs: np.ndarray, qd: np.ndarray, scale: float) -> NetworkSolution:
    nS, nD = len(qs), len(qd)
    T = nS + nD
    m = len(arcs)
    if scale < 1e-6:
        raise SolverError("benefits too large to scale to integers safely")
    cost = -np.rint(arcs.b * scale).astype(np.int64)
    tails = np.concatenate([arcs.s, np.arange(nS), nS + np.arange(nD)]).astype(np.int32)
    heads = np.concatenate([nS + arcs.d, np.full(nS, T), np.full(nD, T)]).astype(np.int32)
    # One spare unit on arcs the node quantities already bound: such an arc is never
    # saturated, so its potentials must satisfy u + v >= benefit (no hidden arc dual).
    caps = np.concatenate([np.minimum(qs[arcs.s], qd[arcs.d]) + 1, qs + 1, qd]).astype(np.int64)
    costs = np.concatenate([cost, np.zeros(nS + nD, np.int64)])
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supply = np.concatenate([qs, np.zeros(nD, np.int64), [-int(qs.sum())]]).astype(np.int64)
    smcf.set_nodes_supplies(np.arange(T + 1, dtype=np.int32), supply)
    status = smcf.solve()
    S = smcf.Status
    if status != S.OPTIMAL:
        reasons = {
            S.NOT_SOLVED: "not solved",
            S.FEASIBLE: "stopped before optimality",
            S.INFEASIBLE: "infeasible (supply cannot all reach the sink)",
            S.UNBALANCED: "unbalanced supplies",
            S.BAD_RESULT: "internal check failed",
            S.BAD_COST_RANGE: "cost range overflow",
            S.BAD_CAPACITY_RANGE: "capacity overflow",
        }
        raise SolverError(f"min-cost flow: {reasons.get(status, status)}")
    flows = smcf.flows(np.arange(len(tails), dtype=np.int32))
    f_arc = flows[:m]
    f_sT = flows[m : m + nS]
    f_dT = flows[m + nS :]
    # Residual graph; dist from a virtual root joined to every node at cost 0.
    sd_t, sd_h, sd_c = arcs.s, nS + arcs.d, cost
    pos = f_arc > 0
    res_open = f_arc < caps[:m]
    rt = [
        sd_t[res_open],
        sd_h[pos],
        np.arange(nS),
        np.full(int((f_sT > 0).sum()), T),
        nS + np.nonzero(f_dT < qd)[0],
        np.full(int((f_dT > 0).sum()), T),
    ]
    rh = [
        sd_h[res_open],
        sd_t[pos],
        np.full(nS, T),
        np.nonzero(f_sT > 0)[0],
        np.full(int((f_dT < qd).sum()), T),
        nS + np.nonzero(f_dT > 0)[0],
    ]
    rc = [
        sd_c[res_open],
        -sd_c[pos],
        np.zeros(nS, np.int64),
        np.zeros(int((f_sT > 0).sum()), np.int64),
        np.zeros(int((f_dT < qd).sum()), np.int64),
        np.zeros(int((f_dT > 0).sum()), np.int64),
    ]
    tail = np.concatenate(rt).astype(np.int64)
    head = np.concatenate(rh).astype(np.int64)
    rcost = np.concatenate(rc).astype(np.int64)
    p = _bellman_ford(T + 1, tail, head, rcost)
    u = (p[:nS] - p[T]) / scale
    v = np.maximum((p[T] - p[nS:T]) / scale, 0.0)
    return NetworkSolution(flow=f_arc, u=np.maximum(u, 0.0), v=v, scale=scale)


def _bellman_ford(n: int, tail: np.ndarray, head: np.ndarray, cost: np.ndarray) -> np.ndarray:
    order = np.argsort(head, kind="stable")
    tail, head, cost = tail[order], head[order], cost[order]
    heads_u, starts = np.unique(head, return_index=True)
    p = np.zeros(n, dtype=np.int64)
    for _ in range(n + 1):
        cand = p[tail] + cost
        best = np.minimum.reduceat(cand, starts) if len(cand) else cand
        cur = p[heads_u]
        better = best < cur
        if not better.any():
            return p
        p[heads_u[better]] = best[better]
    raise SolverError("residual graph has a negative cycle: flow not optimal")
