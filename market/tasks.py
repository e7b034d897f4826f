"""Background jobs on huey: SQLite storage by default, Redis when MEGURI_REDIS_URL is set.

The one registry of jobs. Each area declares its jobs in its own ``jobs.py`` and only
there, in two forms: ``@periodic(crontab)`` for ``fn(session)`` run on a schedule, and
``@handler("kind")`` for ``fn(session, job, progress)``, the body of a queued job that
``enqueue`` sends. ``create_app`` imports every ``jobs.py``, which registers them.

Every job has a ``Job`` row (id, stage, progress, attempts) that the UI reads. Tasks
receive only the job id; they are idempotent (a finished job is not run again) and retry
with exponential backoff. Jobs are sent to the queue only after the request commits.

A worker killed mid-job (SIGKILL, lost machine) takes the dequeued task with it, so a
running job writes a heartbeat to its row; ``reap_stale`` (run by every ``flask worker``)
re-queues jobs whose heartbeat is older than MEGURI_JOB_STALE_SECONDS. ``_run`` locks the
row, refuses a job another live worker holds, and commits a result only while the row is
still its own attempt: however often a job is delivered, one attempt's result is kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import sqlite3
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app, has_app_context
from huey import RedisHuey, SqliteHuey
from huey.exceptions import RetryTask
from huey.storage import SqliteStorage
from sqlalchemy import JSON, DateTime, Float, String, Text, and_, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from market.db import Base, after_commit, utcnow

log = logging.getLogger(__name__)


class Job(Base):
    """A queued job's record: what the UI shows as its progress, and its claim."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4 hex
    kind: Mapped[str] = mapped_column(String(40), index=True)
    # A job with the same dedupe key while one is pending/running is not queued twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), index=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued running done failed
    stage: Mapped[str] = mapped_column(String(60), default="")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Written every few seconds while a worker runs the job; a stale one means the worker
    # died and the reaper (market.tasks.reap_stale) puts the job back in the queue.
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    worker: Mapped[str | None] = mapped_column(String(120))  # host:pid of the running worker


# The queue object must exist at import time for the decorators; ``configure`` points
# it at the app's storage. Immediate mode (tests, JOBS_IMMEDIATE) runs jobs inline.
huey = SqliteHuey("meguri", filename=":memory:", immediate=True)

MAX_ATTEMPTS = 5
BASE_DELAY = 2  # seconds; attempt n waits BASE_DELAY * 2**(n-1)


class SqliteQueue(SqliteStorage):
    """huey's SQLite storage, safe when any number of processes open the queue at once.

    Every connection huey opens first sets ``journal_mode=WAL``. While another process
    holds the file's write lock (switching a new file to WAL, creating the tables), SQLite
    answers that pragma with "database is locked" at once, without waiting out the busy
    timeout: gunicorn exited in CI when two workers started together. Here the pragma is
    tried again until the busy timeout has passed, like any other statement."""

    def _create_connection(self) -> sqlite3.Connection:
        deadline = time.monotonic() + self._timeout
        conn = sqlite3.connect(self.filename, timeout=self._timeout, **self._conn_kwargs)
        try:
            conn.isolation_level = None  # autocommit, as huey expects
            while True:
                try:
                    conn.execute(f'pragma journal_mode="{self._journal_mode}"')
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() >= deadline:
                        raise
                    time.sleep(0.01)
            if self._cache_mb:
                conn.execute(f"pragma cache_size={-1000 * self._cache_mb}")
            conn.execute(f"pragma synchronous={2 if self._fsync else 0}")
        except BaseException:
            conn.close()
            raise
        return conn


def sqlite_queue(path: Path, immediate: bool = False) -> SqliteHuey:
    """The embedded job queue in the file ``path`` (created on first use)."""
    return SqliteHuey("meguri", filename=str(path), immediate=immediate, storage_class=SqliteQueue)


_HANDLERS: dict[str, Callable[[Session, Job, Callable[[str, float], None]], dict | None]] = {}
_worker_app: Flask | None = None
_app_factory: Callable[[], Flask] | None = None


def configure(app: Flask, app_factory: Callable[[], Flask] | None = None) -> None:
    """Point the queue at the app's storage; ``app_factory`` makes the app a worker
    process runs jobs in when none is current (``create_app`` passes itself)."""
    global huey, _app_factory
    if app_factory is not None:
        _app_factory = app_factory
    immediate = bool(app.config["JOBS_IMMEDIATE"])
    if app.config.get("REDIS_URL"):
        target = RedisHuey("meguri", url=app.config["REDIS_URL"], immediate=immediate)
    else:
        path = Path(app.config["INSTANCE_DIR"]) / "jobs.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite_queue(path, immediate)
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
        if _app_factory is None:
            raise RuntimeError("tasks.configure(app, app_factory) was never called")
        _worker_app = _app_factory()
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


_PERIODIC: dict[str, object] = {}


def periodic(schedule):
    """Register ``fn(session)`` to run on ``schedule`` (a huey ``crontab``, in UTC) in a
    session of its own, committed when it returns. The task is named after the function's
    module and name (``market.<area>.jobs.<what>``)."""

    def register(fn):
        def run() -> None:
            in_session(fn)

        run.__module__, run.__name__, run.__qualname__ = fn.__module__, fn.__name__, fn.__name__
        _PERIODIC[f"{fn.__module__}.{fn.__name__}"] = huey.periodic_task(schedule)(run)
        return fn

    return register


def periodic_jobs() -> list[str]:
    """The names of every periodic job registered so far."""
    return sorted(_PERIODIC)


def handler(kind: str):
    """Register ``fn(session, job, progress)`` as the body of jobs of ``kind`` (a queued job
    with a ``Job`` row, sent by ``enqueue``)."""

    def register(fn):
        _HANDLERS[kind] = fn
        return fn

    return register


def enqueue(
    session: Session, kind: str, params: dict | None = None, dedupe_key: str | None = None
) -> Job:
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


def run_here(app: Flask, job_id: str) -> None:
    """Carry out a queued job in this process now, as a worker would (the demo loader's
    matching runs; a worker that later takes the same job finds it done)."""
    _run(app, job_id)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def _stale_after(app: Flask) -> dt.timedelta:
    return dt.timedelta(seconds=int(app.config["JOB_STALE_SECONDS"]))


def _locked_job(session: Session, job_id: str, lock: bool) -> Job | None:
    """The job row as it is now (not the session's cached copy), locked on PostgreSQL."""
    query = select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def _claim(session: Session, job_id: str, stale: dt.timedelta) -> int | None:
    """Take the job for this worker: the attempt number, or None when there is nothing to
    run. The claim is one conditional UPDATE on the state just read (status and attempts),
    so of two workers handed the same job at once (a re-queue racing a delivery) exactly
    one wins, on SQLite as on PostgreSQL."""
    job = session.scalars(
        select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    ).one_or_none()
    if job is None or job.status in ("done", "failed"):
        session.rollback()
        return None  # already handled: running a job twice changes nothing
    now = utcnow()
    if job.status == "running" and job.heartbeat_at is not None and now - job.heartbeat_at < stale:
        # Delivered twice (a re-queue raced a slow worker): the live worker finishes it.
        log.info("job %s is running on %s; not starting it again", job_id, job.worker)
        session.rollback()
        return None
    seen_status, seen_attempts = job.status, job.attempts
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == seen_status, Job.attempts == seen_attempts)
        .values(
            status="running",
            started_at=now,
            attempts=seen_attempts + 1,
            heartbeat_at=now,
            worker=worker_id(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if claimed != 1:
        log.info("job %s was taken by another worker; not starting it again", job_id)
        return None
    return seen_attempts + 1


class _Heartbeat:
    """Writes ``heartbeat_at`` every few seconds while this attempt still owns the job."""

    def __init__(self, db, job_id: str, attempt: int, interval: float):
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat,
            args=(db, job_id, attempt, interval),
            name=f"heartbeat-{job_id[:8]}",
            daemon=True,
        )
        self._thread.start()

    def _beat(self, db, job_id: str, attempt: int, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                with db.engine.begin() as conn:
                    conn.execute(
                        update(Job)
                        .where(Job.id == job_id, Job.attempts == attempt, Job.status == "running")
                        .values(heartbeat_at=utcnow())
                    )
            except Exception as exc:  # noqa: BLE001 - the database may be briefly away
                log.warning("job %s heartbeat failed: %s", job_id, exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _run(app: Flask, job_id: str) -> None:
    db = app.extensions["meguri.db"]
    lock = not db.is_sqlite
    stale = _stale_after(app)
    # A session of its own: inline jobs run inside the request's after-commit hook.
    session = db.new_session()
    beat: _Heartbeat | None = None
    try:
        attempt = _claim(session, job_id, stale)
        if attempt is None:
            return
        job = _locked_job(session, job_id, lock=False)  # no lock held while the job runs
        if not huey.immediate:
            beat = _Heartbeat(db, job_id, attempt, max(1.0, stale.total_seconds() / 4))

        def progress(stage: str, fraction: float) -> None:
            # A separate short transaction so the UI sees progress while the job runs.
            with db.engine.begin() as conn:
                conn.execute(
                    Job.__table__.update()
                    .where(Job.id == job_id)
                    .values(
                        stage=stage[:60],
                        progress=max(0.0, min(1.0, float(fraction))),
                        heartbeat_at=utcnow(),
                    )
                )

        def still_mine(job: Job | None) -> bool:
            if job is not None and job.status == "running" and job.attempts == attempt:
                return True
            # The reaper gave the job to another worker meanwhile: keep its result, not ours.
            log.warning("job %s attempt %s lost its claim; its work is discarded", job_id, attempt)
            session.rollback()
            return False

        try:
            result = _HANDLERS[job.kind](session, job, progress)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
            session.rollback()
            job = _locked_job(session, job_id, lock)
            if not still_mine(job):
                return
            job.error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
            log.warning(
                "job %s (%s) attempt %s failed: %s", job_id, job.kind, job.attempts, job.error
            )
            if job.attempts >= MAX_ATTEMPTS or huey.immediate:
                job.status, job.finished_at = "failed", utcnow()
                session.commit()
                return
            job.status = "queued"
            session.commit()
            raise RetryTask(delay=BASE_DELAY * 2 ** (job.attempts - 1)) from exc
        job = _locked_job(session, job_id, lock)
        if not still_mine(job):
            return
        # A finished job is at no stage of its work any more.
        job.status, job.stage, job.progress, job.finished_at = "done", "done", 1.0, utcnow()
        job.result = result
        job.error = None
        session.commit()
    finally:
        if beat is not None:
            beat.stop()
        session.close()


def reap_stale(app: Flask, limit: int = 100) -> list[str]:
    """Re-queue running jobs whose worker stopped sending heartbeats (killed, machine
    lost); fail those out of attempts. Safe to run on every worker at once."""
    db = app.extensions["meguri.db"]
    cutoff = utcnow() - _stale_after(app)
    session = db.new_session()
    requeued: list[str] = []
    try:
        query = (
            select(Job)
            .where(
                Job.status == "running",
                or_(
                    Job.heartbeat_at < cutoff,
                    and_(Job.heartbeat_at.is_(None), Job.started_at < cutoff),
                ),
            )
            .order_by(Job.id)
            .limit(limit)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        for job in session.scalars(query):
            job.error = f"worker {job.worker or '?'} stopped sending heartbeats"
            log.warning("job %s (%s): %s; attempt %s", job.id, job.kind, job.error, job.attempts)
            if job.attempts >= MAX_ATTEMPTS:
                job.status, job.finished_at = "failed", utcnow()
                continue
            job.status, job.stage, job.heartbeat_at = "queued", "requeued", None
            requeued.append(job.id)
        session.commit()
    finally:
        session.close()
    for job_id in requeued:
        run_job(job_id)
    return requeued


def run_worker(app: Flask, workers: int = 2) -> None:
    """Run the consumer in this process (``flask worker``), and the reaper beside it."""
    global _worker_app
    _worker_app = app
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True)
    stop = threading.Event()
    interval = min(60.0, max(1.0, _stale_after(app).total_seconds() / 3))

    def reap_forever() -> None:
        while not stop.wait(interval):
            try:
                reap_stale(app)
            except Exception:  # noqa: BLE001 - the database may be briefly away; try again later
                log.exception("job reaper failed")

    reaper = threading.Thread(target=reap_forever, name="job-reaper", daemon=True)
    reaper.start()
    try:
        consumer.run()
    finally:
        stop.set()
