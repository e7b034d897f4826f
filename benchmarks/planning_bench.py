"""Planning over time (matching version 2): generated Kanto instances, wall time, peak RSS,
gap, and what planning over time gains over the version 1 plan on the same listings.

    .venv/bin/python benchmarks/planning_bench.py                     # default cases
    .venv/bin/python benchmarks/planning_bench.py --cases plan-2k
    .venv/bin/python benchmarks/planning_bench.py --write-instance plan-2k /tmp/plan-2k.json

Each case runs in its own child process (peak RSS from os.wait4; address space capped
at --max-gib so a run can never take the machine) and is killed after --timeout seconds.
The comparison solves, on the same listings:
- v2: the version 2 plan (weekly periods, limits, yard occupancy by week, plants);
- v1: the version 1 optimum of the same listings as a version 1 instance (windows overlap,
  each yard a total capacity, no plants), by its own model, which ignores weekly limits
  and when a yard is full, so it may promise more than can be shipped;
- v1 scheduled: the best week-by-week schedule of the v1 plan's own supply/demand pairs
  (the version 2 solver restricted to those pairs, no plants): what the v1 plan delivers
  once it has to keep the weekly limits and yard occupancy.
m³ landfilled = supply not matched (it goes to its usual dump).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from matching_bench import (  # noqa: E402
    SOIL,
    SOIL_ACCEPTS,
    SOIL_ACCEPTS_P,
    SOIL_MIX,
    _pick,
    _points,
)

START = dt.date(2027, 1, 4)
CONVERSIONS = [
    {"4a": "2b", "4b": "3a", "mud-b": "3b", "mud-a": "3a"},
    {"4a": "3a", "4b": "3b", "4i": "3i"},
    {"3a": "2a", "3b": "2b", "4a": "2b"},
]


def _windows(rng, n, weeks, first=(0, 20), length=(2, 14)):
    a = rng.integers(first[0] * 7, first[1] * 7, n)
    b = a + rng.integers(length[0] * 7, length[1] * 7, n)
    return [
        [
            (START + dt.timedelta(days=int(x))).isoformat(),
            (START + dt.timedelta(days=int(y))).isoformat(),
        ]
        for x, y in zip(a, b, strict=True)
    ], (b - a) / 7.0


def planning_instance(n_s, n_d, n_yards, n_plants, weeks=26, seed=1) -> dict:
    rng = np.random.default_rng(seed)
    slat, slon = _points(rng, n_s)
    dlat, dlon = _points(rng, n_d)
    # Export sites dig early, import sites fill later: the gap a yard bridges.
    sw, s_weeks = _windows(rng, n_s, weeks, first=(0, 16), length=(2, 12))
    dw, d_weeks = _windows(rng, n_d, weeks, first=(3, 22), length=(3, 14))
    s_cls = rng.choice(SOIL, size=n_s, p=SOIL_MIX)
    s_haul = rng.choice([30, 40, 50], size=n_s, p=[0.2, 0.3, 0.5])
    d_haul = _pick(rng, [None, 40, 50], [0.5, 0.2, 0.3], n_d)
    d_acc = _pick(rng, SOIL_ACCEPTS, SOIL_ACCEPTS_P, n_d)
    sq = np.clip(rng.lognormal(6.8, 0.9, n_s), 50, 20000).astype(int)
    dq = np.clip(rng.lognormal(6.9, 0.9, n_d), 50, 30000).astype(int)
    # A site can ship or receive 1–2.5 times its average weekly rate in any one week.
    s_rate = np.ceil(sq / np.maximum(s_weeks, 1) * rng.uniform(1.0, 2.5, n_s)).astype(int)
    d_rate = np.ceil(dq / np.maximum(d_weeks, 1) * rng.uniform(1.0, 2.5, n_d)).astype(int)
    supplies = [
        {
            "id": f"S{i}",
            "lat": float(slat[i]),
            "lon": float(slon[i]),
            "quantity": int(sq[i]),
            "max_per_period": int(s_rate[i]),
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
            "max_per_period": int(d_rate[j]),
            "window": dw[j],
            "value": val,
            "max_haul_km": [None, 40, 50][d_haul[j]],
            "accepts": list(acc),
        }
        if "1" in acc and rng.random() < 0.3:
            dem["value_by"] = {"1": val + 400}
        demands.append(dem)
    ylat, ylon = _points(rng, n_yards, sigma_km=15)
    yards = [
        {
            "id": f"Y{y}",
            "lat": float(ylat[y]),
            "lon": float(ylon[y]),
            "capacity": int(rng.integers(5000, 40000)),
            "handling_cost": int(rng.integers(250, 1200)),
            "holding_cost_per_period": int(rng.integers(15, 80)),
            "window": ["2027-01-01", "2027-12-31"],
            "accepts": SOIL[:8] if rng.random() < 0.7 else SOIL[:5],
        }
        for y in range(n_yards)
    ]
    plat, plon = _points(rng, n_plants, sigma_km=15)
    plants = [
        {
            "id": f"P{p}",
            "lat": float(plat[p]),
            "lon": float(plon[p]),
            "capacity_per_period": int(rng.integers(800, 4000)),
            "cost_per_unit": int(rng.integers(1200, 2600)),
            "window": ["2027-01-01", "2027-12-31"],
            "converts": CONVERSIONS[p % len(CONVERSIONS)],
        }
        for p in range(n_plants)
    ]
    return {
        "version": 2,
        "material": "soil",
        "as_of": START.isoformat(),
        "horizon": {"start": START.isoformat(), "period_days": 7, "periods": weeks},
        "transport": {"road_factor": 1.3, "cost_per_unit_km": 90, "co2_kg_per_unit_km": 0.3},
        "carbon_price_per_kg": 0,
        "supplies": supplies,
        "demands": demands,
        "stockyards": yards,
        "plants": plants,
        "committed": [],
    }


def as_version_1(data: dict) -> dict:
    """The same listings as a version 1 instance: no horizon, limits, holding or plants."""
    v1 = {k: v for k, v in data.items() if k not in ("horizon", "plants", "committed")}
    v1["version"] = 1
    return v1


CASES = {
    "plan-200": lambda: planning_instance(200, 200, 4, 2),
    "plan-2k": lambda: planning_instance(2000, 2000, 20, 5),
    "plan-5k": lambda: planning_instance(5000, 5000, 50, 10),
}
DEFAULT = ["plan-200", "plan-2k", "plan-5k"]


def _volumes(res: dict, supply_total: float) -> tuple[float, float]:
    reused = sum(f["quantity"] for f in res["flows"])
    return reused, supply_total - reused


def run_child(case: str, compare: bool) -> dict:
    import matching

    data = CASES[case]()
    total = float(sum(s["quantity"] for s in data["supplies"]))
    t0 = time.perf_counter()
    inst = matching.load_instance(data)
    res = matching.solve(inst).to_dict()
    out = {
        "case": case,
        "seconds": time.perf_counter() - t0,
        "status": res["status"],
        "net_benefit": res["net_benefit"],
        "upper_bound": res["upper_bound"],
        "flows": len(res["flows"]),
        "via_yard": sum(f["quantity"] for f in res["flows"] if f["yard"]),
        "via_plant": sum(f["quantity"] for f in res["flows"] if f["plant"]),
        "stats": res["stats"],
        "supply_m3": total,
    }
    out["reused_m3"], out["landfilled_m3"] = _volumes(res, total)
    del res, inst
    if compare:
        t1 = time.perf_counter()
        v1 = matching.solve(matching.load_instance(as_version_1(data))).to_dict()
        out["v1"] = {
            "seconds": time.perf_counter() - t1,
            "status": v1["status"],
            "net_benefit": v1["net_benefit"],
        }
        out["v1"]["reused_m3"], out["v1"]["landfilled_m3"] = _volumes(v1, total)
        # The v1 plan scheduled week by week: only its own pairs, no plants.
        pairs = {(f["supply"], f["demand"]) for f in v1["flows"]}
        del v1
        restricted = dict(data, plants=[])
        inst = matching.load_instance(restricted)
        b = inst.base
        s_pos = {k: i for i, k in enumerate(b.supplies.ids)}
        d_pos = {k: j for j, k in enumerate(b.demands.ids)}
        nD = len(b.demands.ids)
        keep = np.array(sorted(s_pos[s] * nD + d_pos[d] for s, d in pairs), dtype=np.int64)
        every = np.arange(len(b.supplies.ids) * nD, dtype=np.int64)
        b.excluded_codes = np.setdiff1d(every, keep)  # benchmark only: all other pairs out
        t2 = time.perf_counter()
        sched = matching.solve(inst, explain=False).to_dict()
        out["v1_scheduled"] = {
            "seconds": time.perf_counter() - t2,
            "status": sched["status"],
            "net_benefit": sched["net_benefit"],
        }
        out["v1_scheduled"]["reused_m3"], out["v1_scheduled"]["landfilled_m3"] = _volumes(
            sched, total
        )
    return out


def run_case(case: str, timeout: float, max_gib: float, compare: bool) -> dict:
    import threading

    limit = int(max_gib * 2**30)

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    args = [sys.executable, __file__, "--child", case] + ([] if compare else ["--no-compare"])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, cwd=ROOT, preexec_fn=cap)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        why = f"killed after {timeout:.0f} s" if code == -9 else f"exit {code}"
        return {"case": case, "error": why, "peak_rss_mib": usage.ru_maxrss / 1024}
    res = json.loads(out)
    res["peak_rss_mib"] = usage.ru_maxrss / 1024
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="*", default=DEFAULT)
    ap.add_argument("--child")
    ap.add_argument("--no-compare", action="store_true", help="skip the version 1 comparison")
    ap.add_argument("--write-instance", nargs=2, metavar=("CASE", "PATH"))
    ap.add_argument("--json", help="also write all figures to this file")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per case")
    ap.add_argument("--max-gib", type=float, default=4.0, help="address-space cap per case")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, not args.no_compare)))
        return 0
    if args.write_instance:
        with open(args.write_instance[1], "w") as fh:
            json.dump(CASES[args.write_instance[0]](), fh)
        return 0
    print("load average (1, 5, 15 min) at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    rows = []
    print(
        "| case | status | wall s | peak RSS MiB | rounds | LP columns | routes | net benefit ¥ | gap to bound | reused m³ | via yard m³ | via plant m³ |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for case in args.cases:
        r = run_case(case, args.timeout, args.max_gib, not args.no_compare)
        rows.append(r)
        if "error" in r:
            print(
                f"| {case} | ERROR {r['error']} | | {r['peak_rss_mib']:.0f} | | | | | | | | |",
                flush=True,
            )
            continue
        st = r["stats"]
        gap = (r["upper_bound"] - r["net_benefit"]) / max(1.0, abs(r["upper_bound"]))
        print(
            f"| {case} | {r['status']} | {r['seconds']:.1f} | {r['peak_rss_mib']:.0f} | "
            f"{st.get('rounds')} | {st.get('lp_columns'):,} | {st.get('routes'):,} | "
            f"{r['net_benefit']:,.0f} | {gap:.1e} | {r['reused_m3']:,.0f} | "
            f"{r['via_yard']:,.0f} | {r['via_plant']:,.0f} |",
            flush=True,
        )
    if any("v1" in r for r in rows):
        print("\n| case | plan | status | s | net benefit ¥ | reused m³ | landfilled m³ |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            if "v1" not in r:
                continue
            for label, x in (
                ("v2 (planning over time)", r),
                ("v1 optimum (own model)", r["v1"]),
                ("v1 pairs, scheduled by week", r["v1_scheduled"]),
            ):
                print(
                    f"| {r['case']} | {label} | {x['status']} | {x['seconds']:.1f} | "
                    f"{x['net_benefit']:,.0f} | {x['reused_m3']:,.0f} | {x['landfilled_m3']:,.0f} |"
                )
    print("load average (1, 5, 15 min) at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
