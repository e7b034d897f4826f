"""Job recovery in process (SQLite and PostgreSQL): the reaper re-queues a job whose worker
stopped sending heartbeats, a second delivery of a job a live worker holds is refused, and
an attempt that lost its claim keeps nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from market import tasks
from market.db import utcnow
from market.tasks import Job

RUNS: list[str] = []


@tasks.handler("recovery_test_job")
def _count(session, job, progress):
    RUNS.append(job.id)
    progress("working", 0.5)
    return {"run": len(RUNS)}


@pytest.fixture
def queued_app(database_url, tmp_path):
    from market import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path),
            "SECRET_KEY": "t",
            "JOBS_IMMEDIATE": False,
            "SECURE_COOKIES": False,
            "JOB_STALE_SECONDS": 30,
            "LOG_FORMAT": "text",
        }
    )
    RUNS.clear()
    yield app
    app.extensions["meguri.db"].dispose()


def _job_in_state(app, status: str, heartbeat_age_s: float | None, attempts: int = 1) -> str:
    with app.app_context():
        session = app.extensions["meguri.db"].new_session()
        job = tasks.enqueue(session, "recovery_test_job")
        job.status, job.attempts, job.worker = status, attempts, "elsewhere:1"
        job.started_at = utcnow() - dt.timedelta(seconds=300)
        job.heartbeat_at = (
            None if heartbeat_age_s is None else utcnow() - dt.timedelta(seconds=heartbeat_age_s)
        )
        session.info.pop("meguri_after_commit", None)  # not sent: as if a worker had taken it
        session.commit()
        session.close()
        return job.id


def _job(app, job_id) -> Job:
    session = app.extensions["meguri.db"].new_session()
    try:
        return session.get(Job, job_id)
    finally:
        session.close()


def _drain(app) -> None:
    with app.app_context():
        for _ in range(20):
            task = tasks.huey.dequeue()
            if task is None:
                return
            tasks.huey.execute(task)


def test_reaper_requeues_a_job_whose_worker_died_and_it_runs_once(queued_app):
    dead = _job_in_state(queued_app, "running", heartbeat_age_s=120)
    alive = _job_in_state(queued_app, "running", heartbeat_age_s=2)
    assert tasks.reap_stale(queued_app) == [dead]
    _drain(queued_app)
    job = _job(queued_app, dead)
    assert (job.status, job.attempts, RUNS) == ("done", 2, [dead])
    assert job.worker == tasks.worker_id()
    assert _job(queued_app, alive).status == "running"  # a live worker's job is left alone
    assert tasks.reap_stale(queued_app) == []


def test_a_job_out_of_attempts_is_failed_not_requeued(queued_app):
    job_id = _job_in_state(queued_app, "running", heartbeat_age_s=None, attempts=tasks.MAX_ATTEMPTS)
    assert tasks.reap_stale(queued_app) == []
    job = _job(queued_app, job_id)
    assert job.status == "failed" and "heartbeat" in job.error
    assert not RUNS


def test_a_second_delivery_of_a_job_a_live_worker_holds_is_refused(queued_app):
    job_id = _job_in_state(queued_app, "running", heartbeat_age_s=1)
    with queued_app.app_context():
        tasks._run(queued_app, job_id)
    assert not RUNS
    assert _job(queued_app, job_id).attempts == 1


def test_an_attempt_that_lost_its_claim_keeps_nothing(queued_app, monkeypatch):
    job_id = _job_in_state(queued_app, "queued", heartbeat_age_s=None, attempts=0)

    def slow_then_overtaken(session, job, progress):
        RUNS.append(job.id)
        # Meanwhile the reaper gave the job to another worker, which started attempt 2.
        with queued_app.extensions["meguri.db"].engine.begin() as conn:
            conn.execute(Job.__table__.update().where(Job.id == job_id).values(attempts=2))
        return {"stale": True}

    monkeypatch.setitem(tasks._HANDLERS, "recovery_test_job", slow_then_overtaken)
    with queued_app.app_context():
        tasks._run(queued_app, job_id)
    job = _job(queued_app, job_id)
    assert RUNS.copy() == [job_id]
    assert job.status == "running" and job.result is None  # attempt 1's result was discarded


def test_two_workers_delivered_the_same_job_at_once_run_it_once(queued_app):
    """A re-queue racing a delivery hands one job to two workers at the same moment: the
    claim is one conditional UPDATE, so exactly one of them runs the handler."""
    import threading

    jobs = [_job_in_state(queued_app, "queued", heartbeat_age_s=None, attempts=0) for _ in range(8)]
    errors: list[BaseException] = []
    for job_id in jobs:
        start = threading.Barrier(2)

        def deliver(job_id=job_id, start=start):
            try:
                start.wait()
                with queued_app.app_context():
                    tasks._run(queued_app, job_id)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert sorted(RUNS) == sorted(jobs)  # each job ran once, none twice
    assert {(_job(queued_app, j).status, _job(queued_app, j).attempts) for j in jobs} == {
        ("done", 1)
    }
