"""A solution in index form (``Plan``), the plans of regions merged into one, and a plan
as plain JSON and back (what region jobs store)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .regions import Region

Progress = Callable[[str, float], None]
REL_TOL = 1e-6


@dataclass
class Plan:
    """A solution in index form: one row per flow."""

    s: np.ndarray
    y: np.ndarray  # -1 for direct
    d: np.ndarray
    qty: np.ndarray
    km1: np.ndarray
    km2: np.ndarray
    b: np.ndarray  # per unit
    status: str
    net_benefit: float
    upper_bound: float | None
    stats: dict = field(default_factory=dict)
    # The regions solved one by one (indices into the instance), when it was split.
    regions: list[Region] | None = None


def _noop(stage: str, fraction: float) -> None:
    pass


def merge_plans(parts: list[Region], plans: list[Plan]) -> Plan:
    """One plan from the plans of separate regions (indices mapped back to the whole
    instance). No allowed route crosses two regions, so the net benefits and the bounds
    add up, and the whole is optimal when the summed bound is within tolerance."""
    s = [r.supplies[p.s] for r, p in zip(parts, plans, strict=True)]
    d = [r.demands[p.d] for r, p in zip(parts, plans, strict=True)]

    def cat(arrays, dtype=float):
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype)

    net = float(sum(p.net_benefit for p in plans))
    bounds = [p.upper_bound for p in plans]
    bound = None if any(b is None for b in bounds) else float(sum(bounds))
    optimal = bound is not None and bound - net <= REL_TOL * max(1.0, abs(bound))
    stats: dict = {
        "model": plans[0].stats.get("model") if plans else "none",
        "regions": len(plans),
        "largest_region": [len(parts[0].supplies), len(parts[0].demands)] if parts else [0, 0],
    }
    for key in ("pairs_considered", "candidate_arcs", "priced_arcs_last_round"):
        stats[key] = int(sum(p.stats.get(key, 0) for p in plans))
    stats["rounds"] = max((p.stats.get("rounds", 0) for p in plans), default=0)
    return Plan(
        cat(s, np.int64).astype(np.int64),
        cat([p.y for p in plans], np.int64).astype(np.int64),
        cat(d, np.int64).astype(np.int64),
        cat([p.qty for p in plans]),
        cat([p.km1 for p in plans]),
        cat([p.km2 for p in plans]),
        cat([p.b for p in plans]),
        "optimal" if optimal else "feasible",
        net,
        bound,
        stats,
        regions=parts,
    )


_PLAN_ARRAYS = ("s", "y", "d", "qty", "km1", "km2", "b")


def plan_to_dict(plan: Plan) -> dict:
    """A plan as plain JSON types (indices as in the instance it was solved on)."""
    out = {f: getattr(plan, f).tolist() for f in _PLAN_ARRAYS}
    out.update(
        status=plan.status,
        net_benefit=plan.net_benefit,
        upper_bound=plan.upper_bound,
        stats=plan.stats,
    )
    return out


def plan_from_dict(data: dict) -> Plan:
    ints = {"s", "y", "d"}
    arrays = {f: np.asarray(data[f], dtype=np.int64 if f in ints else float) for f in _PLAN_ARRAYS}
    return Plan(
        **arrays,
        status=data["status"],
        net_benefit=float(data["net_benefit"]),
        upper_bound=None if data["upper_bound"] is None else float(data["upper_bound"]),
        stats=dict(data.get("stats") or {}),
    )
