"""Routes of version 2: supply → [plant] → [stockyard] → demand, with every rule that does
not depend on quantities, and the periods in which each route can ship and deliver.

A route fixes the places; a column of the LP is a route with a ship and a deliver period.
All rules except the quantity sums are checked here, once, vectorised over index arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .model import PlanningInstance

EARTH_RADIUS_KM = 6371.0088
_BLOCK = 1_000_000  # routes evaluated at once


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin((np.radians(lon2) - np.radians(lon1)) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


@dataclass
class Routes:
    s: np.ndarray
    d: np.ndarray
    p: np.ndarray  # -1: no plant
    y: np.ndarray  # -1: no yard
    cls: np.ndarray  # class index the demand receives
    legs: np.ndarray  # (n, 3) road km of each leg, 0 where the route has fewer
    ts_lo: np.ndarray  # ship periods allowed: ts_lo..ts_hi
    ts_hi: np.ndarray
    td_lo: np.ndarray  # deliver periods allowed (= ship period without a yard)
    td_hi: np.ndarray
    b0: np.ndarray  # benefit per unit before holding
    hold: np.ndarray  # holding cost per unit and period boundary (0 without a yard)
    ok: np.ndarray = field(default=None)
    why: list[str] = field(default_factory=list)
    masks: dict = field(default_factory=dict)

    FIELDS = ("s", "d", "p", "y", "cls", "legs", "ts_lo", "ts_hi", "td_lo", "td_hi", "b0", "hold")

    @property
    def km(self) -> np.ndarray:
        return self.legs.sum(axis=1)

    def __len__(self) -> int:
        return len(self.s)

    def take(self, idx) -> Routes:
        return Routes(*(getattr(self, f)[idx] for f in self.FIELDS))

    @staticmethod
    def concat(parts: list[Routes]) -> Routes:
        if not parts:
            z = np.zeros(0, np.int64)
            return Routes(z, z, z, z, z, np.zeros((0, 3)), z, z, z, z, np.zeros(0), np.zeros(0))
        return Routes(*(np.concatenate([getattr(r, f) for r in parts]) for f in Routes.FIELDS))


def evaluate(
    inst: PlanningInstance,
    s: np.ndarray,
    d: np.ndarray,
    p: np.ndarray,
    y: np.ndarray,
    *,
    reasons: bool = True,
) -> Routes:
    """Rules 1–5 of INSTANCE-v2.md for each (s, d, p, y); `ok` says which hold, `why`
    (with `reasons`) names the first broken one."""
    b = inst.base
    S, D, Y = b.supplies, b.demands, b.yards
    n = len(s)
    has_p, has_y = p >= 0, y >= 0
    pp, yy = np.maximum(p, 0), np.maximum(y, 0)
    C = len(b.classes)
    cls = b.s_class[s]
    if len(inst.plant_ids):
        cls = np.where(has_p, inst.p_converts[pp, cls], cls)
    plant_ok = cls >= 0
    cls = np.where(plant_ok, cls, C)
    class_ok = b.d_accepts[d, cls] & (inst.class_rank[cls] <= b.d_min_rank[d])
    yard_ok = ~has_y | (b.y_accepts[yy, cls] if len(Y.ids) else True)
    props_ok = _props_ok(b, s, d)
    partner_ok = _partner_ok(b, s, d)

    # Legs: s → first stop → second stop → d.
    def pick(pl, yl, dl):
        return np.where(has_p, pl, np.where(has_y, yl, dl))

    plat = inst.p_lat[pp] if len(inst.plant_ids) else np.zeros(n)
    plon = inst.p_lon[pp] if len(inst.plant_ids) else np.zeros(n)
    ylat = Y.lat[yy] if len(Y.ids) else np.zeros(n)
    ylon = Y.lon[yy] if len(Y.ids) else np.zeros(n)
    alat, alon = pick(plat, ylat, D.lat[d]), pick(plon, ylon, D.lon[d])
    legs = np.zeros((n, 3))
    f = b.road_factor
    legs[:, 0] = haversine_km(S.lat[s], S.lon[s], alat, alon) * f
    two = has_p | has_y
    blat = np.where(has_p & has_y, ylat, D.lat[d])
    blon = np.where(has_p & has_y, ylon, D.lon[d])
    legs[:, 1] = np.where(two, haversine_km(alat, alon, blat, blon) * f, 0.0)
    three = has_p & has_y
    legs[:, 2] = np.where(three, haversine_km(ylat, ylon, D.lat[d], D.lon[d]) * f, 0.0)
    haul_ok = legs.max(axis=1) <= np.minimum(S.haul[s], D.haul[d])

    ts_lo, ts_hi, td_lo, td_hi = _periods(inst, s, d, p, y)
    period_ok = (ts_lo <= ts_hi) & (td_lo <= td_hi)

    b0 = b.s_base[s] + b.d_value[d, cls] - b.km_cost * legs.sum(axis=1)
    if len(Y.ids):
        b0 = b0 - np.where(has_y, b.y_handling[yy], 0.0)
    if len(inst.plant_ids):
        b0 = b0 - np.where(has_p, inst.p_cost[pp], 0.0)
    hold = np.where(has_y, inst.y_holding[yy], 0.0) if len(Y.ids) else np.zeros(n)
    out = Routes(s, d, p, y, cls, legs, ts_lo, ts_hi, td_lo, td_hi, b0, hold)
    checks = [
        (plant_ok, "plant does not convert the supply's class"),
        (class_ok, "class not accepted by the demand (accepts or min_grade)"),
        (yard_ok, "class not accepted by the stockyard"),
        (props_ok, "properties outside the demand's limits"),
        (partner_ok, "partner-only period or excluded pair"),
        (haul_ok, "a leg is longer than max_haul_km"),
        (period_ok, "no periods in which supply, plant, yard and demand line up"),
    ]
    ok = np.ones(n, dtype=bool)
    for mask, _ in checks:
        ok &= mask
    out.ok = ok
    out.masks = {
        "compatible": plant_ok & class_ok & yard_ok & props_ok & partner_ok,
        "haul": haul_ok,
        "periods": period_ok,
    }
    if reasons:
        out.why = [next((msg for m, msg in checks if not m[i]), "") for i in range(n)]
    return out


def _props_ok(b, s: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Each supply's properties within the demand's limits (a blend is judged as a whole)."""
    ok = np.ones(len(s), dtype=bool)
    for k in range(len(b.properties)):
        lim = b.d_limited[d, k]
        if not lim.any():
            continue
        v = b.s_props[s, k]
        within = (v <= b.d_lim_max[d, k]) & (v >= b.d_lim_min[d, k])
        ok &= ~lim | (~np.isnan(v) & (b.d_blend[d] | within))
    return ok


def _partner_ok(b, s: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Not in a supply's partner-only period unless the demand is its partner, and not an
    excluded pair."""
    n = len(s)
    ok = np.ones(n, dtype=bool)
    restricted = b.s_restricted[s]
    if restricted.any():
        codes = b.partner_codes
        code = d * b.n_owners + b.s_owner[s]
        if len(codes):
            hit = codes[np.minimum(np.searchsorted(codes, code), len(codes) - 1)] == code
        else:
            hit = np.zeros(n, dtype=bool)
        ok = ~restricted | ((b.s_owner[s] >= 0) & hit)
    if b.excluded_codes is not None and len(b.excluded_codes):
        ex = b.excluded_codes
        code = s * max(len(b.demands.ids), 1) + d
        ok &= ex[np.minimum(np.searchsorted(ex, code), len(ex) - 1)] != code
    return ok


def _periods(inst: PlanningInstance, s, d, p, y):
    """Ship where supply, plant and yard are active; deliver where demand and yard are;
    without a yard ship = deliver, so both intervals become their intersection."""
    has_p, has_y = p >= 0, y >= 0
    pp, yy = np.maximum(p, 0), np.maximum(y, 0)
    ts_lo, ts_hi = inst.s_lo[s].copy(), inst.s_hi[s].copy()
    if len(inst.plant_ids):
        ts_lo = np.where(has_p, np.maximum(ts_lo, inst.p_lo[pp]), ts_lo)
        ts_hi = np.where(has_p, np.minimum(ts_hi, inst.p_hi[pp]), ts_hi)
    td_lo, td_hi = inst.d_lo[d].copy(), inst.d_hi[d].copy()
    if len(inst.base.yards.ids):
        ts_lo = np.where(has_y, np.maximum(ts_lo, inst.y_lo[yy]), ts_lo)
        ts_hi = np.where(has_y, np.minimum(ts_hi, inst.y_hi[yy]), ts_hi)
        td_lo = np.where(has_y, np.maximum(td_lo, inst.y_lo[yy]), td_lo)
        td_hi = np.where(has_y, np.minimum(td_hi, inst.y_hi[yy]), td_hi)
    lo, hi = np.maximum(ts_lo, td_lo), np.minimum(ts_hi, td_hi)
    ts_lo, ts_hi = np.where(has_y, ts_lo, lo), np.where(has_y, np.minimum(ts_hi, td_hi), hi)
    td_lo, td_hi = np.where(has_y, np.maximum(td_lo, ts_lo), lo), np.where(has_y, td_hi, hi)
    return ts_lo, ts_hi, td_lo, td_hi


def _near(lat, lon, plat, plon, factor, haul) -> np.ndarray:
    return haversine_km(lat, lon, plat, plon) * factor <= haul


def _product(
    inst: PlanningInstance, si: np.ndarray, di: np.ndarray, p: int, y: int
) -> list[Routes]:
    """Allowed routes with positive benefit among si × di through plant p / yard y."""
    out = []
    if len(si) == 0 or len(di) == 0:
        return out
    rows = max(1, _BLOCK // len(di))
    for a in range(0, len(si), rows):
        blk = si[a : a + rows]
        s = np.repeat(blk, len(di))
        d = np.tile(di, len(blk))
        r = evaluate(
            inst, s, d, np.full(len(s), p, np.int64), np.full(len(s), y, np.int64), reasons=False
        )
        keep = r.ok & (r.b0 > 0)  # a column with no benefit is never worth sending
        if keep.any():
            out.append(_compact(r.take(np.flatnonzero(keep))))
    return out


_COMPACT = {
    "s": np.int32,
    "d": np.int32,
    "p": np.int16,
    "y": np.int16,
    "cls": np.int16,
    "legs": np.float32,
    "ts_lo": np.int16,
    "ts_hi": np.int16,
    "td_lo": np.int16,
    "td_hi": np.int16,
}


def _compact(r: Routes) -> Routes:
    """The pricing pool at ~50 bytes a route (5k × 5k lists millions); b0 and hold stay
    float64, and flows are evaluated afresh at full precision."""
    return Routes(*(getattr(r, f).astype(_COMPACT.get(f, np.float64)) for f in Routes.FIELDS))


def enumerate_routes(inst: PlanningInstance, *, yards: bool = True) -> Routes:
    """Every allowed route with positive benefit (before holding): the pricing pool.
    Without `yards`, only routes that pass no stockyard (yards.py prices the others)."""
    b = inst.base
    S, D, Y = b.supplies, b.demands, b.yards
    f = b.road_factor
    nS, nD = len(S.ids), len(D.ids)
    s_all = np.arange(nS, dtype=np.int64)
    d_all = np.arange(nD, dtype=np.int64)
    s_live = s_all[inst.s_lo <= inst.s_hi]
    d_live = d_all[inst.d_lo <= inst.d_hi]
    parts = _product(inst, s_live, d_live, -1, -1)
    d_haul_max = D.haul.max() if nD else 0.0

    def supplies_near(lat, lon, lo, hi, extra=None):
        m = _near(S.lat[s_live], S.lon[s_live], lat, lon, f, np.minimum(S.haul[s_live], d_haul_max))
        m &= (inst.s_lo[s_live] <= hi) & (inst.s_hi[s_live] >= lo)
        if extra is not None:
            m &= extra[s_live]
        return s_live[m]

    def demands_near(lat, lon, lo, hi):
        m = _near(D.lat[d_live], D.lon[d_live], lat, lon, f, D.haul[d_live])
        m &= (inst.d_lo[d_live] <= hi) & (inst.d_hi[d_live] >= lo)
        return d_live[m]

    C = len(b.classes)
    for p in range(len(inst.plant_ids)):
        converts = inst.p_converts[p, np.minimum(b.s_class, C)] >= 0
        lo, hi = inst.p_lo[p], inst.p_hi[p]
        sp = supplies_near(inst.p_lat[p], inst.p_lon[p], lo, hi, converts)
        parts += _product(inst, sp, demands_near(inst.p_lat[p], inst.p_lon[p], lo, hi), p, -1)
        for y in range(len(Y.ids) if yards else 0):
            if haversine_km(inst.p_lat[p], inst.p_lon[p], Y.lat[y], Y.lon[y]) * f > d_haul_max:
                continue
            lo_y, hi_y = max(lo, inst.y_lo[y]), min(hi, inst.y_hi[y])
            s_py = sp[(inst.s_lo[sp] <= hi_y) & (inst.s_hi[sp] >= lo_y)]
            dy = demands_near(Y.lat[y], Y.lon[y], inst.y_lo[y], inst.y_hi[y])
            parts += _product(inst, s_py, dy, p, y)
    for y in range(len(Y.ids) if yards else 0):
        lo, hi = inst.y_lo[y], inst.y_hi[y]
        accepted = b.y_accepts[y, np.minimum(b.s_class, C)]
        sy = supplies_near(Y.lat[y], Y.lon[y], lo, hi, accepted)
        parts += _product(inst, sy, demands_near(Y.lat[y], Y.lon[y], lo, hi), -1, y)
    return Routes.concat(parts)
