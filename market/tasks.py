"""Background jobs on huey: SQLite storage by default, Redis when MEGURI_REDIS_URL is set.

Every job has a ``Job`` row (id, stage, progress, attempts) that the UI reads. Tasks
receive only the job id; they are idempotent (a finished job is not run again) and retry
with exponential backoff. Jobs are sent to the queue only after the request commits.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app, has_app_context
from huey import (  # noqa: F401 - crontab re-exported for periodic tasks
    RedisHuey,
    SqliteHuey,
    crontab,
)
from huey.exceptions import RetryTask
from sqlalchemy import select
from sqlalchemy.orm import Session

from market.core.models import Job
from market.db import after_commit, utcnow

log = logging.getLogger(__name__)

# The queue object must exist at import time for the decorators; ``configure`` points
# it at the app's storage. Immediate mode (tests, JOBS_IMMEDIATE) runs jobs inline.
huey = SqliteHuey("meguri", filename=":memory:", immediate=True)

MAX_ATTEMPTS = 5
BASE_DELAY = 2  # seconds; attempt n waits BASE_DELAY * 2**(n-1)

_HANDLERS: dict[str, Callable[[Session, Job, Callable[[str, float], None]], dict | None]] = {}
_worker_app: Flask | None = None


def crontab_every_minute():
    return crontab(minute="*")


def configure(app: Flask) -> None:
    global huey
    immediate = bool(app.config["JOBS_IMMEDIATE"])
    if app.config.get("REDIS_URL"):
        target = RedisHuey("meguri", url=app.config["REDIS_URL"], immediate=immediate)
    else:
        path = Path(app.config["INSTANCE_DIR"]) / "jobs.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        target = SqliteHuey("meguri", filename=str(path), immediate=immediate)
    # Keep the registered tasks; swap only storage and mode.
    huey.storage = target.storage
    huey.immediate_use_memory = True
    huey._immediate = immediate
    if immediate:
        huey.storage = huey.create_storage()
    app.extensions["meguri.huey"] = huey


def _app() -> Flask:
    """The app a job runs in: the current one inline, or one made once per worker process."""
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from market import create_app

        _worker_app = create_app()
    return _worker_app


def in_app(work: Callable[[Flask], object]) -> object:
    """Run ``work(app)`` inside an app context: the caller's when there is one (inline
    mode — pushing another would tear down the caller's session), else the worker's."""
    if has_app_context():
        return work(current_app._get_current_object())
    app = _app()
    with app.app_context():
        return work(app)


def in_session(work: Callable[[Session], object]) -> object:
    """Run ``work(session)`` in a session of its own and commit it (periodic tasks)."""

    def run(app: Flask):
        session = app.extensions["meguri.db"].new_session()
        try:
            result = work(session)
            session.commit()
            return result
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()

    return in_app(run)


def handler(kind: str):
    """Register ``fn(session, job, progress)`` as the body of jobs of ``kind``."""

    def register(fn):
        _HANDLERS[kind] = fn
        return fn

    return register


def enqueue(session: Session, kind: str, params: dict | None = None, dedupe_key: str | None = None) -> Job:
    """Create a job row now; send it to the queue when the session commits."""
    if kind not in _HANDLERS:
        raise KeyError(f"unknown job kind {kind!r}")
    if dedupe_key:
        existing = session.scalar(
            select(Job).where(Job.dedupe_key == dedupe_key, Job.status.in_(("queued", "running")))
        )
        if existing is not None:
            return existing
    job = Job(id=uuid.uuid4().hex, kind=kind, params=params or {}, dedupe_key=dedupe_key)
    session.add(job)
    session.flush()
    after_commit(session, lambda job_id=job.id: run_job(job_id))
    return job


@huey.task(retries=0)
def run_job(job_id: str) -> None:
    in_app(lambda app: _run(app, job_id))


def _run(app: Flask, job_id: str) -> None:
    db = app.extensions["meguri.db"]
    # A session of its own: inline jobs run inside the request's after-commit hook.
    session = db.new_session()
    try:
        job = session.get(Job, job_id, with_for_update=not db.is_sqlite)
        if job is None or job.status in ("done", "failed"):
            return  # already handled: running a job twice changes nothing
        job.status, job.started_at, job.attempts = "running", utcnow(), job.attempts + 1
        session.commit()

        def progress(stage: str, fraction: float) -> None:
            # A separate short transaction so the UI sees progress while the job runs.
            with db.engine.begin() as conn:
                conn.execute(
                    Job.__table__.update().where(Job.id == job_id).values(
                        stage=stage[:60], progress=max(0.0, min(1.0, float(fraction)))
                    )
                )

        try:
            result = _HANDLERS[job.kind](session, job, progress)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
            session.rollback()
            job = session.get(Job, job_id)
            job.error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
            log.warning("job %s (%s) attempt %s failed: %s", job_id, job.kind, job.attempts, job.error)
            if job.attempts >= MAX_ATTEMPTS or huey.immediate:
                job.status, job.finished_at = "failed", utcnow()
                session.commit()
                return
            job.status = "queued"
            session.commit()
            raise RetryTask(delay=BASE_DELAY * 2 ** (job.attempts - 1)) from exc
        job = session.get(Job, job_id)
        job.status, job.progress, job.finished_at = "done", 1.0, utcnow()
        job.stage = job.stage or "done"
        job.result = result
        job.error = None
        session.commit()
    finally:
        session.close()


def run_worker(app: Flask, workers: int = 2) -> None:
    """Run the consumer in this process (``flask worker``)."""
    global _worker_app
    _worker_app = app
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True)
    consumer.run()
