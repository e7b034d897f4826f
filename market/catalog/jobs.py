"""Periodic catalogue job: listings whose period has ended stop being offered."""

from __future__ import annotations

from huey import crontab

from market import tasks


@tasks.huey.periodic_task(crontab(hour="15", minute="5"))  # 00:05 JST
def listing_expiry() -> None:
    from market.catalog.services import expire_listings

    tasks.in_session(expire_listings)
