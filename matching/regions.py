"""Regions: pieces of an instance that no haul can join, each solvable on its own.

A supply and a demand can only ever trade if they lie within the supply's haul limit (and
the longest demand haul), and closer than the distance at which transport eats the whole
benefit. Sites are put on a planar grid; a supply's cell is linked to
every cell holding demands within its haul disc (cells, not sites: a link may be looser
than the sites in it, never tighter). The connected pieces of that graph are the regions.
With no stockyards, the optimum of the whole instance is the union of the regions' optima
and its bound the sum of theirs: no allowed arc crosses two regions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .arcs import supply_reach_km
from .instance import Instance, Sites

# Planar km per degree of latitude; east-west km use the smallest cos(latitude) of the
# instance, so planar distances never overstate true ones (cells are linked generously).
_KM_PER_DEG = 111.19
# Grid cells are about a third of the median haul disc: finer separates pieces better,
# coarser links fewer cells. The result never depends on it, only how tight pieces are.
_CELLS_PER_RADIUS = 3


@dataclass(frozen=True)
class Region:
    """Indices (into the whole instance) of the supplies and demands of one region."""

    supplies: np.ndarray
    demands: np.ndarray

    @property
    def size(self) -> int:
        return len(self.supplies) + len(self.demands)


def find_regions(inst: Instance, *, haul_only: bool = False) -> list[Region] | None:
    """The regions of an instance, largest first, or None when it cannot be split safely
    (stockyards, which join any supply and demand they reach, or a supply with no limit
    on its reach: no haul limit and free transport). Supplies and demands that no haul can reach at all are in no region."""
    S, D = inst.supplies, inst.demands
    nS, nD = len(S.ids), len(D.ids)
    if nS == 0 or nD == 0 or len(inst.yards.ids):
        return None
    # Road km beyond which no arc of a supply is allowed and worth sending (haul limits,
    # or where transport eats the whole benefit): arcs of no benefit are never used.
    # With `haul_only`, by haul limits alone: every counterpart within haul of a listing
    # is then in its region (what explanations look at).
    if haul_only:
        reach = np.minimum(S.haul, D.haul.max()) / inst.road_factor
    else:
        reach = supply_reach_km(inst) / inst.road_factor  # great-circle km
    if not np.isfinite(reach).all():
        return None
    lat_all = np.concatenate([S.lat, D.lat])
    lon_all = np.concatenate([S.lon, D.lon])
    if np.abs(lat_all).max() >= 70 or np.ptp(lon_all) > 90:
        return None
    gc = reach * 1.02 + 1.0  # margin over the planar approximation
    cell = max(float(np.median(gc)) / _CELLS_PER_RADIUS, 1.0)
    kx = _KM_PER_DEG * np.cos(np.radians(np.abs(lat_all).max()))
    lat0, lon0 = lat_all.min(), lon_all.min()
    W = int(np.floor((lon_all.max() - lon0) * kx / cell)) + 1
    H = int(np.floor((lat_all.max() - lat0) * _KM_PER_DEG / cell)) + 1

    def cells(lat, lon):
        x = np.floor((lon - lon0) * kx / cell).astype(np.int64)
        y = np.floor((lat - lat0) * _KM_PER_DEG / cell).astype(np.int64)
        return x, y

    dx, dy = cells(D.lat, D.lon)
    d_cell = dy * W + dx
    occupied, d_node = np.unique(d_cell, return_inverse=True)
    node_of_cell = np.full(W * H, -1, np.int64)
    node_of_cell[occupied] = np.arange(len(occupied))
    sx, sy = cells(S.lat, S.lon)
    rc = np.ceil(gc / cell).astype(np.int64)
    groups, s_group = np.unique((sy * W + sx) * 4096 + np.minimum(rc, 4095), return_inverse=True)
    g_cell, g_r = groups // 4096, groups % 4096
    n_cells = len(occupied)
    tails, heads = [], []
    for r in np.unique(g_r).tolist():
        o = np.arange(-r, r + 1)
        ox, oy = np.meshgrid(o, o)
        gap = np.maximum(np.abs(ox) - 1, 0) ** 2 + np.maximum(np.abs(oy) - 1, 0) ** 2
        keep = gap <= r * r
        ox, oy = ox[keep], oy[keep]
        gi = np.flatnonzero(g_r == r)
        cy, cx = np.divmod(g_cell[gi], W)
        x, y = cx[:, None] + ox[None, :], cy[:, None] + oy[None, :]
        inside = (x >= 0) & (x < W) & (y >= 0) & (y < H)
        node = np.where(inside, node_of_cell[np.where(inside, y * W + x, 0)], -1)
        g_rep = np.broadcast_to(gi[:, None], node.shape)
        hit = node >= 0
        tails.append(n_cells + g_rep[hit])
        heads.append(node[hit])
    label = _components(n_cells + len(groups), np.concatenate(tails), np.concatenate(heads))
    return _group(label[n_cells + s_group], label[d_node], nS, nD)


def _group(s_label: np.ndarray, d_label: np.ndarray, nS: int, nD: int) -> list[Region]:
    """Supplies and demands by the component their cell is in, largest region first; a
    component with supplies but no demand is no region."""
    out = []
    s_order = np.argsort(s_label, kind="stable")
    d_order = np.argsort(d_label, kind="stable")
    s_keys, s_starts = np.unique(s_label[s_order], return_index=True)
    d_keys, d_starts = np.unique(d_label[d_order], return_index=True)
    s_ends = np.append(s_starts[1:], nS)
    d_ends = np.append(d_starts[1:], nD)
    d_pos = {int(k): i for i, k in enumerate(d_keys.tolist())}
    for i, key in enumerate(s_keys.tolist()):
        j = d_pos.get(key)
        if j is None:
            continue  # no demand within any of these supplies' hauls
        out.append(
            Region(
                np.sort(s_order[s_starts[i] : s_ends[i]]),
                np.sort(d_order[d_starts[j] : d_ends[j]]),
            )
        )
    out.sort(key=lambda reg: -reg.size)
    return out


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of an undirected graph: the smallest node id of each node's
    piece (min-label propagation with pointer jumping)."""
    label = np.arange(n)
    while True:
        m = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        while True:  # pointer jumping: label[i] ≤ i, so this settles quickly
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, label):
            return label
        label = new


def region_data(data: dict, region: Region) -> dict:
    """The instance file restricted to one region: its supplies and demands in region
    order (so that indices match `subset`) and the declined pairs between them."""
    sup = [data["supplies"][i] for i in region.supplies.tolist()]
    dem = [data["demands"][j] for j in region.demands.tolist()]
    s_ids, d_ids = {s["id"] for s in sup}, {d["id"] for d in dem}
    out = dict(data, supplies=sup, demands=dem)
    if data.get("excluded_pairs"):
        out["excluded_pairs"] = [
            p for p in data["excluded_pairs"] if p[0] in s_ids and p[1] in d_ids
        ]
    return out


def _sites(sites: Sites, idx: np.ndarray) -> Sites:
    return Sites(
        [sites.ids[i] for i in idx.tolist()],
        *(getattr(sites, f)[idx] for f in ("lat", "lon", "qty", "start", "end", "haul")),
    )


def subset(inst: Instance, region: Region) -> Instance:
    """The instance restricted to one region (indices renumbered from 0 in region order)."""
    s_idx, d_idx = region.supplies, region.demands
    nD = len(inst.demands.ids)
    d_new = np.full(nD, -1, np.int64)
    d_new[d_idx] = np.arange(len(d_idx))
    s_new = np.full(len(inst.supplies.ids), -1, np.int64)
    s_new[s_idx] = np.arange(len(s_idx))
    codes = inst.partner_codes
    if inst.n_owners and len(codes):
        d_of, owner = np.divmod(codes, inst.n_owners)
        keep = d_new[d_of] >= 0
        codes = np.sort(d_new[d_of[keep]] * inst.n_owners + owner[keep])
    excluded = inst.excluded_codes
    if excluded is not None and len(excluded):
        s_of, d_of = np.divmod(excluded, max(nD, 1))
        keep = (s_new[s_of] >= 0) & (d_new[d_of] >= 0)
        excluded = np.unique(s_new[s_of[keep]] * max(len(d_idx), 1) + d_new[d_of[keep]])
    per_supply = {f: getattr(inst, f)[s_idx] for f in _SUPPLY_FIELDS}
    per_demand = {f: getattr(inst, f)[d_idx] for f in _DEMAND_FIELDS}
    return dataclasses.replace(
        inst,
        supplies=_sites(inst.supplies, s_idx),
        demands=_sites(inst.demands, d_idx),
        partner_codes=codes,
        excluded_codes=excluded,
        **per_supply,
        **per_demand,
    )


_SUPPLY_FIELDS = ("s_class", "s_rank", "s_base", "s_props", "s_owner", "s_restricted")
_DEMAND_FIELDS = (
    "d_value",
    "d_accepts",
    "d_min_rank",
    "d_lim_max",
    "d_lim_min",
    "d_limited",
    "d_blend",
)
