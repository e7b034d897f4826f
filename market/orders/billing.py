"""Between order rows and the payments package: rows → BillableOrder, Payment → row, and
the stored invoice snapshot → QualifiedInvoice. Every amount is computed by payments from
the order's own rows; nothing a client sends reaches here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import current_app

import payments
from market.accounts.models import Organisation
from market.db import japan_today
from market.orders.models import Order, OrderPayment
from payments import BillableOrder, InvoiceLine, Party, Payment, PaymentStatus, Totals
from payments.credit_note import CreditNote, CreditNoteItem
from payments.invoice import QualifiedInvoice
from payments.money import Direction, TaxBreakdown, compute_totals

TRANSPORT_DESCRIPTION = "運搬費"


def gateway() -> payments.PaymentGateway:
    """The configured backend, made once per app (fails at first use if misconfigured;
    ``market.config`` already refuses to start with stripe chosen but keys missing)."""
    ext = current_app.extensions
    if "meguri.payments" not in ext:
        cfg = current_app.config
        settings: dict[str, object] = {"platform_fee_rate": fee_rate()}
        if cfg["PAYMENTS"] == "invoice":  # invoice dates from the one Japan clock
            settings["today"] = japan_today
        if cfg["PAYMENTS"] == "stripe":
            settings.update(
                api_key=cfg["STRIPE_SECRET_KEY"], webhook_secret=cfg["STRIPE_WEBHOOK_SECRET"]
            )
            if cfg.get("STRIPE_API_BASE"):
                settings["api_base"] = cfg["STRIPE_API_BASE"]
        ext["meguri.payments"] = payments.make_gateway(cfg["PAYMENTS"], **settings)
    return ext["meguri.payments"]


def fee_rate() -> Decimal:
    return Decimal(int(current_app.config["PLATFORM_FEE_PERCENT"])) / 100


def party(org: Organisation) -> Party:
    return Party(
        id=str(org.id),
        name=org.name,
        registration_number=org.invoice_registration_no or None,
        address=org.address or "",
        connected_account_id=org.stripe_account_id if org.stripe_charges_enabled else None,
    )


def lines(order: Order) -> tuple[InvoiceLine, ...]:
    out = [
        InvoiceLine(
            description=order.description,
            quantity=Decimal(order.quantity),
            unit=order.unit,
            unit_price_yen=Decimal(order.unit_price_yen),
        )
    ]
    if order.transport_fee_yen:
        out.append(
            InvoiceLine(
                description=TRANSPORT_DESCRIPTION,
                quantity=Decimal(1),
                unit="式",
                unit_price_yen=Decimal(order.transport_fee_yen),
            )
        )
    return tuple(out)


def billable(order: Order, attempt: int | None = None) -> BillableOrder:
    return BillableOrder(
        order_id=str(order.id),
        buyer=party(order.buyer),
        seller=party(order.seller),
        lines=lines(order),
        transaction_date=japan_today(),
        attempt=attempt or max(order.payment_attempt, 1),
    )


def quote(order: Order) -> Totals:
    """The order's money as both parties see it (payee's side; see docs/payments.md)."""
    return compute_totals(lines(order), fee_rate())


def payer_and_payee_ids(order: Order, totals: Totals | None = None) -> tuple[int, int]:
    """(payer org id, payee org id): the seller pays when the total is negative (逆有償)."""
    totals = totals or quote(order)
    if totals.direction is Direction.SELLER_PAYS:
        return order.seller_org_id, order.buyer_org_id
    return order.buyer_org_id, order.seller_org_id


def to_row(payment: Payment, row: OrderPayment | None = None) -> OrderPayment:
    row = row or OrderPayment(order_id=int(payment.order_id))
    row.attempt = payment.attempt
    row.backend = payment.backend
    row.reference = payment.reference
    row.status = payment.status.value
    row.amount_yen = payment.amount_yen
    row.platform_fee_yen = payment.platform_fee_yen
    row.refunded_yen = payment.refunded_yen
    row.payer_org_id = int(payment.payer_id)
    row.payee_org_id = int(payment.payee_id)
    row.client_secret = payment.client_secret
    row.destination_account_id = payment.destination_account_id
    row.paid_on = payment.paid_on
    row.last_event_at = payment.last_event_at
    if isinstance(payment.invoice, QualifiedInvoice):
        row.invoice = invoice_snapshot(payment.invoice)
    return row


def from_row(row: OrderPayment) -> Payment:
    return Payment(
        order_id=str(row.order_id),
        attempt=row.attempt,
        backend=row.backend,
        reference=row.reference,
        status=PaymentStatus(row.status),
        amount_yen=row.amount_yen,
        platform_fee_yen=row.platform_fee_yen,
        payer_id=str(row.payer_org_id),
        payee_id=str(row.payee_org_id),
        refunded_yen=row.refunded_yen,
        client_secret=row.client_secret,
        destination_account_id=row.destination_account_id,
        invoice=invoice_from_snapshot(row.invoice) if row.invoice else None,
        paid_on=row.paid_on,
        last_event_at=row.last_event_at,
    )


def invoice_snapshot(invoice: QualifiedInvoice) -> dict:
    """The invoice as issued, in JSON: issuer and recipient as they were that day."""
    totals = invoice.totals
    sign = -1 if totals.direction is Direction.SELLER_PAYS else 1
    return {
        "number": invoice.number,
        "order_id": invoice.order_id,
        "issuer_name": invoice.issuer_name,
        "registration_number": invoice.registration_number,
        "issuer_address": invoice.issuer_address,
        "recipient_name": invoice.recipient_name,
        "issue_date": invoice.issue_date.isoformat(),
        "transaction_date": invoice.transaction_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "platform_fee_rate": str(totals.platform_fee_rate),
        "period": invoice.period,
        # Lines from the buyer's side, as InvoiceLine takes them; the sign is re-derived.
        "lines": [
            {
                "description": p.line.description,
                "quantity": str(p.line.quantity),
                "unit": p.line.unit,
                "unit_price_yen": str(sign * p.unit_price_yen),
                "tax_rate": p.line.tax_rate,
                "delivered_on": p.line.delivered_on.isoformat() if p.line.delivered_on else None,
            }
            for p in totals.lines
        ],
    }


def invoice_from_snapshot(data: dict) -> QualifiedInvoice:
    lines_ = [
        InvoiceLine(
            description=li["description"],
            quantity=Decimal(li["quantity"]),
            unit=li["unit"],
            unit_price_yen=Decimal(li["unit_price_yen"]),
            tax_rate=int(li["tax_rate"]),
            delivered_on=dt.date.fromisoformat(li["delivered_on"])
            if li.get("delivered_on")
            else None,
        )
        for li in data["lines"]
    ]
    return QualifiedInvoice(
        number=data["number"],
        order_id=data["order_id"],
        issuer_name=data["issuer_name"],
        registration_number=data["registration_number"],
        issuer_address=data["issuer_address"],
        recipient_name=data["recipient_name"],
        issue_date=dt.date.fromisoformat(data["issue_date"]),
        transaction_date=dt.date.fromisoformat(data["transaction_date"]),
        due_date=dt.date.fromisoformat(data["due_date"]),
        totals=compute_totals(lines_, Decimal(data["platform_fee_rate"])),
        period=data.get("period"),
    )


def credit_note_snapshot(note: CreditNote) -> dict:
    """The 返還インボイス as issued, in JSON (it never changes afterwards)."""
    return {
        "number": note.number,
        "order_id": note.order_id,
        "invoice_number": note.invoice_number,
        "invoice_issue_date": note.invoice_issue_date.isoformat(),
        "transaction_date": note.transaction_date.isoformat(),
        "issue_date": note.issue_date.isoformat(),
        "issuer_name": note.issuer_name,
        "registration_number": note.registration_number,
        "issuer_address": note.issuer_address,
        "recipient_name": note.recipient_name,
        "items": [{"description": i.description, "tax_rate": i.tax_rate} for i in note.items],
        "per_rate": [
            {"rate_percent": b.rate_percent, "taxable_yen": b.taxable_yen, "tax_yen": b.tax_yen}
            for b in note.per_rate
        ],
        "reason": note.reason,
    }


def credit_note_from_snapshot(data: dict) -> CreditNote:
    return CreditNote(
        number=data["number"],
        order_id=data["order_id"],
        invoice_number=data["invoice_number"],
        invoice_issue_date=dt.date.fromisoformat(data["invoice_issue_date"]),
        transaction_date=dt.date.fromisoformat(data["transaction_date"]),
        issue_date=dt.date.fromisoformat(data["issue_date"]),
        issuer_name=data["issuer_name"],
        registration_number=data["registration_number"],
        issuer_address=data["issuer_address"],
        recipient_name=data["recipient_name"],
        items=tuple(CreditNoteItem(i["description"], int(i["tax_rate"])) for i in data["items"]),
        per_rate=tuple(
            TaxBreakdown(int(b["rate_percent"]), int(b["taxable_yen"]), int(b["tax_yen"]))
            for b in data["per_rate"]
        ),
        reason=data.get("reason", ""),
    )
