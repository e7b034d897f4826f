"""Matching engine benchmark: clustered Kanto instances, wall time, peak RSS, gap, greedy.

    .venv/bin/python benchmarks/matching_bench.py            # every case, table on stdout
    .venv/bin/python benchmarks/matching_bench.py --cases soil-1k soil-5k
    .venv/bin/python benchmarks/matching_bench.py --write-instance soil-1k /tmp/soil-1k.json

Each case runs in its own child process so that its peak RSS (os.wait4) is its own;
the figures include instance validation, arc building, solve, pricing and the result.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# (name, lat, lon, weight): sites bunch around cities, Tokyo heaviest.
CITIES = [
    ("Tokyo", 35.681, 139.767, 0.26),
    ("Yokohama", 35.444, 139.638, 0.14),
    ("Kawasaki", 35.531, 139.703, 0.08),
    ("Saitama", 35.861, 139.645, 0.10),
    ("Chiba", 35.607, 140.106, 0.09),
    ("Sagamihara", 35.571, 139.373, 0.06),
    ("Hachioji", 35.666, 139.316, 0.06),
    ("Funabashi", 35.694, 139.983, 0.05),
    ("Kawagoe", 35.925, 139.486, 0.04),
    ("Utsunomiya", 36.555, 139.883, 0.04),
    ("Maebashi", 36.389, 139.063, 0.03),
    ("Mito", 36.366, 140.471, 0.03),
    ("Tsukuba", 36.083, 140.077, 0.02),
]
SOIL = ["1", "1i", "2a", "2b", "2i", "3a", "3b", "3i", "4a", "4b", "4i", "mud-a", "mud-b", "mud-c"]
SOIL_MIX = [0.10, 0.03, 0.10, 0.20, 0.02, 0.15, 0.15, 0.03, 0.08, 0.06, 0.02, 0.03, 0.02, 0.01]
SOIL_ACCEPTS = [SOIL[:5], SOIL[:8], SOIL[:11], SOIL[2:8], SOIL[:3], SOIL[8:]]
SOIL_ACCEPTS_P = [0.25, 0.30, 0.25, 0.10, 0.07, 0.03]
BASE = dt.date(2027, 1, 1).toordinal()


# Nationwide: 43 city centres from Hokkaido to Okinawa, weighted by population (millions,
# city proper, rounded); each city's sites spread with its size (see _city_points).
JAPAN = [
    ("Sapporo", 43.062, 141.354, 1.97),
    ("Asahikawa", 43.771, 142.365, 0.33),
    ("Hakodate", 41.769, 140.729, 0.25),
    ("Aomori", 40.822, 140.747, 0.27),
    ("Morioka", 39.702, 141.154, 0.29),
    ("Akita", 39.720, 140.103, 0.30),
    ("Sendai", 38.268, 140.869, 1.09),
    ("Yamagata", 38.240, 140.363, 0.24),
    ("Koriyama", 37.400, 140.360, 0.32),
    ("Niigata", 37.916, 139.036, 0.78),
    ("Mito", 36.366, 140.471, 0.27),
    ("Utsunomiya", 36.555, 139.883, 0.52),
    ("Maebashi", 36.389, 139.063, 0.33),
    ("Saitama", 35.861, 139.645, 1.34),
    ("Chiba", 35.607, 140.106, 0.98),
    ("Tokyo", 35.681, 139.767, 9.70),
    ("Yokohama", 35.444, 139.638, 3.77),
    ("Kawasaki", 35.531, 139.703, 1.54),
    ("Hachioji", 35.666, 139.316, 0.58),
    ("Kofu", 35.662, 138.568, 0.19),
    ("Nagano", 36.648, 138.194, 0.37),
    ("Toyama", 36.695, 137.211, 0.41),
    ("Kanazawa", 36.561, 136.656, 0.46),
    ("Shizuoka", 34.976, 138.383, 0.69),
    ("Hamamatsu", 34.711, 137.726, 0.79),
    ("Nagoya", 35.181, 136.906, 2.33),
    ("Gifu", 35.423, 136.761, 0.40),
    ("Kyoto", 35.012, 135.768, 1.46),
    ("Osaka", 34.694, 135.502, 2.75),
    ("Kobe", 34.690, 135.196, 1.52),
    ("Nara", 34.685, 135.805, 0.35),
    ("Wakayama", 34.226, 135.167, 0.36),
    ("Okayama", 34.655, 133.919, 0.72),
    ("Hiroshima", 34.385, 132.455, 1.20),
    ("Matsue", 35.468, 133.049, 0.20),
    ("Takamatsu", 34.340, 134.043, 0.42),
    ("Matsuyama", 33.839, 132.765, 0.51),
    ("Kochi", 33.559, 133.531, 0.32),
    ("Fukuoka", 33.590, 130.402, 1.61),
    ("Kitakyushu", 33.883, 130.875, 0.94),
    ("Kumamoto", 32.803, 130.708, 0.74),
    ("Kagoshima", 31.597, 130.557, 0.59),
    ("Naha", 26.212, 127.681, 0.32),
]
# Sparse rural: small towns of Tohoku and Hokkaido, far apart, sites spread wide.
RURAL = [
    ("Kitami", 43.804, 143.894, 0.11),
    ("Obihiro", 42.924, 143.196, 0.16),
    ("Kushiro", 42.985, 144.381, 0.16),
    ("Nayoro", 44.356, 142.463, 0.03),
    ("Takikawa", 43.558, 141.910, 0.04),
    ("Tomakomai", 42.634, 141.605, 0.17),
    ("Muroran", 42.315, 140.974, 0.08),
    ("Hirosaki", 40.603, 140.464, 0.16),
    ("Hachinohe", 40.512, 141.488, 0.22),
    ("Noshiro", 40.212, 140.027, 0.05),
    ("Miyako", 39.641, 141.957, 0.05),
    ("Hanamaki", 39.389, 141.113, 0.09),
    ("Ichinoseki", 38.934, 141.127, 0.11),
    ("Yokote", 39.311, 140.553, 0.09),
    ("Sakata", 38.914, 139.836, 0.10),
    ("Ishinomaki", 38.434, 141.303, 0.14),
    ("Aizuwakamatsu", 37.495, 139.930, 0.12),
    ("Iwaki", 37.050, 140.888, 0.33),
]
# Dense metropolitan with rural surroundings: Kansai cities, then towns around them.
MIXED = [
    ("Osaka", 34.694, 135.502, 0.30),
    ("Kobe", 34.690, 135.196, 0.14),
    ("Kyoto", 35.012, 135.768, 0.14),
    ("Sakai", 34.573, 135.483, 0.08),
    ("Nara", 34.685, 135.805, 0.04),
    ("Himeji", 34.815, 134.685, 0.05),
    ("Wakayama", 34.226, 135.167, 0.04),
    ("Otsu", 35.018, 135.855, 0.03),
    ("Fukuchiyama", 35.297, 135.126, 0.02),
    ("Maizuru", 35.474, 135.386, 0.02),
    ("Toyooka", 35.544, 134.820, 0.02),
    ("Nabari", 34.628, 136.108, 0.02),
    ("Gojo", 34.352, 135.694, 0.02),
    ("Tanabe", 33.728, 135.378, 0.02),
    ("Shingu", 33.724, 135.993, 0.01),
    ("Hikone", 35.274, 136.260, 0.02),
    ("Iga", 34.769, 136.130, 0.02),
    ("Ako", 34.755, 134.390, 0.01),
]


def _points(rng, n, sigma_km=9.0, cities=CITIES):
    w = np.array([c[3] for c in cities])
    idx = rng.choice(len(cities), size=n, p=w / w.sum())
    lat = np.array([cities[i][1] for i in idx]) + rng.normal(0, sigma_km / 111.0, n)
    lon = np.array([cities[i][2] for i in idx]) + rng.normal(0, sigma_km / 91.0, n)
    return np.round(lat, 5), np.round(lon, 5)


def _city_points(rng, n, cities, sigma_km):
    """Sites around weighted cities; `sigma_km(weight)` is a city's spread (per city)."""
    w = np.array([c[3] for c in cities])
    idx = rng.choice(len(cities), size=n, p=w / w.sum())
    lat0 = np.array([c[1] for c in cities])[idx]
    lon0 = np.array([c[2] for c in cities])[idx]
    sig = np.array([sigma_km(c[3]) for c in cities])[idx]
    lat = lat0 + rng.normal(0, 1, n) * sig / 111.0
    lon = lon0 + rng.normal(0, 1, n) * sig / (111.0 * np.cos(np.radians(lat0)))
    return np.round(lat, 5), np.round(lon, 5)


def _windows(rng, n, short=(14, 60), long=(60, 240)):
    start = rng.integers(0, 330, n)
    length = np.where(rng.random(n) < 0.6, rng.integers(*short, n), rng.integers(*long, n))
    return [
        [
            dt.date.fromordinal(BASE + int(a)).isoformat(),
            dt.date.fromordinal(BASE + int(a + b)).isoformat(),
        ]
        for a, b in zip(start, length, strict=True)
    ]


def _pick(rng, choices, p, n):
    return rng.choice(len(choices), size=n, p=np.array(p) / np.sum(p))


def soil_instance(n_s, n_d, n_yards=0, seed=1, layout=None, hauls=None) -> dict:
    """Soil instance. `layout(rng, n)` places sites (default: the 13 Kanto cities, 9 km
    spread); `hauls` = (supply km choices, their p, demand km choices, their p)."""
    rng = np.random.default_rng(seed)
    place = layout or _points
    slat, slon = place(rng, n_s)
    dlat, dlon = place(rng, n_d)
    sw, dwin = _windows(rng, n_s), _windows(rng, n_d, short=(30, 90), long=(90, 300))
    s_cls = rng.choice(SOIL, size=n_s, p=SOIL_MIX)
    s_km, s_p, d_km, d_p = hauls or ([30, 40, 50], [0.2, 0.3, 0.5], [None, 40, 50], [0.5, 0.2, 0.3])
    s_haul = rng.choice(s_km, size=n_s, p=s_p)
    d_haul = _pick(rng, d_km, d_p, n_d)
    d_acc = _pick(rng, SOIL_ACCEPTS, SOIL_ACCEPTS_P, n_d)
    sq = np.clip(rng.lognormal(6.8, 0.9, n_s), 50, 20000).astype(int)
    dq = np.clip(rng.lognormal(6.9, 0.9, n_d), 50, 30000).astype(int)
    supplies = [
        {
            "id": f"S{i}",
            "lat": float(slat[i]),
            "lon": float(slon[i]),
            "quantity": int(sq[i]),
            "window": sw[i],
            "disposal_cost": int(rng.integers(2500, 6500)),
            "max_haul_km": int(s_haul[i]),
            "class": str(s_cls[i]),
        }
        for i in range(n_s)
    ]
    demands = []
    for j in range(n_d):
        acc = SOIL_ACCEPTS[d_acc[j]]
        val = int(rng.integers(1500, 5000))
        dem = {
            "id": f"D{j}",
            "lat": float(dlat[j]),
            "lon": float(dlon[j]),
            "quantity": int(dq[j]),
            "window": dwin[j],
            "value": val,
            "max_haul_km": d_km[d_haul[j]],
            "accepts": list(acc),
        }
        if "1" in acc and rng.random() < 0.3:
            dem["value_by"] = {"1": val + 400}
        demands.append(dem)
    yards = []
    if n_yards:
        ylat, ylon = _points(rng, n_yards, sigma_km=15)
        for y in range(n_yards):
            yards.append(
                {
                    "id": f"Y{y}",
                    "lat": float(ylat[y]),
                    "lon": float(ylon[y]),
                    "capacity": int(rng.integers(20000, 120000)),
                    "handling_cost": int(rng.integers(250, 1200)),
                    "window": ["2027-01-01", "2027-12-31"],
                    "accepts": SOIL[:8] if rng.random() < 0.7 else SOIL[:5],
                }
            )
    return {
        "version": 1,
        "material": "soil",
        "as_of": "2027-01-05",
        "transport": {"road_factor": 1.3, "cost_per_unit_km": 90, "co2_kg_per_unit_km": 0.3},
        "carbon_price_per_kg": 0,
        "supplies": supplies,
        "demands": demands,
        "stockyards": yards,
    }


GRADES = ["RM-25", "RM-30", "RM-40", "RC-30", "RC-40", "RC-other"]


def recycled_instance(n_s, n_d, seed=1) -> dict:
    rng = np.random.default_rng(seed)
    slat, slon = _points(rng, n_s, 12)
    dlat, dlon = _points(rng, n_d, 12)
    sw, dwin = (
        _windows(rng, n_s, long=(60, 200)),
        _windows(rng, n_d, short=(30, 120), long=(120, 300)),
    )
    cls = rng.choice(GRADES, size=n_s, p=[0.1, 0.15, 0.2, 0.15, 0.3, 0.1])
    supplies = [
        {
            "id": f"S{i}",
            "lat": float(slat[i]),
            "lon": float(slon[i]),
            "quantity": int(rng.integers(50, 2000)),
            "window": sw[i],
            "disposal_cost": int(rng.integers(500, 3000)),
            "class": str(cls[i]),
            "max_haul_km": 40,
            "properties": {
                "absorption": round(float(rng.uniform(2.0, 8.0)), 2),
                "fines": round(float(rng.uniform(0.5, 4.0)), 2),
            },
            "co2_avoided_kg_per_unit": 2.9,
        }
        for i in range(n_s)
    ]
    demands = []
    for j in range(n_d):
        lim = {"absorption": {"max": round(float(rng.uniform(3.5, 6.5)), 1)}}
        if rng.random() < 0.3:
            lim["fines"] = {"max": round(float(rng.uniform(1.5, 3.0)), 1)}
        demands.append(
            {
                "id": f"D{j}",
                "lat": float(dlat[j]),
                "lon": float(dlon[j]),
                "quantity": int(rng.integers(100, 3000)),
                "window": dwin[j],
                "value": int(rng.integers(1500, 4500)),
                "min_grade": str(rng.choice(GRADES[1:])),
                "limits": lim,
                "blend": bool(rng.random() < 0.5),
                "max_haul_km": 40,
            }
        )
    return {
        "version": 1,
        "material": "recycled",
        "as_of": "2027-01-05",
        "transport": {"road_factor": 1.3, "cost_per_unit_km": 25, "co2_kg_per_unit_km": 0.3},
        "carbon_price_per_kg": 10,
        "grades": GRADES,
        "supplies": supplies,
        "demands": demands,
    }


CATEGORIES = [
    "sofa",
    "chair",
    "table",
    "desk",
    "chest",
    "shelf",
    "bicycle",
    "instrument",
    "cabinet",
    "toy",
    "lamp",
    "bed",
]


def reuse_instance(n_items, n_ops, seed=1) -> dict:
    rng = np.random.default_rng(seed)
    slat, slon = _points(rng, n_items, 10)
    dlat, dlon = _points(rng, n_ops, 12)
    owners = [f"city-{100000 + 37 * k}" for k in range(40)]
    sw = _windows(rng, n_items, short=(14, 45), long=(45, 90))
    dwin = _windows(rng, n_ops, short=(60, 180), long=(180, 360))
    cls = rng.choice(CATEGORIES, size=n_items)
    supplies = []
    for i in range(n_items):
        restricted = rng.random() < 0.5
        supplies.append(
            {
                "id": f"S{i}",
                "lat": float(slat[i]),
                "lon": float(slon[i]),
                "quantity": 1,
                "window": sw[i],
                "disposal_cost": int(rng.integers(400, 1800)),
                "class": str(cls[i]),
                "owner": str(rng.choice(owners)),
                "partner_only_until": "2027-03-31" if restricted else None,
                "co2_avoided_kg_per_unit": 20,
            }
        )
    demands = []
    for j in range(n_ops):
        acc = list(rng.choice(CATEGORIES, size=int(rng.integers(3, 8)), replace=False))
        demands.append(
            {
                "id": f"D{j}",
                "lat": float(dlat[j]),
                "lon": float(dlon[j]),
                "quantity": int(rng.integers(10, 120)),
                "window": dwin[j],
                "value": 0,
                "value_by": {c: int(rng.integers(300, 5000)) for c in acc},
                "accepts": acc,
                "max_haul_km": 30,
                "partners": list(rng.choice(owners, size=int(rng.integers(0, 4)), replace=False)),
            }
        )
    return {
        "version": 1,
        "material": "reuse",
        "as_of": "2027-01-05",
        "transport": {"road_factor": 1.3, "cost_per_unit_km": 60, "co2_kg_per_unit_km": 0.3},
        "carbon_price_per_kg": 0,
        "supplies": supplies,
        "demands": demands,
    }


def _kanto_dense(rng, n):
    """Held out: the Kanto cities again, sites bunched twice as tightly (4.5 km)."""
    return _points(rng, n, sigma_km=4.5)


def _rural(rng, n):
    """Small towns far apart, sites spread 15–25 km around them."""
    return _city_points(rng, n, RURAL, lambda w: 15.0 + 40.0 * w)


def _mixed(rng, n):
    """Kansai: dense cities (4–7 km) and rural towns (12 km) around them, 10 % anywhere."""
    lat, lon = _city_points(rng, n, MIXED, lambda w: 3.0 + 12.0 * w if w >= 0.03 else 12.0)
    far = rng.random(n) < 0.10
    lat[far] = np.round(rng.uniform(33.7, 35.6, far.sum()), 5)
    lon[far] = np.round(rng.uniform(134.4, 136.3, far.sum()), 5)
    return lat, lon


def _japan(rng, n):
    """Nationwide: 43 cities by population; a city of P million spreads 4 + 3·√P km."""
    return _city_points(rng, n, JAPAN, lambda w: 4.0 + 3.0 * np.sqrt(w))


# Haul limits 30–60 km (supply always limited; a demand half the time).
HAULS_30_60 = (
    [30, 40, 50, 60],
    [0.2, 0.3, 0.3, 0.2],
    [None, 30, 40, 50, 60],
    [0.4, 0.1, 0.2, 0.2, 0.1],
)
# Generators of several densities and spreads; a case name may end in @seed (default 1).
GENERATORS = {
    "kanto-dense": lambda n, seed: soil_instance(n, n, seed=seed, layout=_kanto_dense),
    "rural": lambda n, seed: soil_instance(n, n, seed=seed, layout=_rural, hauls=HAULS_30_60),
    "mixed": lambda n, seed: soil_instance(n, n, seed=seed, layout=_mixed, hauls=HAULS_30_60),
    "japan": lambda n, seed: soil_instance(n, n, seed=seed, layout=_japan, hauls=HAULS_30_60),
}


def make_case(case: str) -> dict:
    """Instance of a case name: a fixed case, or GENERATOR-SIZE[@SEED] (e.g. rural-10k@2)."""
    name, _, seed = case.partition("@")
    if name in CASES and not seed:
        return CASES[name]()
    gen, _, size = name.rpartition("-")
    n = int(float(size.rstrip("k")) * 1000) if size.endswith("k") else int(size)
    return GENERATORS[gen](n, int(seed or 1))


CASES = {
    "soil-1k": lambda: soil_instance(1000, 1000),
    "soil-5k": lambda: soil_instance(5000, 5000),
    "soil-10k": lambda: soil_instance(10000, 10000),
    "soil-10k-yards": lambda: soil_instance(10000, 10000, n_yards=20),
    "recycled-2k-blend": lambda: recycled_instance(2000, 2000),
    "reuse-20k-500": lambda: reuse_instance(20000, 500),
}
DEFAULT = [
    "soil-1k",
    "soil-5k",
    "soil-10k",
    "naive:soil-10k",
    "soil-10k-yards",
    "recycled-2k-blend",
    "reuse-20k-500",
]


def _naive(inst):
    """All compatible arcs, every supply against every demand, then one min-cost flow."""
    from matching.arcs import Arcs, direct_arcs
    from matching.network import choose_scale, solve_transport

    nS, nD = len(inst.supplies.ids), len(inst.demands.ids)
    parts = []
    rows = max(1, 2_000_000 // max(nD, 1))
    for a in range(0, nS, rows):
        si = np.repeat(np.arange(a, min(nS, a + rows)), nD)
        di = np.tile(np.arange(nD), min(nS, a + rows) - a)
        ok, arcs = direct_arcs(inst, si, di)
        ok &= arcs.b > 0
        parts.append(arcs.take(ok))
    arcs = Arcs.concat(parts)
    qs = np.rint(inst.supplies.qty).astype(np.int64)
    qd = np.rint(inst.demands.qty).astype(np.int64)
    max_b = float(inst.s_base.max() + inst.d_value.max())
    sol = solve_transport(
        arcs, qs, qd, choose_scale(max_b, float(qs.sum() + qd.sum()), nS + nD + 1)
    )
    return float(sol.flow.astype(float) @ arcs.b), len(arcs)


def run_child(case: str) -> dict:
    import matching

    naive = case.startswith("naive:")
    name = case.split(":")[-1]
    data = make_case(name)
    t0 = time.perf_counter()
    c0 = time.process_time()
    inst = matching.load_instance(data)
    out = {"case": case}
    if naive:
        net, n_arcs = _naive(inst)
        out.update(seconds=time.perf_counter() - t0, net_benefit=net, candidate_arcs=n_arcs)
        out["cpu_unexplained_s"] = time.process_time() - c0
        return out
    stages = []
    cpu_at = {}

    def progress(stage, fraction):
        stages.append((stage, time.perf_counter() - t0))
        cpu_at.setdefault(stage, time.process_time() - c0)

    res = matching.solve(inst, progress=progress)
    out.update(
        seconds=time.perf_counter() - t0,
        status=res.status,
        net_benefit=res.net_benefit,
        upper_bound=res.upper_bound,
        flows=len(res.flows),
        stats=res.stats,
    )
    first = {}
    for s, t in stages:
        first.setdefault(s, t)
    out["stage_start_s"] = {k: round(v, 2) for k, v in first.items()}
    # CPU from validation to the explanation (what the naive case does), this process.
    out["cpu_unexplained_s"] = cpu_at.get("explain", time.process_time() - c0)
    t1 = time.perf_counter()
    g = matching.greedy(inst, explain=False)
    out.update(greedy_net_benefit=g.net_benefit, greedy_seconds=time.perf_counter() - t1)
    return out


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_case(case: str, timeout: float, max_rss_mib: float = 6 * 1024) -> dict:
    """Run one case in a child; kill it after `timeout` s or above `max_rss_mib` (the
    machine is shared: a case must never take more than its share of memory)."""
    import threading

    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", case], stdout=subprocess.PIPE, cwd=ROOT
    )
    why_killed = []

    def watch():
        t0 = time.monotonic()
        while proc.poll() is None:
            if time.monotonic() - t0 > timeout:
                why_killed.append(f"killed after {timeout:.0f} s")
            elif _rss_mib(proc.pid) > max_rss_mib:
                why_killed.append(f"killed above {max_rss_mib:.0f} MiB")
            if why_killed:
                proc.kill()
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        why = why_killed[0] if why_killed else f"exit {proc.returncode}"
        return {"case": case, "error": why, "peak_rss_mib": usage.ru_maxrss / 1024}
    res = json.loads(out)
    res["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    # CPU of the child: on a shared machine steadier than wall time.
    res["cpu_s"] = usage.ru_utime + usage.ru_stime
    return res


def _unexplained(r: dict) -> float:
    """Seconds up to the explanation of the result (all of them for the naive case)."""
    return r.get("stage_start_s", {}).get("explain", r["seconds"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="*", default=DEFAULT)
    ap.add_argument("--child")
    ap.add_argument("--write-instance", nargs=2, metavar=("CASE", "PATH"))
    ap.add_argument("--json", help="also write all figures to this file")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per case")
    ap.add_argument("--max-rss-gib", type=float, default=6.0, help="memory cap per case")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child)))
        return 0
    if args.write_instance:
        with open(args.write_instance[1], "w") as fh:
            json.dump(make_case(args.write_instance[0]), fh)
        return 0
    rows = []
    print("load average (1, 5, 15 min) at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    # wall s: validation, arcs, solve and the explained result; without explanation: up to
    # the explanation (what the naive case does: it explains nothing).
    print(
        "| case | status | wall s | without explanation s | CPU s without explanation "
        "| peak RSS MiB | net benefit ¥ "
        "| gap to bound | greedy ¥ | arcs | regions |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for case in args.cases:
        r = run_case(case, args.timeout, args.max_rss_gib * 1024)
        rows.append(r)
        if "error" in r:
            print(f"| {case} | ERROR {r['error']} | | | | | | | | | |", flush=True)
            continue
        gap = ""
        if r.get("upper_bound") is not None:
            gap = f"{(r['upper_bound'] - r['net_benefit']) / max(1.0, abs(r['upper_bound'])):.2e}"
        arcs = r.get("candidate_arcs") or r.get("stats", {}).get("candidate_arcs")
        greedy = f"{r['greedy_net_benefit']:,.0f}" if "greedy_net_benefit" in r else ""
        print(
            f"| {case} | {r.get('status', 'naive')} | {r['seconds']:.2f} | {_unexplained(r):.2f} | "
            f"{r['cpu_unexplained_s']:.1f} | {r['peak_rss_mib']:.0f} | "
            f"{r['net_benefit']:,.0f} | {gap} | {greedy} | {arcs} | "
            f"{r.get('stats', {}).get('regions', 1 if 'stats' in r else '')} |",
            flush=True,
        )
    times = {r["case"]: r["seconds"] for r in rows if "error" not in r}
    if "soil-1k" in times and "soil-10k" in times:
        print(
            f"\ntime growth exponent 1k→10k: {math.log(times['soil-10k'] / times['soil-1k'], 10):.2f}"
        )
    if "soil-10k" in times and "naive:soil-10k" in times:
        pruned = next(r for r in rows if r["case"] == "soil-10k")
        print(
            f"naive / pruned at 10k: {times['naive:soil-10k'] / _unexplained(pruned):.1f}× "
            f"(both without explanation); {times['naive:soil-10k'] / times['soil-10k']:.1f}× "
            "against the pruned solve with its explained result"
        )
    for r in rows:
        naive = next(
            (n for n in rows if n["case"] == f"naive:{r['case']}" and "error" not in n), None
        )
        if naive and "error" not in r:
            print(
                f"naive / pruned, {r['case']}: {naive['seconds'] / _unexplained(r):.1f}× wall "
                f"(both without explanation), "
                f"{naive['cpu_unexplained_s'] / r['cpu_unexplained_s']:.1f}× CPU (the same)"
            )
    print("load average (1, 5, 15 min) at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    for r in rows:
        print(json.dumps(r), file=sys.stderr)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
