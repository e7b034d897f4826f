"""Qualified invoices: required 適格請求書 items, registration number, PDF and printable page."""

import os
import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest

from payments import (
    InvalidPaymentInput,
    InvoiceFontMissing,
    InvoiceGateway,
    InvoiceLine,
    Party,
    invoice_context,
    render_invoice_html,
    render_invoice_pdf,
)
from payments.invoice import DEFAULT_FONT_PATH, resolve_font_path

ISSUED = date(2025, 11, 10)

needs_font = pytest.mark.skipif(
    not os.path.exists(DEFAULT_FONT_PATH),
    reason=f"Japanese font missing at {DEFAULT_FONT_PATH} (Debian: fonts-ipafont-gothic)",
)


def soil(unit_price, quantity="100", tax_rate=10):
    return InvoiceLine(
        "第二種建設発生土",
        Decimal(quantity),
        "m³",
        Decimal(unit_price),
        tax_rate,
        delivered_on=date(2025, 11, 3),
    )


@pytest.fixture
def gateway():
    return InvoiceGateway(platform_fee_rate="0.05", today=lambda: ISSUED)


@pytest.mark.parametrize(
    "number",
    ["T123456789012", "1234567890123", "T12345678901234", "t1234567890123", "T123456789012X"],
)
def test_registration_number_must_be_T_and_13_digits(number):
    with pytest.raises(InvalidPaymentInput) as info:
        Party(id="x", name="株式会社テスト", registration_number=number)
    assert info.value.field == "registration_number"


def test_invoice_carries_every_qualified_invoice_item(gateway, make_order):
    order = make_order(soil(1200), InvoiceLine("お茶", Decimal(2), "本", Decimal(150), 8))
    invoice = gateway.create_payment(order).invoice
    ctx = invoice_context(invoice)
    assert ctx["title"] == "適格請求書"
    assert ctx["issuer_name"] == "株式会社めぐり建設"
    assert ctx["registration_number"] == "T1234567890123"
    assert ctx["recipient_name"] == "山田造園株式会社"
    assert ctx["issue_date"] == "2025-11-10"
    assert ctx["transaction_date"] == "2025-11-03"
    assert ctx["due_date"] == "2025-12-10"
    assert [li["description"] for li in ctx["lines"]] == ["第二種建設発生土", "お茶 ※"]
    assert ctx["per_rate"] == [
        {"label": "10%対象", "taxable": "¥120,000", "tax": "¥12,000"},
        {"label": "8%対象", "taxable": "¥300", "tax": "¥24"},
    ]
    assert ctx["total"] == "¥132,324"
    assert ctx["bank_account"]["account_number"] == "1234567"


def test_negative_price_invoice_is_issued_by_the_buyer_to_the_seller(gateway, make_order):
    payment = gateway.create_payment(make_order(soil(-1000)))
    invoice = payment.invoice
    assert invoice.issuer_name == "山田造園株式会社"  # the receiver of the soil is paid
    assert invoice.recipient_name == "株式会社めぐり建設"
    assert invoice.registration_number == "T9876543210987"
    assert (payment.payer_id, payment.payee_id) == ("org-seller", "org-buyer")
    assert payment.amount_yen == 110000
    assert invoice_context(invoice)["negative_price_note"]


def test_payee_without_registration_number_gets_a_plain_invoice(gateway, make_order, seller):
    from dataclasses import replace

    order = replace(make_order(soil(1000)), seller=replace(seller, registration_number=None))
    invoice = gateway.create_payment(order).invoice
    assert not invoice.is_qualified
    assert invoice.title == "請求書"
    assert "適格請求書発行事業者ではありません" in render_invoice_html(invoice)


def test_printable_page_escapes_user_text(gateway, make_order):
    order = make_order(InvoiceLine("<script>alert(1)</script>", Decimal(1), "式", Decimal(1000)))
    page = render_invoice_html(gateway.create_payment(order).invoice)
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
    assert "登録番号: T1234567890123" in page


@needs_font
def test_pdf_is_a_pdf(gateway, make_order):
    payment = gateway.create_payment(make_order(soil(1200)))
    pdf = gateway.render_pdf(payment)
    assert pdf.startswith(b"%PDF-")
    assert render_invoice_pdf(payment.invoice) == pdf  # deterministic for the same invoice


@needs_font
@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) not installed")
def test_pdf_text_shows_the_invoice_items(gateway, make_order, tmp_path):
    payment = gateway.create_payment(make_order(soil(1200)))
    path = tmp_path / "invoice.pdf"
    path.write_bytes(gateway.render_pdf(payment))
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "適格請求書",
        "T1234567890123",
        "山田造園株式会社",
        "第二種建設発生土",
        "10%対象",
        "132,000",
        "2025-11-03",
    ):
        assert expected in text


def test_missing_font_fails_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.delenv("MEGURI_INVOICE_FONT", raising=False)
    with pytest.raises(InvoiceFontMissing) as info:
        resolve_font_path(tmp_path / "nope.ttf")
    assert "fonts-ipafont-gothic" in info.value.message
    assert "MEGURI_INVOICE_FONT" in info.value.message


def test_font_path_comes_from_the_environment(tmp_path, monkeypatch):
    font = tmp_path / "font.ttf"
    font.write_bytes(b"")
    monkeypatch.setenv("MEGURI_INVOICE_FONT", str(font))
    assert resolve_font_path() == font
