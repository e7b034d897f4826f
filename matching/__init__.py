"""Meguri matching engine (めぐり): who should send what to whom, optimally and provably.

Pure Python + OR-Tools + numpy; no web framework. Reads and writes the instance and
result format of shared/matching/INSTANCE.md (version 1) and INSTANCE-v2.md (version 2,
planning over time: `matching.v2`); `load_instance`, `solve` and `check` dispatch on the
instance's `version`.

Public API (used by market/allocation)::

    import matching

    inst = matching.load_instance(data)       # dict -> Instance; raises matching.InstanceError
    result = matching.solve(inst, progress=cb) # -> Result; cb(stage: str, fraction: float)
    result.to_dict()                           # the result format, ready for json.dump
    matching.greedy(inst)                      # baseline for comparison, never "optimal"
    matching.check(data, result.to_dict())     # independent verifier -> CheckReport

    # Regions no haul can join, solved separately (e.g. as parallel jobs) and merged:
    regions = matching.find_regions(inst)      # None, or [Region] largest first
    sub = matching.load_instance(matching.region_data(data, regions[i]))
    part = matching.solve_region(sub, progress=cb)        # JSON-able plan of region i
    result = matching.merge_regions(inst, regions, [part_0, part_1, ...])

`InstanceError.errors` lists messages like ``demands[3].window: end before start``.
Progress stages, in order: "candidates", "solve", "pricing" (solve/pricing repeat while
excluded arcs are priced back in), "explain", "done"; fractions are 0..1 within a run.
`SolverError` is raised only if OR-Tools itself fails (never for an infeasible match: an
instance with nothing matchable returns an empty, optimal result).

Command line::

    python -m matching solve INSTANCE.json --out RESULT.json
    python -m matching greedy INSTANCE.json --out RESULT.json
    python -m matching check INSTANCE.json RESULT.json

See docs/matching.md for the models, the pruning and pricing scheme and the bound.
"""

from __future__ import annotations

from . import v2
from .check import CheckReport
from .check import check as _check_v1
from .column_lp import greedy_plan
from .instance import Instance, InstanceError
from .instance import load_instance as _load_v1
from .network import SolverError
from .plan import Progress, merge_plans, plan_from_dict, plan_to_dict
from .regions import Region, find_regions, region_data, subset
from .result import Result, build_result
from .solver import solve_plan


def load_instance(data: dict) -> Instance | v2.PlanningInstance:
    """Validate an instance of either version (dispatch on its `version` field)."""
    if isinstance(data, dict) and data.get("version") == 2:
        return v2.load_planning_instance(data)
    return _load_v1(data)


def check(instance: dict, result: dict, *, lp: bool = True, rel_tol: float = 1e-6) -> CheckReport:
    """Independent verifier of a result of either version."""
    if isinstance(instance, dict) and instance.get("version") == 2:
        return v2.check_planning(instance, result, lp=lp, rel_tol=rel_tol)
    return _check_v1(instance, result, lp=lp, rel_tol=rel_tol)


def solve(
    instance: Instance | v2.PlanningInstance,
    progress: Progress | None = None,
    *,
    explain: bool = True,
    method: str = "auto",
) -> Result:
    """Optimal matching of `instance`; `status` is "optimal" only with a matching bound."""
    if isinstance(instance, v2.PlanningInstance):
        return v2.solve(instance, progress, explain=explain)
    plan = solve_plan(instance, progress, method=method)
    if progress:
        progress("explain", 0.0)
    result = build_result(instance, plan, explain=explain)
    if progress:
        progress("done", 1.0)
    return result


def solve_region(region_instance: Instance, progress: Progress | None = None) -> dict:
    """Optimal plan of one region (the instance of `region_data` or `subset`), as JSON
    types with indices local to the region; `merge_regions` takes them back."""
    return plan_to_dict(solve_plan(region_instance, progress, split=False))


def merge_regions(
    instance: Instance, regions: list[Region], parts: list[dict], *, explain: bool = True
) -> Result:
    """The result of the whole instance from the plans of all its regions (in order)."""
    if len(parts) != len(regions):
        raise ValueError(f"{len(parts)} region plans for {len(regions)} regions")
    plan = merge_plans(regions, [plan_from_dict(p) for p in parts])
    return build_result(instance, plan, explain=explain)


def greedy(instance: Instance, *, explain: bool = True) -> Result:
    """Greedy baseline: each supply, by value, to its nearest compatible demands."""
    if isinstance(instance, v2.PlanningInstance):
        raise InstanceError(["version: the greedy baseline reads version 1 instances only"])
    return build_result(instance, greedy_plan(instance), explain=explain)


__all__ = [
    "CheckReport",
    "Instance",
    "InstanceError",
    "Result",
    "SolverError",
    "Region",
    "check",
    "find_regions",
    "greedy",
    "merge_regions",
    "region_data",
    "subset",
    "solve_region",
    "load_instance",
    "solve",
]
