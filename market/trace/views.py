"""Trace pages: an order's loads, check sheet and receipts; the ticket with its QR code;
the confirm page the QR code opens (/t/<token>); voiding; printable receipts; CSV exports;
and the read-only JSON API for tickets. Each view: parse → service → commit once → render."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

import payments
from market.api.auth import token_required
from market.api.contract import answer, operation
from market.catalog.models import Listing, ListingKind
from market.core.forms import Form, form_values
from market.core.writes import submit
from market.errors import DomainError, NotFound
from market.orders.models import Order
from market.services import db_session
from market.trace import (
    amendments,
    documents,
    plans,
    queries,
    receipts,
    services,
    sheets,
)
from market.trace.forms import AmendForm, ConfirmForm, ReceiptForm, SheetForm, TicketForm, VoidForm
from market.trace.models import ContaminationStatus, PermitBasis, TicketStatus
from market.trace.schemas import OrderTickets, OrderTicketsQuery, Ticket, TicketPage, TicketsQuery

bp = Blueprint("trace", __name__)
api = Blueprint("trace_api", __name__, url_prefix="/api/v1")

PERMIT_LABELS = {
    PermitBasis.moritsuchi_permit: _l("Permit under the Embankment Regulation Act"),
    PermitBasis.ordinance_permit: _l("Permit under a local ordinance"),
    PermitBasis.no_permit_needed: _l("No permit needed"),
}
CONTAMINATION_LABELS = {
    ContaminationStatus.not_required: _l("No procedure required"),
    ContaminationStatus.investigated_clean: _l("Investigated: within standards"),
    ContaminationStatus.notified: _l("Notified (Art. 4), no order"),
    ContaminationStatus.designated_area: _l("Designated area: procedure done"),
}
TICKET_STATUS_LABELS = {
    TicketStatus.issued: _l("On the way"),
    TicketStatus.confirmed: _l("Confirmed"),
    TicketStatus.void: _l("Void"),
}
FIELD_LABELS = {
    "vehicle_reg_no": _l("Vehicle registration"),
    "driver_name": _l("Driver"),
    "time_out": _l("Time out"),
    "time_in": _l("Time in"),
    "discrepancy_note": _l("Discrepancy"),
    "origin_name": _l("Origin site"),
    "origin_address": _l("Origin address"),
    "permit_authority": _l("Permit issued by"),
    "permit_no": _l("Permit number"),
    "permit_basis": _l("Lawful on the basis of"),
    "contamination_status": _l("Soil-contamination procedure"),
    "note": _l("Note"),
    "destination_manager": _l("Destination manager"),
}


@bp.app_context_processor
def _trace_globals():
    return {
        "permit_labels": PERMIT_LABELS,
        "contamination_labels": CONTAMINATION_LABELS,
        "ticket_status_labels": TICKET_STATUS_LABELS,
        "trace_field_labels": FIELD_LABELS,
    }


def _destinations(s, order: Order) -> list[Listing]:
    """Sites a load may be sent to: the receiver's soil sites and any stockyard."""
    return list(
        s.scalars(
            select(Listing)
            .where(
                (
                    (Listing.kind == ListingKind.soil_want)
                    & (Listing.organisation_id == order.buyer_org_id)
                )
                | (Listing.kind == ListingKind.stockyard)
            )
            .order_by(Listing.id)
            .limit(200)
        )
    )


def _order_page(order: Order, errors: dict | None = None, status: int = 200, values=None):
    s = db_session()
    org_id = current_user.organisation_id
    plan = plans.planned_destination(s, order)
    yards = queries.chain(s, order.id)
    my_yards = [y for y in yards if y.operator.id == org_id]
    return render_template(
        "trace/order.html",
        order=order,
        plan=plan,
        origin=plans.planned_origin(order),
        sheet=queries.sheet_view(s, plans.sheet_for(s, order.id)),
        sheet_required=plans.sheet_required(order),
        tickets=queries.tickets(s, order.id),
        receipts=queries.receipts(s, order.id),
        chain=yards,
        my_yards=my_yards,
        stock={y.listing.id: services.stock_at_yard(s, order.id, y.listing.id) for y in my_yards},
        is_party=org_id in order.party_ids(),
        is_seller=org_id == order.seller_org_id,
        ticketable=order.status in services.TICKETABLE,
        destinations=_destinations(s, order),
        to_receipt=receipts.unreceipted(s, order.id, org_id),
        errors=errors or {},
        values=values or {},
        committed=services.first_leg_committed(s, order),
    ), status


@bp.get("/trace/orders/<int:order_id>")
@login_required
def order(order_id: int):
    return _order_page(services.visible_order(db_session(), current_user, order_id))


def _commit(form: type[Form], action, done, redirect_to, refused):
    """Read ``form`` and run one write with what it sent: commit, flash ``done`` (a text, or
    made from the result) and go to ``redirect_to(result)``; or answer ``refused(session,
    refusal)`` with nothing written (404 stays 404)."""
    outcome = submit(form, lambda s, values: action(s, values.sent()))
    if not outcome.ok:
        return refused(db_session(), outcome.refusal)
    flash(done(outcome.result) if callable(done) else done, "success")
    return redirect(redirect_to(outcome.result))


def _write(order_id: int, form: type[Form], action, done: str, redirect_to=None):
    """A write on the order's trace page, shown again with the refusal."""
    return _commit(
        form,
        action,
        done,
        redirect_to or (lambda _result: url_for("trace.order", order_id=order_id)),
        lambda s, refusal: _order_page(
            services.visible_order(s, current_user, order_id),
            refusal.errors,
            refusal.status,
            form_values(form),
        ),
    )


@bp.post("/trace/orders/<int:order_id>/sheet")
@login_required
def record_sheet(order_id: int):
    return _write(
        order_id,
        SheetForm,
        lambda s, data: sheets.record_sheet(s, current_user, order_id, data),
        _("Check sheet recorded."),
    )


@bp.post("/trace/orders/<int:order_id>/tickets")
@login_required
def issue_ticket(order_id: int):
    return _write(
        order_id,
        TicketForm,
        lambda s, data: services.issue_ticket(s, current_user, order_id, data),
        _("Ticket issued."),
        lambda t: url_for("trace.ticket", ticket_id=t.id),
    )


@bp.post("/trace/orders/<int:order_id>/receipts")
@login_required
def issue_receipts(order_id: int):
    return _write(
        order_id,
        ReceiptForm,
        lambda s, data: receipts.issue_receipts(s, current_user, order_id, data),
        _("Receipt issued."),
        lambda rs: url_for("trace.receipt", receipt_id=rs[0].id),
    )


@bp.post("/trace/amend/<record_type>/<int:record_id>")
@login_required
def amend(record_type: str, record_id: int):
    s = db_session()
    model = amendments.RECORDS.get(record_type)
    record = services.get_record(s, model, record_id) if model else None
    if record is None:
        raise NotFound(_("No such record."))
    return _write(
        record.order_id,
        AmendForm,
        lambda s, data: amendments.amend(s, current_user, record_type, record_id, data),
        _("Amendment recorded; the original is kept."),
    )


# --- tickets ----------------------------------------------------------------------------


def _confirm_url(ticket) -> str:
    return url_for("trace.confirm", token=ticket.token, _external=True)


def _ticket_page(t, errors: dict | None = None, status: int = 200, values=None):
    s = db_session()
    return render_template(
        "trace/ticket.html",
        t=queries.ticket_view(s, t),
        qr=documents.qr_svg(_confirm_url(t)),
        confirm_url=_confirm_url(t),
        errors=errors or {},
        values=values or {},
    ), status


@bp.get("/trace/tickets/<int:ticket_id>")
@login_required
def ticket(ticket_id: int):
    return _ticket_page(services.visible_ticket(db_session(), current_user, ticket_id))


@bp.post("/trace/tickets/<int:ticket_id>/void")
@login_required
def void_ticket(ticket_id: int):
    """The issuer voids a load that never arrived; the ticket stays on record, marked void."""
    return _commit(
        VoidForm,
        lambda s, data: services.void_ticket(s, current_user, ticket_id, data),
        lambda t: _(
            "Ticket %(code)s is void. It stays on record and no longer counts.", code=t.code
        ),
        lambda t: url_for("trace.ticket", ticket_id=t.id),
        lambda s, refusal: _ticket_page(
            services.visible_ticket(s, current_user, ticket_id),
            refusal.errors,
            refusal.status,
            form_values(VoidForm),
        ),
    )


@bp.get("/trace/tickets/<int:ticket_id>/qr.svg")
@login_required
def ticket_qr(ticket_id: int):
    t = services.visible_ticket(db_session(), current_user, ticket_id)
    return Response(documents.qr_svg(_confirm_url(t)), mimetype="image/svg+xml")


def _confirm_page(t, errors: dict | None = None, status: int = 200, values=None):
    s = db_session()
    return render_template(
        "trace/confirm.html",
        t=queries.ticket_view(s, t),
        errors=errors or {},
        values=values or {},
        may_confirm=current_user.organisation_id == t.receiving_org_id,
    ), status


@bp.get("/t/<token>")
@login_required
def confirm(token: str):
    """Where the ticket's QR code leads: the receiving site checks the load and confirms."""
    s = db_session()
    t = services.ticket_by_token(s, token)
    if current_user.organisation_id not in services.involved_org_ids(s, t.order):
        raise NotFound(_("No such ticket."))
    return _confirm_page(t)


@bp.post("/t/<token>")
@login_required
def confirm_post(token: str):
    outcome = submit(
        ConfirmForm,
        lambda s, form: services.confirm_ticket(s, current_user, token, form.sent()),
        keep=lambda confirmed: confirmed[1],  # nothing changed (confirmed before): roll back
    )
    if not outcome.ok:
        s = db_session()
        t = services.ticket_by_token(s, token)
        if current_user.organisation_id not in services.involved_org_ids(s, t.order):
            raise NotFound(_("No such ticket."))
        return _confirm_page(t, outcome.errors, outcome.status, form_values(ConfirmForm))
    t, changed = outcome.result
    if changed:
        flash(_("Arrival confirmed."), "success")
    else:
        flash(_("This load was already confirmed; nothing changed."), "info")
    return redirect(url_for("trace.ticket", ticket_id=t.id))


# --- receipts and exports ---------------------------------------------------------------


@bp.get("/trace/receipts/<int:receipt_id>")
@login_required
def receipt(receipt_id: int):
    s = db_session()
    r = services.visible_receipt(s, current_user, receipt_id)
    return render_template("trace/receipt.html", v=queries.receipt_view(s, r), r=r)


@bp.get("/trace/receipts/<int:receipt_id>.pdf")
@login_required
def receipt_pdf(receipt_id: int):
    s = db_session()
    r = services.visible_receipt(s, current_user, receipt_id)
    try:
        pdf = documents.receipt_pdf(queries.receipt_view(s, r))
    except payments.InvoiceFontMissing as exc:
        current_app.logger.error("receipt PDF: %s", exc.message)
        raise DomainError(
            _("The PDF cannot be made on this server yet; print the receipt page instead."),
            field="pdf",
        ) from None
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{r.number}.pdf"'},
    )


def _csv(rows, name: str) -> Response:
    return Response(
        documents.export_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@bp.get("/trace/orders/<int:order_id>/export.csv")
@login_required
def export_order(order_id: int):
    s = db_session()
    order = services.visible_order(s, current_user, order_id)
    return _csv(queries.export_rows(s, [order]), f"jisshisho-order-{order.id}")


@bp.get("/trace/projects/<int:listing_id>/export.csv")
@login_required
def export_project(listing_id: int):
    """Every order from one site (the listing is the project): only its organisation sees it."""
    s = db_session()
    listing = services.get_record(s, Listing, listing_id)
    if listing is None or listing.organisation_id != current_user.organisation_id:
        raise NotFound(_("No such listing."))
    orders = list(s.scalars(select(Order).where(Order.listing_id == listing.id).order_by(Order.id)))
    return _csv(queries.export_rows(s, orders), f"jisshisho-project-{listing.id}")


# --- JSON API (read-only) -----------------------------------------------------------------


def _utc(value) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def _org(org) -> dict | None:
    return None if org is None else {"id": org.id, "name": org.name}


def ticket_json(v: queries.TicketView, receipt_number: str | None) -> dict:
    """A ticket as it stands (amendments applied, the originals listed), for its parties."""
    t = v.ticket
    return {
        "id": t.id,
        "code": t.code,
        "order_id": t.order_id,
        "seq": t.seq,
        "status": t.status.value,
        "leg": "onward" if t.onward else "first",
        "transit": t.transit,
        "origin": {
            "name": v.origin_name,
            "address": v.origin_address,
            "listing_id": t.origin_listing_id,
            "lat": t.origin_lat,
            "lon": t.origin_lon,
        },
        "destination": {
            "name": t.destination_name,
            "address": t.destination_address,
            "listing_id": t.destination_listing_id,
            "kind": t.destination_kind,
            "lat": t.destination_lat,
            "lon": t.destination_lon,
            "receiving_organisation": _org(t.receiving_org),
            "stockyard_registration_no": t.receiving_org.stockyard_registration_no
            if t.destination_kind == "stockyard"
            else None,
        },
        "planned": {"name": t.planned_name, "address": t.planned_address},
        "matches_plan": t.matches_plan,
        "soil_class_code": t.soil_class_code,
        "vehicle_reg_no": v.vehicle_reg_no,
        "driver_name": v.driver_name,
        "quantity": str(t.quantity),
        "unit": t.unit,
        "time_out": _utc(v.time_out),
        "issued_by_organisation": _org(t.issued_by_org),
        "issued_at": _utc(t.created_at),
        "received": None
        if not t.confirmed
        else {
            "time_in": _utc(v.time_in),
            "quantity": str(t.quantity_received),
            "discrepancy_note": v.discrepancy_note,
            "by_organisation": _org(t.receiving_org),
            "by_user": t.confirmed_by.display_name if t.confirmed_by else None,
            "receipt_number": receipt_number,
        },
        "void": None
        if not t.void
        else {
            "at": _utc(t.voided_at),
            "by_organisation": _org(t.voided_by_org),
            "by_user": t.voided_by.display_name if t.voided_by else None,
            "reason": t.void_reason,
        },
        "amendments": [
            {
                "field": a.field,
                "old_value": a.old_value,
                "new_value": a.new_value,
                "reason": a.reason,
                "at": _utc(a.created_at),
                "by_organisation": _org(a.amended_by_org),
            }
            for a in v.amendments
        ],
        "url": url_for("trace.ticket", ticket_id=t.id, _external=True),
    }


def _tickets_json(s, views: list[queries.TicketView]) -> list[dict]:
    numbers = queries.receipt_numbers(s, [v.ticket.id for v in views])
    return [ticket_json(v, numbers.get(v.ticket.id)) for v in views]


@api.get("/tickets")
@token_required
@operation(
    "Tickets of your organisation's orders, or issued by it, or sent to it (newest first)",
    query=TicketsQuery,
    ok=(200, TicketPage),
)
def api_list_tickets(query: TicketsQuery):
    """Tickets of your organisation's orders, or issued by it, or sent to it."""
    page, per_page = query.page, query.per_page
    s = db_session()
    if g.api_user.organisation_id is None:
        return answer(TicketPage, {"items": [], "total": 0, "page": page, "per_page": per_page})
    views, total = queries.tickets_for_org(
        s, g.api_user.organisation_id, query.status, page, per_page
    )
    items = _tickets_json(s, views)
    return answer(TicketPage, {"items": items, "total": total, "page": page, "per_page": per_page})


@api.get("/orders/<int:order_id>/tickets")
@token_required
@operation(
    "Every ticket of an order you are involved in, void ones included",
    query=OrderTicketsQuery,
    ok=(200, OrderTickets),
    errors=(400, 401, 404, 429),
)
def api_order_tickets(order_id: int, query: OrderTicketsQuery):
    """Every ticket of an order you are involved in, in order of issue (void ones included)."""
    s = db_session()
    order = services.visible_order(s, g.api_user, order_id)
    status = query.status
    views = [v for v in queries.tickets(s, order.id) if status is None or v.ticket.status == status]
    return answer(OrderTickets, {"items": _tickets_json(s, views)})


@api.get("/tickets/<int:ticket_id>")
@token_required
@operation(
    "Read a ticket of an order you are involved in", ok=(200, Ticket), errors=(401, 404, 429)
)
def api_read_ticket(ticket_id: int):
    s = db_session()
    t = services.visible_ticket(s, g.api_user, ticket_id)
    return answer(Ticket, _tickets_json(s, [queries.ticket_view(s, t)])[0])
