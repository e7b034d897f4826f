"""The platform's monthly fee statements: on invoice payments the payer transfers the
whole amount to the payee, so the platform invoices each payee once a month for the fees
on the orders paid to it that month (a 適格請求書 when the platform has a registration
number). Card payments keep the fee at source and are not included.

Issued by a job on the 1st (JST) for the month before, or by `flask billing statements`;
each organisation and month gets one statement, stored as issued."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from market.accounts.models import Organisation, User
from market.errors import NotFound
from market.orders import billing
from market.orders.models import OrderPayment, PlatformFeeStatement
from payments import InvoiceLine, PaymentStatus, compute_totals
from payments.invoice import QualifiedInvoice

FEE_TAX_RATE = 10  # the platform's fee is a standard-rated service
CHARGED = (
    PaymentStatus.PAID.value,
    PaymentStatus.PARTIALLY_REFUNDED.value,
)  # fully refunded: no fee


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def previous_month(today: dt.date) -> dt.date:
    return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def _fee_excluding_tax(row: OrderPayment) -> int:
    """The fee as the order's invoice computed it (its own tax is added once per statement)."""
    return billing.invoice_from_snapshot(row.invoice).totals.platform_fee_yen


def issue_statements(session: Session, month: dt.date) -> list[PlatformFeeStatement]:
    """One statement per payee with fees on invoice payments marked paid in ``month``;
    organisations that already have that month's statement are left as they are."""
    first, last = month_bounds(month)
    rows = session.scalars(
        select(OrderPayment)
        .where(
            OrderPayment.backend == "invoice",
            OrderPayment.status.in_(CHARGED),
            OrderPayment.paid_on >= first,
            OrderPayment.paid_on <= last,
            OrderPayment.platform_fee_yen > 0,
        )
        .order_by(OrderPayment.payee_org_id, OrderPayment.paid_on, OrderPayment.order_id)
    ).all()
    by_payee: dict[int, list[OrderPayment]] = {}
    for row in rows:
        by_payee.setdefault(row.payee_org_id, []).append(row)
    done = set(
        session.scalars(
            select(PlatformFeeStatement.organisation_id).where(PlatformFeeStatement.month == first)
        )
    )
    config = current_app.config
    issued = []
    for org_id, payments in by_payee.items():
        if org_id in done:
            continue
        org = session.get(Organisation, org_id)
        lines = [
            InvoiceLine(
                description=f"注文 #{row.order_id} プラットフォーム手数料",
                quantity=Decimal(1),
                unit="式",
                unit_price_yen=Decimal(_fee_excluding_tax(row)),
                tax_rate=FEE_TAX_RATE,
                delivered_on=row.paid_on,
            )
            for row in payments
        ]
        number = f"MF-{first:%Y%m}-{org_id:06d}"
        issue_date = last + dt.timedelta(days=1)
        invoice = QualifiedInvoice(
            number=number,
            order_id=number,
            issuer_name=str(config["PLATFORM_NAME"]),
            registration_number=config.get("PLATFORM_INVOICE_REGISTRATION_NO") or None,
            issuer_address=str(config["PLATFORM_ADDRESS"]),
            recipient_name=org.name,
            issue_date=issue_date,
            transaction_date=last,
            due_date=month_bounds(issue_date)[1],
            totals=compute_totals(lines),
            period=f"{first.year}年{first.month}月分",
        )
        statement = PlatformFeeStatement(
            organisation_id=org_id,
            month=first,
            number=number,
            total_yen=invoice.totals.total_yen,
            orders=[row.order_id for row in payments],
            invoice=billing.invoice_snapshot(invoice),
        )
        session.add(statement)
        issued.append(statement)
    session.flush()
    return issued


def visible_statements(session: Session, user: User) -> list[PlatformFeeStatement]:
    """The organisation's own statements; a site administrator sees every one."""
    query = select(PlatformFeeStatement).order_by(
        PlatformFeeStatement.month.desc(), PlatformFeeStatement.id
    )
    if not user.is_site_admin:
        query = query.where(PlatformFeeStatement.organisation_id == user.organisation_id)
    return list(session.scalars(query))


def visible_statement(session: Session, user: User, statement_id: int) -> PlatformFeeStatement:
    statement = session.get(PlatformFeeStatement, statement_id)
    if statement is None or (
        not user.is_site_admin and statement.organisation_id != user.organisation_id
    ):
        raise NotFound(_("No such statement."))
    return statement
