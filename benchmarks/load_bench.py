"""Load benchmark of the whole stack on loopback: gunicorn + 2 job workers on a scratch
PostgreSQL database and a Redis server of its own, seeded with demo listings and indexed;
then one user, then N users (think time 0.5–1.5 s) on the browse / search API / order mix.

    .venv/bin/python -m benchmarks.load_bench --listings 3000 --seconds 60 --users 50

Needs PostgreSQL (MEGURI_TEST_DATABASE_URL, default the local `test` database: a scratch
database beside it is created and dropped) and redis-server on the PATH. Prints a JSON
summary per phase and writes it to --out. The figures are in docs/benchmarks.md ("Load").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import load_mix
from tests.integration import stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "MEGURI_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--listings", type=int, default=3000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(0.5, 1.5),
        metavar=("MIN", "MAX"),
        help="think time of the N users, seconds (0.1 0.5: an overload on 2 cores)",
    )
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--job-workers", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/out/load.json")
    args = parser.parse_args(argv)

    instance = Path(tempfile.mkdtemp(prefix="meguri-load-"))
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "listings": args.listings,
        "web": f"gunicorn -w {args.web_workers} --threads {args.threads}",
        "job_workers": args.job_workers,
    }
    with (
        stack.scratch_database(args.database, "loadbench") as url,
        stack.redis_server(instance) as redis_url,
    ):
        t0 = time.monotonic()
        seeded = load_mix.seed(url, instance, args.listings, args.users)
        print(f"seeded {args.listings} listings in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        with stack.stack(url, instance, redis_url, MEGURI_RATE_LIMITS="0") as running:
            running.flask("search", "reindex")
            running.start_web(workers=args.web_workers, threads=args.threads)
            for i in range(args.job_workers):
                running.start_worker(f"worker-{i}")
            load_mix.warm_up(running.port, seeded)
            for users, think in ((1, (0.05, 0.15)), (args.users, tuple(args.think))):
                load_avg = os.getloadavg()[0]
                phase = load_mix.run_phase(
                    running.port, seeded, users=users, seconds=args.seconds, think=think
                )
                summary = {
                    **phase.summary(),
                    "think_s": list(think),
                    "load_avg_before": round(load_avg, 2),
                }
                results[f"users_{users}"] = summary
                print(json.dumps(summary, ensure_ascii=False))
            crashes = [
                line
                for p in running.processes
                for line in p.log.read_text(errors="replace").splitlines()
                if "SIGSEGV" in line or "Fatal Python error" in line
            ]
            results["crashes"] = crashes
            if crashes:
                print(f"{len(crashes)} crash lines; logs in {instance}", file=sys.stderr)
    one, many = results["users_1"], results[f"users_{args.users}"]
    results["p95_ratio"] = round(many["p95_ms"] / one["p95_ms"], 2)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(f"p95 ratio {results['p95_ratio']} (target ≤ 3); written to {out}")
    return 0 if many["errors"] == 0 and not results["crashes"] and results["p95_ratio"] <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
