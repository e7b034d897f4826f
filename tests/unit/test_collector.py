"""market.collector: threaded processes on CPython 3.11 must not run the cyclic collector inside
an allocation (the gunicorn --threads SIGSEGV), and must still free cyclic garbage."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEEDED = sys.version_info < (3, 12)


def _repro(*args: str) -> subprocess.CompletedProcess:
    # With faulthandler on, as the stack processes run; 8 threads: it crashed 8 of 8 times, unsafe.
    return subprocess.run(
        [
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "benchmarks.gc_crash_repro",
            "--child",
            "--case",
            "minimal",
            "--threads",
            "8",
            "--seconds",
            "2",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(not NEEDED, reason="Python 3.12+ collects only between bytecodes (gh-97922)")
def test_weakref_callbacks_on_cyclic_garbage_crash_the_interpreter_without_the_collector():
    # The hazard itself, so that the test below is known to be able to fail.
    assert _repro("--unsafe").returncode == -signal.SIGSEGV


def test_the_same_work_survives_with_the_collector_installed():
    done = _repro("--safe")
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"gc_enabled": %s' % ("false" if NEEDED else "true") in done.stdout


def test_cyclic_garbage_is_still_freed_at_the_end_of_a_unit_of_work():
    script = textwrap.dedent("""
        import gc, weakref
        from market import collector

        class Node:
            pass

        collector.install()
        node = Node()
        node.me = node
        alive = weakref.ref(node)
        del node
        for _ in range(gc.get_threshold()[0] + 1):
            Node()                      # allocations between collections, as in a request
            keep = [Node() for _ in range(3)]
            keep.append(keep)
            del keep
        assert collector.installed() == collector.NEEDED
        if collector.NEEDED:
            assert alive() is not None  # automatic collection is off...
        collector.collect_if_due()      # ...and the end of the request collects it
        assert alive() is None
        print("freed")
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "freed"
