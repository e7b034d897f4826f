"""Nationwide matching, phase by phase: CPU seconds of validation, solve (per region), the
explained result and (optionally) the greedy baseline, with peak RSS and load average.

    .venv/bin/python benchmarks/matching_bench.py --write-instance japan-100k /tmp/japan-100k.json
    .venv/bin/python benchmarks/matching_national.py /tmp/japan-100k.json [--greedy]

CPU seconds (process time) rather than wall time: on a shared machine they are what one
run can be compared by. Runs in this process; cap it yourself (e.g. `ulimit -v`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matching  # noqa: E402
from matching import column_lp, solver  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("instance")
    ap.add_argument("--greedy", action="store_true", help="also the greedy baseline")
    args = ap.parse_args()
    print(f"load average at start {os.getloadavg()} {time.strftime('%H:%M:%S')}", flush=True)
    w0 = time.perf_counter()
    t = time.process_time()
    with open(args.instance) as fh:
        inst = matching.load_instance(json.load(fh))
    print(f"validation {time.process_time() - t:.1f} s CPU", flush=True)
    t = time.process_time()
    plan = solver.solve_plan(inst)
    print(
        f"solve {time.process_time() - t:.1f} s CPU: {plan.status}, net {plan.net_benefit:,.0f}, "
        f"bound {plan.upper_bound:,.0f}, {plan.stats}",
        flush=True,
    )
    t = time.process_time()
    res = matching.build_result(inst, plan)
    print(
        f"explained result {time.process_time() - t:.1f} s CPU, {len(res.flows)} flows", flush=True
    )
    if args.greedy:
        t = time.process_time()
        g = column_lp.greedy_plan(inst)
        print(f"greedy {time.process_time() - t:.1f} s CPU, net {g.net_benefit:,.0f}", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"wall {time.perf_counter() - w0:.0f} s, peak RSS {rss:.0f} MiB, "
        f"load average at end {os.getloadavg()} {time.strftime('%H:%M:%S')}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
