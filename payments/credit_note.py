"""返還インボイス (適格返還請求書): the credit note a registered issuer gives when it returns
money paid against a qualified invoice (返品・値引き・返金).

It must name the issuer and its registration number, the date of the refund and of the
original sale, what was sold (8 % items marked), and the refunded amount per tax rate with
the consumption tax or rate (消費税法 57 条の 4 第 3 項). Tax is rounded once per rate per
credit note, like the invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from payments.domain import validate_registration_number
from payments.errors import InvalidPaymentInput
from payments.invoice import JST, REDUCED_RATE_MARK, QualifiedInvoice, pdf_document, pdf_parties
from payments.money import TaxBreakdown, format_yen


def tax_included(rate_percent: int, amount_incl_yen: int) -> int:
    """The consumption tax inside a tax-inclusive amount, truncated (端数切り捨て)."""
    return amount_incl_yen * rate_percent // (100 + rate_percent)


def split_refund(
    invoice_per_rate: tuple[TaxBreakdown, ...],
    amount_yen: int,
    refunded_before: dict[int, int] | None = None,
) -> tuple[TaxBreakdown, ...]:
    """Share a tax-inclusive refund across the invoice's tax rates.

    Each rate gets a part in proportion to what is still unrefunded at that rate (largest
    remainder, so the parts add up to ``amount_yen`` and no rate returns more than it was
    paid); the tax inside each part is then truncated once. ``refunded_before`` maps a rate
    to the tax-inclusive yen earlier credit notes returned at it. A refund of everything in
    one go gives back exactly the invoice's own taxable amounts and tax.
    """
    refunded_before = refunded_before or {}
    # A rate whose total is negative (a deduction on the invoice) takes no part.
    left = {
        b.rate_percent: max(0, b.total_yen - refunded_before.get(b.rate_percent, 0))
        for b in invoice_per_rate
    }
    available = sum(left.values())
    if (
        isinstance(amount_yen, bool)
        or not isinstance(amount_yen, int)
        or not 1 <= amount_yen <= available
    ):
        raise InvalidPaymentInput("amount_yen", f"返還額は 1 円から {available:,} 円までです。")
    shares = {rate: Decimal(amount_yen) * value / available for rate, value in left.items()}
    parts = {rate: int(share) for rate, share in shares.items()}
    # Hand the yen the truncation left over to the largest fractions; each of those rates
    # has a fraction > 0, so its part was below what is left at it and +1 still fits.
    short = amount_yen - sum(parts.values())
    for rate in sorted(shares, key=lambda r: (-(shares[r] - parts[r]), -r))[:short]:
        parts[rate] += 1
    out = []
    for b in invoice_per_rate:
        part = parts[b.rate_percent]
        if part:
            tax = tax_included(b.rate_percent, part)
            out.append(
                TaxBreakdown(rate_percent=b.rate_percent, taxable_yen=part - tax, tax_yen=tax)
            )
    return tuple(out)


@dataclass(frozen=True)
class CreditNoteItem:
    """What was sold on the original invoice (the 返還等の対象となった取引の内容)."""

    description: str
    tax_rate: int


@dataclass(frozen=True)
class CreditNote:
    """適格返還請求書. Without a registration number it is a plain 返還請求書."""

    number: str
    order_id: str
    invoice_number: str  # the invoice the money was paid against
    invoice_issue_date: date
    transaction_date: date  # 返還等の基となった取引の年月日
    issue_date: date  # 返還等を行う年月日 (the refund is made the day the note is issued)
    issuer_name: str
    registration_number: str | None
    issuer_address: str
    recipient_name: str
    items: tuple[CreditNoteItem, ...]
    per_rate: tuple[TaxBreakdown, ...]  # the refunded amounts
    reason: str = ""

    def __post_init__(self) -> None:
        validate_registration_number(self.registration_number)
        if not self.number.strip():
            raise InvalidPaymentInput("number", "返還請求書番号がありません。")
        if not self.per_rate or any(b.total_yen <= 0 for b in self.per_rate):
            raise InvalidPaymentInput("amount_yen", "返還額がありません。")
        if self.issue_date < self.invoice_issue_date:
            raise InvalidPaymentInput("issue_date", "返還日は請求書の発行日以降の日付です。")

    @property
    def is_qualified(self) -> bool:
        return self.registration_number is not None

    @property
    def title(self) -> str:
        return "適格返還請求書" if self.is_qualified else "返還請求書"

    @property
    def amount_yen(self) -> int:
        return sum(b.total_yen for b in self.per_rate)

    @property
    def tax_yen(self) -> int:
        return sum(b.tax_yen for b in self.per_rate)


def build_credit_note(
    invoice: QualifiedInvoice,
    amount_yen: int,
    *,
    number: str,
    issue_date: date,
    reason: str = "",
    refunded_before: dict[int, int] | None = None,
) -> CreditNote:
    """The credit note for returning ``amount_yen`` (tax included) of ``invoice``'s total,
    issued by the invoice's issuer to its recipient."""
    return CreditNote(
        number=number,
        order_id=invoice.order_id,
        invoice_number=invoice.number,
        invoice_issue_date=invoice.issue_date,
        transaction_date=invoice.transaction_date,
        issue_date=issue_date,
        issuer_name=invoice.issuer_name,
        registration_number=invoice.registration_number,
        issuer_address=invoice.issuer_address,
        recipient_name=invoice.recipient_name,
        items=tuple(
            CreditNoteItem(p.line.description, p.line.tax_rate) for p in invoice.totals.lines
        ),
        per_rate=split_refund(invoice.totals.per_rate, amount_yen, refunded_before),
        reason=reason,
    )


def credit_note_context(note: CreditNote) -> dict:
    """Display-ready strings for the app's printable page and the PDF."""
    return {
        "title": note.title,
        "number": note.number,
        "order_id": note.order_id,
        "invoice_number": note.invoice_number,
        "invoice_issue_date": note.invoice_issue_date.isoformat(),
        "transaction_date": note.transaction_date.isoformat(),
        "issue_date": note.issue_date.isoformat(),
        "issuer_name": note.issuer_name,
        "issuer_address": note.issuer_address,
        "registration_number": note.registration_number,
        "recipient_name": note.recipient_name,
        "goods": [
            i.description + (f" {REDUCED_RATE_MARK}" if i.tax_rate == 8 else "") for i in note.items
        ],
        "has_reduced_rate": any(i.tax_rate == 8 for i in note.items),
        "per_rate": [
            {
                "label": f"{b.rate_percent}%対象" if b.rate_percent else "非課税・不課税",
                "taxable": format_yen(b.taxable_yen),
                "tax": format_yen(b.tax_yen),
                "total": format_yen(b.total_yen),
            }
            for b in note.per_rate
        ],
        "taxable": format_yen(sum(b.taxable_yen for b in note.per_rate)),
        "tax": format_yen(note.tax_yen),
        "total": format_yen(note.amount_yen),
        "reason": note.reason,
    }


def render_credit_note_pdf(note: CreditNote, font_path=None) -> bytes:
    """The credit note as an A4 PDF (same font and layout rules as the invoice)."""
    c = credit_note_context(note)
    pdf, line = pdf_document(
        f"{c['title']} {c['number']}",
        datetime.combine(note.issue_date, datetime.min.time(), JST),
        font_path,
    )
    line(c["title"], size=18, align="C", h=12)
    line(f"返還請求書番号: {c['number']}　発行日（返還日）: {c['issue_date']}", align="R")
    line(f"元の請求書番号: {c['invoice_number']}（発行日 {c['invoice_issue_date']}）", align="R")
    line(f"注文番号: {c['order_id']}", align="R")
    pdf_parties(pdf, line, c)
    line(f"返還等の対象となった取引の年月日: {c['transaction_date']}")
    line(f"返還金額（税込）  {c['total']}", size=15, h=10)
    if c["reason"]:
        line(f"理由: {c['reason']}", size=9)
    pdf.ln(2)
    line("返還等の対象となった取引の内容", size=11)
    for item in c["goods"]:
        line(f"・{item}", size=9)
    if c["has_reduced_rate"]:
        line(f"{REDUCED_RATE_MARK} は軽減税率（8%）対象", size=8)
    pdf.ln(3)

    pdf.set_font("jp", size=10)
    with pdf.table(
        col_widths=(30, 34, 30, 34),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=6,
        headings_style=_headings(),
    ) as table:
        table.row(["税率", "返還額（税抜）", "消費税額", "返還額（税込）"])
        for r in c["per_rate"]:
            table.row([r["label"], r["taxable"], r["tax"], r["total"]])
        table.row(["合計", c["taxable"], c["tax"], c["total"]])
    return bytes(pdf.output())


def _headings():
    from fpdf.fonts import FontFace

    # The TTF has no bold face: shade the heading row instead.
    return FontFace(emphasis=None, fill_color=(230, 230, 230))
