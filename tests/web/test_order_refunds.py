"""Refunds from the order page, invoice backend: the payee returns part or all of a paid
order with a reason, a 返還インボイス is issued for each refund and both parties can read it;
the wrong party, state or amount is refused naming the field, and a form sent twice (or
two at once) refunds once."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading

import pytest
from sqlalchemy import func, select

from market.core.models import AuditEvent
from market.db import to_japan
from market.orders.models import Order, OrderRefund, OrderStatus
from payments.invoice import DEFAULT_FONT_PATH
from tests.web.test_orders import (
    REG_BUYER,
    REG_SELLER,
    Reader,
    act,
    order_row,
    request_quantity,
    signed_in,
)

needs_pdf_text = pytest.mark.skipif(
    not (shutil.which("pdftotext") and os.path.exists(DEFAULT_FONT_PATH)),
    reason="PDF text needs pdftotext (poppler-utils) and the IPA Gothic font (fonts-ipafont-gothic)",
)


@pytest.fixture
def db(app):
    return Reader(app)


def refund_key(page: str) -> str:
    match = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert match, "the refund form is not on the page"
    return match.group(1)


def refund(client, order_id: int, amount="", reason="", key=None):
    if key is None:
        key = refund_key(client.get(f"/orders/{order_id}").get_data(as_text=True))
    return client.post(
        f"/orders/{order_id}/refunds",
        data={"amount_yen": amount, "reason": reason, "idempotency_key": key},
    )


def refunds(db, order_id: int) -> list[OrderRefund]:
    return db(
        lambda s: s.scalars(
            select(OrderRefund).where(OrderRefund.order_id == order_id).order_by(OrderRefund.id)
        ).all()
    )


def audit_count(db) -> int:
    return db(
        lambda s: s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "order.refund")
        )
    )


@pytest.fixture
def paid(app, db, factory):
    """30 m³ at ¥800 + ¥20,000 transport, invoiced and paid: ¥48,400 (¥44,000 + ¥4,400 tax)."""
    supplier = factory.user(invoice_registration_no=REG_SELLER)
    contractor = factory.user(invoice_registration_no=REG_BUYER)
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=800)
    buyer, seller = signed_in(app, contractor), signed_in(app, supplier)
    order_id = request_quantity(buyer, listing_id)
    assert act(seller, order_id, "accept", transport_fee_yen="20000").status_code == 302
    assert act(seller, order_id, "issue_invoice").status_code == 302
    assert act(seller, order_id, "mark_paid").status_code == 302
    return order_id, buyer, seller, supplier, contractor


def pdf_text(tmp_path, data: bytes) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_partial_then_full_refund_with_credit_notes_both_parties_see(app, db, paid):
    order_id, buyer, seller, supplier, contractor = paid
    assert 'id="refund-form"' in seller.get(f"/orders/{order_id}").get_data(as_text=True)
    assert 'id="refund-form"' not in buyer.get(f"/orders/{order_id}").get_data(as_text=True)

    response = refund(seller, order_id, "¥11,000", "2 m³ short on delivery")
    assert response.status_code == 302, response.get_data(as_text=True)
    order = order_row(db, order_id)
    assert order.status == OrderStatus.paid  # the material side goes on as before
    assert (order.current_payment.refunded_yen, order.current_payment.status) == (
        11000,
        "partially_refunded",
    )
    [first] = refunds(db, order_id)
    assert (first.amount_yen, first.reason, first.refunded_by_org_id) == (
        11000,
        "2 m³ short on delivery",
        supplier.org_id,
    )
    assert first.credit_note_number == "CN-INV-1-1-1"
    assert first.credit_note["per_rate"] == [
        {"rate_percent": 10, "taxable_yen": 10000, "tax_yen": 1000}
    ]

    # The rest: a full refund of what is left.
    page = seller.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Up to ¥37,400" in page
    assert refund(seller, order_id, "37400", "order called off").status_code == 302
    order = order_row(db, order_id)
    assert (order.current_payment.refunded_yen, order.current_payment.status) == (48400, "refunded")
    second = refunds(db, order_id)[1]
    assert second.credit_note_number == "CN-INV-1-1-2"
    assert second.credit_note["per_rate"] == [
        {"rate_percent": 10, "taxable_yen": 34000, "tax_yen": 3400}
    ]
    assert [t.action for t in order.transitions][-2:] == ["refund", "refund"]
    assert order.transitions[-1].to_status == "paid"
    assert order.transitions[-1].note == "Refunded ¥37,400: order called off"
    assert audit_count(db) == 2

    for client in (buyer, seller):
        page = client.get(f"/orders/{order_id}").get_data(as_text=True)
        assert (
            'id="refunds"' in page
            and "2 m³ short on delivery" in page
            and "order called off" in page
        )
        assert "CN-INV-1-1-1" in page and "CN-INV-1-1-2" in page and "¥11,000" in page
        assert 'id="refund-form"' not in page  # nothing left to refund
        note = client.get(f"/orders/{order_id}/refunds/{first.id}/credit-note")
        text = note.get_data(as_text=True)
        assert note.status_code == 200
        for expected in (
            "適格返還請求書",
            "CN-INV-1-1-1",
            "INV-1-1",
            REG_SELLER,
            "¥10,000",
            "¥1,000",
            "¥11,000",
            "10%対象",
            "2 m³ short on delivery",
        ):
            assert expected in text, expected
        pdf = client.get(f"/orders/{order_id}/refunds/{first.id}/credit-note.pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
        assert 'filename="CN-INV-1-1-1.pdf"' in pdf.headers["Content-Disposition"]


@needs_pdf_text
def test_credit_note_pdf_text_has_every_required_item(app, db, paid, tmp_path):
    order_id, _buyer, seller, _supplier, _contractor = paid
    assert refund(seller, order_id, "5500", "品質不良（含水比超過）").status_code == 302
    [done] = refunds(db, order_id)
    seller_name, buyer_name, description = db(
        lambda s: (lambda o: (o.seller.name, o.buyer.name, o.description))(s.get(Order, order_id))
    )
    text = pdf_text(
        tmp_path, seller.get(f"/orders/{order_id}/refunds/{done.id}/credit-note.pdf").data
    )
    for expected in (
        "適格返還請求書",
        "CN-INV-1-1-1",
        "元の請求書番号: INV-1-1",
        f"登録番号: {REG_SELLER}",
        seller_name,
        f"{buyer_name} 御中",
        description,
        "運搬費",
        to_japan(done.created_at).date().isoformat(),  # dated by the Japan clock
        "10%対象",
        "¥5,000",
        "¥500",
        "¥5,500",
        "品質不良（含水比超過）",
    ):
        assert expected in text, expected


def test_refusals_name_the_reason_and_change_nothing(app, db, factory, paid):
    order_id, buyer, seller, _supplier, _contractor = paid
    key = refund_key(seller.get(f"/orders/{order_id}").get_data(as_text=True))

    # The payer cannot refund itself; a stranger does not see the order at all.
    response = buyer.post(
        f"/orders/{order_id}/refunds",
        data={"amount_yen": "100", "reason": "x", "idempotency_key": key},
    )
    assert response.status_code == 403
    assert "Only the organisation that receives the payment may do this." in response.get_data(
        as_text=True
    )
    stranger = signed_in(app, factory.user())
    assert refund(stranger, order_id, "100", "x", key="k1").status_code == 404

    cases = [
        ("", "why", "amount_yen", "Enter the amount to refund"),
        ("abc", "why", "amount_yen", "Must be a whole number of yen."),
        ("10.5", "why", "amount_yen", "Must be a whole number of yen."),
        ("0", "why", "amount_yen", "Must be at least ¥1."),
        ("-5", "why", "amount_yen", "Must be at least ¥1."),
        ("48401", "why", "amount_yen", "At most ¥48,400 can still be refunded on this order."),
        ("9" * 40, "why", "amount_yen", "At most ¥48,400"),
        ("100", "", "reason", "Say why the money is returned"),
        ("100", "x" * 501, "reason", "Must be at most 500 characters."),
    ]
    for amount, reason, field, text in cases:
        response = refund(seller, order_id, amount, reason, key=key)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, (amount, reason)
        assert f'id="{field}-error"' in page and text in page, (amount, reason)
        if amount:
            assert f'value="{amount}"' in page  # what was typed stays in the form
    both = refund(seller, order_id, "", "", key=key).get_data(as_text=True)
    assert 'id="amount_yen-error"' in both and 'id="reason-error"' in both  # every error at once
    missing_key = seller.post(
        f"/orders/{order_id}/refunds", data={"amount_yen": "100", "reason": "x"}
    )
    assert missing_key.status_code == 422 and "reload the page" in missing_key.get_data(
        as_text=True
    )
    bad_key = refund(seller, order_id, "100", "x", key="no spaces allowed")
    assert bad_key.status_code == 422 and "Use at most 64 letters" in bad_key.get_data(as_text=True)

    order = order_row(db, order_id)
    assert (order.current_payment.refunded_yen, order.current_payment.status) == (0, "paid")
    assert refunds(db, order_id) == [] and audit_count(db) == 0
    assert [t.action for t in order.transitions][-1] == "mark_paid"

    # Everything back: nothing is left to refund.
    assert refund(seller, order_id, "48400", "called off").status_code == 302
    again = refund(seller, order_id, "1", "once more", key="another-key")
    assert again.status_code == 409 and "refunded already" in again.get_data(as_text=True)
    assert len(refunds(db, order_id)) == 1


def test_unpaid_orders_cannot_be_refunded(app, db, factory):
    supplier, contractor = factory.user(), factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=10, price_per_unit=800)
    buyer, seller = signed_in(app, contractor), signed_in(app, supplier)
    order_id = request_quantity(buyer, listing_id, quantity="1")
    act(seller, order_id, "accept")
    assert act(seller, order_id, "issue_invoice").status_code == 302
    assert 'id="refund-form"' not in seller.get(f"/orders/{order_id}").get_data(as_text=True)
    response = refund(seller, order_id, "100", "x", key="k-invoiced")
    assert response.status_code == 409
    assert (
        "This order is Awaiting payment, so it cannot be moved with “Refund”."
        in response.get_data(as_text=True)
    )

    free = factory.listing(supplier, "soil_offer", quantity=10, price_per_unit=0)
    zero = request_quantity(buyer, free, quantity="1")
    act(seller, zero, "accept")
    act(seller, zero, "issue_invoice")
    assert order_row(db, zero).status == OrderStatus.paid
    response = refund(seller, zero, "1", "x", key="k-zero")
    assert response.status_code == 409 and "nothing to refund" in response.get_data(as_text=True)
    assert db(lambda s: s.scalar(select(func.count()).select_from(OrderRefund))) == 0


def test_a_form_sent_twice_refunds_once(app, db, paid):
    order_id, _buyer, seller, _supplier, _contractor = paid
    key = refund_key(seller.get(f"/orders/{order_id}").get_data(as_text=True))
    assert refund(seller, order_id, "1000", "damaged load", key=key).status_code == 302
    second = refund(seller, order_id, "1000", "damaged load", key=key)
    assert second.status_code == 302
    page = seller.get(second.headers["Location"]).get_data(as_text=True)
    assert "already made" in page
    assert len(refunds(db, order_id)) == 1
    assert order_row(db, order_id).current_payment.refunded_yen == 1000
    # The same key for a different amount is a mistake, not a repeat.
    clash = refund(seller, order_id, "2000", "damaged load", key=key)
    assert clash.status_code == 409 and "already used" in clash.get_data(as_text=True)
    assert len(refunds(db, order_id)) == 1


@pytest.mark.commits  # threads race on connections of their own
@pytest.mark.parametrize("same_key", [True, False], ids=["double-submit", "two-tabs"])
def test_concurrent_refunds_return_the_money_once(app, db, paid, monkeypatch, same_key):
    """Two refunds of ¥40,000 (of ¥48,400) at the same moment: both read the payment before
    either writes, and the slow step between read and write lets them overlap. Exactly one
    goes through; with the same key the other answers with it, else it is refused."""
    from market.orders import refunds as refund_services

    order_id, _buyer, seller, supplier, _contractor = paid
    clients = [seller, signed_in(app, supplier)]
    keys = ["race-key", "race-key"] if same_key else ["race-a", "race-b"]
    both_read = threading.Barrier(2, timeout=10)
    real = refund_services._refund_input

    def slow_input(data, remaining):
        result = real(data, remaining)
        both_read.wait()  # both requests have read the payment and passed the checks
        return result

    monkeypatch.setattr(refund_services, "_refund_input", slow_input)
    statuses: list[int] = []

    def post(client, key):
        statuses.append(refund(client, order_id, "40000", "race", key=key).status_code)

    threads = [
        threading.Thread(target=post, args=(c, k)) for c, k in zip(clients, keys, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(statuses) == 2
    assert sorted(statuses) == ([302, 302] if same_key else [302, 409]), statuses
    assert len(refunds(db, order_id)) == 1
    payment = order_row(db, order_id).current_payment
    assert (payment.refunded_yen, payment.status) == (40000, "partially_refunded")
    assert audit_count(db) == 1


def test_negative_price_the_receiver_refunds_and_issues_the_credit_note(app, db, factory):
    supplier = factory.user(invoice_registration_no=REG_SELLER)
    receiver = factory.user(invoice_registration_no=REG_BUYER)
    listing_id = factory.listing(supplier, "soil_offer", quantity=50, price_per_unit=-1500)
    buyer, seller = signed_in(app, receiver), signed_in(app, supplier)
    order_id = request_quantity(
        buyer, listing_id, quantity="10", transport_arrangement="receiver_collects"
    )
    act(seller, order_id, "accept")
    act(buyer, order_id, "issue_invoice")
    act(buyer, order_id, "mark_paid")
    assert (
        refund(seller, order_id, "1000", "x", key="k-seller").status_code == 403
    )  # the seller paid
    assert refund(buyer, order_id, "16500", "soil refused at the gate").status_code == 302
    [done] = refunds(db, order_id)
    assert done.credit_note["issuer_name"] == db(lambda s: s.get(Order, order_id).buyer.name)
    assert done.credit_note["registration_number"] == REG_BUYER
    assert done.credit_note["per_rate"] == [
        {"rate_percent": 10, "taxable_yen": 15000, "tax_yen": 1500}
    ]
    page = seller.get(f"/orders/{order_id}/refunds/{done.id}/credit-note").get_data(as_text=True)
    assert REG_BUYER in page and "¥16,500" in page


def test_credit_notes_of_other_orders_are_not_found(app, db, factory, paid):
    order_id, _buyer, seller, _supplier, _contractor = paid
    assert refund(seller, order_id, "100", "x").status_code == 302
    [done] = refunds(db, order_id)
    stranger = signed_in(app, factory.user())
    assert stranger.get(f"/orders/{order_id}/refunds/{done.id}/credit-note").status_code == 404
    assert stranger.get(f"/orders/{order_id}/refunds/{done.id}/credit-note.pdf").status_code == 404
    assert seller.get(f"/orders/{order_id}/refunds/{done.id + 1}/credit-note").status_code == 404


def test_refunds_through_the_api(app, db, client, paid):
    from market.accounts.models import User
    from market.accounts.services import issue_api_token

    order_id, _buyer, _seller, supplier, contractor = paid
    headers = {}
    with app.test_request_context():
        session = app.extensions["meguri.db"].session()
        for member in (supplier, contractor):
            headers[member.org_id] = {
                "Authorization": f"Bearer {issue_api_token(session, session.get(User, member.id), 'ci')[1]}"
            }
        session.commit()
    seller_h = {**headers[supplier.org_id], "Idempotency-Key": "api-1"}
    url = f"/api/v1/orders/{order_id}/refunds"

    bad = client.post(url, json={"amount_yen": "lots", "reason": ""}, headers=seller_h)
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"amount_yen", "reason"}
    over = client.post(url, json={"amount_yen": 50000, "reason": "x"}, headers=seller_h)
    assert over.status_code == 422 and "¥48,400" in over.get_json()["errors"]["amount_yen"]
    payer = client.post(
        url, json={"amount_yen": 100, "reason": "x"}, headers=headers[contractor.org_id]
    )
    assert payer.status_code == 403 and "error" in payer.get_json()
    assert client.post(url, json={"amount_yen": 100, "reason": "x"}).status_code == 401

    created = client.post(
        url, json={"amount_yen": 2200, "reason": "late delivery"}, headers=seller_h
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (
        body["payment"]["refunded_yen"] == 2200
        and body["payment"]["status"] == "partially_refunded"
    )
    [r] = body["refunds"]
    assert (r["amount_yen"], r["reason"], r["by_organisation_id"]) == (
        2200,
        "late delivery",
        supplier.org_id,
    )
    assert (
        r["credit_note"]["number"] == "CN-INV-1-1-1"
        and r["credit_note"]["invoice_number"] == "INV-1-1"
    )
    assert r["credit_note"]["per_rate"] == [
        {"rate_percent": 10, "taxable_yen": 2000, "tax_yen": 200}
    ]

    replay = client.post(
        url, json={"amount_yen": 2200, "reason": "late delivery"}, headers=seller_h
    )
    assert replay.status_code == 200 and len(replay.get_json()["refunds"]) == 1
    doc = client.get("/api/v1/openapi.json").get_json()
    assert {"200", "201", "403", "409", "422"} <= set(
        doc["paths"]["/api/v1/orders/{order_id}/refunds"]["post"]["responses"]
    )
    read = client.get(f"/api/v1/orders/{order_id}", headers=headers[contractor.org_id]).get_json()
    assert read["refunds"] == body["refunds"]
    assert order_row(db, order_id).current_payment.refunded_yen == 2200
