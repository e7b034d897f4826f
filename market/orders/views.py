"""Order pages for both parties, the invoice (page and PDF), the Stripe webhook, and the
JSON API for orders. Each view: parse → service → commit once → render."""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

import payments
from market.api.auth import token_required
from market.api.contract import answer, operation
from market.catalog import services as catalog_services
from market.core.forms import Form, form_values, parse_form
from market.core.writes import commit, submit
from market.errors import DomainError, NotFound
from market.orders import (
    billing,
    deliveries,
    moves,
    queries,
    refunds,
    requests,
    statements,
    states,
    transitions,
    webhooks,
)
from market.orders.forms import (
    DeliveryForm,
    OrderActionForm,
    OrderRequestForm,
    OrderTermsForm,
    RefundForm,
)
from market.orders.models import Order, OrderRefund, OrderStatus, TransportArrangement
from market.orders.payouts import payout_onboarding_url
from market.orders.schemas import (
    DeliveryRecord,
    OrderList,
    OrderMove,
    OrderRequest,
    OrdersQuery,
    RefundRequest,
)
from market.orders.schemas import Order as OrderOut
from market.services import db_session

bp = Blueprint("orders", __name__)
api = Blueprint("orders_api", __name__, url_prefix="/api/v1")

TRANSPORT_LABELS = {
    TransportArrangement.receiver_collects: _l("Receiver collects"),
    TransportArrangement.supplier_delivers: _l("Supplier delivers"),
}

PAYMENT_STATUS_LABELS = {
    "awaiting_payment": _l("Awaiting payment"),
    "processing": _l("Processing"),
    "failed": _l("Failed"),
    "paid": _l("Paid"),
    "partially_refunded": _l("Partially refunded"),
    "refunded": _l("Refunded"),
    "canceled": _l("Cancelled"),
}


@bp.app_context_processor
def _order_globals():
    return {
        "order_status_labels": states.STATUS_LABELS,
        "order_action_labels": states.ACTION_LABELS,
        "transport_labels": TRANSPORT_LABELS,
        "payment_status_labels": PAYMENT_STATUS_LABELS,
        "instant_accept_for": lambda listing_id: requests.instant_accept(db_session(), listing_id),
        "orderable_listing": requests.orderable,
    }


# --- pages ------------------------------------------------------------------------------


@bp.get("/orders")
@login_required
def list_orders():
    if current_user.organisation_id is None:
        abort(404)
    status = request.args.get("status") or None
    items = queries.orders_for(db_session(), current_user.organisation_id, status)
    return render_template(
        "orders/list.html", orders=items, status=status, statuses=list(OrderStatus)
    )


@bp.route("/listings/<int:listing_id>/orders/new", methods=["GET", "POST"])
@login_required
def request_order(listing_id: int):
    s = db_session()
    listing = catalog_services.visible_listing(s, current_user, listing_id)
    if request.method == "GET":
        return render_template("orders/request.html", listing=listing, values={}, errors={})
    done = submit(
        OrderRequestForm,
        lambda s, form: requests.request_order(s, current_user, listing_id, form.sent()),
    )
    if not done.ok:
        listing = catalog_services.visible_listing(s, current_user, listing_id)
        values = form_values(OrderRequestForm)
        return render_template(
            "orders/request.html", listing=listing, values=values, errors=done.errors
        ), done.status
    order = done.result
    flash(
        _("Request sent.") if order.status == OrderStatus.requested else _("Request accepted."),
        "success",
    )
    return redirect(url_for("orders.detail", order_id=order.id))


@bp.post("/listings/<int:listing_id>/order-terms")
@login_required
def order_terms(listing_id: int):
    listing = catalog_services.visible_listing(db_session(), current_user, listing_id)
    form, _errors = parse_form(OrderTermsForm)  # one checkbox: every value is on or off
    commit(lambda s: requests.set_instant_accept(s, current_user, listing, form.instant_accept))
    flash(_("Order settings saved."), "success")
    return redirect(url_for("catalog.detail", listing_id=listing.id))


def _detail_page(order: Order, errors: dict | None = None, status: int = 200, values=None):
    s = db_session()
    return render_template(
        "orders/detail.html",
        order=order,
        money=queries.money(s, order),
        actions=moves.allowed_actions(order, current_user),
        can_deliver=moves.may(order, current_user, "record_delivery"),
        errors=errors or {},
        backend=billing.gateway().name,
        test_card=_test_card_allowed(order),
        can_refund=refunds.may_refund(order, current_user),
        refundable_yen=refunds.refundable_yen(order),
        # A fresh key per rendered form: a double submit sends it twice and refunds once.
        refund_key=uuid.uuid4().hex,
        values=values or {},
    ), status


def _test_card_allowed(order: Order) -> bool:
    row = order.current_payment
    return (
        order.status == OrderStatus.invoiced
        and row is not None
        and row.backend == "stripe"
        and row.payer_org_id == current_user.organisation_id
        and str(current_app.config.get("STRIPE_SECRET_KEY") or "").startswith("sk_test_")
    )


@bp.get("/orders/<int:order_id>")
@login_required
def detail(order_id: int):
    order = moves.visible_order(db_session(), current_user, order_id)
    return _detail_page(order)


def _change_order(order_id: int, form: type[Form], change, done_message):
    """Read ``form`` and run one write on the order with it; a refusal re-renders the order
    page with the reason (and what was typed). ``done_message`` is a text, or a function of
    what ``change`` returned."""
    done = submit(form, change)
    if not done.ok:
        order = moves.visible_order(db_session(), current_user, order_id)
        return _detail_page(order, done.errors, done.status, values=form_values(form))
    result = done.result
    flash(done_message(result) if callable(done_message) else done_message, "success")
    return redirect(url_for("orders.detail", order_id=order_id))


@bp.post("/orders/<int:order_id>/actions/<action>")
@login_required
def act(order_id: int, action: str):
    return _change_order(
        order_id,
        OrderActionForm,
        lambda s, form: transitions.perform(s, current_user, order_id, action, form.sent()),
        _("Order updated."),
    )


@bp.post("/orders/<int:order_id>/deliveries")
@login_required
def add_delivery(order_id: int):
    return _change_order(
        order_id,
        DeliveryForm,
        lambda s, form: deliveries.record_delivery(s, current_user, order_id, form.sent()),
        _("Delivery recorded."),
    )


@bp.post("/orders/<int:order_id>/refunds")
@login_required
def refund(order_id: int):
    def done(result) -> str:
        refund, created = result
        if not created:
            return _(
                "This refund was already made (the form was sent twice); nothing was refunded again."
            )
        if refund.credit_note_number:
            return _(
                "Refund of %(amount)s recorded; credit note %(number)s issued.",
                amount=payments.format_yen(refund.amount_yen),
                number=refund.credit_note_number,
            )
        return _(
            "Refund of %(amount)s sent to the payment provider.",
            amount=payments.format_yen(refund.amount_yen),
        )

    return _change_order(
        order_id,
        RefundForm,
        lambda s, form: refunds.refund_order(
            s,
            current_user,
            order_id,
            form.sent(),
            form.idempotency_key or None,
            key_required=True,
        ),
        done,
    )


def _credit_note(order_id: int, refund_id: int) -> payments.CreditNote:
    s = db_session()
    order = moves.visible_order(s, current_user, order_id)
    refund = s.get(OrderRefund, refund_id)
    if refund is None or refund.order_id != order.id or not refund.credit_note:
        raise NotFound(_("This refund has no credit note."))
    return billing.credit_note_from_snapshot(refund.credit_note)


@bp.get("/orders/<int:order_id>/refunds/<int:refund_id>/credit-note")
@login_required
def credit_note(order_id: int, refund_id: int):
    note = _credit_note(order_id, refund_id)
    return render_template(
        "orders/credit_note.html",
        order_id=order_id,
        refund_id=refund_id,
        note=payments.credit_note_context(note),
    )


@bp.get("/orders/<int:order_id>/refunds/<int:refund_id>/credit-note.pdf")
@login_required
def credit_note_pdf(order_id: int, refund_id: int):
    note = _credit_note(order_id, refund_id)
    return _pdf(lambda: payments.render_credit_note_pdf(note), note.number)


def _pdf(render, number: str) -> Response:
    try:
        pdf = render()
    except payments.InvoiceFontMissing as exc:
        current_app.logger.error("invoice PDF: %s", exc.message)
        raise DomainError(
            _("The PDF cannot be made on this server yet; print the invoice page instead."),
            field="pdf",
        ) from None
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{number}.pdf"'},
    )


def _to_onboarding():
    url = commit(
        lambda s: payout_onboarding_url(
            s,
            current_user,
            refresh_url=url_for("orders.payouts_refresh", _external=True),
            return_url=url_for("accounts.organisation", _external=True),
        )
    )
    return redirect(url)


@bp.post("/organisation/payouts")
@login_required
def payouts():
    """Start (or resume) card-payout onboarding with Stripe for the organisation."""
    return _to_onboarding()


@bp.get("/organisation/payouts/refresh")
@login_required
def payouts_refresh():
    """Stripe's refresh_url (the link expired or was used): straight to a fresh one."""
    return _to_onboarding()


@bp.get("/billing/statements")
@login_required
def fee_statements():
    rows = statements.visible_statements(db_session(), current_user)
    return render_template("orders/statements.html", statements=rows)


@bp.get("/billing/statements/<int:statement_id>")
@login_required
def fee_statement(statement_id: int):
    statement = statements.visible_statement(db_session(), current_user, statement_id)
    invoice = billing.invoice_from_snapshot(statement.invoice)
    return render_template(
        "orders/statement.html", statement=statement, inv=payments.invoice_context(invoice)
    )


@bp.get("/billing/statements/<int:statement_id>.pdf")
@login_required
def fee_statement_pdf(statement_id: int):
    statement = statements.visible_statement(db_session(), current_user, statement_id)
    invoice = billing.invoice_from_snapshot(statement.invoice)
    return _pdf(lambda: payments.render_invoice_pdf(invoice), statement.number)


@bp.post("/orders/<int:order_id>/pay/test-card")
@login_required
def pay_test_card(order_id: int):
    commit(lambda s: transitions.test_mode_card_payment(s, current_user, order_id))
    flash(
        _("Card payment sent; the order is marked paid when the payment provider confirms it."),
        "success",
    )
    return redirect(url_for("orders.detail", order_id=order_id))


def _invoice(order_id: int) -> tuple[Order, payments.QualifiedInvoice]:
    order = moves.visible_order(db_session(), current_user, order_id)
    row = order.current_payment
    if row is None or not row.invoice:
        raise NotFound(_("This order has no invoice."))
    return order, billing.invoice_from_snapshot(row.invoice)


@bp.get("/orders/<int:order_id>/invoice")
@login_required
def invoice(order_id: int):
    order, inv = _invoice(order_id)
    return render_template(
        "orders/invoice.html",
        order=order,
        inv=payments.invoice_context(inv),
        payment=order.current_payment,
    )


@bp.get("/orders/<int:order_id>/invoice.pdf")
@login_required
def invoice_pdf(order_id: int):
    _order, inv = _invoice(order_id)
    return _pdf(lambda: payments.render_invoice_pdf(inv), inv.number)


@bp.post("/payments/stripe/webhook")
def stripe_webhook():
    """Signed provider events; CSRF-exempt (the signature is the authentication)."""
    response = commit(
        lambda s: webhooks.handle_webhook(
            s, request.get_data(), request.headers.get("Stripe-Signature")
        ),
        keep=lambda answered: answered.status_code == 200,
    )
    return Response(response.body, status=response.status_code, mimetype="text/plain")


# --- JSON API ---------------------------------------------------------------------------


def order_json(order: Order) -> dict:
    m = queries.money(db_session(), order)
    t = m.totals
    payment = order.current_payment
    return {
        "id": order.id,
        "status": order.status.value,
        "listing_id": order.listing_id,
        "buyer": {"id": order.buyer_org_id, "name": order.buyer.name},
        "seller": {"id": order.seller_org_id, "name": order.seller.name},
        "quantity": str(order.quantity),
        "unit": order.unit,
        "unit_price_yen": order.unit_price_yen,
        "delivered_quantity": str(order.delivered_quantity),
        "transport_arrangement": order.transport_arrangement.value,
        "transport_fee_yen": order.transport_fee_yen,
        "money": {
            "direction": t.direction.value,
            "subtotal_yen": t.subtotal_yen,
            "tax_yen": t.tax_yen,
            "total_yen": t.total_yen,
            "per_rate": [
                {"rate_percent": b.rate_percent, "taxable_yen": b.taxable_yen, "tax_yen": b.tax_yen}
                for b in t.per_rate
            ],
            "platform_fee_yen": t.platform_fee_total_yen,
            "payer_id": m.payer.id,
            "payee_id": m.payee.id,
        },
        "payment": None
        if payment is None
        else {
            "backend": payment.backend,
            "reference": payment.reference,
            "status": payment.status,
            "amount_yen": payment.amount_yen,
            "refunded_yen": payment.refunded_yen,
        },
        "refunds": [refund_json(r) for r in order.refunds],
        "history": [
            {
                "action": tr.action,
                "from": tr.from_status,
                "to": tr.to_status,
                "by_organisation_id": tr.actor_org_id,
                "at": tr.created_at.isoformat() + "Z",
            }
            for tr in order.transitions
        ],
        "url": url_for("orders.detail", order_id=order.id, _external=True),
    }


def refund_json(refund: OrderRefund) -> dict:
    note = refund.credit_note
    return {
        "id": refund.id,
        "amount_yen": refund.amount_yen,
        "reason": refund.reason,
        "backend": refund.backend,
        "by_organisation_id": refund.refunded_by_org_id,
        "at": refund.created_at.isoformat() + "Z",
        "credit_note": None
        if not note
        else {
            "number": note["number"],
            "invoice_number": note["invoice_number"],
            "issue_date": note["issue_date"],
            "registration_number": note["registration_number"],
            "per_rate": [
                {
                    "rate_percent": b["rate_percent"],
                    "taxable_yen": b["taxable_yen"],
                    "tax_yen": b["tax_yen"],
                }
                for b in note["per_rate"]
            ],
            "url": url_for(
                "orders.credit_note_pdf",
                order_id=refund.order_id,
                refund_id=refund.id,
                _external=True,
            ),
        },
    }


@api.post("/orders")
@token_required
@operation(
    "Request an order on a listing (accepted at once if the seller allows it)",
    body=OrderRequest,
    ok=(201, OrderOut),
    errors=(400, 401, 403, 404, 409, 422, 429),
)
def api_request_order(body: OrderRequest):
    order = commit(
        lambda s: requests.request_order(
            s, g.api_user, body.listing_id, body.model_dump(mode="json")
        )
    )
    return answer(
        OrderOut,
        order_json(order),
        201,
        {"Location": url_for("orders_api.api_read_order", order_id=order.id)},
    )


@api.get("/orders")
@token_required
@operation(
    "Orders of your organisation (as buyer or seller)",
    query=OrdersQuery,
    ok=(200, OrderList),
)
def api_list_orders(query: OrdersQuery):
    if g.api_user.organisation_id is None:
        return answer(OrderList, {"items": []})
    status = query.status.value if query.status is not None else None
    items = queries.orders_for(db_session(), g.api_user.organisation_id, status)
    return answer(OrderList, {"items": [order_json(o) for o in items]})


@api.get("/orders/<int:order_id>")
@token_required
@operation("Read an order you are a party to", ok=(200, OrderOut), errors=(401, 404, 429))
def api_read_order(order_id: int):
    return answer(OrderOut, order_json(moves.visible_order(db_session(), g.api_user, order_id)))


@api.post("/orders/<int:order_id>/actions/<action>")
@token_required
@operation(
    "Move an order: accept, decline, cancel, issue_invoice, mark_paid, complete, dispute, resolve",
    body=OrderMove,
    body_required=False,
    ok=(200, OrderOut),
    errors=(400, 401, 403, 404, 409, 422, 429),
    path_enums={"action": list(states.ACTION_LABELS)},
)
def api_act(order_id: int, action: str, body: OrderMove):
    moves_to = body.model_dump(mode="json", exclude_unset=True)
    order = commit(lambda s: transitions.perform(s, g.api_user, order_id, action, moves_to))
    return answer(OrderOut, order_json(order))


@api.post("/orders/<int:order_id>/deliveries")
@token_required
@operation(
    "Record a delivery (the seller, on an accepted order)",
    body=DeliveryRecord,
    ok=(201, OrderOut),
    errors=(400, 401, 403, 404, 409, 422, 429),
)
def api_add_delivery(order_id: int, body: DeliveryRecord):
    commit(
        lambda s: deliveries.record_delivery(s, g.api_user, order_id, body.model_dump(mode="json"))
    )
    return answer(
        OrderOut, order_json(moves.visible_order(db_session(), g.api_user, order_id)), 201
    )


@api.post("/orders/<int:order_id>/refunds")
@token_required
@operation(
    "Refund all or part of a paid order (the organisation that received the payment); "
    "an invoice refund issues a credit note (返還インボイス)",
    body=RefundRequest,
    ok=(201, OrderOut),
    more_ok=((200, OrderOut),),
    errors=(400, 401, 403, 404, 409, 422, 429, 502),
    headers=(
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Send the same key again to retry safely: the refund it made "
            "is answered with 200, never made twice",
            "schema": {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
        },
    ),
)
def api_refund(order_id: int, body: RefundRequest):
    _refund, created = commit(
        lambda s: refunds.refund_order(
            s,
            g.api_user,
            order_id,
            body.model_dump(mode="json"),
            request.headers.get("Idempotency-Key"),
        )
    )
    order = moves.visible_order(db_session(), g.api_user, order_id)
    return answer(OrderOut, order_json(order), 201 if created else 200)
