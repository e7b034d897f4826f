"""The listing browser on four threads in one process (as one gunicorn --threads 4 worker
serves it) on PostgreSQL: with market.collector installed, as gunicorn.conf.py does, the process
survives. Without it, CPython 3.11 segfaulted within ~3 s in every run (benchmarks/gc_crash_repro.py)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from benchmarks import load_mix
from tests.conftest import PG_REASON, PG_URL
from tests.integration import stack

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason=PG_REASON),
]

SECONDS = 12


def test_listing_browser_on_four_threads_survives_with_the_collector():
    with stack.scratch_database(PG_URL, "threads") as url:
        load_mix.seed(url, Path(tempfile.mkdtemp(prefix="meguri-threads-")), 1000, 1)
        done = subprocess.run(
            [
                sys.executable,
                "-X",
                "faulthandler",
                "-m",
                "benchmarks.gc_crash_repro",
                "--child",
                "--case",
                "app",
                "--threads",
                "4",
                "--seconds",
                str(SECONDS),
                "--safe",
                "--database",
                url,
            ],
            cwd=stack.ROOT,
            capture_output=True,
            text=True,
            timeout=SECONDS + 120,
        )
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-3000:]}"
    assert '"not_200": 0' in done.stdout
