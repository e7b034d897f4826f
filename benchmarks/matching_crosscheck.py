"""Cross-check the optimiser against the independent checker on many instances.

    .venv/bin/python benchmarks/matching_crosscheck.py            # 400 random + generated
    .venv/bin/python benchmarks/matching_crosscheck.py --random 50

Each instance is solved, written to JSON and read back, then checked by `matching.check`
(no code shared with the solver): feasibility, every figure per flow, and, where the
instance has at most 250,000 allowed routes, the checker's own LP optimum. Exits non-zero
if any result is not optimal, not clean, or off the checker's optimum by more than 1e-6.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "unit", "matching"))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import matching_bench as generated  # noqa: E402
from matching_helpers import random_instance  # noqa: E402

import matching  # noqa: E402


def random_cases(count: int):
    for seed in range(count):
        rng = random.Random(seed)
        kind = rng.choice(["plain", "plain", "partners", "yards", "blend", "fractional"])
        n_s, n_d = rng.randint(1, 120), rng.randint(1, 120)
        data = random_instance(
            seed + 1000,
            n_s=n_s,
            n_d=n_d,
            yards=3 if kind == "yards" else 0,
            blend=kind == "blend",
            partners=kind == "partners",
            fractional=kind == "fractional",
        )
        if kind != "fractional" and rng.random() < 0.3:  # tiny and huge lots
            for s in data["supplies"]:
                s["quantity"] = rng.choice([1, 2, 5, 100_000, 250_000])
        yield f"random-{seed} ({kind}, {n_s}×{n_d})", data


def generated_cases():
    for seed in (2, 3, 4):
        yield f"soil 300×300 seed {seed}", generated.soil_instance(300, 300, seed=seed)
    for seed in (2, 3):
        yield f"recycled 300×300 seed {seed}", generated.recycled_instance(300, 300, seed=seed)
        yield f"reuse 2000×60 seed {seed}", generated.reuse_instance(2000, 60, seed=seed)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--random", type=int, default=400, help="random instances")
    args = ap.parse_args()
    started = time.perf_counter()
    checked = with_lp = 0
    failures = []
    for name, data in [*random_cases(args.random), *generated_cases()]:
        result = matching.solve(matching.load_instance(data))
        report = matching.check(data, json.loads(json.dumps(result.to_dict())))
        lp = report.lp_optimum
        checked += 1
        with_lp += lp is not None
        off = lp is not None and abs(result.net_benefit - lp) > 1e-6 * max(1.0, abs(lp))
        if result.status != "optimal" or not report.ok or off:
            failures.append(
                f"{name}: status {result.status}, net {result.net_benefit}, "
                f"checker LP {lp}, errors {report.errors[:3]}"
            )
    for line in failures:
        print("FAIL", line)
    print(
        f"{checked} instances ({with_lp} with the checker's own LP optimum), "
        f"{len(failures)} failed, {time.perf_counter() - started:.1f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
