"""Background jobs: ids not objects, progress the UI reads, retries with backoff,
idempotent re-runs, and the Redis backend when one is available."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest

from market import tasks
from market.tasks import Job

ATTEMPTS: dict[str, int] = {}


@tasks.handler("flaky_test_job")
def _flaky(session, job, progress):
    ATTEMPTS[job.id] = ATTEMPTS.get(job.id, 0) + 1
    progress("halfway", 0.5)
    if ATTEMPTS[job.id] < job.params["succeed_on"]:
        raise RuntimeError("transient failure")
    return {"attempt": ATTEMPTS[job.id]}


@pytest.fixture
def queued_app(database_url, tmp_path):
    """An app whose jobs go to the SQLite queue instead of running inline."""
    from market import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path),
            "SECRET_KEY": "t",
            "JOBS_IMMEDIATE": False,
            "SECURE_COOKIES": False,
        }
    )
    yield app
    app.extensions["meguri.db"].dispose()


def _enqueue(app, succeed_on: int) -> str:
    with app.app_context():
        session = app.extensions["meguri.db"].session()
        job = tasks.enqueue(session, "flaky_test_job", {"succeed_on": succeed_on})
        session.commit()
        return job.id


def _job(app, job_id) -> Job:
    with app.app_context():
        session = app.extensions["meguri.db"].new_session()
        try:
            return session.get(Job, job_id)
        finally:
            session.close()


def _run_pending(app) -> None:
    huey = tasks.huey
    with app.app_context():
        while (task := huey.dequeue()) is not None:
            huey.execute(task)


def _run_due(app) -> None:
    """Run scheduled retries as if their delay had passed (a consumer does this by the clock)."""
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)
    with app.app_context():
        for task in tasks.huey.read_schedule(later):
            tasks.huey.execute(task, timestamp=later)


def test_job_is_sent_only_after_commit(queued_app):
    with queued_app.app_context():
        session = queued_app.extensions["meguri.db"].session()
        tasks.enqueue(session, "flaky_test_job", {"succeed_on": 1})
        session.rollback()
    assert tasks.huey.pending_count() == 0


def test_failing_job_is_retried_with_backoff_then_succeeds_once(queued_app):
    job_id = _enqueue(queued_app, succeed_on=2)
    assert tasks.huey.pending_count() == 1
    _run_pending(queued_app)
    job = _job(queued_app, job_id)
    assert (job.status, job.attempts, job.stage, job.progress) == ("queued", 1, "halfway", 0.5)
    assert "transient failure" in job.error
    # The retry waits: it sits in the schedule, due about BASE_DELAY seconds later.
    scheduled = tasks.huey.scheduled()
    assert len(scheduled) == 1
    assert scheduled[0].eta > dt.datetime.now(dt.UTC).replace(tzinfo=None)
    _run_due(queued_app)
    job = _job(queued_app, job_id)
    assert (job.status, job.attempts, job.result, job.error) == ("done", 2, {"attempt": 2}, None)
    # Running the same job id again does nothing: it is already done.
    with queued_app.app_context():
        tasks._run(queued_app, job_id)
    assert ATTEMPTS[job_id] == 2


def test_job_gives_up_after_max_attempts(queued_app, monkeypatch):
    monkeypatch.setattr(tasks, "MAX_ATTEMPTS", 2)
    job_id = _enqueue(queued_app, succeed_on=99)
    _run_pending(queued_app)
    _run_due(queued_app)
    job = _job(queued_app, job_id)
    assert (job.status, job.attempts) == ("failed", 2)
    assert job.finished_at is not None


def test_dedupe_key_does_not_queue_a_second_job(queued_app):
    with queued_app.app_context():
        session = queued_app.extensions["meguri.db"].session()
        first = tasks.enqueue(session, "flaky_test_job", {"succeed_on": 1}, dedupe_key="same")
        second = tasks.enqueue(session, "flaky_test_job", {"succeed_on": 1}, dedupe_key="same")
        session.commit()
    assert first.id == second.id
    assert tasks.huey.pending_count() == 1


def test_unknown_job_kind_is_refused(queued_app):
    with queued_app.app_context(), pytest.raises(KeyError):
        tasks.enqueue(queued_app.extensions["meguri.db"].session(), "no_such_job")


@pytest.mark.redis
def test_redis_backend_queues_jobs_for_any_worker(database_url, tmp_path):
    url = os.environ.get("MEGURI_TEST_REDIS_URL")
    if not url:
        pytest.skip("Redis tests need MEGURI_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    from huey import RedisHuey

    from market import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path),
            "SECRET_KEY": "t",
            "REDIS_URL": url,
            "SECURE_COOKIES": False,
        }
    )
    try:
        tasks.huey.flush()
        job_id = _enqueue(app, succeed_on=1)
        # A second process would see the same queue: read it through a separate client.
        other = RedisHuey("meguri", url=url)
        assert other.pending_count() == 1
        _run_pending(app)
        assert _job(app, job_id).status == "done"
        assert other.pending_count() == 0
    finally:
        tasks.huey.flush()
        app.extensions["meguri.db"].dispose()


def test_job_ids_are_uuids(queued_app):
    job_id = _enqueue(queued_app, succeed_on=1)
    assert uuid.UUID(job_id).hex == job_id


def _hold_write_lock(path, seconds: float):
    """Another process's connection holding the new queue file's write lock for a while,
    as a worker starting at the same moment does while it sets the file up."""
    import sqlite3
    import threading

    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release():
        holder.execute("COMMIT")
        holder.close()
        released.set()

    threading.Timer(seconds, release).start()
    return released


def test_queue_opens_while_another_worker_holds_the_new_file(tmp_path):
    # Unpatched huey fails here at once with "database is locked" (CI: gunicorn exited).
    path = tmp_path / "jobs.db"
    released = _hold_write_lock(str(path), 0.3)
    queue = tasks.sqlite_queue(path)
    try:
        assert released.is_set()  # it waited for the other worker instead of failing
        queue.storage.enqueue(b"job")
        assert queue.storage.dequeue() == b"job"
    finally:
        queue.storage.close()


def _start_queue(path: str, barrier) -> str | None:
    barrier.wait()
    try:
        for _ in range(3):
            queue = tasks.sqlite_queue(path)
            queue.storage.enqueue(b"job")
            queue.storage.close()
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        return repr(exc)
    return None


def test_many_processes_open_a_new_queue_at_once(tmp_path):
    import multiprocessing

    processes = 8
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(processes) as pool:
        for round_ in range(3):
            path = str(tmp_path / f"jobs-{round_}.db")
            barrier = manager.Barrier(processes)
            errors = [e for e in pool.starmap(_start_queue, [(path, barrier)] * processes) if e]
            assert errors == []
            assert tasks.sqlite_queue(path).storage.queue_size() == processes * 3


def test_the_worker_schedules_every_areas_periodic_jobs(app):
    """What ``flask worker`` runs on its clock: each area's periodic jobs, from its jobs.py,
    and nothing registered twice under another name."""
    assert tasks.periodic_jobs() == [
        "market.allocation.jobs.nightly_matching",
        "market.catalog.jobs.listing_expiry",
        "market.finder.jobs.saved_search_alerts",
        "market.finder.jobs.search_outbox_delivery",
        "market.orders.jobs.card_payment_reconciliation",
        "market.orders.jobs.monthly_fee_statements",
        "market.pickups.jobs.pickup_no_shows",
        "market.pickups.jobs.pickup_reminders",
    ]
    periodic = [f"{t.__module__}.{t.__name__}" for t in tasks.huey._registry._periodic_tasks]
    assert sorted(periodic) == tasks.periodic_jobs()
    for kind in ("mail", "thumbnail", "listing_import", "matching_run"):
        assert kind in tasks._HANDLERS
