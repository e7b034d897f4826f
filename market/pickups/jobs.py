"""Pickup jobs: reminders the day before (09:00 JST) and no-shows once a slot is over."""

from __future__ import annotations

from huey import crontab
from sqlalchemy.orm import Session

from market import tasks
from market.pickups.services import record_no_shows, send_reminders


@tasks.periodic(crontab(hour="0", minute="0"))  # 09:00 JST in UTC
def pickup_reminders(session: Session) -> None:
    send_reminders(session)


@tasks.periodic(crontab(minute="5"))  # hourly
def pickup_no_shows(session: Session) -> None:
    record_no_shows(session)
