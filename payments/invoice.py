"""Invoice payments (請求書払い), the default backend: a qualified invoice (適格請求書) issued by
the payee to the payer, settled by bank transfer and marked paid by the payee.
"""

from __future__ import annotations

import dataclasses
import html
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from payments.domain import (
    BankAccount,
    BillableOrder,
    validate_registration_number,
)
from payments.errors import (
    InvalidPaymentInput,
    InvoiceFontMissing,
)
from payments.money import Direction, Totals, format_yen

DEFAULT_FONT_PATH = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"
FONT_ENV = "MEGURI_INVOICE_FONT"
REDUCED_RATE_MARK = "※"
JST = timezone(timedelta(hours=9))


@dataclass(frozen=True)
class QualifiedInvoice:
    """適格請求書. Without a registration number it is a plain 請求書 (is_qualified False):
    the issuer is then a 免税事業者 and the payer cannot claim the input tax credit."""

    number: str
    order_id: str
    issuer_name: str
    registration_number: str | None
    issuer_address: str
    recipient_name: str
    issue_date: date
    transaction_date: date
    due_date: date
    totals: Totals
    bank_account: BankAccount | None = None
    # A periodic statement (e.g. "2026年10月分") instead of one order: shown in place of
    # the order number.
    period: str | None = None

    def __post_init__(self) -> None:
        validate_registration_number(self.registration_number)
        if not self.number.strip():
            raise InvalidPaymentInput("number", "請求書番号がありません。")
        if self.due_date < self.issue_date:
            raise InvalidPaymentInput("due_date", "支払期日は発行日以降の日付にしてください。")

    @property
    def is_qualified(self) -> bool:
        return self.registration_number is not None

    @property
    def title(self) -> str:
        return "適格請求書" if self.is_qualified else "請求書"


def build_invoice(
    order: BillableOrder, totals: Totals, *, number: str, issue_date: date, payment_terms_days: int
) -> QualifiedInvoice:
    payer, payee = order.payer_and_payee(totals)
    return QualifiedInvoice(
        number=number,
        order_id=order.order_id,
        issuer_name=payee.name,
        registration_number=payee.registration_number,
        issuer_address=payee.address,
        recipient_name=payer.name,
        issue_date=issue_date,
        transaction_date=order.transaction_date,
        due_date=issue_date + timedelta(days=payment_terms_days),
        totals=totals,
        bank_account=payee.bank_account,
    )


def _quantity_text(quantity: Decimal) -> str:
    text = format(quantity.normalize(), "f")
    return text


def _unit_price_text(price: Decimal) -> str:
    if price == price.to_integral_value():
        return format_yen(int(price))
    return ("-¥" if price < 0 else "¥") + format(abs(price).normalize(), ",f")


def invoice_context(invoice: QualifiedInvoice) -> dict:
    """Display-ready strings for a template (the app's printable page) or any renderer."""
    totals = invoice.totals
    return {
        "title": invoice.title,
        "number": invoice.number,
        "order_id": invoice.order_id,
        "period": invoice.period,
        "issuer_name": invoice.issuer_name,
        "issuer_address": invoice.issuer_address,
        "registration_number": invoice.registration_number,
        "recipient_name": invoice.recipient_name,
        "issue_date": invoice.issue_date.isoformat(),
        "transaction_date": invoice.transaction_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "lines": [
            {
                "date": (p.line.delivered_on or invoice.transaction_date).isoformat(),
                "description": p.line.description
                + (f" {REDUCED_RATE_MARK}" if p.line.tax_rate == 8 else ""),
                "quantity": _quantity_text(p.line.quantity),
                "unit": p.line.unit,
                "unit_price": _unit_price_text(p.unit_price_yen),
                "amount": format_yen(p.amount_yen),
                "tax_rate": f"{p.line.tax_rate}%",
            }
            for p in totals.lines
        ],
        "per_rate": [
            {
                "label": f"{b.rate_percent}%対象" if b.rate_percent else "非課税・不課税",
                "taxable": format_yen(b.taxable_yen),
                "tax": format_yen(b.tax_yen),
            }
            for b in totals.per_rate
        ],
        "has_reduced_rate": any(b.rate_percent == 8 for b in totals.per_rate),
        "subtotal": format_yen(totals.subtotal_yen),
        "tax": format_yen(totals.tax_yen),
        "total": format_yen(totals.total_yen),
        "bank_account": dataclasses.asdict(invoice.bank_account) if invoice.bank_account else None,
        "negative_price_note": (
            "本取引は逆有償のため、売主が買主にお支払いいただきます。"
            if totals.direction is Direction.SELLER_PAYS
            else None
        ),
    }


def render_invoice_html(invoice: QualifiedInvoice) -> str:
    """A self-contained printable page (A4, print CSS); the app may use its own template."""
    c = invoice_context(invoice)
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(li['date'])}</td><td>{e(li['description'])}</td>"
        f"<td class=n>{e(li['quantity'])}</td><td>{e(li['unit'])}</td>"
        f"<td class=n>{e(li['unit_price'])}</td><td class=n>{e(li['amount'])}</td>"
        f"<td class=n>{e(li['tax_rate'])}</td></tr>"
        for li in c["lines"]
    )
    per_rate = "".join(
        f"<tr><th>{e(r['label'])}</th><td class=n>{e(r['taxable'])}</td>"
        f"<th>消費税</th><td class=n>{e(r['tax'])}</td></tr>"
        for r in c["per_rate"]
    )
    reg = (
        f"<p>登録番号: {e(c['registration_number'])}</p>"
        if c["registration_number"]
        else "<p>（適格請求書発行事業者ではありません）</p>"
    )
    bank = ""
    if c["bank_account"]:
        b = c["bank_account"]
        bank = (
            f"<h2>お振込先</h2><p>{e(b['bank_name'])} {e(b['branch_name'])} "
            f"{e(b['account_type'])} {e(b['account_number'])} {e(b['account_holder'])}</p>"
        )
    note = f"<p>{e(c['negative_price_note'])}</p>" if c["negative_price_note"] else ""
    reduced = f"<p>{REDUCED_RATE_MARK} は軽減税率（8%）対象</p>" if c["has_reduced_rate"] else ""
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>{e(c["title"])} {e(c["number"])}</title>
<style>
@page {{ size: A4; margin: 15mm; }}
body {{ font-family: "IPAGothic", "Noto Sans JP", sans-serif; font-size: 10pt; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #999; padding: 2px 4px; }}
.n {{ text-align: right; }}
.total {{ font-size: 14pt; font-weight: bold; }}
</style></head><body>
<h1>{e(c["title"])}</h1>
<p>請求書番号: {e(c["number"])}　発行日: {e(c["issue_date"])}　注文番号: {e(c["order_id"])}</p>
<p>{e(c["recipient_name"])} 御中</p>
<p>{e(c["issuer_name"])}<br>{e(c["issuer_address"])}</p>{reg}
<p>取引年月日: {e(c["transaction_date"])}　お支払期日: {e(c["due_date"])}</p>
<p class="total">ご請求金額（税込） {e(c["total"])}</p>{note}
<table><tr><th>日付</th><th>品目</th><th>数量</th><th>単位</th><th>単価</th><th>金額（税抜）</th>
<th>税率</th></tr>{rows}</table>{reduced}
<table>{per_rate}<tr><th>小計（税抜）</th><td class=n>{e(c["subtotal"])}</td>
<th>消費税合計</th><td class=n>{e(c["tax"])}</td></tr>
<tr><th colspan=3>合計（税込）</th><td class=n>{e(c["total"])}</td></tr></table>
{bank}
</body></html>
"""


def resolve_font_path(font_path: str | os.PathLike | None = None) -> Path:
    """The Japanese TTF for PDFs: the argument, else $MEGURI_INVOICE_FONT, else IPA Gothic."""
    path = Path(font_path or os.environ.get(FONT_ENV) or DEFAULT_FONT_PATH)
    if not path.is_file():
        raise InvoiceFontMissing(
            f"請求書PDF用の日本語フォントが見つかりません: {path}。"
            f"Debian パッケージ fonts-ipafont-gothic を入れるか、{FONT_ENV} に TTF の"
            "パスを設定してください。"
        )
    return path


def pdf_parties(pdf, line, c: dict) -> None:
    """The recipient (御中), then the issuer with its address and registration number, as
    an invoice and a credit note both show them."""
    pdf.ln(2)
    line(f"{c['recipient_name']} 御中", size=13, h=8)
    pdf.ln(2)
    line(c["issuer_name"], align="R")
    if c["issuer_address"]:
        line(c["issuer_address"], align="R")
    line(
        f"登録番号: {c['registration_number']}"
        if c["registration_number"]
        else "（適格請求書発行事業者ではありません）",
        align="R",
    )
    pdf.ln(2)


def pdf_document(title: str, created: datetime, font_path: str | os.PathLike | None = None):
    """An A4 page set up with the Japanese TTF, and a ``line(text, size, align, h)`` helper
    that writes one full-width line. The creation date is fixed so the same document always
    gives the same bytes."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    font = resolve_font_path(font_path)
    pdf = FPDF(format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(title)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("jp", fname=str(font))
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: float = 10, align: str = "L", h: float = 6) -> None:
        pdf.set_font("jp", size=size)
        pdf.cell(width, h, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    return pdf, line


def render_invoice_pdf(
    invoice: QualifiedInvoice, font_path: str | os.PathLike | None = None
) -> bytes:
    """The invoice as an A4 PDF, text embedded with a Japanese TTF (subset)."""
    from fpdf.fonts import FontFace

    c = invoice_context(invoice)
    pdf, line = pdf_document(
        f"{c['title']} {c['number']}",
        datetime.combine(invoice.issue_date, datetime.min.time(), JST),
        font_path,
    )

    line(c["title"], size=18, align="C", h=12)
    line(f"請求書番号: {c['number']}　発行日: {c['issue_date']}", align="R")
    line(f"対象期間: {c['period']}" if c["period"] else f"注文番号: {c['order_id']}", align="R")
    pdf_parties(pdf, line, c)
    line(f"取引年月日: {c['transaction_date']}　お支払期日: {c['due_date']}")
    line(f"ご請求金額（税込）  {c['total']}", size=15, h=10)
    if c["negative_price_note"]:
        line(c["negative_price_note"], size=9)
    pdf.ln(2)

    pdf.set_font("jp", size=9)
    with pdf.table(
        col_widths=(20, 58, 16, 12, 24, 26, 12),
        text_align=("LEFT", "LEFT", "RIGHT", "CENTER", "RIGHT", "RIGHT", "RIGHT"),
        line_height=6,
        # The TTF has no bold face: shade the heading row instead.
        headings_style=FontFace(emphasis=None, fill_color=(230, 230, 230)),
    ) as table:
        table.row(["日付", "品目", "数量", "単位", "単価", "金額（税抜）", "税率"])
        for li in c["lines"]:
            table.row(
                [
                    li["date"],
                    li["description"],
                    li["quantity"],
                    li["unit"],
                    li["unit_price"],
                    li["amount"],
                    li["tax_rate"],
                ]
            )
    if c["has_reduced_rate"]:
        line(f"{REDUCED_RATE_MARK} は軽減税率（8%）対象", size=8)
    pdf.ln(3)

    pdf.set_font("jp", size=10)
    with pdf.table(
        col_widths=(30, 30, 20, 30),
        text_align=("LEFT", "RIGHT", "LEFT", "RIGHT"),
        width=110,
        align="RIGHT",
        line_height=6,
        first_row_as_headings=False,
    ) as table:
        for r in c["per_rate"]:
            table.row([r["label"], r["taxable"], "消費税", r["tax"]])
        table.row(["小計（税抜）", c["subtotal"], "消費税計", c["tax"]])
        table.row(["合計（税込）", "", "", c["total"]])

    if c["bank_account"]:
        b = c["bank_account"]
        pdf.ln(4)
        line("お振込先", size=11)
        line(f"{b['bank_name']} {b['branch_name']} {b['account_type']} {b['account_number']}")
        line(f"口座名義: {b['account_holder']}")
        line("振込手数料はご負担ください。", size=8)
    return bytes(pdf.output())


def default_credit_note_number(invoice_number: str, sequence: int) -> str:
    """The n-th credit note against an invoice: its own number, traceable to the invoice."""
    return f"CN-{invoice_number}-{sequence}"


def default_invoice_number(order: BillableOrder) -> str:
    """Unique per order attempt; the app may pass its own numbering (e.g. a DB sequence)."""
    return f"INV-{order.order_id}-{order.attempt}"
