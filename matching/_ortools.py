"""OR-Tools imports, shielded from SWIG's import-time DeprecationWarning.

pywraplp's SWIG types warn "builtin type SwigPyPacked has no __module__ attribute" while
the extension initialises; with warnings turned into errors (as in our pytest settings)
that exception inside module init crashes the interpreter, so it is silenced here only.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message=r"builtin type .* has no __module__", category=DeprecationWarning
    )
    from ortools.linear_solver import pywraplp  # noqa: F401

from .network import SolverError  # noqa: E402

_LP_STATUS = {
    pywraplp.Solver.INFEASIBLE: "infeasible",
    pywraplp.Solver.UNBOUNDED: "unbounded",
    pywraplp.Solver.ABNORMAL: "abnormal",
    pywraplp.Solver.NOT_SOLVED: "not solved",
    pywraplp.Solver.MODEL_INVALID: "model invalid",
    pywraplp.Solver.FEASIBLE: "stopped before optimality",
}


def require_optimal(status: int, solver: str) -> None:
    """Raise SolverError naming the status unless a pywraplp solve ended optimal."""
    if status != pywraplp.Solver.OPTIMAL:
        raise SolverError(f"LP solver ({solver}): {_LP_STATUS.get(status, status)}")


__all__ = ["pywraplp", "require_optimal"]
