"""Independent verifier of a result against its instance (INSTANCE.md, version 1).

Deliberately shares no code with the solver: its own date and distance arithmetic, one
rule at a time in plain Python, and for moderate sizes its own LP over every allowed
direct arc and stockyard path (GLOP) to compare the optimum.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

R_EARTH = 6371.0088
LP_LIMIT = 250_000  # supply × demand × (1 + stockyards) routes


@dataclass
class CheckReport:
    ok: bool
    errors: list[str] = field(default_factory=list)
    recomputed_net_benefit: float = 0.0
    lp_optimum: float | None = None

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "errors": self.errors,
            "recomputed_net_benefit": self.recomputed_net_benefit,
            "lp_optimum": self.lp_optimum,
        }


def _day(s):
    return dt.date.fromisoformat(s).toordinal() if s else None


def _window(rec):
    w = rec.get("window") or [None, None]
    a, b = _day(w[0]), _day(w[1])
    return (a if a is not None else -(10**9), b if b is not None else 10**9)


def _road_km(a, b, factor):
    la1, lo1, la2, lo2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * R_EARTH * math.asin(math.sqrt(min(1.0, h))) * factor


def _overlap(w1, w2):
    return w1[0] <= w2[1] and w2[0] <= w1[1]


class _Rules:
    def __init__(self, inst):
        self.inst = inst
        tr = inst.get("transport") or {}
        self.factor = float(tr.get("road_factor", 1.0))
        self.cost_km = float(tr.get("cost_per_unit_km", 0.0))
        self.co2_km = float(tr.get("co2_kg_per_unit_km", 0.0) or 0.0)
        self.carbon = float(inst.get("carbon_price_per_kg") or 0.0)
        self.grades = inst.get("grades") or []
        self.as_of = _day(inst.get("as_of"))
        # Extension: pairs one party declined; no flow between them, direct or via a yard.
        self.excluded = {
            (p[0], p[1])
            for p in inst.get("excluded_pairs") or []
            if isinstance(p, (list, tuple)) and len(p) == 2
        }

    def pair_problems(self, s, d):
        """Rules 1–3 (per lot), 6 and excluded_pairs for a supply/demand pair; broken rules."""
        bad = []
        if (s.get("id"), d.get("id")) in self.excluded:
            bad.append("excluded pair (declined)")
        c = s.get("class")
        if d.get("accepts") and c not in d["accepts"]:
            bad.append("class not accepted")
        if d.get("min_grade") is not None:
            g = self.grades
            if c not in g or g.index(c) > g.index(d["min_grade"]):
                bad.append("grade below min_grade")
        props = s.get("properties") or {}
        for name, lim in (d.get("limits") or {}).items():
            if not lim:
                continue
            val = props.get(name)
            if val is None:
                bad.append(f"missing property {name}")
            elif not d.get("blend"):
                if lim.get("max") is not None and val > lim["max"]:
                    bad.append(f"{name} above max")
                if lim.get("min") is not None and val < lim["min"]:
                    bad.append(f"{name} below min")
        pou = s.get("partner_only_until")
        if (
            pou is not None
            and self.as_of is not None
            and self.as_of < _day(pou)
            and (s.get("owner") not in (d.get("partners") or []))
        ):
            bad.append("partner-only period")
        return bad

    def route(self, s, d, y):
        """(problems, legs km, per-unit benefit) of a direct (y None) or yard route."""
        bad = self.pair_problems(s, d)
        ws, wd = _window(s), _window(d)
        limit = min(
            x for x in (s.get("max_haul_km"), d.get("max_haul_km"), math.inf) if x is not None
        )
        if y is None:
            legs = [_road_km(s, d, self.factor)]
            if not _overlap(ws, wd):
                bad.append("windows do not overlap")
            handling = 0.0
        else:
            legs = [_road_km(s, y, self.factor), _road_km(y, d, self.factor)]
            if y.get("accepts") and s.get("class") not in y["accepts"]:
                bad.append("class not accepted by stockyard")
            wy = _window(y)
            if not (_overlap(ws, wy) and _overlap(wd, wy) and ws[0] <= wd[1]):
                bad.append("stockyard windows do not line up")
            handling = float(y.get("handling_cost") or 0.0)
        if any(leg > limit + 1e-9 for leg in legs):
            bad.append("haul longer than max_haul_km")
        km = sum(legs)
        value = (d.get("value_by") or {}).get(s.get("class"), d.get("value") or 0.0)
        b = (
            float(s.get("disposal_cost") or 0.0)
            + float(value)
            - self.cost_km * km
            - handling
            + self.carbon * (float(s.get("co2_avoided_kg_per_unit") or 0.0) - self.co2_km * km)
        )
        return bad, legs, b


def check(inst: dict, result: dict, *, lp: bool = True, rel_tol: float = 1e-6) -> CheckReport:
    """Verify `result` against `inst`; both as parsed JSON. In steps: every flow against
    the rules, the quantities moved against each site's, the lists of what is left, the
    objective and its bound, then (small instances) the LP optimum."""
    errors: list[str] = []
    rules = _Rules(inst)
    sup = {r["id"]: r for r in inst.get("supplies") or []}
    dem = {r["id"]: r for r in inst.get("demands") or []}
    yards = {r["id"]: r for r in inst.get("stockyards") or []}
    if result.get("version") != 1:
        errors.append("result.version: must be 1")
    if result.get("status") not in ("optimal", "feasible"):
        errors.append(f"result.status: unexpected {result.get('status')!r}")
    tally = _check_flows(result, rules, sup, dem, yards, errors)
    _check_capacities(tally, sup, dem, yards, rel_tol, errors)
    _check_left(result, sup, dem, tally, errors)
    total = tally.total
    nb = result.get("net_benefit", 0.0)
    tol = rel_tol * max(1.0, abs(total))
    if abs(nb - total) > tol:
        errors.append(f"net_benefit: {nb} but flows add up to {total:.4f}")
    ub = result.get("upper_bound")
    if ub is not None and ub < nb - tol:
        errors.append(f"upper_bound {ub} below net_benefit {nb}")
    if result.get("status") == "optimal" and (ub is None or ub - nb > tol):
        errors.append("status optimal but upper_bound does not equal net_benefit")
    report = CheckReport(ok=False, errors=errors, recomputed_net_benefit=total)
    n_routes = len(sup) * len(dem) * (1 + len(yards))
    if lp and n_routes <= LP_LIMIT:
        report.lp_optimum = _check_lp(
            inst, rules, (sup, dem, yards), result, total, rel_tol, errors
        )
    report.ok = not errors
    return report


@dataclass
class _Tally:
    """What the flows move: out of each supply, into each demand, through each yard, the
    blended property sums and the recomputed net benefit."""

    sent: dict[str, float]
    got: dict[str, float]
    through: dict[str, float]
    blend_sum: dict[tuple[str, str], float] = field(default_factory=dict)
    total: float = 0.0


def _check_flows(result, rules: _Rules, sup, dem, yards, errors: list[str]) -> _Tally:
    tally = _Tally(dict.fromkeys(sup, 0.0), dict.fromkeys(dem, 0.0), dict.fromkeys(yards, 0.0))
    for i, f in enumerate(result.get("flows") or []):
        w = f"flows[{i}]"
        s, d = sup.get(f.get("supply")), dem.get(f.get("demand"))
        y = yards.get(f.get("via")) if f.get("via") is not None else None
        if s is None or d is None or (f.get("via") is not None and y is None):
            errors.append(f"{w}: unknown supply, demand or stockyard")
            continue
        q = f.get("quantity")
        if not isinstance(q, (int, float)) or not math.isfinite(q) or q <= 0:
            errors.append(f"{w}.quantity: must be a positive number")
            continue
        bad, legs, b = rules.route(s, d, y)
        errors.extend(f"{w}: {problem}" for problem in bad)
        _check_flow_figures(f, w, q, sum(legs), b, rules, errors)
        tally.total += q * b
        tally.sent[s["id"]] += q
        tally.got[d["id"]] += q
        if y is not None:
            tally.through[y["id"]] += q
        if d.get("blend"):
            for name in d.get("limits") or {}:
                val = (s.get("properties") or {}).get(name)
                if val is not None:
                    key = (d["id"], name)
                    tally.blend_sum[key] = tally.blend_sum.get(key, 0.0) + q * val
    return tally


def _check_flow_figures(f: dict, w: str, q, km: float, b: float, rules: _Rules, errors) -> None:
    """A flow's distance, net benefit, transport cost and CO2, recomputed."""
    if abs(f.get("road_km", -1) - km) > 1e-3:
        errors.append(f"{w}.road_km: {f.get('road_km')} but recomputed {km:.6f}")
    for key, want in (
        ("net_benefit", q * b),
        ("transport_cost", q * rules.cost_km * km),
        ("co2_kg", q * rules.co2_km * km),
    ):
        have = f.get(key)
        if (
            not isinstance(have, (int, float))
            or abs(have - want) > 1e-6 * max(1.0, abs(want)) + 1e-3
        ):
            errors.append(f"{w}.{key}: {have} but recomputed {want:.6f}")


def _check_capacities(tally: _Tally, sup, dem, yards, rel_tol: float, errors: list[str]) -> None:
    def over(have, cap):
        return have > cap + rel_tol * max(1.0, abs(cap))

    for k, v in tally.sent.items():
        if over(v, sup[k]["quantity"]):
            errors.append(f"supply {k}: sends {v} > quantity {sup[k]['quantity']}")
    for k, v in tally.got.items():
        if over(v, dem[k]["quantity"]):
            errors.append(f"demand {k}: receives {v} > quantity {dem[k]['quantity']}")
    for k, v in tally.through.items():
        if over(v, yards[k]["capacity"]):
            errors.append(f"stockyard {k}: passes {v} > capacity {yards[k]['capacity']}")
    for (did, name), acc in tally.blend_sum.items():
        lim = dem[did]["limits"][name]
        q = tally.got[did]
        avg = acc / q if q > 0 else 0.0
        slack = 1e-6 * max(1.0, abs(avg))
        if lim.get("max") is not None and avg > lim["max"] + slack:
            errors.append(f"demand {did}: blended {name} {avg:.6f} above max {lim['max']}")
        if lim.get("min") is not None and avg < lim["min"] - slack:
            errors.append(f"demand {did}: blended {name} {avg:.6f} below min {lim['min']}")


def _check_left(result: dict, sup, dem, tally: _Tally, errors: list[str]) -> None:
    """The unmatched supply and unmet demand lists: what is left, each with a reason."""
    for key, book, moved in (
        ("unmatched_supply", sup, tally.sent),
        ("unmet_demand", dem, tally.got),
    ):
        listed = {r.get("id"): r.get("quantity", 0) for r in result.get(key) or []}
        for k, rec in book.items():
            left = rec["quantity"] - moved[k]
            if abs(listed.get(k, 0.0) - left) > 1e-6 * max(1.0, rec["quantity"]):
                errors.append(f"{key} {k}: lists {listed.get(k, 0.0)} but {left} is left")
        for r in result.get(key) or []:
            if not r.get("reason"):
                errors.append(f"{key} {r.get('id')}: no reason given")


def _check_lp(inst, rules, books, result: dict, total: float, rel_tol: float, errors) -> float:
    """The LP optimum of the instance, and the result's figures against it."""
    sup, dem, yards = books
    opt = _lp_optimum(inst, rules, sup, dem, yards)
    lp_tol = rel_tol * max(1.0, abs(opt))
    ub = result.get("upper_bound")
    if total > opt + lp_tol:
        errors.append(f"net_benefit {total:.4f} above the LP optimum {opt:.4f}")
    if result.get("status") == "optimal" and total < opt - lp_tol:
        errors.append(f"status optimal but LP optimum is {opt:.4f} > {total:.4f}")
    if ub is not None and ub < opt - lp_tol:
        errors.append(f"upper_bound {ub} below the LP optimum {opt:.4f}")
    return opt


def _lp_optimum(inst, rules, sup, dem, yards) -> float:
    import warnings

    with warnings.catch_warnings():  # SWIG warns at import; as an error it crashes
        warnings.filterwarnings(
            "ignore", message=r"builtin type .* has no __module__", category=DeprecationWarning
        )
        from ortools.linear_solver import pywraplp

    lp = pywraplp.Solver.CreateSolver("GLOP")
    inf = lp.infinity()
    rs = {k: lp.Constraint(-inf, float(r["quantity"])) for k, r in sup.items()}
    rd = {k: lp.Constraint(-inf, float(r["quantity"])) for k, r in dem.items()}
    ry = {k: lp.Constraint(-inf, float(r["capacity"])) for k, r in yards.items()}
    blend = {}
    for k, d in dem.items():
        if d.get("blend"):
            for name, lim in (d.get("limits") or {}).items():
                for kind in ("max", "min"):
                    if lim and lim.get(kind) is not None:
                        blend[(k, name, kind)] = (lp.Constraint(-inf, 0.0), lim[kind])
    obj = lp.Objective()
    obj.SetMaximization()
    for s in sup.values():
        for d in dem.values():
            for y in [None, *yards.values()]:
                bad, _legs, b = rules.route(s, d, y)
                if bad or b <= 0:
                    continue
                x = lp.NumVar(0, inf, "")
                obj.SetCoefficient(x, b)
                rs[s["id"]].SetCoefficient(x, 1)
                rd[d["id"]].SetCoefficient(x, 1)
                if y is not None:
                    ry[y["id"]].SetCoefficient(x, 1)
                for (k, name, kind), (row, lim) in blend.items():
                    if k == d["id"]:
                        val = s["properties"][name]
                        row.SetCoefficient(x, val - lim if kind == "max" else lim - val)
    if lp.Solve() != pywraplp.Solver.OPTIMAL:
        raise RuntimeError("checker LP did not solve to optimality")
    return obj.Value()
