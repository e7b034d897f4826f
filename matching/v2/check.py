"""Independent verifier of a version 2 result (INSTANCE-v2.md).

Shares no code with the solver: its own dates, distances and rules, one flow at a time in
plain Python, the sums per period, the committed flows, every figure recomputed, and for
small instances its own LP over every allowed (path, ship period, deliver period) column.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from ..check import CheckReport, _check_flow_figures  # one rule for a flow's figures

R_EARTH = 6371.0088
LP_LIMIT = 2_000_000  # (route, ship, deliver) combinations the checker's LP may look at


@dataclass
class PlanningCheckReport(CheckReport):
    lp_columns: int | None = None  # columns of the checker's own LP

    def to_dict(self) -> dict:
        return {**super().to_dict(), "lp_columns": self.lp_columns}


def _day(s):
    return dt.date.fromisoformat(s).toordinal() if s else None


def _road_km(a, b, factor):
    la1, lo1, la2, lo2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * R_EARTH * math.asin(math.sqrt(min(1.0, h))) * factor


class _Rules:
    def __init__(self, inst: dict):
        h = inst["horizon"]
        self.start = _day(h["start"])
        self.days = int(h.get("period_days", 7))
        self.T = int(h["periods"])
        tr = inst.get("transport") or {}
        self.factor = float(tr.get("road_factor", 1.0))
        self.cost_km = float(tr.get("cost_per_unit_km", 0.0))
        self.co2_km = float(tr.get("co2_kg_per_unit_km", 0.0) or 0.0)
        self.carbon = float(inst.get("carbon_price_per_kg") or 0.0)
        self.grades = inst.get("grades") or []
        self.as_of = _day(inst.get("as_of"))
        self.excluded = {
            (p[0], p[1])
            for p in inst.get("excluded_pairs") or []
            if isinstance(p, (list, tuple)) and len(p) == 2
        }

    def active(self, rec, k: int) -> bool:
        if not 0 <= k < self.T:
            return False
        w = rec.get("window") or [None, None]
        lo, hi = _day(w[0]), _day(w[1])
        first = self.start + k * self.days
        last = first + self.days - 1
        return (lo is None or last >= lo) and (hi is None or first <= hi)

    def path(self, s, d, p, y):
        """(problems, legs km, class, benefit before holding) of a path, no periods."""
        bad = []
        cls = s.get("class")
        if p is not None:
            conv = p.get("converts") or {}
            if cls not in conv:
                bad.append(f"plant {p['id']} does not treat class {cls}")
            cls = conv.get(cls, cls)
        if (s.get("id"), d.get("id")) in self.excluded:
            bad.append("excluded pair (declined)")
        if d.get("accepts") and cls not in d["accepts"]:
            bad.append(f"class {cls} not accepted by demand {d['id']}")
        if d.get("min_grade") is not None:
            g = self.grades
            if cls not in g or g.index(cls) > g.index(d["min_grade"]):
                bad.append("grade below min_grade")
        if y is not None and y.get("accepts") and cls not in y["accepts"]:
            bad.append(f"class {cls} not accepted by stockyard {y['id']}")
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
            and s.get("owner") not in (d.get("partners") or [])
        ):
            bad.append("partner-only period")
        stops = [s] + [x for x in (p, y) if x is not None] + [d]
        legs = [_road_km(a, b, self.factor) for a, b in zip(stops, stops[1:], strict=False)]
        limit = min(
            x for x in (s.get("max_haul_km"), d.get("max_haul_km"), math.inf) if x is not None
        )
        if any(leg > limit + 1e-9 for leg in legs):
            bad.append("haul longer than max_haul_km")
        km = sum(legs)
        value = (d.get("value_by") or {}).get(cls, d.get("value") or 0.0)
        b = (
            float(s.get("disposal_cost") or 0.0)
            + float(value)
            - self.cost_km * km
            - (float(y.get("handling_cost") or 0.0) if y is not None else 0.0)
            - (float(p.get("cost_per_unit") or 0.0) if p is not None else 0.0)
            + self.carbon * (float(s.get("co2_avoided_kg_per_unit") or 0.0) - self.co2_km * km)
        )
        return bad, legs, cls, b

    def timing(self, s, d, p, y, ts, td):
        bad = []
        if y is None and ts != td:
            bad.append("ship and deliver periods differ without a stockyard")
        if td < ts:
            bad.append("delivered before it is shipped")
        if not self.active(s, ts):
            bad.append(f"supply {s['id']} not active in period {ts}")
        if not self.active(d, td):
            bad.append(f"demand {d['id']} not active in period {td}")
        if p is not None and not self.active(p, ts):
            bad.append(f"plant {p['id']} not active in period {ts}")
        if y is not None and not all(self.active(y, t) for t in range(ts, td + 1)):
            bad.append(f"stockyard {y['id']} not active in every period {ts}–{td}")
        return bad

    def hold(self, y, ts, td) -> float:
        return float(y.get("holding_cost_per_period") or 0.0) * (td - ts) if y is not None else 0.0


def _by_id(recs):
    return {r["id"]: r for r in recs or []}


def check_planning(
    inst: dict, result: dict, *, lp: bool = True, rel_tol: float = 1e-6
) -> PlanningCheckReport:
    """Verify a version 2 `result` against `inst`; both as parsed JSON. In steps: every flow
    against the rules and its timing, quantities per site and period, committed flows, the
    stock and load lists, what is left, the objective, then (small instances) the LP."""
    errors: list[str] = []
    rules = _Rules(inst)
    T = rules.T
    sup, dem = _by_id(inst.get("supplies")), _by_id(inst.get("demands"))
    yards, plants = _by_id(inst.get("stockyards")), _by_id(inst.get("plants"))
    if result.get("version") != 2:
        errors.append("result.version: must be 2")
    if result.get("status") not in ("optimal", "feasible"):
        errors.append(f"result.status: unexpected {result.get('status')!r}")
    tally = _check_flows(result, rules, (sup, dem, plants, yards), errors)
    _check_capacities(tally, (sup, dem, plants, yards), rel_tol, errors)
    committed = _committed(inst)
    for n, (key, q) in enumerate(committed.items()):
        have = tally.on_key.get(key, 0.0)
        if have < q - rel_tol * max(1.0, q):
            errors.append(f"committed flow {n} {key}: flows total {have} < agreed {q}")
    _check_lists(result, tally, sup, dem, errors)
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
    report = PlanningCheckReport(ok=False, errors=errors, recomputed_net_benefit=total)
    size = len(sup) * len(dem) * (1 + len(plants)) * (1 + len(yards)) * T * (T + 1) // 2
    if lp and size <= LP_LIMIT:
        opt, n_cols = _lp_optimum(inst, rules, sup, dem, plants, yards, committed)
        report.lp_optimum = opt
        report.lp_columns = n_cols
        lp_tol = rel_tol * max(1.0, abs(opt))
        if total > opt + lp_tol:
            errors.append(f"net_benefit {total:.4f} above the LP optimum {opt:.4f}")
        if result.get("status") == "optimal" and total < opt - lp_tol:
            errors.append(f"status optimal but LP optimum is {opt:.4f} > {total:.4f}")
        if ub is not None and ub < opt - lp_tol:
            errors.append(f"upper_bound {ub} below the LP optimum {opt:.4f}")
    report.ok = not errors
    return report


@dataclass
class _Tally:
    """What the flows move: per site, per site and period, held per yard and period,
    treated per plant and period, per committed key, blended sums, and the benefit."""

    sent: dict
    got: dict
    sent_t: dict = field(default_factory=dict)
    got_t: dict = field(default_factory=dict)
    stock: dict = field(default_factory=dict)
    load: dict = field(default_factory=dict)
    on_key: dict = field(default_factory=dict)
    blend_sum: dict = field(default_factory=dict)
    total: float = 0.0

    def add(self, book: dict, key, q: float) -> None:
        book[key] = book.get(key, 0.0) + q


def _flow_parts(f: dict, w: str, books, errors: list[str]):
    """The flow's supply, demand, plant and yard records and its quantity and periods, or
    None (with the error) when any is unknown or malformed."""
    sup, dem, plants, yards = books
    s, d = sup.get(f.get("supply")), dem.get(f.get("demand"))
    p = plants.get(f.get("plant")) if f.get("plant") is not None else None
    y = yards.get(f.get("yard")) if f.get("yard") is not None else None
    if (
        s is None
        or d is None
        or (f.get("plant") is not None and p is None)
        or (f.get("yard") is not None and y is None)
    ):
        errors.append(f"{w}: unknown supply, demand, plant or stockyard")
        return None
    q = f.get("quantity")
    ts, td = f.get("ship_period"), f.get("deliver_period")
    if not isinstance(q, (int, float)) or not math.isfinite(q) or q <= 0:
        errors.append(f"{w}.quantity: must be a positive number")
        return None
    if not isinstance(ts, int) or not isinstance(td, int):
        errors.append(f"{w}: ship_period and deliver_period must be whole numbers")
        return None
    return s, d, p, y, q, ts, td


def _check_flows(result: dict, rules: _Rules, books, errors: list[str]) -> _Tally:
    sup, dem = books[0], books[1]
    tally = _Tally(dict.fromkeys(sup, 0.0), dict.fromkeys(dem, 0.0))
    for i, f in enumerate(result.get("flows") or []):
        w = f"flows[{i}]"
        parts = _flow_parts(f, w, books, errors)
        if parts is None:
            continue
        s, d, p, y, q, ts, td = parts
        bad, legs, cls, b = rules.path(s, d, p, y)
        bad += rules.timing(s, d, p, y, ts, td)
        errors.extend(f"{w}: {problem}" for problem in bad)
        if f.get("class") != cls:
            errors.append(f"{w}.class: {f.get('class')!r} but the path delivers {cls!r}")
        b -= rules.hold(y, ts, td)
        _check_flow_figures(f, w, q, sum(legs), b, rules, errors)
        _count(tally, f, s, d, p, y, q, ts, td, b)
    return tally


def _count(tally: _Tally, f: dict, s, d, p, y, q, ts: int, td: int, b: float) -> None:
    tally.total += q * b
    tally.sent[s["id"]] += q
    tally.got[d["id"]] += q
    tally.add(tally.sent_t, (s["id"], ts), q)
    tally.add(tally.got_t, (d["id"], td), q)
    if y is not None:
        for t in range(ts, td + 1):
            tally.add(tally.stock, (y["id"], t), q)
    if p is not None:
        tally.add(tally.load, (p["id"], ts), q)
    tally.add(tally.on_key, (s["id"], d["id"], f.get("plant"), f.get("yard"), ts, td), q)
    if d.get("blend"):
        for name in d.get("limits") or {}:
            val = (s.get("properties") or {}).get(name)
            if val is not None:
                tally.add(tally.blend_sum, (d["id"], name), q * val)


def _check_capacities(tally: _Tally, books, rel_tol: float, errors: list[str]) -> None:
    sup, dem, plants, yards = books

    def over(have, cap):
        return cap is not None and have > cap + rel_tol * max(1.0, abs(cap))

    for k, v in tally.sent.items():
        if over(v, sup[k]["quantity"]):
            errors.append(f"supply {k}: ships {v} > quantity {sup[k]['quantity']}")
    for k, v in tally.got.items():
        if over(v, dem[k]["quantity"]):
            errors.append(f"demand {k}: receives {v} > quantity {dem[k]['quantity']}")
    for (k, t), v in sorted(tally.sent_t.items()):
        if over(v, sup[k].get("max_per_period")):
            errors.append(
                f"supply {k}: ships {v} in period {t} > max_per_period {sup[k]['max_per_period']}"
            )
    for (k, t), v in sorted(tally.got_t.items()):
        if over(v, dem[k].get("max_per_period")):
            errors.append(
                f"demand {k}: receives {v} in period {t} > max_per_period {dem[k]['max_per_period']}"
            )
    for (k, t), v in sorted(tally.stock.items()):
        if over(v, yards[k]["capacity"]):
            errors.append(
                f"stockyard {k}: holds {v} in period {t} > capacity {yards[k]['capacity']}"
            )
    for (k, t), v in sorted(tally.load.items()):
        if over(v, plants[k]["capacity_per_period"]):
            errors.append(
                f"plant {k}: treats {v} in period {t} > capacity_per_period {plants[k]['capacity_per_period']}"
            )
    for (did, name), acc in tally.blend_sum.items():
        lim = dem[did]["limits"][name]
        avg = acc / tally.got[did] if tally.got[did] > 0 else 0.0
        slack = 1e-6 * max(1.0, abs(avg))
        if lim.get("max") is not None and avg > lim["max"] + slack:
            errors.append(f"demand {did}: blended {name} {avg:.6f} above max {lim['max']}")
        if lim.get("min") is not None and avg < lim["min"] - slack:
            errors.append(f"demand {did}: blended {name} {avg:.6f} below min {lim['min']}")


def _check_lists(result: dict, tally: _Tally, sup, dem, errors: list[str]) -> None:
    """The yard stock and plant load lists against the flows, and what is left."""
    for name, rows, field_, counted in (
        ("yard_stock", result.get("yard_stock"), "yard", tally.stock),
        ("plant_load", result.get("plant_load"), "plant", tally.load),
    ):
        listed = {}
        for r in rows or []:
            listed[(r.get(field_), r.get("period"))] = r.get("quantity", 0.0)
        for k in set(listed) | {k for k, v in counted.items() if v > 1e-9}:
            have, want = listed.get(k, 0.0), counted.get(k, 0.0)
            if abs(have - want) > 1e-6 * max(1.0, want):
                errors.append(f"{name} {k[0]} period {k[1]}: lists {have} but flows give {want}")
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


def _committed(inst: dict) -> dict:
    out: dict = {}
    for c in inst.get("committed") or []:
        key = (
            c["supply"],
            c["demand"],
            c.get("plant"),
            c.get("yard"),
            c["ship_period"],
            c["deliver_period"],
        )
        out[key] = out.get(key, 0.0) + float(c["quantity"])
    return out


def _lp_optimum(inst, rules, sup, dem, plants, yards, committed) -> tuple[float, int]:
    """Optimum over every allowed column with positive benefit (and every committed one,
    held at least at its agreed quantity), and how many columns that is."""
    import warnings

    with warnings.catch_warnings():  # SWIG warns at import; as an error it crashes
        warnings.filterwarnings(
            "ignore", message=r"builtin type .* has no __module__", category=DeprecationWarning
        )
        from ortools.linear_solver import pywraplp

    T = rules.T
    lp = pywraplp.Solver.CreateSolver("GLOP")
    inf = lp.infinity()
    rs = {k: lp.Constraint(-inf, float(r["quantity"])) for k, r in sup.items()}
    rd = {k: lp.Constraint(-inf, float(r["quantity"])) for k, r in dem.items()}
    rst, rdt, ryt, rpt = {}, {}, {}, {}
    for book, rows in ((sup, rst), (dem, rdt)):
        for k, r in book.items():
            if r.get("max_per_period") is not None:
                for t in range(T):
                    rows[(k, t)] = lp.Constraint(-inf, float(r["max_per_period"]))
    for k, r in yards.items():
        for t in range(T):
            ryt[(k, t)] = lp.Constraint(-inf, float(r["capacity"]))
    for k, r in plants.items():
        for t in range(T):
            rpt[(k, t)] = lp.Constraint(-inf, float(r["capacity_per_period"]))
    blend = []
    for k, d in dem.items():
        if d.get("blend"):
            for name, lim in (d.get("limits") or {}).items():
                for kind in ("max", "min"):
                    if lim and lim.get(kind) is not None:
                        blend.append((k, name, kind, lim[kind], lp.Constraint(-inf, 0.0)))
    obj = lp.Objective()
    obj.SetMaximization()
    n_cols = 0
    for s in sup.values():
        for d in dem.values():
            for p in [None, *plants.values()]:
                for y in [None, *yards.values()]:
                    bad, _legs, _cls, b = rules.path(s, d, p, y)
                    if bad:
                        continue
                    for ts in range(T):
                        for td in range(ts, T) if y is not None else (ts,):
                            key = (s["id"], d["id"], p and p["id"], y and y["id"], ts, td)
                            bt = b - rules.hold(y, ts, td)
                            lo = committed.get(key, 0.0)
                            if (bt <= 0 and lo == 0) or rules.timing(s, d, p, y, ts, td):
                                continue
                            x = lp.NumVar(lo, inf, "")
                            n_cols += 1
                            obj.SetCoefficient(x, bt)
                            for row in (
                                rs[s["id"]],
                                rd[d["id"]],
                                rst.get((s["id"], ts)),
                                rdt.get((d["id"], td)),
                                p and rpt[(p["id"], ts)],
                            ):
                                if row is not None:
                                    row.SetCoefficient(x, 1)
                            if y is not None:
                                for t in range(ts, td + 1):
                                    ryt[(y["id"], t)].SetCoefficient(x, 1)
                            for k, name, kind, lim, row in blend:
                                if k == d["id"]:
                                    val = s["properties"][name]
                                    row.SetCoefficient(x, val - lim if kind == "max" else lim - val)
    if lp.Solve() != pywraplp.Solver.OPTIMAL:
        raise RuntimeError("checker LP did not solve to optimality")
    return obj.Value(), n_cols
