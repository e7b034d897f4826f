"""Matching jobs: the nightly runs (every family over Kanto at 02:00 JST), a run solved
whole, or region by region and then merged."""

from __future__ import annotations

from huey import crontab
from sqlalchemy.orm import Session

from market import tasks
from market.allocation import runs


@tasks.periodic(crontab(hour="17", minute="0"))  # 02:00 JST in UTC
def nightly_matching(session: Session) -> None:
    runs.schedule_nightly(session)


@tasks.handler("matching_run")
def matching_run(session: Session, job, progress) -> dict:
    return runs.run_job(session, job, progress)


@tasks.handler(runs.REGION_JOB)
def matching_region(session: Session, job, progress) -> dict:
    return runs.region_job(session, job, progress)


@tasks.handler(runs.MERGE_JOB)
def matching_merge(session: Session, job, progress) -> dict:
    return runs.merge_job(session, job, progress)
