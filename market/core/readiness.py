"""What ``/readyz`` checks besides the database: name → a call that raises when that part
is not ready. Each part registers its own check where it is made (the job queue here, the
search index in ``finder/index.py``), so the readiness page imports none of them."""

from __future__ import annotations

from collections.abc import Callable

from market import tasks

CHECKS: dict[str, Callable[[], object]] = {}


def check(name: str):
    """Register ``fn()`` as the readiness check called ``name``."""

    def register(fn: Callable[[], object]) -> Callable[[], object]:
        CHECKS[name] = fn
        return fn

    return register


@check("queue")
def _queue() -> None:
    tasks.huey.storage.queue_size()
