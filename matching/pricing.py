"""Pricing of the network model's direct arcs on a grid of demands, with cell bounds.

`GridPricer` never holds the allowed arcs: each pass walks, per supply, the grid cells
within its pricing radius and skips every cell whose bound shows that no arc into it can
be violated (see `_kernels.scan`). The first candidates come from the same walk within a
short radius. Rules the compiled loop does not apply (per-lot properties, partner
periods, declined pairs) are applied to what it returns, by `arcs.compatible`.
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from .arcs import ArcSource, compatible, is_excluded
from .instance import Instance

_KM_PER_DEG = 111.19
# Cells of about a sixth of the median reach (as the enumeration grid in arcs.py): a
# disc then spans ~100 cells, enough for the bounds to skip most of them.
_CELLS_PER_REACH = 6


def _group_topk(group: np.ndarray, val: np.ndarray, k: int, n_groups: int) -> np.ndarray:
    """Positions of the k largest finite `val` per group (any order), ties kept."""
    if len(val) == 0 or k <= 0:
        return np.zeros(0, np.int64)
    work = val.astype(np.float64)
    group = group.astype(np.intp)
    out = []
    for _ in range(k):
        mx = np.full(n_groups, -np.inf)
        np.maximum.at(mx, group, work)
        hit = np.flatnonzero((work == mx[group]) & (work > -np.inf))
        if len(hit) == 0:
            break
        out.append(hit)
        work[hit] = -np.inf
    return np.concatenate(out) if out else np.zeros(0, np.int64)


# Where sites are dense, cells shrink until the median supply's cell holds at most
# _DEMANDS_PER_CELL demands: the bounds then skip finely, and the first candidates of a
# city supply come from a few small cells, whatever the density.
_DEMANDS_PER_CELL = 16
_MIN_CELL_KM = 0.5


def _cell_size(s_xy: np.ndarray, d_xy: np.ndarray, cell: float) -> float:
    if len(s_xy) == 0 or len(d_xy) == 0:
        return cell
    while cell > _MIN_CELL_KM:
        d_key = np.floor(d_xy / cell).astype(np.int64)
        s_key = np.floor(s_xy / cell).astype(np.int64)
        width = int(max(d_key[:, 0].max(), s_key[:, 0].max())) + 1
        cells, counts = np.unique(d_key[:, 1] * width + d_key[:, 0], return_counts=True)
        pos = np.searchsorted(cells, s_key[:, 1] * width + s_key[:, 0])
        pos = np.minimum(pos, len(cells) - 1)
        hit = cells[pos] == s_key[:, 1] * width + s_key[:, 0]
        if np.median(np.where(hit, counts[pos], 0)) <= _DEMANDS_PER_CELL:
            break
        cell /= 2
    return max(cell, _MIN_CELL_KM)


class GridPricer:
    """Direct arcs of the network model, found on a grid of demands per pass.

    For demand duals v, an allowed arc's reduced benefit is
        b_sd − v_d = base_s + value_d(class_s) − c·km_sd − v_d ≤ base_s + M_s − c·km_sd,
    with c = cost per km + carbon price × CO₂ per km (≥ 0) and M_s the largest
    value_d(class_s) − v_d over demands that accept the class. So beyond the radius
    R_s = (base_s + M_s − u_s) / c no arc can beat the supply's dual u_s, and none can
    raise its tightest dual above base_s + M_s − c·R_s. Within R_s the same bound with
    M taken per grid cell and km the cell's nearest point skips whole cells."""

    def __init__(self, inst: Instance, src: ArcSource):
        self.inst = inst
        S, D = inst.supplies, inst.demands
        self.nS, self.nD = len(S.ids), len(D.ids)
        self.reach = src.reach
        self.priced = 0  # pairs looked at one by one in the last pass
        self.need_extra = (
            (len(inst.properties) > 0 and bool(inst.d_limited.any()))
            or bool(inst.s_restricted.any())
            or (inst.excluded_codes is not None and len(inst.excluded_codes) > 0)
        )
        lat_all = np.concatenate([S.lat, D.lat])
        lon_all = np.concatenate([S.lon, D.lon])
        kx = _KM_PER_DEG * np.cos(np.radians(np.abs(lat_all).max(initial=0.0)))
        lat0 = lat_all.min() if len(lat_all) else 0.0
        lon0 = lon_all.min() if len(lon_all) else 0.0
        finite = self.reach[np.isfinite(self.reach) & (self.reach >= 0)]
        median = float(np.median(finite)) / inst.road_factor if len(finite) else 50.0
        s_xy = np.stack([(S.lon - lon0) * kx, (S.lat - lat0) * _KM_PER_DEG], axis=1)
        d_xy = np.stack([(D.lon - lon0) * kx, (D.lat - lat0) * _KM_PER_DEG], axis=1)
        self.cell = _cell_size(
            s_xy, d_xy, float(np.clip(median / _CELLS_PER_REACH, _MIN_CELL_KM, 10.0))
        )
        self.W = int(np.floor(np.ptp(lon_all) * kx / self.cell)) + 1 if len(lon_all) else 1
        self.H = int(np.floor(np.ptp(lat_all) * _KM_PER_DEG / self.cell)) + 1 if len(lat_all) else 1
        d_cell = np.floor(d_xy[:, 1] / self.cell).astype(np.int64) * self.W + np.floor(
            d_xy[:, 0] / self.cell
        ).astype(np.int64)
        self.n_cells = self.W * self.H
        self.d_order = np.argsort(d_cell, kind="stable").astype(np.int64)
        self.cell_start = np.concatenate(
            [[0], np.cumsum(np.bincount(d_cell, minlength=self.n_cells))]
        ).astype(np.int64)
        self.s_xy = np.ascontiguousarray(s_xy, dtype=np.float64)
        i64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
        f64 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
        self.arrays = (
            self.d_order,
            self.cell_start,
            f64(src.s_vec),
            f64(src.d_vec),
            i64(inst.s_class),
            i64(inst.s_rank),
            i64(inst.d_min_rank),
            i64(S.start),
            i64(S.end),
            i64(D.start),
            i64(D.end),
            f64(S.haul),
            f64(D.haul),
            f64(inst.s_base),
            f64(inst.d_value),
            np.ascontiguousarray(inst.d_accepts, dtype=np.bool_),
        )
        self.cap = max(1 << 16, 8 * self.nS)

    def _scan(self, radius, u, v, bounds, use_bounds, tol):
        grid = np.array(
            [self.W, self.H, self.cell, self.inst.road_factor, self.inst.km_cost, tol], float
        )
        d_order, cell_start, rules = self.arrays[0], self.arrays[1], self.arrays[2:]
        while True:
            out = (
                np.empty(self.cap, np.int64),
                np.empty(self.cap, np.int64),
                np.empty(self.cap),
                np.empty(self.cap),
            )
            u_low = np.zeros(self.nS)
            n, looked = _kernels.scan(
                grid,
                self.s_xy,
                d_order,
                cell_start,
                rules,
                np.ascontiguousarray(radius, dtype=np.float64),
                np.ascontiguousarray(u, dtype=np.float64),
                np.ascontiguousarray(v, dtype=np.float64),
                bounds,
                use_bounds,
                out,
                u_low,
            )
            if n <= self.cap:
                break
            self.cap = int(n * 1.25) + 1
        self.priced = int(looked)
        s, d, b, x = (column[:n] for column in out)
        if self.need_extra and n:
            ok = compatible(self.inst, s, d, class_checked=True)
            s, d, b, x = s[ok], d[ok], b[ok], x[ok]
        return s, d, b, x, u_low

    def initial(self, k: int, k_near: int, radius_km: float, extra_rings: int = 2):
        """Per supply and per demand the k best and k_near nearest arcs within radius_km.
        (Ties beyond k are cut arbitrarily; these only choose where to start.)"""
        grid = np.array(
            [self.W, self.H, self.cell, self.inst.road_factor, self.inst.km_cost], float
        )
        s, d, b = _kernels.first_candidates(
            grid,
            self.s_xy,
            self.arrays[0],
            self.arrays[1],
            self.arrays[2:],
            np.ascontiguousarray(np.minimum(self.reach, radius_km), dtype=np.float64),
            k,
            k_near,
            self._class_top(),
            extra_rings,
        )
        code = s * max(self.nD, 1) + d
        _, first = np.unique(code, return_index=True)
        s, d, b = s[first], d[first], b[first]
        if self.need_extra and len(s):
            ok = compatible(self.inst, s, d, class_checked=True)
            s, d, b = s[ok], d[ok], b[ok]
        return s, d, b

    def _class_top(self) -> np.ndarray:
        """Per supply class, the largest value any demand gives it (−inf if none)."""
        inst = self.inst
        if self.nD == 0:
            return np.full(inst.d_value.shape[1], -np.inf)
        return np.where(inst.d_accepts, inst.d_value, -np.inf).max(axis=0).astype(np.float64)

    def radius(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per supply: the pricing radius and the bound on b − v for arcs beyond it."""
        inst = self.inst
        reach = self.reach
        c = inst.km_cost
        if c <= 0 or self.nD == 0:
            return reach.copy(), np.zeros(self.nS)
        top = np.where(inst.d_accepts, inst.d_value - v[:, None], -np.inf).max(axis=0)
        m_s = top[inst.s_class]  # -inf when no demand accepts the class
        with np.errstate(invalid="ignore"):
            r = (inst.s_base + m_s - u) / c
        r = np.where(np.isnan(r), -np.inf, r)
        cut = r < reach
        radius = np.where(cut, r, reach)
        beyond = np.where(cut, inst.s_base + m_s - c * np.maximum(radius, 0.0), 0.0)
        return radius, np.maximum(beyond, 0.0)

    def price(
        self,
        u: np.ndarray,
        v: np.ndarray,
        tol: float,
        cand_code: np.ndarray,
        per_supply: int,
        per_demand: int,
    ):
        """Violated arcs not in the candidates (the most violated few per supply and per
        demand) and the tightest supply duals for v (true, unscaled benefits), or a
        bound on them within tol."""
        inst = self.inst
        radius, beyond = self.radius(u, v)
        bounds = _kernels.cell_bounds(
            self.cell_start,
            self.d_order,
            self.arrays[14],
            self.arrays[15],
            np.ascontiguousarray(v, dtype=np.float64),
            self.n_cells,
            inst.d_value.shape[1],
        )
        bs, bd, bb, rr, u_low = self._scan(radius, u, v, bounds, True, tol)
        u_need = np.maximum(beyond, u_low)
        if len(bs):
            np.maximum.at(u_need, bs, rr + u[bs])
        if len(cand_code) and len(bs):
            fresh = ~is_excluded(cand_code, bs * max(self.nD, 1) + bd)
            bs, bd, bb, rr = bs[fresh], bd[fresh], bb[fresh], rr[fresh]
        if len(bs) == 0:
            z = np.zeros(0, np.int64)
            return z, z, np.zeros(0), u_need
        pick = np.unique(
            np.concatenate(
                [_group_topk(bs, rr, per_supply, self.nS), _group_topk(bd, rr, per_demand, self.nD)]
            )
        )
        return bs[pick], bd[pick], bb[pick], u_need
