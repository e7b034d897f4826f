"""Telling users. ``notify_users`` writes an in-app notification (the bell, the
notifications page, the API) and, when there is a body and the address is confirmed, a mail
sent after the commit; ``mail_users`` sends a mail only. Both word each message in the
user's own language. Marking read is one guarded UPDATE, so concurrent requests count each
notification once."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.config import LOCALES
from market.db import utcnow
from market.mail import send_later
from market.notifications.models import Notification


def notify_users(
    session: Session,
    users: Iterable[User],
    words: Callable[[User], tuple[str, str | None]],
    *,
    order_id: int | None = None,
    listing_id: int | None = None,
    saved_search_id: int | None = None,
) -> None:
    """Tell each user in their own language: an in-app notification linking the order or
    listing, and a mail when ``words`` gives a body and the address is confirmed.
    ``words(user)`` runs in the user's locale and returns (message, mail body or None)."""
    for user in users:
        with force_locale(user.locale or LOCALES[0]):
            message, body = words(user)
            session.add(
                Notification(
                    user_id=user.id,
                    order_id=order_id,
                    listing_id=listing_id,
                    saved_search_id=saved_search_id,
                    message=message[:300],
                )
            )
            if body is not None and user.mailable:
                send_later(
                    session, user.email, _("[Meguri] %(message)s", message=message)[:200], body
                )


def mail_users(
    session: Session, users: Iterable[User], words: Callable[[User], tuple[str, str]]
) -> int:
    """A mail to each user whose address is confirmed, worded in the user's language:
    ``words(user)`` runs in that locale and returns (subject, body). Returns how many."""
    sent = 0
    for user in users:
        if not user.mailable:
            continue
        with force_locale(user.locale or LOCALES[0]):
            subject, body = words(user)
            send_later(session, user.email, subject[:200], body)
        sent += 1
    return sent


def unread_count(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's unread notifications read (only ``ids`` when given) and return how
    many this call marked. One UPDATE guarded by ``read_at IS NULL``: of two requests racing
    over the same notes each is counted by exactly one of them."""
    statement = (
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    if ids is not None:
        statement = statement.where(Notification.id.in_(list(ids)))
    return session.execute(statement).rowcount
