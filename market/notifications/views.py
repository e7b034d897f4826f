"""The notifications page (the bell), order-mail settings and the notifications API."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from market.api.auth import token_required
from market.api.contract import answer, operation
from market.core.forms import parse_form
from market.core.writes import commit
from market.notifications import services
from market.notifications.forms import SettingsForm
from market.notifications.models import Notification
from market.notifications.schemas import Marked, MarkRead, NotificationsPage, NotificationsQuery
from market.services import db_session

bp = Blueprint("notifications", __name__)
api = Blueprint("notifications_api", __name__, url_prefix="/api/v1")


@bp.get("/notifications")
@login_required
def index():
    s = db_session()
    items = s.scalars(
        select(Notification)
        .where(Notification.user_id == current_user.id)
        .order_by(Notification.id.desc())
        .limit(200)
    ).all()
    page = render_template("notifications/index.html", items=items)
    commit(lambda s: services.mark_read(s, current_user))
    return page


@bp.post("/notifications/settings")
@login_required
def settings():
    """Order mails on or off for the signed-in member (in-app notifications stay on)."""
    form, _errors = parse_form(SettingsForm)  # one checkbox: on or off
    commit(lambda _s: setattr(current_user, "notify_order_mail", form.order_mail))
    flash(_("Order mails are on.") if current_user.notify_order_mail else _("Order mails are off."))
    return redirect(url_for("notifications.index"))


@bp.app_context_processor
def _unread():
    def unread_notifications() -> int:
        if not current_user.is_authenticated:
            return 0
        return services.unread_count(db_session(), current_user)

    return {"unread_notifications": unread_notifications}


def _notification_json(note: Notification) -> dict:
    def stamp(value):
        return (
            None
            if value is None
            else value.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
        )

    link = (
        url_for("orders.detail", order_id=note.order_id, _external=True)
        if note.order_id
        else url_for("catalog.detail", listing_id=note.listing_id, _external=True)
        if note.listing_id
        else None
    )
    return {
        "id": note.id,
        "message": note.message,
        "created_at": stamp(note.created_at),
        "read_at": stamp(note.read_at),
        "order_id": note.order_id,
        "listing_id": note.listing_id,
        "url": link,
    }


@api.get("/notifications")
@token_required
@operation(
    "Your notifications, newest first (order moves, saved-search matches)",
    query=NotificationsQuery,
    ok=(200, NotificationsPage),
)
def api_notifications(query: NotificationsQuery):
    """Your notifications, newest first (order moves, saved-search matches)."""
    page, per_page = query.page, query.per_page
    rows_query = select(Notification).where(Notification.user_id == g.api_user.id)
    if query.unread:
        rows_query = rows_query.where(Notification.read_at.is_(None))
    s = db_session()
    total = s.scalar(select(func.count()).select_from(rows_query.subquery()))
    rows = s.scalars(
        rows_query.order_by(Notification.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    items = [_notification_json(n) for n in rows]
    return answer(
        NotificationsPage, {"items": items, "total": total, "page": page, "per_page": per_page}
    )


@api.post("/notifications/read")
@token_required
@operation(
    "Mark notifications read: the ids given, or all of yours when ids is left out",
    body=MarkRead,
    ok=(200, Marked),
    errors=(400, 401, 422, 429),
)
def api_mark_notifications_read(body: MarkRead):
    """Mark notifications read: the ids given ({"ids": [..]}), or all of yours ({}). Each
    notification is counted by the one request that marked it, however many race."""
    ids = body.ids if "ids" in body.model_fields_set else None
    marked = commit(lambda s: services.mark_read(s, g.api_user, ids))
    return answer(Marked, {"marked": marked})
