"""The nightly matching runs: every family over Kanto at 02:00 (Asia/Tokyo)."""

from __future__ import annotations

from huey import crontab

from market import tasks


@tasks.huey.periodic_task(crontab(hour="17", minute="0"))  # 02:00 JST in UTC
def nightly_matching() -> None:
    from market.allocation.services import schedule_nightly

    tasks.in_session(schedule_nightly)
