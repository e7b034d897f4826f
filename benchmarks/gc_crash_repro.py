"""Reproducer of the gunicorn --threads crash (SIGSEGV) on CPython 3.11, with and without
``market.collector`` (the fix). Each case runs in a child process; the parent reports how it ended.

    .venv/bin/python -m benchmarks.gc_crash_repro                  # both cases, unsafe then safe
    .venv/bin/python -m benchmarks.gc_crash_repro --case app --threads 4 --seconds 20 --unsafe \
        --database postgresql+psycopg://postgres@127.0.0.1:5432/<a database seeded by load_mix.seed>

``minimal``: twenty lines of plain Python, no library: objects in reference cycles, each with
a weakref whose callback sets attributes on a state object (as SQLAlchemy's
``InstanceState._cleanup`` does), while the code stores new attributes on those states (as
``Session.close`` does). On 3.11 a collection that starts inside such a store corrupts the
heap: with 8 threads it segfaulted in 0.2 s in every run here (how soon depends on the heap's
layout: 4 threads crash with faulthandler on, not always without). 3.12 does not (gh-97922).

``app``: the app itself, in process, ``--threads`` threads each requesting the listing browser
(``GET /listings``: ORM objects left in Jinja's context/macro cycles) through the Flask test
client, on a SQLite database seeded here (or ``--database``). Unsafe, 4 threads segfault within
a few seconds on 3.11; one thread does not.

"Safe" calls ``market.collector.install()`` (what gunicorn.conf.py and ``flask worker`` do) and
collects where the app does: at the end of each unit of work. Exit status 0 when every case
ended as expected (unsafe: crashed or survived, reported; safe: must survive).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class _State:
    """Stands for SQLAlchemy's InstanceState: a weakref to the loaded object whose callback
    sets attributes on the state."""

    def __init__(self, obj):
        self.obj = weakref.ref(obj, self._cleanup)
        self.key = id(obj)

    def _cleanup(self, _ref):
        self.session_id = self._strong_obj = None


class _Loaded:
    pass


def _unit_of_work() -> None:
    """Load objects that end in reference cycles, then detach their states (Session.close)."""
    states = []
    for _ in range(100):
        obj = _Loaded()
        obj.me = obj  # a reference cycle: only the collector frees it
        obj.state = _State(obj)
        states.append(obj.state)
    del obj
    for state in states:
        state.session_id = None
        state.extra = {}
        state._strong_obj = None


def minimal(threads: int, seconds: float, safe: bool) -> int:
    import gc
    import threading

    from market import collector

    if safe:
        collector.install()
    deadline = time.monotonic() + seconds
    done = [0]

    def work() -> None:
        while time.monotonic() < deadline:
            _unit_of_work()
            done[0] += 1
            collector.collect_if_due()  # where the app collects: the end of a request or job

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({"units": done[0], "gc_enabled": gc.isenabled()}))
    return 0


def app_case(threads: int, seconds: float, safe: bool, database: str | None) -> int:
    import logging
    import random
    import threading

    from benchmarks import load_mix
    from market import collector, create_app, migrate

    instance = Path(tempfile.mkdtemp(prefix="meguri-gc-repro-"))
    if database is None:
        database = f"sqlite:///{instance / 'meguri.db'}"
        migrate.upgrade(database)
        load_mix.seed(database, instance, 300, 1)
    app = create_app(
        {
            "DATABASE_URL": database,
            "INSTANCE_DIR": str(instance),
            "SECRET_KEY": "repro",
            "RATE_LIMITS": False,
            "LOG_FORMAT": "text",
        }
    )
    logging.getLogger("meguri.access").setLevel(logging.WARNING)
    if safe:
        collector.install()
    deadline = time.monotonic() + seconds
    statuses: list[int] = []

    def user(n: int) -> None:
        rng = random.Random(n)
        client = app.test_client()
        while time.monotonic() < deadline:
            kind = rng.choice(load_mix.KINDS)
            statuses.append(
                client.get(f"/listings?kind={kind}&page={rng.randint(1, 5)}").status_code
            )

    users = [threading.Thread(target=user, args=(n,)) for n in range(threads)]
    for u in users:
        u.start()
    for u in users:
        u.join()
    print(json.dumps({"requests": len(statuses), "not_200": sum(s != 200 for s in statuses)}))
    return 0 if all(s == 200 for s in statuses) else 1


def run_child(case: str, threads: int, seconds: float, safe: bool, database: str | None) -> dict:
    argv = [
        sys.executable,
        "-X",
        "faulthandler",
        "-m",
        "benchmarks.gc_crash_repro",
        "--child",
        "--case",
        case,
        "--threads",
        str(threads),
        "--seconds",
        str(seconds),
        "--safe" if safe else "--unsafe",
    ]
    if database:
        argv += ["--database", database]
    started = time.monotonic()
    done = subprocess.run(
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + 240,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    ended = (
        "SIGSEGV"
        if done.returncode == -signal.SIGSEGV
        else "ok"
        if done.returncode == 0
        else f"exit {done.returncode}"
    )
    return {
        "case": case,
        "threads": threads,
        "safe": safe,
        "python": sys.version.split()[0],
        "ended": ended,
        "after_s": round(time.monotonic() - started, 1),
        "output": (done.stdout.strip().splitlines() or [""])[-1],
        "stderr_tail": done.stderr[-600:] if done.returncode else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--case", choices=["minimal", "app", "both"], default="both")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument(
        "--database", default=None, help="an already seeded database (default: SQLite, seeded)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--safe", dest="modes", action="store_const", const=[True])
    mode.add_argument("--unsafe", dest="modes", action="store_const", const=[False])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    modes = args.modes or [False, True]
    if args.child:
        if args.case == "minimal":
            return minimal(args.threads, args.seconds, modes[0])
        return app_case(args.threads, args.seconds, modes[0], args.database)
    ok = True
    for case in ["minimal", "app"] if args.case == "both" else [args.case]:
        for safe in modes:
            result = run_child(case, args.threads, args.seconds, safe, args.database)
            print(json.dumps(result, ensure_ascii=False), flush=True)
            ok = ok and (result["ended"] == "ok" or not safe)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
