"""gunicorn settings read from the working directory (or ``-c gunicorn.conf.py``).

Command-line options (workers, threads, bind, timeouts) stay on the command line, as in
docs/operations.md; this file only holds the hook every worker needs."""


def post_worker_init(worker):
    # Requests run on several threads (--threads): collect garbage only between requests,
    # never inside an allocation in the middle of another thread's work (market/collector.py).
    from market import collector

    collector.install()
