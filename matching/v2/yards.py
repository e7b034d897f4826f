"""Pricing of routes through stockyards without listing them (supply × demand × yard grows
past memory at 5k × 5k × 50 yards).

A column s → [p] → y → d shipped in ts and delivered in td has reduced benefit
    I(s, p, y, ts) + O(y, d, class, td)
where I holds everything on the way in (disposal, legs in, treatment, handling, the supply
and plant duals, + holding·ts + W_y[ts]) and O everything on the way out (value, last leg,
the demand duals, − holding·td − W_y[td+1]); W_y are the prefix sums of the yard's
occupancy duals. The two halves meet only through the class that arrives, the yard, and
the haul limits (every leg within the supply's and the demand's `max_haul_km`): with the
distinct haul limits as buckets, the best O per (yard, class, supply haul, demand haul,
td) is one grouped maximum over outbound items, and each inbound item takes its best
partner by a suffix maximum over td ≥ ts. This is exact when nothing else ties a supply to
a demand: partner-only periods, excluded pairs and property limits do, so instances with
any of them list every yard route instead (routes.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import PlanningInstance
from .routes import haversine_km


def decomposable(inst: PlanningInstance) -> bool:
    b = inst.base
    excluded = b.excluded_codes is not None and len(b.excluded_codes) > 0
    return not (b.s_restricted.any() or excluded or b.d_limited.any())


@dataclass
class _Side:
    """Items of one half, sorted by group; arrays per item."""

    key: np.ndarray  # listing index (supply or demand)
    p: np.ndarray
    y: np.ndarray
    cls: np.ndarray
    lo: np.ndarray  # period interval of ts (inbound) or td (outbound)
    hi: np.ndarray
    static: np.ndarray  # benefit part that does not depend on duals
    leg: np.ndarray  # longest leg (inbound) or the one leg (outbound)


class YardPricer:
    def __init__(self, inst: PlanningInstance):
        self.inst = inst
        b = inst.base
        S, D, Y = b.supplies, b.demands, b.yards
        C = len(b.classes)
        self.HS = np.unique(S.haul) if len(S.ids) else np.array([np.inf])
        self.HD = np.unique(D.haul) if len(D.ids) else np.array([np.inf])
        self.s_hs = np.searchsorted(self.HS, S.haul)
        self.d_hd = np.searchsorted(self.HD, D.haul)
        nY = len(Y.ids)
        self.inb = _inbound(inst)
        # Classes that can arrive at each yard; outbound items only for those.
        arrive = np.zeros((nY, C + 1), dtype=bool)
        if len(self.inb.key):
            arrive[self.inb.y, self.inb.cls] = True
        out = _outbound(inst, arrive)
        # Group outbound items by (yard, class, smallest supply-haul bucket allowing the
        # leg, demand-haul bucket), inbound items by (yard, class, supply-haul bucket,
        # smallest demand-haul bucket their longest leg fits); sorted once, grouped
        # maxima each round.
        nHS, nHD = len(self.HS), len(self.HD)
        self.shape = (nY, C + 1, nHS, nHD)
        hs_min = np.searchsorted(self.HS, out.leg)  # HS[k] >= leg from k on
        keep = hs_min < nHS
        out, hs_min = _take(out, keep), hs_min[keep]
        self.out_groups = _Grouping(
            np.ravel_multi_index((out.y, out.cls, hs_min, self.d_hd[out.key]), self.shape)
        )
        self.out = _take(out, self.out_groups.order)
        self.out_hs_min = hs_min[self.out_groups.order]
        inb = self.inb
        hd_min = np.searchsorted(self.HD, inb.leg)
        keep = hd_min < nHD
        inb, hd_min = _take(inb, keep), hd_min[keep]
        self.in_groups = _Grouping(
            np.ravel_multi_index((inb.y, inb.cls, self.s_hs[inb.key], hd_min), self.shape)
        )
        self.inb = _take(inb, self.in_groups.order)
        self.inb_hd_min = hd_min[self.in_groups.order]

    @property
    def size(self) -> tuple[int, int]:
        return len(self.inb.key), len(self.out.key)

    def price(self, duals, tol: float):
        """Best yard column of every inbound item with positive reduced benefit:
        (s, d, p, y, ts, td, reduced benefit), and per supply the largest (≥ 0)."""
        inst = self.inst
        T = inst.periods
        t = np.arange(T)
        nS = len(inst.base.supplies.ids)
        raise_u = np.zeros(nS)
        empty = np.zeros(0, np.int64)
        if len(self.inb.key) == 0 or len(self.out.key) == 0:
            return (empty,) * 6 + (np.zeros(0),), raise_u
        hold = inst.y_holding
        W = np.concatenate([np.zeros((len(duals.w), 1)), np.cumsum(duals.w, axis=1)], axis=1)
        o = self.out
        out_val = (
            (o.static - duals.v[o.key])[:, None]
            - duals.beta[o.key]
            - hold[o.y][:, None] * t
            - W[o.y, 1:]
        )
        out_val[(t < o.lo[:, None]) | (t > o.hi[:, None])] = -np.inf
        nY, C1, nHS, nHD = self.shape
        OUT, ARG = self.out_groups.dense(out_val, self.shape)
        for k in range(1, nHS):  # a supply with a longer haul limit reaches every shorter leg too
            better = OUT[:, :, k - 1] > OUT[:, :, k]
            OUT[:, :, k] = np.where(better, OUT[:, :, k - 1], OUT[:, :, k])
            ARG[:, :, k] = np.where(better, ARG[:, :, k - 1], ARG[:, :, k])
        # Best delivery at or after each ship period.
        SUF = OUT.copy()
        SARG = np.broadcast_to(t, OUT.shape).copy()
        for a in range(T - 2, -1, -1):
            better = SUF[..., a + 1] > SUF[..., a]
            SUF[..., a] = np.where(better, SUF[..., a + 1], SUF[..., a])
            SARG[..., a] = np.where(better, SARG[..., a + 1], SARG[..., a])
        i = self.inb
        in_val = (
            (i.static - duals.u[i.key])[:, None]
            - duals.alpha[i.key]
            + hold[i.y][:, None] * t
            + W[i.y, :-1]
        )
        if len(duals.pi):
            in_val -= np.where((i.p >= 0)[:, None], duals.pi[np.maximum(i.p, 0)], 0.0)
        in_val[(t < i.lo[:, None]) | (t > i.hi[:, None])] = -np.inf
        best = np.full(len(i.key), -np.inf)
        b_ts = np.zeros(len(i.key), np.int64)
        b_hd = np.zeros(len(i.key), np.int64)
        hs = self.s_hs[i.key]
        for k in range(nHD):
            fits = self.inb_hd_min <= k
            if not fits.any():
                continue
            val = in_val + SUF[i.y, i.cls, hs, k]
            ts = np.argmax(val, axis=1)
            v = val[np.arange(len(ts)), ts]
            better = fits & (v > best)
            best = np.where(better, v, best)
            b_ts = np.where(better, ts, b_ts)
            b_hd = np.where(better, k, b_hd)
        pos_ = np.flatnonzero(best > 0)
        if len(pos_):
            np.maximum.at(raise_u, i.key[pos_], best[pos_])
        hit = np.flatnonzero(best > tol)
        ts = b_ts[hit]
        yy, cc, hh, kk = i.y[hit], i.cls[hit], hs[hit], b_hd[hit]
        td = SARG[yy, cc, hh, kk, ts]
        item = ARG[yy, cc, hh, kk, td]
        cols = [(i.key[hit], o.key[item], i.p[hit], yy, ts, td, best[hit])]
        cols.append(self._demand_side(in_val, out_val, tol))
        return tuple(np.concatenate(z) for z in zip(*cols, strict=True)), raise_u

    def _demand_side(self, in_val, out_val, tol):
        """Each outbound item's best column: the same maximum seen from the demand, so
        that every demand, not only every supply, gets its best yard column proposed."""
        T = self.inst.periods
        IN, ARG = self.in_groups.dense(in_val, self.shape)
        nHS, nHD = self.shape[2], self.shape[3]
        for k in range(1, nHD):  # inbound legs that fit a shorter demand limit fit this one
            better = IN[:, :, :, k - 1] > IN[:, :, :, k]
            IN[:, :, :, k] = np.where(better, IN[:, :, :, k - 1], IN[:, :, :, k])
            ARG[:, :, :, k] = np.where(better, ARG[:, :, :, k - 1], ARG[:, :, :, k])
        for k in range(nHS - 2, -1, -1):  # a supply with a longer limit reaches this leg too
            better = IN[:, :, k + 1] > IN[:, :, k]
            IN[:, :, k] = np.where(better, IN[:, :, k + 1], IN[:, :, k])
            ARG[:, :, k] = np.where(better, ARG[:, :, k + 1], ARG[:, :, k])
        PRE = IN.copy()
        PARG = np.broadcast_to(np.arange(T), IN.shape).copy()
        for a in range(1, T):  # best ship period at or before each delivery
            better = PRE[..., a - 1] > PRE[..., a]
            PRE[..., a] = np.where(better, PRE[..., a - 1], PRE[..., a])
            PARG[..., a] = np.where(better, PARG[..., a - 1], PARG[..., a])
        o = self.out
        hs, hd = self.out_hs_min, self.d_hd[o.key]
        val = out_val + PRE[o.y, o.cls, hs, hd]
        td = np.argmax(val, axis=1)
        best = val[np.arange(len(td)), td]
        hit = np.flatnonzero(best > tol)
        td = td[hit]
        yy, cc, hh, kk = o.y[hit], o.cls[hit], hs[hit], hd[hit]
        ts = PARG[yy, cc, hh, kk, td]
        item = ARG[yy, cc, hh, kk, ts]
        i = self.inb
        return (i.key[item], o.key[hit], i.p[item], yy, ts, td, best[hit])


class _Grouping:
    """Items sorted by a static group id; per round, the maximum of each group and the
    item that attains it, period by period, as dense arrays over the group grid."""

    def __init__(self, gid: np.ndarray):
        self.order = np.argsort(gid, kind="stable")
        g = gid[self.order]
        self.starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1] if len(g) else np.zeros(0, int)
        self.cells = g[self.starts] if len(g) else np.zeros(0, int)
        self.group_of = np.repeat(np.arange(len(self.starts)), np.diff(np.r_[self.starts, len(g)]))

    def dense(self, values: np.ndarray, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
        """values: (items in sorted order, T) → (max, argmax item) of shape (*shape, T)."""
        T = values.shape[1]
        n = int(np.prod(shape))
        best = np.full((n, T), -np.inf)
        arg = np.zeros((n, T), dtype=np.int64)
        if len(values):
            m = np.maximum.reduceat(values, self.starts, axis=0)
            pos = np.where(m[self.group_of] == values, np.arange(len(values))[:, None], len(values))
            best[self.cells] = m
            arg[self.cells] = np.minimum.reduceat(pos, self.starts, axis=0)
        return best.reshape(*shape, T), arg.reshape(*shape, T)


def _concat(parts) -> _Side:
    if not parts:
        z = np.zeros(0, np.int64)
        return _Side(z, z, z, z, z, z, np.zeros(0), np.zeros(0))
    cols = list(zip(*parts, strict=True))
    return _Side(*(np.concatenate(c) for c in cols))


def _take(side: _Side, idx) -> _Side:
    return _Side(
        *(getattr(side, f)[idx] for f in ("key", "p", "y", "cls", "lo", "hi", "static", "leg"))
    )


def _inbound(inst: PlanningInstance):
    """Items into each yard: every supply (directly, or through each plant) that may reach
    it, with its class on arrival, periods, fixed benefit and longest leg."""
    b = inst.base
    S, D, Y = b.supplies, b.demands, b.yards
    f, kc = b.road_factor, b.km_cost
    C = len(b.classes)
    nS, nY, nP = len(S.ids), len(Y.ids), len(inst.plant_ids)
    d_haul_max = D.haul.max() if len(D.ids) else 0.0
    km_sy = haversine_km(S.lat[:, None], S.lon[:, None], Y.lat[None], Y.lon[None]) * f
    km_sp = haversine_km(S.lat[:, None], S.lon[:, None], inst.p_lat[None], inst.p_lon[None]) * f
    km_py = haversine_km(inst.p_lat[:, None], inst.p_lon[:, None], Y.lat[None], Y.lon[None]) * f
    s_all = np.arange(nS)
    parts = []
    for y in range(nY):
        for p in range(-1, nP):
            if p < 0:
                cls = b.s_class.copy()
                leg = km_sy[:, y]
                total = leg
                lo = np.maximum(inst.s_lo, inst.y_lo[y])
                hi = np.minimum(inst.s_hi, inst.y_hi[y])
                cost = 0.0
            else:
                cls = inst.p_converts[p, b.s_class]
                leg = np.maximum(km_sp[:, p], km_py[p, y])
                total = km_sp[:, p] + km_py[p, y]
                lo = np.maximum(np.maximum(inst.s_lo, inst.y_lo[y]), inst.p_lo[p])
                hi = np.minimum(np.minimum(inst.s_hi, inst.y_hi[y]), inst.p_hi[p])
                cost = inst.p_cost[p]
            ok = (cls >= 0) & (leg <= np.minimum(S.haul, d_haul_max)) & (lo <= hi)
            cls = np.where(ok, cls, C)
            ok &= b.y_accepts[y, cls]
            i = s_all[ok]
            if len(i) == 0:
                continue
            static = b.s_base[i] - kc * total[i] - cost - b.y_handling[y]
            parts.append(
                (
                    i,
                    np.full(len(i), p),
                    np.full(len(i), y),
                    cls[i],
                    lo[i],
                    hi[i],
                    static,
                    leg[i],
                )
            )
    return _concat(parts)


def _outbound(inst: PlanningInstance, arrive: np.ndarray):
    """Items out of each yard: every demand within haul that accepts a class that can
    arrive there, with its periods, fixed benefit and leg."""
    b = inst.base
    D, Y = b.demands, b.yards
    f, kc = b.road_factor, b.km_cost
    nY = len(Y.ids)
    parts = []
    km_yd = haversine_km(Y.lat[:, None], Y.lon[:, None], D.lat[None], D.lon[None]) * f
    d_all = np.arange(len(D.ids))
    for y in range(nY):
        lo = np.maximum(inst.d_lo, inst.y_lo[y])
        hi = np.minimum(inst.d_hi, inst.y_hi[y])
        near = (km_yd[y] <= D.haul) & (lo <= hi)
        for c in np.flatnonzero(arrive[y]).tolist():
            ok = near & b.d_accepts[:, c] & (inst.class_rank[c] <= b.d_min_rank)
            j = d_all[ok]
            if len(j) == 0:
                continue
            static = b.d_value[j, c] - kc * km_yd[y, j]
            parts.append(
                (
                    j,
                    np.full(len(j), -1),
                    np.full(len(j), y),
                    np.full(len(j), c),
                    lo[j],
                    hi[j],
                    static,
                    km_yd[y, j],
                )
            )
    return _concat(parts)
