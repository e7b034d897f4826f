"""返還インボイス (適格返還請求書): refunded amounts per tax rate, the required items, the PDF."""

import os
import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments import (
    InvalidPaymentInput,
    InvalidTransition,
    InvoiceGateway,
    InvoiceLine,
    TaxBreakdown,
    credit_note_context,
    render_credit_note_pdf,
    split_refund,
)
from payments.invoice import DEFAULT_FONT_PATH

ISSUED = date(2025, 11, 10)
REFUNDED = date(2025, 11, 20)

needs_font = pytest.mark.skipif(
    not os.path.exists(DEFAULT_FONT_PATH),
    reason=f"Japanese font missing at {DEFAULT_FONT_PATH} (Debian: fonts-ipafont-gothic)",
)


def soil(unit_price="1200", quantity="100", tax_rate=10, description="第二種建設発生土"):
    return InvoiceLine(
        description,
        Decimal(quantity),
        "m³",
        Decimal(unit_price),
        tax_rate,
        delivered_on=date(2025, 11, 3),
    )


def paid_payment(make_order, *lines):
    issuing = InvoiceGateway(today=lambda: ISSUED)
    return issuing.mark_paid(issuing.create_payment(make_order(*lines)))


@pytest.fixture
def gateway():
    return InvoiceGateway(today=lambda: REFUNDED)


def rates(*pairs):
    """Invoice per-rate totals from (rate, taxable) pairs, tax truncated once per rate."""
    return tuple(TaxBreakdown(rate, taxable, taxable * rate // 100) for rate, taxable in pairs)


def test_a_full_refund_returns_exactly_the_invoice_amounts_per_rate():
    invoice = rates((10, 120_000), (8, 301))  # ¥132,000 and ¥325 (tax 24.08 → 24)
    assert split_refund(invoice, 132_325) == invoice


def test_a_partial_refund_is_shared_in_proportion_and_taxed_once_per_rate():
    invoice = rates((10, 100_000), (8, 100_000))  # ¥110,000 and ¥108,000
    parts = split_refund(invoice, 10_000)
    assert [(b.rate_percent, b.total_yen) for b in parts] == [(10, 5046), (8, 4954)]
    assert [b.tax_yen for b in parts] == [5046 * 10 // 110, 4954 * 8 // 108]  # 458, 366
    assert sum(b.total_yen for b in parts) == 10_000


def test_later_refunds_only_take_what_is_left_at_each_rate():
    invoice = rates((10, 1000), (8, 1000))  # ¥1,100 and ¥1,080
    parts = split_refund(invoice, 1080, refunded_before={10: 1100})
    assert [(b.rate_percent, b.total_yen) for b in parts] == [(8, 1080)]
    with pytest.raises(InvalidPaymentInput) as info:
        split_refund(invoice, 1081, refunded_before={10: 1100})
    assert info.value.field == "amount_yen"


@pytest.mark.parametrize("amount", [0, -1, 2181, "100", 1.5, True])
def test_bad_amounts_are_refused_naming_the_field(amount):
    with pytest.raises(InvalidPaymentInput) as info:
        split_refund(rates((10, 1000), (8, 1000)), amount)
    assert info.value.field == "amount_yen"


@given(
    taxable=st.lists(st.integers(1, 10**7), min_size=1, max_size=3),
    cuts=st.lists(st.integers(1, 10**6), min_size=1, max_size=6),
)
def test_refunds_never_return_more_than_was_paid_at_any_rate(taxable, cuts):
    invoice = rates(*zip((10, 8, 0), taxable, strict=False))
    total = sum(b.total_yen for b in invoice)
    before: dict[int, int] = {}
    for cut in cuts:
        left = total - sum(before.values())
        if left == 0:
            break
        parts = split_refund(invoice, min(cut, left), before)
        assert sum(b.total_yen for b in parts) == min(cut, left)
        for b in parts:
            assert b.tax_yen == b.total_yen * b.rate_percent // (100 + b.rate_percent)
            before[b.rate_percent] = before.get(b.rate_percent, 0) + b.total_yen
    for b in invoice:
        assert 0 <= before.get(b.rate_percent, 0) <= b.total_yen
    if sum(before.values()) == total:  # everything returned: exactly the invoice, rate by rate
        assert all(before[b.rate_percent] == b.total_yen for b in invoice)


def test_credit_note_carries_every_required_item(gateway, make_order):
    payment = paid_payment(make_order, soil(), soil("150", "2", 8, "お茶"))
    note = gateway.issue_credit_note(payment, 13_232, number="CN-INV-ORD-1-1-1", reason="品質不良")
    ctx = credit_note_context(note)
    assert ctx["title"] == "適格返還請求書"
    assert (ctx["number"], ctx["invoice_number"]) == ("CN-INV-ORD-1-1-1", "INV-ORD-1-1")
    assert ctx["registration_number"] == "T1234567890123"
    assert (ctx["issuer_name"], ctx["recipient_name"]) == ("株式会社めぐり建設", "山田造園株式会社")
    assert (ctx["issue_date"], ctx["invoice_issue_date"], ctx["transaction_date"]) == (
        "2025-11-20",
        "2025-11-10",
        "2025-11-03",
    )
    assert ctx["goods"] == ["第二種建設発生土", "お茶 ※"]
    # A tenth of ¥132,324: ¥13,200 at 10 % and ¥32 at 8 %, tax inside each truncated once.
    assert ctx["per_rate"] == [
        {"label": "10%対象", "taxable": "¥12,000", "tax": "¥1,200", "total": "¥13,200"},
        {"label": "8%対象", "taxable": "¥30", "tax": "¥2", "total": "¥32"},
    ]
    assert ctx["total"] == "¥13,232" and ctx["reason"] == "品質不良"


def test_credit_note_needs_a_paid_invoice_and_an_amount_it_covers(gateway, make_order):
    issuing = InvoiceGateway(today=lambda: ISSUED)
    unpaid = issuing.create_payment(make_order(soil()))
    with pytest.raises(InvalidTransition):
        gateway.issue_credit_note(unpaid, 100, number="CN-1")
    paid = issuing.mark_paid(unpaid)
    with pytest.raises(InvalidPaymentInput) as info:
        gateway.issue_credit_note(paid, paid.amount_yen + 1, number="CN-1")
    assert info.value.field == "amount_yen"


def test_an_unregistered_issuer_gives_a_plain_credit_note(gateway, make_order, seller):
    from dataclasses import replace

    order = replace(make_order(soil()), seller=replace(seller, registration_number=None))
    issuing = InvoiceGateway(today=lambda: ISSUED)
    paid = issuing.mark_paid(issuing.create_payment(order))
    note = gateway.issue_credit_note(paid, 1000, number="CN-1")
    assert not note.is_qualified and note.title == "返還請求書"


@needs_font
@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) not installed")
def test_pdf_text_shows_the_credit_note_items(gateway, make_order, tmp_path):
    payment = paid_payment(make_order, soil())
    note = gateway.issue_credit_note(payment, 55_000, number="CN-INV-ORD-1-1-1", reason="数量不足")
    pdf = gateway.render_credit_note_pdf(note)
    assert pdf == render_credit_note_pdf(note)  # deterministic
    path = tmp_path / "credit-note.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "適格返還請求書",
        "CN-INV-ORD-1-1-1",
        "INV-ORD-1-1",
        "T1234567890123",
        "株式会社めぐり建設",
        "山田造園株式会社",
        "第二種建設発生土",
        "2025-11-20",
        "2025-11-03",
        "10%対象",
        "¥50,000",
        "¥5,000",
        "¥55,000",
        "数量不足",
    ):
        assert expected in text, expected
