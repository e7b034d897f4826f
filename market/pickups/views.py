"""Pickup pages: the municipality opens slots and checks operators in; the operator books
a slot for an ordered item and checks in with the code. Parse → service → commit → render."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from market import db
from market.accounts.models import OrgKind
from market.accounts.queries import organisation_names
from market.errors import DomainError
from market.pickups import queries, services
from market.pickups.models import BookingStatus
from market.services import db_session

bp = Blueprint("pickups", __name__)


def _org():
    org = current_user.organisation
    if org is None:
        abort(404)
    return org


def _page(errors: dict | None = None, status: int = 200, form=None):
    s, org = db_session(), _org()
    now = db.japan_now()
    context = dict(
        errors=errors or {},
        form=form or {},
        now=now,
        status_label=services.status_label,
        BookingStatus=BookingStatus,
        slot_end=services.slot_end,
        slot_start=services.slot_start,
        reminder_state=services.reminder_state,
    )
    if org.kind == OrgKind.municipality:
        rates = queries.show_rates(s, org.id)
        names = organisation_names(s, rates)
        context.update(
            slots=queries.municipality_slots(s, org.id, now.date() - dt.timedelta(days=30)),
            items=queries.reuse_items(s, org.id),
            rates=sorted(((names.get(k, ""), v) for k, v in rates.items()), key=lambda r: r[0]),
        )
        return render_template("pickups/municipality.html", **context), status
    orders = queries.orders_to_book(s, org.id)
    context.update(
        orders=[(o, queries.open_slots_for(s, o, now.date())) for o in orders],
        bookings=queries.operator_bookings(s, org.id),
    )
    return render_template("pickups/operator.html", **context), status


def _refused(exc: DomainError, form=None):
    if exc.status == 404:
        raise exc
    db_session().rollback()
    return _page(
        getattr(exc, "errors", None) or {exc.field or "form": exc.message}, exc.status, form
    )


@bp.get("/pickups")
@login_required
def index():
    return _page()


@bp.post("/pickups/slots")
@login_required
def open_slot():
    s = db_session()
    try:
        slots = services.open_slots(s, current_user, request.form)
    except DomainError as exc:
        return _refused(exc, request.form)
    s.commit()
    if len(slots) == 1:
        flash(_("Pickup slot opened for %(date)s.", date=slots[0].slot_date.isoformat()), "success")
    else:
        flash(
            _(
                "%(n)s weekly pickup slots opened, %(first)s to %(last)s.",
                n=len(slots),
                first=slots[0].slot_date.isoformat(),
                last=slots[-1].slot_date.isoformat(),
            ),
            "success",
        )
    return redirect(url_for("pickups.index"))


def _change(work, done_message: str):
    """Run one write; commit and go back to the pickups page, or show the refusal there."""
    s = db_session()
    try:
        work(s)
    except DomainError as exc:
        return _refused(exc)
    s.commit()
    flash(done_message, "success")
    return redirect(url_for("pickups.index"))


@bp.post("/pickups/slots/<int:slot_id>/bookings")
@login_required
def book(slot_id: int):
    return _change(
        lambda s: services.book(s, current_user, slot_id, request.form.get("order_id")),
        _("Pickup booked. A reminder comes the day before."),
    )


@bp.post("/pickups/bookings/<int:booking_id>/check-in")
@login_required
def check_in(booking_id: int):
    return _change(
        lambda s: services.check_in(s, current_user, booking_id, request.form.get("code")),
        _("Checked in: the pickup is recorded."),
    )


@bp.post("/pickups/bookings/<int:booking_id>/no-show")
@login_required
def no_show(booking_id: int):
    return _change(
        lambda s: services.mark_no_show(
            s, current_user, booking_id, reason=request.form.get("reason")
        ),
        _("No-show recorded."),
    )


@bp.post("/pickups/bookings/<int:booking_id>/cancel")
@login_required
def cancel(booking_id: int):
    return _change(
        lambda s: services.cancel_booking(s, current_user, booking_id),
        _("Booking cancelled: the place is free again."),
    )
