"""Order jobs: open card payments re-read from Stripe (every 15 minutes) and the platform's
monthly fee statements (09:30 JST on the 1st)."""

from __future__ import annotations

from huey import crontab
from sqlalchemy.orm import Session

from market import tasks
from market.db import japan_today
from market.orders.reconcile import reconcile_card_payments
from market.orders.statements import issue_statements, previous_month


@tasks.periodic(crontab(minute="*/15"))
def card_payment_reconciliation(session: Session) -> None:
    reconcile_card_payments(session)


@tasks.periodic(crontab(day="1", hour="0", minute="30"))  # 09:30 JST on the 1st
def monthly_fee_statements(session: Session) -> None:
    issue_statements(session, previous_month(japan_today()))
