"""Pickup pages: the municipality opens slots and checks operators in; the operator books
a slot for an ordered item and checks in with the code. Parse → service → commit → render."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from market import db
from market.accounts.models import OrgKind
from market.accounts.queries import organisation_names
from market.core.forms import Form, form_values
from market.core.writes import submit
from market.pickups import queries, services
from market.pickups.forms import BookingForm, CheckInForm, NoShowForm, SlotForm
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


@bp.get("/pickups")
@login_required
def index():
    return _page()


@bp.post("/pickups/slots")
@login_required
def open_slot():
    done = submit(SlotForm, lambda s, form: services.open_slots(s, current_user, form.sent()))
    if not done.ok:
        return _page(done.errors, done.status, form_values(SlotForm))
    slots = done.result
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


def _change(form: type[Form], work, done_message: str):
    """Run one write; commit and go back to the pickups page, or show the refusal there."""
    done = submit(form, work)
    if not done.ok:
        return _page(done.errors, done.status)
    flash(done_message, "success")
    return redirect(url_for("pickups.index"))


@bp.post("/pickups/slots/<int:slot_id>/bookings")
@login_required
def book(slot_id: int):
    return _change(
        BookingForm,
        lambda s, form: services.book(s, current_user, slot_id, form.order_id),
        _("Pickup booked. A reminder comes the day before."),
    )


@bp.post("/pickups/bookings/<int:booking_id>/check-in")
@login_required
def check_in(booking_id: int):
    return _change(
        CheckInForm,
        lambda s, form: services.check_in(s, current_user, booking_id, form.code),
        _("Checked in: the pickup is recorded."),
    )


@bp.post("/pickups/bookings/<int:booking_id>/no-show")
@login_required
def no_show(booking_id: int):
    return _change(
        NoShowForm,
        lambda s, form: services.mark_no_show(s, current_user, booking_id, reason=form.reason),
        _("No-show recorded."),
    )


@bp.post("/pickups/bookings/<int:booking_id>/cancel")
@login_required
def cancel(booking_id: int):
    return _change(
        Form,
        lambda s, _form: services.cancel_booking(s, current_user, booking_id),
        _("Booking cancelled: the place is free again."),
    )
