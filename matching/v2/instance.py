"""Reading and validating a version 2 instance (shared/matching/INSTANCE-v2.md).

Version 2 keeps every version 1 field, so the records are first read by the version 1
loader (same messages, same arrays); this module adds the horizon, per-period limits,
holding costs, improvement plants (改良プラント) and committed flows, and turns every
window into the interval of periods in which the record is active.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from ..instance import SOIL_CLASSES, Instance, InstanceError, load_instance
from .model import Committed, Horizon, PlanningInstance
from .routes import evaluate  # committed flows keep the rules the solver applies to routes

MAX_PERIODS = 1040  # twenty years of weeks; a longer horizon is a typing mistake
NOT_GRADED = 10**6


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return _is_num(v) and float(v) == int(v)


class _Errors(list):
    def add(self, where: str, msg: str) -> None:
        self.append(f"{where}: {msg}")

    def number(self, rec: dict, key: str, where: str, *, required=False, minimum=None):
        v = rec.get(key)
        if v is None:
            if required:
                self.add(f"{where}.{key}", "missing")
            return None
        if not _is_num(v) or not math.isfinite(float(v)):
            self.add(f"{where}.{key}", f"not a finite number: {v!r}")
            return None
        if minimum is not None and v < minimum:
            self.add(f"{where}.{key}", f"negative ({v:g})")
            return None
        return float(v)


def _records(data: dict, key: str, errors: _Errors) -> list[dict]:
    v = data.get(key)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        errors.add(key, "must be a list of objects")
        return []
    return v


def _horizon(data: dict, errors: _Errors) -> Horizon | None:
    h = data.get("horizon")
    if not isinstance(h, dict):
        errors.add("horizon", "missing or not an object (required in version 2)")
        return None
    start = None
    try:
        start = dt.date.fromisoformat(h.get("start")).toordinal()
    except (TypeError, ValueError):
        errors.add("horizon.start", f"not a date (YYYY-MM-DD): {h.get('start')!r}")
    days, periods = h.get("period_days", 7), h.get("periods")
    if not _is_int(days) or days < 1:
        errors.add("horizon.period_days", f"must be a whole number of days ≥ 1: {days!r}")
    if periods is None:
        errors.add("horizon.periods", "missing")
    elif not _is_int(periods) or not 1 <= periods <= MAX_PERIODS:
        errors.add(
            "horizon.periods", f"must be a whole number from 1 to {MAX_PERIODS}: {periods!r}"
        )
    if start is None or not _is_int(days) or days < 1 or not _is_int(periods):
        return None
    if not 1 <= periods <= MAX_PERIODS:
        return None
    return Horizon(start, int(days), int(periods))


def load_planning_instance(data: dict) -> PlanningInstance:
    """Validate a version 2 instance dict; raise InstanceError naming record and field."""
    if not isinstance(data, dict):
        raise InstanceError(["instance: must be a JSON object"])
    errors = _Errors()
    if data.get("version") != 2:
        errors.add("version", f"unsupported version {data.get('version')!r} (expected 2)")
    horizon = _horizon(data, errors)
    supplies = _records(data, "supplies", errors)
    demands = _records(data, "demands", errors)
    yards = _records(data, "stockyards", errors)
    plants = _records(data, "plants", errors)
    commits = _records(data, "committed", errors)

    # Everything version 1 knows is checked by version 1, with its messages.
    v1 = {k: v for k, v in data.items() if k not in ("horizon", "plants", "committed")}
    v1["version"] = 1
    vocab = data.get("classes")
    base_errors: list[str] = []
    base = None
    try:
        base = load_instance(v1)
    except InstanceError as exc:
        base_errors = exc.errors

    for key, recs in (("supplies", supplies), ("demands", demands)):
        for i, rec in enumerate(recs):
            errors.number(rec, "max_per_period", f"{key}[{i}]", minimum=0)
    for i, rec in enumerate(yards):
        errors.number(rec, "holding_cost_per_period", f"stockyards[{i}]", minimum=0)

    known = None
    if isinstance(vocab, list):
        known = set(vocab)
    elif data.get("material") == "soil":
        known = set(SOIL_CLASSES)
    plant_pos: dict[str, int] = {}
    for i, rec in enumerate(plants):
        w = f"plants[{i}]"
        pid = rec.get("id")
        if not isinstance(pid, str) or not pid:
            errors.add(f"{w}.id", "missing or not a string")
        elif pid in plant_pos:
            errors.add(f"{w}.id", f"duplicate id {pid!r} (also plants[{plant_pos[pid]}])")
        else:
            plant_pos[pid] = i
        for key, lo, hi in (("lat", -90, 90), ("lon", -180, 180)):
            v = errors.number(rec, key, w, required=True)
            if v is not None and not lo <= v <= hi:
                errors.add(f"{w}.{key}", f"out of range ({v:g})")
        errors.number(rec, "capacity_per_period", w, required=True, minimum=0)
        errors.number(rec, "cost_per_unit", w)
        _window_ok(rec, w, errors)
        conv = rec.get("converts")
        if not isinstance(conv, dict) or not conv:
            errors.add(f"{w}.converts", "must be an object mapping input class to output class")
            continue
        for a, b in conv.items():
            if not isinstance(b, str):
                errors.add(f"{w}.converts.{a}", f"output class must be a string: {b!r}")
            elif known is not None and b not in known:
                errors.add(f"{w}.converts.{a}", f"unknown output class {b!r}")

    if errors or base_errors or base is None or horizon is None:
        raise InstanceError(base_errors + list(errors))
    inst = _build(data, base, horizon, plants)
    _read_committed(inst, commits, errors)
    if errors:
        raise InstanceError(list(errors))
    return inst


def _window_ok(rec: dict, where: str, errors: _Errors) -> tuple[int, int]:
    w = rec.get("window")
    if w is None:
        return -(10**9), 10**9
    if not isinstance(w, list) or len(w) != 2:
        errors.add(f"{where}.window", "must be [start, end]")
        return -(10**9), 10**9
    days = []
    for v, default in ((w[0], -(10**9)), (w[1], 10**9)):
        if v is None:
            days.append(default)
            continue
        try:
            days.append(dt.date.fromisoformat(v).toordinal())
        except (TypeError, ValueError):
            errors.add(f"{where}.window", f"not a date (YYYY-MM-DD): {v!r}")
            return -(10**9), 10**9
    if days[1] < days[0]:
        errors.add(f"{where}.window", "end before start")
    return days[0], days[1]


def _build(data: dict, base: Instance, horizon: Horizon, plants: list[dict]) -> PlanningInstance:
    S, D, Y = base.supplies, base.demands, base.yards
    C = len(base.classes)
    cls_pos = {c: i for i, c in enumerate(base.classes)}

    def per_period(recs: list[dict]) -> np.ndarray:
        return np.array(
            [
                np.inf if r.get("max_per_period") is None else float(r["max_per_period"])
                for r in recs
            ]
        )

    nP = len(plants)
    p_lo_day, p_hi_day = np.zeros(nP, np.int64), np.zeros(nP, np.int64)
    conv = np.full((nP, C + 1), -1, dtype=np.int64)
    for i, rec in enumerate(plants):
        p_lo_day[i], p_hi_day[i] = _window_ok(rec, "", _Errors())
        for a, b in rec["converts"].items():
            if a in cls_pos:
                conv[i, cls_pos[a]] = cls_pos.get(b, C)
    rank = {g: i for i, g in enumerate(base.grades)}
    class_rank = np.array([rank.get(c, NOT_GRADED) for c in base.classes] + [NOT_GRADED])
    s_lo, s_hi = horizon.interval(S.start, S.end)
    d_lo, d_hi = horizon.interval(D.start, D.end)
    y_lo, y_hi = horizon.interval(Y.start, Y.end)
    p_lo, p_hi = horizon.interval(p_lo_day, p_hi_day)
    return PlanningInstance(
        raw=data,
        base=base,
        horizon=horizon,
        s_lo=s_lo,
        s_hi=s_hi,
        d_lo=d_lo,
        d_hi=d_hi,
        y_lo=y_lo,
        y_hi=y_hi,
        p_lo=p_lo,
        p_hi=p_hi,
        s_per_period=per_period(data.get("supplies") or []),
        d_per_period=per_period(data.get("demands") or []),
        y_capacity=Y.qty.copy(),
        y_holding=np.array(
            [float(r.get("holding_cost_per_period") or 0.0) for r in data.get("stockyards") or []]
        ),
        plant_ids=[r["id"] for r in plants],
        p_lat=np.array([float(r["lat"]) for r in plants]),
        p_lon=np.array([float(r["lon"]) for r in plants]),
        p_capacity=np.array([float(r["capacity_per_period"]) for r in plants]),
        p_cost=np.array([float(r.get("cost_per_unit") or 0.0) for r in plants]),
        p_converts=conv,
        class_rank=class_rank,
    )


def _read_committed(inst: PlanningInstance, recs: list[dict], errors: _Errors) -> None:
    """Committed flows: known records, periods in the horizon, every rule kept, and
    together within every quantity, limit and capacity."""
    b = inst.base
    pos = {
        "supply": {k: i for i, k in enumerate(b.supplies.ids)},
        "demand": {k: i for i, k in enumerate(b.demands.ids)},
        "plant": {k: i for i, k in enumerate(inst.plant_ids)},
        "yard": {k: i for i, k in enumerate(b.yards.ids)},
    }
    T = inst.periods
    for n, rec in enumerate(recs):
        w = f"committed[{n}]"
        idx = {}
        for key in ("supply", "demand", "plant", "yard"):
            v = rec.get(key)
            if v is None and key in ("plant", "yard"):
                idx[key] = -1
            elif not isinstance(v, str) or v not in pos[key]:
                errors.add(f"{w}.{key}", f"unknown {key} id {v!r}")
            else:
                idx[key] = pos[key][v]
        per = {}
        for key in ("ship_period", "deliver_period"):
            v = rec.get(key)
            if not _is_int(v) or not 0 <= v < T:
                errors.add(f"{w}.{key}", f"must be a period from 0 to {T - 1}: {v!r}")
            else:
                per[key] = int(v)
        q = errors.number(rec, "quantity", w, required=True, minimum=0)
        if q is not None and q <= 0:
            errors.add(f"{w}.quantity", f"must be positive ({q:g})")
            q = None
        if len(idx) < 4 or len(per) < 2 or q is None:
            continue
        ts, td = per["ship_period"], per["deliver_period"]
        if idx["yard"] < 0 and ts != td:
            errors.add(f"{w}.deliver_period", "differs from ship_period without a yard")
            continue
        if td < ts:
            errors.add(f"{w}.deliver_period", "before ship_period")
            continue
        s, d, p, y = (
            np.array([idx[k]], dtype=np.int64) for k in ("supply", "demand", "plant", "yard")
        )
        r = evaluate(inst, s, d, p, y)
        if not r.ok[0]:
            errors.add(w, f"breaks a rule: {r.why[0]}")
            continue
        if not (r.ts_lo[0] <= ts <= r.ts_hi[0] and r.td_lo[0] <= td <= r.td_hi[0]):
            errors.add(
                w,
                "breaks a rule: periods outside what the supply, demand, plant or yard "
                f"allow (ship {r.ts_lo[0]}–{r.ts_hi[0]}, deliver {r.td_lo[0]}–{r.td_hi[0]})",
            )
            continue
        inst.committed.append(
            Committed(idx["supply"], idx["demand"], idx["plant"], idx["yard"], ts, td, q)
        )
    if errors:
        return
    _committed_totals(inst, errors)


def _committed_totals(inst: PlanningInstance, errors: _Errors) -> None:
    b = inst.base
    T = inst.periods
    tol = 1e-9
    sent, got = np.zeros(len(b.supplies.ids)), np.zeros(len(b.demands.ids))
    sent_t, got_t = np.zeros((len(sent), T)), np.zeros((len(got), T))
    stock = np.zeros((len(b.yards.ids), T))
    load = np.zeros((len(inst.plant_ids), T))
    for c in inst.committed:
        sent[c.s] += c.quantity
        got[c.d] += c.quantity
        sent_t[c.s, c.ts] += c.quantity
        got_t[c.d, c.td] += c.quantity
        if c.y >= 0:
            stock[c.y, c.ts : c.td + 1] += c.quantity
        if c.p >= 0:
            load[c.p, c.ts] += c.quantity

    def over(have, cap):
        return have > cap * (1 + tol) + tol

    for i in np.flatnonzero(over(sent, b.supplies.qty)):
        errors.add("committed", f"supply {b.supplies.ids[i]} ships {sent[i]:g} > quantity")
    for j in np.flatnonzero(over(got, b.demands.qty)):
        errors.add("committed", f"demand {b.demands.ids[j]} receives {got[j]:g} > quantity")
    for i, t in zip(*np.nonzero(over(sent_t, inst.s_per_period[:, None])), strict=True):
        errors.add(
            "committed",
            f"supply {b.supplies.ids[i]} ships {sent_t[i, t]:g} in period {t} > max_per_period",
        )
    for j, t in zip(*np.nonzero(over(got_t, inst.d_per_period[:, None])), strict=True):
        errors.add(
            "committed",
            f"demand {b.demands.ids[j]} receives {got_t[j, t]:g} in period {t} > max_per_period",
        )
    for y, t in zip(*np.nonzero(over(stock, inst.y_capacity[:, None])), strict=True):
        errors.add(
            "committed",
            f"stockyard {b.yards.ids[y]} holds {stock[y, t]:g} in period {t} > capacity",
        )
    for p, t in zip(*np.nonzero(over(load, inst.p_capacity[:, None])), strict=True):
        errors.add(
            "committed",
            f"plant {inst.plant_ids[p]} treats {load[p, t]:g} in period {t} > capacity_per_period",
        )
    # Blended limits must hold for what is already agreed (the rule is on everything a
    # demand receives, and later flows cannot be forced to fix it).
    for j in np.flatnonzero(b.d_blend & b.d_limited.any(axis=1)) if len(got) else []:
        q = [(c.s, c.quantity) for c in inst.committed if c.d == j]
        total = sum(x for _, x in q)
        if total <= 0:
            continue
        for p in np.flatnonzero(b.d_limited[j]):
            avg = sum(b.s_props[s, p] * x for s, x in q) / total
            if avg > b.d_lim_max[j, p] + 1e-9 or avg < b.d_lim_min[j, p] - 1e-9:
                errors.add(
                    "committed",
                    f"demand {b.demands.ids[j]}: blended {b.properties[p]} {avg:g} outside its limits",
                )
