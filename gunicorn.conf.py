"""gunicorn settings read from the working directory (or ``-c gunicorn.conf.py``).

Command-line options (workers, threads, bind, timeouts) stay on the command line, as in
docs/operations.md; this file only holds the hooks every worker needs."""

import os


def post_worker_init(worker):
    # Requests run on several threads (--threads): collect garbage only between requests,
    # never inside an allocation in the middle of another thread's work (market/collector.py).
    from market import collector

    collector.install()
    _warm_search(worker)


def _warm_search(worker):
    """The embedded search engine loads its columns and common words' ids in a thread
    as the worker starts (30-45 s at a million listings) instead of on its first search;
    searches meanwhile run as one SQL statement (docs/search.md). MEGURI_SEARCH_WARM=0
    turns it off (then the first search loads them)."""
    if os.environ.get("MEGURI_SEARCH_WARM", "1") == "0":
        return
    extensions = getattr(getattr(worker, "wsgi", None), "extensions", {})
    index = extensions.get("meguri.search")
    if index is not None:
        index.warm()
