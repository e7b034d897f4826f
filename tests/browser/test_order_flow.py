"""An order between two organisations, in Japanese on a phone: the buyer asks for soil, the
supplier hears of it through the notification badge, follows the link, accepts, invoices,
records the transfer and refunds part with a reason; the 返還インボイス opens and the
buyer is told of the refund."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_matching_flow import sign_in, sign_out

pytestmark = pytest.mark.browser


def act(page, label: str):
    page.click(f"form.order-action button:has-text('{label}')")
    page.wait_for_load_state()


def test_request_accept_invoice_pay_refund(live_server, page):
    app, base = live_server
    from tests.conftest import PASSWORD, Factory

    factory = Factory(app)
    supplier = factory.user(invoice_registration_no="T1234567890123")
    buyer = factory.user()
    listing = factory.listing(
        supplier, "soil_offer", quantity=100, price_per_unit=800, title="江東区 発生土 100m³"
    )

    sign_in(page, base, buyer.email, PASSWORD)
    page.goto(f"{base}/listings/{listing}")
    page.fill("#request-quantity input[name=quantity]", "30")
    page.click("#request-quantity button[type=submit]")
    page.wait_for_load_state()
    order_id = int(re.search(r"/orders/(\d+)", page.url).group(1))
    sign_out(page)

    sign_in(page, base, supplier.email, PASSWORD)
    assert page.inner_text("header .nav-badge") == "1"
    page.click(".menu-toggle")  # a phone: the navigation is folded into the menu
    page.click("header a[href='/notifications']")
    page.click(f"a[href='/orders/{order_id}']")
    page.wait_for_load_state()
    assert page.url.endswith(f"/orders/{order_id}")
    act(page, "承諾")
    act(page, "請求書")
    act(page, "入金")
    assert page.inner_text("#order-status") == "支払済み"

    page.fill("#refund-form input[name=amount_yen]", "5000")
    page.fill("#refund-form [name=reason]", "一部不良のため")
    page.click("#refund-form button[type=submit]")
    page.wait_for_load_state()
    assert "¥5,000" in page.inner_text("main") and "一部不良のため" in page.inner_text("main")
    page.click("a:has-text('CN-')")
    page.wait_for_load_state()
    assert "適格返還請求書" in page.inner_text("h1") and "T1234567890123" in page.content()
    page.goto(f"{base}/orders/{order_id}")
    sign_out(page)

    sign_in(page, base, buyer.email, PASSWORD)
    page.goto(f"{base}/notifications")
    assert "返金されました" in page.inner_text("main")
