"""Periodic pickup jobs: reminders the day before (09:00 JST) and no-shows once a slot is over."""

from __future__ import annotations

from huey import crontab

from market import tasks


@tasks.huey.periodic_task(crontab(hour="0", minute="0"))  # 09:00 JST in UTC
def pickup_reminders() -> None:
    from market.pickups.services import send_reminders

    tasks.in_session(send_reminders)


@tasks.huey.periodic_task(crontab(minute="5"))  # hourly
def pickup_no_shows() -> None:
    from market.pickups.services import record_no_shows

    tasks.in_session(record_no_shows)
