"""Cyclic garbage collection only between requests and jobs, in threaded processes on CPython 3.11.

Up to 3.11, the collector runs inside whichever allocation crosses its threshold, in any
thread, and calls weakref callbacks there. SQLAlchemy puts a weakref callback on every
loaded object (``InstanceState._cleanup``, which sets attributes on the state), and a
rendered page leaves its objects in reference cycles (a Jinja context and its macros) until
the collector finds them. A collection that starts while a C-level attribute store on such
a state is half done corrupts the heap, and the process dies of SIGSEGV later, anywhere: the
gunicorn ``--threads 4`` crashes of docs/benchmarks.md ("Load"). ``benchmarks/gc_crash_repro.py``
shows it in twenty lines of plain Python and in the app. Python 3.12 runs the collector only
between bytecodes (gh-97922), so the crash cannot happen there; this module does the same by
hand: automatic collection off, and the generations that are due collected at the end of each
request and each job (the app context's teardown), where the thread holds no half-done
operation. gunicorn.conf.py installs it in every web worker, ``flask worker`` in job workers;
tests and one-off commands keep the interpreter's own collector.
"""

from __future__ import annotations

import gc
import sys

# 3.12+ collects only between bytecodes already; nothing to do there.
NEEDED = sys.version_info < (3, 12)
_installed = False


def install() -> None:
    """Collect at safe points only, from now on in this process (web and job workers).

    Objects alive now (modules, the app, its caches) are frozen out of the collector's
    generations, so the full collections this module runs do not walk them each time."""
    global _installed
    if not NEEDED or _installed:
        return
    gc.disable()
    gc.freeze()
    _installed = True


def installed() -> bool:
    return _installed


def collect_if_due() -> int:
    """Collect the oldest generation whose count is over its threshold, as CPython's own
    trigger would have done during the request; 0 when nothing is due or not installed."""
    if not _installed:
        return 0
    counts, thresholds = gc.get_count(), gc.get_threshold()
    if thresholds[0] == 0 or counts[0] < thresholds[0]:
        return 0
    generation = 0
    for older in (1, 2):
        if counts[older] >= thresholds[older]:
            generation = older
    return gc.collect(generation)
