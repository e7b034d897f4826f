"""The platform's monthly fee statement to a payee: one per organisation and month, over
the orders paid to it by bank transfer (fully refunded ones carry no fee), as a qualified
invoice from the platform; only the payee (and site administrators) can read it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from market.orders.models import PlatformFeeStatement
from tests.conftest import PASSWORD, in_session
from tests.web.test_order_refunds import needs_pdf_text, pdf_text, refund
from tests.web.test_orders import REG_SELLER, act, request_quantity, signed_in

PLATFORM_NO = "T5555555555555"


def paid_order(buyer, seller, listing_id, quantity: str) -> int:
    order_id = request_quantity(buyer, listing_id, quantity=quantity)
    for action in ("accept", "issue_invoice", "mark_paid"):
        assert act(seller, order_id, action).status_code == 302
    return order_id


def issue(app, month: dt.date) -> list[str]:
    from market.orders.statements import issue_statements

    return in_session(app, lambda session: [s.number for s in issue_statements(session, month)])


def statements(app) -> list[PlatformFeeStatement]:
    return in_session(
        app,
        lambda s: s.scalars(select(PlatformFeeStatement).order_by(PlatformFeeStatement.id)).all(),
    )


def test_monthly_statement_of_fees_on_invoice_paid_orders(app, factory, tmp_path):
    app.config["PLATFORM_INVOICE_REGISTRATION_NO"] = PLATFORM_NO
    supplier, contractor = factory.user(invoice_registration_no=REG_SELLER), factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=800)
    seller, buyer = signed_in(app, supplier), signed_in(app, contractor)
    first = paid_order(buyer, seller, listing_id, "30")  # ¥24,000: fee 3 % = ¥720
    second = paid_order(buyer, seller, listing_id, "10")  # ¥8,000: fee ¥240
    returned = paid_order(buyer, seller, listing_id, "5")
    assert (
        refund(seller, returned, amount="4400", reason="全量返品").status_code == 302
    )  # no fee on it

    month = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date().replace(day=1)
    (number,) = issue(app, month)
    assert number == f"MF-{month:%Y%m}-{supplier.org_id:06d}"
    assert issue(app, month) == []  # once per organisation and month
    (statement,) = statements(app)
    assert sorted(statement.orders) == sorted([first, second])
    assert statement.total_yen == 960 + 96  # fees excl. tax, then 10 % once on the statement

    page = seller.get("/billing/statements").get_data(as_text=True)
    assert f'id="statement-{statement.id}"' in page and "¥1,056" in page
    doc = seller.get(f"/billing/statements/{statement.id}").get_data(as_text=True)
    assert "適格請求書" in doc and PLATFORM_NO in doc and f"{month.year}年{month.month}月分" in doc
    assert f"注文 #{first} プラットフォーム手数料" in doc and "¥1,056" in doc
    # The payer, and anyone else, sees nothing of it.
    assert f'id="statement-{statement.id}"' not in buyer.get("/billing/statements").get_data(
        as_text=True
    )
    assert buyer.get(f"/billing/statements/{statement.id}").status_code == 404
    assert buyer.get(f"/billing/statements/{statement.id}.pdf").status_code == 404
    # A site administrator sees every statement.
    factory.member(None, "ops@example.jp", is_site_admin=True)
    admin = app.test_client()
    admin.post("/login", data={"email": "ops@example.jp", "password": PASSWORD})
    assert f'id="statement-{statement.id}"' in admin.get("/billing/statements").get_data(
        as_text=True
    )


@needs_pdf_text
def test_statement_pdf_carries_the_qualified_invoice_items(app, factory, tmp_path):
    app.config["PLATFORM_INVOICE_REGISTRATION_NO"] = PLATFORM_NO
    supplier, contractor = factory.user(invoice_registration_no=REG_SELLER), factory.user()
    listing_id = factory.listing(supplier, "soil_offer", quantity=100, price_per_unit=800)
    seller = signed_in(app, supplier)
    order_id = paid_order(signed_in(app, contractor), seller, listing_id, "30")
    issue(app, dt.datetime.now(ZoneInfo("Asia/Tokyo")).date().replace(day=1))
    (statement,) = statements(app)
    text = pdf_text(tmp_path, seller.get(f"/billing/statements/{statement.id}.pdf").data)
    for needed in (
        "適格請求書",
        f"登録番号: {PLATFORM_NO}",
        "対象期間",
        f"注文 #{order_id}",
        "¥792",
    ):
        assert needed in text, needed


def test_cli_issues_a_month_and_names_a_bad_one(app):
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["billing", "statements", "--month", "2026-13"])
    assert bad.exit_code != 0 and "--month" in bad.output
    good = runner.invoke(args=["billing", "statements", "--month", "2026-10"])
    assert good.exit_code == 0 and "2026-10: 0 statements issued" in good.output
