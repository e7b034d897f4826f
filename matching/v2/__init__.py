"""Version 2 of the matching engine: planning over time (shared/matching/INSTANCE-v2.md).

Weekly periods, per-period supply and demand limits, stockyards whose occupancy is bounded
period by period, improvement plants (改良プラント) that convert classes, and committed
flows a new plan keeps. `matching.load_instance`, `matching.solve` and `matching.check`
dispatch here on the instance's `version`.
"""

from __future__ import annotations

from .check import check_planning
from .instance import load_planning_instance
from .model import PlanningInstance
from .result import PlanningResult, build_planning_result
from .solver import Progress, solve_planning


def solve(
    instance: PlanningInstance, progress: Progress | None = None, *, explain: bool = True
) -> PlanningResult:
    """Optimal plan of `instance`; `status` is "optimal" only with a matching bound."""
    plan = solve_planning(instance, progress)
    result = build_planning_result(instance, plan, explain=explain)
    if progress:
        progress("done", 1.0)
    return result


__all__ = [
    "PlanningInstance",
    "PlanningResult",
    "check_planning",
    "load_planning_instance",
    "solve",
]
