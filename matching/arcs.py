"""Allowed supply→demand arcs and supply→yard→demand paths, evaluated with numpy.

Direct arcs are enumerated block by block over a coarse grid, so that only demands within
a supply's reach (its haul limit, or the distance at which the haul eats the whole
benefit) are ever looked at. Every pass yields the same arcs in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .instance import Instance

EARTH_RADIUS_KM = 6371.0088
_BLOCK_ELEMENTS = 1_500_000


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle km between points given in degrees (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


@dataclass
class Arcs:
    s: np.ndarray
    d: np.ndarray
    km: np.ndarray
    b: np.ndarray  # net benefit per unit, unscaled

    @staticmethod
    def empty() -> Arcs:
        return Arcs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))

    @staticmethod
    def concat(parts: list[Arcs]) -> Arcs:
        parts = [p for p in parts if len(p.s)]
        if not parts:
            return Arcs.empty()
        return Arcs(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in ("s", "d", "km", "b"))
        )

    def take(self, idx) -> Arcs:
        return Arcs(self.s[idx], self.d[idx], self.km[idx], self.b[idx])

    def __len__(self) -> int:
        return len(self.s)


def compatible(
    inst: Instance, si: np.ndarray, di: np.ndarray, *, class_checked: bool = False
) -> np.ndarray:
    """Rules 1, 2, 3 (per lot), 6 and excluded_pairs for supply/demand index pairs; no time
    or distance. Used for direct arcs and for yard paths alike. `class_checked` skips
    rules 1 and 2 when the caller has already applied them."""
    ok = np.ones(len(si), dtype=bool) if class_checked else class_ok(inst, si, di)
    ok &= properties_ok(inst, si, di)
    ok &= partners_ok(inst, si, di)
    ex = inst.excluded_codes
    if ex is not None and len(ex):
        ok &= ~is_excluded(ex, si * max(len(inst.demands.ids), 1) + di)
    return ok


def class_ok(inst: Instance, si: np.ndarray, di: np.ndarray) -> np.ndarray:
    """Rules 1 and 2: the demand accepts the supply's class, and its grade is good enough."""
    ok = inst.d_accepts[di, inst.s_class[si]]
    return ok & (inst.s_rank[si] <= inst.d_min_rank[di])


def properties_ok(
    inst: Instance, si: np.ndarray, di: np.ndarray, *, per_lot: bool = False
) -> np.ndarray:
    """Rule 3 for one lot: each limited property given and within the demand's limits; on
    a blend demand a lot outside them may still be blended in (the average decides), unless
    `per_lot`, which asks whether the lot meets the limits on its own."""
    ok = np.ones(len(si), dtype=bool)
    for p in range(len(inst.properties)):
        lim = inst.d_limited[di, p]
        if not lim.any():
            continue
        v = inst.s_props[si, p]
        within = (v <= inst.d_lim_max[di, p]) & (v >= inst.d_lim_min[di, p])
        blended = np.zeros(len(si), dtype=bool) if per_lot else inst.d_blend[di]
        ok &= ~lim | (~np.isnan(v) & (blended | within))
    return ok


def partners_ok(inst: Instance, si: np.ndarray, di: np.ndarray) -> np.ndarray:
    """Rule 6: a supply in its partner-only period goes to its owner's partners only."""
    ok = np.ones(len(si), dtype=bool)
    restricted = inst.s_restricted[si]
    if restricted.any():
        owner = inst.s_owner[si]
        code = di * inst.n_owners + owner
        pos = np.searchsorted(inst.partner_codes, code)
        pos = np.minimum(pos, max(len(inst.partner_codes) - 1, 0))
        partner = (owner >= 0) & (len(inst.partner_codes) > 0)
        if len(inst.partner_codes):
            partner &= inst.partner_codes[pos] == code
        ok &= ~restricted | partner
    return ok


def is_excluded(codes: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Membership of `code` in the sorted array `codes`."""
    pos = np.minimum(np.searchsorted(codes, code), len(codes) - 1)
    return codes[pos] == code


def direct_arcs(inst: Instance, si: np.ndarray, di: np.ndarray) -> tuple[np.ndarray, Arcs]:
    """Evaluate candidate pairs; returns (allowed mask, arcs with km and benefit)."""
    S, D = inst.supplies, inst.demands
    km = haversine_km(S.lat[si], S.lon[si], D.lat[di], D.lon[di]) * inst.road_factor
    ok = compatible(inst, si, di)
    ok &= (S.start[si] <= D.end[di]) & (D.start[di] <= S.end[si])
    ok &= km <= np.minimum(S.haul[si], D.haul[di])
    b = inst.s_base[si] + inst.d_value[di, inst.s_class[si]] - inst.km_cost * km
    return ok, Arcs(si, di, km, b)


def supply_reach_km(inst: Instance) -> np.ndarray:
    """Road km beyond which no direct arc of a supply can be allowed and worth sending."""
    S = inst.supplies
    reach = S.haul.copy()
    if len(inst.demands.ids):
        reach = np.minimum(reach, inst.demands.haul.max())
        if inst.km_cost > 0:
            best_value = inst.d_value.max(axis=0)[inst.s_class]
            reach = np.minimum(reach, np.maximum(inst.s_base + best_value, 0) / inst.km_cost)
    return reach


def unit_vectors(lat, lon) -> np.ndarray:
    """Points on the unit sphere, one row per (lat, lon) in degrees."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)


def road_km_from_dot(dot: np.ndarray, road_factor: float) -> np.ndarray:
    """Road km from the dot product of two unit vectors: the great-circle km of the
    chord, far cheaper than haversine. 2 − 2·dot cancels for close points: below ~0.5 km
    the relative error passes 1e-7 (use road_km_between where that matters)."""
    chord2 = np.maximum(2.0 - 2.0 * dot, 0.0)
    return 2 * EARTH_RADIUS_KM * road_factor * np.arcsin(np.sqrt(chord2) / 2)


def road_km_between(a: np.ndarray, b: np.ndarray, road_factor: float) -> np.ndarray:
    """Road km between paired unit vectors (rows of a and b), from the chord a − b:
    accurate to rounding at every distance."""
    chord = np.sqrt(np.einsum("ij,ij->i", a - b, a - b))
    return 2 * EARTH_RADIUS_KM * road_factor * np.arcsin(np.minimum(chord / 2, 1.0))


# Dot products above this are within ~1.3 km: their km are recomputed from the chord
# (a margin over the ~0.5 km where the dot product's error passes 1e-7).
_CLOSE_DOT = 1.0 - 2e-8


class ArcSource:
    """Enumerates the allowed, worth-sending direct arcs of an instance, block by block.

    Supplies are grouped by grid cell and reach; each group is checked only against the
    demands in grid cells whose nearest point lies within that reach (a disc of cells).
    Inside a block, cheap dense tests (distance from a dot product of unit vectors,
    class, time) come first and the exact rules run on the survivors only.
    """

    def __init__(
        self, inst: Instance, cell_km: float | None = None, reach: np.ndarray | None = None
    ):
        """`reach` (road km per supply, optional) narrows each supply's search disc further;
        arcs farther than it are not enumerated (they are not dropped as disallowed)."""
        self.inst = inst
        S, D = inst.supplies, inst.demands
        self.reach = supply_reach_km(inst)  # road km
        if reach is not None:
            self.reach = np.minimum(self.reach, reach)
        self.s_vec = unit_vectors(S.lat, S.lon)
        self.d_vec = unit_vectors(D.lat, D.lon)
        self.s_cos = _cos_reach(self.reach / inst.road_factor)
        self.d_cos = _cos_reach(D.haul / inst.road_factor)
        self.acc_t = np.ascontiguousarray(inst.d_accepts.T)  # (C+1, D)
        self.s_start, self.s_end = S.start.astype(np.int32), S.end.astype(np.int32)
        self.d_start, self.d_end = D.start.astype(np.int32), D.end.astype(np.int32)
        self.graded = bool((inst.d_min_rank < 10**7).any())
        self.blocks = self._plan_blocks(cell_km)

    def _plan_blocks(self, cell_km):
        inst = self.inst
        S, D = inst.supplies, inst.demands
        nS, nD = len(S.ids), len(D.ids)
        all_d = np.arange(nD)
        if nS == 0 or nD == 0:
            return []
        live = np.nonzero(self.reach >= 0)[0]
        lat_all = np.concatenate([S.lat, D.lat])
        lon_all = np.concatenate([S.lon, D.lon])
        finite = live[np.isfinite(self.reach[live])]
        # The grid only compares sites a haul apart (tens of km), where planar km with the
        # smallest cos(latitude) never overstate true km, however wide the instance
        # (all of Japan spans 18° of latitude); only near the poles or across the
        # antimeridian does it fail.
        span_ok = np.ptp(lon_all) < 90 and np.abs(lat_all).max() < 70
        blocks: list[tuple[np.ndarray, np.ndarray]] = []
        dense = live[~np.isfinite(self.reach[live])]
        if not span_ok:
            dense, finite = live, live[:0]
        for chunk in _chunks(dense, max(1, _BLOCK_ELEMENTS // max(nD, 1))):
            blocks.append((chunk, all_d))
        if len(finite) == 0:
            return blocks
        # Planar km with the smallest cos(lat) of the region never overstates east-west km.
        coslat = np.cos(np.radians(np.abs(lat_all).max()))
        kx, ky = 111.19 * coslat, 111.19
        lat0, lon0 = lat_all.min(), lon_all.min()
        gc = self.reach[finite] / inst.road_factor * 1.02 + 1.0
        cell = cell_km or float(np.clip(np.median(gc) / 6, 1.0, 10.0))
        W = int(np.floor((lon_all.max() - lon0) * kx / cell)) + 1
        H = int(np.floor((lat_all.max() - lat0) * ky / cell)) + 1
        dcell = np.floor((D.lat - lat0) * ky / cell).astype(np.int64) * W + np.floor(
            (D.lon - lon0) * kx / cell
        ).astype(np.int64)
        d_order = np.argsort(dcell, kind="stable")
        counts = np.bincount(dcell, minlength=W * H)
        starts = np.cumsum(counts) - counts
        sx = np.floor((S.lon[finite] - lon0) * kx / cell).astype(np.int64)
        sy = np.floor((S.lat[finite] - lat0) * ky / cell).astype(np.int64)
        rc = np.ceil(gc / cell).astype(np.int64)
        key = (sy * W + sx) * 4096 + np.minimum(rc, 4095)
        order = np.argsort(key, kind="stable")
        k_sorted = key[order]
        brk = np.nonzero(np.diff(k_sorted))[0] + 1
        stencils: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for a, b in zip(
            np.concatenate([[0], brk]), np.concatenate([brk, [len(order)]]), strict=True
        ):
            members = finite[order[a:b]]
            r = int(k_sorted[a] % 4096)
            cidx = int(k_sorted[a] // 4096)
            cy, cx = divmod(cidx, W)
            if r not in stencils:
                o = np.arange(-r, r + 1)
                ox, oy = np.meshgrid(o, o)
                gapx = np.maximum(np.abs(ox) - 1, 0)
                gapy = np.maximum(np.abs(oy) - 1, 0)
                keep = (gapx**2 + gapy**2) <= r * r
                stencils[r] = (ox[keep], oy[keep])
            ox, oy = stencils[r]
            x, y = cx + ox, cy + oy
            ok = (x >= 0) & (x < W) & (y >= 0) & (y < H)
            cells = y[ok] * W + x[ok]
            n = counts[cells]
            cells, n = cells[n > 0], n[n > 0]
            if len(cells) == 0:
                continue
            tot = int(n.sum())
            offs = np.arange(tot) - np.repeat(np.cumsum(n) - n, n)
            dset = d_order[np.repeat(starts[cells], n) + offs]
            for chunk in _chunks(members, max(1, _BLOCK_ELEMENTS // len(dset))):
                blocks.append((chunk, dset))
        return blocks

    def pairs_considered(self) -> int:
        return int(sum(len(a) * len(b) for a, b in self.blocks))

    def iter_dense(self):
        """Yield (arcs, local row, local column, block shape) per block."""
        for si, di, km, b, ii, jj, shape in self._iter_raw():
            yield Arcs(si, di, km, b), ii, jj, shape

    def _iter_raw(self):
        inst = self.inst
        s_haul, d_haul = inst.supplies.haul, inst.demands.haul
        need_extra = (
            (len(inst.properties) > 0 and bool(inst.d_limited.any()))
            or bool(inst.s_restricted.any())
            or (inst.excluded_codes is not None and len(inst.excluded_codes) > 0)
        )
        for srows, dset in self.blocks:
            dot = self.s_vec[srows] @ self.d_vec[dset].T
            m = dot >= self.s_cos[srows, None]
            m &= dot >= self.d_cos[None, dset]
            m &= self.acc_t[:, dset][inst.s_class[srows]]
            m &= self.s_start[srows, None] <= self.d_end[None, dset]
            m &= self.d_start[None, dset] <= self.s_end[srows, None]
            if self.graded:
                m &= inst.s_rank[srows, None] <= inst.d_min_rank[None, dset]
            flat = np.flatnonzero(m)
            if len(flat) == 0:
                continue
            ii, jj = np.divmod(flat, len(dset))
            si, di = srows[ii], dset[jj]
            pair_dot = dot.ravel()[flat]
            km = road_km_from_dot(pair_dot, inst.road_factor)
            close = np.flatnonzero(pair_dot > _CLOSE_DOT)
            if len(close):
                km[close] = road_km_between(
                    self.s_vec[si[close]], self.d_vec[di[close]], inst.road_factor
                )
            ok = km <= np.minimum(s_haul[si], d_haul[di])
            b = inst.s_base[si] + inst.d_value[di, inst.s_class[si]] - inst.km_cost * km
            ok &= b > 0
            if need_extra:
                ok &= compatible(inst, si, di, class_checked=True)
            if ok.all():
                yield si, di, km, b, ii, jj, (len(srows), len(dset))
            elif ok.any():
                yield si[ok], di[ok], km[ok], b[ok], ii[ok], jj[ok], (len(srows), len(dset))

    def iter_compact(self):
        """Yield (supply, demand, benefit, km) per block, indices as int32."""
        for si, di, km, b, _ii, _jj, _shape in self._iter_raw():
            yield si.astype(np.int32), di.astype(np.int32), b, km.astype(np.float32)

    def exact_km(self, si: np.ndarray, di: np.ndarray) -> np.ndarray:
        """Road km of arcs, accurate at every distance (what results report; the
        enumeration's km agree to ~1e-8 relative)."""
        return road_km_between(self.s_vec[si], self.d_vec[di], self.inst.road_factor)

    def iter_blocks(self) -> Iterator[Arcs]:
        """Yield allowed arcs with positive benefit, block by block."""
        for arcs, _i, _j, _shape in self.iter_dense():
            yield arcs

    def all_arcs(self) -> Arcs:
        return Arcs.concat(list(self.iter_blocks()))


def _cos_reach(gc_km: np.ndarray) -> np.ndarray:
    """cos of the largest angle still within reach, with a safety margin; -2 if unlimited."""
    ang = np.minimum(gc_km * 1.001 / EARTH_RADIUS_KM + 1e-6, np.pi)
    return np.where(np.isfinite(gc_km), np.cos(np.where(np.isfinite(ang), ang, 0.0)), -2.0)


def _chunks(a: np.ndarray, size: int):
    for i in range(0, len(a), size):
        yield a[i : i + size]


def top_k_by_group(group: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest `key` in each group."""
    if len(group) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((-key, group))
    g = group[order]
    first = np.concatenate([[True], g[1:] != g[:-1]])
    start_idx = np.maximum.accumulate(np.where(first, np.arange(len(g)), 0))
    rank = np.arange(len(g)) - start_idx
    return order[rank < k]


def yard_paths(
    inst: Instance, si: np.ndarray, yi: np.ndarray, di: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate supply→yard→demand triples: (allowed, km leg 1, km leg 2, benefit)."""
    S, D, Y = inst.supplies, inst.demands, inst.yards
    km1 = haversine_km(S.lat[si], S.lon[si], Y.lat[yi], Y.lon[yi]) * inst.road_factor
    km2 = haversine_km(Y.lat[yi], Y.lon[yi], D.lat[di], D.lon[di]) * inst.road_factor
    cls = inst.s_class[si]
    ok = compatible(inst, si, di) & inst.y_accepts[yi, cls]
    ok &= (S.start[si] <= Y.end[yi]) & (Y.start[yi] <= S.end[si])
    ok &= (D.start[di] <= Y.end[yi]) & (Y.start[yi] <= D.end[di])
    ok &= S.start[si] <= D.end[di]
    lim = np.minimum(S.haul[si], D.haul[di])
    ok &= (km1 <= lim) & (km2 <= lim)
    b = inst.s_base[si] + inst.d_value[di, cls] - inst.km_cost * (km1 + km2) - inst.y_handling[yi]
    return ok, km1, km2, b
