"""Compiled inner loops of the network model's pricing (numba), over a grid of demands.

Each supply walks the grid cells within its pricing radius. A cell is skipped whole when
even its best demand, at the cell's nearest point, could not beat the supply's dual
(bound: supply base + the cell's largest value − dual for the class − cost of the
shortest possible haul); only the cells left are looked at pair by pair. So the work
follows the pairs that could matter, not the number of sites in reach. Everything here is
plain loops over numpy arrays; the rules applied are the cheap ones (class, grade,
windows, haul, benefit > 0): the caller applies the rest (`arcs.compatible`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

EARTH_RADIUS_KM = 6371.0088
# Planar km (smallest cos(latitude) of the instance) never overstate great-circle km by
# more than this factor and offset at the distances compared (tens of km); used both to
# widen search discs and to lower the nearest-point km of a cell.
PLANAR_FACTOR = 1.02
PLANAR_OFFSET_KM = 1.0
_CLOSE_DOT = 1.0 - 2e-8  # below ~1.3 km the km comes from the chord (see arcs.py)


@njit(cache=True, nogil=True)
def _road_km(sv, dv, road_factor):
    dot = sv[0] * dv[0] + sv[1] * dv[1] + sv[2] * dv[2]
    if dot > _CLOSE_DOT:
        a = sv[0] - dv[0]
        b = sv[1] - dv[1]
        c = sv[2] - dv[2]
        chord = math.sqrt(a * a + b * b + c * c)
    else:
        chord = math.sqrt(max(2.0 - 2.0 * dot, 0.0))
    return 2.0 * EARTH_RADIUS_KM * road_factor * math.asin(min(chord / 2.0, 1.0))


@njit(cache=True, nogil=True)
def cell_bounds(cell_start, d_order, d_value, d_accepts, v, n_cells, n_cls):
    """Per grid cell and supply class: the largest value − dual over the cell's demands
    that accept the class (−inf where none does)."""
    out = np.full((n_cells, n_cls), -np.inf)
    for cell in range(n_cells):
        for k in range(cell_start[cell], cell_start[cell + 1]):
            d = d_order[k]
            for c in range(n_cls):
                if d_accepts[d, c]:
                    x = d_value[d, c] - v[d]
                    if x > out[cell, c]:
                        out[cell, c] = x
    return out


@njit(cache=True, nogil=True, inline="always")  # in the hot loop: no call
def _benefit(rules, s, d, cls, R, road_factor, km_cost):
    """Road km and benefit of supply s → demand d under the cheap rules (class, grade,
    windows, haul, radius); the benefit is ≤ 0 when a rule refuses the pair."""
    (s_vec, d_vec, _s_class, s_rank, d_min_rank, s_start, s_end) = rules[:7]
    (d_start, d_end, s_haul, d_haul, s_base, d_value, d_accepts) = rules[7:]
    if not d_accepts[d, cls]:
        return 0.0, -1.0
    if s_rank[s] > d_min_rank[d]:
        return 0.0, -1.0
    if s_start[s] > d_end[d] or d_start[d] > s_end[s]:
        return 0.0, -1.0
    km = _road_km(s_vec[s], d_vec[d], road_factor)
    if km > R or km > s_haul[s] or km > d_haul[d]:
        return km, -1.0
    return km, s_base[s] + d_value[d, cls] - km_cost * km


@njit(cache=True, nogil=True)
def _window(px, py, R, grid):
    """The grid cells (x0, x1, y0, y1) a supply at (px, py) with radius R can reach, and
    the reach in planar km (infinite radius: the whole grid)."""
    W = int(grid[0])
    H = int(grid[1])
    cell = grid[2]
    if not math.isfinite(R):
        return 0, W - 1, 0, H - 1, np.inf
    reach = R / grid[3] * PLANAR_FACTOR + PLANAR_OFFSET_KM
    x0 = max(int(math.floor((px - reach) / cell)), 0)
    x1 = min(int(math.floor((px + reach) / cell)), W - 1)
    y0 = max(int(math.floor((py - reach) / cell)), 0)
    y1 = min(int(math.floor((py + reach) / cell)), H - 1)
    return x0, x1, y0, y1, reach


@njit(cache=True, nogil=True, inline="always")  # in the hot loop: no call
def _scan_cell(rules, s, a, e, d_order, R, grid, us, v, use_bounds, out, n, low):
    """Supply s against the demands d_order[a:e] of one cell: pairs written to `out` from
    n on (see `scan`); returns the new n and the supply's raised u_low."""
    out_s, out_d, out_b, out_km = out
    cls = rules[2][s]
    tol = grid[5]
    for k in range(a, e):
        d = d_order[k]
        km, b = _benefit(rules, s, d, cls, R, grid[3], grid[4])
        if b <= 0:
            continue
        if use_bounds:
            r = b - v[d]
            if r - us <= tol:
                if r > low:
                    low = r
                continue
            r -= us
        else:
            r = 0.0
        if n < len(out_s):
            out_s[n] = s
            out_d[n] = d
            out_b[n] = b
            out_km[n] = km if not use_bounds else r
        n += 1
    return n, low


@njit(cache=True, nogil=True)
def scan(
    grid,  # (W, H, cell km, road factor, km cost, tol)
    s_xy,
    d_order,
    cell_start,
    rules,  # (s_vec, d_vec, s_class, s_rank, d_min_rank, s_start, s_end, d_start, d_end,
    #          s_haul, d_haul, s_base, d_value, d_accepts)
    radius,
    u,
    v,
    bounds,
    use_bounds,
    out,  # (out_s, out_d, out_b, out_km)
    u_low,
):
    """Every supply against the demands of the cells within its radius (road km).

    With `use_bounds` (pricing): pairs whose reduced benefit b − v − u exceeds tol are
    written out (s, d, b, b − v − u); the others only raise u_low[s] (their largest
    b − v, or the bound of a skipped cell, both at most u + tol). Without (first
    candidates): every pair with b > 0 within the radius is written out, with its km.
    Returns how many pairs were found (only the first len(out_s) are written) and how
    many were looked at one by one."""
    W = int(grid[0])
    cell = grid[2]
    road_factor = grid[3]
    km_cost = grid[4]
    tol = grid[5]
    s_class = rules[2]
    s_base = rules[11]
    n = 0
    looked = 0
    for s in range(len(s_class)):
        R = radius[s]
        if not R >= 0:
            continue
        cls = s_class[s]
        us = u[s]
        low = u_low[s]
        px = s_xy[s, 0]
        py = s_xy[s, 1]
        x0, x1, y0, y1, reach = _window(px, py, R, grid)
        for cy in range(y0, y1 + 1):
            gy = max(cy * cell - py, 0.0, py - (cy + 1) * cell)
            for cx in range(x0, x1 + 1):
                c_id = cy * W + cx
                a = cell_start[c_id]
                e = cell_start[c_id + 1]
                if a == e:
                    continue
                gx = max(cx * cell - px, 0.0, px - (cx + 1) * cell)
                near = math.sqrt(gx * gx + gy * gy)
                if near > reach:
                    continue
                if use_bounds:
                    near_road = max(near - PLANAR_OFFSET_KM, 0.0) / PLANAR_FACTOR * road_factor
                    top = s_base[s] + bounds[c_id, cls] - km_cost * near_road
                    if top - us <= tol:
                        if top > low:
                            low = top
                        continue
                looked += e - a
                n, low = _scan_cell(
                    rules, s, a, e, d_order, R, grid, us, v, use_bounds, out, n, low
                )
        u_low[s] = low
    return n, looked


@njit(cache=True, nogil=True)
def _keep_top(keys, who, vals, row, key, idx, val):
    """Insert (key, idx, val) into row `row` of the sorted (largest key first) top lists
    if it beats the last entry."""
    k = keys.shape[1]
    if k == 0 or key <= keys[row, k - 1]:
        return
    j = k - 1
    while j > 0 and keys[row, j - 1] < key:
        keys[row, j] = keys[row, j - 1]
        who[row, j] = who[row, j - 1]
        vals[row, j] = vals[row, j - 1]
        j -= 1
    keys[row, j] = key
    who[row, j] = idx
    vals[row, j] = val


@njit(cache=True, nogil=True)
def _top_lists(nS, nD, k_best, k_near):
    """Empty top lists (key, who, benefit) per supply and per demand: the best by benefit
    and the nearest (key −km), in that order: sb, sn, db, dn."""
    return (
        np.full((nS, k_best), -np.inf),
        np.full((nS, k_best), -1, np.int64),
        np.zeros((nS, k_best)),
        np.full((nS, k_near), -np.inf),
        np.full((nS, k_near), -1, np.int64),
        np.zeros((nS, k_near)),
        np.full((nD, k_best), -np.inf),
        np.full((nD, k_best), -1, np.int64),
        np.zeros((nD, k_best)),
        np.full((nD, k_near), -np.inf),
        np.full((nD, k_near), -1, np.int64),
        np.zeros((nD, k_near)),
    )


@njit(cache=True, nogil=True, inline="always")  # in the hot loop: no call
def _first_cell(rules, s, c_id, cell_start, d_order, R, road_factor, km_cost, tops):
    """Supply s against the demands of one cell: each allowed pair offered to the four top
    lists."""
    sb_key, sb_who, sb_val, sn_key, sn_who, sn_val = tops[:6]
    db_key, db_who, db_val, dn_key, dn_who, dn_val = tops[6:]
    cls = rules[2][s]
    for k in range(cell_start[c_id], cell_start[c_id + 1]):
        d = d_order[k]
        km, b = _benefit(rules, s, d, cls, R, road_factor, km_cost)
        if b <= 0:
            continue
        _keep_top(sb_key, sb_who, sb_val, s, b, d, b)
        _keep_top(sn_key, sn_who, sn_val, s, -km, d, b)
        _keep_top(db_key, db_who, db_val, d, b, s, b)
        _keep_top(dn_key, dn_who, dn_val, d, -km, s, b)


@njit(cache=True, nogil=True)
def _walk_rings(grid, s_xy, d_order, cell_start, rules, s, R, class_top, extra_rings, tops):
    """Supply s's grid cells ring by ring outwards, into the top lists, until no farther
    cell can hold a nearer or a better arc (see `first_candidates`)."""
    W = int(grid[0])
    H = int(grid[1])
    cell = grid[2]
    road_factor = grid[3]
    km_cost = grid[4]
    sb_key = tops[0]
    sn_key = tops[3]
    k_best = sb_key.shape[1]
    k_near = sn_key.shape[1]
    top = rules[11][s] + class_top[rules[2][s]]
    px = s_xy[s, 0]
    py = s_xy[s, 1]
    reach = R / road_factor * PLANAR_FACTOR + PLANAR_OFFSET_KM
    sx = min(max(int(math.floor(px / cell)), 0), W - 1)
    sy = min(max(int(math.floor(py / cell)), 0), H - 1)
    near_ring = 0
    for ring in range(max(W, H) + 1):
        # Cells of this ring are at least (ring − 1) cells from the supply.
        gap = max(ring - 1, 0) * cell
        if gap > reach:
            break
        if ring > 1:
            near_road = max(gap - PLANAR_OFFSET_KM, 0.0) / PLANAR_FACTOR * road_factor
            done_near = k_near == 0 or -near_road <= sn_key[s, k_near - 1]
            done_best = k_best == 0 or top - km_cost * near_road <= sb_key[s, k_best - 1]
            if done_near and (done_best or ring > near_ring + extra_rings):
                break
            if not done_near:
                near_ring = ring
        for cy in range(sy - ring, sy + ring + 1):
            if cy < 0 or cy >= H:
                continue
            edge_row = cy == sy - ring or cy == sy + ring
            step = 1 if edge_row else 2 * ring
            cx = sx - ring
            while cx <= sx + ring:
                if 0 <= cx < W:
                    _first_cell(
                        rules, s, cy * W + cx, cell_start, d_order, R, road_factor, km_cost, tops
                    )
                if ring == 0:
                    break
                cx += step


@njit(cache=True, nogil=True)
def _collect(tops):
    """The pairs the top lists hold (with repeats) and their benefits."""
    sb_who, sb_val, sn_who, sn_val = tops[1], tops[2], tops[4], tops[5]
    db_who, db_val, dn_who, dn_val = tops[7], tops[8], tops[10], tops[11]
    n = 0
    for who in (sb_who, sn_who, db_who, dn_who):
        for i in range(who.shape[0]):
            for j in range(who.shape[1]):
                if who[i, j] >= 0:
                    n += 1
    out_s = np.empty(n, np.int64)
    out_d = np.empty(n, np.int64)
    out_b = np.empty(n)
    n = 0
    for side in range(4):
        if side == 0:
            who, val = sb_who, sb_val
        elif side == 1:
            who, val = sn_who, sn_val
        elif side == 2:
            who, val = db_who, db_val
        else:
            who, val = dn_who, dn_val
        for i in range(who.shape[0]):
            for j in range(who.shape[1]):
                if who[i, j] >= 0:
                    if side < 2:
                        out_s[n] = i
                        out_d[n] = who[i, j]
                    else:
                        out_s[n] = who[i, j]
                        out_d[n] = i
                    out_b[n] = val[i, j]
                    n += 1
    return out_s, out_d, out_b


@njit(cache=True, nogil=True)
def first_candidates(
    grid,  # (W, H, cell km, road factor, km cost)
    s_xy,
    d_order,
    cell_start,
    rules,  # as in `scan`
    radius,
    k_best,
    k_near,
    class_top,
    extra_rings,
):
    """Per supply and per demand, the k_best arcs of largest benefit and the k_near
    nearest (cheap rules only), found by walking each supply's grid cells ring by ring
    outwards: the walk stops once no farther cell can hold a nearer arc or a better one
    (benefit ≤ base + class_top[class] − cost of the ring's distance), or at the radius,
    or `extra_rings` rings after the ring where the k_near nearest were settled.
    So a supply in a dense city looks at a few cells, one in the country at many.
    Returns the pairs (with repeats) and their benefits."""
    nS = len(rules[2])
    nD = len(rules[4])
    tops = _top_lists(nS, nD, k_best, k_near)
    for s in range(nS):
        R = radius[s]
        if R >= 0:
            _walk_rings(grid, s_xy, d_order, cell_start, rules, s, R, class_top, extra_rings, tops)
    return _collect(tops)
