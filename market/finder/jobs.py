"""Search jobs: saved-search alerts (every 5 minutes) and the index outbox delivered again
every minute (entries that failed, or whose after-commit delivery was lost)."""

from __future__ import annotations

from huey import crontab
from sqlalchemy.orm import Session

from market import tasks
from market.finder import index
from market.finder.services import alert_saved_searches


@tasks.periodic(crontab(minute="*/5"))
def saved_search_alerts(session: Session) -> None:
    alert_saved_searches(session)


@tasks.periodic(crontab(minute="*"))
def search_outbox_delivery(_session: Session) -> None:
    index.deliver_soon()
