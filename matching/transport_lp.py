"""Transportation LP over a working set of arcs, solved by CLP (OR-Tools' simplex).

The network model's later pricing rounds add a few hundred arcs to a problem that is
already solved; OR-Tools' min-cost flow can only start again from nothing, but a simplex
method can start from the last basis. So those rounds solve this LP instead: one row per
supply and per demand (≤ quantity), one column per arc. A solve after `add` starts from
the previous optimal basis (primal simplex: the basis stays primal feasible when columns
are added); a new model is solved cold by the dual simplex.
"""

from __future__ import annotations

import numpy as np

from ._ortools import pywraplp, require_optimal
from .network import SolverError

# An LP vertex of a transportation problem with whole quantities is whole; simplex
# arithmetic leaves values within this distance of the integers.
INTEGRAL_TOL = 1e-6


class TransportLP:
    def __init__(self, qs: np.ndarray, qd: np.ndarray):
        solver = pywraplp.Solver.CreateSolver("CLP")
        if solver is None:
            raise SolverError("CLP linear solver is not available")
        self.solver = solver
        inf = solver.infinity()
        self.rs = [solver.Constraint(-inf, float(q)) for q in qs]
        self.rd = [solver.Constraint(-inf, float(q)) for q in qd]
        self.obj = solver.Objective()
        self.obj.SetMaximization()
        self.vars: list = []
        self.params = pywraplp.MPSolverParameters()
        self.solved = False

    def add(self, s: np.ndarray, d: np.ndarray, b: np.ndarray) -> None:
        """Columns for arcs s→d with benefit b per unit (callers never add one twice)."""
        solver, inf = self.solver, self.solver.infinity()
        for si, di, bi in zip(s.tolist(), d.tolist(), b.tolist(), strict=True):
            x = solver.NumVar(0.0, inf, "")
            self.obj.SetCoefficient(x, bi)
            self.rs[si].SetCoefficient(x, 1.0)
            self.rd[di].SetCoefficient(x, 1.0)
            self.vars.append(x)

    def solve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Optimal (x per column, supply duals u, demand duals v), duals ≥ 0."""
        if not self.vars:  # nothing to send; CLP crashes on a model without columns
            return np.zeros(0), np.zeros(len(self.rs)), np.zeros(len(self.rd))
        p = self.params
        p.SetIntegerParam(p.LP_ALGORITHM, p.PRIMAL if self.solved else p.DUAL)
        require_optimal(self.solver.Solve(p), "CLP")
        self.solved = True
        x = np.array([var.solution_value() for var in self.vars])
        u = np.maximum(np.array([r.dual_value() for r in self.rs], dtype=float), 0.0)
        v = np.maximum(np.array([r.dual_value() for r in self.rd], dtype=float), 0.0)
        return x, u, v


def whole_flows(
    x: np.ndarray, s: np.ndarray, d: np.ndarray, qs: np.ndarray, qd: np.ndarray
) -> np.ndarray | None:
    """x rounded to whole units, or None when it is not a whole, feasible flow."""
    f = np.rint(x)
    if np.abs(x - f).max(initial=0.0) > INTEGRAL_TOL or (f < 0).any():
        return None
    f = f.astype(np.int64)
    if (np.bincount(s, weights=f, minlength=len(qs)) > qs).any():
        return None
    if (np.bincount(d, weights=f, minlength=len(qd)) > qd).any():
        return None
    return f
