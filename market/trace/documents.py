"""Printable documents: the 受領書 as PDF (fpdf2, Japanese TTF found the way the invoice
finds it), the QR code of a ticket (SVG) and the 実施書-shaped CSV."""

from __future__ import annotations

import csv
import io

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from market.formats import quantity
from market.trace.queries import EXPORT_COLUMNS, ReceiptView
from payments.invoice import resolve_font_path

# The receipt is always Japanese: units as written there (the stored content keeps codes).
UNIT_JA = {"m3": "m³", "m2": "m²", "item": "点"}
MATCH_JA = {True: "一致", False: "不一致（計画と異なる搬出先）", None: "計画なし"}


def qr_svg(url: str) -> str:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def export_csv(rows: list[list[str]]) -> bytes:
    """UTF-8 with BOM so that Excel in Japan opens it without mojibake."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def receipt_pdf(view: ReceiptView, font_path=None) -> bytes:
    """The 受領書 on A4. Raises ``payments.InvoiceFontMissing`` without a Japanese font."""
    font = resolve_font_path(font_path)
    c, r = view.c, view.receipt
    pdf = FPDF(format="A4")
    pdf.set_title(f"受領書 {r.number}")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("jp", fname=str(font))
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: float = 10, align: str = "L", h: float = 6) -> None:
        pdf.set_font("jp", size=size)
        pdf.multi_cell(width, h, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line("受領書（建設発生土）", size=18, align="C", h=12)
    line(
        f"受領書番号: {r.number}　発行日: {c['issued_at'][:10]}　注文番号: {c['order_id']}",
        align="R",
    )
    pdf.ln(2)
    line(f"{c['sender']} 御中", size=13, h=8)
    pdf.ln(2)
    haul = _summary_table(pdf, view)
    _tickets_table(pdf, view.c, haul)
    if view.amendments or view.later_ticket_amendments:
        pdf.ln(3)
        line("訂正履歴（原本は保持）", size=10)
        for a in [*view.amendments, *view.later_ticket_amendments]:
            line(
                f"{a.created_at:%Y-%m-%d} {a.field}: {a.old_value} → {a.new_value}（理由: {a.reason}）",
                size=8,
                h=5,
            )
    pdf.ln(3)
    line(f"受領者: {c['receiver']['name']}　{c['receiver']['address']}", size=10)
    line("本受領書は電子的に発行され、運搬完了日から5年間保存されます。", size=8)
    return bytes(pdf.output())


def _summary_table(pdf, view: ReceiptView) -> dict | None:
    """Where the soil went, from where, how much, how far, and against the plan; returns
    the haul (None on receipts issued before distances were recorded)."""
    c = view.c
    pdf.set_font("jp", size=10)
    with pdf.table(col_widths=(45, 135), line_height=7, first_row_as_headings=False) as table:
        table.row(["搬出先の名称", c["destination"]["name"]])
        table.row(["搬出先の住所", c["destination"]["address"]])
        table.row(["搬出先の管理者", view.manager])
        if c["stockyard_registration_no"]:
            table.row(
                [
                    "ストックヤード登録番号",
                    f"{c['stockyard_registration_no']}（登録ストックヤードが確認・受領書の責務を引き継ぐ）",
                ]
            )
        table.row(
            ["搬出元の名称・住所", " / ".join(f"{o['name']} {o['address']}" for o in c["origins"])]
        )
        if c["project_origins"]:
            table.row(
                [
                    "発生元工事現場",
                    " / ".join(f"{o['name']} {o['address']}" for o in c["project_origins"]),
                ]
            )
        table.row(
            ["受領量", f"{quantity(c['volume'], c['unit'])} {UNIT_JA.get(c['unit'], c['unit'])}"]
        )
        haul = c.get("haul")  # receipts issued before distances were recorded have none
        if haul:
            table.row(
                [
                    "運搬距離・運搬CO2",
                    f"伝票に記録された区間（直線距離 × 道路係数 {haul['road_factor']}）: "
                    f"延べ {haul['road_km']} km、運搬に伴うCO2 {haul['transport_co2_kg']} kg"
                    "（改良トンキロ法、空車回送を含む）"
                    + (
                        f"　位置の記録がない伝票 {haul['loads_without_pins']} 件は含みません"
                        if haul["loads_without_pins"]
                        else ""
                    ),
                ]
            )
        table.row(["運搬完了日", c["completed_on"]])
        plan = c["plan"]
        table.row(
            [
                "計画との照合",
                MATCH_JA[c["matches_plan"]]
                + (f"（計画: {plan['name']} {plan['address']}）" if plan else ""),
            ]
        )
    return haul


def _tickets_table(pdf, c: dict, haul: dict | None) -> None:
    """One row per load on the receipt."""
    pdf.ln(3)
    pdf.set_font("jp", size=8)
    with pdf.table(
        col_widths=(22, 26, 26, 24, 22, 16, 16, 28)
        if not haul
        else (21, 24, 24, 22, 20, 15, 15, 24, 15),
        line_height=5,
        headings_style=FontFace(emphasis=None, fill_color=(230, 230, 230)),
    ) as table:
        table.row(
            ["伝票番号", "搬出日時", "搬入日時", "車両番号", "運転者", "積載量", "受入量", "差異"]
            + (["区間km"] if haul else [])
        )
        for t in c["tickets"]:
            table.row(
                [
                    t["code"],
                    t["time_out"],
                    t["time_in"],
                    t["vehicle"],
                    t["driver"],
                    quantity(t["quantity"], c["unit"]),
                    quantity(t["received"], c["unit"]),
                    t["discrepancy"],
                ]
                + ([t.get("km") or "—"] if haul else [])
            )
